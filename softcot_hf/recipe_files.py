"""Where recipes live and how their paths resolve. The package ships its recipes (`softcot_hf/recipes/`, installed
with it), so `softcot-hf reproduce softcot/gsm8k-llama` finds one by name from any folder; a path to a YAML file
works too. Inside a recipe, a string that starts with `./` or `../` is a path relative to the recipe's own file (the
shipped tiny recipe names the shipped tiny models so); every other string is used as written (a Hub id, or a path
from the working directory)."""

import difflib
import os
from pathlib import Path
from typing import Any

RECIPES_DIR = Path(__file__).with_name("recipes")
# Folders of RECIPES_DIR that hold no recipes: launcher configs (`accelerate launch --config_file`) and the
# official settings tables the recipes compare with (softcot_hf.fidelity).
NOT_RECIPES = ("accelerate", "official")
_RELATIVE = ("./", "../")
# How a recipe runs: "paper" (the official settings wherever they move the number) or "recommended" (ours).
FLAVOURS = ("paper", "recommended")


def recipe_names() -> list[str]:
    """The names of the shipped recipes, e.g. "softcot/gsm8k-llama": their paths under RECIPES_DIR, no suffix."""
    paths = (path.relative_to(RECIPES_DIR) for path in RECIPES_DIR.rglob("*.yaml"))
    return sorted(path.with_suffix("").as_posix() for path in paths if path.parts[0] not in NOT_RECIPES)


def find_recipe(name_or_path: str | Path) -> Path:
    """The recipe file `name_or_path` means: an existing file, else a shipped recipe's name (with or without
    `.yaml`, with or without a leading `recipes/`). Raises FileNotFoundError listing the shipped names."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = path.as_posix().removeprefix("recipes/").removesuffix(".yaml")
    names = recipe_names()
    if name in names:
        return RECIPES_DIR / f"{name}.yaml"
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise FileNotFoundError(
        f"No recipe at {name_or_path}: no such file, and no shipped recipe of that name.{hint} "
        f"The shipped recipes (under {RECIPES_DIR}):\n{_listing(names)}"
    )


def _listing(names: list[str]) -> str:
    """The names grouped by folder, one folder a line: "  softcot/: aqua-llama, aqua-qwen, ..."."""
    folders: dict[str, list[str]] = {}
    for name in names:
        folder, _, stem = name.rpartition("/")
        folders.setdefault(f"{folder}/" if folder else "", []).append(stem)
    return "\n".join(f"  {folder}: {', '.join(stems)}" for folder, stems in folders.items())


def resolve_relative_paths(values: Any, recipe_path: Path) -> Any:
    """`values` (a recipe section: mappings, lists, strings) with every string that starts with `./` or `../` made
    an absolute path from the recipe file's folder."""
    if isinstance(values, dict):
        return {key: resolve_relative_paths(value, recipe_path) for key, value in values.items()}
    if isinstance(values, list):
        return [resolve_relative_paths(value, recipe_path) for value in values]
    if isinstance(values, str) and values.startswith(_RELATIVE):
        return os.path.normpath(recipe_path.absolute().parent / values)  # symbolic links kept as written
    return values


def recipes_root(recipe_path: Path) -> Path:
    """The `recipes/` folder a recipe file sits in (its names and `official/` tables are read there): the nearest
    enclosing folder called `recipes`, else the shipped one."""
    return next((folder for folder in recipe_path.resolve().parents if folder.name == "recipes"), RECIPES_DIR)
