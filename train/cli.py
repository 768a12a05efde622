"""Argument helpers shared by the command-line entry points: dataclass fields become flags."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing


def _unwrap_optional(hint):
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


def add_dataclass_args(parser, cls, skip: tuple[str, ...] = ()) -> list[str]:
    """One ``--field-name`` flag per simple field of ``cls`` (defaults: None, meaning "not given");
    returns the field names that got a flag."""
    hints = typing.get_type_hints(cls)
    added = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        hint = _unwrap_optional(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        if typing.get_origin(hint) is tuple:
            item = (typing.get_args(hint) or (str,))[0]
            parser.add_argument(flag, nargs="+", type=item if item in (int, float, str) else str, default=None,
                                help=f"default: {shown}")
        elif hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"default: {shown}")
        elif hint in (int, float, str):
            parser.add_argument(flag, type=hint, default=None, help=f"default: {shown}")
        else:
            continue
        added.append(f.name)
    return added


def given(cls, args: argparse.Namespace) -> dict:
    """The fields of ``cls`` the user actually gave on the command line."""
    out = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is not None:
            out[f.name] = tuple(value) if isinstance(value, list) else value
    return out


def dataclass_from_args(cls, args: argparse.Namespace, **overrides):
    """Build ``cls`` from the flags the user actually gave, on top of its defaults."""
    return cls(**{**given(cls, args), **overrides})


def parse_latents(items: list[str] | None) -> dict[str, int] | None:
    """``["identity=16", "expression=8"]`` → ``{"identity": 16, "expression": 8}`` (order kept)."""
    if not items:
        return None
    out = {}
    for item in items:
        name, _, size = item.partition("=")
        if not name or not size.isdigit():
            raise argparse.ArgumentTypeError(f"--latents takes NAME=SIZE items, got {item!r}")
        out[name] = int(size)
    return out
