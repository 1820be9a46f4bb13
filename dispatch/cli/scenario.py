"""`dispatch scenario create|list|apply|compare|sweep`: what-if scenarios on a stored base,
compared with the same engine. Bad input is a one-line error naming the value and what would be
valid (exit 2)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from dispatch.cli.options import (
    BadInput,
    ProgressBar,
    bad_input_on_dispatch_error,
    db_option,
    load_dataset,
    load_population,
    load_travel,
    pct,
    source_options,
    travel_option,
    write_text,
)
from dispatch.cli.storage import SCENARIOS, StoreUnavailable, open_store
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.executor import executor
from dispatch.exports import csv_text
from dispatch.geodata import load_geography, prefecture_of
from dispatch.rules import DEFAULT_RULES

if TYPE_CHECKING:
    from dispatch.scenarios import Applied, CompareOptions, Comparison, Scenario


@click.group("scenario")
def scenario() -> None:
    """What-if scenarios: create (stored), list, apply, compare, sweep."""


def _pairs(values: tuple[str, ...], sep: str, option: str, example: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        key, found, rest = v.partition(sep)
        if not found or not key.strip() or not rest.strip():
            raise BadInput(f"{option} {v!r}: expected KEY{sep}VALUE, e.g. {option} {example}")
        out.append((key.strip(), rest.strip()))
    return out


def _number(value: str, option: str, cast: Callable[[str], Any] = float) -> Any:
    try:
        return cast(value)
    except ValueError:
        raise BadInput(f"{option}: {value!r} is not a {'whole ' if cast is int else ''}number") from None


def _open_spec(code_tier: str, base: Dataset) -> dict[str, Any]:
    """``ADCODE[:TIER]`` -> an ``open`` spec at the county (or prefecture) seat, under the nearest
    existing parent in the hierarchy (the city centre of its prefecture, else the province)."""
    code, _, tier_s = code_tier.partition(":")
    tier = _number(tier_s, "--open tier", int) if tier_s else 3
    if tier not in (2, 3):
        raise BadInput(f"--open {code_tier!r}: tier {tier}; expected 2 (city centre) or 3 (county station)")
    geo = load_geography()
    table = geo.counties if tier == 3 else geo.prefectures
    hit = table[table["adcode"] == code]
    if hit.empty:
        kind = "county" if tier == 3 else "prefecture"
        raise BadInput(f"--open {code!r}: unknown {kind} adcode; expected a 6-digit {kind} code such as "
                       f"{', '.join(sorted(table['adcode'])[:3])}")
    row = hit.iloc[0]
    province = str(row["province_adcode"])
    prefecture = prefecture_of(code) if tier == 3 else code
    if tier == 3 and "prefecture_adcode" in hit:
        prefecture = str(row["prefecture_adcode"])
    ids = base.network.by_id
    parent = f"C{prefecture}" if tier == 3 and f"C{prefecture}" in ids else f"P{province}"
    if parent not in ids:
        raise BadInput(f"--open {code!r}: its province {province} has no centre in this base network")
    return {"id": f"{'S' if tier == 3 else 'C'}{code}", "name": f"{row['name']} (new)", "tier": tier,
            "lon": round(float(row["seat_lon"]), 6), "lat": round(float(row["seat_lat"]), 6),
            "parent_id": parent, "province_adcode": province, "prefecture_adcode": prefecture,
            "county_adcode": code if tier == 3 else ""}


def _base_spec(source: str | None, preset: str | None, seed: int, days: int, population: str | None) -> dict[str, Any]:
    return {"source": str(Path(source).resolve()) if source else None,
            "preset": None if source else (preset or "zhejiang"), "seed": seed, "days": days,
            "population": str(Path(population).resolve()) if population else None}


def _base_dataset(base: dict[str, Any]) -> Dataset:
    if base.get("source") and not Path(base["source"]).is_dir():
        raise BadInput(f"the scenario's base folder {base['source']!r} no longer exists; "
                       "give SOURCE or --preset to compare on another base")
    return load_dataset(base.get("source"), base.get("preset"), int(base.get("seed", 1)),
                        int(base.get("days", 1)), base.get("population"))


def _echo_warnings(name: str, warnings: tuple[str, ...], limit: int = 20) -> None:
    for w in warnings[:limit]:
        click.echo(f"warning [{name}]: {w}", err=False)
    if len(warnings) > limit:
        click.echo(f"warning [{name}]: ... and {len(warnings) - limit} more")


@scenario.command("create")
@click.argument("name")
@source_options("zhejiang")
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
@click.option("--dispatch-target-min", type=int, default=None, help=f"Dispatch promise in minutes (default {DEFAULT_RULES.dispatch_target_s // 60}).")
@click.option("--from-json", type=click.Path(exists=True, dir_okay=False),
              help="A scenario document (see dispatch/scenarios.py); options above are added to it.")
@click.option("--description", default="")
@db_option
@bad_input_on_dispatch_error
def scenario_create(name: str, source: str | None, preset: str | None, seed: int, population: str | None, days: int,
                    close: tuple[str, ...], open_: tuple[str, ...], move_tech: tuple[str, ...],
                    add_tech: tuple[str, ...], remove_tech: tuple[str, ...], tier_levels: tuple[str, ...],
                    bench_hours: tuple[str, ...], courier: tuple[str, ...], demand_growth: tuple[str, ...],
                    dispatch_target_min: int | None, from_json: str | None, description: str,
                    db: str | None) -> None:
    """Create (or replace) scenario NAME, validated against the base (SOURCE or --preset), and
    store it with that base."""
    # The scenario engine loads the planner and the location models: slow for `dispatch --help`.
    from dispatch.scenarios import Scenario, apply

    store = open_store(db, write=SCENARIOS)  # before the base is built: a store that cannot take it fails first
    doc: dict[str, Any] = {}
    if from_json:
        try:
            doc = json.loads(Path(from_json).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BadInput(f"{from_json}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
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
        raise BadInput(f"scenario {name!r}: {exc}") from None
    applied = apply(base, sc, seed=seed)  # validates: unknown ids, negative counts, ... -> exit 2
    store.save_scenario(name, sc.to_dict(), base_spec, sc.description)
    click.echo(f"scenario {name!r} stored in {store.url} (base: {_describe_base(base_spec)})")
    _echo_changes(base, applied)
    _echo_warnings(name, applied.warnings)


def _describe_base(base: dict[str, Any]) -> str:
    what = base.get("source") or f"preset {base.get('preset')}"
    return f"{what}, seed {base.get('seed')}, {base.get('days')} day(s)"


def _echo_changes(base: Dataset, applied: Applied) -> None:
    """Before/after counts: centres by tier, technicians, capable centres per level, calls."""
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
    base_s, target_s = DEFAULT_RULES.dispatch_target_s, applied.dispatch_target_s  # apply() starts from the defaults
    rows.append({"": "dispatch target (min)", "base": base_s // 60, "scenario": target_s // 60,
                 "change": "" if target_s == base_s else f"{target_s // 60 - base_s // 60:+d}"})
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
@db_option
def scenario_list(db: str | None) -> None:
    """Stored scenarios."""
    frame = open_store(db).list_scenarios()
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


def _load(db: str | None, names: tuple[str, ...]) -> tuple[list[Any], list[Scenario]]:
    """The stored scenarios NAMES, and each as a Scenario."""
    # The scenario engine loads the planner and the location models: slow for `dispatch --help`.
    from dispatch.scenarios import Scenario

    store = open_store(db)
    stored = [store.load_scenario(n) for n in names]
    return stored, [Scenario.from_dict(s.spec) for s in stored]


@scenario.command("apply")
@click.argument("name")
@source_options("the scenario's stored base")
@db_option
@bad_input_on_dispatch_error
def scenario_apply(name: str, source: str | None, preset: str | None, seed: int, population: str | None,
                   db: str | None) -> None:
    """Apply stored scenario NAME to its base (or SOURCE/--preset): what changes, and warnings."""
    # The scenario engine loads the planner and the location models: slow for `dispatch --help`.
    from dispatch.scenarios import apply

    (stored,), (sc,) = _load(db, (name,))
    base_spec = stored.base if not (source or preset) else _base_spec(source, preset, seed, stored.base.get("days", 1), population)
    base = _base_dataset(base_spec)
    applied = apply(base, sc, seed=int(base_spec.get("seed", 1)))
    click.echo(f"scenario {name!r} on {_describe_base(base_spec)}")
    _echo_changes(base, applied)
    _echo_warnings(name, applied.warnings)
    if not applied.warnings:
        click.echo("no warnings")


def _compare_options(minutes: float, plan: bool, day: int, time_limit: float | None, seed: int,
                     population: str | None, travel_spec: str | None = None) -> CompareOptions:
    # The scenario engine loads the planner and the location models: slow for `dispatch --help`.
    from dispatch.scenarios import CompareOptions

    return CompareOptions(minutes=minutes, plan=plan, day=day, seed=seed, routing_max_s=time_limit,
                          population=load_population(population), travel=load_travel(travel_spec).spec)


def _echo_comparison(comp: Comparison) -> None:
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


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

_compare_flags: list[Decorator] = [
    click.option("--minutes", default=60.0, show_default=True, type=click.FloatRange(1, 24 * 60)),
    click.option("--plan", is_flag=True, help="Also plan a day for each (same seeded calls): dispatch, turnaround, utilisation."),
    click.option("--day", default=0, show_default=True, type=click.IntRange(0, None)),
    click.option("--time-limit", default=None, type=click.FloatRange(0.1, None), help="Routing seconds cap per area."),
    click.option("--workers", default=None, type=click.IntRange(1, 64)),
    click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS", help="Dask scheduler address."),
    click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Write the comparison table here."),
    travel_option,
]


def _with(flags: list[Decorator]) -> Decorator:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
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
@db_option
@bad_input_on_dispatch_error
def scenario_compare(names: tuple[str, ...], base_source: str | None, seed: int | None, minutes: float, plan: bool,
                     day: int, time_limit: float | None, workers: int | None, scheduler: str | None,
                     csv_out: str | None, travel_spec: str | None, db: str | None) -> None:
    """Base and scenarios NAMES side by side: coverage (and with --plan a day plan on the same
    seeded calls), with each scenario's delta to the base."""
    # The scenario engine loads the planner and the location models: slow for `dispatch --help`.
    from dispatch.scenarios import compare

    stored, scs = _load(db, names)
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
    opts = _compare_options(minutes, plan, day, time_limit, int(base_spec.get("seed", 1)), base_spec.get("population"),
                            travel_spec)
    with ProgressBar() as bar:
        if plan:
            with executor(workers, scheduler) as pool:
                comp = compare(base, scs, opts, pool=pool, progress=bar)
        else:
            comp = compare(base, scs, opts, progress=bar)
    click.echo(f"base: {_describe_base(base_spec)}")
    _echo_comparison(comp)
    if csv_out:
        write_text(csv_out, csv_text(comp.table, index=True))
        click.echo(f"comparison written to {csv_out}")


