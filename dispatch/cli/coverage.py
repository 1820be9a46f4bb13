"""`dispatch coverage`, `dispatch locate` and `dispatch scenario ...`: the network manager's
questions. Commands parse options, call dispatch.coverage / dispatch.scenarios / dispatch.store
and print; bad input becomes a one-line error naming the value and what would be valid (exit 2).
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from dispatch.errors import DispatchError, ValidationError


class InputError(click.ClickException):
    """Bad user input found by the library: exit code 2, like click's usage errors and
    ``dispatch validate`` (``main()`` exits 2 for every ClickException)."""

    exit_code = 2


def _input_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's DispatchError (raised on input it cannot use) into exit code 2.
    ValidationError keeps its own multi-line report and exit code (main() gives 2 as well)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationError:
            raise
        except DispatchError as exc:
            raise InputError(str(exc)) from exc

    return wrapper


def _shared():  # type: ignore[no-untyped-def]
    # Imported late: dispatch.cli imports this module inside _register_coverage().
    from dispatch.cli import root as cli

    return cli


def _source_options(default_preset: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        from dispatch.cli.root import _population_option

        fn = _population_option(fn)
        fn = click.option("--seed", default=1, show_default=True, type=int)(fn)
        fn = click.option("--preset", default=None,
                          help=f"Generate the network instead of reading SOURCE (default {default_preset}).")(fn)
        fn = click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))(fn)
        return fn

    return deco


def _db_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    from dispatch.cli.root import _db_option as opt

    return opt(fn)


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _write_text(path: str, text: str) -> None:
    from dispatch.io import _atomic_write

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, lambda p: p.write_text(text, encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# dispatch coverage


@click.command("coverage")
@_source_options("national")
@click.option("--minutes", default=60.0, show_default=True, type=click.FloatRange(1, 24 * 60),
              help="Travel-time budget.")
@click.option("--provinces/--no-provinces", default=True, show_default=True, help="Per-province table.")
@click.option("--geojson", type=click.Path(dir_okay=False),
              help="Write county catchments (nearest capable centre, minutes, covered, turnaround) here.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Per-county frame as CSV.")
@_input_errors
def coverage(source, preset, seed, population, minutes, provinces, geojson, csv_out) -> None:  # type: ignore[no-untyped-def]
    """Share of demand within MINUTES of a centre able to repair each level (and of each tier),
    per province; travel-time distribution; courier-adjusted turnaround of escalated levels."""
    from dispatch.coverage import coverage_report, demand_for
    from dispatch.geodata import load_geography

    cli = _shared()
    pop = cli._load_population(population)
    ds = cli._dataset(source, preset or ("national" if not source else None), seed, 0, population)
    demand = demand_for(ds.network, pop)
    t0 = time.perf_counter()
    rep = coverage_report(ds.network, demand, minutes)
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
        fmt[c] = fmt[c].map(_pct)
    counts = ds.network.counts_by_tier()
    click.echo(f"{len(ds.network)} centres ({', '.join(f'tier {int(t)}: {n}' for t, n in counts.items())}); "
               f"{len(demand)} county demand points; budget {minutes:g} min by car")
    click.echo(f"\nshare of demand within {minutes:g} min of a centre able to repair each level / of each tier:")
    click.echo(fmt.to_string(index=False))
    dist = rep.distribution.copy()
    for c in ("level1", "level2", "level3"):
        dist[c] = dist[c].map(_pct)
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
                     "share_<=24h": _pct(float(w[ok][ta[ok] <= 24].sum() / w[ok].sum())) if ok.any() else "-",
                     "share_<=48h": _pct(float(w[ok][ta[ok] <= 48].sum() / w[ok].sum())) if ok.any() else "-",
                     "counties_without_capable_chain": int((~np.isfinite(ta)).sum())})
    click.echo(pd.DataFrame(rows).to_string(index=False))
    worst = rep.counties.sort_values("level3_turnaround_h", ascending=False).head(5)
    click.echo("slowest counties for level 3: " + ", ".join(
        f"{r.adcode} {r.name} {r.level3_turnaround_h:.0f} h" for r in worst.itertuples()))
    click.echo(f"\ncoverage metrics in {wall:.2f} s")
    if csv_out:
        _write_text(csv_out, rep.counties.to_csv(index=False))
        click.echo(f"per-county frame written to {csv_out}")
    if geojson:
        counties = geo.counties[["adcode", "geometry"]].merge(rep.counties, on="adcode")
        _write_geojson(geojson, counties)
        click.echo(f"county catchments written to {geojson}")


def _write_geojson(path: str, gdf) -> None:  # type: ignore[no-untyped-def]
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=getattr(gdf, "crs", None) or "EPSG:4326").to_crs(4326)
    # Simplified outlines (~500 m) keep a national file small enough for a browser map.
    polys = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    gdf.loc[polys, "geometry"] = gdf.loc[polys, "geometry"].simplify(0.005, preserve_topology=True)
    for c in gdf.columns:
        if c != "geometry" and gdf[c].dtype == bool:
            gdf[c] = gdf[c].astype(bool)
    _write_text(path, gdf.to_json(na="null", ensure_ascii=False, drop_id=True))


# --------------------------------------------------------------------------------------------
# dispatch locate


@click.command("locate")
@_source_options("national")
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
@_input_errors
def locate(source, preset, seed, population, model, p, minutes, level, lock_existing, lock_open, lock_closed,  # type: ignore[no-untyped-def]
           exact, time_limit, candidates_per_demand, geojson, csv_out) -> None:
    """Where stations should be: maximal cover, set cover, p-median or p-center over county seats."""
    from dispatch.coverage import (
        county_location_problem,
        demand_for,
        existing_sites,
        greedy_mclp,
        lscp,
        mclp,
        pcenter,
        pmedian,
    )
    from dispatch.geodata import load_geography

    if model != "lscp" and p is None:
        raise InputError(f"--p is required for --model {model} (the number of sites to open)")
    if model == "lscp" and p is not None:
        raise InputError("--p does not apply to --model lscp (set cover finds the fewest sites itself)")
    if p is not None and p < 0:
        raise InputError(f"--p {p} is negative; expected a number of sites >= 0")
    if not exact and model != "mclp":
        raise InputError(f"--greedy exists for --model mclp only; {model} is always solved exactly")
    cli = _shared()
    pop = cli._load_population(population)
    ds = cli._dataset(source, preset or ("national" if not source else None), seed, 0, population)
    demand = demand_for(ds.network, pop)
    split = lambda s: tuple(x.strip() for x in s.split(",") if x.strip())  # noqa: E731
    prob = county_location_problem(demand, ds.network, level, lock_existing, split(lock_open), split(lock_closed))
    existing = existing_sites(ds.network, demand, level)
    radius_s = minutes * 60
    bar = cli._Bar()
    bar("solving", 0, 1)
    try:
        if model == "mclp":
            res = mclp(prob, p, radius_s, time_limit) if exact else greedy_mclp(prob, p, radius_s)
        elif model == "lscp":
            res = lscp(prob, radius_s, time_limit)
        elif model == "pmedian":
            k = candidates_per_demand or (None if len(prob.site_ids) <= 300 else 40)
            res = pmedian(prob, p, time_limit, candidates_per_demand=k)
        else:
            res = pcenter(prob, p, time_limit)
    finally:
        bar("solving", 1, 1)
        bar.close()
    total = float(prob.weights.sum())
    if model == "mclp":
        meaning = f"covered demand {_pct(res.objective / total if total else math.nan)} within {minutes:g} min"
    elif model == "lscp":
        meaning = f"{res.objective:.0f} sites cover every coverable county within {minutes:g} min"
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
    if res.status not in ("OPTIMAL", "FEASIBLE", "HEURISTIC"):
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
    shown["allocated_demand_share"] = shown["allocated_demand_share"].map(_pct)
    click.echo(shown.head(25).to_string(index=False))
    if len(chosen) > 25:
        click.echo(f"... and {len(chosen) - 25} more (use --csv or --geojson)")
    if csv_out:
        _write_text(csv_out, chosen.to_csv(index=False))
        click.echo(f"chosen sites written to {csv_out}")
    if geojson:
        import geopandas as gpd

        counties = geo.counties[["adcode", "geometry"]].merge(
            pd.DataFrame({"adcode": demand["adcode"], "site": alloc.to_numpy()}), on="adcode")
        counties = counties[counties["site"].notna()]
        catch = counties.dissolve(by="site", as_index=False)[["site", "geometry"]]
        catch["kind"] = "catchment"
        pts = gpd.GeoDataFrame(chosen.assign(site=chosen["adcode"], kind="site"),
                               geometry=gpd.points_from_xy(chosen["lon"], chosen["lat"]), crs="EPSG:4326")
        _write_geojson(geojson, pd.concat([pts, catch.to_crs(4326)], ignore_index=True))
        click.echo(f"sites and catchments written to {geojson}")


# --------------------------------------------------------------------------------------------
# dispatch scenario ...


@click.group("scenario")
def scenario() -> None:
    """What-if scenarios: create (stored), list, apply, compare, sweep."""


def _pairs(values: tuple[str, ...], sep: str, option: str, example: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        key, found, rest = v.partition(sep)
        if not found or not key.strip() or not rest.strip():
            raise InputError(f"{option} {v!r}: expected KEY{sep}VALUE, e.g. {option} {example}")
        out.append((key.strip(), rest.strip()))
    return out


def _number(value: str, option: str, cast=float):  # type: ignore[no-untyped-def]
    try:
        return cast(value)
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a {'whole ' if cast is int else ''}number") from None


def _open_spec(code_tier: str, base) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``ADCODE[:TIER]`` -> an ``open`` spec at the county (or prefecture) seat, under the nearest
    existing parent in the hierarchy (the city centre of its prefecture, else the province)."""
    from dispatch.geodata import load_geography, prefecture_of

    code, _, tier_s = code_tier.partition(":")
    tier = _number(tier_s, "--open tier", int) if tier_s else 3
    if tier not in (2, 3):
        raise InputError(f"--open {code_tier!r}: tier {tier}; expected 2 (city centre) or 3 (county station)")
    geo = load_geography()
    table = geo.counties if tier == 3 else geo.prefectures
    hit = table[table["adcode"] == code]
    if hit.empty:
        kind = "county" if tier == 3 else "prefecture"
        raise InputError(f"--open {code!r}: unknown {kind} adcode; expected a 6-digit {kind} code such as "
                         f"{', '.join(sorted(table['adcode'])[:3])}")
    row = hit.iloc[0]
    province = str(row["province_adcode"])
    prefecture = prefecture_of(code) if tier == 3 else code
    if tier == 3 and "prefecture_adcode" in hit:
        prefecture = str(row["prefecture_adcode"])
    ids = base.network.by_id
    parent = f"C{prefecture}" if tier == 3 and f"C{prefecture}" in ids else f"P{province}"
    if parent not in ids:
        raise InputError(f"--open {code!r}: its province {province} has no centre in this base network")
    return {"id": f"{'S' if tier == 3 else 'C'}{code}", "name": f"{row['name']} (new)", "tier": tier,
            "lon": round(float(row["seat_lon"]), 6), "lat": round(float(row["seat_lat"]), 6),
            "parent_id": parent, "province_adcode": province, "prefecture_adcode": prefecture,
            "county_adcode": code if tier == 3 else ""}


