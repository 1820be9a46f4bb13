"""`dispatch bench coverage`: national county-level MCLP and coverage metrics, timed.

County seats are both the demand points (weighted by population) and the candidate sites.
For each p: the exact MCLP (time to solution, proven gap) and the greedy (time, gap to the exact
objective). A finer demand set (calls sampled inside counties) shows how the model scales.
"""

from __future__ import annotations

import time

import click
import numpy as np
import pandas as pd

from dispatch.bench.common import peak_rss_mib, timed, write_json


def county_problem(weights_population=None, points_per_county: int = 0, seed: int = 1):
    from dispatch.coverage import LocationProblem, seat_cost_s
    from dispatch.geodata import county_demand_weights, load_geography

    geo = load_geography()
    w = county_demand_weights(geo, weights_population)
    counties = geo.counties.merge(w[["adcode", "weight"]], on="adcode", how="left").fillna({"weight": 0.0})
    s_lon, s_lat = counties["seat_lon"].to_numpy(), counties["seat_lat"].to_numpy()
    if points_per_county:
        from dispatch.synthetic import _points_in_county

        rng = np.random.default_rng(seed)
        lon, lat, wt, ids = [], [], [], []
        for row in counties.itertuples():
            x, y = _points_in_county(row.geometry, row.seat_lon, row.seat_lat, row.area_km2,
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


def _first_solution_s(prob, p: int, radius_s: float, limits=(0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30)):
    """Time to the exact model's first incumbent. pywraplp exposes no incumbent callback, so the
    model is solved under growing time limits; the first limit that yields a solution, plus
    the model build, bounds the time to first solution from above."""
    from dispatch.coverage import mclp

    for limit in limits:
        t0 = time.perf_counter()
        res = mclp(prob, p, radius_s, time_limit_s=limit)
        if res.first_solution_s is not None:  # the MIP's own solution, not the greedy fallback
            return time.perf_counter() - t0, limit, res.status
    return float("nan"), float("nan"), "NOT_SOLVED"


@click.command("coverage")
@click.option("--p", "ps", default="400,1000,1600", show_default=True, help="Comma-separated site counts.")
@click.option("--minutes", default=60.0, show_default=True)
@click.option("--time-limit", default=30.0, show_default=True, help="Seconds per exact solve.")
@click.option("--fine-points", default="8", show_default=True,
              help="Comma-separated demand points per county for the fine sets (0: skip).")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Runs per measurement; medians are reported (the machine may be shared).")
@click.option("--probe/--no-probe", default=True, show_default=True,
              help="Measure time to the first solution with growing time limits.")
@click.option("--population", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None)
def coverage_command(ps, minutes, time_limit, fine_points, repeat, probe, population, json_out) -> None:
    """National MCLP at county level (and fine demand sets): exact vs greedy, plus the national
    coverage metrics."""
    from statistics import median

    from dispatch.coverage import coverage_report, greedy_mclp, mclp
    from dispatch.geodata import read_population_table
    from dispatch.synthetic import generate

    pop = read_population_table(population) if population else None
    timings: dict[str, float] = {}
    rows = []
    metrics = []
    fines = [int(x) for x in str(fine_points).split(",") if int(x) > 0]
    sets = [("county", 0)] + [(f"fine{k}", k) for k in fines]
    network = generate("national", days=0, seed=1, population=pop).network
    radius_s = minutes * 60
    for label, k in sets:
        with timed(timings, f"build_{label}"):
            prob, demand = county_problem(pop, k)
        # Coverage metrics of the national network over this demand set (all levels and tiers,
        # distribution, per-point escalation turnaround): median of ``repeat`` runs.
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            coverage_report(network, demand, minutes)
            walls.append(time.perf_counter() - t0)
        metrics.append({"demand": label, "demand_points": len(demand), "centres": len(network),
                        "coverage_metrics_s_median": round(median(walls), 3)})
        for p in (int(x) for x in ps.split(",")):
            g_walls, e_walls = [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                greedy = greedy_mclp(prob, p, radius_s)
                g_walls.append(time.perf_counter() - t0)
                exact = mclp(prob, p, radius_s, time_limit_s=time_limit)
                e_walls.append(exact.solve_s)
            first_s, first_limit, _ = _first_solution_s(prob, p, radius_s) if probe else (float("nan"),) * 3
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
            click.echo(f"{label} p={p}: exact {exact.status} in {median(e_walls):.1f} s (median of {repeat}), "
                       f"greedy {median(g_walls):.2f} s", err=True)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_colwidth", 80):
        click.echo(table.drop(columns=["model"]).to_string(index=False))
        click.echo("\n" + "\n".join(f"{r['demand']} p={r['p']}: {r['model']}" for r in rows))
        click.echo("\ncoverage metrics of the national network (median of "
                   f"{repeat}):\n" + pd.DataFrame(metrics).to_string(index=False))
    click.echo(f"build times: {timings}; peak memory {peak_rss_mib():.0f} MiB")
    write_json(json_out, {"benchmark": "coverage", "minutes": minutes, "time_limit_s": time_limit,
                          "repeat": repeat, "rows": rows, "coverage_metrics": metrics,
                          "timings_s": timings, "peak_rss_mib": peak_rss_mib()})
