"""`dispatch bench national` / `dispatch bench province`: a whole day plan, timed by stage.

Generates a fixed-seed day, plans it through the process pool (or Dask), runs the naive
baseline on the same day, and prints wall time per stage, peak memory, and the two columns of
KPIs side by side. ``--calls`` repeats the run at other national call volumes to show scaling.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

from dispatch.baseline import BaselineParams, baseline_plan
from dispatch.bench.common import cpu_s, cpu_split_s, peak_rss_mib
from dispatch.executor import SCHEDULER_ENV, executor
from dispatch.kpis import format_kpis, kpis
from dispatch.parts.enable import switch
from dispatch.plan import PlanParams, make_plan, reach_s
from dispatch.progress import Progress
from dispatch.synthetic import GeneratorParams, generate, with_calls_per_day
from dispatch.travel import DEFAULT_TRAVEL, Travel, travel_record


def run_plan_bench(preset: str, seed: int, calls_per_day: float | None, workers: int | None,
                   scheduler: str | None, time_limit: float | None,
                   progress: Progress | None = None, travel: Travel = DEFAULT_TRAVEL,
                   parts: bool | None = None) -> dict[str, Any]:
    """Generate a day, plan it (``progress`` gets the planner's (stage, done, total, note)
    callbacks), run the baseline on it; stage timings, memory and both KPI columns. The day is
    generated with the default travel whatever ``travel`` plans it, so that two models are
    compared on the same network and calls."""
    gen_params = GeneratorParams()
    if calls_per_day is not None:
        gen_params = with_calls_per_day(gen_params, calls_per_day)
    stages: dict[str, float] = {}
    wall0, cpu0 = time.perf_counter(), cpu_s()
    t0 = time.perf_counter()
    ds = switch(generate(preset, days=1, seed=seed, params=gen_params), parts, seed)
    stages["generate"] = time.perf_counter() - t0
    params = PlanParams(seed=seed)
    if time_limit is not None:
        params = replace(params, routing_max_s=time_limit, routing_min_s=min(params.routing_min_s, time_limit))
    t0 = time.perf_counter()
    main0, pool0 = cpu_split_s()
    with executor(workers, scheduler) as pool:
        stages["pool_start"] = time.perf_counter() - t0
        plan = make_plan(ds, params, pool=pool, travel=travel, progress=progress)
    main1, pool1 = cpu_split_s()  # the pool's workers are counted once it has shut down
    for k, v in plan.timings_s.items():
        stages[k] = v
    t0 = time.perf_counter()
    base_out, base_work = baseline_plan(ds, BaselineParams(day=params.day, rules=params.rules), travel)
    base_out["reach_s"] = reach_s(ds, base_out["request_id"].tolist(), travel)
    stages["baseline"] = time.perf_counter() - t0
    stats = plan.routing_stats
    return {
        "preset": preset, "seed": seed, **travel_record(travel), "calls": len(ds.requests), "centres": len(ds.network),
        "technicians": len(ds.technicians), "areas": len(stats),
        "routed_visits": int(stats["routed"].sum()) if len(stats) else 0,
        "checker_violations": int(stats["violations"].sum()) if "violations" in stats else None,
        "slowest_area_s": float(stats["wall_s"].max()) if len(stats) else 0.0,
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        # The plan's own time (what a dispatcher waits for): the stages between generating the
        # day and the baseline's comparison.
        "plan_s": round(sum(v for k, v in stages.items() if k not in ("generate", "baseline")), 3),
        "parts": ds.parts is not None,
        "wall_s": round(time.perf_counter() - wall0, 3), "cpu_s": round(cpu_s() - cpu0, 3),
        # The plan's CPU: this process (assignment's options, the day's call placement, the
        # frames) and the process pool's workers (CP-SAT groups, morning routing); None on Dask.
        "plan_cpu_main_s": round(main1 - main0, 3),
        "plan_cpu_pool_s": None if scheduler or os.environ.get(SCHEDULER_ENV) else round(pool1 - pool0, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "kpis": {"plan": kpis(plan.outcomes, plan.workload), "baseline": kpis(base_out, base_work)},
        "unassigned_by_reason": plan.unassigned["reason_code"].value_counts().sort_index().to_dict(),
    }


def format_run(doc: dict[str, Any]) -> str:
    """One run of ``run_plan_bench`` as `dispatch bench national|province` prints it."""
    lines = [
        (f"\n{doc['preset']} seed {doc['seed']}, travel {doc.get('travel', '?')}: {doc['calls']} calls, {doc['centres']} centres, "
         f"{doc['technicians']} technicians, {doc['areas']} areas, {doc['routed_visits']} visits routed, "
         f"checker violations: {doc['checker_violations']}, parts {'on' if doc.get('parts') else 'off'}"),
        "stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in doc["stages_s"].items())
        + (f"; the plan {doc['plan_s']:.1f} s" if "plan_s" in doc else ""),
        (f"wall {doc['wall_s']:.1f} s, cpu {doc['cpu_s']:.1f} s, peak memory {doc['peak_rss_mib']:.0f} MiB "
         f"(this process + largest child), slowest area {doc['slowest_area_s']:.1f} s"
         + (f"; the plan's cpu: main process {doc['plan_cpu_main_s']:.1f} s, pool {doc['plan_cpu_pool_s']:.1f} s"
            if doc.get("plan_cpu_pool_s") is not None else "")),
        format_kpis(doc["kpis"]),
    ]
    if doc["unassigned_by_reason"]:
        lines.append("unassigned by reason: " + ", ".join(f"{k} {v}" for k, v in doc["unassigned_by_reason"].items()))
    return "\n".join(lines)


def format_scaling(runs: list[dict[str, Any]]) -> str:
    """Wall time per call volume, with the stages that grow with it."""
    return "\nscaling: " + "; ".join(
        f"{r['calls']} calls -> {r['wall_s']:.1f} s wall "
        f"(assignment {r['stages_s'].get('assignment', 0):.1f}, matrices {r['stages_s'].get('matrices', 0):.1f}, "
        f"routing {r['stages_s'].get('routing', 0):.1f})" for r in runs)
