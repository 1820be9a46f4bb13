"""`dispatch coverage` and `dispatch locate`: how much demand the network reaches within a travel
budget, and where stations should be. Bad input is a one-line error naming the value and what
would be valid (exit 2)."""

from __future__ import annotations

import math
import time

import click
import numpy as np
import pandas as pd

from dispatch.cli.options import (
    BadInput,
    ProgressBar,
    bad_input_on_dispatch_error,
    load_dataset,
    load_population,
    load_travel,
    pct,
    source_options,
    travel_option,
    write_text,
)
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.exports import csv_text
from dispatch.geodata import load_geography


def _dataset_and_demand(source: str | None, preset: str | None, seed: int,
                        population: str | None) -> tuple[Dataset, pd.DataFrame]:
    """The network (SOURCE, else generated from PRESET, default national) and its county demand."""
    from dispatch.coverage import demand_for  # SciPy's sparse matrices: slow to import

    ds = load_dataset(source, preset or "national", seed, 0, population)
    return ds, demand_for(ds.network, load_population(population))


# --------------------------------------------------------------------------------------------
# dispatch coverage


@click.command("coverage")
@source_options("national")
@click.option("--minutes", default=60.0, show_default=True, type=click.FloatRange(1, 24 * 60),
              help="Travel-time budget.")
@click.option("--provinces/--no-provinces", default=True, show_default=True, help="Per-province table.")
@click.option("--geojson", type=click.Path(dir_okay=False),
              help="Write county catchments (nearest capable centre, minutes, covered, turnaround) here.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Per-county frame as CSV.")
@travel_option
@bad_input_on_dispatch_error
def coverage(source: str | None, preset: str | None, seed: int, population: str | None, minutes: float,
             provinces: bool, geojson: str | None, csv_out: str | None, travel_spec: str | None) -> None:
    """Share of demand within MINUTES of a centre able to repair each level (and of each tier),
    per province; travel-time distribution; courier-adjusted turnaround of escalated levels."""
    from dispatch.coverage import coverage_report  # SciPy's sparse matrices: slow to import

    travel = load_travel(travel_spec)
    ds, demand = _dataset_and_demand(source, preset, seed, population)
    t0 = time.perf_counter()
    rep = coverage_report(ds.network, demand, minutes, travel)
    wall = time.perf_counter() - t0
    m = int(minutes)
    geo = load_geography()
    names = dict(zip(geo.provinces["adcode"], geo.provinces["pinyin"]))
    table = rep.table.copy()
    table.insert(0, "province", [names.get(i, i) for i in table.index])
    table["demand_share"] = table["weight"] / table.loc["national", "weight"]
    cols = ["province", "demand_share"] + [f"level{k}_within_{m}min" for k in (1, 2, 3)] + [
        f"tier{k}_within_{m}min" for k in (1, 2, 3)]
    shown = table[cols] if provinces else table.loc[["national"], cols]
    shown = shown.rename(columns=lambda c: c.replace(f"_within_{m}min", ""))
    fmt = shown.copy()
    for c in fmt.columns[1:]:
        fmt[c] = fmt[c].map(pct)
    counts = ds.network.counts_by_tier()
    click.echo(f"{len(ds.network)} centres ({', '.join(f'tier {int(t)}: {n}' for t, n in counts.items())}); "
               f"{len(demand)} county demand points; budget {minutes:g} min by car")
    click.echo(f"\nshare of demand within {minutes:g} min of a centre able to repair each level / of each tier:")
    click.echo(fmt.to_string(index=False))
    dist = rep.distribution.copy()
    for c in ("level1", "level2", "level3"):
        dist[c] = dist[c].map(pct)
    click.echo("\ntravel time to the nearest capable centre (share of demand):")
    click.echo(dist.to_string(index=False))
    w = rep.counties["weight"].to_numpy(float)
    click.echo("\ncourier-adjusted turnaround of escalated repairs (device at the nearest centre, "
               "courier up to a capable bench and back; hours):")
    rows = []
    for level in (2, 3):
        ta = rep.counties[f"level{level}_turnaround_h"].to_numpy(float)
        ok = np.isfinite(ta) & (w > 0)
        order = np.argsort(ta[ok])
        cum = np.cumsum(w[ok][order]) / w[ok].sum() if ok.any() else np.array([])

        def q(p: float, ta=ta, ok=ok, order=order, cum=cum) -> float:
            return float(ta[ok][order][np.searchsorted(cum, p)]) if len(cum) else math.nan

        rows.append({"level": level, "weighted_mean_h": round(float(np.average(ta[ok], weights=w[ok])), 1) if ok.any() else math.nan,
                     "p50_h": round(q(0.5), 1), "p90_h": round(q(0.9), 1),
                     "share_<=24h": pct(float(w[ok][ta[ok] <= 24].sum() / w[ok].sum())) if ok.any() else "-",
                     "share_<=48h": pct(float(w[ok][ta[ok] <= 48].sum() / w[ok].sum())) if ok.any() else "-",
                     "counties_without_capable_chain": int((~np.isfinite(ta)).sum())})
    click.echo(pd.DataFrame(rows).to_string(index=False))
    worst = rep.counties.sort_values("level3_turnaround_h", ascending=False).head(5)
    click.echo("slowest counties for level 3: " + ", ".join(
        f"{r.adcode} {r.name} {r.level3_turnaround_h:.0f} h" for r in worst.itertuples()))
    click.echo(f"\ncoverage metrics in {wall:.2f} s")
    if csv_out:
        write_text(csv_out, csv_text(rep.counties))
        click.echo(f"per-county frame written to {csv_out}")
    if geojson:
        counties = geo.counties[["adcode", "geometry"]].merge(rep.counties, on="adcode")
        _write_geojson(geojson, counties)
        click.echo(f"county catchments written to {geojson}")


