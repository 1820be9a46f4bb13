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
    from dispatch.coverage import LocationProblem
    from dispatch.geodata import county_demand_weights, load_geography
    from dispatch.travel import DEFAULT_TRAVEL

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
    cost = np.empty((len(d_lon), len(s_lon)), dtype=np.int32)
    for a in range(0, len(d_lon), 2000):  # chunks keep the float temporaries small
        b = min(len(d_lon), a + 2000)
        dist = DEFAULT_TRAVEL.distance_m(d_lon[a:b, None], d_lat[a:b, None], s_lon[None, :], s_lat[None, :])
        cost[a:b] = DEFAULT_TRAVEL.time_s_from_distance(dist)
    return LocationProblem.from_cost_matrix(cost, d_w, list(counties["adcode"]), ids), counties


@click.command("coverage")
@click.option("--p", "ps", default="400,1000,1600", show_default=True, help="Comma-separated site counts.")
@click.option("--minutes", default=60.0, show_default=True)
@click.option("--time-limit", default=30.0, show_default=True, help="Seconds per exact solve.")
@click.option("--fine-points", default=8, show_default=True, help="Demand points per county for the fine set (0: skip).")
@click.option("--population", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None)
def coverage_command(ps, minutes, time_limit, fine_points, population, json_out) -> None:
    """National MCLP at county level (and a fine demand set): exact vs greedy."""
    from dispatch.coverage import greedy_mclp, mclp
    from dispatch.geodata import read_population_table

    pop = read_population_table(population) if population else None
    timings: dict[str, float] = {}
    rows = []
    sets = [("county", 0)] + ([("fine", fine_points)] if fine_points else [])
    for label, k in sets:
        with timed(timings, f"build_{label}"):
            prob, _ = county_problem(pop, k)
        for p in (int(x) for x in ps.split(",")):
            t0 = time.perf_counter()
            greedy = greedy_mclp(prob, p, minutes * 60)
            t_greedy = time.perf_counter() - t0
            exact = mclp(prob, p, minutes * 60, time_limit_s=time_limit)
            total = float(prob.weights.sum())
            gap_greedy = (exact.objective - greedy.objective) / exact.objective if exact.objective else float("nan")
            rows.append({
                "demand": label, "demand_points": len(prob.demand_ids), "sites": len(prob.site_ids), "p": p,
                "exact_status": exact.status, "exact_s": round(exact.solve_s, 2),
                "exact_covered_%": round(100 * exact.objective / total, 3),
                "exact_gap_%": round(100 * exact.gap, 4),
                "greedy_s": round(t_greedy, 3), "greedy_covered_%": round(100 * greedy.objective / total, 3),
                "greedy_gap_to_exact_%": round(100 * gap_greedy, 3),
            })
            click.echo(f"{label} p={p}: exact {exact.status} in {exact.solve_s:.1f} s, greedy {t_greedy:.2f} s", err=True)
    table = pd.DataFrame(rows)
    click.echo(table.to_string(index=False))
    click.echo(f"build times: {timings}; peak memory {peak_rss_mib():.0f} MiB")
    write_json(json_out, {"benchmark": "coverage", "minutes": minutes, "time_limit_s": time_limit,
                          "rows": rows, "timings_s": timings, "peak_rss_mib": peak_rss_mib()})
