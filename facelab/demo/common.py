"""What every tab shares: checkpoints and examples, uploads and codes, pictures, the page header.

Plain functions over a :class:`~facelab.face_model.FaceModel`, testable without a server (and
without importing Gradio). Images in are whatever an upload handler receives (a Gradio file
payload, a path, PIL, numpy); images out are PIL images. Per-session state is a JSON-friendly
:func:`face_state` (the code's sub-vectors, and the photo layer of a face from a picture).
"""

from __future__ import annotations

import atexit
import base64
import html
import io
import json
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..face_model import Code, FaceModel
from ..imageio import ImageError, read_image

DEFAULT_CHECKPOINT = "synthetic-disvae"
CHECKPOINT_ENV = "FACELAB_CHECKPOINT"
DATA_ENV = "FACELAB_DATA"
HEADLINE = (  # evaluation.json keys shown in the app's header: (key, label, format)
    ("expression_accuracy", "expression accuracy", "{:.1%}"),
    ("leakage_accuracy", "leakage (expression from the other codes)", "{:.1%}"),
    ("identity_auc", "identity AUC", "{:.3f}"),
    ("psnr", "PSNR", "{:.1f} dB"),
)
EXAMPLE_IDENTITIES = 30_000  # first identity of the example faces (disjoint from training ids)
SHORT_NAMES = {"identity": "id", "expression": "exp"}  # z_id, z_exp: the usual short forms
PHOTO_KEY = "_photo"  # a session state's photo layer, next to its code's sub-vectors (never an attribute name)


# --------------------------------------------------------------------------------------------
# Checkpoints, data folder, examples


def default_checkpoints() -> list[str]:
    """``$FACELAB_CHECKPOINT``, else every bundled checkpoint — photo (MTCNN-aligned) models first,
    since uploads are usually photos — else the synthetic default."""
    from ..checkpoint import CONFIG, bundled_names, checkpoint_root
    from ..config import load_config

    if os.environ.get(CHECKPOINT_ENV):
        return [os.environ[CHECKPOINT_ENV]]
    root = checkpoint_root()
    names = bundled_names()
    photo = [n for n in names if load_config(root / n / CONFIG)[0].alignment == "mtcnn"]
    return photo + [n for n in names if n not in photo] or [DEFAULT_CHECKPOINT]


def checkpoint_argument(value: str | None = None) -> str:
    """The checkpoint to load: ``--checkpoint``, else ``$FACELAB_CHECKPOINT``, else the bundled default."""
    return value or os.environ.get(CHECKPOINT_ENV) or DEFAULT_CHECKPOINT


def data_root() -> Path:
    """Where real datasets live: $FACELAB_DATA, else ``../shared/data`` beside the repository."""
    repository = Path(__file__).resolve().parents[2]  # facelab/demo/common.py → the checkout
    return Path(os.environ.get(DATA_ENV, repository.parent / "shared" / "data"))


def photo_examples(n: int = 6) -> list[str]:
    """London Face Research Lab photos (CC-BY 4.0) from the data folder, when it is present — the
    repository never holds them; alternating neutral and smiling, different people."""
    root = data_root() / "london"
    neutral = sorted((root / "neutral_front").glob("*.jpg"))
    smiling = sorted((root / "smiling_front").glob("*.jpg"))
    picks = [p for pair in zip(neutral[::7], smiling[3::7]) for p in pair]
    return [str(p) for p in picks[:n]]


def example_factors(n: int = 6, seed: int = 0):
    """Generator factors of ``n`` example faces: distinct people, one expression each (happiness first).

    Pose, light and background vary mildly; people come from an identity range no model trains on.
    """
    from ..synthetic import N_EXPRESSIONS, sample_factors

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
    from ..synthetic import render_batch

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


def encode_face(model: FaceModel, image: Image.Image, face: int = 0, center_fallback: bool = False,
                sharper: bool = False) -> tuple[Image.Image, Code]:
    """The model's view of ``image`` (aligned / cropped, model resolution) and its code.

    ``face`` picks among several detected faces (0 = largest); ``center_fallback`` uses the
    centre crop when a photo model finds no face; ``sharper`` refines the code against the view
    (:meth:`FaceModel.sharper_setting`: a closer reconstruction for about 0.4 s)."""
    view = model.prepare(image, face=face, fallback="center" if center_fallback else "error")
    return view, model.encode(view, align=False, refine=model.sharper_setting() if sharper else True)


def encode_photo(model: FaceModel, image: Image.Image, face: int = 0, center_fallback: bool = False,
                 sharper: bool = False):
    """:func:`encode_face` and the decoder's reconstruction, plus the face's photo layer (the view and
    that reconstruction, :mod:`facelab.photo_layer`): ``(view, code, reconstruction, layer)``."""
    view, code = encode_face(model, image, face=face, center_fallback=center_fallback, sharper=sharper)
    reconstruction = model.decode(code)
    return view, code, reconstruction, model.photo_layer(view, code, reconstruction)


