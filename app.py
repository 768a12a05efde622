"""facelab demo: encode a face, edit its codes (expression, identity, ...), swap, interpolate, explore.

    python app.py [--checkpoint DIR_OR_NAME] [--host 127.0.0.1] [--port 7860]

Runs offline on 127.0.0.1 by default (no share link, no analytics, system fonts). The model is
loaded once at start-up. Every interaction is also a named HTTP API endpoint, callable with
``gradio_client`` (see the "Use via API" link in the footer): encode, sliders (+ sliders_readback),
reset, swap, interpolate, topology, retrieve, live_frame, the exports (export_png, sliders_png,
export_sweep, export_strip), the presenter's (random_face, presenter_encode, presenter_edit,
presenter_readback, compare_models), label_debug and ping. This file only wires components to
:mod:`facelab.demo`, which holds the logic; each tab has its own builder below (``_encode_tab``,
``_sliders_tab``, ...), sharing one :class:`Page` per model. Every sub-code of the model gets its
sliders, swap/interpolation choice, topology map and retrieval gallery. Result images are written
each to a new file (``_result_files``), so many users at once never get a truncated download; the
slider's edited face and webcam frames come back inline (an ``<img>`` with a data: URI), with no file
at all: one round trip per move.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402
from gradio.utils import get_upload_folder  # noqa: E402
from PIL import Image  # noqa: E402

import facelab  # noqa: E402
from facelab import demo as D  # noqa: E402
from facelab.checkpoint import CheckpointError  # noqa: E402
from facelab.config import ConfigError  # noqa: E402
from facelab.face_model import FaceModel  # noqa: E402
from facelab.imageio import ImageError  # noqa: E402

MODEL_QUEUE = "model"  # concurrency_id shared by every event that runs the network
MODEL_CONCURRENCY = 2  # at most this many model calls at once (CPU: more only thrashes)
MAX_UPLOAD = "20mb"
RESULTS_DIR = "facelab-results"  # in Gradio's cache, so result images are served as they are (no copy)
RESULT_MAX_AGE_S = 3600  # result images are only shown: each file is deleted an hour after it was written
N_EXAMPLES = 6
MAX_NEIGHBOURS = 32  # retrieval re-renders this many faces at most per attribute
IMAGE_HEIGHT = 240
PRESENTER_HEIGHT = 460  # px: the presenter's two faces, for a projector
LIVE_EVERY_S = 0.2  # the webcam sends a frame this often (5 a second at most)...
LIVE_INTERVAL_S = 0.15  # ...and the server processes at most one per session in this long (Throttle)
LIVE_TIME_LIMIT_S = 600  # a webcam stream runs at most this long, then the viewer presses record again

THEME = gr.themes.Soft(
    font=[gr.themes.Font("system-ui"), "ui-sans-serif", "sans-serif"],
    font_mono=[gr.themes.Font("ui-monospace"), "Consolas", "monospace"],
)
CSS = """
.face img { width: 100% !important; height: 100% !important; object-fit: contain; }
.howto { opacity: 0.8; }
img.inline-face { display: block; margin: 0 auto; height: 240px; width: auto; max-width: 100%;
  object-fit: contain; image-rendering: pixelated; }
.presenter img.inline-face { height: 460px; }
.live img.inline-face { height: 200px; }
.compare img { image-rendering: pixelated; }
.diagram svg { width: 100%; height: auto; }
.export-file .empty { min-height: 44px !important; height: 44px !important; }
.export-file .empty .icon { height: 24px; }
"""
HEADER = "# facelab · disentangled face codes"


def launch_options(**overrides) -> dict:
    """Keyword arguments for ``Blocks.launch``: offline theme/CSS, the topology map's hover script, no SSR,
    upload limit, no share; ``overrides`` replace or add any of them."""
    # The data folder is served only so its London photos can be shown as examples.
    allowed = [str(D.data_root() / "london")] if D.photo_examples(1) else []
    return {**dict(theme=THEME, css=CSS, head=D.HOVER_HEAD, ssr_mode=False, share=False, max_file_size=MAX_UPLOAD,
                   footer_links=["api", "settings"], mcp_server=False, allowed_paths=allowed), **overrides}


def _user_errors(fn):
    """Turn bad-input exceptions into a ``gr.Error`` toast (and API error) with the plain message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ImageError, ValueError) as e:
            raise gr.Error(str(e), title="Cannot use this input", print_exception=False) from None

    return wrapper


def _required_image(payload, what: str):
    image = D.read_upload(payload)
    if image is None:
        raise gr.Error(f"Choose {what} first: upload a photo or click an example.", title="Missing image",
                       print_exception=False)
    return image


def _examples(paths: list[str], target, label: str, examples_per_page: int = N_EXAMPLES):
    """Clickable example images for ``target`` (none when there are none, e.g. no data folder)."""
    if paths:
        gr.Examples([[p] for p in paths], inputs=[target], label=label, examples_per_page=examples_per_page)


@dataclass
class Page:
    """What the tab builders of one model's page share: the model, the session state, the
    API-only face input, the example faces, the API-name prefix, the model-event settings, and every
    loaded model (for "compare models")."""

    model: FaceModel
    state: gr.State  # the session's encoded face: D.face_state (its code and photo layer)
    api_face: gr.Image  # API-only input: lets gradio_client pass a face to sliders/topology/retrieve
    examples: list[str]
    prefix: str = ""
    models: Sequence[FaceModel] = ()
    model_event: dict = field(default_factory=lambda: dict(concurrency_id=MODEL_QUEUE,
                                                           concurrency_limit=MODEL_CONCURRENCY))
    named: set = field(default_factory=set)  # API names already given on this page

    def api(self, name: str) -> str:
        """The page's API name of an endpoint (``prefix + name``)."""
        return self.prefix + name

    def api_once(self, name: str) -> dict:
        """``api_name`` for the first event of a shared endpoint (e.g. export_png, wired to several
        buttons), private for the others."""
        if name in self.named:
            return dict(api_visibility="private")
        self.named.add(name)
        return dict(api_name=self.api(name))

    def face_code(self, state, face):
        """The code to work on: an image passed to the API, else the session's encoded face, else None."""
        return self.face(state, face)[0]

    def face(self, state, face, photo_detail: bool = False, center_fallback: bool = False):
        """``(code, photo layer)`` of the face to work on (:meth:`face_code`), the picture encoded once;
        the layer only when ``photo_detail`` asks for it and the face came from a picture, else None."""
        image = D.read_upload(face)
        if image is not None:
            return D.encode_for_edits(self.model, image, photo_detail, center_fallback=center_fallback)[1:]
        return D.code_from_state(state), D.layer_from_state(state) if photo_detail else None

    def photo_detail(self, value) -> bool:
        """The *Show edits on the photo* switch as a handler received it: left out (None), the model's default."""
        return D.photo_detail_default(self.model) if value is None else bool(value)

    @functools.cached_property
    def topology(self):
        """``(Topology or None, why not)``: read once per page, shared by the Topology and Retrieval tabs."""
        return D.load_topology(self.model)


