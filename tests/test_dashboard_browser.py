"""The dashboard in a real browser: ``streamlit run`` on a free loopback port, each page opened in
headless Debian Chromium through Playwright (the system browser; Playwright never downloads one).

Waits for the map canvas and the KPI tiles, clicks one interaction per page that has one, saves
screenshots and the render timings under ``test-artifacts/``, checks that no request left the
machine (the maps work offline), and prints the browser console when anything fails.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = [  # (url path, file stem, has a map)
    ("", "board", True),
    ("network", "network", True),
    ("simulation", "simulation", False),
    ("upload", "upload", False),
]

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (Debian package 'chromium'; .ci/run installs it)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_error(line: str) -> bool:
    """Console lines that mean something broke. Left out: Chromium's URL-less "Failed to load
    resource" (each also comes as an ``http``/``requestfailed`` line with its URL), Streamlit's own
    probes of ``<page>/_stcore/`` on a page's sub-path (it then tries the root), and blob URLs
    that deck.gl aborts on purpose, and the board's download buttons' files on our own server
    (``/media/``) that the browser aborts when the page navigates away before they finish."""
    if "Failed to load resource" in line or "favicon" in line:
        return False
    if line.startswith("http 404") and "/_stcore/" in line:
        return False
    if line.startswith("requestfailed: blob:"):
        return False
    if line.startswith("requestfailed: http://127.0.0.1:") and "/media/" in line and "ERR_ABORTED" in line:
        return False
    return line.startswith(("error", "pageerror", "requestfailed", "http "))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    tmp = tmp_path_factory.mktemp("dash")
    with open(tmp / "streamlit.log", "w+") as log:
        env = {**os.environ, "DISPATCH_DB": str(tmp / "dash.sqlite")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"),
             "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none"],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                proc.kill()
                pytest.fail(f"streamlit did not start:\n{log.read()}")
            time.sleep(0.3)
        yield url, log
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_every_page_renders_in_chromium_offline(server, tmp_path):
    url, log = server
    ARTIFACTS.mkdir(exist_ok=True)
    console: list[str] = []
    hosts: set[str] = set()
    timings: dict[str, float] = {}
    with playwright.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = ctx.new_page()
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: console.append(f"requestfailed: {r.url[:200]} {r.failure}"))
        page.on("response", lambda r: console.append(f"http {r.status}: {r.url[:200]}") if r.status >= 400 else None)
        page.on("request", lambda r: hosts.add(r.url.split("/")[2]) if "://" in r.url and not r.url.startswith("data:") else None)
        try:
            for path, stem, has_map in PAGES:
                t0 = time.perf_counter()
                page.goto(f"{url}/{path}")
                page.wait_for_selector('[data-testid="stMetric"]', timeout=90_000)
                if has_map:
                    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
                page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=90_000)
                timings[stem] = round(time.perf_counter() - t0, 2)
                page.wait_for_timeout(800)  # let deck.gl paint before the picture
                page.screenshot(path=str(ARTIFACTS / f"dashboard-{stem}.png"), full_page=True)
                # Rerun a page (warm): the figure the 3-second target is about.
                t0 = time.perf_counter()
                page.reload()
                page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
                page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
                timings[f"{stem}_warm"] = round(time.perf_counter() - t0, 2)

            # One interaction on the board: run the plan; the progress bar gives way to "Plan ready".
            page.goto(url)
            page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
            t0 = time.perf_counter()
            page.get_by_role("button", name="Run plan").click()
            page.get_by_text("Plan ready in").wait_for(timeout=120_000)
            timings["board_run_plan"] = round(time.perf_counter() - t0, 2)
            page.screenshot(path=str(ARTIFACTS / "dashboard-board-after-run.png"), full_page=True)

            # The whole province from the board: a process pool, with visible progress.
            page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').nth(2).click()
            page.get_by_role("option", name="whole province").click()
            page.get_by_text("press Run plan", exact=False).wait_for(timeout=60_000)
            t0 = time.perf_counter()
            page.get_by_role("button", name="Run plan").click()
            page.wait_for_selector('[data-testid="stProgress"]', timeout=30_000)
            page.get_by_text("Plan ready in").wait_for(timeout=120_000)
            timings["board_province_plan"] = round(time.perf_counter() - t0, 2)
            page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
            page.wait_for_timeout(800)
            page.screenshot(path=str(ARTIFACTS / "dashboard-board-province.png"), full_page=True)
            ready = page.get_by_text("Plan ready in").inner_text()
            print("province plan:", ready)

            # And on the network page: suggest stations, shown in a table and on the map.
            page.goto(f"{url}/network")
            page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=60_000)
            page.get_by_role("button", name="Suggest stations").click()
            page.get_by_text("Greedy maximal covering").wait_for(timeout=60_000)
            page.wait_for_timeout(800)
            page.screenshot(path=str(ARTIFACTS / "dashboard-network-suggested.png"), full_page=True)
        except Exception:
            log.flush()
            log.seek(0)
            print("---- browser console ----\n" + "\n".join(console))
            print("---- streamlit log ----\n" + log.read())
            raise
        finally:
            ctx.close()
    (ARTIFACTS / "dashboard-timings.json").write_text(json.dumps(timings, indent=2))
    print("render timings (s):", timings)
    errors = [c for c in console if _is_error(c)]
    assert not errors, "browser console errors:\n" + "\n".join(errors)
    outside = {h for h in hosts if not h.startswith(("127.0.0.1", "localhost"))}
    assert not outside, f"the dashboard fetched from outside the machine: {sorted(outside)}"
