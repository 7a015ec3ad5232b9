"""Frozen models referenced by id: what SoftCoT and CoT-Unk share when they are built and loaded.

A checkpoint of either model holds its config and one small trained module; the config names the frozen models (Hub
ids or paths, pinned revisions if any), which are loaded from their own repos. Trust is per repository:
`trust_remote_code=True` lets transformers import *our* code for the checkpoint, and never reaches the frozen models;
a frozen model that ships its own code runs it only with `frozen_trust_remote_code=True`.
"""

import json
import os
from contextlib import contextmanager
from pathlib import Path

import torch
from huggingface_hub import constants
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError
from safetensors.torch import load_file
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import CONFIG_NAME, SAFE_WEIGHTS_NAME, cached_file, logging
from transformers.utils.hub import extract_commit_hash

from .compat import attn_implementation, cached_file_or_none
from .weights_record import verify_weights

# Under transformers' root logger, so its verbosity settings (`transformers.logging.set_verbosity_info()`,
# TRANSFORMERS_VERBOSITY) show which frozen repos and revisions a load fetches.
logger = logging.get_logger(f"transformers.{__name__}")

# Keyword arguments of `from_pretrained` that locate files; they apply to the checkpoint and to the frozen models.
HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "local_files_only")


def hub_failure(error: BaseException, name_or_path: str, revision: str | None = None) -> str:
    """Why `name_or_path` (at `revision`) could not be fetched, naming the Hub endpoint in use (transformers' messages
    point at huggingface.co even when HF_ENDPOINT names another)."""
    endpoint, cause = constants.ENDPOINT, error
    while cause is not None and not isinstance(cause, RepositoryNotFoundError | RevisionNotFoundError):
        cause = cause.__cause__ or cause.__context__
    page = f"{endpoint}/{name_or_path}"
    if isinstance(cause, RevisionNotFoundError):
        return (
            f"{name_or_path} has no revision {revision!r} on the Hub at {endpoint}: pass a branch, tag or commit "
            f"that exists there (see {page})."
        )
    if isinstance(cause, GatedRepoError):
        return f"{name_or_path} is a gated repo: ask for access at {page}, then log in (`hf auth login` or HF_TOKEN)."
    if isinstance(cause, RepositoryNotFoundError):
        return (
            f"{name_or_path} is not a local folder, and the Hub at {endpoint} has no model repo of that id that you "
            "may read: check the id (a local path must exist), or log in (`hf auth login` or HF_TOKEN) for a private "
            "repo."
        )
    return str(error).replace(f"https://huggingface.co/{name_or_path}", page)


def check_revision(side: str, name_or_path: str, revision: str | None) -> None:
    """Refuse a `revision` for a local folder: transformers would ignore it and load whatever the folder holds."""
    if revision is not None and os.path.isdir(name_or_path):
        raise ValueError(
            f"{side}_revision={revision!r} was given for the local folder {name_or_path!r}, where a revision cannot "
            "be checked (it would be ignored). Drop the revision, or pass the Hub id to load that revision."
        )


