"""facelab demo: encode a face, edit its codes (expression, identity, ...), swap, interpolate, explore.

    python app.py [--checkpoint DIR_OR_NAME] [--host 127.0.0.1] [--port 7860]

Runs offline on 127.0.0.1 by default (no share link, no analytics, system fonts). The model is
loaded once at start-up. Every interaction is also a named HTTP API endpoint, callable with
``gradio_client`` (see the "Use via API" link in the footer): encode, sliders, reset, swap,
interpolate, topology, retrieve, label_debug and ping. This file only wires components to
:mod:`facelab.demo`, which holds the logic; each tab has its own builder below (``_encode_tab``,
``_sliders_tab``, ...), sharing one :class:`Page` per model. Every sub-code of the model gets its
sliders, swap/interpolation choice, topology map and retrieval gallery. Result images are written
each to a new file (``_result_files``), so many users at once never get a truncated download.
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
from gradio.data_classes import ImageData  # noqa: E402
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

THEME = gr.themes.Soft(
    font=[gr.themes.Font("system-ui"), "ui-sans-serif", "sans-serif"],
    font_mono=[gr.themes.Font("ui-monospace"), "Consolas", "monospace"],
)
CSS = """
.face img { width: 100% !important; height: 100% !important; object-fit: contain; }
.howto { opacity: 0.8; }
"""
HEADER = "# facelab · disentangled face codes"


def launch_options(**overrides) -> dict:
    """Keyword arguments for ``Blocks.launch``: offline theme/CSS, no SSR, upload limit, no share."""
    # The data folder is served only so its London photos can be shown as examples.
    allowed = [str(D.data_root() / "london")] if D.photo_examples(1) else []
    return dict(theme=THEME, css=CSS, ssr_mode=False, share=False, max_file_size=MAX_UPLOAD,
                footer_links=["api", "settings"], mcp_server=False, allowed_paths=allowed, **overrides)


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
    API-only face input, the example faces, the API-name prefix and the model-event settings."""

    model: FaceModel
    state: gr.State  # the session's encoded face: code.to_dict()
    api_face: gr.Image  # API-only input: lets gradio_client pass a face to sliders/topology/retrieve
    examples: list[str]
    prefix: str = ""
    model_event: dict = field(default_factory=lambda: dict(concurrency_id=MODEL_QUEUE,
                                                           concurrency_limit=MODEL_CONCURRENCY))

    def api(self, name: str) -> str:
        """The page's API name of an endpoint (``prefix + name``)."""
        return self.prefix + name

    def face_code(self, state, face):
        """The code to work on: an image passed to the API, else the session's encoded face, else None."""
        image = D.read_upload(face)
        if image is not None:
            return D.encode_face(self.model, image)[1]
        return D.code_from_state(state)

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


def _upload_image(label):
    return gr.Image(label=label, sources=["upload", "webcam"], height=IMAGE_HEIGHT, elem_classes="face")


def _face_pair(page: Page, shift: int):
    """Two upload boxes (A, B), each with the examples; B's list starts ``shift`` later."""
    with gr.Row():
        a, b = _upload_image("Face A"), _upload_image("Face B")
    with gr.Row():
        _examples(page.examples, a, "Examples for A")
        _examples(page.examples[shift:] + page.examples[:shift], b, "Examples for B")
    return a, b


def _codes_text(model) -> str:
    """``"expression (z_exp), identity (z_id)"``: the model's sub-codes, as the UI names them."""
    return ", ".join(f"{a} ({D.code_name(a)})" for a in D.slider_attributes(model))


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
    def encode(image, state, face_number=1, center_fallback=False):
        picture = D.read_upload(image)
        if picture is None:  # the image was cleared: keep everything as it is
            return gr.skip(), gr.skip(), gr.skip(), state
        view, code = D.encode_face(model, picture, face=max(int(face_number or 1), 1) - 1,
                                   center_fallback=bool(center_fallback))
        return view, model.decode(code), model.classify(code, labelled) if labelled else None, code.to_dict()

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
        _examples(page.examples, image, "Example faces (click one)")

    encoded = gr.on([image.change, face_number.change, center_fallback.change], encode,
                    [image, page.state, face_number, center_fallback],
                    [view, reconstruction, probabilities, page.state],
                    api_name=page.api("encode"), preprocess=False, **page.model_event)
    return encoded, reconstruction


