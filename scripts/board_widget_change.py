"""Widget changes on the dispatch board at province level, in a real browser.

Starts the board on a fresh server (``board_first_paint.board_server``), opens it in headless
Chromium, picks the whole province and runs its plan, then ``--rounds`` times: the clock a
quarter hour on (a whole page run: a new picture of the jobs), the jobs coloured by SLA risk
(the map's fragment, a colouring not drawn yet at that clock), and by state again. Each is timed
from the key press or click to the end of the script run it started (Streamlit's script-run
state on the page, by the page's clock). Prints one JSON line: every time, the medians
and the load average (``os.getloadavg``) before and after.

Usage: ``.venv/bin/python scripts/board_widget_change.py [--repo DIR] [--rounds N] [--lang zh|en]``
(``--repo``: another checkout's board, a reference measured in the same session).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from board_first_paint import CHROMIUM, FLAGS, REPO, board_server
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from dashboard.catalogue import MESSAGES


def say(lang: str, key: str) -> str:
    return MESSAGES[key][0 if lang == "zh" else 1]


# Every change of the app's script-run state (Streamlit's ``data-test-script-state`` on
# ``stApp``: running / notRunning), with the page's clock: a change is timed from the click to
# the end of the run it started, however short (a fixed wait for the running indicator can miss
# a run that has not begun yet on a loaded machine, and time nothing).
RUNS_JS = """window.__runs = [];
new MutationObserver(ms => { for (const m of ms) if (m.attributeName === 'data-test-script-state')
  window.__runs.push([m.target.getAttribute('data-test-script-state'), performance.now()]); })
  .observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});"""
RUN_OVER_JS = """t => { const r = window.__runs.filter(x => x[1] > t);
  const i = r.findIndex(x => x[0] === 'running');
  const end = i < 0 ? undefined : r.slice(i).find(x => x[0] === 'notRunning');
  return end ? end[1] - t : null; }"""


def idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_timeout(150)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=180_000)


LOST_AFTER_MS = 20_000  # no script run begun and ended this long after a click: the click was lost


def timed(page, act, lost: list[int]) -> float:  # type: ignore[no-untyped-def]
    """Seconds from ``act`` to the end of the script run it started (the page's clock). A click
    or key press that starts no run (the browser can lose one while the page settles) is made
    again, timed afresh, and counted in ``lost``: a lost input is not a slow widget."""
    for attempt in range(3):
        t = page.evaluate("performance.now()")
        act()
        try:
            took = page.wait_for_function(RUN_OVER_JS, arg=t, timeout=LOST_AFTER_MS).json_value()
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            lost.append(1)
            idle(page)
    idle(page)
    return round(float(took) / 1000, 2)


def one_run(lang: str, repo: Path, rounds: int) -> dict[str, object]:
    with board_server(repo) as (url, _log), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(180_000)
        page.add_init_script(RUNS_JS)
        page.goto(f"{url}/?lang={lang}")
        page.locator("p:visible", has_text="实时事件：" if lang == "zh" else "live events:").first.wait_for()
        idle(page)
        box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
            has_text=say(lang, "side.prefecture")).first
        box.click()
        page.get_by_role("option", name=say(lang, "side.whole_province")).click()
        idle(page)
        page.get_by_role("button", name=say(lang, "board.run")).click()
        page.locator(":is(p, div):visible", has_text=say(lang, "board.plan_ready")[:4]).first.wait_for()
        idle(page)
        page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas')
        load = os.getloadavg()[0]
        slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
        times: dict[str, list[float]] = {"clock": [], "risk": [], "state": []}
        lost: list[int] = []
        for _ in range(rounds):
            slider.focus()
            times["clock"].append(timed(page, lambda: slider.press("ArrowRight"), lost))
            for key in ("risk", "state"):
                label = page.get_by_text(say(lang, f"board.colour.{key}"), exact=True)
                times[key].append(timed(page, label.click, lost))
        browser.close()
    return {"repo": str(repo), "lang": lang, **{f"{k}_s": v for k, v in times.items()},
            **{f"{k}_median_s": statistics.median(v) for k, v in times.items()},
            "lost_inputs": len(lost), "load_1min": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", default="zh", choices=("zh", "en"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose dashboard is run (a reference)")
    args = ap.parse_args()
    print(json.dumps(one_run(args.lang, args.repo.resolve(), args.rounds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
