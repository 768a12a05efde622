"""The public model object returned by :func:`facelab.load`.

It hides tensors and devices: images in are PIL images, uint8 arrays, paths or bytes of any
size; images out are PIL images; codes are :class:`Code` objects of named numpy sub-vectors.
Editing operations return codes, so they compose (``model.decode(model.swap(a, b, "expression"))``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from . import imageio
from .checkpoint import load_checkpoint
from .config import REFINE_LR, ModelConfig, TrainConfig
from .methods import build_network

INFERENCE_SETTINGS = ("mirror_expression",)  # options that change how codes are read, not the weights
# inference settings that are ModelConfig's own fields rather than the method's options
CONFIG_SETTINGS = ("refine", "photo_layer")
FALLBACK_STD = 3.0  # code ranges of checkpoints saved without quantiles: mean ± 3 std of the training codes
MIN_REACH = 1e-4  # each end of a code range is at least this far from the mean (a dimension that never moved)


class Code:
    """Named latent sub-vectors of one face (``code.identity``, ``code.expression``, later pose/style)."""

    __slots__ = ("parts",)

    def __init__(self, parts: dict[str, np.ndarray] | None = None, **kwargs: np.ndarray):
        merged = dict(parts or {}, **kwargs)
        object.__setattr__(self, "parts", {k: np.asarray(v, dtype=np.float32).copy() for k, v in merged.items()})

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.parts[name]
        except KeyError:
            raise AttributeError(f"code has no attribute {name!r}; it has {', '.join(self.parts)}") from None

    def __setattr__(self, name, value):
        raise AttributeError("Code is immutable; use code.replace(name=vector)")

    def replace(self, **kwargs: np.ndarray) -> "Code":
        for name in kwargs:
            if name not in self.parts:
                raise KeyError(f"code has no attribute {name!r}; it has {', '.join(self.parts)}")
        return Code({**self.parts, **kwargs})

    def vector(self) -> np.ndarray:
        return np.concatenate(list(self.parts.values()))

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-friendly form (used for per-session state in the app)."""
        return {k: v.tolist() for k, v in self.parts.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> "Code":
        return cls({k: np.asarray(v, dtype=np.float32) for k, v in data.items()})

    def __eq__(self, other) -> bool:
        return isinstance(other, Code) and self.parts.keys() == other.parts.keys() and all(
            np.array_equal(self.parts[k], other.parts[k]) for k in self.parts
        )

    def __repr__(self) -> str:
        return "Code(" + ", ".join(f"{k}=<{v.shape[0]} dims>" for k, v in self.parts.items()) + ")"


def join_codes(parts: dict[str, np.ndarray], order) -> np.ndarray:
    """Sub-codes → one concatenated code in ``order`` (the config's latents), for one code (d,) or a batch (N, d)."""
    return np.concatenate([np.asarray(parts[name], dtype=np.float32) for name in order], axis=-1)


@dataclass
class FaceModel:
    """A loaded checkpoint with image-level operations."""

    network: torch.nn.Module
    config: ModelConfig
    training: TrainConfig | None = None
    directory: os.PathLike | None = None
    device: torch.device = torch.device("cpu")

    def configure(self, **settings) -> "FaceModel":
        """Change inference settings of the loaded model in place (e.g. ``mirror_expression``, or
        ``refine={"steps": 50, "free": ["identity"]}``, :mod:`facelab.code_refinement`; ``refine=None``
        turns it off; ``photo_layer={"tolerance": 0.05}``, :mod:`facelab.photo_layer`): the weights
        stay, the network is rebuilt from the changed options and reloaded. Returns ``self``."""
        options = self.config.options
        allowed = {name for name in INFERENCE_SETTINGS if hasattr(options, name)}
        own = set(CONFIG_SETTINGS)
        unknown = sorted(set(settings) - allowed - own)
        if unknown:
            raise ValueError(f"not an inference setting of {self.config.method}: {', '.join(unknown)} "
                             f"(settings: {', '.join(sorted(allowed | own))})")
        fields = {name: settings.pop(name, getattr(self.config, name)) for name in own}
        config = replace(self.config, options=replace(options, **settings), **fields)
        network = build_network(config)
        network.load_state_dict(self.network.state_dict())
        self.config, self.network = config, network.to(self.device).eval()
        return self

    def setting(self, name: str, default=None):
        """An option of the model's method (``model.setting("mirror_expression")``), or ``default``."""
        return getattr(self.config.options, name, default)

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(self.config.latents)

    @property
    def expressions(self) -> tuple[str, ...]:
        return self.config.expressions

    # ---- images ↔ tensors -------------------------------------------------------------------
    def align_config(self, **overrides):
        """How this model's faces are aligned (its recorded template at its resolution): the one
        place uploads, datasets, galleries and evaluation read it from, so all crop alike."""
        from .align import AlignConfig

        return AlignConfig.from_dict({**(self.config.align or {}), "size": self.config.image_size, **overrides})

    def prepare(self, image: Any, align: bool = True, face: int = 0, fallback: str = "error") -> Image.Image:
        """The model's view of ``image``: the aligned face (or centre crop) at the model's resolution.

        ``align=False`` takes an already aligned crop (FER2013-style) and only resizes it. For
        photo models, ``face`` picks among the detected faces (0 = largest) and
        ``fallback="center"`` uses the centre crop when no face is found instead of raising.
        """
        img = imageio.read_image(image)
        size = self.config.image_size
        if align and self.config.alignment == "mtcnn":
            from .align import align_largest, faces

            cfg = self.align_config()
            if face == 0:
                return align_largest(img, cfg, fallback=fallback).crop
            found = faces(img, cfg)
            if not 0 <= face < len(found):
                raise ValueError(f"face {face + 1} asked for, but the photo has {len(found)} detected face(s)")
            return found[face].crop
        return imageio.center_crop(img, size)

    def images_to_tensor(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.stack([imageio.to_tensor(im) for im in images]).to(self.device)

    # ---- codes ------------------------------------------------------------------------------
    def sharper_setting(self) -> dict:
        """The refine setting for an opt-in "sharper" encoding (the app's switch): the checkpoint's own,
        or :data:`~facelab.code_refinement.SHARPER_STEPS` Adam steps at ``SHARPER_LR`` on every sub-code
        the model does not read a label from, so those readings stay as the encoder gave them (the
        measured setting: z_identity alone on the two-code models, swap-synthetic's LIMITS). Read: a
        sub-code with a classifier head, or one its method supervises in units (an option
        ``<sub-code>_scale``, e.g. the fourway method's pose in degrees: refining z_pose took its yaw
        error from 3° to 8°, synthetic-fourway's LIMITS)."""
        from .code_refinement import SHARPER_LR, SHARPER_STEPS

        if self.config.refine and self.config.refine.get("steps"):
            return dict(self.config.refine)
        read = set(self.class_names()) | {a for a in self.attributes if self.setting(f"{a}_scale")}
        return {"steps": SHARPER_STEPS, "free": [a for a in self.attributes if a not in read], "lr": SHARPER_LR}

    def encode_tensor(self, x: torch.Tensor, refine: bool | dict = True) -> dict[str, np.ndarray]:
        """(B,3,S,S) in [0,1] → {attribute: (B, d) posterior means}, refined against ``x``
        (:mod:`facelab.code_refinement`) when the model's ``refine`` setting asks and ``refine`` is left
        on (a live webcam frame cannot wait for it), or with the setting ``refine`` gives (a dict, e.g.
        :meth:`sharper_setting`)."""
        x = x.to(self.device)
        with torch.no_grad():
            mu, _ = self.network.encode(x)
        setting = refine if isinstance(refine, dict) else self.config.refine if refine else None
        if setting and setting.get("steps") and setting.get("free"):
            from .code_refinement import refine_codes

            mu = refine_codes(self.network, x, mu, self.config.latents, setting["free"], setting["steps"],
                              setting.get("lr", REFINE_LR))
        return {k: v.cpu().numpy() for k, v in mu.items()}

    def encode(self, image: Any, align: bool = True, refine: bool | dict = True) -> Code:
        """One face image (any size; path, bytes, PIL or array) → its :class:`Code` (``refine``: as
        :meth:`encode_tensor`)."""
        parts = self.encode_tensor(self.images_to_tensor([self.prepare(image, align=align)]), refine=refine)
        return Code({k: v[0] for k, v in parts.items()})

    @torch.no_grad()
    def decode_tensor(self, z: np.ndarray | torch.Tensor) -> torch.Tensor:
        z = torch.as_tensor(np.asarray(z, dtype=np.float32)).to(self.device)
        return self.network.decode(z.reshape(-1, self.config.latent_dim)).cpu()

    def _vector(self, code: Code) -> np.ndarray:
        return join_codes(code.parts, self.config.latents)

    def decode(self, code: Code | Sequence[Code], layer=None) -> Image.Image | list[Image.Image]:
        """A code → a PIL image; a list of codes → a list of images (decoded as one batch).

        ``layer`` (:meth:`photo_layer` of the face these codes edit) shows each result with that
        photo's own detail kept wherever the edit left the picture unchanged
        (:mod:`facelab.photo_layer`); without it the result is the decoder's output alone."""
        many = not isinstance(code, Code)
        codes = list(code) if many else [code]
        x = self.decode_tensor(np.stack([self._vector(c) for c in codes])).numpy()
        if layer is not None:
            x = layer.apply(x, codes)
        images = [imageio.to_pil(t) for t in x]
        return images if many else images[0]

    def photo_layer(self, view: Any, code: Code | None = None, reconstruction: Any = None):
        """The :class:`~facelab.photo_layer.PhotoLayer` of a face: the model's view of it (an aligned
        crop at the model's resolution, e.g. from :meth:`prepare`), the decoder's redraw of its code
        (``reconstruction``, else decoded; the code is encoded from ``view`` when not given) and its
        person (identity code and the training std). Pass it to :meth:`decode` to show edits of this
        face on the photo itself."""
        from .photo_layer import PERSON, PhotoLayer

        view = imageio.read_image(view)
        if view.size != (self.config.image_size,) * 2:
            raise ValueError(f"the view must be the model's aligned {self.config.image_size}-px crop "
                             f"(model.prepare(image)); got {view.size[0]}×{view.size[1]}")
        code = code if code is not None else self.encode(view, align=False)
        if reconstruction is None:
            reconstruction = self.decode_tensor(self._vector(code)[None]).numpy()[0]
        person = (getattr(code, PERSON), self.code_range(PERSON)[1]) if PERSON in self.attributes else None
        return PhotoLayer.of(view, reconstruction, person, self.photo_layer_setting())

    def photo_layer_setting(self):
        """How this model draws edits on a face's own picture: its checkpoint's
        :class:`~facelab.photo_layer.LayerSetting`, else the layer's defaults."""
        from .photo_layer import LayerSetting

        return LayerSetting.of(self.config.photo_layer)

    @torch.no_grad()
    def classify(self, code: Code, attribute: str = "expression") -> dict[str, float]:
        """Class probabilities of a labelled attribute (expression) from its own sub-code alone, most likely first."""
        names = self.class_names().get(attribute)
        if names is None:
            raise ValueError(f"{attribute!r} has no classifier head; labelled: {', '.join(self.class_names()) or 'none'}")
        logits = self.network.classify(torch.as_tensor(getattr(code, attribute)[None]).to(self.device), attribute)
        probs = torch.softmax(logits, dim=1)[0].cpu().numpy()
        order = np.argsort(-probs)
        return {names[i]: float(probs[i]) for i in order}

    def class_names(self) -> dict[str, tuple[str, ...]]:
        """Labelled attributes (those with a classifier head) and their classes."""
        from .models.network import class_names

        return class_names(self.config)

    # ---- editing ----------------------------------------------------------------------------
    def _as_code(self, x: Any) -> Code:
        return x if isinstance(x, Code) else self.encode(x)

    def swap(self, a: Any, b: Any, attribute: str = "expression") -> Code:
        """``a`` with ``b``'s ``attribute`` sub-vector (faces or codes)."""
        a, b = self._as_code(a), self._as_code(b)
        return a.replace(**{attribute: getattr(b, attribute)})

    def traverse(self, code: Any, attribute: str, dim: int, values: Sequence[float]) -> list[Code]:
        """Codes that set one dimension of one sub-vector to each of ``values`` (in code units)."""
        code = self._as_code(code)
        out = []
        for v in values:
            part = getattr(code, attribute).copy()
            part[dim] = v
            out.append(code.replace(**{attribute: part}))
        return out

    def interpolate(self, a: Any, b: Any, steps: int = 8, attribute: str | None = None) -> list[Code]:
        """``steps`` codes from a to b (inclusive); with ``attribute`` only that sub-vector moves."""
        a, b = self._as_code(a), self._as_code(b)
        names = [attribute] if attribute else list(a.parts)
        return [
            a.replace(**{n: (1 - t) * getattr(a, n) + t * getattr(b, n) for n in names})
            for t in np.linspace(0.0, 1.0, steps)
        ]

    # ---- statistics -------------------------------------------------------------------------
    def code_range(self, attribute: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension (mean, std) of the training codes for one attribute (copies: changing them
        changes nothing in the model)."""
        s = self.config.slices()[attribute]
        return self.network.code_mean[s].cpu().numpy().copy(), self.network.code_std[s].cpu().numpy().copy()

    def _quantiles(self) -> np.ndarray | None:
        """The stored quantile levels of the bounds, or None for a checkpoint saved before them."""
        levels = self.network.code_quantiles.cpu().numpy()
        measured = np.isfinite(levels).all() and np.isfinite(self.network.code_low.cpu().numpy()).all() \
            and np.isfinite(self.network.code_high.cpu().numpy()).all()
        return levels if measured else None

    def code_bounds(self, attribute: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension (low, high) of ``attribute``: how far an edit may move each dimension (the
        sliders, the presenter, sweeps and traversals). The checkpoint's stored low and high quantiles
        of the training codes (the 1st and 99th percentile, :func:`facelab.training.code_statistics`),
        so each end is a value real training faces reach; mean ± 3 std for a checkpoint saved before
        quantiles were stored (:attr:`bounds_source` says which). The mean always lies inside, at
        least ``MIN_REACH`` from either end."""
        mean, std = self.code_range(attribute)
        if self._quantiles() is None:
            return mean - FALLBACK_STD * std, mean + FALLBACK_STD * std
        s = self.config.slices()[attribute]
        low, high = self.network.code_low[s].cpu().numpy(), self.network.code_high[s].cpu().numpy()
        return np.minimum(low, mean - MIN_REACH), np.maximum(high, mean + MIN_REACH)  # new arrays

    @property
    def bounds_source(self) -> str:
        """Where :meth:`code_bounds` come from, in words (e.g. "1st–99th percentile of the training codes")."""
        levels = self._quantiles()
        if levels is None:
            return (f"mean ± {FALLBACK_STD:g} std of the training codes (this checkpoint stores no quantiles; "
                    "python -m train.statistics adds them)")
        low, high = (_percentile(q) for q in levels)
        return f"{low}–{high} percentile of the training codes"

    def range_values(self, attribute: str, dim: int, positions) -> np.ndarray:
        """Code values of one dimension at ``positions`` along its range: −1 is the low end of
        :meth:`code_bounds`, 0 the training mean, +1 the high end; linear on each side of the mean
        (the bounds need not be symmetric), clipped to [−1, 1]."""
        (mean, _), (low, high) = self.code_range(attribute), self.code_bounds(attribute)
        t = np.clip(np.asarray(positions, dtype=np.float64), -1.0, 1.0)
        m, lo, hi = float(mean[dim]), float(low[dim]), float(high[dim])
        return np.where(t < 0, m + t * (m - lo), m + t * (hi - m))

    def range_position(self, attribute: str, dim: int, value: float) -> float:
        """Where ``value`` of one dimension lies on its range (inverse of :meth:`range_values`):
        −1 the low end, 0 the mean, +1 the high end; values beyond an end are clipped to it."""
        (mean, _), (low, high) = self.code_range(attribute), self.code_bounds(attribute)
        m, lo, hi = float(mean[dim]), float(low[dim]), float(high[dim])
        t = (value - m) / (m - lo) if value < m else (value - m) / (hi - m)
        return float(np.clip(t, -1.0, 1.0))

    def top_dimensions(self, attribute: str, k: int = 8) -> list[int]:
        """The ``k`` dimensions of ``attribute`` with the largest variance over the training data."""
        _, std = self.code_range(attribute)
        return [int(i) for i in np.argsort(-std)[:k]]


def _percentile(q: float) -> str:
    """0.01 → "1st", 0.995 → "99.5th"."""
    p = round(float(q) * 100, 2)
    text = f"{p:g}"
    suffix = "th" if p != int(p) or 10 <= int(p) % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(int(p) % 10, "th")
    return text + suffix


def load(name_or_dir: str | os.PathLike = "synthetic-disvae", device: str = "auto") -> FaceModel:
    """Load a bundled checkpoint by name (e.g. ``"synthetic-disvae"``) or a checkpoint directory."""
    from .training import resolve_device

    dev = resolve_device(device)
    network, config, training, directory = load_checkpoint(name_or_dir, device=dev)
    model = FaceModel(network, config, training, directory, dev)
    if model._quantiles() is None:
        warnings.warn(f"{directory} stores no quantiles of its training codes (saved before they were, or never "
                      f"trained): edit ranges fall back to mean ± {FALLBACK_STD:g} std; "
                      f"python -m train.statistics --checkpoint {directory} measures them", stacklevel=2)
    return model
