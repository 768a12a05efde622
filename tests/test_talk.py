"""The talk and the classroom (issue 14) in the app: measured edits, exports (GIF, MP4, PNG), the live
webcam endpoint, the presenter view and "How it works" — facelab.demo's functions, then the served app
through gradio_client. Uses test_app.py's fixtures (a tiny checkpoint with a topology, served locally)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from test_app import (  # noqa: F401  (fixtures, reused)
    _close,
    _image,
    app_checkpoint,
    client,
    examples,
    model,
    served,
    three_codes,
)

from facelab import demo as D
from facelab import export


def _gif(path) -> tuple[int, tuple[int, int], list[int]]:
    """Frame count, size and each frame's duration (ms) of a GIF."""
    with Image.open(path) as gif:
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
        return gif.n_frames, gif.size, durations


def _mp4(path) -> tuple[int, tuple[int, int]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return len(frames), (frames[0].width, frames[0].height)


def _check_animation(gif, mp4, frames_one_way: int, height: int = export.DISPLAY_SIZE, width: int | None = None):
    """Forwards then back (no end repeated): 2n - 2 frames at export.FPS, ``height`` px high. Pillow merges
    identical consecutive GIF frames into one longer frame, so the GIF's total duration is what is exact."""
    shown = 2 * frames_one_way - 2
    size = (width or height, height)
    assert _mp4(mp4) == (shown, size)
    n, gif_size, durations = _gif(gif)
    assert gif_size == size and 2 <= n <= shown
    assert sum(durations) == shown * round(1000 / export.FPS)


# --------------------------------------------------------------------------------------------
# facelab.demo, without Gradio


def test_result_folder_adopts_files_written_beside_it(tmp_path):
    folder = D.ResultFolder(tmp_path / "results", max_age_s=3600)
    png, caption = D.export_png(Image.new("RGB", (64, 64), (200, 10, 10)), folder)
    assert Path(png).parent == folder.directory and caption == "native 64 px, shown at 512 px"
    with Image.open(png) as im:
        assert im.size == (512, 512)
    elsewhere = tmp_path / "other.png"
    elsewhere.write_bytes(b"")
    with pytest.raises(ValueError, match="is not in"):
        folder.adopt(elsewhere)
    folder.clear()  # at exit: exported files go with the rest
    assert not Path(png).exists() and elsewhere.exists()


def test_exports_into_the_result_folder(model, examples, tmp_path):
    folder = D.ResultFolder(tmp_path)
    a, b = model.encode(examples[0]), model.encode(examples[1])
    gif, mp4, caption = D.export_strip(model, a, b, folder, steps=5, attribute=None)
    _check_animation(gif, mp4, 5)
    assert "5 frames" in caption and "native 64 px, shown at 512 px" in caption
    gif, mp4, caption = D.export_sweep(model, a, "identity", model.top_dimensions("identity", 1)[0], folder, steps=6)
    _check_animation(gif, mp4, 6)
    assert caption.startswith("identity · dim ")
    assert {Path(p).suffix for _, p in folder._written} == {".gif", ".mp4"} and len(folder._written) == 4
    with pytest.raises(ValueError, match="steps must be between"):
        D.export_sweep(model, a, "identity", 0, folder, steps=1)
    with pytest.raises(ValueError, match="unknown attribute"):
        D.export_strip(model, a, b, folder, attribute="hair")
    choices = D.dimension_choices(model, "expression")
    assert [d for _, d in choices] == model.top_dimensions("expression", k=4) and choices[0][0].startswith("dim ")


def test_measured_edits(model, examples):
    a, b = model.encode(examples[0]), model.encode(examples[1])
    faces, found = D.swap_readback(model, a, b, "identity")
    assert list(found) == ["A with B's identity", "B with A's identity"] and len(faces) == 4
    for got, want in zip(faces, D.swap_faces(model, a, b, "identity")):
        assert _close(got, want)
    assert found["A with B's identity"].image is faces[2]
    strip, frames = D.interpolation_readback(model, a, b, steps=3, attribute="expression")
    assert strip.size == (3 * 64, 64) and list(frames) == ["t=0.00", "t=0.50", "t=1.00"]
    assert _close(strip, D.interpolation_strip(model, a, b, steps=3, attribute="expression"))
    text = D.readback_markdown(frames)
    assert text.count("**t=") == 3 and frames["t=0.50"].summary() in text
    assert D.readback_json(frames)["t=0.00"]["summary"] == frames["t=0.00"].summary()
    one = D.slider_readback(model, a, a)
    assert set(one.similarity["identity"]) == {"your face"} and D.readback_markdown(one).endswith(one.summary())
    with pytest.raises(ValueError):
        D.interpolation_readback(model, a, b, steps=1)


def test_presenter_functions(model, examples, three_codes):
    code = D.random_code(model, seed=1)
    assert code == D.random_code(model, seed=1) and code != D.random_code(model, seed=2)
    assert D.random_face(model, seed=1).size == (64, 64)
    many = [D.random_code(model, seed=s).identity for s in range(400)]  # a sample of the prior
    mean, std = model.code_range("identity")
    low, high = model.code_bounds("identity")
    assert np.allclose(np.mean(many, 0), mean, atol=0.25 * std.max()) and np.allclose(np.std(many, 0), std, rtol=0.2)
    assert (np.min(many, 0) >= low).all() and (np.max(many, 0) <= high).all()  # within the slider ranges
    dim = model.top_dimensions("expression", 1)[0]
    moved = D.set_dimension(model, code, "expression", dim, 0.5)  # half way from the mean to the high end
    assert D.dimension_value(model, moved, "expression", dim) == pytest.approx(0.5, abs=1e-3)
    (mean, _), (low, high) = model.code_range("expression"), model.code_bounds("expression")
    assert moved.expression[dim] == pytest.approx((mean[dim] + high[dim]) / 2, rel=1e-5)
    assert np.array_equal(moved.identity, code.identity)
    ends = [D.set_dimension(model, code, "expression", dim, v) for v in (-99, 0.0, 99)]  # clipped to the range
    assert [c.expression[dim] for c in ends] == pytest.approx([low[dim], mean[dim], high[dim]], rel=1e-5)
    assert [D.dimension_value(model, c, "expression", dim) for c in ends] == [-1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="dimensions"):
        D.set_dimension(model, code, "expression", 99, 0.0)
    three, _ = three_codes
    found = D.compare_models([model, three], D.read_upload(str(examples[0])))
    assert [c.split(" ")[0] for _, c in found] == [D.model_name(model), D.model_name(three)]
    assert all(im.height == 256 for im, _ in found) and "reads as" in found[0][1]


# --------------------------------------------------------------------------------------------
# The served app, through gradio_client


def test_gif_and_mp4_endpoints(client, served, examples):
    """Export endpoints: frame count and size of the strip's and the sweep's GIF and MP4, written into the
    app's result folder (new files, deleted with the other results)."""
    from gradio_client import handle_file

    import app

    a, b = handle_file(str(examples[0])), handle_file(str(examples[1]))
    gif, mp4, caption = client.predict(a, b, 4, "everything", api_name="/export_strip")
    _check_animation(gif, mp4, 4)
    assert "native 64 px, shown at 512 px" in caption
    gif, mp4, caption = client.predict(None, "identity", None, 8, api_name="/export_sweep")  # the average face
    _check_animation(gif, mp4, 8)
    assert caption.startswith("identity · dim ")
    kept = {Path(p).suffix for _, p in app._results()._written}
    assert {".gif", ".mp4"} <= kept
    with pytest.raises(Exception, match="steps must be between"):
        client.predict(None, "identity", 0, 200, api_name="/export_sweep")


def test_png_exports(client, model, examples):
    from gradio_client import handle_file

    png, caption = client.predict(handle_file(str(examples[0])), api_name="/export_png")
    assert _image(png).shape == (512, 512, 3) and caption == "native 96 px, shown at 512 px"
    specs = D.slider_specs(model)
    values = [s.maximum for s in specs]
    png, caption = client.predict(None, *values, api_name="/sliders_png")
    edited = np.asarray(model.decode(D.apply_sliders(D.mean_code(model), specs, values)))
    assert np.array_equal(_image(png)[::8, ::8], edited) and caption == "native 64 px, shown at 512 px"


def test_live_frame_endpoint(client, model, examples):
    from gradio_client import handle_file

    frame = Image.new("RGB", (320, 240), (90, 90, 90))  # webcam-shaped, the face in the middle
    with Image.open(examples[0]) as face:
        frame.paste(face.convert("RGB").resize((200, 200)), (60, 20))
    path = Path(examples[0]).with_name("frame.png")
    frame.save(path)
    view, reconstruction, label, message = client.predict(handle_file(str(path)), api_name="/live_frame")
    result = D.live_frame(model, frame)
    assert np.array_equal(_image(view), np.asarray(result.view))
    assert np.array_equal(_image(reconstruction), np.asarray(result.reconstruction))
    assert label["label"] == next(iter(result.probabilities)) and message == result.message
    assert message.startswith("reads as ")
    # no frame: the message, and nothing else (no error)
    view, reconstruction, label, message = client.predict(None, api_name="/live_frame")
    assert not view and not reconstruction and not label and message == D.live_frame(model, None).message


def test_presenter_endpoints(client, model, examples):
    from gradio_client import handle_file

    face = model.decode(D.random_code(model, seed=0))
    random = client.predict(api_name="/random_face")
    assert _image(random).shape == (64, 64, 3)
    assert not np.array_equal(_image(random), _image(client.predict(api_name="/random_face")))
    dim = model.top_dimensions("expression", 1)[0]
    edited, position = client.predict(handle_file(str(examples[2])), "expression", dim, api_name="/presenter_encode")
    code = model.encode(examples[2])
    assert np.array_equal(_image(edited), np.asarray(model.decode(code)))
    assert position == D.dimension_value(model, code, "expression", dim)
    # the session's presenter face, edited: one dimension two thirds of the way to its high end
    edited = client.predict(None, "expression", dim, 0.67, api_name="/presenter_edit")
    moved = D.set_dimension(model, code, "expression", dim, 0.67)
    assert np.array_equal(_image(edited), np.asarray(model.decode(moved)))
    note, figures = client.predict(None, "expression", dim, 0.67, api_name="/presenter_readback")
    assert figures["summary"] in note and set(figures["similarity"]["identity"]) == {"your face"}
    # compare models: one face through every loaded checkpoint (here one)
    path = Path(examples[0]).with_name("random.png")
    face.save(path)
    gallery = client.predict(handle_file(str(path)), api_name="/compare_models")
    assert len(gallery) == 1 and gallery[0]["caption"].startswith(f"{D.model_name(model)} (64 px) · reads as ")
    assert _image(gallery[0]["image"]).shape[0] == 256


def test_how_it_works_topology_notes_and_hover(served, client, examples):
    """How it works: the method diagram (SVG) and the key figures are on the page; the topology note
    describes the gallery; the page's head carries the hover script."""
    import gradio as gr
    from gradio_client import handle_file

    import app

    _, demo = served
    html = [b.value for b in demo.blocks.values() if isinstance(b, gr.HTML) and "<svg" in str(b.value)]
    assert len(html) == 1 and "expression code" in html[0]
    assert any(isinstance(b, gr.Markdown) and "Key figures" in str(b.value) for b in demo.blocks.values())
    _, note = client.predict("identity", "expression", handle_file(str(examples[0])), api_name="/topology")
    assert "generator faces of 4 people no model trained on" in note and "★" in note
    assert 'id = "facelab-hover"' in app.launch_options()["head"]
    webcams = [b for b in demo.blocks.values() if isinstance(b, gr.Image) and b.streaming]
    assert len(webcams) == 1 and webcams[0].sources == ["webcam"]
    stream = next(fn for fn in demo.fns.values() if fn.targets and fn.targets[0][1] == "stream")
    assert stream.stream_every == app.LIVE_EVERY_S and stream.time_limit == app.LIVE_TIME_LIMIT_S
    assert stream.concurrency_id == app.MODEL_QUEUE


def test_sliders_answer_inline_in_one_round_trip(served, model):
    """A slider move's answer holds the face itself: no result file is written, nothing to download."""
    import httpx

    import app

    url, _ = served
    before = len(app._results()._written)
    specs = D.slider_specs(model)
    with httpx.Client(base_url=url, timeout=30) as http:
        event = http.post("/gradio_api/call/sliders", json={"data": [None, *[s.maximum for s in specs], False]}).json()
        stream = http.get(f"/gradio_api/call/sliders/{event['event_id']}").text
    assert "event: complete" in stream and "data:image/png;base64," in stream
    assert len(app._results()._written) == before
    image = D.image_from_inline(stream.split("data: ", 1)[1].replace('\\"', '"'))
    expected = model.decode(D.apply_sliders(D.mean_code(model), specs, [s.maximum for s in specs]))
    assert np.array_equal(np.asarray(image), np.asarray(expected))
    assert D.inline_image(None) == "" and "image-rendering: pixelated" in app.CSS
