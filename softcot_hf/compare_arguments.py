"""`softcot-hf compare`'s arguments (light: no torch), checked before any work: the task, the methods (each with a
budget row for the task in `softcot_hf.compare_settings.TASKS`), the seeds, and the optional sweep of one training
option (its values converted to the option's type)."""

import typing
from dataclasses import dataclass, field

from . import checks
from .compare_settings import FOOTING, SEEDS, TASKS, TaskSetup
from .errors import InputError
from .quickstart.settings import TASK
from .training.method_arguments import TRAINED_METHODS

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _convert(option: str, text: str, annotation) -> object:
    """`text` as the type `annotation` declares (int, float, bool or text; `X | None` as X)."""
    kinds = set(typing.get_args(annotation)) - {type(None)} if typing.get_args(annotation) else {annotation}
    try:
        if bool in kinds:
            if text.lower() not in (*_TRUE, *_FALSE):
                raise ValueError
            return text.lower() in _TRUE
        if int in kinds:
            return int(text)
        if float in kinds:
            return float(text)
    except ValueError:
        kind = " or ".join(sorted(kind.__name__ for kind in kinds))
        raise InputError(f"--sweep: {option} takes {kind} values, got {text!r}.") from None
    return text


def _options(arguments: type) -> dict:
    """{field name: its type} of a training arguments dataclass."""
    return typing.get_type_hints(arguments)


@dataclass
class CompareArguments:
    """`softcot-hf compare`: train and evaluate methods on one task, one base model, the same data, over seeds."""

    task: str = field(default=TASK, metadata={"help": f"one of {', '.join(TASKS)}"})
    methods: list[str] | None = field(
        default=None,
        metadata={"help": "methods to compare, by registry name (default: every row of the task's budget table)"},
    )
    seeds: list[int] = field(
        default_factory=lambda: list(SEEDS), metadata={"help": "training seeds; every method is trained once per seed"}
    )
    against: str = field(default="cot", metadata={"help": "the method every other one is tested against (paired)"})
    sweep: list[str] | None = field(
        default=None,
        metadata={
            "help": "OPTION VALUE [VALUE ...]: train each method once per value of one training option, e.g. "
            "c_thought 1 2 4 8 (writes sweep-OPTION.md/.json/.png instead of compare.*)"
        },
    )
    output_dir: str = field(default="softcot-compare", metadata={"help": "runs and results go to OUTPUT_DIR/TASK/"})
    tiny: bool = field(default=False, metadata={"help": "a few examples and steps (seconds; for tests)"})
    overwrite: bool = field(
        default=False, metadata={"help": "train and evaluate every run again, replacing its files (else: resumed)"}
    )

    def __post_init__(self):
        checks.output_folder(self, "output_dir")
        checks.require(self, "task", self.task in TASKS, f"one of {', '.join(TASKS)}")
        seeds = list(self.seeds)
        checks.require(self, "seeds", bool(seeds) and len(set(seeds)) == len(seeds), "one or more distinct seeds")
        budgets = TASKS[self.task].budgets
        if self.methods is not None:
            checks.require(
                self, "methods", bool(self.methods) and len(set(self.methods)) == len(self.methods), "distinct names"
            )
            for name in self.methods:
                self._check_method(name, budgets)
        self.sweep_values()  # checks the option and converts its values

    def _check_method(self, name: str, budgets) -> None:
        if name in budgets:
            return
        rows = ", ".join(budgets)
        if name in TRAINED_METHODS or any(name in setup.budgets for setup in TASKS.values()):
            raise InputError(
                f"--methods: {name} has no row for {self.task}; add its training budget to "
                f"softcot_hf.compare_settings.TASKS[{self.task!r}].budgets (the task's rows: {rows})."
            )
        raise InputError(f"--methods: unknown method {name!r}; on {self.task} choose from {rows}.")

    @property
    def setup(self) -> TaskSetup:
        """The task's setup, at the `--tiny` scale when asked."""
        return TASKS[self.task].scaled(self.tiny)

    @property
    def chosen(self) -> list[str]:
        """The methods compared, in the order given (default: the task's budget rows)."""
        return list(TASKS[self.task].budgets) if self.methods is None else list(self.methods)

    def sweep_values(self) -> tuple[str, list] | None:
        """(option, its values converted to the option's type), or None without `--sweep`. Every swept method must
        be trained and take the option."""
        if self.sweep is None:
            return None
        if len(self.sweep) < 2:
            raise InputError("--sweep takes an option and one or more values, e.g. --sweep c_thought 1 2 4 8.")
        option, texts = str(self.sweep[0]), [str(text) for text in self.sweep[1:]]
        if option in FOOTING:
            raise InputError(
                f"--sweep: {option} is the same for every run of the table ({', '.join(FOOTING)}); sweep a training "
                "option of the methods instead (--seeds chooses the seeds)."
            )
        budgets, annotation = TASKS[self.task].budgets, None
        for name in self.chosen:
            arguments = TRAINED_METHODS[name].arguments if budgets.get(name) is not None else None
            hints = _options(arguments) if arguments is not None else {}
            if option not in hints:
                takers = [m for m, row in budgets.items() if row and option in _options(TRAINED_METHODS[m].arguments)]
                raise InputError(
                    f"--sweep: {name} has no training option {option!r}; sweep it over methods that do "
                    f"(--methods {' '.join(takers) or '...'})."
                )
            annotation = hints[option]
        values = [_convert(option, text, annotation) for text in texts]
        checks.require(self, "sweep", len(set(values)) == len(values), "an option and distinct values")
        return option, values


__all__ = ["CompareArguments"]
