"""The demo app's non-UI logic: plain functions over a :class:`~facelab.face_model.FaceModel`.

``app.py`` only wires Gradio components to these functions, so everything here is testable
without a server (and without importing Gradio). Images in are whatever an upload handler
receives (a Gradio file payload, a path, PIL, numpy); images out are PIL images. Per-session
state is a JSON-friendly ``code.to_dict()``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
from PIL import Image

from .face_model import Code, FaceModel
from .imageio import ImageError, read_image, to_pil

DEFAULT_CHECKPOINT = "synthetic-disvae"
CHECKPOINT_ENV = "FACELAB_CHECKPOINT"
SLIDER_STD = 3.0  # sliders span mean ± 3 std of the training codes
COLOR_BY = ("expression", "identity", "intensity")
YOUR_FACE = "your face (approx.)"
HEADLINE = (  # evaluation.json keys shown in the app's header: (key, label, format)
    ("expression_accuracy", "expression accuracy", "{:.1%}"),
    ("leakage_accuracy", "leakage (expression from z_id)", "{:.1%}"),
    ("identity_auc", "identity AUC", "{:.3f}"),
    ("psnr", "PSNR", "{:.1f} dB"),
)
EXAMPLE_IDENTITIES = 30_000  # first identity of the example faces (disjoint from training ids)


def default_checkpoints() -> list[str]:
    """``$FACELAB_CHECKPOINT``, else every bundled checkpoint — photo (MTCNN-aligned) models first,
    since uploads are usually photos — else the synthetic default."""
    from .checkpoint import BUNDLED, bundled_names
    from .config import load_config

    if os.environ.get(CHECKPOINT_ENV):
        return [os.environ[CHECKPOINT_ENV]]
    root = Path(os.environ.get("FACELAB_CHECKPOINTS", BUNDLED))
    names = bundled_names()
    photo = [n for n in names if load_config(root / n / "config.json")[0].alignment == "mtcnn"]
    return photo + [n for n in names if n not in photo] or [DEFAULT_CHECKPOINT]


def photo_examples(n: int = 6) -> list[str]:
    """London Face Research Lab photos (CC-BY 4.0) from the data folder, when it is present — the
    repository never holds them; alternating neutral and smiling, different people."""
    root = data_root() / "london"
    neutral = sorted((root / "neutral_front").glob("*.jpg"))
    smiling = sorted((root / "smiling_front").glob("*.jpg"))
    picks = [p for pair in zip(neutral[::7], smiling[3::7]) for p in pair]
    return [str(p) for p in picks[:n]]


def checkpoint_argument(value: str | None = None) -> str:
    """The checkpoint to load: ``--checkpoint``, else ``$FACELAB_CHECKPOINT``, else the bundled default."""
    return value or os.environ.get(CHECKPOINT_ENV) or DEFAULT_CHECKPOINT


# --------------------------------------------------------------------------------------------
# Uploads and codes


def read_upload(payload: Any) -> Image.Image | None:
    """An upload (Gradio file payload dict/object, path, bytes, PIL or array) → RGB PIL, or None.

    Gradio's own image preprocessing is bypassed (events use ``preprocess=False``) so that every
    bad file fails here, through :func:`facelab.imageio.read_image`, with its plain message,
    named after the file the user uploaded rather than the server's temporary copy.
    """
    if payload is None:
        return None
    name = None
    if isinstance(payload, dict) or hasattr(payload, "path"):
        get = payload.get if isinstance(payload, dict) else (lambda k: getattr(payload, k, None))
        name, path, url = get("orig_name"), get("path"), get("url")
        if path:
            payload = path
        elif isinstance(url, str) and url.startswith("data:"):
            import base64

            try:
                payload = base64.b64decode(url.split(",", 1)[1])
            except (IndexError, ValueError):
                raise ImageError("the uploaded data is not valid base64") from None
        else:
            return None
    try:
        return read_image(payload)
    except ImageError as e:
        if name:
            raise ImageError(e.reason, source=str(name)) from None
        if isinstance(payload, (str, os.PathLike)):  # a server-side temp path means nothing to a user
            raise ImageError(e.reason, source=Path(payload).name) from None
        raise


def encode_face(model: FaceModel, image: Image.Image, face: int = 0, center_fallback: bool = False
                ) -> tuple[Image.Image, Code]:
    """The model's view of ``image`` (aligned / cropped, model resolution) and its code.

    ``face`` picks among several detected faces (0 = largest); ``center_fallback`` uses the
    centre crop when a photo model finds no face."""
    view = model.prepare(image, face=face, fallback="center" if center_fallback else "error")
    return view, model.encode(view, align=False)


def code_from_state(state: Any) -> Code | None:
    """A session state (``code.to_dict()`` or None) → Code or None."""
    if not state:
        return None
    if isinstance(state, Code):
        return state
    if isinstance(state, str):
        state = json.loads(state)
    return Code.from_dict(state)


def mean_code(model: FaceModel) -> Code:
    """The code of the 'average' training face: every dimension at its training mean."""
    return Code({a: model.code_range(a)[0] for a in model.attributes})


# --------------------------------------------------------------------------------------------
# Sliders


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
    """Attributes in slider order: expression first (the interesting one), then the rest."""
    return sorted(model.attributes, key=lambda a: a != "expression")


def _decimals(span: float) -> int:
    """Decimals that resolve about a thousandth of ``span`` (3 for a span of 1, at least 2)."""
    return max(2, 3 - math.floor(math.log10(span))) if span > 0 else 6


def slider_specs(model: FaceModel, k: int = 8, attributes: Sequence[str] | None = None) -> list[SliderSpec]:
    """One slider per leading (highest-variance) dimension of each attribute, mean ± 3 std.

    Bounds and defaults are rounded to about a thousandth of the slider's span so they read
    well in the UI and the API.
    """
    specs = []
    for attribute in attributes or slider_attributes(model):
        mean, std = model.code_range(attribute)
        for dim in model.top_dimensions(attribute, k=min(k, len(mean))):
            m, s = float(mean[dim]), float(std[dim])
            n = _decimals(2 * SLIDER_STD * s)
            specs.append(SliderSpec(attribute, dim, round(m - SLIDER_STD * s, n), round(m + SLIDER_STD * s, n),
                                    round(m, n)))
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


# --------------------------------------------------------------------------------------------
# Pictures


def strip(images: Sequence[Image.Image], gap: int = 0, background=(255, 255, 255)) -> Image.Image:
    """Images side by side in one RGB image (heights aligned at the top)."""
    images = [im.convert("RGB") for im in images]
    if not images:
        raise ValueError("strip needs at least one image")
    width = sum(im.width for im in images) + gap * (len(images) - 1)
    out = Image.new("RGB", (width, max(im.height for im in images)), background)
    x = 0
    for im in images:
        out.paste(im, (x, 0))
        x += im.width + gap
    return out


def example_factors(n: int = 6, seed: int = 0):
    """Generator factors of ``n`` example faces: distinct people, one expression each (happiness first).

    Pose, light and background vary mildly; people come from an identity range no model trains on.
    """
    from .synthetic import N_EXPRESSIONS, sample_factors

    rng = np.random.default_rng(seed)
    nuisance = sample_factors(n, [EXAMPLE_IDENTITIES], rng)  # pose, light, background, noise draws
    people = EXAMPLE_IDENTITIES + rng.permutation(1000)[:n]
    out = []
    for j, (f, person) in enumerate(zip(nuisance, people)):
        expression = (j + 1) % N_EXPRESSIONS  # 0 (neutral) comes last in each cycle
        out.append(f.replace(identity=int(person), expression=expression,
                             intensity=0.0 if expression == 0 else float(rng.uniform(0.8, 1.0)),
                             yaw=f.yaw * 0.5, pitch=f.pitch * 0.5, noise=min(f.noise, 0.01)))
    return out


def example_faces(n: int = 6, seed: int = 0, size: int = 128) -> list[tuple[Image.Image, str]]:
    """``n`` generator faces for the app's examples, with captions like ``"person 30012 · happiness"``."""
    from .synthetic import render_batch

    factors = example_factors(n, seed)
    pixels = render_batch(factors, size=size)
    return [(Image.fromarray(p), f"person {f.identity} · {f.expression_name}") for p, f in zip(pixels, factors)]


