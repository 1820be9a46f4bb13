"""What the service shows of its day: an area's live plan, and the KPIs of the plan so far."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import pandas as pd

from dispatch.hours import business_seconds
from dispatch.kpis import kpis
from dispatch.live import JobState, LiveArea
from dispatch.network import Network
from dispatch.reasons import Reason


def day_kpis(areas: dict[str, LiveArea], locked: Callable[[list[str]], AbstractContextManager[Any]],
             calls: Callable[[], list[Any]], net: Network, day: int) -> dict[str, Any]:
    """The day so far as planned, over ``calls()`` (the served day's calls, read after the
    areas): the one-hour rate counts planned departures."""
    stops: dict[str, Any] = {}
    window_end: dict[str, int] = {}
    work = []
    cancelled: set[str] = set()
    for a in sorted(areas):
        with locked([a]):
            area = areas[a]
            cancelled |= {v for v, (state, _) in area.reported.items() if state == JobState.CANCELLED}
            window_end |= {v.id: v.window_end_s for v in area.problem.visits}
            for r in area.result().routes:
                k = area.technician(r.technician_id)
                for s in r.stops:
                    stops[s.visit_id] = s
                work.append({"technician_id": r.technician_id, "available_s": k.shift_end_s - k.shift_start_s,
                             "busy_s": r.travel_s + sum(s.end_s - s.start_s for s in r.stops),
                             "travel_s": r.travel_s, "distance_m": r.distance_m,
                             "overtime_s": r.overtime_s, "jobs": len(r.stops)})
    taken = calls()
    rows = []
    for c in taken:
        s = stops.get(c.id)
        rows.append({"request_id": c.id, "mode": c.mode, "level": c.level, "province_adcode": c.province_adcode,
                     "centre_id": c.centre_id, "created_s": c.created_s, "clock_start_s": c.clock_start_s,
                     "dispatch_s": s.departure_toward_s if s else np.nan,
                     "dispatch_wait_s": business_seconds(net[c.centre_id], c.clock_start_s, s.departure_toward_s)
                     if s else np.nan,
                     "visit_mode": c.answer.get("visit_mode", c.mode),
                     "completion_s": s.end_s if s is not None and c.id not in cancelled
                     and c.answer.get("visit_mode", c.mode) == "onsite" else np.nan,
                     "repair_tier": np.nan,
                     "unassigned_reason": Reason.CANCELLED.value if c.id in cancelled
                     else "" if s is not None or c.mode in ("walkin", "mailin")
                     else (c.answer.get("reason_code") or "unassigned")})
    cols = ["request_id", "mode", "visit_mode", "level", "province_adcode", "centre_id", "created_s", "clock_start_s",
            "dispatch_s", "dispatch_wait_s", "completion_s", "repair_tier", "unassigned_reason"]
    k = kpis(pd.DataFrame(rows, columns=cols), pd.DataFrame(work) if work else None)
    # Booked windows (POST /calls with booked): how many the plan now keeps (planned to start in
    # them); the others are unassigned or will be missed (GET /notices tells the customers).
    booked = [c for c in taken if c.answer.get("booked") and c.id not in cancelled]
    k["booked_windows"] = float(len(booked))
    k["booked_windows_kept"] = float(sum(1 for c in booked if c.id in stops
                                         and stops[c.id].start_s <= window_end[c.id]))
    return {"day": day, "calls": len(taken),
            "kpis": {key: (None if isinstance(v, float) and not math.isfinite(v) else v) for key, v in k.items()}}


def area_plan(area_name: str, area: LiveArea, iso: Callable[[int | None], str | None]) -> dict[str, Any]:
    """``GET /plan``: an area's routes and unassigned jobs as planned now (times by ``iso``)."""
    res = area.result()
    visits = {v.id: v for v in area.problem.visits}

    def stop(s: Any) -> dict[str, Any]:
        v = visits[s.visit_id]
        return {"job_id": s.visit_id, "state": area.state(s.visit_id).value,
                "departure": iso(s.departure_toward_s), "arrival": iso(s.arrival_s),
                "start": iso(s.start_s), "end": iso(s.end_s), "late_s": s.dispatch_late_s,
                "departure_s": s.departure_toward_s, "arrival_s": s.arrival_s, "start_s": s.start_s,
                "end_s": s.end_s, "travel_s": s.travel_s, "distance_m": s.distance_m,
                "lon": float(area.lon[v.node]), "lat": float(area.lat[v.node]), "level": v.required_level,
                "priority": v.priority, "window_start_s": v.window_start_s, "window_end_s": v.window_end_s}

    routes = [{"technician_id": r.technician_id, "start": iso(r.start_s), "end": iso(r.end_s),
               "travel_s": r.travel_s, "distance_m": r.distance_m,
               "unavailable": r.technician_id in area.unavailable, "start_s": r.start_s, "end_s": r.end_s,
               "break_start_s": r.break_start_s, "overtime_s": r.overtime_s,
               "stops": [stop(s) for s in r.stops]}
              for r in res.routes]
    unassigned = [{"job_id": u.visit_id, "reason_code": u.reason_code, "reason": u.reason} for u in res.unassigned]
    return {"area": area_name, "clock": iso(area.clock_s), "clock_s": area.clock_s,
            "routes": routes, "unassigned": unassigned}
