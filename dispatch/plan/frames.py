"""The plan's result frames: stops, routes, outcomes, workload, benches, unassigned, routing
statistics. Each has its columns even without a row (a day with no calls is an empty plan that
exports, stores and measures like any other)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from dispatch.assignment import bench_turnaround
from dispatch.dataset import Dataset
from dispatch.hours import business_seconds, dispatch_clock_start
from dispatch.model import Mode
from dispatch.plan.benches import MAX_BENCH_WAIT_DAYS, book_bench_row, device_path
from dispatch.reasons import Reason

# The columns of each frame, for the day that has no row of it (rows give their own, in this order).
STOP_COLUMNS = ("technician_id", "sequence", "request_id", "mode", "level", "priority", "lon", "lat", "departure_s",
                "arrival_s", "start_s", "end_s", "travel_s", "distance_m", "dispatch_late_s", "window_start_s",
                "window_end_s")
ROUTE_COLUMNS = ("technician_id", "centre_id", "area", "start_s", "end_s", "travel_s", "distance_m",
                 "break_start_s", "overtime_s", "jobs")
OUTCOME_COLUMNS = ("request_id", "mode", "level", "priority", "visit_mode", "province_adcode", "centre_id",
                   "created_s", "clock_start_s", "dispatch_s", "dispatch_wait_s", "arrival_s", "completion_s",
                   "repair_tier", "repair_centre_id", "est_turnaround_s", "unassigned_reason")
WORKLOAD_COLUMNS = ("technician_id", "centre_id", "province_adcode", "available_s", "busy_s", "travel_s",
                    "distance_m", "overtime_s", "jobs")
BENCH_COLUMNS = ("centre_id", "day", "bench_h_used", "bench_h_capacity")
ROUTING_STATS_COLUMNS = ("area", "technicians", "visits", "taken_from_neighbours", "handed_to_neighbours",
                         "time_limit_s", "wall_s", "routed", "dropped", "violations", "first_violation")


def frame(rows: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    """The rows as a frame; without rows, an empty frame with ``columns``."""
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(columns))


def routing_stats_frame(areas, problems, day_problems, results, walls, limits, violations) -> pd.DataFrame:
    """Per area: its own calls, the calls its technicians took for neighbouring areas and the
    ones it handed to them, the morning batch's time limit and wall time, routed and dropped."""
    rows = []
    for a in areas:
        own = {v.id for v in problems[a.key].visits}
        held = {v.id for v in day_problems[a.key].visits}
        rows.append({
            "area": a.key, "technicians": len(problems[a.key].technicians), "visits": len(own),
            "taken_from_neighbours": len(held - own), "handed_to_neighbours": len(own - held),
            "time_limit_s": round(limits[a.key], 3), "wall_s": round(walls.get(a.key, 0.0), 3),
            "routed": sum(len(r.stops) for r in results[a.key].routes), "dropped": len(results[a.key].unassigned),
            "violations": len(violations[a.key]), "first_violation": violations[a.key][0] if violations[a.key] else ""})
    return frame(rows, ROUTING_STATS_COLUMNS)


