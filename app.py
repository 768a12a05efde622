"""facelab demo: encode a face, edit its expression and identity codes, swap, interpolate, explore.

    python app.py [--checkpoint DIR_OR_NAME] [--host 127.0.0.1] [--port 7860]

Runs offline on 127.0.0.1 by default (no share link, no analytics, system fonts). The model is
loaded once at start-up. Every interaction is also a named HTTP API endpoint, callable with
``gradio_client`` (see the "Use via API" link in the footer): encode, sliders, reset, swap,
interpolate, topology, retrieve and ping. This file only wires components to
:mod:`facelab.demo`, which holds the logic.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import os
import sys
import tempfile
from typing import Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

import facelab  # noqa: E402
from facelab import demo as D  # noqa: E402
from facelab.checkpoint import CheckpointError  # noqa: E402
from facelab.config import ConfigError  # noqa: E402
from facelab.imageio import ImageError  # noqa: E402

MODEL_QUEUE = "model"  # concurrency_id shared by every event that runs the network
MODEL_CONCURRENCY = 2  # at most this many model calls at once (CPU: more only thrashes)
MAX_UPLOAD = "20mb"
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


def _model_page(model, examples: list[str], prefix: str = "") -> None:
    """One model's tabs and events, inside the current Blocks page; API names get ``prefix``."""
    specs = D.slider_specs(model, k=8)
    topology, topology_note = D.load_topology(model)
    base_code = D.mean_code(model)
    card = D.model_card(model)
    edit_attributes = [a for a in model.attributes if a != "identity"] or list(model.attributes)

    def face_code(state, face):
        """The code to work on: an image passed to the API, else the session's encoded face, else None."""
        image = D.read_upload(face)
        if image is not None:
            return D.encode_face(model, image)[1]
        return D.code_from_state(state)

    # ---- handlers (glue only: parse inputs, call facelab.demo / the model, format outputs) ----
    @_user_errors
    def encode(image, state, face_number=1, center_fallback=False):
        picture = D.read_upload(image)
        if picture is None:  # the image was cleared: keep everything as it is
            return gr.skip(), gr.skip(), gr.skip(), state
        view, code = D.encode_face(model, picture, face=max(int(face_number or 1), 1) - 1,
                                   center_fallback=bool(center_fallback))
        return view, model.decode(code), model.classify(code), code.to_dict()

    def sync_sliders(reconstruction, state):
        code = D.code_from_state(state)
        return reconstruction, reconstruction, *D.slider_values(code, specs)

    @_user_errors
    def sliders(state, face=None, *values):
        code = face_code(state, face) or base_code
        return model.decode(D.apply_sliders(code, specs, values))

    # Name the slider parameters for the API (expression_dim_5=..., identity_dim_2=...).
    sliders.__signature__ = inspect.Signature(
        [inspect.Parameter("state", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         inspect.Parameter("face", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
        + [inspect.Parameter(s.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=s.default) for s in specs])

    @_user_errors
    def reset(state):
        code = D.code_from_state(state) or base_code
        return model.decode(code), *D.slider_values(code, specs)

    @_user_errors
    def swap(face_a, face_b, attribute):
        view_a, code_a = D.encode_face(model, _required_image(face_a, "face A"))
        view_b, code_b = D.encode_face(model, _required_image(face_b, "face B"))
        return view_a, view_b, *D.swap_faces(model, code_a, code_b, attribute or "expression")

    @_user_errors
    def interpolate(face_a, face_b, steps, what):
        code_a = D.encode_face(model, _required_image(face_a, "face A"))[1]
        code_b = D.encode_face(model, _required_image(face_b, "face B"))[1]
        attribute = None if what in (None, "everything") else what
        return D.interpolation_strip(model, code_a, code_b, steps=int(steps or 8), attribute=attribute)

    @_user_errors
    def show_topology(attribute, color_by, state, face=None):
        if topology is None:
            return None, f"Topology unavailable: {topology_note}."
        code = face_code(state, face)
        figure = D.topology_figure(topology, attribute or "expression", color_by or "expression", code)
        if code is None:
            note = f"{len(topology)} gallery faces. Encode a face on the **Encode** tab to see where it falls."
        else:
            note = (f"{len(topology)} gallery faces; ★ marks your face, placed (approximately) among its "
                    "nearest gallery codes.")
        return figure, note

    debug_sets = functools.lru_cache(maxsize=4)(lambda source: D.debug_dataset(model, source))
    photo_gallery = functools.lru_cache(maxsize=1)(lambda: D.photo_gallery(model))

    @_user_errors
    def label_debug(source, k, progress=gr.Progress()):
        if source not in D.debug_sources(model):
            raise ValueError(f"no labelled set {source!r} here; choose from {', '.join(D.debug_sources(model))}")
        progress(0, desc=f"preparing {source}")
        return D.label_disagreements(model, debug_sets(source), k=min(max(int(k or 12), 1), 64))

    @_user_errors
    def retrieve(k, state, face=None, progress=gr.Progress()):
        code = face_code(state, face)
        if topology is None and model.config.alignment == "mtcnn":
            if code is None:
                return "Encode a face on the **Encode** tab first.", [], []
            progress(0, desc="aligning the gallery photos (first time only)")
            gallery = photo_gallery()
            if gallery is None:
                return f"Retrieval needs the London photos in {D.data_root()} (not in the repository).", [], []
            k = min(max(int(k or 8), 1), MAX_NEIGHBOURS)
            return (f"The nearest of {len(gallery.images)} London Face Research Lab photos (CC-BY 4.0, read from "
                    "the data folder; d = distance in code space)."), \
                D.retrieve_photos(gallery, code, "identity", k), D.retrieve_photos(gallery, code, "expression", k)
        if topology is None:
            return f"Retrieval unavailable: {topology_note}.", [], []
        if code is None:
            return "Encode a face on the **Encode** tab first.", [], []
        size, k = max(128, model.config.image_size), min(max(int(k or 8), 1), MAX_NEIGHBOURS)
        by_identity = D.retrieve(topology, code, "identity", k=k, size=size)
        by_expression = D.retrieve(topology, code, "expression", k=k, size=size)
        return (f"The {len(by_identity)} nearest of {len(topology)} gallery faces, re-rendered from their "
                "generator factors (d = distance in code space)."), by_identity, by_expression

    model_event = dict(concurrency_id=MODEL_QUEUE, concurrency_limit=MODEL_CONCURRENCY)

    def face_image(label, **kw):
        return gr.Image(label=label, format="png", type="filepath", height=IMAGE_HEIGHT, elem_classes="face", **kw)

    def upload_image(label):
        return gr.Image(label=label, sources=["upload", "webcam"], height=IMAGE_HEIGHT, elem_classes="face")

    def face_pair(shift: int):
        """Two upload boxes (A, B), each with the examples; B's list starts ``shift`` later."""
        with gr.Row():
            a, b = upload_image("Face A"), upload_image("Face B")
        with gr.Row():
            _examples(examples, a, "Examples for A")
            _examples(examples[shift:] + examples[:shift], b, "Examples for B")
        return a, b

    if True:  # the caller holds the Blocks/route context
        gr.Markdown(D.model_summary(model))
        if card:
            with gr.Accordion("Model card", open=False):
                gr.Markdown(card)
        state = gr.State(None)  # the session's encoded face: code.to_dict()
        # API-only input: lets gradio_client pass a face to sliders/topology/retrieve without a session.
        api_face = gr.Image(label="face", visible=False)

        with gr.Tabs():
            with gr.Tab("Encode", id="encode"):
                gr.Markdown("Upload a face photo, use the webcam, or click an example: see what the model sees, "
                            "its reconstruction and the expression it reads from z_exp. The other tabs use this face.",
                            elem_classes="howto")
                with gr.Row(equal_height=True):
                    image = upload_image("Face photo")
                    view = face_image("Model's view", interactive=False)
                    reconstruction = face_image("Reconstruction", interactive=False)
                    probabilities = gr.Label(label="Expression (from z_exp)", num_top_classes=len(model.expressions))
                photo_model = model.config.alignment == "mtcnn"
                with gr.Row(visible=photo_model):  # face detection options: photo models only
                    face_number = gr.Number(1, precision=0, minimum=1, label="Face (1 = largest; for group photos)")
                    center_fallback = gr.Checkbox(False, label="No face found? Use the centre crop anyway")
                _examples(examples, image, "Example faces (click one)")

            with gr.Tab("Sliders", id="sliders"):
                gr.Markdown("Move a slider to change one leading dimension of the expression (z_exp) or identity "
                            "(z_id) code; only the decoder runs. Sliders start at your encoded face "
                            "(or the average face) and span mean ± 3 std of the training codes.",
                            elem_classes="howto")
                with gr.Row():
                    with gr.Column(scale=1, min_width=200):
                        slider_source = face_image("Your face (reconstruction)", interactive=False)
                        edited = face_image("Edited", interactive=False, value=model.decode(base_code))
                        reset_button = gr.Button("Reset to your face", variant="secondary")
                    slider_boxes = []
                    for attribute in D.slider_attributes(model):
                        with gr.Column(scale=2):
                            gr.Markdown(f"**{attribute}** code")
                            for spec in specs:
                                if spec.attribute == attribute:
                                    slider_boxes.append(gr.Slider(
                                        minimum=spec.minimum, maximum=spec.maximum, value=spec.default,
                                        step=spec.step, label=spec.label,
                                    ))

            with gr.Tab("Swap", id="swap"):
                gr.Markdown("Pick two faces and press **Swap**: A's identity with B's expression, and B's identity "
                            "with A's expression.", elem_classes="howto")
                swap_a, swap_b = face_pair(shift=1)
                swap_attribute = gr.Dropdown(edit_attributes, value=edit_attributes[0], label="Swap which code",
                                             visible=len(edit_attributes) > 1)
                swap_button = gr.Button("Swap", variant="primary")
                with gr.Row():
                    swap_view_a = face_image("A: model's view", interactive=False)
                    swap_recon_a = face_image("A: reconstruction", interactive=False)
                    swap_ab = face_image("A's identity + B's expression", interactive=False)
                with gr.Row():
                    swap_view_b = face_image("B: model's view", interactive=False)
                    swap_recon_b = face_image("B: reconstruction", interactive=False)
                    swap_ba = face_image("B's identity + A's expression", interactive=False)

            with gr.Tab("Interpolate", id="interpolate"):
                gr.Markdown("Pick two faces: the strip walks from A's expression to B's with A's identity fixed "
                            "(or moves every code).", elem_classes="howto")
                interp_a, interp_b = face_pair(shift=2)
                with gr.Row():
                    steps = gr.Slider(3, 12, value=8, step=1, label="Steps")
                    what = gr.Radio([(f"{a} only (rest of A fixed)", a) for a in edit_attributes]
                                    + [("everything (A → B)", "everything")], value=edit_attributes[0],
                                    label="What moves")
                interp_button = gr.Button("Interpolate", variant="primary")
                interp_strip = gr.Image(label="A → B", format="png", type="filepath", interactive=False,
                                        height=160, elem_classes="face")

            with gr.Tab("Topology", id="topology") as topology_tab:
                gr.Markdown("UMAP maps of the gallery's codes (precomputed with the checkpoint). Each point is a "
                            "generator face; the star is your encoded face.", elem_classes="howto")
                with gr.Row():
                    topo_attribute = gr.Dropdown(list(topology.attributes) if topology else list(model.attributes),
                                                 value="expression", label="Code")
                    topo_color = gr.Dropdown(list(D.COLOR_BY), value="expression", label="Colour by")
                topo_note = gr.Markdown(label="note")
                topo_plot = gr.Plot(label="UMAP")

            with gr.Tab("Retrieval", id="retrieval") as retrieval_tab:
                gr.Markdown("The gallery faces nearest to your encoded face, by identity code and, separately, by "
                            "expression code.", elem_classes="howto")
                with gr.Row():
                    k = gr.Slider(1, 16, value=8, step=1, label="Neighbours")  # the API may ask up to MAX_NEIGHBOURS
                    retrieve_button = gr.Button("Find nearest", variant="primary")
                retrieve_note = gr.Markdown(label="note")
                by_identity = gr.Gallery(label="Nearest by identity (z_id)", columns=8, height=200, format="png",
                                         object_fit="contain")
                by_expression = gr.Gallery(label="Nearest by expression (z_exp)", columns=8, height=200,
                                           format="png", object_fit="contain")

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
                    debug_source = gr.Dropdown(sources, value=sources[0] if sources else None, label="Labelled set")
                    debug_k = gr.Slider(4, 32, value=12, step=1, label="Samples")
                    debug_button = gr.Button("Find disagreements", variant="primary", interactive=bool(sources))
                debug_gallery = gr.Gallery(label="least likely labels first", columns=6, height=360,
                                           format="png", object_fit="contain")

        # ---- events ----------------------------------------------------------------------------
        # preprocess=False: uploads reach facelab.imageio.read_image untouched, so a bad file gets
        # facelab's plain message (and slider values are range-checked by apply_sliders, not Gradio).
        gr.on([image.change, face_number.change, center_fallback.change], encode,
              [image, state, face_number, center_fallback], [view, reconstruction, probabilities, state],
              api_name=prefix + "encode", preprocess=False, **model_event).success(
            sync_sliders, [reconstruction, state], [slider_source, edited, *slider_boxes],
            api_name=prefix + "sync_sliders", api_visibility="private", queue=False)
        gr.on([s.input for s in slider_boxes], sliders, [state, api_face, *slider_boxes], edited,
              api_name=prefix + "sliders", preprocess=False, trigger_mode="always_last", show_progress="hidden",
              **model_event)
        reset_button.click(reset, [state], [edited, *slider_boxes], api_name=prefix + "reset", show_progress="hidden",
                           **model_event)
        swap_button.click(swap, [swap_a, swap_b, swap_attribute],
                          [swap_view_a, swap_view_b, swap_recon_a, swap_recon_b, swap_ab, swap_ba],
                          api_name=prefix + "swap", preprocess=False, **model_event)
        interp_button.click(interpolate, [interp_a, interp_b, steps, what], interp_strip, api_name=prefix + "interpolate",
                            preprocess=False, **model_event)
        gr.on([topology_tab.select, topo_attribute.change, topo_color.change], show_topology,
              [topo_attribute, topo_color, state, api_face], [topo_plot, topo_note], api_name=prefix + "topology",
              preprocess=False, trigger_mode="always_last", **model_event)
        debug_button.click(label_debug, [debug_source, debug_k], debug_gallery, api_name=prefix + "label_debug",
                           **model_event)
        gr.on([retrieval_tab.select, retrieve_button.click, k.release], retrieve, [k, state, api_face],
              [retrieve_note, by_identity, by_expression], api_name=prefix + "retrieve", preprocess=False,
              trigger_mode="always_last", **model_event)


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