@functools.cache
def _results() -> D.ResultFolder:
    """Where result images go: inside Gradio's cache folder, so they are served as they are (no copy)."""
    return D.ResultFolder(Path(get_upload_folder()) / RESULTS_DIR, RESULT_MAX_AGE_S)


def _result_files(fn):
    """Write each PIL image ``fn`` returns (alone, or in lists and tuples: several outputs, galleries) to
    a new file of its own (:class:`facelab.demo.ResultFolder`) and return its path instead. Gradio's own
    cache names a result after its content and rewrites the file whenever an identical result comes
    again, truncating any download of it in flight: many users clicking the same example got errors."""

    def saved(value):
        if isinstance(value, Image.Image):
            return _results().save(value)
        if isinstance(value, (list, tuple)):
            return type(value)(saved(v) for v in value)
        return value

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return saved(fn(*args, **kwargs))

    return wrapper


def _face_image(label, **kw):
    return gr.Image(label=label, format="png", type="filepath", height=IMAGE_HEIGHT, elem_classes="face", **kw)


def _upload_image(label, height=IMAGE_HEIGHT):
    return gr.Image(label=label, sources=["upload", "webcam"], height=height, elem_classes="face")


def _inline_face(label, image=None, **kw):
    """A face shown inline (gr.HTML holding an <img> with a data: URI): no file, no download."""
    return gr.HTML(D.inline_image(image), label=label, show_label=True, container=True, padding=True, **kw)


def _face_pair(page: Page, shift: int):
    """Two upload boxes (A, B), each with the examples; B's list starts ``shift`` later."""
    with gr.Row():
        a, b = _upload_image("Face A"), _upload_image("Face B")
    with gr.Row():
        _examples(page.examples, a, "Examples for A")
        _examples(page.examples[shift:] + page.examples[:shift], b, "Examples for B")
    return a, b


def _photo_detail_box(model):
    """The switch between an edit drawn on the photo (its own detail kept wherever the edit leaves the
    face unchanged: facelab.photo_layer) and the decoder's drawing alone; on by default for photo models."""
    return gr.Checkbox(D.photo_detail_default(model), label="Show edits on the photo",
                       info="Keeps the photo's own detail wherever the edit leaves the face unchanged; "
                            "off: the decoder's drawing alone")


def _sharper_box(model):
    """Opt-in code refinement for uploads (FaceModel.sharper_setting): a closer reconstruction for about
    0.4 s a face (bench/upload_path.py --sharper); the checkpoint's own setting, when it has one, applies either way."""
    setting = model.sharper_setting()
    return gr.Checkbox(False, label="Sharper (slower)",
                       info=f"Refines {', '.join(D.code_name(a) for a in setting['free'])} against the photo "
                            f"({setting['steps']} steps, about 0.4 s a face on a CPU): a closer reconstruction")


def _codes_text(model) -> str:
    """``"expression (z_exp), identity (z_id)"``: the model's sub-codes, as the UI names them."""
    return ", ".join(f"{a} ({D.code_name(a)})" for a in D.slider_attributes(model))


def _readback_outputs(label="Read-back figures (JSON)"):
    """The read-back under a result: one summary line per face (markdown), and its figures (JSON, folded)."""
    note = gr.Markdown(elem_classes="readback")
    with gr.Accordion(label, open=False):
        figures = gr.JSON(label="read-back", show_label=False)
    return note, figures


def _png_export(page: Page, label: str, image, note=""):
    """A button that exports ``image`` (a result image component) as a PNG for slides (the shared
    ``export_png`` endpoint); returns (button, file, caption)."""
    with gr.Row(equal_height=True):
        button = gr.Button(label, size="sm", scale=0, min_width=220)
        file = gr.File(label="PNG for slides", interactive=False, scale=1, elem_classes="export-file")
        caption = gr.Markdown(note)
    button.click(_export_png, image, [file, caption], preprocess=False, show_progress="minimal",
                 **page.api_once("export_png"))
    return button, file, caption


@_user_errors
def _export_png(image):
    """Any result image → a PNG ``facelab.export.DISPLAY_SIZE`` px high (nearest-neighbour), and its caption."""
    path, caption = D.export_png(_required_image(image, "a result"), _results())
    return path, caption


# ---- one builder per tab: creates its components and wires its events -------------------------
# preprocess=False: uploads reach facelab.imageio.read_image untouched, so a bad file gets
# facelab's plain message (and slider values are range-checked by apply_sliders, not Gradio).


