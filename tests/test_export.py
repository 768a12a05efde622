"""Exports: PNG at a presentable size, GIF and MP4 animations (frame count, size, even sides), sweeps and strips."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

import facelab
from facelab import export


def _frames(n: int, size: tuple[int, int] = (64, 64)) -> list[Image.Image]:
    """Distinct frames (GIF merges identical consecutive ones)."""
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(n)]


def _decoded(path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return facelab.load(tiny_checkpoint, device="cpu")


def test_upscale_is_nearest_neighbour_to_the_asked_height():
    face = _frames(1)[0]
    big = export.upscale(face, 512)
    assert big.size == (512, 512)
    # every model pixel became an 8×8 block of exactly its colour
    assert np.array_equal(np.asarray(big)[::8, ::8], np.asarray(face))
    assert export.upscale(_frames(1, (64 * 8, 64))[0], 512).size == (4096, 512)  # a strip keeps its proportions
    assert export.caption(face, big) == "native 64 px, shown at 512 px"


def test_gif_frame_count_size_loop_and_timing(tmp_path):
    frames = [export.upscale(f, 128) for f in _frames(5)]
    gif = Image.open(io.BytesIO(export.to_gif(frames, fps=10)))
    assert (gif.n_frames, gif.size, gif.info["loop"], gif.info["duration"]) == (5, (128, 128), 0, 100)
    path = export.to_gif(frames, tmp_path / "once.gif", fps=5, loop=False)
    once = Image.open(path)
    assert once.n_frames == 5 and "loop" not in once.info and once.info["duration"] == 200


@pytest.mark.parametrize("codec", [None, "mpeg4"])
def test_mp4_frame_count_and_size(tmp_path, codec):
    path = export.to_mp4([export.upscale(f, 128) for f in _frames(7)], tmp_path / "a.mp4", fps=10, codec=codec)
    frames = _decoded(path)
    assert len(frames) == 7 and (frames[0].width, frames[0].height) == (128, 128)


def test_mp4_pads_odd_sides_to_even(tmp_path):
    frames = _decoded(export.to_mp4(_frames(3, (63, 65)), tmp_path / "odd.mp4"))
    assert len(frames) == 3 and (frames[0].width, frames[0].height) == (64, 66)


def test_this_pyav_has_h264():
    assert export.video_codec() == "libx264"


def _close(a, b) -> bool:
    """Equal up to 8-bit rounding: a batched decode may differ from a single one in the last bit."""
    return int(np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max()) <= 1


def test_sweep_and_strip_frames(model):
    code = model.encode(_frames(1)[0])
    attribute, dim = "expression", model.top_dimensions("expression")[0]
    sweep = export.sweep_frames(model, code, attribute, dim, steps=6)
    assert len(sweep) == 6 and sweep[0].size == (64, 64)
    low, high = model.code_bounds(attribute)
    expected = model.decode(model.traverse(code, attribute, dim, [low[dim], high[dim]]))
    assert _close(sweep[0], expected[0]) and _close(sweep[-1], expected[1])  # the slider range, low to high
    with pytest.raises(ValueError):
        export.sweep_frames(model, code, attribute, 99)
    other = model.encode(_frames(2)[1])
    strip = export.strip_frames(model, code, other, steps=5, attribute="identity")
    assert len(strip) == 5
    assert _close(strip[0], model.decode(code))
    assert export.pingpong([1, 2, 3, 4]) == [1, 2, 3, 4, 3, 2]


def test_saved_files_are_new_each_time_and_complete(tmp_path):
    frames = _frames(4)
    first = export.save_animation(frames, tmp_path, fps=8, size=256)
    second = export.save_animation(frames, tmp_path, fps=8, size=256, loop=False)
    assert len({first["gif"], first["mp4"], second["gif"], second["mp4"]}) == 4
    assert first["caption"] == "native 64 px, shown at 256 px"
    assert Image.open(first["gif"]).n_frames == 6  # forwards and back: 4 + 2
    assert len(_decoded(first["mp4"])) == 6
    assert Image.open(second["gif"]).n_frames == 4 and len(_decoded(second["mp4"])) == 4
    png = export.save_png(frames[0], tmp_path)
    assert png["png"].endswith(".png") and Image.open(png["png"]).size == (512, 512)
    assert png["caption"] == "native 64 px, shown at 512 px"
    assert len(list(tmp_path.iterdir())) == 5