def save_examples(directory: str | os.PathLike | None = None, n: int = 6, seed: int = 0,
                  size: int = 128) -> list[Path]:
    """Render :func:`example_faces` into PNGs (a fresh temp dir by default); returns their paths."""
    directory = Path(directory or tempfile.mkdtemp(prefix="facelab-examples-"))
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (image, caption) in enumerate(example_faces(n, seed, size)):
        path = directory / f"{k:02d}-{caption.split(' · ')[-1]}.png"
        image.save(path)
        paths.append(path)
    return paths


def swap_faces(model: FaceModel, a: Code, b: Code, attribute: str = "expression") -> list[Image.Image]:
    """[A's reconstruction, B's reconstruction, A with B's ``attribute``, B with A's ``attribute``].

    All four are decoded as one batch. With ``attribute="expression"`` the last two are A's
    identity with B's expression and B's identity with A's expression.
    """
    if attribute not in model.attributes:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(model.attributes)}")
    return model.decode([a, b, model.swap(a, b, attribute), model.swap(b, a, attribute)])


def interpolation_strip(model: FaceModel, a: Code, b: Code, steps: int = 8,
                        attribute: str | None = "expression") -> Image.Image:
    """A → B in ``steps`` decoded frames (only ``attribute`` moves; None moves everything) as one strip."""
    steps = int(steps)
    if attribute is not None and attribute not in model.attributes:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(model.attributes)}")
    if not 2 <= steps <= 64:
        raise ValueError(f"steps must be between 2 and 64, got {steps}")
    return strip(model.decode(model.interpolate(a, b, steps=steps, attribute=attribute)))


