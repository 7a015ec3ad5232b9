"""Publishing on the Hub: the exact files of a saved SoftCoT / CoT-Unk / Coconut folder, a model card rendered from
`model_cards/`, one commit. Frozen models are referenced by id and never uploaded.

    softcot-hf push OUTPUT_DIR --repo-id USER/NAME [--private] [--summary OUTPUT_DIR/eval/summary.json]
"""

import argparse
import json
import math
import tempfile
from importlib import resources
from pathlib import Path

import jinja2
from huggingface_hub import (
    CommitInfo,
    CommitOperationAdd,
    CommitOperationDelete,
    EvalResult,
    HfApi,
    ModelCard,
    ModelCardData,
)
from safetensors import safe_open

from .data import get_task
from .modeling.hub_push import refuse_other_model_type


def _hub_transport_errors() -> tuple[type[Exception], ...]:
    """The connection errors of huggingface_hub's HTTP client, which are not `HfHubHTTPError`s: `httpx2`'s from
    huggingface_hub 2.0, `httpx`'s before."""
    try:
        import httpx2 as client
    except ImportError:
        import httpx as client
    return (client.HTTPError,)


HUB_TRANSPORT_ERRORS = _hub_transport_errors()

# Model types we publish, and the only weight keys a checkpoint of a frozen-model method may hold (`None`: any key,
# the model is fully fine-tuned). A key outside these prefixes would be a frozen model's weight: refuse to upload it.
TRAINED_KEY_PREFIXES = {"softcot": ("projection.",), "cot_unk": ("thought_embeddings.",), "coconut": None}
# Files that make up a model folder: configs, weights, remote code, tokenizer files, chat templates.
UPLOAD_SUFFIXES = (".json", ".safetensors", ".py", ".jinja", ".txt", ".model")
# JSON files `Trainer` leaves next to the model: training logs, not part of the model.
TRAINER_FILES = {"trainer_state.json", "all_results.json", "train_results.json", "eval_results.json"}
# Subfolders that belong to the model: a tokenizer (the processor saves one per side) or a LoRA adapter.
SUBFOLDER_MARKERS = ("tokenizer_config.json", "adapter_config.json")
CARD_FILE = "README.md"


def _templates() -> jinja2.Environment:
    folder = resources.files("softcot_hf.model_cards")
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), keep_trailing_newline=True)


def _read_config(folder: Path) -> dict:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{folder} has no config.json: pass the folder a training run or `save_pretrained` wrote "
            "(a SoftCoT, CoT-Unk or Coconut model)."
        )
    config = json.loads(config_file.read_text())
    if config.get("model_type") not in TRAINED_KEY_PREFIXES:
        raise ValueError(
            f"{folder} holds a {config.get('model_type')!r} model; `softcot-hf push` publishes "
            f"{', '.join(TRAINED_KEY_PREFIXES)} models. Push other models with their own `push_to_hub`."
        )
    return config


def files_to_push(folder: str | Path) -> list[str]:
    """
    The files of a saved model folder that belong on the Hub, as sorted relative paths: configs, weights, remote code,
    tokenizer and processor files, and subfolders holding a tokenizer or a LoRA adapter. Training leftovers
    (checkpoints, optimizer states, logs, evaluation outputs) and any README.md (the card is rendered) are skipped.
    """
    folder = Path(folder)
    paths = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in UPLOAD_SUFFIXES and path.name not in TRAINER_FILES:
            paths.append(path.name)
        elif (
            path.is_dir()
            and not path.name.startswith("checkpoint-")  # Trainer checkpoints may hold tokenizer files too
            and any((path / marker).is_file() for marker in SUBFOLDER_MARKERS)
        ):
            paths += [f"{path.name}/{file.name}" for file in sorted(path.iterdir()) if file.suffix in UPLOAD_SUFFIXES]
    return paths


def check_weights(folder: str | Path, model_type: str, paths: list[str]) -> int:
    """Refuse weights that a `model_type` checkpoint must not hold (a frozen model's); returns the parameter count."""
    prefixes = TRAINED_KEY_PREFIXES[model_type]
    weight_files = [path for path in paths if path.endswith(".safetensors")]
    if not weight_files:
        raise FileNotFoundError(f"{folder} holds no .safetensors weights: save the model there first.")
    num_parameters = 0
    for path in weight_files:
        with safe_open(str(Path(folder) / path), framework="pt") as weights:
            for key in weights.keys():
                if prefixes is not None and not path.startswith("adapter/") and not key.startswith(prefixes):
                    raise ValueError(
                        f"{path} holds {key!r}, which is not a trained {model_type} weight (those start with "
                        f"{' or '.join(prefixes)}): it looks like a frozen model's weight, and frozen models are "
                        "never uploaded. Re-save the model with `save_pretrained` (it keeps only the trained weights)."
                    )
                if not path.startswith("adapter/"):
                    num_parameters += math.prod(weights.get_slice(key).get_shape())
    return num_parameters


def _is_hub_id(name: str | None) -> bool:
    """Whether `name` looks like a Hub repo id (`owner/name`), not a local path or URL."""
    return bool(name) and name.count("/") == 1 and not Path(name).exists() and " " not in name and "{" not in name