@scenario.command("sweep")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@source_options("the file's base, else zhejiang")
@_with(_compare_flags)
@click.option("--save/--no-save", default=False, help="Also store every scenario of the file.")
@db_option
@bad_input_on_dispatch_error
def scenario_sweep(file: str, source: str | None, preset: str | None, seed: int, population: str | None,
                   minutes: float, plan: bool, day: int, time_limit: float | None, workers: int | None,
                   scheduler: str | None, csv_out: str | None, travel_spec: str | None, save: bool,
                   db: str | None) -> None:
    """Many scenarios from FILE (JSON: a list, or {"base": {...}, "scenarios": [...]}) through the
    executor: a local process pool, or Dask with --scheduler."""
    # The scenario engine loads the planner and the location models: slow for `dispatch --help`.
    from dispatch.scenarios import apply, compare, read_sweep

    file_base, scs = read_sweep(file)
    store = open_store(db, write=SCENARIOS) if save else None  # before the sweep runs
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
            raise BadInput(f"{file}: scenario {sc.name!r}: {exc}") from None
    opts = _compare_options(minutes, plan, day, time_limit, base_spec["seed"], base_spec.get("population"),
                            travel_spec)
    t0 = time.perf_counter()
    with ProgressBar() as bar, executor(workers, scheduler) as pool:
        comp = compare(base, scs, opts, pool=pool, parallel=True, progress=bar)
    wall = time.perf_counter() - t0
    table = comp.table[[e.name for e in comp.evaluations]].T
    keep = [c for c in table.columns if c.startswith(("coverage_level", "est_turnaround", "technicians", "centres",
                                                      "cost_per_day", "plan_dispatch_within", "plan_turnaround_mean",
                                                      "plan_utilisation"))
            and c not in ("centres_tier1",)]
    shown = table[keep].copy()
    for c in shown.columns:
        if "coverage" in c or c.endswith("_rate") or c == "plan_utilisation":
            shown[c] = shown[c].map(pct)
        else:
            shown[c] = shown[c].map(lambda v: "-" if pd.isna(v) else f"{v:,.1f}")
    shown["warnings"] = [len(e.warnings) for e in comp.evaluations]
    click.echo(f"{len(scs)} scenario(s) on {_describe_base(base_spec)} in {wall:.1f} s")
    click.echo(shown.to_string())
    for name, warnings in comp.warnings.items():
        _echo_warnings(name, warnings, limit=5)
    if csv_out:
        write_text(csv_out, csv_text(table, index=True))
        click.echo(f"results written to {csv_out}")
    if store is not None:
        try:
            for sc in scs:
                store.save_scenario(sc.name, sc.to_dict(), base_spec, sc.description)
        except StoreUnavailable as exc:
            kept = f", the results are in {csv_out}" if csv_out else ""
            raise exc.noting(f"not every scenario is stored{kept}") from exc
        click.echo(f"{len(scs)} scenario(s) stored in {store.url}")




COMMANDS = (scenario,)