def model_and_tokenizer(
    side: str,
    model: PreTrainedModel | str,
    tokenizer: PreTrainedTokenizerBase | None = None,
    revision: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """
    The frozen `side` model (loaded at `revision` if given as a Hub id / path) and its tokenizer: `tokenizer` if given,
    else the one at the model's `name_or_path` (and `revision`).
    """
    if isinstance(model, str):
        check_revision(side, model, revision)
        model = AutoModelForCausalLM.from_pretrained(model, revision=revision)
    if tokenizer is None:
        if not model.name_or_path:
            raise ValueError(
                f"The {side} model has no name_or_path to load its tokenizer from: pass `{side}_tokenizer=` (or the "
                f"{side} as a Hub id / local path)."
            )
        tokenizer = AutoTokenizer.from_pretrained(model.name_or_path, revision=revision)
    return model, tokenizer


def pinned_revision(model: PreTrainedModel, revision: str | None, pin: bool = True) -> str | None:
    """
    The revision to record for a frozen model: `revision` if given; else, with `pin`, the commit of the Hub repo its
    files were loaded from (the cached snapshot of the repo's main branch), so the checkpoint keeps loading exactly
    those weights after the repo moves on; `None` for a local folder, a model built in memory, or nothing cached.
    """
    if revision is not None or not pin or not model.name_or_path or os.path.isdir(model.name_or_path):
        return revision
    return cached_commit(model.name_or_path)


def cached_commit(repo_id: str) -> str | None:
    """The commit of the Hub repo `repo_id` whose config the local cache holds for its main branch (no request made);
    `None` when nothing is cached."""
    try:
        config_file = cached_file_or_none(repo_id, CONFIG_NAME, local_files_only=True)
    except OSError:
        return None
    return extract_commit_hash(config_file, None) if config_file else None


class FrozenModelsCheckpoint:
    """
    A SoftCoT or CoT-Unk checkpoint being loaded (`kind` names it in errors): its files (config, the trained module's
    safetensors, generation config) and the frozen models its config references.

    `kwargs` are `from_pretrained`'s: `revision`/`subfolder` locate this checkpoint; `token`, `cache_dir`,
    `local_files_only`, ... locate every file; `dtype`, `device_map`, `attn_implementation` and any other loading
    argument go to the frozen models. `trust_remote_code` is dropped: it was for this repository only.
    """

    def __init__(
        self, kind: str, name_or_path: str | os.PathLike, kwargs: dict, frozen_trust_remote_code: bool = False
    ):
        self.kind, self.name_or_path, self.source = kind, name_or_path, str(name_or_path)
        self.frozen_trust_remote_code = frozen_trust_remote_code
        # `adapter_kwargs` (the Auto classes pass this repo's resolved revision there) describe this repo, not the
        # frozen models: forwarding them would look for the frozen models at this repo's commit.
        kwargs = {key: value for key, value in kwargs.items() if not key.startswith("_")}
        for key in ("trust_remote_code", "adapter_kwargs"):
            kwargs.pop(key, None)
        revision, subfolder = kwargs.pop("revision", None), kwargs.pop("subfolder", "")
        self.location = {"revision": revision, "subfolder": subfolder}
        self.location.update({key: kwargs[key] for key in HUB_KWARGS if key in kwargs})
        self.frozen_kwargs = kwargs

    @contextmanager
    def _naming_missing(self, filename: str):
        """Re-raise a failed lookup of this checkpoint's `filename` with the repo, the file and how to fix it."""
        try:
            yield
        except OSError as error:
            raise OSError(
                f"Could not get {filename} of the {self.kind} checkpoint {self.source!r}. Offline or with "
                f"local_files_only=True it must already be in the cache: download it once (`hf download "
                f"{self.source}`) or pass a local folder. Otherwise check the id, the revision and your access to it. "
                f"The loader said: {hub_failure(error, self.source, self.location['revision'])}"
            ) from error

    def load_config(self, config_class: type[PreTrainedConfig]) -> PreTrainedConfig:
        with self._naming_missing(CONFIG_NAME):
            return config_class.from_pretrained(self.name_or_path, **self.location)

    def load_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained module's tensors, from the checkpoint's safetensors file, checked against the SHA-256 recorded
        when it was saved (`weights_record.verify_weights`)."""
        with self._naming_missing(SAFE_WEIGHTS_NAME):
            path = cached_file(self.name_or_path, SAFE_WEIGHTS_NAME, **self.location)
        verify_weights(self.name_or_path, **self.location)
        return load_file(path)

    def load_generation_config(self) -> GenerationConfig | None:
        """The checkpoint's saved generation config, `None` if it has none."""
        path = cached_file_or_none(self.name_or_path, "generation_config.json", **self.location)
        return None if path is None else GenerationConfig.from_dict(json.loads(Path(path).read_text()))

    def load_frozen_model(self, config: PreTrainedConfig, name: str, sub_config: PreTrainedConfig) -> PreTrainedModel:
        """
        Load the frozen model `name` from `config.{name}_model_name_or_path`, at `config.{name}_revision` if pinned.
        An attention implementation that `AutoModel*.from_pretrained` absorbed into `sub_config` still applies.
        """
        name_or_path = getattr(config, f"{name}_model_name_or_path")
        revision = getattr(config, f"{name}_revision", None)
        if not name_or_path:
            raise ValueError(
                f"config.json does not name the {name} model ({name}_model_name_or_path is empty): pass `{name}=` a "
                f"loaded model, or set `config.{name}_model_name_or_path` to its Hub id or path before saving."
            )
        check_revision(name, name_or_path, revision)
        at = "" if revision is None else f" at revision {revision!r}"
        logger.info(f"{self.kind} checkpoint {self.source}: loading the frozen {name} {name_or_path!r}{at}.")
        if revision is None and not os.path.isdir(name_or_path):
            logger.warning(
                f"The frozen {name} {name_or_path!r} of {self.source} is not pinned ({name}_revision is unset): "
                "loading whatever its main branch holds now."
            )
        kwargs = self.frozen_kwargs
        if attn_implementation(sub_config) is not None:
            kwargs = {"attn_implementation": attn_implementation(sub_config), **kwargs}
        trust = self.frozen_trust_remote_code
        try:
            return AutoModelForCausalLM.from_pretrained(
                name_or_path, revision=revision, trust_remote_code=trust, **kwargs
            )
        except ValueError as error:
            if trust or "trust_remote_code" not in str(error):
                raise
            raise ValueError(
                f"The frozen {name} model {name_or_path!r}{at} that {self.source} references needs its own code, "
                f"which is not run: `trust_remote_code=True` covers the {self.kind} repo only. If you trust "
                f"{name_or_path!r} as well, read its code and pass `frozen_trust_remote_code=True` to "
                f"`from_pretrained` (or pass `{name}=` a model you loaded yourself)."
            ) from error
        except OSError as error:
            raise OSError(
                f"Could not load the frozen {name} model {name_or_path!r}{at} that {self.source} references "
                f"({name}_model_name_or_path in its config.json). A {self.kind} checkpoint holds only its trained "
                f"weights; the {name} comes from its own repo. Offline or with local_files_only=True it must already "
                f"be in the cache: download it once (`hf download {name_or_path}`), or pass `{name}=` a loaded model. "
                f"Otherwise check the id and your access to it. The loader said: "
                f"{hub_failure(error, name_or_path, revision)}"
            ) from error


__all__ = ["FrozenModelsCheckpoint", "cached_commit", "hub_failure", "model_and_tokenizer", "pinned_revision"]
