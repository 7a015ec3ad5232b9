"""The SHA-256 of every weights file we write, checked when the folder is loaded: altered weights never load silently.

Saving a model of this package (`save_pretrained`, hence also `push_to_hub` and `Trainer` checkpoints) ends by writing
`weights_sha256.json` next to the weights: `{"sha256": {file name: hex digest}}` for each weights file of the folder
(`model*.safetensors`, a peft `adapter_model*.safetensors`). It is an ordinary JSON file of the model folder, so it
travels wherever the folder goes (a push uploads it, a Hub download fetches it), and this module needs only the
standard library and transformers (remote code). Loading a folder that holds the record (`verify_weights`) hashes the
files it lists and refuses any that differ or are missing; a folder without one (saved before the record existed, or
by other code) loads unchecked, as before.
"""

import hashlib
import json
import os
from pathlib import Path

from transformers.utils import cached_file

from .compat import cached_file_or_none

RECORD_NAME = "weights_sha256.json"
# The weights files `save_pretrained` writes: transformers' `model.safetensors` or its shards, peft's adapter.
WEIGHTS_PATTERNS = ("model*.safetensors", "adapter_model*.safetensors")
# `from_pretrained` keyword arguments that say where a checkpoint's files come from.
LOCATION_KWARGS = ("revision", "subfolder", "cache_dir", "force_download", "proxies", "token", "local_files_only")
_CHUNK = 1 << 20


class WeightsIntegrityError(ValueError):
    """A weights file differs from the one its folder's `weights_sha256.json` says was saved."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def forget_weights(folder: str | os.PathLike) -> None:
    """Remove `folder`'s record before new weights are written there: a save cut short then leaves no record (the
    folder loads unchecked) rather than an old one that the new files would fail."""
    (Path(folder) / RECORD_NAME).unlink(missing_ok=True)


def record_weights(folder: str | os.PathLike) -> dict[str, str]:
    """Write `folder/weights_sha256.json` for the weights files in `folder` (`WEIGHTS_PATTERNS`, not in subfolders);
    returns the `{file name: sha256}` it wrote. Written whole or not at all (a temporary file renamed into place)."""
    folder = Path(folder)
    paths = sorted({path for pattern in WEIGHTS_PATTERNS for path in folder.glob(pattern) if path.is_file()})
    hashes = {path.name: file_sha256(path) for path in paths}
    partial = folder / f".{RECORD_NAME}.partial"
    partial.write_text(json.dumps({"sha256": hashes}, indent=2) + "\n")
    os.replace(partial, folder / RECORD_NAME)
    return hashes


def _read_record(path: str, source: str) -> dict[str, str]:
    try:
        hashes = json.loads(Path(path).read_text())["sha256"]
        if not all(isinstance(name, str) and isinstance(value, str) for name, value in hashes.items()):
            raise TypeError("file names and digests must be strings")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise WeightsIntegrityError(
            f"{RECORD_NAME} of {source} is unreadable ({type(error).__name__}: {error}), so its weights cannot be "
            f"checked. Save the model again with save_pretrained, or delete {RECORD_NAME} to load it unchecked."
        ) from error
    return hashes


def verify_weights(name_or_path: str | os.PathLike | None, **location) -> dict[str, str]:
    """
    Check the weights of the model folder or Hub repo `name_or_path` against its `weights_sha256.json` and return the
    record (`{}` when there is none: a folder saved without it loads unchecked). `location`: `from_pretrained`'s
    `revision`, `subfolder`, `cache_dir`, `token`, ... (others are ignored). Raises `WeightsIntegrityError` naming the
    file, the recorded and the found digest, when a listed file differs.
    """
    if name_or_path is None:
        return {}
    location = {key: location[key] for key in LOCATION_KWARGS if location.get(key) is not None}
    source = str(name_or_path)
    record = cached_file_or_none(source, RECORD_NAME, offline_ok=True, **location)
    if record is None:
        return {}
    hashes = _read_record(record, source)
    for name, expected in hashes.items():
        try:
            found = file_sha256(cached_file(source, name, **location))
        except OSError as error:
            raise WeightsIntegrityError(
                f"{RECORD_NAME} of {source} lists {name}, which could not be read: the folder is incomplete. Copy or "
                f"download the whole folder again, or save the model again. The reader said: {error}"
            ) from error
        if found != expected:
            raise WeightsIntegrityError(
                f"{name} of {source} is not the file that was saved there: its SHA-256 is {found}, but {RECORD_NAME} "
                f"records {expected}. The file was altered or damaged after saving (a partial copy or download, a "
                "disk error, an edit). Copy or download it again (`force_download=True` for a Hub repo), or save the "
                f"model again; if you changed the weights on purpose, delete {RECORD_NAME} to load them unchecked."
            )
    return hashes


def trained_prefix(model: type | object) -> str | None:
    """Prefix of the only weight keys a checkpoint of `model` (a model or its class) holds, from its `_trained_module`
    (`"projection"` -> `"projection."`); `None` when every weight is trained (or the model names no module)."""
    module = getattr(model, "_trained_module", None)
    return None if module is None else f"{module}."


class WeightsRecordMixin:
    """`save_pretrained` that records the SHA-256 of the weights it writes (`record_weights`), on the main process;
    `from_pretrained` that verifies them first (`verify_weights`; SoftCoT and CoT-Unk load their trained module
    themselves and verify it in `FrozenModelsCheckpoint`). Put it before `PreTrainedModel` in the bases."""

    def save_pretrained(self, save_directory: str | os.PathLike, *args, is_main_process: bool = True, **kwargs):
        if is_main_process:
            forget_weights(save_directory)
        output = super().save_pretrained(save_directory, *args, is_main_process=is_main_process, **kwargs)
        if is_main_process:
            record_weights(save_directory)
        return output

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        verify_weights(pretrained_model_name_or_path, **kwargs)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)


__all__ = [
    "RECORD_NAME",
    "WeightsIntegrityError",
    "WeightsRecordMixin",
    "file_sha256",
    "forget_weights",
    "record_weights",
    "trained_prefix",
    "verify_weights",
]
