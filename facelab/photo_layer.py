"""The photo's own detail, kept under an edit wherever the edit leaves the picture unchanged.

A 64-px decoder redraws a face as a blur: an edited photo shown as the decoder's output loses
the person (dlib identifies a photo-swap reconstruction as the right person about a third of the
time). Editing tools built on autoencoders therefore show ``decode(edited) + (view − decode(own
code))``: the edit is the decoder's *change*, drawn on top of the photo. Added everywhere, that
residual ghosts the old face through a large edit, so here it is kept only where the edit
changed the decoded picture little, and only as far as the edit kept the person:

    mask  = clip(1 − blur(|decode(edited) − decode(own)|, sigma) / tolerance, 0, 1) · kept
    kept  = clip(1 − falloff · |z_id(edited) − z_id(own)| / spread, 0, 1)
    shown = decode(edited) + mask · (view − decode(own))

``spread`` is the distance between two random training faces' identity codes (√2 · the norm of
its per-dimension std). The photo's detail is its person's own: a 64-px decoder draws identity
faintly, so after an identity swap the pixel test alone would keep most of A's photo and the
recogniser would still see A. An unedited code shows the photo itself; a changed mouth is the
decoder's mouth on the person's own skin, hair and background; another person is the decoder's.
``tolerance`` and ``falloff`` were chosen on validation faces (``python bench/photo_layer.py``); a
checkpoint may carry its own (``ModelConfig.photo_layer``, e.g. a generator model's, chosen by
``python bench/photo_layer_synthetic.py``): :class:`LayerSetting`.
An edit that moves between two faces (an interpolation from A to B) is shown on both photos
(:func:`combine`): each photo's detail where a frame is still that face, averaged where both fit.
The layer is a way of *showing* an edit: reconstruction figures (PSNR, "reconstruction
identified") are always the decoder's own output, and evaluation reports edits both ways.
"""

from __future__ import annotations

import base64
import io
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

TOLERANCE = 0.2  # mean absolute change (0…1 pixel units) at which the photo's detail is fully gone
FALLOFF = 4.0  # the detail is gone once the identity code moved 1 / FALLOFF of the way to a random person's
PERSON = "identity"  # the sub-code that carries who the person is (models without one: the pixel test alone)
QUANTUM = 1 / 255  # one 8-bit step: the base may be a saved picture
SIGMA = 2.0  # px at 64 px (scaled with the resolution): the change is judged over a neighbourhood