def _base_spec(source: str | None, preset: str | None, seed: int, days: int, population: str | None) -> dict[str, Any]:
    return {"source": str(Path(source).resolve()) if source else None,
            "preset": None if source else (preset or "zhejiang"), "seed": seed, "days": days,
            "population": str(Path(population).resolve()) if population else None}


def _base_dataset(base: dict[str, Any]):  # type: ignore[no-untyped-def]
    cli = _shared()
    if base.get("source") and not Path(base["source"]).is_dir():
        raise InputError(f"the scenario's base folder {base['source']!r} no longer exists; "
                         "give SOURCE or --preset to compare on another base")
    return cli._dataset(base.get("source"), base.get("preset"), int(base.get("seed", 1)),
                        int(base.get("days", 1)), base.get("population"))


def _echo_warnings(name: str, warnings: tuple[str, ...], limit: int = 20) -> None:
    for w in warnings[:limit]:
        click.echo(f"warning [{name}]: {w}", err=False)
    if len(warnings) > limit:
        click.echo(f"warning [{name}]: ... and {len(warnings) - limit} more")


@scenario.command("create")
@click.argument("name")
@_source_options("zhejiang")
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, 31), help="Days of calls in the base.")
@click.option("--close", multiple=True, help="Station ids to close (repeat or comma-separate), e.g. S330521.")
@click.option("--open", "open_", multiple=True,
              help="Open a station at a county seat: ADCODE[:TIER] (tier 3 default; 2 with a prefecture code).")