def encode_for_edits(model: FaceModel, image: Image.Image, on_photo: bool, face: int = 0,
                     center_fallback: bool = False, sharper: bool = False):
    """``(view, code, photo layer or None)`` of a face about to be edited: the layer (a decode more,
    :func:`encode_photo`) only when the edits are shown ``on_photo``."""
    if not on_photo:
        return *encode_face(model, image, face=face, center_fallback=center_fallback, sharper=sharper), None
    view, code, _, layer = encode_photo(model, image, face=face, center_fallback=center_fallback, sharper=sharper)
    return view, code, layer


def face_state(code: Code, layer=None) -> dict:
    """A face's session state: its code's sub-vectors and, for a face from a picture, its photo layer
    (:mod:`facelab.photo_layer`) under ``PHOTO_KEY``."""
    state = code.to_dict()
    if layer is not None:
        state[PHOTO_KEY] = layer.to_state()
    return state


def _state_dict(state: Any) -> dict | None:
    if not state:
        return None
    return json.loads(state) if isinstance(state, str) else state


def code_from_state(state: Any) -> Code | None:
    """A session state (:func:`face_state`, ``code.to_dict()`` or None) → Code or None."""
    if isinstance(state, Code):
        return state
    state = _state_dict(state)
    if state is None:
        return None
    return Code.from_dict({k: v for k, v in state.items() if k != PHOTO_KEY})


def layer_from_state(state: Any):
    """The photo layer kept in a session state, or None (no face yet, the average face, a code)."""
    from ..photo_layer import PhotoLayer

    state = None if isinstance(state, Code) else _state_dict(state)
    if not state or PHOTO_KEY not in state:
        return None
    return PhotoLayer.from_state(state[PHOTO_KEY])


def photo_detail_default(model: FaceModel) -> bool:
    """Whether edits are shown on the photo by default: yes for photo models, whose decoder redraws a
    face as a blur, and for a model whose checkpoint carries its own photo-layer setting (chosen so
    that its edits drawn on the picture pass the swap bars: ``bench/photo_layer_synthetic.py``); other
    generator models show their decoder's own output."""
    return model.config.alignment == "mtcnn" or model.config.photo_layer is not None


def mean_code(model: FaceModel) -> Code:
    """The code of the 'average' training face: every dimension at its training mean."""
    return Code({a: model.code_range(a)[0] for a in model.attributes})


def code_name(attribute: str) -> str:
    """A sub-code's short name in the UI: ``z_id``, ``z_exp``, else ``z_<attribute>``."""
    return f"z_{SHORT_NAMES.get(attribute, attribute)}"


def labelled_attribute(model: FaceModel) -> str | None:
    """The sub-code whose class probabilities the Encode tab shows: expression when it has a
    classifier head, else the first labelled one, else None (nothing to show)."""
    labelled = model.class_names()
    return "expression" if "expression" in labelled else next(iter(labelled), None)


def probability_label(model: FaceModel) -> str:
    """The Encode tab's caption of the class probabilities, e.g. ``"Expression (from z_exp)"``."""
    attribute = labelled_attribute(model)
    return f"{attribute.capitalize()} (from {code_name(attribute)})" if attribute else "No labelled code"


# --------------------------------------------------------------------------------------------
# Pictures


