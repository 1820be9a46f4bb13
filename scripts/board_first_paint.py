"""First paint of the dispatch board on a fresh server, in a real browser.

Starts ``streamlit run dashboard/app.py`` (a new store, no service configured: the board starts
its own), opens the board in headless Chromium and times, by the page's own clock from the start
of the navigation (looked at every animation frame: Playwright's polling lags by a second or
more on a loaded machine):

* ``tiles_s``: the first KPI tile on the page;
* ``map_s``: the first map shown: the SVG sketch (``dashboard.sketch``), or deck.gl's canvas on
  a checkout without it;
* ``first_paint_s``: tiles and a map shown (the later of the two);
* ``deck_s``: deck.gl's canvas (the zoomable map, drawn over the sketch);
* ``live_s``: the board showing the live plan of its service (the live-event count), as
  Playwright sees it from ``page.goto``, like ``pw_first_paint_s`` (tiles and a map).

A fresh server draws its first paint from the demo's kept table (``dashboard.firstpaint``) when
one is there for the checkout's code: run once first (``--runs`` counts every run) to keep it.

Usage: ``.venv/bin/python scripts/board_first_paint.py [--lang zh|en] [--runs N] [--repo DIR]
[--shot first-paint.png]``; prints one JSON line per run with the load average
(``os.getloadavg``) next to the figures. ``--repo`` runs another checkout's dashboard (a
reference measured in the same session); ``FIRST_PAINT_LOG=1`` prints the app's log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
DECK_CANVAS = '[data-testid="stDeckGlJsonChart"] canvas'
SKETCH = "img.sketch-map"
# When each first shows in the page (ms from the navigation's start, the page's own clock),
# looked at every animation frame: deck.gl's canvas counts once it has a size (it is in the page
# a while before it is laid out and drawn).
OBSERVER_JS = """window.__firstSeen = {};
(() => {
  const deck = () => { const c = document.querySelector(%s);
                       return !!c && c.width > 0 && c.getBoundingClientRect().height > 0; };
  const shown = {tiles: () => !!document.querySelector('[data-testid="stMetric"]'),
                 map: () => !!document.querySelector(%s) || deck(), deck: deck};
  const look = () => {
    const now = performance.now();
    for (const [name, test] of Object.entries(shown))
      if (!(name in window.__firstSeen) && test()) window.__firstSeen[name] = now;
    if (Object.keys(window.__firstSeen).length < 3) requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})();""" % (json.dumps(DECK_CANVAS), json.dumps(SKETCH))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def board_server(repo: Path = REPO) -> Iterator[tuple[str, IO[str]]]:
    """A fresh ``streamlit run`` of ``repo``'s board on a free port with a new store (no service
    configured: the board starts its own): its URL and log, once it answers."""
    port = _port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**{k: v for k, v in os.environ.items() if k != "DISPATCH_SERVICE_URL"},
               "DISPATCH_DB": str(Path(tmp) / "fp.sqlite"), "PYTHONPATH": str(repo)}
        log = open(Path(tmp) / "streamlit.log", "w+")  # noqa: SIM115 - read on failure
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(repo / "dashboard" / "app.py"),
                                 "--server.headless", "true", "--server.address", "127.0.0.1",
                                 "--server.port", str(port)], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise SystemExit(f"streamlit did not start:\n{log.read()}") from None
                    time.sleep(0.3)
            yield url, log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def one_run(lang: str, repo: Path = REPO, shot: Path | None = None) -> dict[str, float | str]:
    with board_server(repo) as (url, log):
        load = os.getloadavg()[0]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(180_000)
            page.add_init_script(OBSERVER_JS)
            t0 = time.perf_counter()
            page.goto(f"{url}/?lang={lang}")
            if os.environ.get("FIRST_PAINT_LOG"):
                print("goto", round(t0, 2), "loaded", round(time.perf_counter(), 2), file=sys.stderr)
            page.wait_for_selector('[data-testid="stMetric"]')
            page.wait_for_selector(f"{SKETCH}, {DECK_CANVAS}")
            pw_first = time.perf_counter() - t0
            if shot is not None:  # what the dispatcher sees at first paint
                page.screenshot(path=str(shot))
            page.wait_for_selector(DECK_CANVAS)
            seen = {k: v / 1000 for k, v in page.evaluate("window.__firstSeen").items()}
            head = "实时事件：" if lang == "zh" else "live events:"
            page.locator("p:visible", has_text=head).first.wait_for()
            live = time.perf_counter() - t0
            browser.close()
        if os.environ.get("FIRST_PAINT_LOG"):
            log.seek(0)
            print(log.read()[-4000:], file=sys.stderr)
        return {"repo": str(repo), "lang": lang, "tiles_s": round(seen["tiles"], 2), "map_s": round(seen["map"], 2),
                "first_paint_s": round(max(seen["tiles"], seen["map"]), 2), "deck_s": round(seen["deck"], 2),
                "pw_first_paint_s": round(pw_first, 2), "live_s": round(live, 2),
                "load_1min": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", default="zh", choices=("zh", "en"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose dashboard is run (a reference)")
    ap.add_argument("--shot", type=Path, help="a screenshot (PNG) of the page at first paint")
    args = ap.parse_args()
    for _ in range(args.runs):
        print(json.dumps(one_run(args.lang, args.repo.resolve(), args.shot)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
