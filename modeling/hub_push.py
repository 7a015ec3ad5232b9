"""
The one Hub upload of this package's models: `model.push_to_hub(...)` (`push_model`) and `softcot-hf push FOLDER`
both end in `push_model_folder`, which uploads a saved model folder and its model card (`hub_card.render_card`) in
one commit, after refusing frozen models' weights, local paths and pushes over another model type.

Remote code: it needs only huggingface_hub and safetensors (transformers' own dependencies), so a model loaded with
`trust_remote_code=True` pushes without softcot_hf. What a push may upload comes from the model class
(`_trained_module`, `weights_record.trained_prefix`).
"""

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from huggingface_hub import (
    CommitInfo,
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    constants,
    get_token,
    hf_hub_download,
)
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from safetensors import safe_open

from .hub_card import card_template, is_hub_id, render_card
from .weights_record import trained_prefix

CARD_FILE = "README.md"

# Files that make up a model folder: configs, weights, remote code, tokenizer files, chat templates.
UPLOAD_SUFFIXES = (".json", ".safetensors", ".py", ".jinja", ".txt", ".model")
# JSON files a run leaves next to the model: Trainer's logs and softcot-hf's run record (`run.json`, which holds
# local paths).
RUN_FILES = {"trainer_state.json", "all_results.json", "train_results.json", "eval_results.json", "run.json"}
# Subfolders that belong to the model: a tokenizer (the processor saves one per side) or a LoRA adapter.
SUBFOLDER_MARKERS = ("tokenizer_config.json", "adapter_config.json")


class LocalPathError(ValueError):
    """A push would publish a path of this machine's file system."""


def hub_model_type(repo_id: str, revision: str | None = None, token: bool | str | None = None) -> str | None:
    """`model_type` of the `config.json` already on the Hub in `repo_id` at `revision`; `None` if there is none yet."""
    try:
        config_file = hf_hub_download(repo_id, "config.json", revision=revision, token=token)
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError):
        return None
    return json.loads(Path(config_file).read_text()).get("model_type")


def refuse_other_model_type(
    repo_id: str, model_type: str, revision: str | None, token: bool | str | None, force: bool
) -> bool:
    """Raise if `repo_id` already holds a model of another type (unless `force`); True when its files get replaced."""
    remote_type = hub_model_type(repo_id, revision, token)
    if remote_type is None or remote_type == model_type:
        return False
    if not force:
        raise ValueError(
            f"{repo_id} already holds a {remote_type!r} model; refusing to push a {model_type!r} model over it. Push "
            f"to another repo id, or pass force=True (CLI: --force) to replace the repo's files."
        )
    return True


LOGIN_HINT = "log in with `hf auth login`, or set HF_TOKEN (or pass token=) to a token with write access"


def check_token(token: bool | str | None) -> None:
    """Refuse a push that has no token to send (none given, none saved by `hf auth login`, no HF_TOKEN), before any
    request: the Hub would answer a bare 401."""
    if token is False or (token in (None, True) and get_token() is None):
        raise PermissionError(
            f"Pushing to the Hub at {constants.ENDPOINT} needs a token, and none is set: {LOGIN_HINT}."
        )


@contextmanager
def naming_refusals(repo_id: str) -> Iterator[None]:
    """Re-raise the Hub's refusal of a token (HTTP 401 or 403) as a `PermissionError` that says how to fix it."""
    try:
        yield
    except HfHubHTTPError as error:
        status = getattr(error.response, "status_code", None)
        if status not in (401, 403):
            raise
        raise PermissionError(
            f"The Hub at {constants.ENDPOINT} refused to let this token write to {repo_id} (HTTP {status}): the token "
            f"is invalid, read-only, or not allowed in that namespace. Check the repo id, then {LOGIN_HINT}."
        ) from error


def files_to_push(folder: str | Path) -> list[str]:
    """
    The files of a saved model folder that belong on the Hub, as sorted relative paths: configs, weights, remote code,
    tokenizer and processor files, and subfolders holding a tokenizer or a LoRA adapter. Training leftovers
    (checkpoints, optimizer states, logs, run settings, evaluation outputs) and any README.md (the card is rendered)
    are skipped.
    """
    folder = Path(folder)
    paths = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in UPLOAD_SUFFIXES and path.name not in RUN_FILES:
            paths.append(path.name)
        elif (
            path.is_dir()
            and not path.name.startswith("checkpoint-")  # Trainer checkpoints may hold tokenizer files too
            and any((path / marker).is_file() for marker in SUBFOLDER_MARKERS)
        ):
            paths += [f"{path.name}/{file.name}" for file in sorted(path.iterdir()) if file.suffix in UPLOAD_SUFFIXES]
    return paths


