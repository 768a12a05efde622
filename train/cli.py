"""Argument helpers shared by the command-line entry points: dataclass fields become flags."""

from __future__ import annotations

import argparse
import dataclasses
import typing


def add_dataclass_args(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One ``--field-name`` flag per simple field of ``cls``, defaulting to the dataclass default."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        hint = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        origin = typing.get_origin(hint)
        if origin is tuple:
            parser.add_argument(flag, nargs="+", default=None, help=f"default: {' '.join(map(str, default))}")
        elif hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"default: {default}")
        elif hint in (int, float, str):
            parser.add_argument(flag, type=hint, default=None, help=f"default: {default}")
        elif typing.get_args(hint) and set(typing.get_args(hint)) <= {int, type(None)}:
            parser.add_argument(flag, type=int, default=None, help=f"default: {default}")


def dataclass_from_args(cls, args: argparse.Namespace, **overrides):
    """Build ``cls`` from the flags the user actually gave, on top of its defaults."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is not None:
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    kwargs.update(overrides)
    return cls(**kwargs)
