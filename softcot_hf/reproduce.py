"""`softcot-hf reproduce RECIPE`: one row of a paper's table from one recipe file, trained (or resumed), evaluated
with the recipe's seeds and printed next to the paper's number (`softcot_hf.paper_results`).

A recipe (`recipes/`) is YAML with the method, the task, the paper's row and two sections of option names:

    method: softcot
    task: gsm8k
    paper_result: softcot/llama/softcot/gsm8k   # a key of PAPER_RESULTS (optional)
    train: {backbone: ..., assistant: ..., learning_rate: 2.0e-5, ...}   # the method's training arguments
    eval: {seeds: [41, 42, 43, 44, 45], sampling_preset: softcot_official, max_new_tokens: 1024, ...}

`train` holds fields of the method's training arguments (`softcot-hf train METHOD --help`); a method that trains
nothing has none and its `eval` names the models. `eval` holds `EvaluationArguments` fields (`softcot-hf eval --help`).
Relative model paths are read from the working directory. A recipe that starts from another recipe's model names it
(`init_from_recipe: coconut-baselines/cot/gsm8k_aug`, a path under `recipes/`): that recipe is trained first into
`OUTPUT_DIR/init` (or resumed), and its artifact is this recipe's `backbone`, as the official Coconut GSM8k run starts
from its CoT run's best checkpoint. `--dry-run` checks the recipe, prints the settings and
the exact prompts (text and token ids) of one test question on each side, and trains nothing.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, TrainingArguments

from . import checks
from .cli import Command
from .data import get_task
from .evaluation.arguments import EvaluationArguments
from .methods import Method, get_method
from .paper_results import PAPER_RESULTS, PaperResult
from .settings_files import check_keys, read_config

_RECIPE_KEYS = {"method", "task", "paper_result", "init_from_recipe", "train", "eval"}
INIT_DIR = "init"  # where a recipe's init_from_recipe trains, in its run folder
_STAND_IN_QUESTION = "A baker made 24 rolls and sold 9 of them. How many rolls are left?"


@dataclass
class Recipe:
    """One row of a paper's table: what to train and how to evaluate it. `name` is the file's path under `recipes/`
    without the suffix (e.g. "softcot/gsm8k-llama"), and names the default run folder `runs/<name>`."""

    name: str
    method: Method
    task: str
    paper_result: PaperResult | None
    train: dict[str, Any] | None
    eval: dict[str, Any]
    init: "Recipe | None" = None  # the recipe whose artifact is this one's backbone (init_from_recipe)

    def training_arguments(
        self,
        output_dir: Path,
        data_dir: str | None = None,
        train_data_dir: str | None = None,
        backbone: str | None = None,
    ):
        """The method's training arguments for this recipe, training into `output_dir` (no final evaluation: the
        recipe's own follows). `data_dir` is the evaluated task's folder: training reads it only when it trains on
        that task; a recipe that trains on another task (DU trains on GSM8K) reads `train_data_dir`, else the
        training task's usual source. `backbone`: the model to start from when the recipe names none (`init`'s
        artifact)."""
        options = {"task": self.task, **self.train, "output_dir": str(output_dir), "evaluate": False}
        if backbone is not None:
            options["backbone"] = backbone
        folder = train_data_dir if options["task"] != self.task else data_dir
        if folder is not None:
            options["data_dir"] = folder
        return self.method.arguments(**options)

    def model_name(self, side: str) -> str | None:
        """The "backbone" or "assistant" model the recipe names (for a chained recipe, the one `init` starts from:
        its artifact keeps that tokenizer)."""
        sections = [self.train or {}, self.eval, (self.init.train if self.init else None) or {}]
        return next((section[side] for section in sections if section.get(side)), None)

    def evaluation_arguments(self, model: str | None, output_dir: Path, data_dir: str | None = None):
        options = {**self.eval, "task": self.task, "method": self.method.name, "output_dir": str(output_dir)}
        if model is not None:
            options["model"] = model
        if data_dir is not None:
            options["data_dir"] = data_dir
        return EvaluationArguments(**options)


def load_recipe(path: str | Path) -> Recipe:
    """A recipe file, checked: known keys, a known method and task, a `train` section exactly when the method
    trains, a paper row that exists."""
    path = Path(path)
    values = read_config(path, "recipe")
    if "method" not in values or "task" not in values:
        raise ValueError(f"{path} is not a recipe: a mapping with method, task, eval and (when it trains) train.")
    if unknown := sorted(set(values) - _RECIPE_KEYS):
        raise ValueError(f"{path} has unknown keys {unknown}; a recipe takes {sorted(_RECIPE_KEYS)}.")
    method = get_method(values["method"])
    get_task(values["task"])
    train = values.get("train")
    if (method.arguments is None) != (train is None):
        need = "no train section (it trains nothing)" if method.arguments is None else "a train section"
        raise ValueError(f"{path}: method {method.name} takes {need}.")
    for name, section, arguments in (
        ("train", train, method.arguments),
        ("eval", values.get("eval"), EvaluationArguments),
    ):
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ValueError(
                f"{path}: {name} must be a mapping of option names to values, not {type(section).__name__}."
            )
        check_keys(f"{path}: {name}", section, (item.name for item in dataclasses.fields(arguments)))
    key = values.get("paper_result")
    if key is not None and key not in PAPER_RESULTS:
        raise ValueError(f"{path}: paper_result {key!r} is not in softcot_hf.paper_results.PAPER_RESULTS.")
    parts = path.resolve().with_suffix("").parts
    init = None
    if (init_name := values.get("init_from_recipe")) is not None:
        init = _load_init_recipe(path, init_name, train)
    return Recipe(
        name="/".join(parts[parts.index("recipes") + 1 :]) if "recipes" in parts else path.stem,
        method=method,
        task=values["task"],
        paper_result=None if key is None else PAPER_RESULTS[key],
        train=train,
        eval=dict(values.get("eval") or {}),
        init=init,
    )


def _load_init_recipe(path: Path, name: str, train: dict | None) -> Recipe:
    """The recipe `path` starts from (`init_from_recipe: name`, a path under the same `recipes/` folder), checked."""
    parts = path.resolve().parts
    if "recipes" not in parts:
        raise ValueError(f"{path}: init_from_recipe names a recipe under recipes/, but {path} is not in one.")
    init_path = Path(*parts[: len(parts) - parts[::-1].index("recipes")]) / f"{name}.yaml"
    if not init_path.is_file():
        raise ValueError(f"{path}: init_from_recipe {name!r}: no recipe at {init_path}.")
    if train is None or "backbone" in train:
        raise ValueError(
            f"{path}: a recipe with init_from_recipe trains from that recipe's artifact: give it a train section "
            "without backbone (the model comes from the init recipe's own train.backbone)."
        )
    init = load_recipe(init_path)
    if init.train is None or init.init is not None:
        raise ValueError(f"{path}: init_from_recipe {name!r} must train, from a backbone of its own (not chained).")
    return init


def compare(summary: dict, paper: PaperResult | None) -> str:
    """Our accuracy (mean ± std over seeds) next to the paper's, with the difference in our standard deviations."""
    ours, std = 100 * summary["accuracy"], 100 * summary["accuracy_std"]
    line = f"ours {ours:.2f} ± {std:.2f} % ({len(summary['seeds'])} seeds, {summary['num_examples']} questions)"
    if paper is None:
        return f"{line}; paper: -"
    difference = ours - paper.accuracy
    in_std = f"{difference / std:+.1f} std" if std > 0 else "std 0"
    source = f"{paper.paper}, {paper.setting}"
    return f"{line}; paper {paper.accuracy:.2f} % ({source}); difference {difference:+.2f} ({in_std})"


