"""`softcot-hf reproduce RECIPE`: one row of a paper's table from one recipe file, trained (or resumed), evaluated
with the recipe's seeds and printed next to the paper's number (`softcot_hf.paper_results`). docs/reproducing.md
describes recipes: `method`, `task`, `paper_result`, `init_from_recipe`, `train` (the method's training arguments),
`eval` (`EvaluationArguments`), the `recommended` flavour's changes and the `fidelity` table (`softcot_hf.fidelity`).

`--dry-run` checks the recipe and prints its settings, fidelity table and the exact prompts of one test question,
reading tokenizers and the backbone's `generation_config.json`, never the weights. A flavour whose fidelity table has
an undeclared deviation is refused before anything trains.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import AutoTokenizer, GenerationConfig, TrainingArguments

from .data import get_task
from .evaluation.arguments import EvaluationArguments
from .fidelity import FLAVOURS, Fidelity, Row, RunSettings, check, format_rows, load_fidelity
from .generation import resolve_sampling, sampling_settings
from .methods import Method, get_method
from .modeling.hub_card import is_hub_id
from .paper_results import PAPER_RESULTS, PaperResult
from .pipelines import train
from .recipe_files import find_recipe, recipes_root, resolve_relative_paths
from .settings_files import check_keys, read_config
from .training.arguments import MethodTrainingArguments, route_trainer_args

if TYPE_CHECKING:  # it builds its recipe's arguments with this module: imported for the annotation only
    from .reproduce_arguments import ReproduceArguments

_RECIPE_KEYS = {"method", "task", "paper_result", "init_from_recipe", "train", "eval", "recommended", "fidelity"}
INIT_DIR = "init"  # where a recipe's init_from_recipe trains, in its run folder
_STAND_IN_QUESTION = "A baker made 24 rolls and sold 9 of them. How many rolls are left?"


@dataclass
class Recipe:
    """One row of a paper's table: what to train and how to evaluate it. `name` is the file's path under its
    `recipes/` folder without the suffix (e.g. "softcot/gsm8k-llama"), and names the default run folder
    `runs/<name>`."""

    name: str
    method: Method
    task: str
    paper_result: PaperResult | None
    train: dict[str, Any] | None
    eval: dict[str, Any]
    recommended: dict[str, dict[str, Any]] = field(default_factory=dict)  # "train"/"eval": the flavour's changes
    fidelity: Fidelity | None = None
    init: "Recipe | None" = None  # the recipe whose artifact is this one's backbone (init_from_recipe)

    def sections(self, flavour: str = "paper") -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The `train` (None: nothing to train) and `eval` options of `flavour`."""
        if flavour not in FLAVOURS:
            raise ValueError(f"Unknown flavour {flavour!r}; choose one of {', '.join(FLAVOURS)}.")
        changes = self.recommended if flavour == "recommended" else {}
        train = None if self.train is None else {**self.train, **changes.get("train", {})}
        return train, {**self.eval, **changes.get("eval", {})}

    def training_arguments(
        self,
        output_dir: Path,
        data_dir: str | None = None,
        train_data_dir: str | None = None,
        backbone: str | None = None,
        flavour: str = "paper",
    ):
        """The method's training arguments for this recipe, training into `output_dir` (no final evaluation: the
        recipe's own follows). `data_dir` is the evaluated task's folder: training reads it only when it trains on
        that task; a recipe that trains on another task (DU trains on GSM8K) reads `train_data_dir`, else the
        training task's usual source. `backbone`: the model to start from when the recipe names none (`init`'s
        artifact)."""
        options = {"task": self.task, **self.sections(flavour)[0], "output_dir": str(output_dir), "evaluate": False}
        options["method"] = self.method.name
        if backbone is not None:
            options["backbone"] = backbone
        folder = train_data_dir if options["task"] != self.task else data_dir
        if folder is not None:
            options["data_dir"] = folder
        return self.method.arguments(**route_trainer_args(self.method.arguments, options))

    def model_name(self, side: str) -> str | None:
        """The "backbone" or "assistant" model the recipe names (for a chained recipe, the one `init` starts from:
        its artifact keeps that tokenizer)."""
        sections = [self.train or {}, self.eval, (self.init.train if self.init else None) or {}]
        return next((section[side] for section in sections if section.get(side)), None)

    def evaluation_arguments(
        self, model: str | None, output_dir: Path, data_dir: str | None = None, flavour: str = "paper"
    ):
        options = {**self.sections(flavour)[1], "task": self.task, "method": self.method.name}
        options["output_dir"] = str(output_dir)
        if model is not None:
            options["model"] = model
        if data_dir is not None:
            options["data_dir"] = data_dir
        return EvaluationArguments(**options)