def check_weights(folder: str | Path, model_class: type, paths: list[str]) -> int:
    """Refuse weights a checkpoint of `model_class` must not hold (a frozen model's); returns its parameter count."""
    prefix = trained_prefix(model_class)
    weight_files = [path for path in paths if path.endswith(".safetensors") and not path.startswith("adapter/")]
    if not weight_files:
        raise FileNotFoundError(f"{folder} holds no .safetensors weights: save the model there first.")
    num_parameters = 0
    for path in weight_files:
        with safe_open(str(Path(folder) / path), framework="pt") as weights:
            for key in weights.keys():
                if prefix is not None and not key.startswith(prefix):
                    raise ValueError(
                        f"{path} holds {key!r}, which is not a trained {model_class.__name__} weight (those start "
                        f"with {prefix}): it looks like a frozen model's weight, and frozen models are never "
                        "uploaded. Re-save the model with `save_pretrained` (it keeps only the trained weights)."
                    )
                num_parameters += math.prod(weights.get_slice(key).get_shape())
    return num_parameters


def _rename_paths(data, rename, field: str = ""):
    """`data` (parsed JSON) with each non-empty `*name_or_path` string replaced by `rename(dotted_field, value)`."""
    if isinstance(data, dict):
        return {
            key: rename(field + key, value)
            if key.endswith("name_or_path") and isinstance(value, str) and value
            else _rename_paths(value, rename, f"{field}{key}.")
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_rename_paths(item, rename, field) for item in data]
    return data


def public_contents(
    folder: Path, paths: list[str], base_model_ids: dict[str, str] | None
) -> tuple[dict[str, str | bytes], set[str]]:
    """
    What to upload for each of `paths` (a file path, or bytes for a rewritten JSON file) and the local paths found:
    each `*name_or_path` value of a JSON file that is a local path is replaced by its Hub id from `base_model_ids`
    (`{local path: "owner/name"}`, matched by real path); one without an id raises `LocalPathError` with the fix.
    The files in `folder` are never changed.
    """
    hub_ids = {}
    for local, hub_id in (base_model_ids or {}).items():
        if not is_hub_id(hub_id):
            raise ValueError(f"base_model_ids maps {local} to {hub_id!r}, which is not a Hub repo id (owner/name).")
        hub_ids[os.path.realpath(local)] = hub_id
    found, missing = set(), []

    def rename(path: str, field: str, value: str) -> str:
        if is_hub_id(value):
            return value
        real = os.path.realpath(value)
        found.update({value, real} if os.path.isabs(value) else {real})
        if real not in hub_ids:
            missing.append((f"{path}: {field}", value))
        return hub_ids.get(real, value)

    contents: dict[str, str | bytes] = {path: str(folder / path) for path in paths}
    for path in (path for path in paths if path.endswith(".json")):
        data = json.loads((folder / path).read_text(encoding="utf-8"))
        public = _rename_paths(data, partial(rename, path))
        if public != data:
            contents[path] = (json.dumps(public, indent=2, ensure_ascii=False) + "\n").encode()
    if missing:
        fields = "".join(f"  {field} = {value}\n" for field, value in missing)
        local_paths = list(dict.fromkeys(value for _, value in missing))
        flags = " ".join(f"--base-model-id {path}=OWNER/NAME" for path in local_paths)
        mapping = ", ".join(f'"{path}": "OWNER/NAME"' for path in local_paths)
        raise LocalPathError(
            "Refusing to push: these fields name local paths, which would publish this machine's file layout and "
            f"cannot be loaded by anyone else:\n{fields}Nothing was uploaded. Push each of those "
            f"models to the Hub (or use their Hub ids) and map every path to its id: `softcot-hf push FOLDER "
            f"--repo-id USER/NAME {flags}`, or `push_to_hub(..., base_model_ids={{{mapping}}})`. The ids replace the "
            "paths in the uploaded files only; your local files stay as they are."
        )
    return contents, found