@dataclass(frozen=True)
class LayerSetting:
    """The layer's three numbers (module docstring); the defaults are photo-swap's, chosen on London faces."""

    tolerance: float = TOLERANCE
    sigma: float = SIGMA
    falloff: float = FALLOFF

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and value >= 0) or (name == "falloff" and value == 0):
                raise ValueError(f"photo layer {name} must be a number >= 0 (falloff > 0), got {value!r}")

    @classmethod
    def of(cls, setting: "LayerSetting | dict | None") -> "LayerSetting":
        """A setting from a dict (``ModelConfig.photo_layer``; missing keys: the defaults), or None: the defaults."""
        if isinstance(setting, LayerSetting):
            return setting
        unknown = sorted(set(setting or {}) - {"tolerance", "sigma", "falloff"})
        if unknown:
            raise ValueError(f"the photo layer takes tolerance, sigma and falloff, not {', '.join(unknown)}")
        try:
            numbers = {k: float(v) for k, v in (setting or {}).items()}
        except (TypeError, ValueError):
            raise ValueError(f"the photo layer's tolerance, sigma and falloff must be numbers, got {setting!r}") from None
        return cls(**numbers)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _float_chw(image) -> np.ndarray:
    """PIL image, (H, W, 3) uint8/float or (3, H, W) float → (3, H, W) float32 in [0, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    a = np.asarray(image)
    if a.ndim != 3:
        raise ValueError(f"expected one image (3 dimensions), got shape {a.shape}")
    if a.shape[-1] == 3 and a.shape[0] != 3:
        a = a.transpose(2, 0, 1)
    a = a.astype(np.float32)
    return a / 255.0 if np.asarray(image).dtype == np.uint8 else a


def change_mask(edited: np.ndarray, base: np.ndarray, tolerance: float = TOLERANCE,
                sigma: float = SIGMA) -> np.ndarray:
    """Where the photo's detail stays: 1 where ``edited`` equals ``base``, falling to 0 where the
    blurred mean absolute change reaches ``tolerance``. Works on (3, H, W) or (N, 3, H, W); the
    result has one channel, (1, H, W) or (N, 1, H, W). ``sigma`` is in pixels at 64 px."""
    change = np.abs(np.asarray(edited, np.float32) - np.asarray(base, np.float32)).mean(axis=-3, keepdims=True)
    change = np.maximum(change - QUANTUM, 0.0)  # within one 8-bit step (a stored, rounded base) is no change
    s = sigma * change.shape[-1] / 64
    if s > 0:
        change = ndimage.gaussian_filter(change, sigma=[0] * (change.ndim - 2) + [s, s], mode="nearest")
    return np.clip(1.0 - change / tolerance, 0.0, 1.0) if tolerance > 0 else (change == 0).astype(np.float32)


def person_kept(own: np.ndarray, edited: np.ndarray, std: np.ndarray, falloff: float = FALLOFF) -> np.ndarray:
    """How much of the person an edit kept: 1 for the same identity code, 0 once it moved ``1 / falloff``
    of the typical distance between two people (√2 · ‖std‖). ``own``/``edited``: (d,) or (N, d) → () or (N,)."""
    spread = np.sqrt(2.0) * np.linalg.norm(np.asarray(std, np.float32))
    moved = np.linalg.norm(np.asarray(edited, np.float32) - np.asarray(own, np.float32), axis=-1)
    return np.clip(1.0 - falloff * moved / max(float(spread), 1e-12), 0.0, 1.0).astype(np.float32)


def detail_mask(edited: np.ndarray, base: np.ndarray, tolerance: float = TOLERANCE, sigma: float = SIGMA,
                kept=1.0) -> np.ndarray:
    """How much of one photo's detail an edit keeps, per pixel: :func:`change_mask` times ``kept``
    (:func:`person_kept`: a number, or one per image of a batch)."""
    kept = np.asarray(kept, np.float32)
    return change_mask(edited, base, tolerance, sigma) * kept.reshape(kept.shape + (1, 1, 1))


def with_detail(edited: np.ndarray, view: np.ndarray, base: np.ndarray, tolerance: float = TOLERANCE,
                sigma: float = SIGMA, kept=1.0) -> np.ndarray:
    """``edited`` (decoded, float in [0, 1]) with the photo's detail ``view − base`` kept where the
    edit did not change the picture (module docstring), times ``kept`` (:func:`person_kept`: a number,
    or one per image of a batch). Shapes (3, H, W) or (N, 3, H, W), broadcast."""
    edited = np.asarray(edited, np.float32)
    mask = detail_mask(edited, base, tolerance, sigma, kept)
    return np.clip(edited + mask * (np.asarray(view, np.float32) - np.asarray(base, np.float32)), 0.0, 1.0)


def with_details(edited: np.ndarray, layers, codes=None) -> np.ndarray:
    """``edited`` with the detail of several faces' photos (:class:`PhotoLayer` s), each kept where
    the picture and the person are still that face's (:func:`detail_mask`). Where the masks add up to
    more than 1 (two photos of one person, say) the details are averaged rather than stacked, so an
    interpolation from A to B shows A's photo at one end and B's at the other, and between them
    whichever face a frame still is."""
    edited = np.asarray(edited, np.float32)
    masks = [detail_mask(edited, layer.base, layer.setting.tolerance, layer.setting.sigma, layer.kept(codes))
             for layer in layers]
    if not masks:
        return edited
    scale = 1.0 / np.maximum(sum(masks), 1.0)
    detail = sum(m * scale * (layer.view - layer.base) for m, layer in zip(masks, layers))
    return np.clip(edited + detail, 0.0, 1.0)


@dataclass(frozen=True)
class PhotoLayer:
    """One face's photo (the model's aligned view) and the decoder's redraw of it, both (3, S, S) float;
    ``person``: that face's identity code and its training std (:func:`person_kept`), when the model has one;
    ``setting``: the model's :class:`LayerSetting`."""

    view: np.ndarray
    base: np.ndarray
    person: tuple[np.ndarray, np.ndarray] | None = None
    setting: LayerSetting = LayerSetting()

    @classmethod
    def of(cls, view, base, person=None, setting=None) -> "PhotoLayer":
        view, base = _float_chw(view), _float_chw(base)
        if view.shape != base.shape:
            raise ValueError(f"the view {view.shape} and its reconstruction {base.shape} differ in size")
        if person is not None:
            person = tuple(np.asarray(p, np.float32).reshape(-1) for p in person)
        return cls(view, base, person, LayerSetting.of(setting))

    def kept(self, codes) -> np.ndarray | float:
        """:func:`person_kept` of edited codes (a ``Code``, a list of them, or None: 1)."""
        if self.person is None or codes is None:
            return 1.0
        many = isinstance(codes, (list, tuple))
        own, std = self.person
        edited = np.stack([getattr(c, PERSON) for c in (codes if many else [codes])])
        kept = person_kept(own, edited, std, self.setting.falloff)
        return kept if many else kept[0]

    def apply(self, edited, codes=None) -> np.ndarray:
        """A decoded edit (3, S, S) or a batch (N, 3, S, S) of this face → shown with its photo detail;
        ``codes``: the edited code(s) it was decoded from, so that a changed person loses the detail."""
        edited = _float_chw(edited) if np.ndim(edited) == 3 else edited
        return with_detail(edited, self.view, self.base, self.setting.tolerance, self.setting.sigma, self.kept(codes))

    def view_image(self) -> Image.Image:
        """The photo (the model's view) as a picture: what an unedited code shows on it."""
        return Image.fromarray(_uint8(self.view))

    # Session state (the app keeps it next to the code): two lossless PNGs, a few kB each.
    def to_state(self) -> dict:
        state = {"view": _png(self.view), "base": _png(self.base)}
        if self.person is not None:
            state["person"] = [p.tolist() for p in self.person]
        if self.setting != LayerSetting():
            state["setting"] = self.setting.to_dict()
        return state

    @classmethod
    def from_state(cls, state: dict) -> "PhotoLayer":
        return cls.of(_unpng(state["view"]), _unpng(state["base"]), state.get("person"), state.get("setting"))


@dataclass(frozen=True)
class PhotoBlend:
    """Several faces' :class:`PhotoLayer` s shown as one (:func:`with_details`); it stands wherever a
    layer does (``FaceModel.decode(..., layer=)``, ``read_back(..., layers=)``)."""

    layers: tuple[PhotoLayer, ...]

    def apply(self, edited, codes=None) -> np.ndarray:
        edited = _float_chw(edited) if np.ndim(edited) == 3 else edited
        return with_details(edited, self.layers, codes)


def combine(*layers):
    """The layers that are there (None: a face with no photo) as one: None, the layer itself, or a
    :class:`PhotoBlend`."""
    present = tuple(layer for layer in layers if layer is not None)
    if len(present) <= 1:
        return present[0] if present else None
    return PhotoBlend(present)


def _uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


def _png(x: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(_uint8(x)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _unpng(text: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(text))) as im:
        return np.asarray(im.convert("RGB"))