def _settings(arguments, given: dict) -> dict:
    """The fields worth printing: those the recipe gives, ours, and `TrainingArguments` fields whose default we
    change (transformers' other defaults are left out)."""
    base = {}
    if isinstance(arguments, TrainingArguments):
        base = {item.name: item.default for item in dataclasses.fields(TrainingArguments)}
    shown = {}
    for item in dataclasses.fields(arguments):
        if item.name in base and item.name not in given and item.default == base[item.name]:
            continue
        value = getattr(arguments, item.name)
        shown[item.name] = value if isinstance(value, int | float | str | bool | list | type(None)) else str(value)
    return shown


def _tokenizers(recipe: Recipe, overrides: dict[str, str | None]) -> dict:
    tokenizers = {}
    for side in ("backbone", "assistant"):
        name = overrides.get(side) or recipe.model_name(side)
        if name is None:
            continue
        try:
            tokenizers[side] = AutoTokenizer.from_pretrained(str(name))
        except OSError as error:
            raise OSError(
                f"Could not load the {side} tokenizer {name!r} ({error}). Offline, pass --{side}-tokenizer with a "
                "local folder holding the same tokenizer."
            ) from error
    return tokenizers


def dry_run(
    recipe: Recipe,
    output_dir: Path,
    data_dir: str | None = None,
    tokenizers: dict | None = None,
    train_data_dir: str | None = None,
) -> str:
    """The recipe's settings and one test question's prompts on each side (text and ids), as text."""
    lines = [f"recipe {recipe.name}: {recipe.method.name} on {recipe.task}"]
    paper = recipe.paper_result
    lines.append("paper: -" if paper is None else f"paper: {paper.accuracy:.2f} % ({paper.paper}, {paper.setting})")
    train_args = None
    if recipe.init is not None:
        init_args = recipe.init.training_arguments(output_dir / INIT_DIR, data_dir, train_data_dir)
        lines.append(f"starts from: recipe {recipe.init.name}, trained first into {output_dir / INIT_DIR}:")
        lines += [f"  {name}: {value!r}" for name, value in _settings(init_args, recipe.init.train).items()]
        # Its artifact does not exist yet: check the options with the model it starts from, show where it will be.
        train_args = recipe.training_arguments(
            output_dir / "train", data_dir, train_data_dir, backbone=init_args.backbone
        )
        train_args.backbone = str(output_dir / INIT_DIR)
    elif recipe.train is not None:
        train_args = recipe.training_arguments(output_dir / "train", data_dir, train_data_dir)
    if train_args is not None:
        lines.append(f"training ({type(train_args).__name__}):")
        lines += [f"  {name}: {value!r}" for name, value in _settings(train_args, recipe.train).items()]
    eval_args = recipe.evaluation_arguments(None, output_dir / "eval", data_dir)
    if train_args is not None:  # the artifact training would write (set after the checks: it does not exist yet)
        eval_args.model = train_args.output_dir
    lines.append("evaluation (EvaluationArguments):")
    lines += [f"  {name}: {value!r}" for name, value in _settings(eval_args, recipe.eval).items()]
    task = get_task(recipe.task)
    try:
        rows = task.load(eval_args.split, data_dir=eval_args.data_dir, **(eval_args.data_options or {}))
        question = rows[0]["question"]
        lines.append(f"prompts of the first {eval_args.split} question:")
    except (OSError, ValueError) as error:
        question = _STAND_IN_QUESTION
        lines.append(f"prompts of a stand-in question (the {recipe.task} data did not load: {error}):")
    for side, ids in recipe.method.example_prompts(task, question, tokenizers or {}, train_args).items():
        text = tokenizers[side].decode(ids)
        lines += [f"  {side} ({len(ids)} tokens):", f"    text: {json.dumps(text)}", f"    ids: {ids}"]
    return "\n".join(lines)


