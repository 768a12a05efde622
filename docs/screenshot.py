"""Take README's screenshots of the app: start it, click an example face, then capture tab by tab.

    pip install playwright==1.65.2 && apt-get install chromium     # no browser download: the system Chromium
    python docs/screenshot.py [--out-dir docs] [--checkpoint synthetic-disvae --checkpoint swap-synthetic ...]
                              [--only app,sliders]

Writes (1280×900 viewport, PNG reduced to 256 colours to stay small):

* ``app.png``          -- Encode: an example face, the model's view, its reconstruction and expression bars
* ``sliders.png``      -- Sliders: one expression dimension moved, the edited face and its read-back
* ``topology.png``     -- Topology: the map with your face starred, a gallery face shown on hover
* ``presenter.png``    -- Presenter: the face and its edit large, and the face through every loaded model
* ``how_it_works.png`` -- How it works: the method diagram

The first checkpoint is the main page; the others are what "compare models" compares with (default: every
bundled synthetic checkpoint).
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app  # noqa: E402

SHOTS = ("app", "sliders", "topology", "presenter", "how_it_works")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]
TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def save_small(png: bytes, path: Path) -> None:
    """A screenshot as a 256-colour PNG (a third of the size; the UI has few colours)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} kB)")


def tab(page, name: str):
    page.get_by_role("tab", name=name, exact=True).click()
    panel = page.locator(".tabitem").filter(visible=True)
    panel.first.wait_for()
    return panel


def wait_text(locator, text: str) -> None:
    locator.filter(has_text=text).first.wait_for()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=str(Path(__file__).resolve().parent))
    p.add_argument("--checkpoint", action="append", default=None,
                   help="repeat for several (default: synthetic-disvae, then the other bundled synthetic ones)")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--example", type=int, default=1, help="which example face to click (0-based)")
    p.add_argument("--only", default=",".join(SHOTS), help=f"comma-separated subset of {', '.join(SHOTS)}")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    import facelab
    from facelab import demo as D
    from facelab.checkpoint import bundled_names

    checkpoints = args.checkpoint or ["synthetic-disvae"] + [
        n for n in bundled_names() if n != "synthetic-disvae" and facelab.load(n).config.alignment != "mtcnn"]
    waited_for = D.probability_label(facelab.load(checkpoints[0]))  # e.g. "Expression (from z_exp)"
    only = set(args.only.split(","))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    demo = app.build_app(checkpoints)
    port = free_port()
    demo.launch(**app.launch_options(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True))

    def to_tabs(page) -> None:
        """Scroll the tab bar to the top of the viewport."""
        page.evaluate("() => { const bar = document.querySelector('[role=tablist]'); "
                      "window.scrollTo(0, bar.getBoundingClientRect().top + window.scrollY - 8); }")

    def shot(page, name: str, height: int = 900, scroll: bool = True) -> None:
        """The viewport from the tab bar down (``height`` px), once images and plots have settled."""
        page.set_viewport_size({"width": 1280, "height": height})
        if scroll:
            to_tabs(page)
        page.wait_for_timeout(1500)
        save_small(page.screenshot(full_page=False), out / f"{name}.png")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.evaluate("() => window.scrollTo(0, 0)")

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            page.get_by_text("Example faces").first.wait_for()
            page.locator(".gallery-item").nth(args.example).click()
            page.get_by_text(waited_for).first.wait_for()
            page.locator(".tabitem").filter(visible=True).locator("img").nth(2).wait_for()
            if "app" in only:
                shot(page, "app")
            if "sliders" in only:
                panel = tab(page, "Sliders")
                wait_text(panel.locator(".readback"), "reads as")
                panel.locator("input[type=range]").first.evaluate(
                    "(e) => { e.value = Number(e.min) + 0.85 * (e.max - e.min); "
                    "e.dispatchEvent(new Event('input', {bubbles: true})); }")
                page.wait_for_timeout(500)
                wait_text(panel.locator(".readback"), "reads as")
                shot(page, "sliders")
            if "topology" in only:
                panel = tab(page, "Topology")
                panel.locator(".js-plotly-plot").first.wait_for()
                to_tabs(page)
                page.wait_for_timeout(1000)
                box = panel.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
                shown = "() => document.getElementById('facelab-hover')?.style.display === 'block'"
                for k in range(1, 400):  # a point whose face the hover script shows
                    page.mouse.move(box["x"] + box["width"] * (0.3 + 0.4 * (k % 23) / 23),
                                    box["y"] + box["height"] * (0.2 + 0.6 * (k // 23) / 17))
                    if page.evaluate(shown):
                        break
                shot(page, "topology", scroll=False)
            if "presenter" in only:
                panel = tab(page, "Presenter")
                panel.locator(".gallery-item").nth(args.example + 1).click()
                wait_text(panel.locator(".readback"), "like your face")
                panel.locator("input[type=range]").first.evaluate(
                    "(e) => { e.value = 2.5; e.dispatchEvent(new Event('input', {bubbles: true})); }")
                page.wait_for_timeout(1000)
                panel.get_by_role("button", name="Compare models").click()
                wait_text(panel.locator(".compare"), "reads as")
                shot(page, "presenter", height=1330)
            if "how_it_works" in only:
                panel = tab(page, "How it works")
                panel.locator(".diagram svg").first.wait_for()
                shot(page, "how_it_works")
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
