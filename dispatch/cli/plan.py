"""`dispatch plan` and `dispatch plans list|show|export`: the day plan, stored and exported."""

from __future__ import annotations

import json
from dataclasses import replace

import click
import pandas as pd

from dispatch.cli.options import (
    ProgressBar,
    db_option,
    load_dataset,
    load_travel,
    parts_option,
    pct,
    population_option,
    travel_line,
    travel_option,
)
from dispatch.travel import travel_record
from dispatch.cli.storage import PLANS, StoreUnavailable, open_store
from dispatch.contracts import read_contracts
from dispatch.executor import executor
from dispatch.exports import export_plan
from dispatch.kpis import format_kpis, kpis
from dispatch.rules import DEFAULT_COST_RATES
from dispatch.parts.enable import switch


def _echo_unassigned(unassigned: pd.DataFrame) -> None:
    if len(unassigned):
        click.echo("\nunassigned by reason:\n" + unassigned["reason_code"].value_counts().sort_index().to_string())


@click.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default=None, help="Generate the input instead of reading SOURCE (default zhejiang).")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--day", default=0, show_default=True, type=click.IntRange(0, None), help="Day index to plan.")
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, 31),
              help="Plan this many days from --day as a rolling plan: each day opens with the calls booked for "
                   "it and the work the day before could not serve (their promise clock still running).")
@click.option("--time-limit", default=None, type=click.FloatRange(0.1, None),
              help="Maximum routing seconds per area (default: scaled by area size, 0.5-10 s).")
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="Worker processes (default: CPUs).")
@click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS",
              help="Dask scheduler address, e.g. tcp://host:8786 (default: local process pool).")
@click.option("--deterministic", is_flag=True,
              help="Repeatable on any machine and load: the assignment and routing stop on their own "
                   "criteria, never on a clock (slower; --time-limit is ignored).")
@click.option("--overnight-trips", is_flag=True,
              help="Serve on-site calls beyond every technician's same-day reach on two-day trips (a night "
                   "away; hotel in the costs) from the nearest able centre's technicians (one with a route "
                   "that day sets off when it is back).")
@db_option
@population_option
@travel_option
@parts_option
@click.option("--name", default=None, help="Name of the plan in the store (default: derived from the input).")
@click.option("--out", default="out/plan", show_default=True, type=click.Path(file_okay=False),
              help="Folder for route sheets, GeoJSON and the unassigned list.")
@click.option("--simulate/--no-simulate", "simulated", default=True, show_default=True,
              help="Also simulate the plan's day (dispatch simulate's physics, field work on, the plan's seed) "
                   "and show the estimate's error beside it; off: the plan's own estimate only.")
def plan(source: str | None, preset: str | None, seed: int, day: int, days: int, time_limit: float | None,
         workers: int | None, scheduler: str | None, deterministic: bool, overnight_trips: bool, db: str | None,
         population: str | None, travel_spec: str | None, parts: bool | None, name: str | None, out: str, simulated: bool) -> None:
    """Plan a day: tier assignment, routes for every area, KPIs; export and store it. The store
    is checked before the solve, and the exports are written before it is touched: a database
    failure never loses a computed plan. The KPIs are the plan's estimate beside a simulation
    of its day (unless --no-simulate), each column naming its population."""
    from dispatch.plan import PlanParams, make_plan  # the planner (OR-Tools): slow to import
    from dispatch.plan.simulated import (  # as the planner
        format_plan_kpis,
        offers_line,
        populations_note,
        simulate_plan,
    )

    travel = load_travel(travel_spec)
    store = open_store(db, write=PLANS)
    ds = switch(load_dataset(source, preset, seed, max(1, day + days), population), parts, seed)
    params = PlanParams(day=day, seed=seed, deterministic=deterministic)
    if time_limit is not None:
        params = replace(params, routing_max_s=time_limit, routing_min_s=min(params.routing_min_s, time_limit))
    book = read_contracts(source, ds.network, ds.technicians) if source else None
    if book:  # SOURCE/contracts.csv: contracted stations' jobs are offers; both objectives weigh money
        params = replace(params, assignment=replace(params.assignment, contracts=book, cost=DEFAULT_COST_RATES))
        click.echo(f"contracts: {len(book)} contracted stations (SOURCE/contracts.csv); their jobs are offers, "
                   f"cost weighed at {DEFAULT_COST_RATES.turnaround_cny_per_h:g} CNY per hour of turnaround")
    if days > 1:
        _rolling(ds, params, days, workers, scheduler, store, name or f"{source or preset or 'zhejiang'}-seed{seed}",
                 out, overnight_trips, travel)
        return
    with ProgressBar() as bar, executor(workers, scheduler) as pool:
        result = make_plan(ds, params, pool=pool, travel=travel, progress=bar)
    frames = {"stops": result.stops, "routes": result.routes, "outcomes": result.outcomes,
              "workload": result.workload, "bench": result.bench, "unassigned": result.unassigned,
              "routing_stats": result.routing_stats}
    if overnight_trips:
        frames |= _trips(ds, result, params, travel)
    k = kpis(frames["outcomes"], result.workload)
    plan_name = name or f"{source or preset or 'zhejiang'}-seed{seed}-day{day}"
    homes = {t.id: t.home_centre_id for t in ds.technicians}
    export_plan(frames, ds.epoch_date, out, f"Route sheets - {plan_name}", ds.network, homes)
    sim = None
    if simulated:
        with ProgressBar() as bar:
            sim = simulate_plan(ds, result, travel, progress=bar)
    if sim is None:
        click.echo(format_kpis({"plan's estimate": k}))
    else:
        click.echo(format_plan_kpis(k, sim))
        click.echo(populations_note(sim))
        if book:
            click.echo(offers_line(sim.result.events))
    _echo_unassigned(frames["unassigned"])
    click.echo("\ntimings: " + ", ".join(f"{k2} {v:.1f} s" for k2, v in result.timings_s.items())
               + ("" if sim is None else f", simulation {sim.result.wall_s:.1f} s"))
    click.echo(travel_line(travel))
    stored = {**k, "epoch_date": ds.epoch_date, "timings_s": result.timings_s, **travel_record(travel)}
    if sim is not None:  # beside the estimate, never in its place
        stored |= {"simulated": sim.kpis(), "simulated_with_next_day": sim.kpis(with_next_day=True)}
    try:
        store.save(plan_name, frames, params, stored, result.dataset_fingerprint)
    except StoreUnavailable as exc:
        raise exc.noting(f"the plan is not stored, its exports are in {out}") from exc
    click.echo(f"stored as {plan_name!r} in {store.url}; exports in {out}")


