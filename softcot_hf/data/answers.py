"""Answer formats: how a task's answer is asked for, pulled out of a model's text, and compared with the gold one.

Every `extract` is idempotent on a canonical answer (`extract("18") == "18"`), so a gold answer goes through the same
function as a prediction before the two are compared. Two modes:
- "ours" (default) reads answers as a careful human grader does: special tokens left in the text are ignored,
  explicit markers win over loose mentions (`\\boxed{}`, a `####` line, "the answer is", "(C) is correct", "which is
  C"), then the last candidate in the text; case, a trailing period and a missing `###` do not matter.
- "official" applies the official evaluation scripts' rules, quirks included (xuyige/SoftCoT `evaluate_softcot.py` at
  fa7f537 for GSM8K, ASDiv-Aug, AQuA, DU and StrategyQA; facebookresearch/coconut `run.py` at 27273cb for GSM8k-Aug,
  ProntoQA and ProsQA), to compare our numbers with the papers'. docs/scoring.md lists where the two disagree.
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
# Special tokens a decode that keeps them leaves in the text: LLaMA-3's and Qwen2.5's "<|...|>" (GPT-2's
# "<|endoftext|>" too) and SentencePiece's "<s>", "</s>", "<unk>", "<pad>".
_SPECIAL_TOKEN = re.compile(r"<\|[^<>|\s]{1,64}\|>|</?s>|<unk>|<pad>")


def strip_special_tokens(text: str) -> str:
    """`text` without special tokens (see `_SPECIAL_TOKEN`), as `decode(..., skip_special_tokens=True)` gives it."""
    return _SPECIAL_TOKEN.sub("", text)


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
    text = _FRAC.sub(r"\1/\2", _normalise_signs(strip_special_tokens(text)))
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


def _listed_options(text: str, letters: str) -> dict[str, str]:
    """Option texts by letter, from an option list echoed in `text` ("(A) 10 (B) 12 ..." or one option a line)."""
    options = {}
    for letter, option in re.findall(rf"\(([{letters}])\)[ \t]*([^()\n]+?)(?=[ \t]*\([{letters}]\)|\n|$)", text):
        option = option.strip().rstrip(".,;")
        if option and option.lower() not in {other.lower() for other in options.values()}:
            options.setdefault(letter, option)
    return options


def _last_option_named(text: str, options: dict[str, str]) -> str | None:
    """The letter of the option whose text `text` mentions last ("The answer is 15." -> the letter of "15")."""
    found = []
    for letter, option in options.items():
        pattern = rf"(?<![\w.]){re.escape(option)}(?!\w|\.\d)"
        found += [(match.start(), letter) for match in re.finditer(pattern, text, re.IGNORECASE)]
    return max(found)[1] if found else None


def extract_choice(text: str, letters: str) -> str | None:
    """The chosen option letter, or None. Explicit choices win, the last one in the text: "\\boxed{B}", "the answer is
    (b)", "### B" ending its line, "(C) is the correct answer", "which is C", "so C", "option D is correct". Then the
    option whose text follows the last "the answer is" (when the text lists the options); then the last loose mention:
    "(C)", "C)", "option C", a line holding only the letter ("E. 36", "**E**"); then the last option named by its
    text. A bare letter must be upper case and end its phrase: a capitalised article ("A train ...") or a markdown
    heading ("### A Note") is not a choice. Lines listing the options (an echoed question) are not read as choices."""
    text = strip_special_tokens(text)
    upper, both = f"[{letters}]", f"[{letters}{letters.lower()}]"
    ends = r"(?=[\s*`\"']*(?:$|[.,;:!?)]))"  # a bare letter ends its phrase: "so C." but not "so A train"
    named = rf"(?:(?i:option|choice)\s+\(?({both})\)?(?!\w)|\(({both})\)|({upper})\)|({upper}){ends})"
    explicit = (
        rf"{_BOXED}\s*(?:\\text(?:bf)?\{{)?\s*\(?({both})(?!\w)",
        rf"(?i:{_ANSWER_IS}|correct\s+(?:option|choice)\s+is)[\s:*`\"']*(?:{named}|({upper})(?!\w)|([{letters.lower()}]){ends})",
        rf"^[ \t]*{_HASHES_MARK}[\s*]*\(?({both})\)?[.\s*]*$",
        rf"{named}[\s*]*(?i:is\s+(?:the\s+)?(?:correct|right|best|answer))",
        rf"(?i:\b(?:which\s+(?:is|corresponds\s+to|matches)|so|thus|hence|leaves|go\s+with|pick|choose))[\s:,]*{named}",
    )
    unlisted = _without_option_lists(text, letters)
    chosen = [(m.start(), m) for pattern in explicit for m in re.finditer(pattern, text, re.MULTILINE)]
    if not chosen:
        options = _listed_options(text, letters)
        after_marker = re.split(rf"(?i:{_ANSWER_IS})", unlisted)
        if options and len(after_marker) > 1 and (letter := _last_option_named(after_marker[-1], options)):
            return letter
        loose = (named, rf"^[\s*]*\(?({upper})(?:[.):]\s.*)?[\s*]*$")
        chosen = [(m.start(), m) for pattern in loose for m in re.finditer(pattern, unlisted, re.MULTILINE)]
        if not chosen:
            return _last_option_named(unlisted, options) if options else None
    match = max(chosen, key=lambda found: found[0])[1]
    return next(group for group in match.groups() if group).upper()


_TRUTH = r"(yes|no|true|false)"


def extract_boolean(text: str) -> bool | None:
    """yes/true -> True, no/false -> False: the last one after an answer marker ("the answer is", "###", a box);
    else the text's first word when it is one ("No, sharks are fish, and yes, ..."); else the last one used as an
    answer, that is followed by punctuation or the end ("so, yes." but not "there is no record")."""
    text = strip_special_tokens(text)
    found = (
        _last(rf"(?:{_ANSWER_IS}|{_HASHES_MARK}|{_BOXED})[\s:*\"'`($]*(?:\\boxed\{{)?(?:\\text\{{)?{_TRUTH}\b", text)
        or _last(rf"\A[\s*#>\"'`]*{_TRUTH}\b(?!\s+one\b)", text)
        or _last(rf"\b{_TRUTH}(?=[\s*\"'`]*(?:$|[.,;:!?)}}]))", text)
    )
    return None if found is None else _BOOLEANS[found.lower()]


def extract_text(text: str) -> str | None:
    """A free-text answer (ProsQA's sentence, GSM8k-Aug's number): after the last "#" if there is one, after the last
    "the answer is" in that, its last line's last sentence; special tokens, commas, markdown emphasis and the final
    punctuation dropped, spaces collapsed ("### Tom is a  wumpus.<|endoftext|>" -> "Tom is a wumpus")."""
    text = strip_special_tokens(text).split("#")[-1]
    text = re.split(rf"(?i:{_ANSWER_IS})", text)[-1]
    lines = [line for line in text.splitlines() if line.strip()]
    answer = re.split(r"(?<=[.!?])\s+", lines[-1].strip())[-1] if lines else ""
    answer = " ".join(answer.replace(",", "").replace("*", "").replace("`", "").split())
    return answer.strip(" :\"'").rstrip(".!?").strip() or None


# The official mode: the official scripts' rules, in our words. Both official evaluations decode with
# skip_special_tokens=True before reading the answer, hence `strip_special_tokens` first.
def official_number(text: str) -> str | None:
    """SoftCoT's GSM8K / ASDiv-Aug rule: drop ",", "%" and "$", take the last run of digits with an optional decimal
    part (no minus sign: "-5" reads 5), rounded to two decimals when it has a point. "18" -> "18", "7.50" -> "7.5"."""
    digits = re.findall(r"\d+(?:\.\d+)?", re.sub(r"[,%$]", "", strip_special_tokens(text)))
    if not digits:
        return None
    try:
        return str(round(float(digits[-1]), 2)) if "." in digits[-1] else str(int(digits[-1]))
    except ValueError:  # more digits than int() reads: the official script counts it as no answer
        return None


def official_choice(text: str) -> str | None:
    """SoftCoT's AQuA / DU rule: the last letter a-f standing alone as a word, any case, whatever the task's letters
    ("... (C). This is a good choice." reads A)."""
    found = re.findall(r"\b[a-f]\b", strip_special_tokens(text).lower())
    return found[-1].upper() if found else None


def official_boolean(text: str) -> bool | None:
    """SoftCoT's StrategyQA rule: whichever of the words "yes" and "no" (any case) comes last."""
    found = re.findall(r"\b(yes|no)\b", strip_special_tokens(text).lower())
    return None if not found else found[-1] == "yes"