def _encode_tab(page: Page):
    """Encode: upload → model's view, reconstruction, class probabilities. Returns (encode event, reconstruction)."""
    model = page.model
    labelled = D.labelled_attribute(model)
    classes = model.class_names().get(labelled, ()) if labelled else ()

    @_result_files
    @_user_errors
    def encode(image, state, face_number=1, center_fallback=False, sharper=False):
        picture = D.read_upload(image)
        if picture is None:  # the image was cleared: keep everything as it is
            return gr.skip(), gr.skip(), gr.skip(), state
        view, code, reconstruction, layer = D.encode_photo(model, picture, face=max(int(face_number or 1), 1) - 1,
                                                           center_fallback=bool(center_fallback),
                                                           sharper=bool(sharper))
        return view, reconstruction, model.classify(code, labelled) if labelled else None, D.face_state(code, layer)

    with gr.Tab("Encode", id="encode"):
        reads = f" and the {labelled} it reads from {D.code_name(labelled)}" if labelled else ""
        gr.Markdown(f"Upload a face photo, use the webcam, or click an example: see what the model sees, "
                    f"its reconstruction{reads}. The other tabs use this face.", elem_classes="howto")
        with gr.Row(equal_height=True):
            image = _upload_image("Face photo")
            view = _face_image("Model's view", interactive=False)
            reconstruction = _face_image("Reconstruction", interactive=False)
            probabilities = gr.Label(label=D.probability_label(model), num_top_classes=len(classes) or None,
                                     visible=bool(labelled))
        with gr.Row(visible=model.config.alignment == "mtcnn"):  # face detection options: photo models only
            face_number = gr.Number(1, precision=0, minimum=1, label="Face (1 = largest; for group photos)")
            center_fallback = gr.Checkbox(False, label="No face found? Use the centre crop anyway")
        sharper = _sharper_box(model)
        _examples(page.examples, image, "Example faces (click one)")
        _png_export(page, "Reconstruction → PNG", reconstruction)

    encoded = gr.on([image.change, face_number.change, center_fallback.change, sharper.change], encode,
                    [image, page.state, face_number, center_fallback, sharper],
                    [view, reconstruction, probabilities, page.state],
                    api_name=page.api("encode"), preprocess=False, **page.model_event)
    return encoded, reconstruction