# --------------------------------------------------------------------------------------------
# Topology and retrieval


def load_topology(model: FaceModel):
    """The checkpoint's ``topology.npz`` as a Topology, or ``(None, reason)`` when absent or stale."""
    from .topology import FILENAME, Topology

    path = Path(model.directory or ".") / FILENAME
    if not path.is_file():
        return None, f"this checkpoint has no {FILENAME} (build it with `python -m train.topology --checkpoint DIR`)"
    try:
        topology = Topology.load(path)
    except Exception as e:  # a corrupt file must not stop the app
        return None, f"cannot read {path.name}: {e}"
    for attribute, size in model.config.latents.items():
        codes = topology.codes.get(attribute)
        if codes is None or codes.shape[1] != size:
            return None, f"{path.name} was built for another model ({attribute} codes do not match)"
    return topology, ""


def topology_figure(topology, attribute: str = "expression", color_by: str = "expression",
                    code: Code | None = None):
    """Plotly scatter of the gallery's ``attribute`` UMAP, the given face starred at its approximate place."""
    from .synthetic import EXPRESSION_NAMES
    from .topology import figure

    if attribute not in topology.attributes:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(topology.attributes)}")
    if color_by not in topology.labels or topology.labels[color_by].ndim != 1:
        raise ValueError(f"cannot colour by {color_by!r}; choose from {', '.join(COLOR_BY)}")
    marks = []
    if code is not None:
        marks.append((topology.place(attribute, getattr(code, attribute)), YOUR_FACE))
    return figure(topology, attribute, color_by, marks=marks, class_names=EXPRESSION_NAMES)


def retrieve(topology, code: Code, attribute: str, k: int = 8, size: int = 96) -> list[tuple[Image.Image, str]]:
    """The ``k`` gallery faces nearest to ``code`` by its ``attribute`` sub-vector, re-rendered.

    Captions read ``"#20009 sadness d=0.11"``: the generator's person, expression and the code distance.
    """
    from .synthetic import EXPRESSION_NAMES, render_batch
    from .topology import gallery_factors

    k = max(1, min(int(k), len(topology)))
    idx, dist = topology.neighbours(attribute, getattr(code, attribute), k=k)
    pixels = render_batch(gallery_factors(topology, idx), size=size)
    labels = topology.labels
    return [
        (Image.fromarray(p),
         f"#{int(labels['identity'][i])} {EXPRESSION_NAMES[int(labels['expression'][i])]} d={d:.2f}")
        for p, i, d in zip(pixels, idx, dist)
    ]


