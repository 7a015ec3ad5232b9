"""Answer formats: how a task's answer is asked for, pulled out of a model's text, and compared with the gold one.

Every `extract` is idempotent on a canonical answer (`extract("18") == "18"`), so a gold answer goes through the same
function as a prediction before the two are compared. Two modes: "ours" (default) reads the forms models write
(explicit markers win over loose mentions: the last of `\\boxed{}`, a `####` line, "the answer is"; then the last
candidate in the text); "official" applies the papers' plain rules, to compare both on the same predictions.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import ClassVar, Literal

Mode = Literal["ours", "official"]
MODES = ("ours", "official")

# A number as models write it: optional minus (not a hyphen between two numbers), a mixed number ("2 1/2"), thousands
# commas, decimals (".5" too), an optional simple fraction. The look-behind keeps "gpt4", "1.5"'s "5" and "16-3"'s
# "-3" out.
_NUMBER = r"(?<![\w.,])-?(?:\d+ [1-9]\d*/[1-9]\d*(?!\d|\.\d)|(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/[1-9]\d*)?|\.\d+)"
# What may sit between a marker and the answer: spaces, colons, markdown bold and code, currency, LaTeX delimiters.
_LEAD = r"[\s:*`$€£\\({\[]*"
_BOXED = r"\\boxed\{"
# "###" or "####" marks an answer only when the number ends the line: "### 1. Find the total" is a markdown header.
_HASHES_NUMBER = rf"#{{3,}}[\s:*$]*({_NUMBER})[\s.*]*$"
_ANSWER_IS = r"answer(?:\s+choice)?\s+is|answer\s*:"
_HASHES_MARK = r"#{3,}"
_FRAC = re.compile(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}")
_BOOLEANS = {"yes": True, "true": True, "no": False, "false": False}


def _last(pattern: str, text: str, flags: int = re.IGNORECASE) -> str | None:
    """The first group of the last match of `pattern` in `text`, if any."""
    matches = re.findall(pattern, text, flags)
    return matches[-1] if matches else None


def _normalise_signs(text: str) -> str:
    """Unicode minus as "-", and "-$5" as "$-5" (currency between the sign and the digits)."""
    return re.sub(r"-\s*([$€£])", r"\1-", text.replace("\u2212", "-"))


def canonical_number(number: str) -> str:
    """ "1,250.50" -> "1250.5", "18.00" -> "18", "3/4" -> "0.75", "2 1/2" -> "2.5", ".5" -> "0.5", "-2" -> "-2"; a
    `ValueError` for text that is not a number."""
    written, number = number, number.replace(",", "")
    sign = -1 if number.startswith("-") else 1
    value = Fraction(0)
    try:
        for part in number.lstrip("-").split() or [""]:  # a mixed number is a whole part and a fraction
            value += Fraction(part) if "/" in part else Fraction(Decimal(part))
    except (InvalidOperation, ValueError, ZeroDivisionError):
        raise ValueError(f"{written!r} is not a number.") from None
    value *= sign
    if value.denominator == 1:
        return str(value.numerator)
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f").rstrip("0")


def extract_number(text: str) -> str | None:
    """The final numeric answer in `text` as a canonical string (commas, currency and units dropped), or None. The
    last explicit marker wins (`\\boxed{}`, a `####` line, "the answer is"), whichever kind it is; without one, the
    last number."""
    text = _FRAC.sub(r"\1/\2", _normalise_signs(text))
    marked = []
    for pattern, flags in (
        (rf"{_BOXED}{_LEAD}({_NUMBER})", re.IGNORECASE),
        (_HASHES_NUMBER, re.MULTILINE),
        (rf"(?:{_ANSWER_IS}){_LEAD}(?:(?:approximately|about|around|roughly|exactly)\s+)?({_NUMBER})", re.IGNORECASE),
    ):
        marked += [(match.start(1), match[1]) for match in re.finditer(pattern, text, flags)]
    if marked:
        return canonical_number(max(marked)[1])
    found = _last(f"({_NUMBER})", text)
    return None if found is None else canonical_number(found)


def _without_option_lists(text: str, letters: str) -> str:
    """`text` without the options listed as an echoed question lists them: one line holding (A), (B), (C)... in
    order, or consecutive lines starting with them."""
    label = rf"\(([{letters}])\)|(?<![\w(])([{letters}])\)"
    lines = text.splitlines()
    found = [[a or b for a, b in re.findall(label, line)] for line in lines]
    starts = [
        labels[0] if labels and re.match(rf"\s*(?:{label})", line) else None
        for line, labels in zip(lines, found, strict=True)
    ]
    drop = {k for k, labels in enumerate(found) if len(labels) >= 3 and "".join(labels) == letters[: len(labels)]}
    first = 0
    while first < len(lines):
        last = first
        while last < len(lines) and last - first < len(letters) and starts[last] == letters[last - first]:
            last += 1
        if last - first >= 3:
            drop.update(range(first, last))
        first = max(last, first + 1)
    return "\n".join(line for k, line in enumerate(lines) if k not in drop)


def extract_choice(text: str, letters: str) -> str | None:
    """The chosen option letter ("(B)", "B)", "answer is B", "\\boxed{B}", "option b is correct"), or None. A bare
    letter must be upper case (an "a" in running text is an article); lower case counts in parentheses, in a box and
    after "option". Lines that list the options (an echoed question) are not read as a choice."""
    upper, both = f"[{letters}]", f"[{letters}{letters.lower()}]"
    choice = rf"(?:(?i:option|choice)\s+\(?({both})\)?|\(({both})\)|({upper}))(?![\w])"
    patterns = (
        (rf"{_BOXED}\s*(?:\\text(?:bf)?\{{)?\s*\(?({both})(?!\w)", 0),
        (rf"(?i:{_ANSWER_IS}|correct\s+(?:option|choice)\s+is|#{{3,}})[\s:*`\"']*{choice}", 0),
        (rf"(?i:option|choice)\s+\(?({both})\)?\s+(?i:is\s+(?:the\s+)?(?:correct|right|answer))", 0),
        (rf"(?i:\b(?:option|choice))\s+\(?({both})\)?(?!\w)", 1),
        (rf"\(({upper})\)", 1),
        (rf"(?<![\w(])({upper})\)", 1),
        (rf"^[\s*]*({upper})[.)]?[\s*]*$", 1),
    )
    unlisted = _without_option_lists(text, letters)
    for pattern, loose in patterns:
        matches = re.findall(pattern, unlisted if loose else text, re.MULTILINE)
        if matches:
            found = matches[-1]
            found = next(group for group in found if group) if isinstance(found, tuple) else found
            return found.upper()
    return None


def extract_boolean(text: str) -> bool | None:
    """yes/true -> True, no/false -> False: after an answer marker if there is one, else the last such word."""
    word = r"(yes|no|true|false)\b"
    found = _last(rf"(?:{_ANSWER_IS}|{_HASHES_MARK})[\s:*\"'`(]*{word}", text) or _last(rf"\b{word}", text)
    return None if found is None else _BOOLEANS[found.lower()]


def extract_text(text: str) -> str | None:
    """Free-text answer exactly as the Coconut evaluation reads it: what follows the last "#" (the whole text when
    there is none), commas removed, stripped."""
    answer = text.split("#")[-1].replace(",", "").strip()
    return answer or None


# The official mode: the papers' scoring rules as ../shared/data/SOURCES.md states them (last number; last option
# letter; last yes/no), with no markers, forms or fallbacks of ours, to compare both on the same predictions.
def official_number(text: str) -> str | None:
    found = _last(r"(-?\d+(?:\.\d+)?)", text.replace(",", ""))
    return None if found is None else canonical_number(found)


def official_choice(text: str, letters: str) -> str | None:
    return _last(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])", text, 0)


def official_boolean(text: str) -> bool | None:
    found = _last(r"\b(yes|no)\b", text)
    return None if found is None else _BOOLEANS[found.lower()]


@dataclass(frozen=True)
class NumberAnswer:
    """A number, equal to the gold one to two decimal places (the SoftCoT evaluation rounds predictions so)."""

    family: ClassVar[str] = "math"  # the task family prompt presets are written for

    instruction: str = 'give the final answer at the end as "The answer is <number>."'

    def extract(self, text: str, mode: Mode = "ours") -> str | None:
        return official_number(text) if mode == "official" else extract_number(text)

    def same(self, prediction: str, gold: str) -> bool:
        return round(float(Fraction(prediction)), 2) == round(float(Fraction(gold)), 2)


@dataclass(frozen=True)
class ChoiceAnswer:
    """An option letter among `letters`."""

    family: ClassVar[str] = "choice"

    letters: str = "ABCDE"

    @property
    def instruction(self) -> str:
        return f'give the final answer at the end as "The answer is (X)." where X is one of {", ".join(self.letters)}.'

    def extract(self, text: str, mode: Mode = "ours") -> str | None:
        return official_choice(text, self.letters) if mode == "official" else extract_choice(text, self.letters)

    def same(self, prediction: str, gold: str) -> bool:
        return prediction == gold


@dataclass(frozen=True)
class BooleanAnswer:
    """A truth value, written as `true_word` / `false_word` (yes/no for StrategyQA)."""

    family: ClassVar[str] = "yes_no"

    true_word: str = "yes"
    false_word: str = "no"

    @property
    def instruction(self) -> str:
        return f'give the final answer at the end as "The answer is {self.true_word}." or "... {self.false_word}."'

    def extract(self, text: str, mode: Mode = "ours") -> str | None:
        value = official_boolean(text) if mode == "official" else extract_boolean(text)
        return None if value is None else (self.true_word if value else self.false_word)

    def same(self, prediction: str, gold: str) -> bool:
        return prediction == gold


@dataclass(frozen=True)
class TextAnswer:
    """Coconut's answers (GSM8k-Aug, ProntoQA, ProsQA): the text after the last "#", matched exactly, as the Coconut
    evaluation does (both modes are that rule)."""

    family: ClassVar[str] = "text"

    instruction: str = 'give the final answer on the last line as "### <answer>".'

    def extract(self, text: str, mode: Mode = "ours") -> str | None:
        return extract_text(text)

    def same(self, prediction: str, gold: str) -> bool:
        return prediction == gold


AnswerFormat = NumberAnswer | ChoiceAnswer | BooleanAnswer | TextAnswer
