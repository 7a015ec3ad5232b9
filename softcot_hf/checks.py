"""Checks of the arguments dataclasses' values, run in their `__post_init__` before any work starts.

Each error names the flag (with its short alias), the value and what it must be, so `softcot-hf` shows it as a usage
error and the Python API raises the same `ValueError`.
"""

import dataclasses
import re
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


def model_location(args, *names: str) -> None:
    """Each of `names`, when set, is an existing folder or has the shape of a Hub id ("org/name")."""
    for name in names:
        value = getattr(args, name)
        if value is not None and not Path(value).expanduser().exists():
            require(
                args, name, bool(_HUB_ID.fullmatch(value)), "a local model folder that exists or a Hub id (org/name)"
            )