def load_recipe(path: str | Path) -> Recipe:
    """A recipe (a shipped recipe's name or a file, `find_recipe`), checked: known keys, a known method and task, a
    `train` section exactly when the method trains, a paper row that exists. Its `./` and `../` paths are made
    absolute from its file's folder."""
    path = find_recipe(path)
    values = read_config(path, "recipe")
    if "method" not in values or "task" not in values:
        raise ValueError(f"{path} is not a recipe: a mapping with method, task, eval and (when it trains) train.")
    if unknown := sorted(set(values) - _RECIPE_KEYS):
        raise ValueError(f"{path} has unknown keys {unknown}; a recipe takes {sorted(_RECIPE_KEYS)}.")
    method = get_method(values["method"])
    get_task(values["task"])
    values = {key: resolve_relative_paths(value, path) for key, value in values.items()}
    train = values.get("train")
    if (method.arguments is None) != (train is None):
        need = "no train section (it trains nothing)" if method.arguments is None else "a train section"
        raise ValueError(f"{path}: method {method.name} takes {need}.")
    recommended = values.get("recommended") or {}
    if not isinstance(recommended, dict) or not set(recommended) <= {"train", "eval"}:
        raise ValueError(f"{path}: recommended holds the flavour's changes, as train: and eval: mappings.")
    if "train" in recommended and train is None:
        raise ValueError(f"{path}: recommended changes training, but method {method.name} trains nothing.")
    for name, section, arguments in (
        ("train", train, method.arguments),
        ("eval", values.get("eval"), EvaluationArguments),
        ("recommended: train", recommended.get("train"), method.arguments),
        ("recommended: eval", recommended.get("eval"), EvaluationArguments),
    ):
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ValueError(
                f"{path}: {name} must be a mapping of option names to values, not {type(section).__name__}."
            )
        if arguments is not EvaluationArguments:  # TrainingArguments fields go to trainer_args
            section = route_trainer_args(arguments, section)
        check_keys(f"{path}: {name}", section, (item.name for item in dataclasses.fields(arguments)))
    key = values.get("paper_result")
    if key is not None and key not in PAPER_RESULTS:
        raise ValueError(f"{path}: paper_result {key!r} is not in softcot_hf.paper_results.PAPER_RESULTS.")
    init = None
    if (init_name := values.get("init_from_recipe")) is not None:
        init = _load_init_recipe(path, init_name, train)
    root = recipes_root(path)
    inside = path.resolve().is_relative_to(root)
    return Recipe(
        name=path.resolve().relative_to(root).with_suffix("").as_posix() if inside else path.stem,
        method=method,
        task=values["task"],
        paper_result=None if key is None else PAPER_RESULTS[key],
        train=train,
        eval=dict(values.get("eval") or {}),
        recommended={section: dict(changes or {}) for section, changes in recommended.items()},
        fidelity=None if "fidelity" not in values else load_fidelity(values["fidelity"], path),
        init=init,
    )


def _load_init_recipe(path: Path, name: str, train: dict | None) -> Recipe:
    """The recipe `path` starts from (`init_from_recipe: name`, a path under the `recipes/` folder `path` sits in,
    else under the shipped recipes), checked."""
    init_path = recipes_root(path) / f"{name}.yaml"
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
    """The fields worth printing: those the recipe gives, ours, and the `TrainingArguments` fields our training
    arguments hold whose default they change (transformers' other defaults are left out)."""
    base = {}
    if isinstance(arguments, MethodTrainingArguments):
        base = {item.name: item.default for item in dataclasses.fields(TrainingArguments)}
    shown = {}
    for item in dataclasses.fields(arguments):
        if item.name in base and item.name not in given and item.default == base[item.name]:
            continue
        value = getattr(arguments, item.name)
        shown[item.name] = value if isinstance(value, int | float | str | bool | list | type(None)) else str(value)
    return shown


def _locations(recipe: Recipe, overrides: dict[str, str | None]) -> dict[str, str]:
    """Where each side's tokenizer (and the backbone's generation config) is read: the override, else the model (the
    recipe's models were checked with its arguments). An override that is neither a Hub id nor an existing folder
    raises FileNotFoundError before any tokenizer is looked for."""
    locations = {}
    for side in ("backbone", "assistant"):
        name = overrides.get(side) or recipe.model_name(side)
        if name is None:
            continue
        if overrides.get(side) and not is_hub_id(name) and not Path(name).exists():
            raise FileNotFoundError(f"--{side}-tokenizer {name}: no such folder ({Path(name).resolve()}).")
        locations[side] = str(name)
    return locations


