"""A command line from argument dataclasses (what `softcot-hf` and the examples parse with; standard library only).

Every field is a flag, `--field-name` and `--field_name`, plus the aliases in its metadata (`"aliases"`); its help is
the metadata's `"help"`. Booleans are switches (`--do-sample` / `--no-do-sample`; `--do_sample true|false` is still
read), `Literal` types give choices, lists take several words, `dict | str` fields take JSON text. `--config FILE`
(YAML or JSON, keyed by field name) gives values that flags override. The help lists the dataclass's own fields
first, then those of the package's base classes; fields of classes outside the package (transformers') and the
options that go into an `extra` dict field (e.g. `trainer_args`) show with `--help-all` only.

A value the dataclass refuses (`ValueError` / `TypeError` / `OSError` in `__post_init__`) is a usage error: exit 2,
one line.
"""

import argparse
import dataclasses
import difflib
import enum
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
PACKAGE = __name__.split(".")[0]
COMMON = "common options"


@dataclass(frozen=True)
class ExtraOptions:
    """Flags that are fields of another dataclass (`source()`, imported only when such a flag or `--help-all` is
    given) and go, parsed, into the dict field `field` of the arguments: e.g. transformers' `TrainingArguments`
    options into `trainer_args`."""

    field: str
    source: Callable[[], type]
    title: str


@dataclass(frozen=True)
class Option:
    """One field as a flag: its names (the first is shown), whether it is a switch, how a word becomes a value."""

    name: str
    flags: tuple[str, ...]
    switch: bool
    many: bool
    convert: Callable[[str], Any]
    choices: tuple | None
    help: str
    section: str
    negatives: tuple[str, ...] = ()
    extend: bool = False  # a list flag given again adds to the list (metadata "action": "extend")


def _json_value(allow_text: bool) -> Callable[[str], Any]:
    def convert(word: str):
        try:
            value = json.loads(word)
        except json.JSONDecodeError:
            if allow_text:
                return word
            raise ValueError(f"not JSON: {word!r}") from None
        if allow_text and not isinstance(value, dict):
            return word
        return value

    convert.__name__ = "JSON"
    return convert


def _describe(annotation) -> tuple[bool, bool, Callable[[str], Any], tuple | None]:
    """(switch, many, convert, choices) for a field's type."""
    members = [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
    first = members[0] if members else str
    origin = typing.get_origin(first)
    if members == [bool]:
        return True, False, bool, None
    if origin is typing.Literal:
        choices = typing.get_args(first)
        return False, False, type(choices[0]), choices
    if origin in (list, tuple) or first in (list, tuple):
        element = (typing.get_args(first) or (str,))[0]
        _, _, convert, choices = _describe(element if element is not Ellipsis else str)
        return False, True, convert, choices
    if dict in members or origin is dict:
        return False, False, _json_value(allow_text=str in members), None
    if isinstance(first, type) and issubclass(first, enum.Enum):
        return False, False, str, tuple(member.value for member in first)
    if first in (int, float):
        return False, False, first, None
    return False, False, str, None


def _default_text(field: dataclasses.Field, help_text: str, switch: bool, defaults: dict) -> str:
    """The help's "(default: ...)" suffix (`defaults` replace the field's); none where the help says it already."""
    if "default" in help_text.lower() and field.name not in defaults:
        return ""
    if field.name in defaults:
        value = defaults[field.name]
    elif field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return " (required)"
    if switch:
        return " (default: on)" if value else " (default: off)"
    if value is None or value == [] or value == {}:
        return ""
    return f" (default: {' '.join(map(str, value)) if isinstance(value, list) else value})"


def _declaring_class(arguments: type, name: str) -> type:
    for cls in arguments.__mro__:
        if name in cls.__dict__.get("__annotations__", {}):
            return cls
    return arguments


def options_of(
    arguments: type, own_title: str, common: type | None = None, defaults: dict | None = None
) -> list[Option]:
    """The flags of `arguments`' fields, in sections: `own_title` (its own fields), `COMMON` (the fields of `common`,
    or without it those its bases in this package declare) and `"all"` (those declared outside the package)."""
    hints = typing.get_type_hints(arguments)
    common_names = {field.name for field in dataclasses.fields(common)} if common is not None else set()
    options = []
    for field in dataclasses.fields(arguments):
        if not field.init:
            continue
        switch, many, convert, choices = _describe(hints.get(field.name, str))
        dashed = field.name.replace("_", "-")
        names = [f"--{dashed}"]
        if dashed != field.name:
            names.append(f"--{field.name}")
        negatives = ()
        if switch:
            negatives = (f"--no-{dashed}",) + ((f"--no_{field.name}",) if dashed != field.name else ())
        aliases = tuple(field.metadata.get("aliases", ()))
        owner = _declaring_class(arguments, field.name)
        if owner.__module__.split(".")[0] != PACKAGE:
            section = "all"
        elif field.name in common_names or (common is None and owner is not arguments):
            section = COMMON
        else:
            section = own_title
        help_text = str(field.metadata.get("help", ""))
        options.append(
            Option(
                field.name,
                (*names, *aliases, *negatives),
                switch,
                many,
                convert,
                choices,
                help_text + _default_text(field, help_text, switch, defaults or {}),
                section,
                negatives,
                many and field.metadata.get("action") == "extend",
            )
        )
    return options


class _Switch(argparse.Action):
    """A boolean switch: its `negatives` (`--no-name`, `--no_name`) set False, every other flag True."""

    def __init__(self, option_strings, dest, negatives=(), **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)
        self.negatives = frozenset(negatives)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, option_string not in self.negatives)