def official_text(text: str) -> str | None:
    """Coconut's rule: the text after the last "#", commas removed, stripped, compared exactly. The official output
    holds the question too (which has no "#"), so an output without "#" never matches: None."""
    text = strip_special_tokens(text)
    if "#" not in text:
        return None
    return text.split("#")[-1].replace(",", "").strip() or None


@dataclass(frozen=True)
class NumberAnswer:
    """A number. Ours: equal to the gold one to two decimal places. Official: the rounded prediction equals the gold
    number exactly (a gold 0.3333 never matches)."""

    family: ClassVar[str] = "math"  # the task family prompt presets are written for

    instruction: str = 'give the final answer at the end as "The answer is <number>."'

    def extract(self, text: str, mode: Mode = "ours") -> str | None:
        return official_number(text) if mode == "official" else extract_number(text)

    def same(self, prediction: str, gold: str, mode: Mode = "ours") -> bool:
        """Whether an extracted `prediction` matches the `gold` answer as the dataset writes it."""
        gold = extract_number(gold)
        if mode == "official":
            return _official_value(prediction) == _official_value(gold)
        return round(float(Fraction(prediction)), 2) == round(float(Fraction(gold)), 2)


def _official_value(number: str) -> int | float:
    """A number as the official script holds it: a float when written with a point, else an int."""
    return float(number) if "." in number else int(number)