def _training_settings(folder: Path, config: dict, training: dict | None) -> list[tuple[str, str]]:
    """Rows of the card's training table: the model's own settings, `Trainer`'s record, then `training` (wins)."""
    settings: dict = {}
    model_type = config["model_type"]
    if model_type in ("softcot", "cot_unk"):
        settings["num_thought_tokens"] = config.get("num_thought_tokens")
    if model_type == "softcot":
        settings["projection_type"] = config.get("projection_type")
        settings["assistant (frozen)"] = config.get("assistant_model_name_or_path")
    if model_type in ("softcot", "cot_unk"):
        settings["backbone (frozen)"] = config.get("backbone_model_name_or_path")
    if model_type == "coconut":
        for key in ("c_thought", "max_latent_stage", "num_latent_thoughts"):
            settings[key] = config.get(key)
    state_file = folder / "trainer_state.json"
    if state_file.is_file():
        state = json.loads(state_file.read_text())
        settings.update(
            {key: state.get(key) for key in ("num_train_epochs", "max_steps", "global_step", "train_batch_size")}
        )
        losses = [entry["loss"] for entry in state.get("log_history", []) if "loss" in entry]
        if losses:
            settings["final training loss"] = round(losses[-1], 4)
    settings.update(training or {})
    return [(name, f"`{value}`" if isinstance(value, str) else value) for name, value in settings.items() if value]


def _evaluation_rows(summaries: list[dict]) -> list[dict]:
    rows = []
    for summary in summaries:
        accuracy = f"{100 * summary['accuracy']:.2f}"
        if summary.get("accuracy_std"):
            accuracy += f" ± {100 * summary['accuracy_std']:.2f}"
        rows.append(
            {
                "task": summary["task"],
                "split": summary.get("split", ""),
                "method": summary.get("method", ""),
                "num_examples": summary.get("num_examples", ""),
                "num_samples": summary.get("num_samples", 1),
                "seeds": ", ".join(str(seed) for seed in summary.get("seeds", [])),
                "accuracy": accuracy,
                "mean_generated_tokens": f"{summary.get('mean_generated_tokens', 0):.1f}",
            }
        )
    return rows


def _task_dataset(task_name: str) -> str | None:
    """The Hub dataset id a task reads from, when its source is one."""
    try:
        source = get_task(task_name).source
    except KeyError:
        return None
    return source if _is_hub_id(source) else None


SOFTCOT_USAGE = """\
import softcot_hf  # pip install softcot-hf: registers SoftCoT with the Auto classes
from transformers import AutoModelForCausalLM, AutoProcessor

model = AutoModelForCausalLM.from_pretrained("{repo_id}")  # fetches the projection, then both frozen models
processor = AutoProcessor.from_pretrained("{repo_id}")

inputs = processor(["{question}"])
output = model.generate(**inputs, max_new_tokens={max_new_tokens}, do_sample=False)
print(processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0])"""

COCONUT_USAGE = """\
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("{repo_id}", trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained("{repo_id}")

inputs = tokenizer(["{question}\\n"], return_tensors="pt")  # the question, then a newline, as in training
output = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens={max_new_tokens})
print(tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))"""

EXAMPLE_QUESTION = "Tom has 4 apples and buys 3 more. How many apples does Tom have?"


