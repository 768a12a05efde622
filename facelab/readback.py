"""Measured edits: what the model reads back from an edited, swapped or interpolated face.

An edit is only disentangled if the decoded face *reads* that way: after moving an identity
slider the expression should still be the source's, after a swap the identity should still be
A's. So each result is decoded, the picture re-encoded (no alignment: it already is the model's
view), and reported as numbers: the class probabilities of every labelled sub-code, and for every
sub-code the cosine similarity of the re-encoded sub-code to each reference face's (raw cosine,
as the card's identity figures use) and to the sub-code that was decoded.

A list of codes costs one decode and one encode pass, so an interpolation strip of 8 is one forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from . import imageio
from .face_model import Code, FaceModel, join_codes


@dataclass
class Readback:
    """What the model reads from one decoded face.

    ``probabilities``: labelled sub-code → {class: probability}, most likely first.
    ``similarity``: sub-code → {reference name: cosine of the re-encoded sub-code to that reference's}.
    ``intended``: sub-code → cosine of the re-encoded sub-code to the one that was decoded (did the
    decoder carry the edit through?). ``image`` is the decoded face itself, so a caller shows it
    without decoding again.
    """

    image: Image.Image
    probabilities: dict[str, dict[str, float]]
    similarity: dict[str, dict[str, float]]
    intended: dict[str, float]

    def to_dict(self) -> dict:
        """JSON-friendly (API outputs): the figures rounded to 4 places, and the one-line summary."""
        return {
            "probabilities": {a: {c: round(p, 4) for c, p in probs.items()} for a, probs in self.probabilities.items()},
            "similarity": {a: {r: round(s, 4) for r, s in sims.items()} for a, sims in self.similarity.items()},
            "intended": {a: round(s, 4) for a, s in self.intended.items()},
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """One plain line, e.g. "reads as happiness 81 % · identity 0.93 like A · expression 0.88 like B".

        Each sub-code names the reference it reads most like; without references, how closely it
        reads as the code that was decoded ("identity 0.95 as set")."""
        parts = []
        several = len(self.probabilities) > 1
        for attribute, probs in self.probabilities.items():
            top, p = next(iter(probs.items()))
            parts.append(f"reads as {top} {100 * p:.0f} %" + (f" ({attribute})" if several else ""))
        for attribute, sims in self.similarity.items():
            if sims:
                name, s = max(sims.items(), key=lambda kv: kv[1])
                parts.append(f"{attribute} {s:.2f} like {name}")
            else:
                parts.append(f"{attribute} {self.intended[attribute]:.2f} as set")
        return " · ".join(parts)


def _cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise cosine of (N, d) against (N, d) or (d,)."""
    y = np.broadcast_to(y, x.shape)
    norms = np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1), 1e-12)
    return np.einsum("ij,ij->i", x, y) / norms


@torch.no_grad()
def read_back(model: FaceModel, codes: Code | Sequence[Code],
              references: dict[str, Code] | None = None, layers=None) -> Readback | list[Readback]:
    """Decode ``codes``, re-encode the faces and measure them against ``references``
    (e.g. ``{"A": a, "B": b}`` for a swap or an interpolation, ``{"your face": source}`` for sliders).

    One code gives one :class:`Readback`, a list gives a list (one decode and one encode pass).
    ``layers``: a :class:`~facelab.photo_layer.PhotoLayer` for every code, or one per code (None for
    the decoder alone): each face is shown, and read back, on its photo. The faces are rounded to
    8 bits first, so the numbers are those of the picture shown.
    """
    many = not isinstance(codes, Code)
    codes = list(codes) if many else [codes]
    references = dict(references or {})
    order = model.config.latents
    decoded = model.decode_tensor(np.stack([join_codes(c.parts, order) for c in codes]))
    per_code = layers if isinstance(layers, (list, tuple)) else [layers] * len(codes)
    if len(per_code) != len(codes):
        raise ValueError(f"{len(codes)} codes but {len(per_code)} photo layers")
    if any(layer is not None for layer in per_code):
        decoded = torch.stack([d if layer is None else torch.from_numpy(layer.apply(d.numpy(), code))
                               for d, layer, code in zip(decoded, per_code, codes)])
    shown = decoded.clamp(0, 1).mul(255).round().div(255)
    again = model.encode_tensor(shown)

    probabilities = {}  # labelled sub-code → (class names, (N, classes) probabilities)
    for attribute, names in model.class_names().items():
        logits = model.network.classify(torch.as_tensor(again[attribute]).to(model.device), attribute)
        probabilities[attribute] = names, torch.softmax(logits, dim=1).cpu().numpy()
    similarity = {a: {name: _cosine(again[a], getattr(ref, a)) for name, ref in references.items()}
                  for a in model.attributes}
    intended = {a: _cosine(again[a], np.stack([getattr(c, a) for c in codes])) for a in model.attributes}

    out = []
    for i, x in enumerate(shown):
        probs = {}
        for attribute, (names, p) in probabilities.items():
            probs[attribute] = {names[j]: float(p[i, j]) for j in np.argsort(-p[i])}
        out.append(Readback(
            image=imageio.to_pil(x),
            probabilities=probs,
            similarity={a: {name: float(s[i]) for name, s in sims.items()} for a, sims in similarity.items()},
            intended={a: float(s[i]) for a, s in intended.items()},
        ))
    return out if many else out[0]
