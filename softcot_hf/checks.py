"""Checks of the arguments dataclasses' values, run in their `__post_init__` before any work starts.

Each error names the flag (with its short alias), the value and what it must be, so `softcot-hf` shows it as a usage
error and the Python API raises the same `ValueError`.
"""

import dataclasses
import json
import os
import re
import types
import typing
from pathlib import Path

# A Hub id: "name" or "org/name" (letters, digits, "-", "_", "."), not starting with "." or "/".
_HUB_ID = re.compile(r"[\w-][\w.-]*(/[\w-][\w.-]*)?")


def flag(args, name: str) -> str:
    """`--name` and its short aliases, as the command line takes them."""
    aliases = next((f.metadata.get("aliases", []) for f in dataclasses.fields(args) if f.name == name), [])
    return f"--{name}" + (f" ({', '.join(aliases)})" if aliases else "")


def require(args, name: str, ok: bool, need: str) -> None:
    """Raise `ValueError` naming `name`'s flag and value unless `ok`; `need` says what the value must be."""
    if not ok:
        raise ValueError(f"{flag(args, name)} must be {need}, got {getattr(args, name)!r}.")


def positive(args, *names: str) -> None:
    """Each of `names` is more than 0 (or `None`, where that means "not set")."""
    for name in names:
        value = getattr(args, name)
        require(args, name, value is None or value > 0, "more than 0")


def choices(args) -> None:
    """Every `Literal[...]` field holds one of its choices (the command line checks them; the Python API does not)."""
    for field in dataclasses.fields(args):
        if typing.get_origin(field.type) is typing.Literal:
            allowed = typing.get_args(field.type)
            require(args, field.name, getattr(args, field.name) in allowed, f"one of {', '.join(map(repr, allowed))}")


def _number_kinds(annotation) -> set[type] | None:
    """The kinds among bool, int and float a field annotated `annotation` takes (None: it takes something else)."""
    arms = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    kinds = set(arms or (annotation,)) - {type(None)}
    return kinds if kinds and kinds <= {bool, int, float} else None


def numbers(args) -> None:
    """Every field declared a number or a boolean holds one (a config file or the Python API may pass text, e.g.
    `"2e-5"`; the command line converts its flags itself)."""
    for field in dataclasses.fields(args):
        kinds, value = _number_kinds(field.type), getattr(args, field.name)
        if kinds is None or value is None or value == field.default:  # a few library defaults break their own type
            continue
        if bool in kinds:
            require(args, field.name, isinstance(value, bool), "true or false")
            continue
        whole = float not in kinds
        ok = isinstance(value, int if whole else int | float) and not isinstance(value, bool)
        need = "a whole number" if whole else "a number"
        if isinstance(value, str):
            need += f", not text (drop the quotes: {value} rather than {value!r})"
        require(args, field.name, ok, need)


def json_object(args, name: str, example: str) -> None:
    """`name`, when given as text (a flag), is parsed as JSON; it must then be a mapping (`example` shows one)."""
    value = getattr(args, name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            require(args, name, False, f"a JSON object such as {example} ({error})")
        setattr(args, name, value)
    require(args, name, value is None or isinstance(value, dict), f"a JSON object such as {example}")


def output_folder(args, *names: str) -> None:
    """Each of `names`, when set, is a folder that exists or can be made (checked here, made by the run)."""
    for name in names:
        value = getattr(args, name)
        if value is None:
            continue
        path = Path(value).expanduser().absolute()
        require(args, name, path.is_dir() or not path.exists(), "a folder, not a file: pass a folder's path")
        existing = next(parent for parent in path.parents if parent.exists())
        require(args, name, existing.is_dir(), f"a folder that can be made, but {existing} is a file")
        require(args, name, os.access(existing, os.W_OK | os.X_OK), f"a folder you may write, but {existing} is not")


def existing_path(args, *names: str, folder: bool = False) -> None:
    """Each of `names`, when set, is an existing file (a folder with `folder`)."""
    for name in names:
        value = getattr(args, name)
        if value is not None:
            path = Path(value).expanduser()
            require(
                args,
                name,
                path.is_dir() if folder else path.is_file(),
                f"an existing {'folder' if folder else 'file'}",
            )


def is_model_location(value: str | Path) -> bool:
    """Whether `value` is an existing path or has the shape of a Hub id ("name" or "org/name")."""
    return Path(value).expanduser().exists() or bool(_HUB_ID.fullmatch(str(value)))


def model_location(args, *names: str) -> None:
    """Each of `names`, when set, is an existing folder or has the shape of a Hub id ("org/name")."""
    for name in names:
        value = getattr(args, name)
        if isinstance(value, str | Path):
            require(args, name, is_model_location(value), "a local model folder that exists or a Hub id (org/name)")
