"""Slot-offer latency (``dispatch bench realtime``): appointment windows over a rolling plan.

One area of N technicians planned over several days (each day filled like the urgent-call
bench's area, ``dispatch.bench.realtime.build_area``, the same centres and technicians every
day). Calls come at 10:00 of the first day; each is offered slots over the horizon
(:func:`~dispatch.live.slots.offer_slots`: every window tried by insertion into its day's plan)
and the latency is measured. Every fifth call books its best slot, so the plan fills as it
would at a call centre; each booking must land inside the window offered, and at the end the
checker runs on every day's plan.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from dispatch.bench.realtime import H, build_area
from dispatch.live import InsertionOption, NewCall
from dispatch.live.slots import offer_slots
from dispatch.routing.checker import check
from dispatch.rules import DEFAULT_RULES


def measure_slots(n_techs: int, jobs: int, days: int, calls: int, seed: int) -> dict[str, Any]:
    """p50/p95/p99 of one slot offer over a ``days``-day plan of about ``jobs`` jobs."""
    lives = {d: {"A": build_area(n_techs, round(jobs / days), seed, day=d)[0]} for d in range(days)}
    planned = sum(len(ids) for a in lives.values() for ids in a["A"].routes.values())
    rng = np.random.default_rng([seed, 99])
    lat_ms, cpu_ms, offered, booked, kept = [], [], 0, 0, 0
    days_offered: list[int] = []  # the days an offer's windows lie on (a choice across the days)
    for k in range(calls):
        lon, lat = float(120.15 + rng.normal(0, 0.2)), float(30.28 + rng.normal(0, 0.15))
        service_s = int(rng.integers(20, 60)) * 60
        level, priority = int(rng.choice([1, 2], p=[0.7, 0.3])), int(rng.choice([1, 2, 3], p=[0.8, 0.15, 0.05]))

        def call_for(ws: int, we: int, k=k, lon=lon, lat=lat, service_s=service_s, level=level,  # type: ignore[no-untyped-def]
                     priority=priority) -> NewCall:
            release = max(10 * H, ws)  # the dispatch clock starts at the call or the window
            return NewCall(f"S{k:04d}", lon, lat, service_s, ws, we, level, None, priority, release_s=release,
                           dispatch_deadline_s=release + H)

        t0, c0 = time.perf_counter(), time.process_time()
        slots = offer_slots(call_for, lives.__getitem__, ["A"], 10 * H, priority, DEFAULT_RULES, days=days)
        lat_ms.append(1000 * (time.perf_counter() - t0))
        cpu_ms.append(1000 * (time.process_time() - c0))  # the offer's own CPU: what a shared machine's load does not inflate
        offered += len(slots)
        days_offered.append(len({s.day for s in slots}))
        if slots and k % 5 == 0:
            s = slots[0]
            got = lives[s.day]["A"].insert(call_for(s.window_start_s, s.window_end_s),
                                           policy=DEFAULT_RULES.ranking(priority))
            booked += 1
            kept += isinstance(got, InsertionOption) and s.window_start_s <= got.start_s <= s.window_end_s
    violations = sum(len(check(a["A"].checked_problem(), a["A"].result())) for a in lives.values())
    v = np.array(lat_ms)
    return {"technicians": n_techs, "days": days, "planned_jobs": planned, "calls": calls,
            "slots_per_call": round(offered / max(1, calls), 2), "booked": booked, "kept": kept,
            "days_per_offer": round(float(np.mean(days_offered)), 2) if days_offered else 0.0,
            "checker_violations": violations,
            "p50_ms": round(float(np.percentile(v, 50)), 2), "p95_ms": round(float(np.percentile(v, 95)), 2),
            "p99_ms": round(float(np.percentile(v, 99)), 2),
            "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 2), "cpu_p95_ms": round(float(np.percentile(cpu_ms, 95)), 2),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def format_slots(row: dict[str, Any]) -> str:
    return (f"slot offers: {row['technicians']} technicians, {row['days']}-day plan of {row['planned_jobs']} jobs, "
            f"{row['calls']} calls ({row['slots_per_call']} slots each, on {row['days_per_offer']} days): p50 {row['p50_ms']:.1f} ms, "
            f"p95 {row['p95_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms (target p95 <= 200 ms; CPU time p50 "
            f"{row['cpu_p50_ms']:.1f} ms, p95 {row['cpu_p95_ms']:.1f} ms; load average {row['load_average_1min']}); "
            f"{row['kept']}/{row['booked']} booked slots kept, {row['checker_violations']} checker violations")
