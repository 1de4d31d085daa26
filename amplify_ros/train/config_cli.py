"""Command-line flags and plain dicts from one nested dataclass config, so that the dataclass is
the only place a setting, its type, default and help are written.

Flags are flat: a leaf field ``optim.lr`` is ``--lr`` (sections only group the help), so leaf
names are unique. Field metadata (set with ``option``) gives the help and, where the flag differs
from the field, its name. Types: ``int``, ``float``, ``str``, ``Path``, ``bool`` (a switch),
``Literal`` (choices), ``list[T]`` (one comma-separated value), ``dict[str, Any]`` (a repeatable
``KEY=VALUE``, the value read as YAML), each optionally ``| None``. An unset flag keeps the
field's default. (draccus has no flat flags; tyro has, but no repeatable ``KEY=VALUE``.)
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import yaml


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    factory: Callable[[], Any] | None = None,
    flag: str | None = None,
    positional: bool = False,
    choices: tuple[str, ...] | None = None,
    cli: bool = True,
    **meta: Any,
) -> Any:
    """A config field: ``help`` for --help; ``flag`` when the flag is not the field's name;
    ``choices`` for a ``str`` whose values are known at run time; ``cli=False`` keeps it off the
    command line; other keywords are metadata for the config's own use."""
    meta.update(help=help, flag=flag, positional=positional, choices=choices, cli=cli)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def leaves(cls: type, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field, Any]]:
    """(dotted path, field, type) of every non-section field, sections depth first."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from leaves(hints[f.name], f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f, hints[f.name]


def flag_name(f: dataclasses.Field) -> str:
    return "--" + (f.metadata.get("flag") or f.name).replace("_", "-")


def default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def build_parser(cls: type, **kwargs: Any) -> argparse.ArgumentParser:
    """A parser with one argument per leaf of ``cls``, grouped by section."""
    parser = argparse.ArgumentParser(**kwargs)
    groups: dict[str, Any] = {}
    for path, f, hint in leaves(cls):
        if not f.metadata.get("cli", True):
            continue
        section = path.rpartition(".")[0]
        if section not in groups:
            groups[section] = parser.add_argument_group(section) if section else parser
        _add(groups[section], path, f, hint)
    return parser


def _add(group: Any, path: str, f: dataclasses.Field, hint: Any) -> None:
    base = _without_none(hint)
    origin = typing.get_origin(base)
    required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    kwargs: dict[str, Any] = {"help": _help(f)}
    if f.metadata.get("choices"):
        kwargs["choices"] = f.metadata["choices"]
    if base is bool:
        kwargs["action"] = "store_true"
    elif origin is Literal:
        kwargs["choices"] = typing.get_args(base)
    elif origin is list:
        kwargs["type"] = _comma_list(typing.get_args(base)[0])
    elif origin is dict:
        kwargs.update(action="append", type=_key_value, metavar="KEY=VALUE")
    else:
        kwargs["type"] = base
    if "type" in kwargs and "choices" not in kwargs:
        kwargs.setdefault("metavar", (f.metadata.get("flag") or f.name).upper())
    if f.metadata.get("positional"):
        group.add_argument(path, **kwargs)
    else:
        group.add_argument(flag_name(f), dest=path, required=required, default=argparse.SUPPRESS, **kwargs)


def _help(f: dataclasses.Field) -> str:
    default = default_of(f)
    if default is dataclasses.MISSING or default is None or default is False or default in ([], {}):
        return f.metadata["help"]
    shown = ",".join(map(str, default)) if isinstance(default, list) else default
    return f"{f.metadata['help']} (default {shown})"


def _without_none(hint: Any) -> Any:
    """``T`` of ``T | None``; other types as they are."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _comma_list(item: type) -> Callable[[str], list]:
    def parse(text: str) -> list:
        return [item(t.strip()) for t in text.split(",") if t.strip()]

    parse.__name__ = f"comma-separated {item.__name__}"  # argparse names the type in its errors
    return parse


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE, got {text!r}")
    return key.strip().replace("-", "_"), yaml.safe_load(value)


def parse(cls: type, parser: argparse.ArgumentParser, argv: list[str] | None = None) -> Any:
    """The config the command line asks for: parsed flags over the fields' defaults."""
    given = vars(parser.parse_args(argv))
    dicts = {path for path, _, hint in leaves(cls) if typing.get_origin(_without_none(hint)) is dict}
    return from_plain(cls, nest({path: dict(v) if path in dicts else v for path, v in given.items()}))


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"optim.lr": 0.1}`` -> ``{"optim": {"lr": 0.1}}``."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        *sections, name = path.split(".")
        place = nested
        for s in sections:
            place = place.setdefault(s, {})
        place[name] = value
    return nested


def to_plain(config: Any) -> Any:
    """Nested dicts, lists and scalars (paths as strings): what YAML writes."""
    if dataclasses.is_dataclass(config):
        return {f.name: to_plain(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [to_plain(v) for v in config]
    if isinstance(config, dict):
        return {k: to_plain(v) for k, v in config.items()}
    return str(config) if isinstance(config, Path) else config


def from_plain(cls: type, plain: dict[str, Any]) -> Any:
    """The config of ``to_plain``'s output; missing fields take their defaults, unknown ones are
    an error that names them."""
    hints = typing.get_type_hints(cls)
    unknown = set(plain) - set(hints)
    if unknown:
        raise ValueError(f"{cls.__name__} has no settings {sorted(unknown)}")
    kwargs = {}
    for name, value in plain.items():
        if dataclasses.is_dataclass(hints[name]):
            value = from_plain(hints[name], value)
        elif _without_none(hints[name]) is Path and value is not None:
            value = Path(value)
        kwargs[name] = value
    return cls(**kwargs)


def invalid_choices(config: Any) -> list[str]:
    """``field: allowed values, got value`` for every field outside its choices."""
    errors = []
    for path, f, hint in leaves(type(config)):
        value = config
        for part in path.split("."):
            value = getattr(value, part)
        base = _without_none(hint)
        allowed = typing.get_args(base) if typing.get_origin(base) is Literal else f.metadata.get("choices")
        if allowed and value not in allowed and not (value is None and base is not hint):
            errors.append(f"{f.name} must be one of {', '.join(allowed)}, got {value!r}")
    return errors