def _tokenizers(locations: dict[str, str]) -> dict:
    tokenizers = {}
    for side, name in locations.items():
        try:
            tokenizers[side] = AutoTokenizer.from_pretrained(name)
        except OSError as error:
            folder = (
                ""
                if Path(name).exists()
                else f" It is no folder here ({Path(name).resolve()}), so it was looked up as a Hub id: in a recipe, "
                "a path that starts with ./ or ../ is read from the recipe's folder, any other from the working one."
            )
            raise OSError(
                f"Could not load the {side} model {name!r} ({error}).{folder} Offline, pass --{side}-tokenizer with a "
                "local folder holding the same tokenizer (and the backbone's generation_config.json)."
            ) from error
    return tokenizers


def backbone_generation_config(location: str | None) -> tuple[GenerationConfig, str]:
    """The backbone's generation config (the sampling defaults `generate` falls back on) and where it came from;
    transformers' defaults when the backbone ships none."""
    if location is None:
        return GenerationConfig(), "none (no backbone)"
    try:
        return GenerationConfig.from_pretrained(location), f"{location}/generation_config.json"
    except OSError:
        return GenerationConfig(), f"none at {location} (transformers' defaults)"


def _sampling(eval_args: EvaluationArguments, generation_config: GenerationConfig) -> dict:
    """What the backbone will sample with: the evaluation's settings, the rest from its generation config."""
    names = ("num_samples", "do_sample", "temperature", "top_p", "top_k", "repetition_penalty")
    return resolve_sampling(sampling_settings(*(getattr(eval_args, name) for name in names)), generation_config)


def build_arguments(
    recipe: Recipe,
    output_dir: Path,
    data_dir: str | None = None,
    train_data_dir: str | None = None,
    flavour: str = "paper",
) -> tuple[Any | None, Any | None, EvaluationArguments]:
    """The arguments `flavour` of `recipe` runs with: the training arguments of the recipe it starts from (None: it
    starts from a model), its own (None: it trains nothing) and its evaluation arguments. Models that training will
    write are set after the checks (they do not exist yet)."""
    init_args = train_args = None
    if recipe.init is not None:
        init_args = recipe.init.training_arguments(output_dir / INIT_DIR, data_dir, train_data_dir, flavour=flavour)
        train_args = recipe.training_arguments(
            output_dir / "train", data_dir, train_data_dir, init_args.backbone, flavour
        )
        train_args.backbone = str(output_dir / INIT_DIR)
    elif recipe.train is not None:
        train_args = recipe.training_arguments(output_dir / "train", data_dir, train_data_dir, flavour=flavour)
    eval_args = recipe.evaluation_arguments(None, output_dir / "eval", data_dir, flavour)
    if train_args is not None:
        eval_args.model = train_args.output_dir
    return init_args, train_args, eval_args


@dataclass
class Plan:
    """One flavour of a recipe, ready to run: its arguments, what the backbone samples with, its fidelity rows, and
    the tokenizers (by side) its prompts are built with."""

    flavour: str
    train: Any | None
    eval: EvaluationArguments
    sampling: dict
    init: Any | None  # the training arguments of the recipe it starts from (init_from_recipe), trained first
    generation_config_source: str
    rows: list[Row]
    tokenizers: dict = field(default_factory=dict)


def plan(
    recipe: Recipe,
    output_dir: Path,
    data_dir: str | None = None,
    tokenizers: dict | None = None,
    flavour: str = "paper",
    generation_config: tuple[GenerationConfig, str] | None = None,
    train_data_dir: str | None = None,
) -> Plan:
    """The arguments `flavour` of `recipe` will run with and its fidelity rows, computed from them (`tokenizers` by
    side build the prompts; `generation_config`: the backbone's and its source)."""
    init_args, train_args, eval_args = build_arguments(recipe, output_dir, data_dir, train_data_dir, flavour)
    config, source = generation_config or (GenerationConfig(), "transformers' defaults")
    sampling = _sampling(eval_args, config)
    tokenizers = tokenizers or {}
    rows = []
    if recipe.fidelity is not None:
        task = get_task(recipe.task)
        processor = recipe.method.example_processor(task, tokenizers, train_args) if train_args else None
        init = None if recipe.init is None else recipe.init.name
        run = RunSettings(recipe.method, task, train_args, eval_args, sampling, processor, init)
        rows = recipe.fidelity.rows(run, flavour)
    return Plan(flavour, train_args, eval_args, sampling, init_args, source, rows, tokenizers)


