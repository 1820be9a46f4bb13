"""`dispatch plan` and `dispatch plans list|show|export`: the day plan, stored and exported."""

from __future__ import annotations

import json
from dataclasses import replace

import click
import pandas as pd

from dispatch.cli.options import ProgressBar, db_option, load_dataset, parts_option, pct, population_option
from dispatch.cli.storage import PLANS, StoreUnavailable, open_store
from dispatch.executor import executor
from dispatch.exports import export_plan
from dispatch.kpis import format_kpis, kpis
from dispatch.parts.enable import switch


def _echo_unassigned(unassigned: pd.DataFrame) -> None:
    if len(unassigned):
        click.echo("\nunassigned by reason:\n" + unassigned["reason_code"].value_counts().sort_index().to_string())


@click.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default=None, help="Generate the input instead of reading SOURCE (default zhejiang).")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--day", default=0, show_default=True, type=click.IntRange(0, None), help="Day index to plan.")
@click.option("--time-limit", default=None, type=click.FloatRange(0.1, None),
              help="Maximum routing seconds per area (default: scaled by area size, 0.5-10 s).")
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="Worker processes (default: CPUs).")
@click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS",
              help="Dask scheduler address, e.g. tcp://host:8786 (default: local process pool).")
@click.option("--deterministic", is_flag=True,
              help="Repeatable on any machine and load: the assignment and routing stop on their own "
                   "criteria, never on a clock (slower; --time-limit is ignored).")
@db_option
@population_option
@parts_option
@click.option("--name", default=None, help="Name of the plan in the store (default: derived from the input).")
@click.option("--out", default="out/plan", show_default=True, type=click.Path(file_okay=False),
              help="Folder for route sheets, GeoJSON and the unassigned list.")
def plan(source: str | None, preset: str | None, seed: int, day: int, time_limit: float | None,
         workers: int | None, scheduler: str | None, deterministic: bool, db: str | None, population: str | None,
         parts: bool | None, name: str | None, out: str) -> None:
    """Plan a day: tier assignment, routes for every area, KPIs; export and store it. The store
    is checked before the solve, and the exports are written before it is touched: a database
    failure never loses a computed plan."""
    from dispatch.plan import PlanParams, make_plan  # the planner (OR-Tools): slow to import

    store = open_store(db, write=PLANS)
    ds = switch(load_dataset(source, preset, seed, max(1, day + 1), population), parts, seed)
    params = PlanParams(day=day, seed=seed, deterministic=deterministic)
    if time_limit is not None:
        params = replace(params, routing_max_s=time_limit, routing_min_s=min(params.routing_min_s, time_limit))
    with ProgressBar() as bar, executor(workers, scheduler) as pool:
        result = make_plan(ds, params, pool=pool, progress=bar)
    k = kpis(result.outcomes, result.workload)
    plan_name = name or f"{source or preset or 'zhejiang'}-seed{seed}-day{day}"
    frames = {"stops": result.stops, "routes": result.routes, "outcomes": result.outcomes,
              "workload": result.workload, "bench": result.bench, "unassigned": result.unassigned,
              "routing_stats": result.routing_stats}
    homes = {t.id: t.home_centre_id for t in ds.technicians}
    export_plan(frames, ds.epoch_date, out, f"Route sheets - {plan_name}", ds.network, homes)
    click.echo(format_kpis({"plan": k}))
    _echo_unassigned(result.unassigned)
    click.echo("\ntimings: " + ", ".join(f"{k2} {v:.1f} s" for k2, v in result.timings_s.items()))
    try:
        store.save(plan_name, frames, params, {**k, "epoch_date": ds.epoch_date, "timings_s": result.timings_s},
                   result.dataset_fingerprint)
    except StoreUnavailable as exc:
        raise exc.noting(f"the plan is not stored, its exports are in {out}") from exc
    click.echo(f"stored as {plan_name!r} in {store.url}; exports in {out}")


@click.group()
def plans() -> None:
    """Stored plans: list, show, export."""


@plans.command("list")
@db_option
def plans_list(db: str | None) -> None:
    frame = open_store(db).list()
    if frame.empty:
        click.echo("no plans stored")
        return
    # A plan without travelling calls has no rate ("-"), not 0 %.
    frame["dispatch<=60min"] = [pct(json.loads(k).get("dispatch_within_target_rate")) for k in frame["kpis_json"]]
    click.echo(frame.drop(columns=["kpis_json", "dataset_fingerprint"]).to_string(index=False))


@plans.command("show")
@click.argument("name")
@db_option
def plans_show(name: str, db: str | None) -> None:
    p = open_store(db).load(name)
    click.echo(f"plan {p.name!r} (id {p.id}, {p.created_at}, inputs {p.dataset_fingerprint[:12]})")
    # A KPI with no population is stored as null and shown as "-".
    click.echo(format_kpis({"plan": {k: v for k, v in p.kpis.items() if v is None or isinstance(v, (int, float))}}))
    if "unassigned" in p.frames:
        _echo_unassigned(p.frames["unassigned"])


@plans.command("export")
@click.argument("name")
@db_option
@click.option("--out", required=True, type=click.Path(file_okay=False))
def plans_export(name: str, db: str | None, out: str) -> None:
    p = open_store(db).load(name)
    paths = export_plan(p.frames, p.kpis.get("epoch_date", "2026-03-02"), out, f"Route sheets - {p.name}")
    click.echo("\n".join(str(x) for x in paths))


COMMANDS = (plan, plans)
