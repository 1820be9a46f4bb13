"""Small Streamlit components shared by the pages (KPI tiles, planning with a progress bar)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard import loaders, planning
from dashboard import state as S
from dashboard.formatting import Tile
from dispatch.plan import Pin, Plan

# Areas up to this many calls are planned as soon as they are opened (a few seconds); larger
# ones wait for "Run plan", so that browsing a province does not start a half-minute solve.
AUTO_PLAN_CALLS = 400


def tiles(items: Sequence[Tile]) -> None:
    cols = st.columns(len(items))
    for col, t in zip(cols, items):
        colour = "off" if t.delta is None else ("inverse" if t.lower_is_better else "normal")
        col.metric(t.label, t.value, delta=t.delta, help=t.help, delta_color=colour,
                   border=True)


def plan_for(sel: loaders.Selection, pins: tuple[Pin, ...] = (), force: bool = False) -> Plan | None:
    """The plan of the selection: from the cache, or solved here with a progress bar (forced,
    or automatically for a small area). None when a large area has not been planned yet."""
    key = sel.plan_key(pins)
    plan = None if force else loaders.cached_plan(key)
    if plan is None and (force or len(sel.area.requests) <= AUTO_PLAN_CALLS):
        workers = planning.plan_workers(sel.area, sel.prefecture)
        where = f" in {workers} processes" if workers > 1 else ""
        bar = st.progress(0.0, text=f"Planning {sel.title()}: {len(sel.area.requests)} calls{where}…")
        plan, wall = loaders.solve_plan(key, sel.area, sel.day, sel.seed, pins,
                                        sink=lambda f, text: bar.progress(f, text=f"{text}{where}"), workers=workers)
        bar.empty()
        st.session_state[S.LAST_RUN] = (key, wall, workers)
    return plan