def render_model_card(
    folder: str | Path,
    repo_id: str,
    *,
    summaries: list[dict] | None = None,
    training: dict | None = None,
    license: str | None = None,
    datasets: list[str] | None = None,
    max_new_tokens: int = 256,
) -> ModelCard:
    """
    The card of the model saved in `folder`, from `model_cards/<model_type>.md`: metadata (`base_model` = the frozen
    models or the fine-tuned base, library, tags, datasets, license, eval results from `summaries`, the evaluation
    harness's summary.json dicts), a two-sentence description, a usage snippet for `repo_id`, training settings
    (`training` overrides what the folder records), the evaluation table, limitations and the paper's citation.
    """
    folder = Path(folder)
    config = _read_config(folder)
    model_type = config["model_type"]
    summaries = summaries or []
    paths = files_to_push(folder)
    if model_type == "coconut":
        text_config = config.get("text_config") or {}
        bases = [text_config.get("_name_or_path")]
        usage = COCONUT_USAGE
    else:
        bases = [config.get("backbone_model_name_or_path"), config.get("assistant_model_name_or_path")]
        usage = SOFTCOT_USAGE
    base_models = [base for base in bases if _is_hub_id(base)]
    task_datasets = [_task_dataset(summary["task"]) for summary in summaries]
    datasets = datasets or sorted({dataset for dataset in task_datasets if dataset}) or None
    model_name = repo_id.split("/")[-1]
    card_data = ModelCardData(
        model_name=model_name,
        base_model=base_models or None,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["softcot-hf", model_type.replace("_", "-"), "latent-reasoning", "chain-of-thought"],
        datasets=datasets,
        license=license,
        eval_results=[
            EvalResult(
                task_type="text-generation",
                dataset_type=_task_dataset(summary["task"]) or summary["task"],
                dataset_name=summary["task"],
                dataset_split=summary.get("split"),
                metric_type="accuracy",
                metric_name=f"accuracy ({summary.get('method', model_type)}, {summary.get('num_samples', 1)} samples)",
                metric_value=round(float(summary["accuracy"]), 4),
            )
            for summary in summaries
        ]
        or None,
    )
    text = (
        _templates()
        .get_template(f"{model_type}.md")
        .render(
            card_data=card_data.to_yaml(),
            repo_id=repo_id,
            assistant=config.get("assistant_model_name_or_path"),
            backbone=bases[0],
            num_thought_tokens=config.get("num_thought_tokens"),
            projection_type=config.get("projection_type"),
            num_latent_thoughts=config.get("num_latent_thoughts"),
            has_adapter=any(path.startswith("adapter/") for path in paths),
            num_parameters=f"{check_weights(folder, model_type, paths):,}",
            usage=usage.format(repo_id=repo_id, question=EXAMPLE_QUESTION, max_new_tokens=max_new_tokens),
            training_settings=_training_settings(folder, config, training),
            evaluations=_evaluation_rows(summaries),
        )
    )
    return ModelCard(text)


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    summaries: list[dict] | None = None,
    training: dict | None = None,
    license: str | None = None,
    private: bool | None = None,
    token: bool | str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    force: bool = False,
) -> CommitInfo:
    """
    Publish a saved SoftCoT, CoT-Unk or Coconut folder to `repo_id` in one commit: exactly `files_to_push(folder)`
    plus the rendered card as README.md. Refuses weights of frozen models, and a repo that already holds another
    model type unless `force=True` (then the repo's other files are deleted in the same commit).
    """
    folder = Path(folder)
    config = _read_config(folder)
    paths = files_to_push(folder)
    check_weights(folder, config["model_type"], paths)
    card = render_model_card(folder, repo_id, summaries=summaries, training=training, license=license)
    replace = refuse_other_model_type(repo_id, config["model_type"], revision, token, force)
    api = HfApi(token=token)
    repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
    if revision is not None:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(folder / path)) for path in paths]
    operations.append(CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=str(card).encode()))
    if replace:
        keep = {*paths, CARD_FILE, ".gitattributes"}
        stale = [path for path in api.list_repo_files(repo_id, revision=revision) if path not in keep]
        operations += [CommitOperationDelete(path_in_repo=path) for path in stale]
    return api.create_commit(
        repo_id,
        operations,
        commit_message=commit_message or f"Upload {config['model_type']} model with softcot-hf",
        revision=revision,
    )


def push_to_hub(model, repo_id: str, *, processor=None, tokenizer=None, **push_kwargs) -> CommitInfo:
    """
    Save `model` (SoftCoT, CoT-Unk or Coconut) with its `processor` (SoftCoT, CoT-Unk) or `tokenizer` (Coconut) to a
    temporary folder and publish it with [`push_folder`] (same keyword arguments): one commit, our card.
    """
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        for companion in (processor, tokenizer):
            if companion is not None:
                companion.save_pretrained(folder)
        return push_folder(folder, repo_id, **push_kwargs)


def _push_command(args: argparse.Namespace) -> None:
    summaries = [json.loads(Path(path).read_text()) for path in args.summary]
    default_summary = Path(args.folder) / "eval" / "summary.json"
    if not summaries and default_summary.is_file():
        summaries = [json.loads(default_summary.read_text())]
    training = json.loads(Path(args.training).read_text()) if args.training else None
    commit = push_folder(
        args.folder,
        args.repo_id,
        summaries=summaries,
        training=training,
        license=args.license,
        private=args.private or None,
        revision=args.revision,
        force=args.force,
    )
    print(f"Pushed {args.folder} to {commit.repo_url.repo_id}: {commit.commit_url}")


def add_commands(subparsers) -> None:
    """`softcot-hf push DIR --repo-id USER/NAME [--private] [--summary eval/summary.json] [--force]`."""
    push = subparsers.add_parser(
        "push",
        help="publish a saved SoftCoT / CoT-Unk / Coconut folder on the Hub, with a model card",
        description="Upload exactly the model's files (never the frozen models) and a rendered model card.",
    )
    push.add_argument("folder", help="the folder a training run or save_pretrained wrote")
    push.add_argument("--repo-id", required=True, help="USER/NAME on the Hub")
    push.add_argument("--private", action="store_true", help="create the repo private")
    push.add_argument(
        "--summary",
        action="append",
        default=[],
        help="evaluation summary.json for the card (repeatable; default: FOLDER/eval/summary.json if present)",
    )
    push.add_argument("--training", help="JSON file of training settings for the card")
    push.add_argument("--license", help="license identifier for the card's metadata, e.g. apache-2.0")
    push.add_argument("--revision", help="branch to push to (default: main)")
    push.add_argument("--force", action="store_true", help="replace a repo that holds another model type")
    push.set_defaults(func=_push_command)


__all__ = ["check_weights", "files_to_push", "push_folder", "push_to_hub", "render_model_card"]
