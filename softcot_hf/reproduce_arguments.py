"""The arguments of `softcot-hf reproduce` (light: the CLI renders `--help` from them without importing torch); the
run itself is `softcot_hf.reproduce.reproduce`."""

from dataclasses import dataclass, field
from pathlib import Path

from . import checks
from .recipe_files import FLAVOURS


@dataclass
class ReproduceArguments:
    """One paper-table row from a recipe file: train (or resume), evaluate with the recipe's seeds, compare."""

    recipe: str | None = field(
        default=None, metadata={"help": "a shipped recipe's name (e.g. softcot/gsm8k-llama) or a recipe file"}
    )
    flavour: str = field(
        default="paper",
        metadata={"help": "paper: the official settings wherever they move the number; recommended: ours"},
    )
    dry_run: bool = field(default=False, metadata={"help": "print the settings and prompts; train nothing"})
    output_dir: str | None = field(
        default=None, metadata={"help": "run folder (default: runs/RECIPE_NAME, runs/RECIPE_NAME-recommended)"}
    )
    data_dir: str | None = field(default=None, metadata={"help": "a local copy of the task in its original layout"})
    train_data_dir: str | None = field(
        default=None,
        metadata={"help": "a local copy of the training task, when it is another task (DU trains on GSM8K)"},
    )
    backbone_tokenizer: str | None = field(
        default=None, metadata={"help": "read the backbone's tokenizer and generation_config.json from here"}
    )
    assistant_tokenizer: str | None = field(default=None, metadata={"help": "read the assistant tokenizer from here"})

    def __post_init__(self):
        if not self.recipe:
            raise ValueError("Pass a recipe name or file: softcot-hf reproduce softcot/gsm8k-llama.")
        if self.flavour not in FLAVOURS:
            raise ValueError(f"--flavour must be one of {', '.join(FLAVOURS)}, got {self.flavour!r}.")
        checks.output_folder(self, "output_dir")
        # Build the recipe's arguments now, so that a wrong value in it is a usage error before any work.
        from .reproduce import build_arguments, load_recipe

        try:
            build_arguments(
                load_recipe(self.recipe),
                Path(self.output_dir or "runs"),
                self.data_dir,
                self.train_data_dir,
                self.flavour,
            )
        except (ValueError, TypeError) as error:
            raise ValueError(f"{self.recipe}: {error}") from None


__all__ = ["ReproduceArguments"]
