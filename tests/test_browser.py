"""Every feature of the app in a real browser: headless Chromium driven by Playwright against the app
served on a free local port (test_app.py's tiny checkpoint, with a topology).

Skips cleanly where Playwright or a Chromium executable is missing: it looks at ``$PLAYWRIGHT_CHROMIUM``,
then /usr/bin/chromium and chromium / chromium-browser / google-chrome on the PATH (no browser download:
``pip install playwright`` and Debian's ``chromium`` package are enough). The tests share one page and run
in order, as a user would: encode an example, then move a slider, swap, interpolate and export, look at
the map (and hover it), the diagram, stream Chromium's fake camera and use the presenter view.
"""

from __future__ import annotations

import os
import shutil

import pytest
from test_app import app_checkpoint, examples, model, served  # noqa: F401  (fixtures, reused)

from facelab import demo as D

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

TABS = ["Encode", "Sliders", "Swap", "Interpolate", "Topology", "Retrieval", "Live (webcam)", "Presenter",
        "How it works", "Evaluation"]
TIMEOUT_MS = 20_000  # one interaction on a busy 2-core machine (the model events queue behind each other)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update",  # offline, quiet
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]  # a synthetic camera


def _chromium() -> str | None:
    candidates = [os.environ.get("PLAYWRIGHT_CHROMIUM"), "/usr/bin/chromium",
                  *(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome"))]
    return next((c for c in candidates if c and os.path.isfile(c) and os.access(c, os.X_OK)), None)


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium executable (set $PLAYWRIGHT_CHROMIUM)")


@pytest.fixture(scope="module")
def page(served):
    """One browser page on the served app, shared by the tests below in order (as one user's session)."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"])
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(served[0], wait_until="domcontentloaded")
            page.get_by_text("Example faces (click one)").first.wait_for()
            yield page
        finally:
            browser.close()


def _tab(page, name: str):
    """Open a tab; returns its panel (Gradio renders a tab's panel on first visit)."""
    page.get_by_role("tab", name=name, exact=True).click()
    panel = page.locator(".tabitem").filter(visible=True)
    panel.first.wait_for()
    return panel


def _wait_text(locator, text: str):
    locator.filter(has_text=text).first.wait_for()
    return locator.filter(has_text=text).first.inner_text()


def test_encode_an_example(page, model):
    panel = _tab(page, "Encode")
    panel.locator(".gallery-item").first.click()
    label = D.probability_label(model)
    _wait_text(panel.locator(".block"), label)
    # the photo, the model's view and its reconstruction are on screen
    panel.locator("img").nth(2).wait_for()


def test_a_slider_move_redraws_the_face_and_its_read_back(page):
    panel = _tab(page, "Sliders")
    edited = panel.locator("img.inline-face").first
    readback = panel.locator(".readback").first
    readback.filter(has_text="reads as").wait_for()  # after the encode: the reconstruction, read back
    before, text_before = edited.get_attribute("src"), readback.inner_text()
    assert before.startswith("data:image/png;base64,")
    panel.locator("input[type=range]").first.evaluate(
        "(e) => { e.value = e.max; e.dispatchEvent(new Event('input', {bubbles: true})); }")
    page.wait_for_function("([el, src]) => el.src !== src", arg=[edited.element_handle(), before])
    page.wait_for_function("([el, text]) => el.innerText.includes('reads as') && el.innerText !== text",
                           arg=[readback.element_handle(), text_before])
    assert "like your face" in readback.inner_text()


def test_swap_shows_the_read_back(page):
    panel = _tab(page, "Swap")
    faces = panel.locator(".gallery-item")
    faces.nth(0).click()
    faces.nth(faces.count() // 2).click()  # the first of B's examples
    panel.get_by_role("button", name="Swap", exact=True).click()
    text = _wait_text(panel.locator(".readback"), "A with B's expression:")
    assert "B with A's expression:" in text and "like A" in text


def test_interpolate_and_download_the_gif(page):
    panel = _tab(page, "Interpolate")
    faces = panel.locator(".gallery-item")
    faces.nth(0).click()
    faces.nth(faces.count() // 2).click()
    panel.get_by_role("button", name="Interpolate", exact=True).click()
    text = _wait_text(panel.locator(".readback"), "t=1.00")
    assert "t=0.00" in text
    panel.get_by_role("button", name="A → B → GIF + MP4").click()
    gif = panel.locator("a[href*='.gif']").first
    gif.wait_for()
    assert gif.get_attribute("download") is not None
    with page.expect_download() as download:
        gif.click()
    assert download.value.suggested_filename.endswith(".gif")
    assert panel.locator("a[href*='.mp4']").count() >= 1


def test_topology_map_with_the_star(page):
    panel = _tab(page, "Topology")
    panel.locator(".js-plotly-plot").first.wait_for()
    _wait_text(panel.locator(".prose, .md"), "★ marks your face")
    assert panel.locator(".js-plotly-plot .legendtext").filter(has_text=D.YOUR_FACE).count() == 1
    # hovering a point shows its face beside the pointer (launch_options' head script): sweep the plot area
    plot = panel.locator(".js-plotly-plot").first
    plot.locator(".scatterlayer .point").first.wait_for()  # the points drawn, the layout settled
    shown = "() => document.getElementById('facelab-hover')?.style.display === 'block'"
    for cols, rows in ((19, 11), (38, 22)):  # a finer second sweep: a loaded machine can drop mouse moves
        box = plot.locator(".nsewdrag").first.bounding_box()
        for k in range(cols * rows):
            page.mouse.move(box["x"] + box["width"] * (k % cols + 0.5) / cols,
                            box["y"] + box["height"] * (k // cols + 0.5) / rows)
            if page.evaluate(shown):
                break
        if page.evaluate(shown):
            break
    assert page.evaluate(shown)
    assert page.locator("#facelab-hover").get_attribute("src").startswith("data:image/")


def test_how_it_works_diagram(page):
    panel = _tab(page, "How it works")
    svg = panel.locator(".diagram svg").first
    svg.wait_for()
    assert "expression code" in svg.inner_html()
    assert panel.get_by_text("Key figures").count() >= 1


def test_webcam_tab_streams_frames(page, model):
    """Chromium's fake camera (a moving test pattern) streams to the model: the synthetic model takes the
    centre crop of each frame, so results arrive live; stopping the stream ends them."""
    panel = _tab(page, "Live (webcam)")
    panel.get_by_text(D.live_frame(model, None).message).first.wait_for()  # no frame yet
    panel.get_by_text("Click to Access Webcam").click()
    panel.locator("button", has_text="Record").click()  # (its accessible name is "capture photo")
    panel.locator("img.inline-face").nth(1).wait_for()  # the aligned face and its reconstruction
    _wait_text(panel.locator(".live-message"), "reads as")
    panel.locator("button", has_text="Stop").click()


def test_presenter_view(page, model):
    panel = _tab(page, "Presenter")
    big = panel.locator(".presenter img.inline-face").first
    big.wait_for()
    assert big.bounding_box()["height"] >= 400  # large, for a projector
    panel.get_by_role("button", name="Random face").click()
    _wait_text(panel.locator(".readback"), "like your face")  # the random face, encoded and read back
    panel.get_by_role("button", name="Compare models").click()
    caption = _wait_text(panel.locator(".compare"), "reads as")
    assert D.model_name(model) in caption
    assert page.get_by_role("tab").all_inner_texts() == TABS  # every tab keeps its own label