def _sliders_tab(page: Page, encoded, reconstruction) -> None:
    """Sliders: one column per sub-code, one slider per leading dimension; follows the encoded face.
    The edited face comes back inline (one round trip); its read-back follows in a chained event."""
    model = page.model
    specs = D.slider_specs(model, k=8)
    base_code = D.mean_code(model)
    attributes = D.slider_attributes(model)

    photo_default = D.photo_detail_default(model)

    def source(state, face, photo_detail=False):
        """(the code the sliders edit, its photo layer or None, its name in the read-back)."""
        code, layer = page.face(state, face, photo_detail)
        return (code, layer, D.measured.YOUR_FACE) if code is not None else (base_code, None, D.AVERAGE_FACE)

    def split(values):
        """The slider values and the photo-detail switch after them (its default when left out)."""
        return values[:len(specs)], page.photo_detail(values[len(specs)] if len(values) > len(specs) else None)

    def sync_sliders(reconstruction, state, photo_detail=photo_default):
        code = D.code_from_state(state)
        layer = D.layer_from_state(state) if photo_detail else None
        # unedited, the face on its photo is the photo itself (no decode on this unqueued event)
        shown = D.read_upload(reconstruction) if layer is None else layer.view_image()
        return reconstruction, D.inline_image(shown, "edited"), *D.slider_values(code, specs)

    @_user_errors
    def sliders(state, face=None, *values):
        values, detail = split(values)
        code, layer, _ = source(state, face, detail)
        # Inline: the face travels in the event's own message (no file, no second request to fetch it).
        return D.inline_image(model.decode(D.apply_sliders(code, specs, values), layer), "edited")

    @_user_errors
    def sliders_readback(state, face=None, *values):
        values, detail = split(values)
        code, layer, name = source(state, face, detail)
        found = D.slider_readback(model, code, D.apply_sliders(code, specs, values), name, layer=layer)
        return D.readback_markdown(found), D.readback_json(found)

    @_user_errors
    def sliders_png(state, face=None, *values):
        values, detail = split(values)
        code, layer, _ = source(state, face, detail)
        return D.export_png(model.decode(D.apply_sliders(code, specs, values), layer), _results())

    # Name the slider parameters for the API (expression_dim_5=..., identity_dim_2=...), then the switch.
    for fn in (sliders, sliders_readback, sliders_png):
        fn.__signature__ = inspect.Signature(
            [inspect.Parameter("state", inspect.Parameter.POSITIONAL_OR_KEYWORD),
             inspect.Parameter("face", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
            + [inspect.Parameter(s.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=s.default) for s in specs]
            + [inspect.Parameter("photo_detail", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=photo_default)])

    def reset(state, photo_detail=photo_default):
        code = D.code_from_state(state) or base_code
        layer = D.layer_from_state(state) if photo_detail else None
        return D.inline_image(model.decode(code, layer), "edited"), *D.slider_values(code, specs)

    @_user_errors
    def export_sweep(state, face=None, attribute=None, dim=None, steps=D.exports.SWEEP_STEPS,
                     photo_detail=photo_default):
        code, layer, _ = source(state, face, page.photo_detail(photo_detail))
        attribute = attribute or attributes[0]
        dim = int(dim) if dim is not None else model.top_dimensions(attribute, 1)[0]
        return D.export_sweep(model, code, attribute, dim, _results(), steps=int(steps or D.exports.SWEEP_STEPS),
                              layer=layer)

    def dimensions(attribute):
        choices = D.dimension_choices(model, attribute)
        return gr.update(choices=choices, value=choices[0][1])

    with gr.Tab("Sliders", id="sliders"):
        gr.Markdown(f"Move a slider to change one leading dimension of one code — {_codes_text(model)}; only the "
                    "decoder runs. Sliders start at your encoded face (or the average face) and span the "
                    f"{model.bounds_source}. Under the edited face: what the model reads back from it. "
                    "*Show edits on the photo* draws the edit on your photo (the decoder's change, the photo's "
                    "own detail wherever the edit leaves it alone); off, you see the decoder's drawing alone.",
                    elem_classes="howto")
        with gr.Row():
            with gr.Column(scale=1, min_width=200):
                slider_source = _face_image("Your face (reconstruction)", interactive=False)
                edited = _inline_face("Edited", model.decode(base_code))
                readback, readback_json = _readback_outputs()
                reset_button = gr.Button("Reset to your face", variant="secondary")
                photo_detail = _photo_detail_box(model)
            slider_boxes = []
            for attribute in attributes:
                with gr.Column(scale=2):
                    gr.Markdown(f"**{attribute}** code ({D.code_name(attribute)})")
                    slider_boxes += [gr.Slider(minimum=s.minimum, maximum=s.maximum, value=s.default, step=s.step,
                                               label=s.label) for s in specs if s.attribute == attribute]
        with gr.Accordion("Export for slides: the edited face as a PNG, a dimension animated", open=False):
            with gr.Row(equal_height=True):
                png_button = gr.Button("Edited face → PNG", size="sm", scale=0, min_width=220)
                png_file = gr.File(label="PNG for slides", interactive=False, elem_classes="export-file")
                png_caption = gr.Markdown()
            gr.Markdown("**Animate this dimension:** your face (or the average face) with one dimension swept "
                        "over its slider range, forwards and back.")
            with gr.Row(equal_height=True):
                sweep_attribute = gr.Dropdown(attributes, value=attributes[0], label="Code")
                first = D.dimension_choices(model, attributes[0])
                sweep_dim = gr.Dropdown(first, value=first[0][1], label="Dimension")
                sweep_steps = gr.Slider(8, 48, value=D.exports.SWEEP_STEPS, step=1, label="Frames one way")
                sweep_button = gr.Button("Animate → GIF + MP4", variant="primary")
            with gr.Row(equal_height=True):
                sweep_gif = gr.File(label="GIF", interactive=False, elem_classes="export-file")
                sweep_mp4 = gr.File(label="MP4", interactive=False, elem_classes="export-file")
                sweep_caption = gr.Markdown()

    slider_inputs = [page.state, page.api_face, *slider_boxes, photo_detail]
    readback_event = dict(api_visibility="private", preprocess=False, trigger_mode="always_last",
                          show_progress="hidden", **page.model_event)
    # The hot path: the handler hands Gradio the output's final form (postprocess=False) — an inline
    # <img>, so no result file, no cache pass and no download. The read-back (a decode and an encode
    # more) follows as its own chained event, so it never delays the face. (Public events before private
    # ones of the same function: Gradio names both after it, and the first keeps the plain name.)
    moved = gr.on([s.input for s in slider_boxes] + [photo_detail.input], sliders, slider_inputs, edited,
                  api_name=page.api("sliders"), preprocess=False, postprocess=False, trigger_mode="always_last",
                  show_progress="hidden", **page.model_event)
    moved.success(sliders_readback, slider_inputs, [readback, readback_json],
                  **{**readback_event, "api_visibility": "public"}, api_name=page.api("sliders_readback"))
    synced = encoded.success(sync_sliders, [reconstruction, page.state, photo_detail],
                             [slider_source, edited, *slider_boxes],
                             api_name=page.api("sync_sliders"), api_visibility="private", queue=False)
    synced.success(sliders_readback, slider_inputs, [readback, readback_json], **readback_event)
    reset_button.click(reset, [page.state, photo_detail], [edited, *slider_boxes], api_name=page.api("reset"),
                       show_progress="hidden", **page.model_event
                       ).success(sliders_readback, slider_inputs, [readback, readback_json], **readback_event)
    png_button.click(sliders_png, slider_inputs, [png_file, png_caption], api_name=page.api("sliders_png"),
                     preprocess=False, **page.model_event)
    sweep_attribute.change(dimensions, sweep_attribute, sweep_dim, api_visibility="private", queue=False)
    sweep_button.click(export_sweep, [page.state, page.api_face, sweep_attribute, sweep_dim, sweep_steps, photo_detail],
                       [sweep_gif, sweep_mp4, sweep_caption], api_name=page.api("export_sweep"), preprocess=False,
                       **page.model_event)


def _swap_tab(page: Page) -> None:
    """Swap: A with B's chosen sub-code, and B with A's, each with what the model reads back from it."""
    model = page.model
    default = D.default_attribute(model)

    @_result_files
    @_user_errors
    def swap(face_a, face_b, attribute, photo_detail=D.photo_detail_default(model), sharper=False):
        on_photo, sharper = page.photo_detail(photo_detail), bool(sharper)
        view_a, code_a, layer_a = D.encode_for_edits(model, _required_image(face_a, "face A"), on_photo, sharper=sharper)
        view_b, code_b, layer_b = D.encode_for_edits(model, _required_image(face_b, "face B"), on_photo, sharper=sharper)
        faces, found = D.swap_readback(model, code_a, code_b, attribute or default, layers=(layer_a, layer_b))
        return view_a, view_b, *faces, D.readback_markdown(found), D.readback_json(found)

    def captions(attribute):
        ab, ba = D.swap_labels(attribute or default)
        return gr.update(label=ab), gr.update(label=ba)

    with gr.Tab("Swap", id="swap"):
        gr.Markdown("Pick two faces and a code, and press **Swap**: A with B's code (the rest of A kept), and B "
                    "with A's. Below: what the model reads back from each swapped face.", elem_classes="howto")
        swap_a, swap_b = _face_pair(page, shift=1)
        attribute = gr.Dropdown(list(model.attributes), value=default, label="Swap which code",
                                visible=len(model.attributes) > 1)
        with gr.Row(equal_height=True):
            swap_button = gr.Button("Swap", variant="primary", scale=2)
            photo_detail = _photo_detail_box(model)
            sharper = _sharper_box(model)
        label_ab, label_ba = D.swap_labels(default)
        with gr.Row():
            view_a = _face_image("A: model's view", interactive=False)
            recon_a = _face_image("A: reconstruction", interactive=False)
            swapped_ab = _face_image(label_ab, interactive=False)
        with gr.Row():
            view_b = _face_image("B: model's view", interactive=False)
            recon_b = _face_image("B: reconstruction", interactive=False)
            swapped_ba = _face_image(label_ba, interactive=False)
        readback, readback_json = _readback_outputs()
        _png_export(page, "A with B's … → PNG", swapped_ab)
        _png_export(page, "B with A's … → PNG", swapped_ba)

    swap_button.click(swap, [swap_a, swap_b, attribute, photo_detail, sharper],
                      [view_a, view_b, recon_a, recon_b, swapped_ab, swapped_ba, readback, readback_json],
                      api_name=page.api("swap"), preprocess=False, **page.model_event)
    attribute.change(captions, attribute, [swapped_ab, swapped_ba], api_visibility="private", queue=False)


def _interpolate_tab(page: Page) -> None:
    """Interpolate: A → B in one sub-code (the rest of A fixed) or in all of them, as a strip, each frame
    read back; the strip as a GIF and an MP4."""
    model = page.model
    photo_default = D.photo_detail_default(model)

    def codes(face_a, face_b, what, photo_detail):
        """(A's code, B's code, what moves, (A's photo layer, B's) or (None, None))."""
        on_photo = page.photo_detail(photo_detail)
        _, code_a, layer_a = D.encode_for_edits(model, _required_image(face_a, "face A"), on_photo)
        _, code_b, layer_b = D.encode_for_edits(model, _required_image(face_b, "face B"), on_photo)
        return code_a, code_b, None if what in (None, D.EVERYTHING) else what, (layer_a, layer_b)

    @_result_files
    @_user_errors
    def interpolate(face_a, face_b, steps, what, photo_detail=photo_default):
        code_a, code_b, attribute, layers = codes(face_a, face_b, what, photo_detail)
        strip, found = D.interpolation_readback(model, code_a, code_b, steps=int(steps or 8), attribute=attribute,
                                                layers=layers)
        return strip, D.readback_markdown(found), D.readback_json(found)

    @_user_errors
    def export_strip(face_a, face_b, steps, what, photo_detail=photo_default):
        code_a, code_b, attribute, layers = codes(face_a, face_b, what, photo_detail)
        return D.export_strip(model, code_a, code_b, _results(), steps=int(steps or 8), attribute=attribute,
                              layers=layers)

    with gr.Tab("Interpolate", id="interpolate"):
        gr.Markdown("Pick two faces: the strip walks from A's code to B's with the rest of A fixed (or moves every "
                    "code); under it, what the model reads back from each frame. *Show edits on the photo*: each "
                    "frame keeps the detail of whichever photo it still is, so the ends are the photos themselves.",
                    elem_classes="howto")
        interp_a, interp_b = _face_pair(page, shift=2)
        with gr.Row():
            steps = gr.Slider(3, 12, value=8, step=1, label="Steps")
            what = gr.Radio(D.interpolation_choices(model), value=D.default_attribute(model), label="What moves")
        with gr.Row(equal_height=True):
            interp_button = gr.Button("Interpolate", variant="primary", scale=2)
            photo_detail = _photo_detail_box(model)
        interp_strip = gr.Image(label="A → B", format="png", type="filepath", interactive=False, height=160,
                                elem_classes="face")
        readback, readback_json = _readback_outputs()
        with gr.Row(equal_height=True):
            animate_button = gr.Button("A → B → GIF + MP4", size="sm", scale=0, min_width=220)
            strip_gif = gr.File(label="GIF", interactive=False, elem_classes="export-file")
            strip_mp4 = gr.File(label="MP4", interactive=False, elem_classes="export-file")
            strip_caption = gr.Markdown()
        _png_export(page, "Strip → PNG", interp_strip)

    interp_button.click(interpolate, [interp_a, interp_b, steps, what, photo_detail],
                        [interp_strip, readback, readback_json],
                        api_name=page.api("interpolate"), preprocess=False, **page.model_event)
    animate_button.click(export_strip, [interp_a, interp_b, steps, what, photo_detail],
                         [strip_gif, strip_mp4, strip_caption],
                         api_name=page.api("export_strip"), preprocess=False, **page.model_event)


def _topology_tab(page: Page) -> None:
    """Topology: the gallery's UMAP map of the chosen sub-code, the encoded face starred."""
    model = page.model
    topology, topology_note = page.topology
    default = D.default_attribute(model)

    @_user_errors
    def show_topology(attribute, color_by, state, face=None):
        if topology is None:
            return None, f"Topology unavailable: {topology_note}."
        code = page.face_code(state, face)
        figure = D.topology_figure(topology, attribute or default, color_by or "expression", code)
        if code is None:
            note = D.topology_note(topology) + "  \nEncode a face on the **Encode** tab to see where it falls."
        else:
            note = (D.topology_note(topology) + "  \n★ marks your face, placed (approximately) among its "
                    "nearest gallery codes.")
        return figure, note

    with gr.Tab("Topology", id="topology") as topology_tab:
        gr.Markdown("UMAP maps of the gallery's codes (precomputed with the checkpoint). Each point is a "
                    "gallery face the model never trained on; hover one to see it; the star is your encoded "
                    "face.", elem_classes="howto")
        with gr.Row():
            attribute = gr.Dropdown(list(model.attributes), value=default, label="Code")
            choices = D.color_choices(topology) if topology else list(D.COLOR_BY)
            color = gr.Dropdown(choices, value="expression", label="Colour by")
        note = gr.Markdown(label="note")
        plot = gr.Plot(label="UMAP")

    gr.on([topology_tab.select, attribute.change, color.change], show_topology,
          [attribute, color, page.state, page.api_face], [plot, note], api_name=page.api("topology"),
          preprocess=False, trigger_mode="always_last", **page.model_event)


def _retrieval_tab(page: Page) -> None:
    """Retrieval: the nearest gallery faces, one gallery per sub-code."""
    model = page.model
    attributes = list(model.attributes)
    topology, topology_note = page.topology
    photo_gallery = functools.lru_cache(maxsize=1)(lambda: D.photo_gallery(model))
    nothing = [[] for _ in attributes]

    @_result_files
    @_user_errors
    def retrieve(k, state, face=None, progress=gr.Progress()):
        code = page.face_code(state, face)
        k = min(max(int(k or 8), 1), MAX_NEIGHBOURS)
        if topology is None and model.config.alignment == "mtcnn":
            if code is None:
                return "Encode a face on the **Encode** tab first.", *nothing
            progress(0, desc="aligning the gallery photos (first time only)")
            gallery = photo_gallery()
            if gallery is None:
                return f"Retrieval needs the London photos in {D.data_root()} (not in the repository).", *nothing
            return (f"The nearest of {len(gallery.images)} London Face Research Lab photos (CC-BY 4.0, read from "
                    "the data folder; d = distance in code space).",
                    *(D.retrieve_photos(gallery, code, a, k) for a in attributes))
        if topology is None:
            return f"Retrieval unavailable: {topology_note}.", *nothing
        if code is None:
            return "Encode a face on the **Encode** tab first.", *nothing
        size = max(128, model.config.image_size)
        found = [D.retrieve(topology, code, a, k=k, size=size) for a in attributes]
        note = f"The {len(found[0])} nearest of {len(topology)} gallery faces, "
        if topology.rendered:
            note += "re-rendered from their generator factors (d = distance in code space)."
        else:
            note += ("photos from the data folder (decoded from their codes where absent; d = distance in code "
                     "space).  \n" + "  \n".join(topology.credits()))
        return note, *found

    with gr.Tab("Retrieval", id="retrieval") as retrieval_tab:
        gr.Markdown(f"The gallery faces nearest to your encoded face, separately by each code: {_codes_text(model)}.",
                    elem_classes="howto")
        with gr.Row():
            k = gr.Slider(1, 16, value=8, step=1, label="Neighbours")  # the API may ask up to MAX_NEIGHBOURS
            retrieve_button = gr.Button("Find nearest", variant="primary")
        note = gr.Markdown(label="note")
        galleries = [gr.Gallery(label=f"Nearest by {a} ({D.code_name(a)})", columns=8, height=200, format="png",
                                object_fit="contain") for a in attributes]

    gr.on([retrieval_tab.select, retrieve_button.click, k.release], retrieve, [k, page.state, page.api_face],
          [note, *galleries], api_name=page.api("retrieve"), preprocess=False, trigger_mode="always_last",
          **page.model_event)


def _live_tab(page: Page) -> None:
    """Live: webcam frames streamed to the model — the aligned face, its reconstruction and the class
    bars, a few times a second; a frame with no face says so and leaves the last result on screen."""
    model = page.model
    labelled = D.labelled_attribute(model)
    throttle = D.Throttle(LIVE_INTERVAL_S)

    def shown(result: D.LiveResult, keep_last: bool):
        """Outputs of one processed frame; with no face, the message alone (``keep_last``: the rest stays)."""
        if not result.found:
            nothing = gr.skip() if keep_last else None
            return nothing, nothing, nothing, result.message
        return (D.inline_image(result.view, "aligned face"), D.inline_image(result.reconstruction, "reconstruction"),
                result.probabilities or None, result.message)

    def live_stream(frame, request: gr.Request):
        if frame is None or not throttle.ready(getattr(request, "session_hash", None) or "api"):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return shown(D.live_frame(model, frame), keep_last=True)

    @_user_errors
    def live_frame(frame):
        """One webcam frame (any image) → the aligned face and its reconstruction (inline HTML), the class
        probabilities and a status line; no face: empty images and the message (not an error)."""
        return shown(D.live_frame(model, D.read_upload(frame)), keep_last=False)

    with gr.Tab("Live (webcam)", id="live"):
        gr.Markdown("Point the webcam at a face and press record: every frame (up to 5 a second) is aligned, "
                    "encoded, decoded and read. A frame with no face says so; the last result stays.",
                    elem_classes="howto")
        with gr.Row(equal_height=True, elem_classes="live"):
            webcam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Webcam", height=IMAGE_HEIGHT,
                              elem_classes="face")
            view = _inline_face("Aligned face")
            reconstruction = _inline_face("Reconstruction")
            probabilities = gr.Label(label=D.probability_label(model), visible=bool(labelled))
        message = gr.Markdown(D.live_frame(model, None).message, elem_classes="live-message")
        api_trigger = gr.Button(visible=False)  # the API-only one-frame endpoint's trigger (never clicked)

    outputs = [view, reconstruction, probabilities, message]
    # Frames share the model queue with every other model event (fair turns, at most MODEL_CONCURRENCY at
    # once), and each viewer's are thinned by the Throttle: a phone streaming cannot starve the room.
    webcam.stream(live_stream, webcam, outputs, stream_every=LIVE_EVERY_S, time_limit=LIVE_TIME_LIMIT_S,
                  show_progress="hidden", api_visibility="private", **page.model_event)
    api_trigger.click(live_frame, page.api_face, outputs, api_name=page.api("live_frame"), preprocess=False,
                      **page.model_event)


def _presenter_tab(page: Page) -> None:
    """Presenter: the face and its edit large, side by side; compact controls; a random face; the face
    through every loaded model side by side."""
    model = page.model
    attributes = D.slider_attributes(model)
    base_code = D.mean_code(model)
    first_dims = D.dimension_choices(model, attributes[0])
    photo_default = D.photo_detail_default(model)

    def face_of(state, face=None, photo_detail=False):
        """``(code, photo layer or None)`` of the face to edit: an image passed to the API, else the
        presenter's face, else the average face (no layer)."""
        code, layer = page.face(state, face, page.photo_detail(photo_detail), center_fallback=True)
        return (code, layer) if code is not None else (base_code, None)

    @_user_errors
    def presenter_encode(face, attribute=None, dim=None, photo_detail=photo_default):
        picture = D.read_upload(face)
        if picture is None:  # cleared: keep everything as it is
            return gr.skip(), gr.skip(), gr.skip()
        _, code, reconstruction, layer = D.encode_photo(model, picture, center_fallback=True)
        attribute = attribute or attributes[0]
        dim = int(dim) if dim is not None else model.top_dimensions(attribute, 1)[0]
        position = D.dimension_value(model, code, attribute, dim)
        shown = layer.view_image() if photo_detail else reconstruction
        return D.face_state(code, layer), D.inline_image(shown, "edited"), position

    def edited_code(source, attribute, dim, value):
        attribute = attribute or attributes[0]
        dim = int(dim) if dim is not None else model.top_dimensions(attribute, 1)[0]
        return D.set_dimension(model, source, attribute, dim, 0.0 if value is None else value)

    @_user_errors
    def presenter_edit(state, face=None, attribute=None, dim=None, value=0.0, photo_detail=photo_default):
        source, layer = face_of(state, face, photo_detail)
        return D.inline_image(model.decode(edited_code(source, attribute, dim, value), layer), "edited")

    @_user_errors
    def presenter_readback(state, face=None, attribute=None, dim=None, value=0.0, photo_detail=photo_default):
        source, layer = face_of(state, face, photo_detail)
        name = D.AVERAGE_FACE if face is None and not state else D.measured.YOUR_FACE
        found = D.slider_readback(model, source, edited_code(source, attribute, dim, value), name, layer=layer)
        return D.readback_markdown(found), D.readback_json(found)

    def dimensions(attribute):
        choices = D.dimension_choices(model, attribute)
        return gr.update(choices=choices, value=choices[0][1])

    def position(state, attribute, dim):
        return D.dimension_value(model, face_of(state)[0], attribute or attributes[0], int(dim))

    @_result_files
    def random_face():
        """A new face: a sample from the code prior (each dimension ~ N(training mean, training std), kept within
        its slider range), decoded."""
        return D.random_face(model)

    @_result_files
    @_user_errors
    def compare_models(face):
        return D.compare_models(page.models or [model], _required_image(face, "a face"))

    def posed(code, yaw):
        return D.headpose.frontalise(model, code) if yaw is None else D.headpose.set_pose(model, code, yaw=float(yaw))

    @_user_errors
    def frontalise(state, face=None, photo_detail=photo_default):
        """The face turned to look straight at the camera (z_pose set to 0°; every other sub-code kept)."""
        code, layer = face_of(state, face, photo_detail)
        return D.inline_image(model.decode(posed(code, None), layer), "edited")

    @_user_errors
    def head_turn(state, face=None, yaw=0.0, photo_detail=photo_default):
        """The face turned to ``yaw`` degrees (z_pose only; identity, expression and style kept)."""
        code, layer = face_of(state, face, photo_detail)
        return D.inline_image(model.decode(posed(code, 0.0 if yaw is None else yaw), layer), "edited")

    @_user_errors
    def pose_readback(state, face=None, yaw=None, photo_detail=photo_default):
        source, layer = face_of(state, face, photo_detail)
        name = D.AVERAGE_FACE if face is None and not state else D.measured.YOUR_FACE
        found = D.slider_readback(model, source, posed(source, yaw), name, layer=layer)
        return D.readback_markdown(found), D.readback_json(found)

    def frontal_readback(state, face=None, photo_detail=photo_default):
        return pose_readback(state, face, None, photo_detail)

    pose_controls = None
    with gr.Tab("Presenter", id="presenter"):
        state = gr.State(None)  # the presenter's own face: the other tabs keep theirs (inside the Tab: a
        # component directly in gr.Tabs counts as one more tab, and the browser mislabels the next one)
        gr.Markdown("For a projector: a face and its edit, large. Choose a code and a dimension and move the "
                    "slider along that dimension's range (−1 its low end, 0 the training mean, +1 its high end: the "
                    f"{model.bounds_source}); **Random face** draws a new face from the code prior.",
                    elem_classes="howto")
        with gr.Row(equal_height=True, elem_classes="presenter"):
            face = _upload_image("Face", height=PRESENTER_HEIGHT)
            edited = _inline_face("Edited", model.decode(base_code))
        readback, readback_json = _readback_outputs()
        with gr.Row(equal_height=True):
            random_button = gr.Button("Random face", size="sm", scale=0, min_width=140)
            attribute = gr.Dropdown(attributes, value=attributes[0], label="Code", scale=1, min_width=120)
            dim = gr.Dropdown(first_dims, value=first_dims[0][1], label="Dimension", scale=1, min_width=140)
            value = gr.Slider(-D.presenter.PRESENTER_RANGE, D.presenter.PRESENTER_RANGE, value=0.0, step=0.01,
                              label="along the range (−1 low end · 0 mean · +1 high end)", scale=3)
            photo_detail = _photo_detail_box(model)
        if D.headpose.pose_scale(model) is not None:
            with gr.Row(equal_height=True):
                front_button = gr.Button("Frontalise", size="sm", scale=0, min_width=140)
                yaw = gr.Slider(-45, 45, value=0.0, step=1, label="Turn the head (yaw, degrees; only z_pose changes)",
                                scale=3)
            pose_controls = (front_button, yaw)
        _examples(page.examples, face, "Examples", examples_per_page=N_EXAMPLES)
        names = ", ".join(D.model_name(m) for m in page.models or [model])
        with gr.Row(equal_height=True):
            compare_button = gr.Button("Compare models", size="sm", scale=0, min_width=180)
            gr.Markdown(f"This face through every loaded checkpoint ({names}): each one's reconstruction.")
        comparison = gr.Gallery(label="reconstruction, per model", columns=max(1, len(page.models or [model])),
                                height="auto", format="png", object_fit="contain", allow_preview=False,
                                elem_classes="compare")

    controls = [state, page.api_face, attribute, dim, value, photo_detail]
    readback_event = dict(inputs=controls, outputs=[readback, readback_json], preprocess=False,
                          trigger_mode="always_last", show_progress="hidden", **page.model_event)
    edit = gr.on([value.input, photo_detail.input], presenter_edit, controls, edited,
                 api_name=page.api("presenter_edit"), preprocess=False, postprocess=False,
                 trigger_mode="always_last", show_progress="hidden", **page.model_event)
    edit.success(presenter_readback, api_name=page.api("presenter_readback"), **readback_event)
    face.change(presenter_encode, [face, attribute, dim, photo_detail], [state, edited, value],
                api_name=page.api("presenter_encode"),
                preprocess=False, **page.model_event
                ).success(presenter_readback, api_visibility="private", **readback_event)
    # Another code or dimension: the slider jumps to where the face is on it, then the face is redrawn.
    attribute.input(dimensions, attribute, dim, api_visibility="private", queue=False)
    dim.change(position, [state, attribute, dim], value, api_visibility="private", queue=False
               ).success(presenter_edit, controls, edited, api_visibility="private", preprocess=False,
                         postprocess=False, show_progress="hidden", **page.model_event
                         ).success(presenter_readback, api_visibility="private", **readback_event)
    random_button.click(random_face, None, face, api_name=page.api("random_face"), **page.model_event)
    if pose_controls is not None:  # a pose code in degrees: frontalise and turn the head, identity kept
        front_button, yaw = pose_controls
        front_button.click(frontalise, [state, page.api_face, photo_detail], edited, api_name=page.api("frontalise"),
                           preprocess=False, postprocess=False, **page.model_event
                           ).success(frontal_readback, [state, page.api_face, photo_detail], [readback, readback_json],
                                     api_visibility="private", preprocess=False, **page.model_event)
        yaw.input(head_turn, [state, page.api_face, yaw, photo_detail], edited, api_name=page.api("head_turn"),
                  preprocess=False, postprocess=False, trigger_mode="always_last", show_progress="hidden",
                  **page.model_event
                  ).success(pose_readback, [state, page.api_face, yaw, photo_detail], [readback, readback_json],
                            api_visibility="private", preprocess=False, **page.model_event)
    compare_button.click(compare_models, face, comparison, api_name=page.api("compare_models"), preprocess=False,
                         **page.model_event)


def _how_it_works_tab(page: Page) -> None:
    """How it works: the method as a diagram (from the config and the network) and the card's key figures."""
    from facelab.diagram import key_figures, method_diagram

    with gr.Tab("How it works", id="how"):
        gr.Markdown("This checkpoint's method, drawn from its config and network: encoders, the sub-codes and "
                    "their sizes, the decoder, the heads, and every loss term with its weight.", elem_classes="howto")
        gr.HTML(method_diagram(page.model), elem_classes="diagram", padding=True)
        gr.Markdown("### Key figures\n" + key_figures(page.model))


def _evaluation_tab(page: Page) -> None:
    """Evaluation: the card's figures and plots per evaluation file, and label debugging."""
    model = page.model
    debug_sets = functools.lru_cache(maxsize=4)(lambda source: D.debug_dataset(model, source))

    @_result_files
    @_user_errors
    def label_debug(source, k, progress=gr.Progress()):
        if source not in D.debug_sources(model):
            raise ValueError(f"no labelled set {source!r} here; choose from {', '.join(D.debug_sources(model))}")
        progress(0, desc=f"preparing {source}")
        return D.label_disagreements(model, debug_sets(source), k=min(max(int(k or 12), 1), 64))

    with gr.Tab("Evaluation", id="evaluation"):
        gr.Markdown("This checkpoint's card figures, each with the committed command that measured them, "
                    "and a label-debugging view.", elem_classes="howto")
        sections = D.evaluation_sections(model)
        for text, plots in sections:
            with gr.Accordion(text.splitlines()[0].lstrip("# "), open=len(sections) == 1):
                gr.Markdown(text)
                if plots:
                    gr.Gallery(value=plots, columns=2, height=420, object_fit="contain", label="plots")
        if not sections:
            gr.Markdown("*Not evaluated yet:* `python -m train.evaluate --checkpoint DIR --card`.")
        gr.Markdown("### Label debugging\nThe samples whose label the model finds least likely, as "
                    "input | reconstruction with label and prediction: judge whether the label or the "
                    "model is wrong.")
        sources = D.debug_sources(model)
        with gr.Row():
            source = gr.Dropdown(sources, value=sources[0] if sources else None, label="Labelled set")
            debug_k = gr.Slider(4, 32, value=12, step=1, label="Samples")
            debug_button = gr.Button("Find disagreements", variant="primary", interactive=bool(sources))
        gallery = gr.Gallery(label="least likely labels first", columns=6, height=360, format="png",
                             object_fit="contain")

    debug_button.click(label_debug, [source, debug_k], gallery, api_name=page.api("label_debug"),
                       **page.model_event)


def _model_page(model, examples: list[str], prefix: str = "", models: Sequence[FaceModel] = ()) -> None:
    """One model's header and tabs, inside the current Blocks page; API names get ``prefix``; ``models``:
    every loaded model (the presenter's "compare models")."""
    gr.Markdown(D.model_summary(model))
    card = D.model_card(model)
    if card:
        with gr.Accordion("Model card", open=False):
            gr.Markdown(card)
    page = Page(model, gr.State(None), gr.Image(label="face", visible=False), examples, prefix, tuple(models))
    with gr.Tabs():
        encoded, reconstruction = _encode_tab(page)
        _sliders_tab(page, encoded, reconstruction)
        _swap_tab(page)
        _interpolate_tab(page)
        _topology_tab(page)
        _retrieval_tab(page)
        _live_tab(page)
        _presenter_tab(page)
        _how_it_works_tab(page)
        _evaluation_tab(page)


def build_app(checkpoints: str | Sequence[str] | None = None, examples_dir=None) -> gr.Blocks:
    """The app: the first checkpoint on the main page, each further one on its own page (navbar).

    ``checkpoints``: a bundled name or directory, a list of them, or None for the defaults
    (``$FACELAB_CHECKPOINT``, else every bundled checkpoint, photo models first).
    """
    names = [checkpoints] if isinstance(checkpoints, (str, os.PathLike)) else list(checkpoints or D.default_checkpoints())
    models = [facelab.load(name) for name in names]
    scratch = None
    if examples_dir is None:  # rendered at start-up, removed at exit
        scratch = tempfile.TemporaryDirectory(prefix="facelab-examples-")
        examples_dir = scratch.name
    size = max(128, models[0].config.image_size)
    generated = [str(p) for p in D.save_examples(examples_dir, n=N_EXAMPLES, size=size)]

    def ping() -> str:
        """No-op endpoint: measures the server's own overhead (bench/app_latency.py)."""
        return "pong"

    def page(model, prefix):
        gr.Markdown(HEADER)
        if len(models) > 1:
            gr.Markdown("Models: " + " · ".join(
                f"[{D.model_name(m)}](/{'' if i == 0 else D.model_name(m)})" for i, m in enumerate(models)))
        _model_page(model, D.photo_examples(N_EXAMPLES) if model.config.alignment == "mtcnn" else generated, prefix,
                    models)

    with gr.Blocks(title="facelab demo") as demo:
        page(models[0], "")
        gr.api(ping, api_name="ping")
    for model in models[1:]:
        name = D.model_name(model)
        with demo.route(name, f"/{name}"):
            page(model, name.replace("-", "_") + "_")
    demo.queue(default_concurrency_limit=MODEL_CONCURRENCY, max_size=64)
    demo.facelab_examples = scratch  # keeps the temporary example folder alive as long as the app
    return demo


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="facelab Gradio demo (offline, local).")
    p.add_argument("--checkpoint", action="append", default=None,
                   help=f"bundled name or directory; repeat for several pages (default: ${D.CHECKPOINT_ENV} "
                        "or every bundled checkpoint, photo models first)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: 7860 or the next free one)")
    args = p.parse_args(argv)
    checkpoints = args.checkpoint or D.default_checkpoints()
    print(f"loading {', '.join(map(str, checkpoints))} ...", flush=True)
    try:
        demo = build_app(checkpoints)
    except (CheckpointError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so a plain kill, too, deletes the result files
    _, url, _ = demo.launch(**launch_options(server_name=args.host, server_port=args.port, quiet=True,
                                             prevent_thread_lock=True))
    print(f"facelab demo running at {url}  (Ctrl+C to stop)", flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
