"""Command-line flags built from the trainers' configs, so a default lives in one place.

Each field of a config dataclass becomes ``--field-name`` with the field's doc line as help
and its default shown there; the flag's own default is "not given", so a trainer receives
only what the user typed and takes every other setting from its config. Values are parsed
here (a number, an int, one of the choices) and checked by the config itself, whose error
messages name the setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rlhf_mini.core.config import field_docs

__all__ = [
    "add_config_options",
    "add_signature_options",
    "given",
    "non_negative",
    "number",
    "positive",
    "positive_int",
    "seed",
]


def _integer_at_least(text: str, low: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _integer_at_least(text, 1, "a positive integer")


def seed(text: str) -> int:
    return _integer_at_least(text, 0, "an integer >= 0")


def integer(text: str) -> int:
    return _integer_at_least(text, -(2**63), "an integer")


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive(text: str) -> float:
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def non_negative(text: str) -> float:
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _or_none(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_optional(text: str) -> Any:
        return None if text.lower() == "none" else parse(text)

    parse_optional.__name__ = parse.__name__
    return parse_optional


def _parser_for(hint: Any) -> tuple[Callable[[str], Any] | None, bool]:
    """(the parser of one value, whether ``none`` is allowed) for a field's type hint."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    parsers: dict[Any, Callable[[str], Any] | None] = {
        int: integer,
        float: number,
        str: str,
        bool: None,
    }
    return parsers[hint], optional


def _describe(value: Any) -> str:
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def add_config_options(
    parser: argparse.ArgumentParser,
    *configs: tuple[str, type],
    many: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> None:
    """Add one flag per field of the configs (their union), each defaulting to "not given".

    ``configs`` are (label, config class) pairs; when a field's default differs between
    them, the help lists each ("default 500; token level: 200"). Fields in ``many`` take
    one or more values (one run per value); fields in ``skip`` get no flag.
    """
    many, skip = set(many), set(skip)
    entries: dict[str, list[tuple[str, dataclasses.Field, Any, str | None]]] = {}
    for label, cls in configs:
        hints, docs = typing.get_type_hints(cls), field_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name not in skip:
                entries.setdefault(f.name, []).append((label, f, hints[f.name], docs.get(f.name)))
    for name, fields in entries.items():
        label, f, hint, doc = fields[0]
        parse, optional = _parser_for(hint)
        defaults = [(lbl, fld.default) for lbl, fld, _, _ in fields]
        if len({_describe(d) for _, d in defaults}) == 1:
            shown = f"default {_describe(defaults[0][1])}"
        else:
            shown = "; ".join(
                f"{'default' if i == 0 else lbl + ':'} {_describe(d)}"
                for i, (lbl, d) in enumerate(defaults)
            )
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
        if parse is None:  # bool: --flag / --no-flag
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _or_none(parse) if optional else parse
            choices = f.metadata.get("choices")
            if choices is not None:
                kwargs["choices"] = choices
            if name in many:
                kwargs["nargs"] = "+"
        text = (doc or name.replace("_", " ")).rstrip(".")
        parser.add_argument(
            "--" + name.replace("_", "-"), help=f"{text} ({shown})".replace("%", "%%"), **kwargs
        )


def add_signature_options(
    parser: argparse.ArgumentParser,
    function: Callable[..., Any],
    flags: Mapping[str, tuple[str, Callable[[str], Any], str]],
) -> None:
    """Flags for keyword arguments of ``function``, their defaults read from its signature.

    ``flags`` maps a flag (``"--n"``) to (the keyword it sets, the value parser, help text).
    """
    params = inspect.signature(function).parameters
    for flag, (keyword, parse, text) in flags.items():
        default = params[keyword].default
        parser.add_argument(
            flag,
            dest=keyword,
            type=parse,
            default=argparse.SUPPRESS,
            help=f"{text} (default {_describe(default)})",
        )


def given(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """The options among ``names`` that the user gave (the others were never set)."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def field_names(*configs: type) -> list[str]:
    """The fields of the config classes, in order, without repeats."""
    names: dict[str, None] = {}
    for cls in configs:
        names.update((f.name, None) for f in dataclasses.fields(cls))
    return list(names)
