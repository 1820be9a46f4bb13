"""`dispatch bench simulate`: simulated calls per wall second, province-week and national-day.

Each case generates its calls with a fixed seed, then runs the optimiser and the baseline on the
same calls; it prints wall time (generation excluded), calls per wall second and the headline
KPIs, and writes them as JSON.
"""

from __future__ import annotations

import time
from typing import Any

from dispatch.bench.common import Log, cpu_s, peak_rss_mib
from dispatch.kpis import kpis
from dispatch.simulate import SimParams, simulate
from dispatch.synthetic import generate
from dispatch.travel import DEFAULT_TRAVEL, Travel

POLICIES = ("optimiser", "baseline")


def run_case(preset: str, days: int, seed: int, travel: Travel = DEFAULT_TRAVEL) -> dict[str, Any]:
    """``days`` of ``preset``'s calls under each policy: wall and CPU time, calls/s, headline KPIs. The
    calls are generated with the default travel, then simulated under ``travel``."""
    t0 = time.perf_counter()
    ds = generate(preset, days=days, seed=seed)
    gen_s = time.perf_counter() - t0
    row: dict[str, Any] = {"preset": preset, "days": days, "calls": len(ds.requests), "generate_s": round(gen_s, 2)}
    for policy in POLICIES:
        c0, t0 = cpu_s(), time.perf_counter()
        res = simulate(ds, SimParams(policy=policy, seed=seed), travel)
        wall = time.perf_counter() - t0
        k = kpis(res.outcomes, res.workload)
        row[policy] = {
            "wall_s": round(wall, 2), "cpu_s": round(cpu_s() - c0, 2),
            "calls_per_s": round(len(ds.requests) / wall, 1),
            "dispatch_within_60min": round(k["dispatch_within_target_rate"], 4),
            "turnaround_mean_h": round(k["turnaround_mean_h"], 2),
            "turnaround_within_24h": round(k["turnaround_within_24h_share"], 4),
            "open_at_horizon": len(res.open_requests),
        }
    row["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return row


def run_simulate_bench(cases: list[tuple[str, int]], seed: int = 1, progress: Log | None = None,
                       travel: Travel = DEFAULT_TRAVEL) -> dict[str, Any]:
    """``run_case`` for each (preset, days); the JSON document with its ``rows``."""
    rows = []
    for preset, days in cases:
        if progress:
            progress(f"simulating {preset} for {days} day(s) ...")
        rows.append(run_case(preset, days, seed, travel))
    return {"benchmark": "simulate", "travel": travel.spec, "targets": {"province_week_s": 120, "national_day_s": 600}, "rows": rows}


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [(f"{'case':<14} {'calls':>7} {'policy':<9} {'wall s':>7} {'calls/s':>8} {'<=60 min':>9} "
              f"{'TA mean h':>9} {'<=24 h':>7} {'open':>6}")]
    for r in rows:
        for policy in POLICIES:
            p = r[policy]
            lines.append(f"{r['preset'] + ':' + str(r['days']):<14} {r['calls']:>7} {policy:<9} {p['wall_s']:>7.1f} "
                         f"{p['calls_per_s']:>8.0f} {100 * p['dispatch_within_60min']:>8.1f}% "
                         f"{p['turnaround_mean_h']:>9.1f} {100 * p['turnaround_within_24h']:>6.1f}% "
                         f"{p['open_at_horizon']:>6}")
    return "\n".join(lines)