def _add(group, option: Option, show: bool) -> None:
    """The option's argparse actions: the dashed names and aliases shown, the underscore spellings hidden."""
    shown = [flag for flag in option.flags if "_" not in flag]
    hidden = [flag for flag in option.flags if "_" in flag]
    kwargs = {"dest": option.name, "default": argparse.SUPPRESS}
    if option.switch:
        kwargs.update(action=_Switch, negatives=option.negatives)
    else:
        kwargs.update(type=option.convert, metavar=option.name.upper(), nargs="*" if option.many else None)
        if option.extend:
            kwargs.update(action="extend", nargs="+")
        if option.choices:
            kwargs.update(choices=option.choices, metavar="{" + ",".join(map(str, option.choices)) + "}")
    group.add_argument(*shown, help=option.help if show else argparse.SUPPRESS, **kwargs)
    if hidden:
        group.add_argument(*hidden, help=argparse.SUPPRESS, **kwargs)


class ArgumentsParser:
    """Parses `argv` into an `arguments` dataclass (see the module docstring).

    `positional`: the field that the first bare word (and, for a list, those after it up to the next flag) fills, as
    in `softcot-hf push FOLDER`; `passthrough`: the list field that takes every word after that first one, as is.
    `defaults` replace the dataclass's own; `fixed` are values the command sets (e.g. `method` for `softcot-hf train
    METHOD`): they are neither shown nor flags; `extra` (default: the dataclass's `extra_options` class attribute)
    routes another dataclass's flags into a dict field; the help
    shows the fields of `common` (a base class) after the dataclass's own."""

    def __init__(
        self,
        arguments: type,
        prog: str,
        description: str | None = None,
        positional: str | None = None,
        passthrough: str | None = None,
        defaults: dict | None = None,
        extra: ExtraOptions | None = None,
        own_title: str | None = None,
        fixed: dict | None = None,
        common: type | None = None,
    ):
        self.arguments = arguments
        self.prog = prog
        self.description = description
        self.positional = positional
        self.passthrough = passthrough
        self.defaults = dict(defaults or {})
        self.fixed = dict(fixed or {})
        self.extra = extra if extra is not None else getattr(arguments, "extra_options", None)
        self.own_title = own_title or f"{prog} options"
        options = options_of(arguments, self.own_title, common, self.defaults)
        self.options = [option for option in options if option.name not in self.fixed]
        self.by_flag = {flag: option for option in self.options for flag in option.flags}
        self._extra_options: dict[str, Option] | None = None

    # --- the argparse parser, for help and for turning words into values ---------------------------------------
    def usage(self) -> str:
        words = [self.prog]
        if self.positional:
            words.append(f"[{self.positional.upper()}]")
        words.append("[--config FILE] [options]")
        if self.passthrough:
            words.append(f"[{self.passthrough.upper()} ...]")
        return " ".join(words)

    def hidden_sources(self) -> list[str]:
        """What `--help-all` adds: the classes outside this package that declare fields, and the extra options."""
        owners = {_declaring_class(self.arguments, option.name) for option in self.options if option.section == "all"}
        names = sorted(f"{owner.__module__.split('.')[0]} {owner.__name__}" for owner in owners)
        return names + ([self.extra.title] if self.extra else [])

    def parser(self, show_all: bool = False) -> argparse.ArgumentParser:
        hidden = self.hidden_sources()
        epilog = (
            f"run `{self.prog} --help-all` for every option, those of {' and '.join(hidden)} too" if hidden else None
        )
        parser = argparse.ArgumentParser(
            prog=self.prog,
            usage=self.usage(),
            description=self.description,
            epilog=None if show_all else epilog,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument("--config", metavar="FILE", help="YAML or JSON file of options by field name; flags win")
        if hidden:
            parser.add_argument(
                "--help-all", action="store_true", default=argparse.SUPPRESS, help="show every option, then exit"
            )
        titles = {self.own_title: self.own_title, COMMON: COMMON, "all": f"options of {' and '.join(hidden)}"}
        groups = {section: parser.add_argument_group(title) for section, title in titles.items()}
        for option in self.options:
            _add(groups[option.section], option, show=option.section != "all" or show_all)
        if show_all and self.extra:
            group = parser.add_argument_group(f"options of {self.extra.title} (they go into {self.extra.field})")
            for option in {option.name: option for option in self.extra_options().values()}.values():
                _add(group, option, show=True)
        return parser

    def extra_options(self) -> dict[str, Option]:
        """The `extra` source's fields that are not ours, by flag (imports the source)."""
        if self._extra_options is None:
            ours = {option.name for option in self.options}
            found = [dataclasses.replace(option, section="all") for option in options_of(self.extra.source(), "all")]
            self._extra_options = {
                flag: option for option in found if option.name not in ours for flag in option.flags
            }
        return self._extra_options

    # --- parsing -----------------------------------------------------------------------------------------------
    def error(self, message: str) -> typing.NoReturn:
        self.parser().error(message)

    def _option(self, flag: str) -> Option:
        """The option a flag names: ours, else (importing the extra source) an extra one; else a usage error."""
        option = self.by_flag.get(flag)
        if option is None and self.extra is not None:
            option = self.extra_options().get(flag)
        if option is None:
            self.error(_unknown_flag_message(flag, [*self.by_flag, "--config"]))
        return option

    def _split(self, argv: list[str]) -> tuple[list[str], list[str], list[str] | None]:
        """`argv` as (words for our argparse parser, words for the extra options, the passthrough words or None):
        the first bare word (and a list's next ones) become `--POSITIONAL WORD`, `--switch false` becomes
        `--no-switch`; an unknown flag is a usage error."""
        ours, extra, rest = [], [], None
        target = self._by_name(self.positional) if self.positional else None
        index = 0
        while index < len(argv):
            word = argv[index]
            index += 1
            if not word.startswith("-") or _is_number(word):
                if target is None or any(self.by_flag.get(item) is target for item in ours):
                    self.error(f"unexpected word {word!r}: options are flags (--name VALUE); see --help")
                ours += [target.flags[0], word]
                if self.passthrough:
                    rest = argv[index:]
                    break
                while target.many and index < len(argv) and not argv[index].startswith("-"):
                    ours.append(argv[index])
                    index += 1
                continue
            flag, has_value, value = word.partition("=")
            if flag in ("-h", "--help"):
                ours.append(flag)
                continue
            if flag == "--config":
                ours += [flag, value] if has_value else [flag, *argv[index : index + 1]]
                index += 0 if has_value else 1
                continue
            option = self._option(flag)
            words = [value] if has_value else []
            if option.switch:
                if not has_value and index < len(argv) and argv[index].lower() in BOOLEAN_WORDS:
                    words = [argv[index]]
                    index += 1
                if words:  # `--do_sample false`, `--do_sample=true`: the older form, still read
                    if words[0].lower() not in BOOLEAN_WORDS:
                        self.error(f"argument {flag}: expected true or false, not {words[0]!r}")
                    on = BOOLEAN_WORDS[words[0].lower()] != (flag in option.negatives)
                    flag, words = (option.flags[0] if on else option.negatives[0]), []
            elif not has_value:
                while index < len(argv) and (not argv[index].startswith("-") or _is_number(argv[index])):
                    words.append(argv[index])
                    index += 1
                    if not option.many:
                        break
            (ours if flag in self.by_flag else extra).extend([flag, *words])
        return ours, extra, rest

    def _by_name(self, name: str) -> Option:
        return next(option for option in self.options if option.name == name)

    def parse_values(self, argv: list[str]) -> dict:
        """The values `argv` gives (defaults, then `--config`, then flags), by field name, without building the
        dataclass; a usage error (exit 2) for an unknown flag, a missing value, a bad type or choice."""
        if "--help-all" in argv:
            self.parser(show_all=True).print_help()
            raise SystemExit(0)
        ours, extra, rest = self._split(list(argv))
        namespace = vars(self.parser().parse_args(ours))
        values = dict(self.defaults)
        config_file = namespace.pop("config", None)
        if config_file:
            values.update(self._config_values(config_file))
        values.update(namespace)
        if extra:
            extra_parser = argparse.ArgumentParser(prog=self.prog, allow_abbrev=False, add_help=False)
            for option in {option.name: option for option in self.extra_options().values()}.values():
                _add(extra_parser, option, False)
            given = vars(extra_parser.parse_args(extra))
            values[self.extra.field] = {**(values.get(self.extra.field) or {}), **given}
        if rest is not None:
            values[self.passthrough] = rest
        return {**values, **self.fixed}

    def _config_values(self, path: str) -> dict:
        from .settings_files import check_keys, read_config

        try:
            config = read_config(path)
            known = [option.name for option in self.options]
            if self.extra is not None and set(config) - set(known):
                routed = {key: config.pop(key) for key in list(config) if key not in known and self._is_extra(key)}
                if routed:
                    config[self.extra.field] = {**(config.get(self.extra.field) or {}), **routed}
            check_keys(path, config, known)
        except (OSError, ValueError) as error:
            self.error(str(error))
        return {name: self._config_value(self._by_name(name), value) for name, value in config.items()}

    def _config_value(self, option: Option, value):
        """A config file's value, with text converted and checked as the flag's word would be."""
        if option.many and isinstance(value, list):
            return [self._config_value(dataclasses.replace(option, many=False), item) for item in value]
        if isinstance(value, str) and not option.switch:
            try:
                value = option.convert(value)
            except (ValueError, TypeError):
                self.error(f"argument {option.flags[0]}: invalid {option.convert.__name__} value: {value!r}")
        if option.choices and value not in option.choices:
            self.error(f"argument {option.flags[0]}: invalid choice: {value!r} (choose from {list(option.choices)})")
        return value

    def _is_extra(self, name: str) -> bool:
        return any(option.name == name for option in self.extra_options().values())

    def parse(self, argv: list[str]):
        """The `arguments` dataclass from `argv`; a value it refuses is a usage error."""
        values = self.parse_values(argv)
        try:
            return self.arguments(**values)
        except (ValueError, TypeError, OSError) as error:
            self.error(str(error).splitlines()[0] if str(error) else type(error).__name__)


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _unknown_flag_message(flag: str, known: list[str]) -> str:
    close = difflib.get_close_matches(flag, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else "; see --help"
    return f"unknown option {flag}{hint}"


def parse_arguments(
    arguments: type,
    argv: list[str],
    prog: str,
    description: str | None = None,
    positional: str | None = None,
    passthrough: str | None = None,
    defaults: dict | None = None,
):
    """An `arguments` dataclass from `argv` (see `ArgumentsParser`)."""
    return ArgumentsParser(arguments, prog, description, positional, passthrough, defaults).parse(argv)


__all__ = ["ArgumentsParser", "ExtraOptions", "Option", "options_of", "parse_arguments"]