def _sliders_tab(page: Page, encoded, reconstruction) -> None:
    """Sliders: one column per sub-code, one slider per leading dimension; follows the encoded face."""
    model = page.model
    specs = D.slider_specs(model, k=8)
    base_code = D.mean_code(model)

    def sync_sliders(reconstruction, state):
        code = D.code_from_state(state)
        return reconstruction, reconstruction, *D.slider_values(code, specs)

    @_user_errors
    def sliders(state, face=None, *values):
        code = page.face_code(state, face) or base_code
        path = _results().save(model.decode(D.apply_sliders(code, specs, values)))
        return ImageData(path=path, orig_name=Path(path).name)  # what postprocessing would make of it

    # Name the slider parameters for the API (expression_dim_5=..., identity_dim_2=...).
    sliders.__signature__ = inspect.Signature(
        [inspect.Parameter("state", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         inspect.Parameter("face", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
        + [inspect.Parameter(s.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=s.default) for s in specs])

    @_result_files
    @_user_errors
    def reset(state):
        code = D.code_from_state(state) or base_code
        return model.decode(code), *D.slider_values(code, specs)

    with gr.Tab("Sliders", id="sliders"):
        gr.Markdown(f"Move a slider to change one leading dimension of one code — {_codes_text(model)}; only the "
                    "decoder runs. Sliders start at your encoded face (or the average face) and span mean ± 3 std "
                    "of the training codes.", elem_classes="howto")
        with gr.Row():
            with gr.Column(scale=1, min_width=200):
                slider_source = _face_image("Your face (reconstruction)", interactive=False)
                edited = _face_image("Edited", interactive=False,
                                     value=_results().save(model.decode(base_code), keep=True))
                reset_button = gr.Button("Reset to your face", variant="secondary")
            slider_boxes = []
            for attribute in D.slider_attributes(model):
                with gr.Column(scale=2):
                    gr.Markdown(f"**{attribute}** code ({D.code_name(attribute)})")
                    slider_boxes += [gr.Slider(minimum=s.minimum, maximum=s.maximum, value=s.default, step=s.step,
                                               label=s.label) for s in specs if s.attribute == attribute]

    encoded.success(sync_sliders, [reconstruction, page.state], [slider_source, edited, *slider_boxes],
                    api_name=page.api("sync_sliders"), api_visibility="private", queue=False)
    # The hot path: the handler hands Gradio the output's final form (postprocess=False), which spares
    # a thread hop and a second pass over Gradio's file cache per slider move.
    gr.on([s.input for s in slider_boxes], sliders, [page.state, page.api_face, *slider_boxes], edited,
          api_name=page.api("sliders"), preprocess=False, postprocess=False, trigger_mode="always_last",
          show_progress="hidden", **page.model_event)
    reset_button.click(reset, [page.state], [edited, *slider_boxes], api_name=page.api("reset"),
                       show_progress="hidden", **page.model_event)


def _swap_tab(page: Page) -> None:
    """Swap: A with B's chosen sub-code, and B with A's."""
    model = page.model
    default = D.default_attribute(model)

    @_result_files
    @_user_errors
    def swap(face_a, face_b, attribute):
        view_a, code_a = D.encode_face(model, _required_image(face_a, "face A"))
        view_b, code_b = D.encode_face(model, _required_image(face_b, "face B"))
        return view_a, view_b, *D.swap_faces(model, code_a, code_b, attribute or default)

    def captions(attribute):
        ab, ba = D.swap_labels(attribute or default)
        return gr.update(label=ab), gr.update(label=ba)

    with gr.Tab("Swap", id="swap"):
        gr.Markdown("Pick two faces and a code, and press **Swap**: A with B's code (the rest of A kept), and B "
                    "with A's.", elem_classes="howto")
        swap_a, swap_b = _face_pair(page, shift=1)
        attribute = gr.Dropdown(list(model.attributes), value=default, label="Swap which code",
                                visible=len(model.attributes) > 1)
        swap_button = gr.Button("Swap", variant="primary")
        label_ab, label_ba = D.swap_labels(default)
        with gr.Row():
            view_a = _face_image("A: model's view", interactive=False)
            recon_a = _face_image("A: reconstruction", interactive=False)
            swapped_ab = _face_image(label_ab, interactive=False)
        with gr.Row():
            view_b = _face_image("B: model's view", interactive=False)
            recon_b = _face_image("B: reconstruction", interactive=False)
            swapped_ba = _face_image(label_ba, interactive=False)

    swap_button.click(swap, [swap_a, swap_b, attribute], [view_a, view_b, recon_a, recon_b, swapped_ab, swapped_ba],
                      api_name=page.api("swap"), preprocess=False, **page.model_event)
    attribute.change(captions, attribute, [swapped_ab, swapped_ba], api_visibility="private", queue=False)


def _interpolate_tab(page: Page) -> None:
    """Interpolate: A → B in one sub-code (the rest of A fixed) or in all of them, as a strip."""
    model = page.model

    @_result_files
    @_user_errors
    def interpolate(face_a, face_b, steps, what):
        code_a = D.encode_face(model, _required_image(face_a, "face A"))[1]
        code_b = D.encode_face(model, _required_image(face_b, "face B"))[1]
        attribute = None if what in (None, D.EVERYTHING) else what
        return D.interpolation_strip(model, code_a, code_b, steps=int(steps or 8), attribute=attribute)

    with gr.Tab("Interpolate", id="interpolate"):
        gr.Markdown("Pick two faces: the strip walks from A's code to B's with the rest of A fixed (or moves every "
                    "code).", elem_classes="howto")
        interp_a, interp_b = _face_pair(page, shift=2)
        with gr.Row():
            steps = gr.Slider(3, 12, value=8, step=1, label="Steps")
            what = gr.Radio(D.interpolation_choices(model), value=D.default_attribute(model), label="What moves")
        interp_button = gr.Button("Interpolate", variant="primary")
        interp_strip = gr.Image(label="A → B", format="png", type="filepath", interactive=False, height=160,
                                elem_classes="face")

    interp_button.click(interpolate, [interp_a, interp_b, steps, what], interp_strip, api_name=page.api("interpolate"),
                        preprocess=False, **page.model_event)


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
            note = f"{len(topology)} gallery faces. Encode a face on the **Encode** tab to see where it falls."
        else:
            note = (f"{len(topology)} gallery faces; ★ marks your face, placed (approximately) among its "
                    "nearest gallery codes.")
        return figure, note

    with gr.Tab("Topology", id="topology") as topology_tab:
        gr.Markdown("UMAP maps of the gallery's codes (precomputed with the checkpoint). Each point is a "
                    "generator face; the star is your encoded face.", elem_classes="howto")
        with gr.Row():
            attribute = gr.Dropdown(list(model.attributes), value=default, label="Code")
            color = gr.Dropdown(list(D.COLOR_BY), value="expression", label="Colour by")
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
        return (f"The {len(found[0])} nearest of {len(topology)} gallery faces, re-rendered from their "
                "generator factors (d = distance in code space).", *found)

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


def _model_page(model, examples: list[str], prefix: str = "") -> None:
    """One model's header and tabs, inside the current Blocks page; API names get ``prefix``."""
    gr.Markdown(D.model_summary(model))
    card = D.model_card(model)
    if card:
        with gr.Accordion("Model card", open=False):
            gr.Markdown(card)
    page = Page(model, gr.State(None), gr.Image(label="face", visible=False), examples, prefix)
    with gr.Tabs():
        encoded, reconstruction = _encode_tab(page)
        _sliders_tab(page, encoded, reconstruction)
        _swap_tab(page)
        _interpolate_tab(page)
        _topology_tab(page)
        _retrieval_tab(page)
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
        _model_page(model, D.photo_examples(N_EXAMPLES) if model.config.alignment == "mtcnn" else generated, prefix)

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