def dry_run(recipe: Recipe, planned: Plan) -> str:
    """What `planned` (a flavour of `recipe`) will run: its settings, its fidelity table and one test question's
    prompts on each side (text and ids), as text. Raises after the text is built (it is in the error) when the table
    has an undeclared deviation."""
    flavour, train_args, eval_args, tokenizers = planned.flavour, planned.train, planned.eval, planned.tokenizers
    lines = [f"recipe {recipe.name} ({flavour} flavour): {recipe.method.name} on {recipe.task}"]
    paper = recipe.paper_result
    lines.append("paper: -" if paper is None else f"paper: {paper.accuracy:.2f} % ({paper.paper}, {paper.setting})")
    if planned.init is not None:
        lines.append(f"starts from: recipe {recipe.init.name}, trained first into {planned.init.output_dir}:")
        init_given = recipe.init.sections(flavour)[0]
        lines += [f"  {name}: {value!r}" for name, value in _settings(planned.init, init_given).items()]
    if train_args is not None:
        lines.append(f"training ({type(train_args).__name__}):")
        lines += [f"  {name}: {value!r}" for name, value in _settings(train_args, recipe.sections(flavour)[0]).items()]
    lines.append("evaluation (EvaluationArguments):")
    lines += [f"  {name}: {value!r}" for name, value in _settings(eval_args, recipe.sections(flavour)[1]).items()]
    lines.append(f"sampling as the backbone sees it (generation config: {planned.generation_config_source}):")
    lines += [f"  {name}: {value!r}" for name, value in planned.sampling.items()]
    if recipe.fidelity is not None:
        lines.append("fidelity:")
        lines.append(format_rows(planned.rows))
    task = get_task(recipe.task)
    try:
        rows = task.load(eval_args.split, data_dir=eval_args.data_dir, **(eval_args.data_options or {}))
        question = rows[0]["question"]
        lines.append(f"evaluation prompts of the first {eval_args.split} question:")
    except (OSError, ValueError) as error:
        question = _STAND_IN_QUESTION
        lines.append(f"evaluation prompts of a stand-in question (the {recipe.task} data did not load: {error}):")
    prompt_args = train_args  # the prompts as the evaluation builds them (SoftCoT may evaluate at another N)
    if getattr(train_args, "num_thought_tokens", None) and eval_args.num_thought_tokens:
        prompt_args = dataclasses.replace(train_args, num_thought_tokens=eval_args.num_thought_tokens)
    for side, ids in recipe.method.example_prompts(task, question, tokenizers, prompt_args).items():
        text = tokenizers[side].decode(ids)
        lines += [f"  {side} ({len(ids)} tokens):", f"    text: {json.dumps(text)}", f"    ids: {ids}"]
    text = "\n".join(lines)
    try:
        check(planned.rows, f"{recipe.name} ({flavour})")
    except ValueError as error:
        raise ValueError(f"{text}\n\n{error}") from None
    return text


def reproduce(args: "ReproduceArguments") -> dict | str:
    """Runs (or, with `dry_run`, describes) the recipe's flavour; returns the evaluation summary with `paper` and
    `comparison` added, also written to `OUTPUT_DIR/reproduce.json` (the dry-run text with `dry_run`). A flavour
    whose fidelity table has an undeclared deviation is refused before anything trains."""
    recipe = load_recipe(args.recipe)
    suffix = "" if args.flavour == "paper" else f"-{args.flavour}"
    output_dir = Path(args.output_dir or Path("runs") / f"{recipe.name}{suffix}")
    locations = _locations(recipe, {"backbone": args.backbone_tokenizer, "assistant": args.assistant_tokenizer})
    tokenizers = _tokenizers(locations)
    generation_config = backbone_generation_config(locations.get("backbone"))
    planned = plan(recipe, output_dir, args.data_dir, tokenizers, args.flavour, generation_config, args.train_data_dir)
    if args.dry_run:
        text = dry_run(recipe, planned)
        print(text)
        return text
    check(planned.rows, f"{recipe.name} ({args.flavour})")
    model = None
    if planned.init is not None:  # every process trains it, then goes on to this recipe's training
        train(planned.init)
    if planned.train is not None:
        outcome = train(planned.train)
        if not outcome["is_main_process"]:
            return outcome
        model = outcome["output_dir"]
    from .evaluation.harness import evaluate

    summary = evaluate(recipe.evaluation_arguments(model, output_dir / "eval", args.data_dir, args.flavour))
    summary["flavour"] = args.flavour
    summary["paper"] = None if recipe.paper_result is None else dataclasses.asdict(recipe.paper_result)
    summary["comparison"] = compare(summary, recipe.paper_result)
    (output_dir / "reproduce.json").write_text(json.dumps({"recipe": recipe.name, **summary}, indent=2) + "\n")
    print(f"{recipe.name} ({args.flavour}): {summary['comparison']}")
    return summary


__all__ = [
    "Plan",
    "Recipe",
    "build_arguments",
    "compare",
    "dry_run",
    "load_recipe",
    "plan",
    "reproduce",
]