def refuse_local_paths(contents: dict[str, str | bytes], local_paths: set[str]) -> None:
    """Raise `LocalPathError` if any file about to be uploaded (weights aside) still holds one of `local_paths`."""
    for path_in_repo, content in contents.items():
        if path_in_repo.endswith(".safetensors"):
            continue
        data = _read(content)
        for local in sorted(local_paths):
            if local.encode() in data:
                raise LocalPathError(
                    f"Refusing to push: {path_in_repo} holds the local path {local}, which would publish this "
                    "machine's file layout. Nothing was uploaded. Remove the path from what you pass for that file "
                    "(card settings, run files do not belong in a model folder), or map it to a Hub id with "
                    "`--base-model-id PATH=OWNER/NAME` / `base_model_ids={PATH: OWNER/NAME}`."
                )


def _read(content: str | bytes) -> bytes:
    """The bytes of an upload: `content` itself, or the file it names."""
    return content if isinstance(content, bytes) else Path(content).read_bytes()


def push_model_folder(
    folder: str | Path,
    repo_id: str,
    model_class: type,
    *,
    base_model_ids: dict[str, str] | None = None,
    model_card: str | None = None,
    keep_card: bool = False,
    card_data: dict | None = None,
    training: dict | None = None,
    evaluation: str | None = None,
    force: bool = False,
    private: bool | None = None,
    token: bool | str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
    commit_description: str | None = None,
) -> CommitInfo:
    """
    Publish a `model_class` folder saved by `save_pretrained` to `repo_id` in one commit: `files_to_push(folder)`,
    local paths in its JSON files replaced by their `base_model_ids` (or refused), and README.md: `model_card` if
    given, else the repo's card if `keep_card` and there is one, else `render_card` (`card_data`, `training`,
    `evaluation` go there). Everything is checked before the first request: frozen models' weights and local paths
    are refused. A repo that holds another model type is refused unless `force=True`, which replaces its files.
    """
    folder = Path(folder)
    paths = files_to_push(folder)
    num_parameters = check_weights(folder, model_class, paths)
    contents, local_paths = public_contents(folder, paths, base_model_ids)
    config = json.loads(_read(contents["config.json"]))
    if model_card is None:
        model_card = render_card(
            config,
            repo_id,
            num_parameters,
            paths=paths,
            card_data=card_data,
            training=training,
            evaluation=evaluation,
        )
    contents[CARD_FILE] = model_card.encode()
    refuse_local_paths(contents, local_paths | {os.path.realpath(folder)})
    check_token(token)

    api = HfApi(token=token)
    with naming_refusals(repo_id):
        replace = refuse_other_model_type(repo_id, config["model_type"], revision, token, force)
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        if revision is not None and not create_pr:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        if keep_card and not replace and api.file_exists(repo_id, CARD_FILE, revision=revision):
            del contents[CARD_FILE]
        operations = [
            CommitOperationAdd(path_in_repo=path, path_or_fileobj=content) for path, content in contents.items()
        ]
        if replace:
            keep = {*contents, CARD_FILE, ".gitattributes"}
            stale = [path for path in api.list_repo_files(repo_id, revision=revision) if path not in keep]
            operations += [CommitOperationDelete(path_in_repo=path) for path in stale]
        return api.create_commit(
            repo_id,
            operations,
            commit_message=commit_message or card_template(config["model_type"]).commit_message,
            commit_description=commit_description,
            revision=revision,
            create_pr=create_pr,
        )


def push_model(
    model, repo_id: str, *, max_shard_size: int | str = "50GB", tags: list[str] | None = None, **options
) -> CommitInfo:
    """
    `push_to_hub` of this package's models (the stock one writes a generic card over ours): upload what
    `save_pretrained` writes (config, the trained weights, generation config, remote code) in one commit through
    `push_model_folder`, the path `softcot-hf push` takes, and return its `CommitInfo`; frozen models referenced by id
    are never uploaded. Push the processor or tokenizer with its own `push_to_hub`.

    `options` are `push_model_folder`'s: `base_model_ids` maps each local path in the config to its Hub id
    (`{"/path/to/backbone": "owner/name"}`, else the push is refused), `model_card` (default: the repo's card is kept,
    else the card of the model's type), `force`, `private`, `token`, `revision`, `create_pr`, `commit_message`,
    `commit_description`.
    """
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder, max_shard_size=max_shard_size)
        return push_model_folder(folder, repo_id, type(model), keep_card=True, card_data={"tags": tags}, **options)


__all__ = [
    "LocalPathError",
    "check_token",
    "check_weights",
    "files_to_push",
    "hub_model_type",
    "push_model",
    "push_model_folder",
    "refuse_other_model_type",
]
