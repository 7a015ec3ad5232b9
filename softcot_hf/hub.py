"""Publishing on the Hub from the command line and from training outputs. The push itself (files, checks, upload) is
the models' own, `modeling/hub_push.py`, and so are their card templates (`modeling/hub_card.py`); this module adds
what only a training run has: evaluation summaries and Trainer's record for the card.

    softcot-hf push OUTPUT_DIR --repo-id USER/NAME [--private] [--summary OUTPUT_DIR/eval/summary.json]
        [--base-model-id LOCAL_PATH=OWNER/NAME ...]
"""

import json
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import CommitInfo, EvalResult
from transformers import CONFIG_MAPPING, MODEL_FOR_CAUSAL_LM_MAPPING, PreTrainedModel

from .data import get_task
from .modeling.hub_card import CARDS, is_hub_id
from .modeling.hub_push import check_weights, files_to_push, public_contents, push_model_folder
from .push_arguments import PushArguments


def _hub_transport_errors() -> tuple[type[Exception], ...]:
    """The connection errors of huggingface_hub's HTTP client, which are not `HfHubHTTPError`s: `httpx2`'s from
    huggingface_hub 2.0, `httpx`'s before."""
    try:
        import httpx2 as client
    except ImportError:
        import httpx as client
    return (client.HTTPError,)


HUB_TRANSPORT_ERRORS = _hub_transport_errors()


def saved_model_class(folder: str | Path) -> type[PreTrainedModel]:
    """The class of the model saved in `folder`, from its config.json's `model_type` and the Auto registry."""
    config_file = Path(folder) / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{folder} has no config.json: pass the folder a training run or `save_pretrained` wrote "
            "(a SoftCoT, CoT-Unk or Coconut model)."
        )
    model_type = json.loads(config_file.read_text()).get("model_type")
    if model_type not in CARDS:
        raise ValueError(
            f"{folder} holds a {model_type!r} model; `softcot-hf push` publishes this package's models (SoftCoT, "
            "CoT-Unk, Coconut). Push other models with their own `push_to_hub`."
        )
    return MODEL_FOR_CAUSAL_LM_MAPPING[CONFIG_MAPPING[model_type]]


def _trainer_settings(folder: Path) -> dict:
    """Card rows from the `trainer_state.json` training left in `folder`: epochs, steps, batch size, final loss."""
    state_file = folder / "trainer_state.json"
    if not state_file.is_file():
        return {}
    state = json.loads(state_file.read_text())
    settings = {key: state.get(key) for key in ("num_train_epochs", "max_steps", "global_step", "train_batch_size")}
    losses = [entry["loss"] for entry in state.get("log_history", []) if "loss" in entry]
    if losses:
        settings["final training loss"] = round(losses[-1], 4)
    return settings


def _task_dataset(task_name: str) -> str | None:
    """The Hub dataset id a task reads from, when its source is one."""
    try:
        source = get_task(task_name).source
    except KeyError:
        return None
    return source if source and is_hub_id(source) else None


