"""Real time on the board (``dispatch.live``): an urgent call ranked and inserted, a technician's
drop-out re-planned, on a live area of the day's plan."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

from dashboard.formatting import clock
from dispatch.dataset import Dataset
from dispatch.live import LiveArea, NewCall, eta_table
from dispatch.model import DAY_S, Centre
from dispatch.plan import Plan
from dispatch.rules import DEFAULT_RULES

# The repair levels an urgent call can ask for: what may be done at the customer's.
URGENT_LEVELS = tuple(range(1, DEFAULT_RULES.onsite_max_level + 1))


def realtime_ready(plan: Plan) -> bool:
    """Whether the plan carries its areas' routing problems and results (what a live area
    starts from) and ``dispatch.live`` is installed."""
    return bool(getattr(plan, "area_problems", None)) and importlib.util.find_spec("dispatch.live") is not None


def live_area(plan: Plan, ds: Dataset, area: str, clock_s: int):  # type: ignore[no-untyped-def]
    """A ``LiveArea`` of one routing area of the plan at ``clock_s`` (work begun is frozen)."""
    problem = plan.area_problems[area]  # type: ignore[attr-defined]
    result = plan.area_results[area]  # type: ignore[attr-defined]
    pos = {c.id: (c.lon, c.lat) for c in ds.network} | {r.id: (r.lon, r.lat) for r in ds.requests}
    lon = np.array([pos[n][0] for n in problem.node_names])
    lat = np.array([pos[n][1] for n in problem.node_names])
    release = {v.id: v.release_s for v in problem.visits if getattr(v, "release_s", None) is not None}
    return LiveArea.from_result(problem, result, lon, lat, release, clock_s)


def urgent_call(call_id: str, lon: float, lat: float, level: int, priority: int, service_min: int,
                clock_s: int, day: int, dispatch_target_s: int = DEFAULT_RULES.dispatch_target_s):  # type: ignore[no-untyped-def]
    """An urgent call made now: the customer is available until 21:00, the clock starts now."""
    end = max(clock_s + 3600, day * DAY_S + 21 * 3600)
    return NewCall(call_id, float(lon), float(lat), int(service_min) * 60, clock_s, end, int(level), None,
                   int(priority), clock_s, clock_s + dispatch_target_s)


def area_at(ds: Dataset, lon: float, lat: float) -> str:
    """The routing area (prefecture) of the centre nearest to a point."""
    idx, _ = ds.network.nearest(np.array([lon]), np.array([lat]))
    c = ds.network.centres[int(np.atleast_1d(idx)[0])]
    return c.prefecture_adcode or c.province_adcode


def eta_frame(options, epoch_date: str, now_s: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The urgent call's candidates (``LiveArea.urgent_options``, best first) as the board shows
    them: rank, technician, set-off and arrival clock, minutes from now, deadline kept or not."""
    cols = ["rank", "technician_id", "sets_off", "arrives", "eta_min", "meets_deadline", "late_min",
            "added_travel_min"]
    rows = []
    for i, (o, row) in enumerate(zip(options, eta_table(list(options), now_s)), start=1):
        rows.append({"rank": i, "technician_id": o.technician_id, "sets_off": clock(epoch_date, o.departure_s),
                     "arrives": clock(epoch_date, o.eta_s), "eta_min": row["eta_min"],
                     "meets_deadline": row["meets_deadline"], "late_min": row["late_min"],
                     "added_travel_min": row["added_travel_min"]})
    return pd.DataFrame(rows, columns=cols)


def dropout_frame(result) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A drop-out's consequences (``LiveArea.drop_out``): each job moved to whom, or why it
    cannot be saved today."""
    rows = [{"job": v, "outcome": "moved", "to": t, "reason": f"re-planned onto {t}"} for v, t in result.moved]
    rows += [{"job": u.visit_id, "outcome": "unserved", "to": "", "reason": u.reason} for u in result.unserved]
    return pd.DataFrame(rows, columns=["job", "outcome", "to", "reason"])


# --------------------------------------------------------------------------------------------
# What the board's forms start from and say


def call_point(ds: Dataset, prefecture: str) -> Centre:
    """The centre the urgent-call form places its default point next to: the area's first."""
    return next(c for c in ds.network if c.prefecture_adcode == (prefecture or c.prefecture_adcode))


def insertion_message(got, call_id: str, epoch_date: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(kind, message) of ``LiveArea.insert``'s answer: the option taken, or why none was."""
    if hasattr(got, "technician_id"):
        return ("success", f"Inserted {call_id}: {got.technician_id} sets off "
                           f"{clock(epoch_date, got.departure_s)}, arrives {clock(epoch_date, got.eta_s)}"
                           + ("" if got.meets_deadline else " (after the dispatch deadline)") + ".")
    return ("warning", f"Not inserted: {got.reason}")


def dropout_message(technician: str, result, epoch_date: str, now_s: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(kind, message) of ``LiveArea.drop_out``'s result: how many jobs moved, how many are lost."""
    text = (f"{technician} is out from {clock(epoch_date, now_s)}: "
            f"{len(result.moved)} job(s) moved, {len(result.unserved)} cannot be saved.")
    return ("warning" if result.unserved else "success", text)