@click.option("--move-tech", multiple=True, help="TECH=CENTRE: move a technician.")
@click.option("--add-tech", multiple=True, help="CENTRE:N[:MAXLEVEL]: add N technicians.")
@click.option("--remove-tech", multiple=True, help="CENTRE:N: remove N technicians.")
@click.option("--tier-levels", multiple=True, help="TIER=LEVELS, e.g. 3=1,2 (county stations do module swaps).")
@click.option("--bench-hours", multiple=True, help="TIER=HOURS or CENTRE=HOURS per day.")
@click.option("--courier", multiple=True, help="TIER=HOURS courier lead time to the parent (tiers 2, 3).")
@click.option("--demand-growth", multiple=True, help="PROVINCE=FACTOR, e.g. 330000=1.2.")
@click.option("--dispatch-target-min", type=int, default=None, help="Dispatch promise in minutes (default 60).")
@click.option("--from-json", type=click.Path(exists=True, dir_okay=False),
              help="A scenario document (see dispatch/scenarios.py); options above are added to it.")
@click.option("--description", default="")
@_db_option
@_input_errors
def scenario_create(name, source, preset, seed, population, days, close, open_, move_tech, add_tech, remove_tech,  # type: ignore[no-untyped-def]
                    tier_levels, bench_hours, courier, demand_growth, dispatch_target_min, from_json,
                    description, db) -> None:
    """Create (or replace) scenario NAME, validated against the base (SOURCE or --preset), and
    store it with that base."""
    from dispatch.scenarios import Scenario, apply
    from dispatch.store import Store

    doc: dict[str, Any] = {}
    if from_json:
        try:
            doc = json.loads(Path(from_json).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{from_json}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    doc["name"] = name
    doc["description"] = description or doc.get("description", "")
    base_spec = _base_spec(source, preset, seed, days, population)
    base = _base_dataset(base_spec)
    doc["close"] = list(doc.get("close", [])) + [c.strip() for v in close for c in v.split(",") if c.strip()]
    doc["open"] = list(doc.get("open", [])) + [_open_spec(c.strip(), base) for v in open_ for c in v.split(",") if c.strip()]
    doc["move"] = {**doc.get("move", {}), **dict(_pairs(move_tech, "=", "--move-tech", "T0001=C330100"))}
    for opt, values, key in (("--add-tech", add_tech, "add"), ("--remove-tech", remove_tech, "remove")):
        for centre, rest in _pairs(values, ":", opt, "C330100:2"):
            count_s, _, max_level = rest.partition(":")
            spec = {"centre_id": centre, "count": _number(count_s, opt, int)}
            if max_level:
                spec["max_level"] = _number(max_level, f"{opt} max level", int)
            doc[key] = list(doc.get(key, [])) + [spec]
    caps = dict(doc.get("capabilities", {}))
    for tier, levels in _pairs(tier_levels, "=", "--tier-levels", "3=1,2"):
        caps[tier] = [_number(x, "--tier-levels", int) for x in levels.split(",")]
    doc["capabilities"] = caps
    doc["bench_hours"] = {**doc.get("bench_hours", {}),
                          **{k: _number(v, "--bench-hours") for k, v in _pairs(bench_hours, "=", "--bench-hours", "2=12")}}
    doc["courier_h"] = {**doc.get("courier_h", {}),
                        **{k: _number(v, "--courier") for k, v in _pairs(courier, "=", "--courier", "3=2.5")}}
    doc["demand_growth"] = {**doc.get("demand_growth", {}),
                            **{k: _number(v, "--demand-growth") for k, v in _pairs(demand_growth, "=", "--demand-growth", "330000=1.2")}}
    if dispatch_target_min is not None:
        doc["dispatch_target_min"] = dispatch_target_min
    try:
        sc = Scenario.from_dict(doc)
    except (TypeError, ValueError) as exc:
        raise InputError(f"scenario {name!r}: {exc}") from None
    applied = apply(base, sc, seed=seed)  # validates: unknown ids, negative counts, ... -> exit 2
    store = Store(db)
    store.save_scenario(name, sc.to_dict(), base_spec, sc.description)
    click.echo(f"scenario {name!r} stored in {store.url} (base: {_describe_base(base_spec)})")
    _echo_changes(base, applied)
    _echo_warnings(name, applied.warnings)


def _describe_base(base: dict[str, Any]) -> str:
    what = base.get("source") or f"preset {base.get('preset')}"
    return f"{what}, seed {base.get('seed')}, {base.get('days')} day(s)"


def _echo_changes(base, applied) -> None:  # type: ignore[no-untyped-def]
    """Before/after counts: centres by tier, technicians, capable centres per level, calls."""
    from collections import Counter

    after = applied.dataset
    rows = []
    for label, fn in (
        ("centres tier 1", lambda d: d.network.counts_by_tier()[1]),
        ("centres tier 2", lambda d: d.network.counts_by_tier()[2]),
        ("centres tier 3", lambda d: d.network.counts_by_tier()[3]),
        ("able to repair level 1", lambda d: sum(c.can_repair(1) for c in d.network)),
        ("able to repair level 2", lambda d: sum(c.can_repair(2) for c in d.network)),
        ("able to repair level 3", lambda d: sum(c.can_repair(3) for c in d.network)),
        ("technicians", lambda d: len(d.technicians)),
        ("calls", lambda d: len(d.requests)),
    ):
        b, a = fn(base), fn(after)
        rows.append({"": label, "base": b, "scenario": a, "change": f"{a - b:+d}" if a != b else ""})
    rows.append({"": "dispatch target (min)", "base": 60, "scenario": applied.dispatch_target_s // 60,
                 "change": "" if applied.dispatch_target_s == 3600 else f"{applied.dispatch_target_s // 60 - 60:+d}"})
    click.echo(pd.DataFrame(rows).to_string(index=False))
    b_ids, a_ids = set(base.network.by_id), set(after.network.by_id)
    if b_ids - a_ids:
        click.echo("closed: " + ", ".join(sorted(b_ids - a_ids)))
    if a_ids - b_ids:
        click.echo("opened: " + ", ".join(sorted(a_ids - b_ids)))
    homes_b = {t.id: t.home_centre_id for t in base.technicians}
    moved = Counter((homes_b[t.id], t.home_centre_id) for t in after.technicians
                    if t.id in homes_b and homes_b[t.id] != t.home_centre_id)
    for (src, dst), n in sorted(moved.items()):
        click.echo(f"moved: {n} technician(s) {src} -> {dst}")
    changed = sorted(c.id for c in after.network if c.id in base.network.by_id and c != base.network[c.id]
                     and c.parent_id == base.network[c.id].parent_id)
    if changed:
        click.echo(f"changed (levels, bench hours or courier): {len(changed)} centre(s), e.g. {', '.join(changed[:5])}")


@scenario.command("list")
@_db_option
def scenario_list(db) -> None:  # type: ignore[no-untyped-def]
    """Stored scenarios."""
    from dispatch.store import Store

    frame = Store(db).list_scenarios()
    if frame.empty:
        click.echo("no scenarios stored")
        return
    summary = []
    for spec_json, base_json in zip(frame["spec_json"], frame["base_json"]):
        spec = json.loads(spec_json)
        parts = [f"{k} {len(v)}" for k, v in spec.items()
                 if k not in ("name", "description", "dispatch_target_min") and v]
        if spec.get("dispatch_target_min"):
            parts.append(f"target {spec['dispatch_target_min']} min")
        summary.append(("; ".join(parts) or "no changes", _describe_base(json.loads(base_json))))
    frame["changes"] = [s[0] for s in summary]
    frame["base"] = [s[1] for s in summary]
    click.echo(frame[["id", "name", "created_at", "changes", "base", "description"]].to_string(index=False))


def _load(store, names: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from dispatch.scenarios import Scenario

    stored = [store.load_scenario(n) for n in names]
    return stored, [Scenario.from_dict(s.spec) for s in stored]


@scenario.command("apply")
@click.argument("name")
@_source_options("the scenario's stored base")
@_db_option
@_input_errors
def scenario_apply(name, source, preset, seed, population, db) -> None:  # type: ignore[no-untyped-def]
    """Apply stored scenario NAME to its base (or SOURCE/--preset): what changes, and warnings."""
    from dispatch.scenarios import apply
    from dispatch.store import Store

    (stored,), (sc,) = _load(Store(db), (name,))
    base_spec = stored.base if not (source or preset) else _base_spec(source, preset, seed, stored.base.get("days", 1), population)
    base = _base_dataset(base_spec)
    applied = apply(base, sc, seed=int(base_spec.get("seed", 1)))
    click.echo(f"scenario {name!r} on {_describe_base(base_spec)}")
    _echo_changes(base, applied)
    _echo_warnings(name, applied.warnings)
    if not applied.warnings:
        click.echo("no warnings")


def _compare_options(minutes, plan, day, time_limit, seed, population):  # type: ignore[no-untyped-def]
    from dispatch.scenarios import CompareOptions

    return CompareOptions(minutes=minutes, plan=plan, day=day, seed=seed, routing_max_s=time_limit,
                          population=_shared()._load_population(population))


def _echo_comparison(comp) -> None:  # type: ignore[no-untyped-def]
    table = comp.table.copy()
    shares = [i for i in table.index if "coverage" in i or i.endswith(("_rate", "_share", "utilisation")) or "bench_share" in i]
    out = table.astype(object)
    for i in table.index:
        for c in table.columns:
            v = table.at[i, c]
            if pd.isna(v):
                out.at[i, c] = "-"
            elif i in shares:
                out.at[i, c] = f"{100 * v:+.1f} pp" if c.startswith("Δ") else f"{100 * v:.1f} %"
            else:
                out.at[i, c] = f"{v:+,.2f}" if c.startswith("Δ") else f"{v:,.2f}"
    click.echo(out.to_string())
    for name, warnings in comp.warnings.items():
        _echo_warnings(name, warnings, limit=10)


_compare_flags = [
    click.option("--minutes", default=60.0, show_default=True, type=click.FloatRange(1, 24 * 60)),
    click.option("--plan", is_flag=True, help="Also plan a day for each (same seeded calls): dispatch, turnaround, utilisation."),
    click.option("--day", default=0, show_default=True, type=click.IntRange(0, None)),
    click.option("--time-limit", default=None, type=click.FloatRange(0.1, None), help="Routing seconds cap per area."),
    click.option("--workers", default=None, type=click.IntRange(1, 64)),
    click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS", help="Dask scheduler address."),
    click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Write the comparison table here."),
]


def _with(flags):  # type: ignore[no-untyped-def]
    def deco(fn):  # type: ignore[no-untyped-def]
        for f in reversed(flags):
            fn = f(fn)
        return fn

    return deco


@scenario.command("compare")
@click.argument("names", nargs=-1, required=True)
@click.option("--base", "base_source", default=None,
              help="Base to compare on: a dataset folder or a preset (default: the first scenario's stored base).")
@click.option("--seed", default=None, type=int, help="Seed of the base (default: the stored one).")
@_with(_compare_flags)
@_db_option
@_input_errors
def scenario_compare(names, base_source, seed, minutes, plan, day, time_limit, workers, scheduler, csv_out, db) -> None:  # type: ignore[no-untyped-def]
    """Base and scenarios NAMES side by side: coverage (and with --plan a day plan on the same
    seeded calls), with each scenario's delta to the base."""
    from dispatch.executor import executor
    from dispatch.scenarios import compare
    from dispatch.store import Store

    stored, scs = _load(Store(db), names)
    base_spec = dict(stored[0].base)
    if base_source:
        is_dir = Path(base_source).is_dir()
        base_spec.update(source=str(Path(base_source).resolve()) if is_dir else None,
                         preset=None if is_dir else base_source)
    if seed is not None:
        base_spec["seed"] = seed
    others = [s.name for s in stored[1:] if s.base != stored[0].base]
    if others and not base_source:
        click.echo(f"warning: {', '.join(others)} were created on another base; all are compared on "
                   f"{_describe_base(base_spec)}")
    base = _base_dataset(base_spec)
    opts = _compare_options(minutes, plan, day, time_limit, int(base_spec.get("seed", 1)), base_spec.get("population"))
    cli = _shared()
    bar = cli._Bar()
    try:
        if plan:
            with executor(workers, scheduler) as pool:
                comp = compare(base, scs, opts, pool=pool, progress=bar)
        else:
            comp = compare(base, scs, opts, progress=bar)
    finally:
        bar.close()
    click.echo(f"base: {_describe_base(base_spec)}")
    _echo_comparison(comp)
    if csv_out:
        _write_text(csv_out, comp.table.to_csv())
        click.echo(f"comparison written to {csv_out}")


@scenario.command("sweep")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_source_options("the file's base, else zhejiang")
@_with(_compare_flags)
@click.option("--save/--no-save", default=False, help="Also store every scenario of the file.")
@_db_option
@_input_errors
def scenario_sweep(file, source, preset, seed, population, minutes, plan, day, time_limit, workers, scheduler,  # type: ignore[no-untyped-def]
                   csv_out, save, db) -> None:
    """Many scenarios from FILE (JSON: a list, or {"base": {...}, "scenarios": [...]}) through the
    executor: a local process pool, or Dask with --scheduler."""
    from dispatch.executor import executor
    from dispatch.scenarios import apply, compare, read_sweep
    from dispatch.store import Store

    file_base, scs = read_sweep(file)
    if source or preset:
        base_spec = _base_spec(source, preset, seed, 1, population)
    else:
        base_spec = _base_spec(file_base.get("source"), file_base.get("preset"), int(file_base.get("seed", seed)),
                               int(file_base.get("days", 1)), file_base.get("population", population))
    base = _base_dataset(base_spec)
    for sc in scs:  # fail fast, before any worker starts, on the first bad scenario
        try:
            apply(base, sc, seed=base_spec["seed"])
        except DispatchError as exc:
            raise InputError(f"{file}: scenario {sc.name!r}: {exc}") from None
    opts = _compare_options(minutes, plan, day, time_limit, base_spec["seed"], base_spec.get("population"))
    cli = _shared()
    bar = cli._Bar()
    t0 = time.perf_counter()
    try:
        with executor(workers, scheduler) as pool:
            comp = compare(base, scs, opts, pool=pool, parallel=True, progress=bar)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    table = comp.table[[e.name for e in comp.evaluations]].T
    keep = [c for c in table.columns if c.startswith(("coverage_level", "est_turnaround", "technicians", "centres",
                                                      "cost_per_day", "plan_dispatch_within", "plan_turnaround_mean",
                                                      "plan_utilisation"))
            and c not in ("centres_tier1",)]
    shown = table[keep].copy()
    for c in shown.columns:
        if "coverage" in c or c.endswith("_rate") or c == "plan_utilisation":
            shown[c] = shown[c].map(_pct)
        else:
            shown[c] = shown[c].map(lambda v: "-" if pd.isna(v) else f"{v:,.1f}")
    shown["warnings"] = [len(e.warnings) for e in comp.evaluations]
    click.echo(f"{len(scs)} scenario(s) on {_describe_base(base_spec)} in {wall:.1f} s")
    click.echo(shown.to_string())
    for name, warnings in comp.warnings.items():
        _echo_warnings(name, warnings, limit=5)
    if csv_out:
        _write_text(csv_out, table.to_csv())
        click.echo(f"results written to {csv_out}")
    if save:
        store = Store(db)
        for sc in scs:
            store.save_scenario(sc.name, sc.to_dict(), base_spec, sc.description)
        click.echo(f"{len(scs)} scenario(s) stored in {store.url}")


COMMANDS = (coverage, locate, scenario)
