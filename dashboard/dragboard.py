"""The timeline one drags jobs on: a component of our own (``frontend/timeline/``: plain JS and
CSS, no outside request) mounted with Streamlit's components v2. It draws the rows the board's
timeline shows (grouped by centre, the clock line, ``jobs.gantt_segments`` in the Gantt's
colours) and sends back one drop, ``{request_id, technician_id, start_s, drop_id}``, which the
board turns into the target of its move form (``widgets._timeline_move``): the move itself is
the form's, submitted by the dispatcher to the service, as for a move by selection."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dashboard import formatting as F
from dashboard import i18n, jobs
from dashboard.figures import ROW_PX, SEGMENT_COLOURS, SLOT_S
from dashboard.i18n import t

FRONTEND = Path(__file__).parent / "frontend" / "timeline"
FILES = ("timeline.js", "timeline.css")
NAME = "repair_dispatch_timeline"
HOUR_PX = 96  # a quarter hour is 24 px: a drop lands where it is aimed at 1366 px
LABEL_PX = 150


@functools.cache
def _sources() -> tuple[str, str]:
    return tuple((FRONTEND / f).read_text(encoding="utf-8") for f in FILES)  # type: ignore[return-value]


def timeline_data(segments: pd.DataFrame, shown: Sequence[str], home: Mapping[str, str],
                  names: Mapping[str, str], table: pd.DataFrame, windows: Mapping[str, tuple[int, int]],
                  area_of: Mapping[str, str | None], epoch_date: str, now_s: int | None) -> dict[str, Any]:
    """What the component draws, in the board's language: ``shown`` technicians' rows in that
    order, each under its centre (``home``: technician -> centre, ``names``: centre -> name), their
    segments (``[row, kind, start_s, end_s, job]``, absolute seconds), each job's state, customer
    window (``windows``: job -> (start_s, end_s)), routing area (a bar is dropped within it) and
    whether it may move (``jobs.MOVABLE_STATES``), the day's span in whole hours and the clock."""
    index = {k: i for i, k in enumerate(shown)}
    seg = segments[segments["technician_id"].isin(index)]
    rows = [{"id": k, "label": k, "group": names.get(home[k], home[k]), "area": area_of.get(k)} for k in shown]
    segs = [[index[k], kind, int(a), int(b), job] for k, kind, a, b, job in
            seg[["technician_id", "kind", "start_s", "end_s", "request_id"]].itertuples(index=False)]
    worked = set(seg.loc[seg["kind"] == "work", "request_id"])
    info = table[table["request_id"].isin(worked)]
    job_data = {}
    for job, state, holder in info[["request_id", "state", "technician_id"]].itertuples(index=False):
        job_data[job] = {
            "state": state, "state_label": i18n.state(state), "movable": state in jobs.MOVABLE_STATES,
            "window": F.window(epoch_date, windows.get(job), weekday=False),
            "area": area_of.get(holder) if isinstance(holder, str) else None,
        }
    if len(seg):
        lo, hi = int(seg["start_s"].min()) // 3600 * 3600, -(-int(seg["end_s"].max()) // 3600) * 3600
    else:
        lo = hi = 0
    if now_s is not None and len(seg):
        lo, hi = min(lo, now_s // 3600 * 3600), max(hi, -(-now_s // 3600) * 3600)
    return {
        "rows": rows, "segs": segs, "jobs": job_data, "now_s": now_s, "lo_s": lo, "hi_s": hi,
        "slot_s": SLOT_S, "hour_px": HOUR_PX, "row_px": ROW_PX, "label_px": LABEL_PX,
        "kinds": [[k, t(f"seg.{k}"), c] for k, c in SEGMENT_COLOURS.items()],
        "text": {"axis": t("timeline.axis"), "job": t("col.request_id"), "window": t("col.window"),
                 "state": t("col.state"), "technician": t("col.technician"), "hint": t("tldrag.hint"),
                 "drag_me": t("tldrag.drag_me"), "not_movable": t("move.not_movable"),
                 "other_area": t("tlmove.other_area", tech="{tech}")},
    }


def pending(picked: Any) -> dict[str, Any] | None:
    """The move the board's form proposes (the timeline's pick, ``widgets.TL_PICK``), for the
    component to draw where it would go; None without a target."""
    if not picked or picked[1] is None:
        return None
    (job, _holder), (tech, start_s) = picked
    return {"request_id": job, "technician_id": tech, "start_s": int(start_s)}


def dropped(key: str) -> dict[str, Any] | None:
    """This run's drop on the component ``key`` (a trigger: None on the runs after it), read
    from the session before the component is drawn again."""
    import streamlit as st

    state = st.session_state.get(key)
    drop = state.get("drop") if hasattr(state, "get") else None
    return drop if isinstance(drop, dict) else None


def draw(data: dict[str, Any], key: str) -> None:
    """Mount the component (its drop: ``dropped``)."""
    import streamlit as st

    js, css = _sources()
    # Registered on every run with the same sources: Streamlit keeps one definition, silently.
    mount = st.components.v2.component(NAME, js=js, css=css)
    mount(key=key, data=data, on_drop_change=lambda: None)