def _write_geojson(path: str, frame: pd.DataFrame) -> None:
    import geopandas as gpd  # only for --geojson; slow to import

    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=getattr(frame, "crs", None) or "EPSG:4326").to_crs(4326)
    # Simplified outlines (~500 m) keep a national file small enough for a browser map.
    polys = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    gdf.loc[polys, "geometry"] = gdf.loc[polys, "geometry"].simplify(0.005, preserve_topology=True)
    write_text(path, gdf.to_json(na="null", ensure_ascii=False, drop_id=True))


# --------------------------------------------------------------------------------------------
# dispatch locate


def _ids(text: str) -> tuple[str, ...]:
    """Comma-separated ids, stripped, empty ones left out."""
    return tuple(x.strip() for x in text.split(",") if x.strip())


@click.command("locate")
@source_options("national")
@click.option("--model", type=click.Choice(["mclp", "lscp", "pmedian", "pcenter"]), default="mclp", show_default=True)
@click.option("--p", "p", type=int, default=None, help="Sites to open (mclp, pmedian, pcenter).")
@click.option("--minutes", default=60.0, show_default=True, type=click.FloatRange(1, 24 * 60),
              help="Coverage radius (mclp, lscp).")
@click.option("--level", default=1, show_default=True, type=click.IntRange(1, 3),
              help="Existing centres able to repair this level count as existing sites.")
@click.option("--lock-existing", is_flag=True, help="Keep every existing site open (they count towards --p).")
@click.option("--lock-open", default="", help="Comma-separated county adcodes or centre ids to keep open.")
@click.option("--lock-closed", default="", help="Comma-separated county adcodes or centre ids never to open.")
@click.option("--exact/--greedy", default=True, show_default=True,
              help="Exact MIP (HiGHS) with bound and gap, or the instant greedy (mclp only).")
@click.option("--time-limit", default=30.0, show_default=True, type=click.FloatRange(0.1, None),
              help="Seconds for the exact solve.")
@click.option("--candidates-per-demand", default=None, type=click.IntRange(1, None),
              help="p-median: allocate each county among its K nearest sites only (default 40 nationally).")