@dataclass
class ReproduceArguments:
    """One paper-table row from a recipe file: train (or resume), evaluate with the recipe's seeds, compare."""

    recipe: str | None = field(default=None, metadata={"help": "the recipe file (recipes/...)"})
    dry_run: bool = field(default=False, metadata={"help": "print the settings and prompts; train nothing"})
    output_dir: str | None = field(default=None, metadata={"help": "run folder (default: runs/RECIPE_NAME)"})
    data_dir: str | None = field(default=None, metadata={"help": "a local copy of the task in its original layout"})
    train_data_dir: str | None = field(
        default=None,
        metadata={"help": "a local copy of the training task, when it is another task (DU trains on GSM8K)"},
    )
    backbone_tokenizer: str | None = field(default=None, metadata={"help": "dry run: read the backbone's from here"})
    assistant_tokenizer: str | None = field(default=None, metadata={"help": "dry run: read the assistant's from here"})

    def __post_init__(self):
        if not self.recipe:
            raise ValueError("Pass the recipe file: softcot-hf reproduce recipes/softcot/gsm8k-llama.yaml.")
        checks.output_folder(self, "output_dir")
        # Build the recipe's arguments now, so that a wrong value in it is a usage error before any work.
        recipe = load_recipe(self.recipe)
        output_dir = Path(self.output_dir or Path("runs") / recipe.name)
        try:
            if recipe.train is not None:  # a chained recipe starts from its init recipe's backbone (trained later)
                backbone = recipe.model_name("backbone")
                recipe.training_arguments(output_dir / "train", self.data_dir, self.train_data_dir, backbone=backbone)
            recipe.evaluation_arguments(None, output_dir / "eval", self.data_dir)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{self.recipe}: {error}") from None


def reproduce(args: ReproduceArguments) -> dict | str:
    """Runs (or, with `dry_run`, describes) the recipe; returns the evaluation summary with `paper` and
    `comparison` added, also written to `OUTPUT_DIR/reproduce.json` (the dry-run text with `dry_run`)."""
    recipe = load_recipe(args.recipe)
    output_dir = Path(args.output_dir or Path("runs") / recipe.name)
    if args.dry_run:
        overrides = {"backbone": args.backbone_tokenizer, "assistant": args.assistant_tokenizer}
        text = dry_run(recipe, output_dir, args.data_dir, _tokenizers(recipe, overrides), args.train_data_dir)
        print(text)
        return text
    model = None
    backbone = None
    if recipe.init is not None:  # every process trains it, then goes on to this recipe's training
        recipe.init.method.train(
            recipe.init.training_arguments(output_dir / INIT_DIR, args.data_dir, args.train_data_dir)
        )
        backbone = str(output_dir / INIT_DIR)
    if recipe.train is not None:
        outcome = recipe.method.train(
            recipe.training_arguments(output_dir / "train", args.data_dir, args.train_data_dir, backbone)
        )
        if not outcome["is_main_process"]:
            return outcome
        model = outcome["output_dir"]
    from .evaluation.harness import evaluate

    summary = evaluate(recipe.evaluation_arguments(model, output_dir / "eval", args.data_dir))
    summary["paper"] = None if recipe.paper_result is None else dataclasses.asdict(recipe.paper_result)
    summary["comparison"] = compare(summary, recipe.paper_result)
    (output_dir / "reproduce.json").write_text(json.dumps({"recipe": recipe.name, **summary}, indent=2) + "\n")
    print(f"{recipe.name}: {summary['comparison']}")
    return summary


COMMANDS = [
    Command(
        "reproduce",
        "one paper-table row from a recipe file: train, evaluate with its seeds, print ours beside the paper's",
        ReproduceArguments,
        reproduce,
        positional="recipe",
    ),
]

__all__ = ["Recipe", "ReproduceArguments", "compare", "dry_run", "load_recipe", "reproduce"]