@dataclass(frozen=True)
class ChoiceAnswer:
    """An option letter among `letters`."""

    family: ClassVar[str] = "choice"

    letters: str = "ABCDE"

    @property
    def instruction(self) -> str:
        return f'give the final answer at the end as "The answer is (X)." where X is one of {", ".join(self.letters)}.'

    def extract(self, text: str, mode: Mode = "ours") -> str | None:
        return official_choice(text) if mode == "official" else extract_choice(text, self.letters)

    def same(self, prediction: str, gold: str, mode: Mode = "ours") -> bool:
        return prediction == extract_choice(gold, self.letters)


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

    def same(self, prediction: str, gold: str, mode: Mode = "ours") -> bool:
        return prediction == self.extract(gold)


@dataclass(frozen=True)
class TextAnswer:
    """Coconut's answers (GSM8k-Aug, ProsQA), written as "### <answer>". Ours: `extract_text`, compared ignoring case;
    a one-word answer naming the gold sentence's last word counts ("### sterpus" for "Sally is a sterpus.").
    Official: `official_text`, compared exactly."""

    family: ClassVar[str] = "text"

    instruction: str = 'give the final answer on the last line as "### <answer>".'

    def extract(self, text: str, mode: Mode = "ours") -> str | None:
        return official_text(text) if mode == "official" else extract_text(text)

    def same(self, prediction: str, gold: str, mode: Mode = "ours") -> bool:
        if mode == "official":  # Coconut's gold: commas removed, stripped
            return prediction == gold.replace(",", "").strip()
        prediction, gold = prediction.casefold(), self.extract(gold).casefold()
        return prediction == gold or (" " not in prediction and gold.endswith(f" {prediction}"))


@dataclass(frozen=True)
class TruthTextAnswer(TextAnswer):
    """ProntoQA's "True" / "False", written as "### True". Ours reads it as a truth value (`extract_boolean`: "The
    answer is false.", "### TRUE"); official: Coconut's exact text rule, like `TextAnswer`."""

    def extract(self, text: str, mode: Mode = "ours") -> str | None:
        if mode == "official":
            return official_text(text)
        value = extract_boolean(text)
        return None if value is None else ("True" if value else "False")

    def same(self, prediction: str, gold: str, mode: Mode = "ours") -> bool:
        return super().same(prediction, gold, mode) if mode == "official" else prediction == self.extract(gold)


AnswerFormat = NumberAnswer | ChoiceAnswer | BooleanAnswer | TextAnswer
