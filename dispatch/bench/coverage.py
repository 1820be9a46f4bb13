"""`dispatch bench coverage`: national county-level MCLP and coverage metrics, timed.

County seats are both the demand points (weighted by population) and the candidate sites.
For each p: the exact MCLP (time to solution, proven gap) and the greedy (time, gap to the exact
objective). A finer demand set (calls sampled inside counties) shows how the model scales.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Any

import numpy as np
import pandas as pd

from dispatch.bench.common import Log, peak_rss_mib, timed
from dispatch.coverage import LocationProblem, coverage_report, greedy_mclp, mclp, seat_cost_s
from dispatch.geodata import county_demand_weights, load_geography
from dispatch.synthetic import generate, points_in_county


def county_problem(weights_population: pd.DataFrame | None = None, points_per_county: int = 0,
                   seed: int = 1) -> tuple[LocationProblem, pd.DataFrame]:
    geo = load_geography()
    w = county_demand_weights(geo, weights_population)
    counties = geo.counties.merge(w[["adcode", "weight"]], on="adcode", how="left").fillna({"weight": 0.0})
    s_lon, s_lat = counties["seat_lon"].to_numpy(), counties["seat_lat"].to_numpy()
    if points_per_county:
        rng = np.random.default_rng(seed)
        lon, lat, wt, ids = [], [], [], []
        for row in counties.itertuples():
            x, y = points_in_county(row.geometry, row.seat_lon, row.seat_lat, row.area_km2,
                                     points_per_county, 0.7, rng)
            lon.append(x)
            lat.append(y)
            wt.append(np.full(len(x), row.weight / len(x)))
            ids += [f"{row.adcode}-{k}" for k in range(len(x))]
        d_lon, d_lat, d_w = np.concatenate(lon), np.concatenate(lat), np.concatenate(wt)
    else:
        d_lon, d_lat, d_w, ids = s_lon, s_lat, counties["weight"].to_numpy(), list(counties["adcode"])
    cost = seat_cost_s(d_lon, d_lat, s_lon, s_lat)
    prob = LocationProblem.from_cost_matrix(cost, d_w, list(counties["adcode"]), ids)
    # The same points as the frame coverage metrics take (lon, lat, weight, province).
    codes = pd.Series([i.split("-")[0] for i in ids])
    prov = codes.map(dict(zip(counties["adcode"], counties["province_adcode"]))).to_numpy()
    demand = pd.DataFrame({"lon": d_lon, "lat": d_lat, "weight": d_w, "province_adcode": prov})
    return prob, demand


def _first_solution_s(prob: LocationProblem, p: int, radius_s: float,
                      limits: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30)) -> float:
    """Time to the exact model's first incumbent. pywraplp exposes no incumbent callback, so the
    model is solved under growing time limits; the wall time of the first solve that yields a
    solution (model build included) bounds the time to first solution from above."""
    for limit in limits:
        t0 = time.perf_counter()
        res = mclp(prob, p, radius_s, time_limit_s=limit)
        if res.first_solution_s is not None:  # the MIP's own solution, not the greedy fallback
            return time.perf_counter() - t0
    return float("nan")


def run_coverage_bench(ps: list[int], minutes: float = 60.0, time_limit: float = 30.0,
                       fine_points: list[int] | None = None, repeat: int = 3, probe: bool = True,
                       population: pd.DataFrame | None = None, progress: Log | None = None) -> dict[str, Any]:
    """National MCLP at county level (and with ``fine_points`` demand points per county): exact
    vs greedy for each p, plus the national coverage metrics; medians of ``repeat`` runs.
    Returns the JSON document (``rows``, ``coverage_metrics``, build ``timings_s``)."""
    timings: dict[str, float] = {}
    rows = []
    metrics = []
    sets = [("county", 0)] + [(f"fine{k}", k) for k in fine_points or [] if k > 0]
    network = generate("national", days=0, seed=1, population=population).network
    radius_s = minutes * 60
    for label, k in sets:
        with timed(timings, f"build_{label}"):
            prob, demand = county_problem(population, k)
        # Coverage metrics of the national network over this demand set (all levels and tiers,
        # distribution, per-point escalation turnaround): median of ``repeat`` runs.
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            coverage_report(network, demand, minutes)
            walls.append(time.perf_counter() - t0)
        metrics.append({"demand": label, "demand_points": len(demand), "centres": len(network),
                        "coverage_metrics_s_median": round(median(walls), 3)})
        for p in ps:
            g_walls, e_walls = [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                greedy = greedy_mclp(prob, p, radius_s)
                g_walls.append(time.perf_counter() - t0)
                exact = mclp(prob, p, radius_s, time_limit_s=time_limit)
                e_walls.append(exact.solve_s)
            first_s = _first_solution_s(prob, p, radius_s) if probe else float("nan")
            total = float(prob.weights.sum())
            gap_greedy = (exact.objective - greedy.objective) / exact.objective if exact.objective else float("nan")
            rows.append({
                "demand": label, "demand_points": len(prob.demand_ids), "sites": len(prob.site_ids), "p": p,
                "exact_status": exact.status, "exact_s_median": round(median(e_walls), 2),
                "exact_s_max": round(max(e_walls), 2), "first_solution_s": round(first_s, 2),
                "exact_covered_%": round(100 * exact.objective / total, 3),
                "exact_gap_%": round(100 * exact.gap, 4),
                "greedy_s_median": round(median(g_walls), 3), "greedy_covered_%": round(100 * greedy.objective / total, 3),
                "greedy_gap_to_exact_%": round(100 * gap_greedy, 3),
                "model": exact.notes[0] if exact.notes else "",
            })
            if progress:
                progress(f"{label} p={p}: exact {exact.status} in {median(e_walls):.1f} s (median of {repeat}), "
                         f"greedy {median(g_walls):.2f} s")
    return {"benchmark": "coverage", "minutes": minutes, "time_limit_s": time_limit,
            "repeat": repeat, "rows": rows, "coverage_metrics": metrics,
            "timings_s": timings, "peak_rss_mib": peak_rss_mib()}


def format_report(doc: dict[str, Any]) -> str:
    """The tables of ``run_coverage_bench``'s document, as printed by `dispatch bench coverage`."""
    rows = doc["rows"]
    with pd.option_context("display.width", 250, "display.max_colwidth", 80):
        lines = [
            pd.DataFrame(rows).drop(columns=["model"]).to_string(index=False),
            "\n" + "\n".join(f"{r['demand']} p={r['p']}: {r['model']}" for r in rows),
            "\ncoverage metrics of the national network (median of "
            f"{doc['repeat']}):\n" + pd.DataFrame(doc["coverage_metrics"]).to_string(index=False),
        ]
    lines.append(f"build times: {doc['timings_s']}; peak memory {doc['peak_rss_mib']:.0f} MiB")
    return "\n".join(lines)
