"""Take README's screenshot of the app: start it, click an example face, capture the page.

    pip install playwright==1.65.2 && apt-get install chromium   # dev-only, not in requirements.txt
    python docs/screenshot.py --out docs/app.png [--checkpoint synthetic-disvae] [--tab Swap]

Uses the system Chromium through Playwright (no browser download).
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/app.png")
    p.add_argument("--checkpoint", default="synthetic-disvae")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--example", type=int, default=1, help="which example face to click (0-based)")
    p.add_argument("--tab", default=None, help="open this tab after encoding (e.g. Swap; default: Encode)")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    import facelab
    from facelab import demo as D

    waited_for = D.probability_label(facelab.load(args.checkpoint))  # e.g. "Expression (from z_exp)"
    demo = app.build_app(args.checkpoint)
    port = free_port()
    demo.launch(**app.launch_options(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded", timeout=60000)
            page.get_by_text("Example faces").first.wait_for(timeout=60000)
            page.locator(".gallery-item, button.gallery-item, [data-testid='examples'] button").nth(args.example).click()
            page.get_by_text(waited_for).first.wait_for()
            page.wait_for_timeout(4000)  # let the encode event and the images settle
            if args.tab:
                page.get_by_role("tab", name=args.tab).first.click()
                page.wait_for_timeout(2000)
            page.screenshot(path=args.out, full_page=False)
            browser.close()
    finally:
        demo.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