def assemble(dataset, day_ds, deferred, result, areas, results, params, legs=None):
    """The plan's frames; ``legs``: devices by courier lane (parts on), else the per-tier lead times."""
    assignment = params.assignment_params()
    net = dataset.network
    req = {r.id: r for r in dataset.requests}
    by_req = {a.request_id: a for a in result.assigned}
    tech_by_id = {t.id: t for t in dataset.technicians}
    stop_rows, route_rows, unassigned_rows = [], [], []
    routed: dict[str, dict] = {}
    back_at_centre: dict[str, int] = {}
    for area in areas:
        res = results[area.key]
        for route in res.routes:
            t = tech_by_id[route.technician_id]
            route_rows.append({
                "technician_id": t.id, "centre_id": t.home_centre_id, "area": area.key,
                "start_s": route.start_s, "end_s": route.end_s, "travel_s": route.travel_s,
                "distance_m": route.distance_m, "break_start_s": route.break_start_s,
                "overtime_s": route.overtime_s, "jobs": len(route.stops),
            })
            for seq, s in enumerate(route.stops):
                r = req[s.visit_id]
                stop_rows.append({
                    "technician_id": t.id, "sequence": seq + 1, "request_id": s.visit_id,
                    "mode": by_req[s.visit_id].mode.value, "level": r.level, "priority": int(r.priority),
                    "lon": r.lon, "lat": r.lat, "departure_s": s.departure_toward_s,
                    "arrival_s": s.arrival_s, "start_s": s.start_s, "end_s": s.end_s,
                    "travel_s": s.travel_s, "distance_m": s.distance_m, "dispatch_late_s": s.dispatch_late_s,
                    "window_start_s": r.window.start_s, "window_end_s": r.window.end_s,
                })
                routed[s.visit_id] = {"dispatch_s": s.departure_toward_s, "arrival_s": s.arrival_s, "end_s": s.end_s,
                                     "tech": t}
                back_at_centre[s.visit_id] = route.end_s
        for u in res.unassigned:
            unassigned_rows.append({"request_id": u.visit_id, "reason_code": u.reason_code, "reason": u.reason})
    for u in result.unassigned:
        unassigned_rows.append({"request_id": u.request_id, "reason_code": u.reason_code, "reason": u.reason})
    for r in deferred:
        unassigned_rows.append({"request_id": r.id, "reason_code": Reason.NEXT_DAY,
                                "reason": Reason.NEXT_DAY.sentence})
    reason_of = {u["request_id"]: u["reason_code"] for u in unassigned_rows}

    outcome_rows, bench_use = [], defaultdict(int)
    devices = []  # picked-up devices, booked on benches once every walk-in has its slot
    for r in day_ds.requests:
        a = by_req.get(r.id)
        centre_id = (a.visit_centre_id or a.repair_centre_id) if a else ""
        row = {"request_id": r.id, "mode": r.mode.value, "level": r.level, "priority": int(r.priority),
               "visit_mode": a.mode.value if a else r.mode.value,
               "province_adcode": net[centre_id].province_adcode if centre_id else r.county_adcode[:2] + "0000",
               "centre_id": centre_id, "created_s": r.created_s,
               "clock_start_s": dispatch_clock_start(net[centre_id], r) if centre_id else r.created_s,
               "dispatch_s": np.nan, "dispatch_wait_s": np.nan, "arrival_s": np.nan, "completion_s": np.nan,
               "repair_tier": np.nan,
               "repair_centre_id": a.repair_centre_id if a else None,
               "est_turnaround_s": np.nan, "unassigned_reason": reason_of.get(r.id, "")}
        outcome_rows.append(row)
        if a is None or r.id in reason_of:
            continue
        if not r.mode.travels:  # walk-in or mail-in: no technician
            book_bench_row(row, r, r.created_s + a.est_turnaround_s, a.repair_centre_id, a.bench_day, net, bench_use,
                       assignment)
            continue
        info = routed[r.id]
        row["dispatch_s"] = info["dispatch_s"]
        row["arrival_s"] = info["arrival_s"]  # at the customer's door: the response KPI
        # The promise runs on business hours (see hours.business_deadline).
        row["dispatch_wait_s"] = business_seconds(net[centre_id], row["clock_start_s"], info["dispatch_s"])
        if a.mode == Mode.ONSITE:
            # Booked for its spare part (dispatch.parts): the repair is done on the visit after it arrives.
            row["completion_s"] = max(info["end_s"], a.part_ready_s + a.visit_travel_s + info["end_s"] - info["arrival_s"])
            row["est_turnaround_s"] = info["end_s"] - r.created_s
            continue
        hops, chain, day_offset = device_path(net, a, info["tech"].home_centre_id, r.level,
                                               back_at_centre[r.id], assignment)
        at_bench_s = back_at_centre[r.id] + sum(chain[i].courier_to_parent_s for i in range(hops)) if legs is None \
            else legs.up(chain, hops, back_at_centre[r.id])  # the lanes when parts are on
        devices.append((at_bench_s, r, row, hops, chain, day_offset, a.part_ready_s))
    # The devices the plan collected reach their benches in this order; a day that is full
    # (the assignment booked it for other devices, or technicians brought more than it planned)
    # sends the repair to the next day with room.
    for _, r, row, hops, chain, day_offset, part_s in sorted(devices, key=lambda d: (d[0], d[1].id)):
        bench_s = params.rules.bench_s(r.level)
        cap_s = chain[hops].bench_s_per_day
        for extra in range(MAX_BENCH_WAIT_DAYS):
            ta, bench_day, _ = bench_turnaround(net, chain, hops, back_at_centre[r.id], bench_s, day_offset + extra,
                                                 r.created_s, assignment, lambda c, t, p=part_s: max(t, p), legs)
            if bench_use[(chain[hops].id, bench_day)] + bench_s <= cap_s:
                break
        book_bench_row(row, r, r.created_s + ta, chain[hops].id, bench_day, net, bench_use, assignment)
    outcomes = frame(outcome_rows, OUTCOME_COLUMNS)
    stops = frame(stop_rows, STOP_COLUMNS)
    routes = frame(route_rows, ROUTE_COLUMNS)
    workload = workload_frame(day_ds, routes, stops, params.day)  # the field staff at work that day
    bench = frame([
        {"centre_id": cid, "day": day, "bench_h_used": s / 3600, "bench_h_capacity": net[cid].bench_hours_per_day}
        for (cid, day), s in sorted(bench_use.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    ], BENCH_COLUMNS)
    unassigned = pd.DataFrame(unassigned_rows, columns=["request_id", "reason_code", "reason"])
    return stops, routes, outcomes, workload, bench, unassigned


def workload_frame(dataset: Dataset, routes: pd.DataFrame, stops: pd.DataFrame, day: int) -> pd.DataFrame:
    net = dataset.network
    # Plain dicts by technician: a label lookup per technician in a frame costs ~0.5 ms each
    # (12 s on a national day), a dict lookup nothing.
    cols = ("travel_s", "distance_m", "overtime_s", "jobs")
    by_tech = {c: dict(zip(routes["technician_id"], routes[c].astype(int).tolist())) for c in cols} if len(routes) else None
    service = stops.assign(service_s=stops["end_s"] - stops["start_s"]).groupby("technician_id")["service_s"].sum() if len(stops) else {}
    rows = []
    for t in dataset.technicians:
        has = by_tech is not None and t.id in by_tech["jobs"]
        travel = by_tech["travel_s"][t.id] if has else 0
        rows.append({
            "technician_id": t.id, "centre_id": t.home_centre_id,
            "province_adcode": net[t.home_centre_id].province_adcode,
            "available_s": t.shift.duration_s - t.break_s,
            "busy_s": travel + int(service.get(t.id, 0)) if has else 0,
            "travel_s": travel, "distance_m": by_tech["distance_m"][t.id] if has else 0,
            "overtime_s": by_tech["overtime_s"][t.id] if has else 0,
            "jobs": by_tech["jobs"][t.id] if has else 0,
        })
    return frame(rows, WORKLOAD_COLUMNS)