@click.option("--geojson", type=click.Path(dir_okay=False), help="Chosen sites and their catchments.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Chosen sites as CSV.")
@travel_option
@bad_input_on_dispatch_error
def locate(source: str | None, preset: str | None, seed: int, population: str | None, model: str, p: int | None,
           minutes: float, level: int, lock_existing: bool, lock_open: str, lock_closed: str, exact: bool,
           time_limit: float, candidates_per_demand: int | None, geojson: str | None, csv_out: str | None,
           travel_spec: str | None) -> None:
    """Where stations should be: maximal cover, set cover, p-median or p-center over county seats."""
    # SciPy and the HiGHS MIP solver: slow to import.
    from dispatch.coverage import (
        county_location_problem,
        existing_sites,
        greedy_mclp,
        lscp,
        mclp,
        pcenter,
        pmedian,
    )

    if model != "lscp" and p is None:
        raise BadInput(f"--p is required for --model {model} (the number of sites to open)")
    if model == "lscp" and p is not None:
        raise BadInput("--p does not apply to --model lscp (set cover finds the fewest sites itself)")
    if p is not None and p < 0:
        raise BadInput(f"--p {p} is negative; expected a number of sites >= 0")
    if not exact and model != "mclp":
        raise BadInput(f"--greedy exists for --model mclp only; {model} is always solved exactly")
    travel = load_travel(travel_spec)
    ds, demand = _dataset_and_demand(source, preset, seed, population)
    prob = county_location_problem(demand, ds.network, level, lock_existing, _ids(lock_open), _ids(lock_closed),
                                   travel=travel)
    existing = existing_sites(ds.network, demand, level)
    radius_s = minutes * 60
    with ProgressBar() as bar:
        bar("solving", 0, 1)
        if model == "lscp":
            res = lscp(prob, radius_s, time_limit)
        elif p is None:  # checked above: every other model needs --p
            raise AssertionError(model)
        elif model == "mclp":
            res = mclp(prob, p, radius_s, time_limit) if exact else greedy_mclp(prob, p, radius_s)
        elif model == "pmedian":
            k = candidates_per_demand or (None if len(prob.site_ids) <= 300 else 40)
            res = pmedian(prob, p, time_limit, candidates_per_demand=k)
        else:
            res = pcenter(prob, p, time_limit)
        bar("solving", 1, 1)
    total = float(prob.weights.sum())
    if model == "mclp":
        meaning = f"covered demand {pct(res.objective / total if total else math.nan)} within {minutes:g} min"
    elif model == "lscp" and res.status == "PARTIAL":
        meaning = (f"{res.objective:.0f} sites cover every county that any candidate reaches within {minutes:g} min; "
                   f"the others cannot be covered (see the note)")
    elif model == "lscp":
        meaning = f"{res.objective:.0f} sites cover every county within {minutes:g} min"
    elif model == "pmedian":
        meaning = f"demand-weighted mean travel {res.objective / total / 60 if total else math.nan:.1f} min"
    else:
        meaning = f"worst county travel {res.objective / 60:.1f} min"
    bound = "-" if math.isnan(res.bound) else f"{res.bound:.6g}"
    gap = "-" if math.isnan(res.gap) else f"{100 * res.gap:.3f} %"
    click.echo(f"{res.model}: {res.status} in {res.solve_s:.2f} s; objective {res.objective:.6g} ({meaning}); "
               f"bound {bound}; gap {gap}")
    for note in res.notes:
        click.echo(f"note: {note}")
    if res.status == "INFEASIBLE":
        raise DispatchError(f"{res.model} has no solution: {'; '.join(res.notes) or 'the model is infeasible'}")
    if res.status not in ("OPTIMAL", "FEASIBLE", "HEURISTIC", "PARTIAL"):
        raise DispatchError(f"{res.model} found no solution ({res.status}) within {time_limit:g} s")
    geo = load_geography()
    info = demand.set_index("adcode")
    alloc = pd.Series(res.allocation, index=demand["adcode"])
    load = demand.groupby(alloc.to_numpy())["weight"].sum() if len(res.chosen) else pd.Series(dtype=float)
    prov = dict(zip(geo.provinces["adcode"], geo.provinces["pinyin"]))
    chosen = pd.DataFrame({
        "adcode": list(res.chosen),
        "name": [info.at[c, "name"] for c in res.chosen],
        "province": [prov.get(info.at[c, "province_adcode"], "") for c in res.chosen],
        "existing": [existing.get(c, "new") for c in res.chosen],
        "allocated_demand_share": [float(load.get(c, 0.0)) / total if total else math.nan for c in res.chosen],
        "lon": [info.at[c, "lon"] for c in res.chosen], "lat": [info.at[c, "lat"] for c in res.chosen],
    })
    new = int((chosen["existing"] == "new").sum())
    click.echo(f"{len(chosen)} sites chosen ({new} new, {len(chosen) - new} existing); "
               f"{len(existing)} existing sites able to repair level {level} in the area")
    shown = chosen.drop(columns=["lon", "lat"]).copy()
    shown["allocated_demand_share"] = shown["allocated_demand_share"].map(pct)
    click.echo(shown.head(25).to_string(index=False))
    if len(chosen) > 25:
        click.echo(f"... and {len(chosen) - 25} more (use --csv or --geojson)")
    if csv_out:
        write_text(csv_out, csv_text(chosen))
        click.echo(f"chosen sites written to {csv_out}")
    if geojson:
        import geopandas as gpd  # only for --geojson; slow to import

        counties = geo.counties[["adcode", "geometry"]].merge(
            pd.DataFrame({"adcode": demand["adcode"], "site": alloc.to_numpy()}), on="adcode")
        counties = counties[counties["site"].notna()]
        catch = counties.dissolve(by="site", as_index=False)[["site", "geometry"]]
        catch["kind"] = "catchment"
        pts = gpd.GeoDataFrame(chosen.assign(site=chosen["adcode"], kind="site"),
                               geometry=gpd.points_from_xy(chosen["lon"], chosen["lat"]), crs="EPSG:4326")
        _write_geojson(geojson, pd.concat([pts, catch.to_crs(4326)], ignore_index=True))
        click.echo(f"sites and catchments written to {geojson}")



COMMANDS = (coverage, locate)
