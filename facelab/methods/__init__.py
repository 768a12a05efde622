"""The method registry: a name → its options dataclass, network, losses and training stages.

    >>> from facelab.methods import get_method, METHODS
    >>> sorted(METHODS)  # doctest: +SKIP
    ['adversarial', 'disvae', 'disvae-e2e', 'fourway', 'swap']

A new method is one module here that calls :func:`register` with a :class:`Method`; the
trainer, the CLIs (``--method NAME``), evaluation, the card and the app need no change.
"""

from __future__ import annotations

from .base import Method, Stage, Step, trainable

METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is registered twice")
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(sorted(METHODS))}") from None


def build_network(config):
    """The inference network of ``config.method``, untrained."""
    return get_method(config.method).build(config)


# Registration order is the order methods are listed and compared in.
from . import disvae, adversarial, swap, fourway  # noqa: E402,F401

__all__ = ["METHODS", "Method", "Stage", "Step", "build_network", "get_method", "register", "trainable"]
