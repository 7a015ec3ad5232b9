"""The YAML and JSON files users write (`--config`, recipes, prompt presets): one reader, whose errors name the file
and say what to fix.

YAML is read with YAML 1.2's numbers: PyYAML follows YAML 1.1, where `2e-5` (no dot) is the *string* "2e-5", so a
learning rate written the way everyone writes it would reach the arguments as text.
"""

import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from .errors import InputError


class _Loader(yaml.SafeLoader):
    """`yaml.SafeLoader` that also reads `1e-5`, `2E+3` and `-3e2` (no dot) as floats, as YAML 1.2 does."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:\d[\d_]*\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789.")
)


def read_config(path: str | Path, kind: str = "config file") -> dict:
    """The mapping in a YAML or JSON file (`.json`: JSON, else YAML); a missing file is a `FileNotFoundError`, an
    unreadable or malformed one, or one that holds no mapping, an `InputError`; each names `kind`, the file and the
    fix."""
    path = Path(path)
    if not path.is_file():
        problem = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"No {kind} at {path} (it {problem}): pass the path of a YAML or JSON file.")
    language = "JSON" if path.suffix == ".json" else "YAML"
    try:
        text = path.read_text(encoding="utf-8")
        values = json.loads(text) if language == "JSON" else yaml.load(text, Loader=_Loader)
    except UnicodeDecodeError:
        raise InputError(f"The {kind} {path} is not text (not UTF-8): pass a {language} file.") from None
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise InputError(f"The {kind} {path} is not valid {language}: {error}") from None
    if not isinstance(values, dict):
        raise InputError(
            f"The {kind} {path} must hold a mapping of option names to values, not {type(values).__name__}."
        )
    return values


def check_keys(source: str, given: Iterable[str], known: Iterable[str], what: str = "options") -> None:
    """An `InputError` when `source` sets keys outside `known`: each with its likely intended name, then every known
    one."""
    known = sorted(known)
    unknown = sorted(set(given) - set(known))
    if not unknown:
        return
    hints = [f"{key!r} -> {close[0]!r}" for key in unknown if (close := difflib.get_close_matches(key, known, n=1))]
    meant = f" (did you mean {', '.join(hints)}?)" if hints else ""
    raise InputError(f"{source} sets unknown {what} {unknown}{meant}; it takes {known}.")


__all__ = ["check_keys", "read_config"]