def _evaluation_section(summaries: list[dict]) -> str:
    """The card's evaluation table (markdown) from the evaluation harness's summary.json dicts."""
    header = (
        "| task | split | method | examples | samples per question | seeds | accuracy (%) | generated tokens |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for summary in summaries:
        accuracy = f"{100 * summary['accuracy']:.2f}"
        if summary.get("accuracy_std"):
            accuracy += f" ± {100 * summary['accuracy_std']:.2f}"
        cells = (
            summary["task"],
            summary.get("split", ""),
            summary.get("method", ""),
            summary.get("num_examples", ""),
            summary.get("num_samples", 1),
            ", ".join(str(seed) for seed in summary.get("seeds", [])),
            accuracy,
            f"{summary.get('mean_generated_tokens', 0):.1f}",
        )
        rows.append("| " + " | ".join(str(cell) for cell in cells) + " |\n")
    harness = "`softcot_hf.evaluation.run_evaluation`"
    note = f"Accuracy is the mean over seeds (± standard deviation), measured with {harness}."
    return f"{header}{''.join(rows)}\n{note}"


def _eval_results(summaries: list[dict], model_type: str) -> list[EvalResult]:
    """The card metadata's `eval_results` (one accuracy per summary)."""
    return [
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


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    summaries: list[dict] | None = None,
    training: dict | None = None,
    license: str | None = None,
    **options,
) -> CommitInfo:
    """
    Publish a saved SoftCoT, CoT-Unk or Coconut folder to `repo_id` in one commit, through the models' own push
    (`push_model_folder`, what `model.push_to_hub` runs): the model's files and a card that also shows `summaries`
    (summary.json dicts of the evaluation harness), Trainer's record in the folder, `training` (extra rows, they win)
    and `license`. `options` are `push_model_folder`'s (`base_model_ids`, `private`, `token`, `revision`, `force`,
    `commit_message`, ...): local paths in the config are refused unless `base_model_ids` maps each to its Hub id.
    """
    folder = Path(folder)
    cls = saved_model_class(folder)
    summaries = summaries or []
    datasets = sorted({dataset for dataset in map(_task_dataset, (s["task"] for s in summaries)) if dataset})
    card_data = {
        "license": license,
        "datasets": datasets or None,
        "eval_results": _eval_results(summaries, cls.config_class.model_type) or None,
    }
    return push_model_folder(
        folder,
        repo_id,
        cls,
        card_data=card_data,
        training=_trainer_settings(folder) | (training or {}),
        evaluation=_evaluation_section(summaries) if summaries else None,
        **options,
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


def hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the Hub endpoint cannot be reached (a TCP connection does not open within `timeout` seconds), else None."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout).close()
    except OSError as error:
        return f"Cannot reach the Hub at {constants.ENDPOINT} ({error})"
    return None


@contextmanager
def offline_if_unreachable() -> Iterator[str | None]:
    """With HF_HUB_OFFLINE unset and the Hub out of reach, run the block in offline mode and give a one-line note
    saying so (None otherwise); the mode is restored after. The Hub client retries a failed lookup of a file it has not
    cached 5 times with backoff (30 s or more) before it gives up; offline, such a lookup fails at once and cached
    files still load."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or (reason := hub_unreachable()) is None:
        yield None
        return
    saved = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # for libraries that read it when imported (datasets)
    constants.HF_HUB_OFFLINE = True  # huggingface_hub and transformers read it at each lookup
    try:
        yield (
            f"{reason}: running offline (as with HF_HUB_OFFLINE=1), so Hub ids load from the local cache only. Set "
            "HF_HUB_OFFLINE=1 yourself to skip this check, and pass local folders instead of Hub ids."
        )
    finally:
        constants.HF_HUB_OFFLINE = False
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved


def check_hub_reachable(timeout: float = 5.0) -> None:
    """Raise `ConnectionError` at once when the Hub endpoint cannot be reached (offline, the Hub client retries for
    about 30 s before it gives up)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise ConnectionError("HF_HUB_OFFLINE is set: pushing needs the Hub. Unset it when online.")
    if (reason := hub_unreachable(timeout)) is not None:
        raise ConnectionError(f"{reason}: push when online.")


def check_folder_before_upload(folder: str | Path, base_model_ids: dict[str, str]) -> None:
    """The refusals that need no network, run before `check_hub_reachable`: not one of our models, frozen weights in
    the folder, local paths in its config files without a Hub id (`LocalPathError`). `push_model_folder` checks them
    again; they are cheap."""
    folder = Path(folder)
    cls = saved_model_class(folder)
    paths = files_to_push(folder)
    check_weights(folder, cls, paths)
    public_contents(folder, paths, base_model_ids)


def run_push(args: PushArguments) -> CommitInfo:
    check_folder_before_upload(args.folder, args.base_model_ids)
    check_hub_reachable()
    commit = push_folder(
        args.folder,
        args.repo_id,
        summaries=args.summaries,
        training=args.training_settings,
        license=args.license,
        base_model_ids=args.base_model_ids,
        private=args.private or None,
        revision=args.revision,
        force=args.force,
    )
    print(f"Pushed {args.folder} to {commit.repo_url.repo_id}: {commit.commit_url}")
    return commit


__all__ = ["saved_model_class", "push_folder", "push_to_hub"]