# --------------------------------------------------------------------------------------------
# Header


def model_name(model: FaceModel) -> str:
    return Path(model.directory).name if model.directory else model.config.method


def model_summary(model: FaceModel) -> str:
    """One or two markdown lines: the model, its latents and the headline figures of its card."""
    cfg = model.config
    latents = ", ".join(f"z_{'id' if k == 'identity' else 'exp' if k == 'expression' else k} {v}"
                        for k, v in cfg.latents.items())
    text = (f"**Model:** `{model_name(model)}` — {cfg.method.upper()}, {cfg.image_size}×{cfg.image_size}, "
            f"{latents}; expressions: {', '.join(cfg.expressions)}.")
    figures = _evaluation(model)
    shown = [f"{label} {fmt.format(figures[key])}" for key, label, fmt in HEADLINE if key in figures]
    if "leakage_accuracy" in figures and "majority_rate" in figures:
        shown = [f"{x} (chance {figures['majority_rate']:.1%})" if x.startswith("leakage") else x for x in shown]
    card = model_card(model)
    if shown:
        text += "  \n**Card figures:** " + " · ".join(shown) + (" (details: the model card below)." if card else ".")
    elif not card:
        text += "  \n*No model card in this checkpoint (an unevaluated development model).*"
    return text


def _evaluation(model: FaceModel) -> dict[str, float]:
    """The numeric figures of the checkpoint's ``evaluation.json`` ({} when absent or unreadable)."""
    path = Path(model.directory or ".") / "evaluation.json"
    try:
        figures = json.loads(path.read_text()) if model.directory and path.is_file() else {}
    except (OSError, ValueError):
        return {}
    if not isinstance(figures, dict):
        return {}
    return {k: float(v) for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def model_card(model: FaceModel) -> str:
    """The checkpoint's README.md (model card) text, or '' when it has none."""
    path = Path(model.directory or ".") / "README.md"
    try:
        return path.read_text() if model.directory and path.is_file() else ""
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# Evaluation tab: card figures, plots, and label debugging

DATA_ENV = "FACELAB_DATA"


def data_root() -> Path:
    """Where real datasets live: $FACELAB_DATA, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get(DATA_ENV, Path(__file__).resolve().parents[2] / "shared" / "data"))


def evaluation_sections(model: FaceModel) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per evaluation JSON of the checkpoint: (markdown with its command and figures, [(png path, caption)])."""
    from .card import figures_table

    sections = []
    directory = Path(model.directory or ".")
    for path in sorted(directory.glob("evaluation*.json")) if model.directory else []:
        try:
            figures = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        text = (f"### {figures.get('title', path.stem)}\n{figures.get('description', '')}\n\n"
                f"`{figures.get('command', '')}`\n\n{figures_table(figures)}")
        plots = [(str(directory / p["png"]), p.get("caption", name))
                 for name, p in (figures.get("plots") or {}).items()
                 if p.get("png") and (directory / p["png"]).is_file()]
        sections.append((text, plots))
    return sections


def debug_sources(model: FaceModel) -> list[str]:
    """Labelled sets the label-debugging view can use with this model (real ones only when present)."""
    trained_on = model.training.data if model.training else ("synthetic",)
    if all(spec.startswith("synthetic") for spec in trained_on):
        return ["synthetic (held-out people)"]
    root, sources = data_root(), []
    if (root / "fer2013" / "test").is_dir():
        sources.append("fer2013 (test split)")
    if (root / "london" / "neutral_front").is_dir():
        sources.append("london")
    return sources


def debug_dataset(model: FaceModel, source: str, limit: int = 600):
    """The first ``limit`` items of a labelled set, prepared at the model's resolution."""
    import torch

    from . import datasets
    from .synthetic import SyntheticFaces

    size = model.config.image_size
    if source.startswith("synthetic"):
        return SyntheticFaces(identities=24, per_identity=limit // 24, size=size, seed=2, identity_seed=1,
                              with_neutral=False, min_intensity=0.25, progress=False)
    root = data_root()
    if source.startswith("fer2013"):
        ds = datasets.load(f"fer2013:{root / 'fer2013'}", size=size, progress=False)
        _, test = datasets.identity_split(ds, seed=0)
        return torch.utils.data.Subset(ds, test[:limit])
    if source == "london":
        from .align import AlignConfig

        cfg = AlignConfig.from_dict({**(model.config.align or {}), "size": size})
        ds = datasets.load(f"london:{root / 'london'}", size=size, align_config=cfg, progress=False)
        return torch.utils.data.Subset(ds, list(range(min(limit, len(ds)))))
    raise ValueError(f"unknown source {source!r}; choose from {', '.join(debug_sources(model))}")


def label_disagreements(model: FaceModel, dataset, k: int = 12) -> list[tuple[Image.Image, str]]:
    """The ``k`` samples whose label the model finds least likely, as (input | reconstruction, caption).

    Sorted by the classifier's negative log-likelihood of the given label, so the top of the list
    is where either the label or the model is most likely wrong — a person can judge which.
    """
    from .evaluate import encode_dataset
    from .labels import MISSING

    enc = encode_dataset(model, dataset, progress=False)
    labels = enc.labels.get("expression")
    if labels is None or not (labels != MISSING).any():
        raise ValueError("this set has no expression labels to compare with")
    logits = enc.logits - enc.logits.max(1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    known = np.flatnonzero(labels != MISSING)
    surprise = -log_probs[known, labels[known]]
    out = []
    for i in known[np.argsort(-surprise, kind="stable")[:k]]:
        label, predicted = model.expressions[labels[i]], model.expressions[int(log_probs[i].argmax())]
        pair = strip([to_pil(enc.images[i]), to_pil(enc.recon[i])], gap=2)
        out.append((pair, f"label {label} · predicted {predicted} "
                          f"({np.exp(log_probs[i].max()):.0%}; label {np.exp(log_probs[i, labels[i]]):.0%})"))
    return out


# --------------------------------------------------------------------------------------------
# Retrieval from a dataset folder (photo models: the repository holds no photos to render)


class PhotoGallery(NamedTuple):
    codes: dict[str, np.ndarray]  # attribute → (N, d)
    images: list[np.ndarray]  # aligned crops, uint8 (S, S, 3)
    captions: list[str]


def photo_gallery(model: FaceModel, source: str = "london") -> PhotoGallery | None:
    """Every face of a dataset folder, aligned as the model aligns and encoded; None when absent.

    The first call aligns and caches the photos (about a minute for London on a CPU); later
    calls read the crop cache."""
    from . import datasets
    from .align import AlignConfig

    root = data_root() / source
    if not root.is_dir():
        return None
    size = model.config.image_size
    cfg = AlignConfig.from_dict({**(model.config.align or {}), "size": size})
    ds = datasets.load(f"{source}:{root}", size=size, align_config=cfg, progress=False)
    images = [ds.image_array(i) for i in range(len(ds))]
    codes = model.encode_tensor(model.images_to_tensor([Image.fromarray(im) for im in images]))
    from .labels import EXPRESSIONS

    captions = [f"{r.identity} · {EXPRESSIONS[r.expression] if r.expression >= 0 else '?'}" for r in ds.records]
    return PhotoGallery(codes, images, captions)


def retrieve_photos(gallery: PhotoGallery, code: Code, attribute: str, k: int = 8) -> list[tuple[Image.Image, str]]:
    """The ``k`` gallery photos nearest to ``code`` by its ``attribute`` sub-vector."""
    d = np.linalg.norm(gallery.codes[attribute] - getattr(code, attribute)[None], axis=1)
    order = np.argsort(d, kind="stable")[:k]
    return [(Image.fromarray(gallery.images[i]), f"{gallery.captions[i]} · d={d[i]:.2f}") for i in order]