def _trips(ds, result, params, travel) -> dict[str, pd.DataFrame]:  # type: ignore[no-untyped-def]
    """``--overnight-trips``: the plan's frames once trips serve the calls beyond same-day reach."""
    from dispatch.plan.trips import (  # the routing engine: slow to import
        back_home,
        plan_trips,
        trips_frame,
        with_trips,
    )

    far = list(result.unassigned.loc[result.unassigned["reason_code"] == "no_technician_in_reach", "request_id"])
    trips = plan_trips(ds, far, params.day, (), params.rules, travel=travel, seed=params.seed,
                       busy_until=back_home(result.routes))  # a routed technician goes once back
    outcomes, unassigned = with_trips(result.outcomes, result.unassigned, trips, ds.network, params.rules)
    used = [t for t in trips.trips if t.stops]
    cost = sum(t.cost_cny for t in used)
    click.echo(f"overnight trips: {len(far)} calls beyond same-day reach; {len(trips.served)} served on "
               f"{len(used)} trips ({sum(t.nights_away for t in used)} nights away, {cost:,.0f} CNY, "
               f"{cost / max(1, len(trips.served)):,.0f} CNY a call); {len(far) - len(trips.served)} still "
               f"no_technician_in_reach" + ("" if not trips.violations else
                                            f"; CHECKER: {len(trips.violations)} violations, first: {trips.violations[0]}"))
    return {"outcomes": outcomes, "unassigned": unassigned, "trips": trips_frame(trips)}


def _rolling(ds, params, days: int, workers: int | None, scheduler: str | None, store, name: str,  # type: ignore[no-untyped-def]
             out: str, overnight_trips: bool, travel) -> None:
    """``dispatch plan --days N``: each day exported to ``out/dayD`` and stored as ``NAME-dayD``;
    the run's KPIs count every call once, by its last day (``dispatch.plan.rolling``)."""
    from dispatch.plan.rolling import make_rolling_plan  # the planner (OR-Tools): slow to import

    with executor(workers, scheduler) as pool:
        rolling = make_rolling_plan(ds, params, days, pool=pool, travel=travel, overnight_trips=overnight_trips)
    homes = {t.id: t.home_centre_id for t in ds.technicians}
    columns = {}
    for p, carried in zip(rolling.plans, rolling.carried_in):
        frames = {"stops": p.stops, "routes": p.routes, "outcomes": p.outcomes, "workload": p.workload,
                  "bench": p.bench, "unassigned": p.unassigned, "routing_stats": p.routing_stats}
        day_name = f"{name}-day{p.params.day}"
        export_plan(frames, ds.epoch_date, f"{out}/day{p.params.day}", f"Route sheets - {day_name}", ds.network, homes)
        k = kpis(p.outcomes, p.workload)
        columns[f"day {p.params.day}"] = k
        click.echo(f"day {p.params.day}: {len(carried)} calls carried in from the day before, "
                   f"{int((p.unassigned['reason_code'] == 'next_day').sum())} booked for a later day")
        try:
            store.save(day_name, frames, p.params, {**k, "epoch_date": ds.epoch_date, "carried_in": len(carried),
                                                    **travel_record(travel)},
                       p.dataset_fingerprint)
        except StoreUnavailable as exc:
            raise exc.noting(f"the plan is not stored, its exports are in {out}") from exc
    columns[f"{days} days"] = rolling.kpis
    click.echo(format_kpis(columns))
    click.echo(f"\nthe {days} days: {int(rolling.kpis['carried_requests'])} calls carried to a later day, "
               f"{pct(rolling.kpis['served_on_first_day_rate'])} of the travelling calls dispatched on the day their "
               f"clock started, {int(rolling.kpis['open_at_end_requests'])} still open at the end")
    if rolling.trips is not None:
        click.echo(f"overnight trips: {int(rolling.kpis['trip_calls'])} calls on {int(rolling.kpis['trips'])} trips, "
                   f"{int(rolling.kpis['trip_nights_away'])} nights away, {rolling.kpis['trip_cost_cny']:,.0f} CNY")
    click.echo(f"stored as {name}-day{params.day}..{name}-day{params.day + days - 1} in {store.url}; exports in {out}")


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
    click.echo(f"plan {p.name!r} (id {p.id}, {p.created_at}, inputs {p.dataset_fingerprint[:12]}, "
               f"travel {p.kpis.get('travel', 'flat (recorded before travel was)')})")
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
