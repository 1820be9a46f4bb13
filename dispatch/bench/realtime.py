"""`dispatch bench realtime`: urgent-insertion latency on generated areas.

An area of N technicians (at 1 + N // 8 centres around a city) is filled with open jobs through
the same insertion the dispatcher uses, the clock is moved to mid-morning, and then urgent calls
are ranked (``urgent_options``: every technician's best feasible insertion, by ETA). The latency
of each ranking is measured; p50/p95/p99 per area size are printed and written as JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dispatch.bench.common import Log
from dispatch.live import InsertionOption, LiveArea, NewCall
from dispatch.model import DAY_S
from dispatch.routing import BreakRule, RoutingProblem, RoutingTechnician
from dispatch.travel import DEFAULT_TRAVEL

H = 3600


def build_area(n_techs: int, open_jobs: int, seed: int, day: int = 0) -> tuple[LiveArea, Callable[[int], NewCall]]:
    """An area of ``n_techs`` technicians holding about ``open_jobs`` planned jobs at 10:00, and
    a maker of urgent calls (call ``k`` at 10:00, wanting someone within the hour). ``day`` > 0:
    the same centres and technicians on a later day (times shifted by whole days), its own jobs
    booked the evening before (a day of a rolling plan, its clock at that day's start)."""
    rng = np.random.default_rng(seed)
    centre_lon, centre_lat = 120.15, 30.28  # Hangzhou
    n_centres = 1 + n_techs // 8
    lon = centre_lon + rng.normal(0, 0.15, n_centres)
    lat = centre_lat + rng.normal(0, 0.12, n_centres)
    travel_s, distance_m = DEFAULT_TRAVEL.matrices(lon, lat)
    base = day * DAY_S
    if day:
        rng = np.random.default_rng([seed, day])  # the same centres, the day's own jobs
    techs = []
    for i in range(n_techs):
        late = i % 3 == 2
        start = base + (11 if late else 8) * H
        techs.append(RoutingTechnician(
            f"T{i:03d}", i % n_centres, i % n_centres, start, start + 9 * H, 1 + (i % 2 == 0),
            frozenset({"*"}), BreakRule(start + int(3.5 * H), start + int(5.5 * H), 2700), int(i % 4 == 3)))
    problem = RoutingProblem(travel_s, distance_m, tuple(techs), (), tuple(f"S{i}" for i in range(n_centres)))
    area = LiveArea(problem, {}, base + 8 * H, DEFAULT_TRAVEL, lon, lat)

    def call(k: int, t: int, prefix: str, window_start: int, deadline: bool) -> NewCall:
        return NewCall(f"{prefix}{k:04d}", float(centre_lon + rng.normal(0, 0.2)),
                       float(centre_lat + rng.normal(0, 0.15)), int(rng.integers(10, 60)) * 60,
                       window_start, window_start + 3 * H, int(rng.choice([1, 2], p=[0.7, 0.3])), None,
                       int(rng.choice([1, 2, 3], p=[0.8, 0.15, 0.05])), release_s=t,
                       dispatch_deadline_s=t + H if deadline else None)

    # The open work: appointments booked early in the morning for windows through the day
    # (a filled day); then urgent calls at 10:00 that want someone within the hour.
    # Calls that fit nowhere are left out, until the area holds ``open_jobs`` planned jobs.
    k = planned = 0
    while planned < open_jobs and k < 4 * open_jobs:
        window = base + 10 * H + int(rng.integers(0, 8 * H))
        planned += isinstance(area.insert(call(k, base + 8 * H, f"J{day}-" if day else "J", window, deadline=False)),
                              InsertionOption)
        k += 1
    if day:
        return area, lambda k: call(k, 10 * H, "U", 10 * H, deadline=True)
    area.advance(10 * H)
    return area, lambda k: call(k, 10 * H, "U", 10 * H, deadline=True)


def measure(n_techs: int, open_jobs: int, calls: int, seed: int) -> dict[str, Any]:
    """Latency of ranking ``calls`` urgent calls in one area (ms percentiles), and of one insertion."""
    area, urgent = build_area(n_techs, open_jobs, seed)
    planned = sum(len(ids) for ids in area.routes.values())
    lat_ms = []
    answered = 0
    for k in range(calls):
        c = urgent(k)
        t0 = time.perf_counter()
        options = area.urgent_options(c)
        lat_ms.append(1000 * (time.perf_counter() - t0))
        answered += bool(options)
    t0 = time.perf_counter()
    area.insert(urgent(calls))
    insert_ms = 1000 * (time.perf_counter() - t0)
    v = np.array(lat_ms)
    return {"technicians": n_techs, "open_jobs": planned,
            "calls": calls, "with_an_option": answered,
            "p50_ms": round(float(np.percentile(v, 50)), 2), "p95_ms": round(float(np.percentile(v, 95)), 2),
            "p99_ms": round(float(np.percentile(v, 99)), 2), "insert_ms": round(insert_ms, 2)}


def run_realtime_bench(sizes: list[int], jobs_per_tech: float = 5.0, calls: int = 200, seed: int = 1,
                       progress: Log | None = None) -> dict[str, Any]:
    """``measure`` for each area size; the JSON document with its ``rows``."""
    rows = []
    for n in sizes:
        if progress:
            progress(f"area of {n} technicians ...")
        rows.append(measure(n, round(n * jobs_per_tech), calls, seed))
    return {"benchmark": "realtime", "target_p95_ms_30_techs_150_jobs": 200, "rows": rows}


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [(f"{'techs':>6} {'open jobs':>9} {'calls':>6} {'answered':>8} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'p99 ms':>8} {'insert ms':>9}")]
    for r in rows:
        lines.append(f"{r['technicians']:>6} {r['open_jobs']:>9} {r['calls']:>6} {r['with_an_option']:>8} "
                     f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['insert_ms']:>9.1f}")
    return "\n".join(lines)
