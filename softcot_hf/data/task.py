"""`Task`: one benchmark's data source, local layout, answer format and prompts."""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets

from .answers import MODES, AnswerFormat, Mode
from .prompts import ZERO_SHOT, build_prompt
from .sources import check_rows

Row = dict[str, object]  # {"question": str, "steps": list[str], "answer": str}

FEATURES = datasets.Features(
    {
        "question": datasets.Value("string"),
        "steps": datasets.List(datasets.Value("string")),
        "answer": datasets.Value("string"),
    }
)


@dataclass(frozen=True)
class Task:
    """
    One benchmark.

    Args:
        name: registry key, e.g. `"gsm8k"`.
        source: where `load` reads from without `data_dir`: a Hub dataset id or the URL the papers used.
        layout: the files `load` reads from `data_dir`, in the dataset's original layout (for docs and errors).
        splits: the split names `load` accepts.
        answer: how answers are asked for, extracted and compared.
        read_remote: `(split, **options) -> rows` from `source`.
        read_local: `(data_dir, split, **options) -> rows` from a local copy in `layout`.
    """

    name: str
    source: str
    layout: str
    splits: tuple[str, ...]
    answer: AnswerFormat
    read_remote: Callable[..., list[Row]]
    read_local: Callable[..., list[Row]]

    def load(self, split: str, data_dir: str | Path | None = None, **options) -> datasets.Dataset:
        """
        The split as a `Dataset` with `question` (str), `steps` (list[str]) and `answer` (str, normalised) columns.
        Reads `data_dir` (the original layout, see `layout`) when given, else `source`; `options` go to the reader
        (e.g. `from_asdiv_xml=True` for `asdiv_aug`, `bigbench_369=True` for `date_understanding`).
        """
        if split not in self.splits:
            raise ValueError(f"{self.name} has no split {split!r}; choose one of {', '.join(self.splits)}.")
        self.check_options(options, local=data_dir is not None)
        if data_dir is not None:
            source = f"{self.name} {split} in {data_dir} (layout: {self.layout})"
            rows = self.read_local(Path(data_dir), split, **options)
            check_rows(rows, source)
        else:
            source = f"{self.name} {split} from {self.source}"
            try:
                rows = self.read_remote(split, **options)
            except OSError as error:  # offline mode, no network, or a missing remote file
                raise ConnectionError(
                    f"Could not load {self.name} from {self.source} ({error}). When offline, pass "
                    f"data_dir=<folder with {self.layout}> to load a local copy."
                ) from error
        self.check_answers(rows, source)
        return datasets.Dataset.from_list(rows, features=FEATURES)

    def check_options(self, options: dict, local: bool, name: str = "data_options") -> None:
        """A `ValueError` naming `name` unless the loader that reads this task (from a local copy with `local`, else
        from its source) takes every one of `options`."""
        reader = self.read_local if local else self.read_remote
        parameters = list(inspect.signature(reader).parameters.values())[2 if local else 1 :]
        if any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
            return
        known = [parameter.name for parameter in parameters]
        if unknown := sorted(set(options) - set(known)):
            where = "a local copy (data_dir)" if local else self.source
            takes = f"takes {', '.join(known)}" if known else "takes none"
            raise ValueError(f"{name}: {self.name}'s loader from {where} has no option {unknown}; it {takes}.")

    def check_answers(self, rows: list[Row], source: str) -> None:
        """A `ValueError` naming `source` and the example unless each gold answer is one of this task's answers (a
        number for a math task, one of the option letters, ...), as scoring reads it."""
        for index, row in enumerate(rows):
            if self.extract_answer(str(row["answer"])) is None:
                raise ValueError(
                    f"{source}: example {index}: its answer {row['answer']!r} is not a {self.name} answer (the "
                    f"model is asked to {self.answer.instruction.removesuffix('.')}). Fix that example's answer, or "
                    "check that the file belongs to this task."
                )

    def extract_answer(self, text: str, mode: Mode = "ours") -> str | None:
        """The final answer in a model's output, normalised like the gold answers; None when there is none. `mode`
        "official" applies the papers' plain rules instead of ours (see `softcot_hf.data.answers`)."""
        if mode not in MODES:
            raise ValueError(f"Unknown scoring mode {mode!r}; choose one of {', '.join(MODES)}.")
        return self.answer.extract(text, mode)

    def score(self, prediction: str | None, gold: str, mode: Mode = "ours") -> bool:
        """Whether a model's output (or an extracted answer; None: no answer, never correct) matches the gold one."""
        if self.extract_answer(gold) is None:
            raise ValueError(f"{gold!r} is not a valid {self.name} answer.")
        predicted = None if prediction is None else self.extract_answer(prediction, mode)
        return predicted is not None and self.answer.same(predicted, gold, mode)

    def build_prompt(self, question: str, template: str = ZERO_SHOT, thoughts: str = "{thoughts}") -> str:
        """`template` (see `softcot_hf.data.prompts`; a method's is `method.prompt_template`) filled for `question`,
        asking for this task's answer format."""
        return build_prompt(question, template, answer_instruction=self.answer.instruction, thoughts=thoughts)
