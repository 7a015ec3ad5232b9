"""The arguments of `softcot-hf push` (light: the CLI renders `--help` from them without importing torch); the push
itself is `softcot_hf.hub.run_push`."""

from dataclasses import dataclass, field
from pathlib import Path

from .settings_files import read_config

# Repeated flags add up (`--summary a --summary b`), as do several values after one flag.
_EXTEND = {"action": "extend"}


def _base_model_id(mapping: str) -> tuple[str, str]:
    """`LOCAL_PATH=OWNER/NAME` -> (path, id); a Hub id holds no `=`, a path may."""
    path, separator, hub_id = mapping.rpartition("=")
    from .modeling.hub_card import is_hub_id

    if not separator or not path or not is_hub_id(hub_id):
        raise ValueError(f"--base-model-id expects LOCAL_PATH=OWNER/NAME (a Hub repo id), got {mapping!r}")
    return path, hub_id


@dataclass
class PushArguments:
    """`softcot-hf push FOLDER --repo-id USER/NAME`: upload exactly the model's files (never the frozen models) and
    a rendered model card."""

    folder: str | None = field(default=None, metadata={"help": "the folder a training run or save_pretrained wrote"})
    repo_id: str | None = field(default=None, metadata={"help": "USER/NAME on the Hub (required)"})
    private: bool = field(default=False, metadata={"help": "create the repo private"})
    summary: list[str] = field(
        default_factory=list,
        metadata={"help": "evaluation summary.json files for the card (default: FOLDER/eval/summary.json)", **_EXTEND},
    )
    training: str | None = field(default=None, metadata={"help": "JSON file of training settings for the card"})
    license: str | None = field(default=None, metadata={"help": "license identifier for the card, e.g. apache-2.0"})
    base_model_id: list[str] = field(
        default_factory=list,
        metadata={"help": "LOCAL_PATH=OWNER/NAME: the Hub id of a model the config names by local path", **_EXTEND},
    )
    revision: str | None = field(default=None, metadata={"help": "branch to push to (default: main)"})
    force: bool = field(default=False, metadata={"help": "replace a repo that holds another model type"})

    def __post_init__(self):
        if not self.folder or not self.repo_id:
            raise ValueError("Pass the model folder and --repo-id USER/NAME.")
        self.base_model_ids = dict(_base_model_id(mapping) for mapping in self.base_model_id)
        # Read now, so that a wrong file is a usage error before anything is uploaded.
        default_summary = Path(self.folder) / "eval" / "summary.json"
        paths = self.summary or ([default_summary] if default_summary.is_file() else [])
        from .evaluation.report import load_summaries

        self.summaries = load_summaries(paths)
        self.training_settings = read_config(self.training, "training settings file") if self.training else None


__all__ = ["PushArguments"]
