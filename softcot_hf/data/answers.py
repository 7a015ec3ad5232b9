"""Answer formats: how a task's answer is asked for, pulled out of a model's text, and compared with the gold one.

Every `extract` is idempotent on a canonical answer (`extract("18") == "18"`), so a gold answer goes through the same
function as a prediction before the two are compared. Explicit markers win over loose mentions: `\\boxed{}`, then
`####` / `### ` (GSM8K and Coconut style), then "the answer is" / "Answer:", then the last candidate in the text.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

# A number as models write it: optional minus (not a hyphen between two numbers), thousands commas, decimals, and an
# optional simple fraction. The look-behind keeps "gpt4", "1.5"'s "5" and "16-3"'s "-3" out.
_NUMBER = r"(?<![\w.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/[1-9]\d*)?"
# What may sit between a marker and the answer: spaces, colons, markdown bold, currency, LaTeX delimiters.
_LEAD = r"[\s:*$€£\\({\[]*"
_BOXED = r"\\boxed\{"
_HASHES = r"#{3,}"
_ANSWER_IS = r"answer(?:\s+choice)?\s+is|answer\s*:"
_FRAC = re.compile(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}")
_BOOLEANS = {"yes": True, "true": True, "no": False, "false": False}


def _last(pattern: str, text: str, flags: int = re.IGNORECASE) -> str | None:
    """The first group of the last match of `pattern` in `text`, if any."""
    matches = re.findall(pattern, text, flags)
    return matches[-1] if matches else None


def canonical_number(number: str) -> str:
    """ "1,250.50" -> "1250.5", "18.00" -> "18", "3/4" -> "0.75", "-2" -> "-2"."""
    number = number.replace(",", "")
    value = Fraction(number) if "/" in number else Fraction(Decimal(number))
    if value.denominator == 1:
        return str(value.numerator)
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f").rstrip("0")


def extract_number(text: str) -> str | None:
    """The final numeric answer in `text` as a canonical string (commas, currency and units dropped), or None."""
    text = _FRAC.sub(r"\1/\2", text)
    for marker in (_BOXED, _HASHES, _ANSWER_IS):
        if (found := _last(rf"(?:{marker}){_LEAD}({_NUMBER})", text)) is not None:
            return canonical_number(found)
    found = _last(f"({_NUMBER})", text)
    return None if found is None else canonical_number(found)


def extract_choice(text: str, letters: str) -> str | None:
    """The chosen option letter ("(B)", "B)", "answer is B", "\\boxed{B}"), or None. Letters must be upper case: an
    "a" in running text is an article, not option A."""
    letter = f"([{letters}])(?!\\w)"
    patterns = (
        rf"{_BOXED}\s*\(?{letter}",
        rf"(?i:{_ANSWER_IS}|{_HASHES})[\s:*]*(?i:(?:option|choice)\s+)?\(?{letter}",
        rf"\({letter}\)",
        rf"(?<![\w(]){letter}\)",
        rf"^[\s*]*{letter}[.)]?[\s*]*$",
    )
    for pattern in patterns:
        if (found := _last(pattern, text, re.MULTILINE)) is not None:
            return found
    return None


def extract_boolean(text: str) -> bool | None:
    """yes/true -> True, no/false -> False: after an answer marker if there is one, else the last such word."""
    word = r"(yes|no|true|false)\b"
    found = _last(rf"(?:{_ANSWER_IS}|{_HASHES})[\s:*\"'(]*{word}", text) or _last(rf"\b{word}", text)
    return None if found is None else _BOOLEANS[found.lower()]


def extract_text(text: str) -> str | None:
    """Free-text answer, Coconut style: what follows the last "#" (else "the answer is", else the last line)."""
    if "#" in text:
        answer = text.rsplit("#", 1)[1]
    elif (found := _last(rf"(?:{_ANSWER_IS})\s*(.*)", text)) is not None:
        answer = found
    else:
        lines = [line for line in text.splitlines() if line.strip()]
        answer = lines[-1] if lines else ""
    answer = " ".join(answer.split())
    return answer or None


@dataclass(frozen=True)
class NumberAnswer:
    """A number, equal to the gold one to two decimal places (the SoftCoT evaluation rounds predictions so)."""

    instruction: str = 'give the final answer at the end as "The answer is <number>."'

    def extract(self, text: str) -> str | None:
        return extract_number(text)

    def same(self, prediction: str, gold: str) -> bool:
        return round(float(Fraction(prediction)), 2) == round(float(Fraction(gold)), 2)


@dataclass(frozen=True)
class ChoiceAnswer:
    """An option letter among `letters`."""

    letters: str = "ABCDE"

    @property
    def instruction(self) -> str:
        return f'give the final answer at the end as "The answer is (X)." where X is one of {", ".join(self.letters)}.'

    def extract(self, text: str) -> str | None:
        return extract_choice(text, self.letters)

    def same(self, prediction: str, gold: str) -> bool:
        return prediction == gold


@dataclass(frozen=True)
class BooleanAnswer:
    """A truth value, written as `true_word` / `false_word` (yes/no for StrategyQA, True/False for ProntoQA)."""

    true_word: str = "yes"
    false_word: str = "no"

    @property
    def instruction(self) -> str:
        return f'give the final answer at the end as "The answer is {self.true_word}." or "... {self.false_word}."'

    def extract(self, text: str) -> str | None:
        value = extract_boolean(text)
        return None if value is None else (self.true_word if value else self.false_word)

    def same(self, prediction: str, gold: str) -> bool:
        return prediction == gold


@dataclass(frozen=True)
class TextAnswer:
    """A sentence, matched exactly up to whitespace and a final period (Coconut's ProsQA scoring)."""

    instruction: str = 'give the final answer on the last line as "### <answer>".'

    def extract(self, text: str) -> str | None:
        return extract_text(text)

    def same(self, prediction: str, gold: str) -> bool:
        return prediction.rstrip(".") == gold.rstrip(".")


AnswerFormat = NumberAnswer | ChoiceAnswer | BooleanAnswer | TextAnswer