class ResultFolder:
    """The app's output images: each written to a new file of its own, deleted ``max_age_s`` later.

    No file is ever written twice, and a path is handed out only once its file is complete.
    Gradio's own cache names a result after its content and rewrites that file in place whenever
    the same result comes again (``gradio.processing_utils.save_pil_to_cache``), so a download of
    it in flight meanwhile got a truncated file (h11 "Too little data for declared Content-Length").
    Results are only shown, never read back later, so each save deletes the files this folder
    wrote over ``max_age_s`` ago (but kept ones), and the rest go at exit: the disk holds about
    ``max_age_s`` worth of results. Only its own files: other apps may share the directory.
    """

    def __init__(self, directory: str | os.PathLike, max_age_s: float = 3600.0):
        self.directory = Path(directory)
        self.max_age_s = max_age_s
        self.keep: set[str] = set()  # names of files deleted only at exit (e.g. a page's initial images)
        self._written: deque[tuple[float, Path]] = deque()  # (time.monotonic(), path), oldest first
        self._lock = threading.Lock()
        atexit.register(self.clear)  # results are of no use once the app is gone

    def save(self, image: Image.Image, keep: bool = False) -> str:
        """Write ``image`` as a PNG to a new file (``keep``: never deleted until exit); returns its path.
        zlib level 1: half the default level's encoding time, for a slightly larger file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{secrets.token_hex(8)}.png"
        file = open(path, "xb")  # exclusive: never an existing file
        try:
            with file:
                image.save(file, format="PNG", compress_level=1)
        except BaseException:  # no half-written file left behind
            path.unlink(missing_ok=True)
            raise
        return self._record(path, keep)

    def adopt(self, path: str | os.PathLike, keep: bool = False) -> str:
        """Count a file written elsewhere into this folder (e.g. by :mod:`facelab.export`, which makes
        each file new and exclusive too) among its results: deleted ``max_age_s`` later, or at exit."""
        path = Path(path)
        if path.parent.resolve() != self.directory.resolve():
            raise ValueError(f"{path} is not in {self.directory}")
        return self._record(path, keep)

    def _record(self, path: Path, keep: bool) -> str:
        if keep:
            self.keep.add(path.name)
        now = time.monotonic()
        with self._lock:
            self._written.append((now, path))
            expired = []
            while now - self._written[0][0] > self.max_age_s:
                expired.append(self._written.popleft()[1])
        for old in expired:
            if old.name not in self.keep:
                old.unlink(missing_ok=True)
        return str(path)

    def clear(self) -> None:
        """Delete every file this folder wrote, kept ones too."""
        with self._lock:
            written, self._written = self._written, deque()
        for path in [path for _, path in written] + [self.directory / name for name in self.keep]:
            path.unlink(missing_ok=True)


INLINE_CLASS = "inline-face"  # CSS class of inline faces: shown large, pixelated (app.py's CSS)


def png_data_uri(image: Image.Image) -> str:
    """``image`` as a ``data:image/png;base64,...`` URI (zlib level 1: a 64-px face is about 10 kB)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def inline_image(image: Image.Image | None, alt: str = "face") -> str:
    """HTML showing ``image`` inline (a data: URI, no file, no download): what a gr.HTML output returns
    where the round trip matters (slider moves, webcam frames). '' for None."""
    if image is None:
        return ""
    return (f'<img class="{INLINE_CLASS}" alt="{html.escape(alt)}" width="{image.width}" height="{image.height}" '
            f'src="{png_data_uri(image)}">')


def image_from_inline(markup: str) -> Image.Image:
    """The picture in :func:`inline_image`'s HTML (for API clients and tests)."""
    start = markup.index("base64,") + len("base64,")
    with Image.open(io.BytesIO(base64.b64decode(markup[start:markup.index('"', start)]))) as image:
        return image.convert("RGB")


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


# --------------------------------------------------------------------------------------------
# Header


def model_name(model: FaceModel) -> str:
    return Path(model.directory).name if model.directory else model.config.method


def model_summary(model: FaceModel) -> str:
    """One or two markdown lines: the model, its latents and the headline figures of its card."""
    cfg = model.config
    latents = ", ".join(f"{code_name(k)} {v}" for k, v in cfg.latents.items())
    classes = "; ".join(f"{attribute}s: {', '.join(names)}" for attribute, names in model.class_names().items())
    text = (f"**Model:** `{model_name(model)}` — {cfg.method.upper()}, {cfg.image_size}×{cfg.image_size}, "
            f"{latents}" + (f"; {classes}." if classes else "."))
    figures, problem = evaluation_figures(model)
    shown = [f"{label} {fmt.format(figures[key])}" for key, label, fmt in HEADLINE if key in figures]
    if "leakage_accuracy" in figures and "majority_rate" in figures:
        shown = [f"{x} (chance {figures['majority_rate']:.1%})" if x.startswith("leakage") else x for x in shown]
    card = model_card(model)
    if shown:
        text += "  \n**Card figures:** " + " · ".join(shown) + (" (details: the model card below)." if card else ".")
    elif not card and not problem:
        text += "  \n*No model card in this checkpoint (an unevaluated development model).*"
    if problem:
        text += f"  \n{problem}"
    return text


def read_json(path: Path) -> tuple[Any, str]:
    """``(content, "")``, or ``(None, "could not read NAME: reason")`` for a file that cannot be
    read or parsed — shown in the app as is, never skipped silently."""
    try:
        return json.loads(path.read_text()), ""
    except (OSError, UnicodeDecodeError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return None, f"could not read {path.name}: {reason}"


def evaluation_figures(model: FaceModel) -> tuple[dict[str, float], str]:
    """The numeric figures of the checkpoint's ``evaluation.json`` and a problem line ('' if none).

    No file is not a problem ({}, ''); an unreadable or malformed one is ({}, "could not read ...")."""
    path = Path(model.directory or ".") / "evaluation.json"
    if not (model.directory and path.is_file()):
        return {}, ""
    figures, problem = read_json(path)
    if problem:
        return {}, problem
    if not isinstance(figures, dict):
        return {}, f"could not read {path.name}: not a JSON object"
    return {k: float(v) for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}, ""


def model_card(model: FaceModel) -> str:
    """The checkpoint's README.md (model card) text, '' when it has none, or a line saying why it
    could not be read."""
    path = Path(model.directory or ".") / "README.md"
    if not (model.directory and path.is_file()):
        return ""
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        return f"could not read {path.name}: {e.strerror if isinstance(e, OSError) and e.strerror else e}"
