"""Sliders tab: one slider per leading dimension of each sub-code, over that dimension's range
(``FaceModel.code_bounds``: the 1st to 99th percentile of the training codes), starting at the mean."""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from ..face_model import Code, FaceModel


class SliderSpec(NamedTuple):
    attribute: str
    dim: int
    minimum: float
    maximum: float
    default: float

    @property
    def name(self) -> str:
        """An identifier, e.g. ``expression_dim_5`` (the API parameter name)."""
        return f"{self.attribute}_dim_{self.dim}"

    @property
    def step(self) -> float:
        """The UI's step: about a thousandth of the span, a round number."""
        return 10.0 ** -_decimals(self.maximum - self.minimum)

    @property
    def label(self) -> str:
        return f"{self.attribute} · dim {self.dim}"


def slider_attributes(model: FaceModel) -> list[str]:
    """Every sub-code in slider order: expression first (the interesting one), then the rest as configured."""
    return sorted(model.attributes, key=lambda a: a != "expression")


def _decimals(span: float) -> int:
    """Decimals that resolve about a thousandth of ``span`` (3 for a span of 1, at least 2)."""
    return max(2, 3 - math.floor(math.log10(span))) if span > 0 else 6


def slider_specs(model: FaceModel, k: int = 8, attributes: Sequence[str] | None = None) -> list[SliderSpec]:
    """One slider per leading (highest-variance) dimension of each attribute, over its range
    (``model.code_bounds``: the training codes' 1st to 99th percentile; mean ± 3 std for a checkpoint
    that stores no quantiles), starting at the training mean.

    Bounds and defaults are rounded to about a thousandth of the slider's span so they read
    well in the UI and the API.
    """
    specs = []
    for attribute in attributes or slider_attributes(model):
        mean, _ = model.code_range(attribute)
        low, high = model.code_bounds(attribute)
        for dim in model.top_dimensions(attribute, k=min(k, len(mean))):
            lo, hi, m = float(low[dim]), float(high[dim]), float(mean[dim])
            n = _decimals(hi - lo)
            specs.append(SliderSpec(attribute, dim, round(lo, n), round(hi, n), round(m, n)))
    return specs


def slider_values(code: Code | None, specs: Sequence[SliderSpec]) -> list[float]:
    """The slider positions that show ``code`` (clipped to each slider's range, rounded like it); defaults if None."""
    if code is None:
        return [s.default for s in specs]
    return [round(float(np.clip(getattr(code, s.attribute)[s.dim], s.minimum, s.maximum)),
                  _decimals(s.maximum - s.minimum)) for s in specs]


def apply_sliders(code: Code, specs: Sequence[SliderSpec], values: Sequence[float | None]) -> Code:
    """``code`` with each slider's dimension set to its value (clipped to range; None keeps the code's)."""
    if len(values) != len(specs):
        raise ValueError(f"expected {len(specs)} slider values, got {len(values)}")
    parts = {a: v.copy() for a, v in code.parts.items()}
    for spec, value in zip(specs, values):
        if value is None:
            continue
        value = float(value)
        if not math.isfinite(value):
            value = spec.default
        parts[spec.attribute][spec.dim] = min(max(value, spec.minimum), spec.maximum)
    return Code(parts)
