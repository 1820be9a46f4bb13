"""`dispatch simulate`: days of calls dispatched as they arrive, under one policy, both, or all
three worlds (the old world, the same-physics dispatcher, the optimiser) with the waterfall."""

from __future__ import annotations

from contextlib import nullcontext

import click

from dispatch.cli.options import (
    BadInput,
    ProgressBar,
    db_option,
    load_dataset,
    load_travel,
    parts_option,
    population_option,
    travel_line,
    travel_option,
    write_text,
)
from dispatch.cli.storage import PLANS, StoreUnavailable, open_store
from dispatch.contracts import ContractBook, read_contracts
from dispatch.executor import executor
from dispatch.exports import csv_text
from dispatch.kpis import (
    RUN_LABELS,
    WATERFALL_NOTE,
    format_breakdown,
    format_kpis,
    format_waterfall,
    kpi_breakdown,
    kpis,
    waterfall,
)
from dispatch.oldworld import OldWorldParams, simulate_old_world
from dispatch.parts.enable import switch
from dispatch.tables import dataset_fingerprint
from dispatch.travel import travel_record

OLD_WORLD = "oldworld"
RUNS = {"optimiser": ["optimiser"], "baseline": ["baseline"], "both": ["baseline", "optimiser"],
        "all": [OLD_WORLD, "baseline", "optimiser"]}
BREAKDOWNS = ("priority", "channel", "tier")


@click.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default=None, help="Generate the calls instead of reading SOURCE (default zhejiang).")
@click.option("--province", default=None, help="Shortcut for --preset province:<adcode or pinyin>.")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60), help="Days of calls.")
@click.option("--policy", default="both", show_default=True, type=click.Choice(list(RUNS)),
              help="all: the old world, the same-physics dispatcher (baseline) and the optimiser, with the "
                   "waterfall between them.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--reoptimise-min", default=None, type=click.IntRange(10, 600),
              help="Optimiser: re-solve each area's movable work every N minutes (default: never).")
@click.option("--breakdown/--no-breakdown", default=True, show_default=True,
              help="Also print the main KPIs by priority, channel and repair tier.")
@db_option
@population_option
@travel_option
@click.option("--fieldwork/--no-fieldwork", default=True, show_default=True,
              help="Work that can go wrong (dispatch.fieldwork): varying repair times, absent customers, "
                   "faults found on inspection, no fault found, repairs that fail; off: every job as planned.")
@parts_option
@click.option("--slots/--no-slots", default=False, show_default=True,
              help="Appointment slots on the rolling plan (optimiser only): each first on-site/pickup call "
                   "books the first-ranked window of the next days the plan can keep, when it calls.")
@click.option("--split", type=click.Choice(["none", "provinces"]), default=None,
              help="provinces: each province's world (its centres, their technicians, the calls of its stations) "
                   "simulated as one task of a process pool or Dask cluster, the outcomes merged into one run; a "
                   "call near a border is then served by its own province only. Default: provinces with --workers "
                   "or --scheduler, else none (one world, one process).")
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="Split runs: pool processes (default: CPUs).")
@click.option("--scheduler", default=None,
              help="Split runs: a Dask scheduler address, e.g. tcp://host:8786 (default: a local process pool; "
                   "DASK_SCHEDULER_ADDRESS is read too once the run is split).")
@click.option("--name", default=None, help="Name of the run in the store (default: derived from the input).")
@click.option("--log-csv", default=None, type=click.Path(dir_okay=False), help="Also write the event log here.")
def simulate(source: str | None, preset: str | None, province: str | None, days: int, policy: str, seed: int,
             reoptimise_min: int | None, breakdown: bool, db: str | None, population: str | None,
             travel_spec: str | None, fieldwork: bool, parts: bool | None, slots: bool, split: str | None,
             workers: int | None, scheduler: str | None, name: str | None, log_csv: str | None) -> None:
    """Simulate DAYS of calls under a dispatch policy; KPIs side by side; the log is stored."""
    # The simulator (OR-Tools routing behind it): slow to import, keeps `dispatch --help` fast.
    from dispatch import simulate as simulation
    from dispatch.fieldwork import FieldworkParams  # the live plan behind it, as the simulator
    from dispatch.simulate.split import simulate_split  # (same)

    if province:
        preset = f"province:{province}"
    if split is None:
        split = "provinces" if workers or scheduler else "none"
    elif split == "none" and (workers or scheduler):
        raise click.UsageError("--workers and --scheduler run a split simulation; --split none is one world in one process")
    if split == "provinces" and parts:
        raise click.UsageError("--split provinces cannot run with --parts: the national warehouse's stock is shared by "
                               "every province")
    travel = load_travel(travel_spec)
    store = open_store(db, write=PLANS)  # before the simulation: its runs must be storable
    ds = load_dataset(source, preset, seed, days, population)
    ds = switch(ds, parts, seed)
    if split == "provinces" and ds.parts is not None and parts is None:  # the dataset's own parts files
        raise BadInput(f"{source}: this dataset has parts files; a run split by province cannot have spare parts "
                       "(the national warehouse's stock is shared by every province): add --no-parts")
    runs = RUNS[policy]
    policies = [r for r in runs if r != OLD_WORLD]
    columns, outcomes, still_open = {}, {}, {}
    tag = "-provinces" if split == "provinces" else ""
    # A split run: one executor (pool or Dask) for every policy's run.
    with executor(workers, scheduler) if split == "provinces" and policies else nullcontext() as pool:
        for run in runs:
            run_name = (f"{name or (source or preset or 'zhejiang')}-sim-{run}{'-slots' if slots and run == 'optimiser' else ''}"
                        f"{tag if run != OLD_WORLD else ''}-seed{seed}-{days}d")
            params: object  # the run's parameters, stored as JSON
            with ProgressBar() as bar:
                if run == OLD_WORLD:
                    old = simulate_old_world(ds, OldWorldParams(seed=seed), travel, progress=bar)
                    frames = {"outcomes": old.outcomes, "dealers": old.dealers, "labs": old.labs, "workload": old.workload}
                    k, params, wall = kpis(old.outcomes, old.workload), old.params, None
                else:
                    sim_params = simulation.SimParams(
                        policy=run, seed=seed, reoptimise_every_s=None if reoptimise_min is None else 60 * reoptimise_min,
                        contracts=read_contracts(source, ds.network, ds.technicians) if source else ContractBook(),  # SOURCE/contracts.csv
                        slots=slots and run == "optimiser",  # the other runs' customers are offered none
                        **({} if fieldwork else {"fieldwork": FieldworkParams.none()}))
                    if split == "provinces":
                        result = simulate_split(ds, sim_params, travel, pool, progress=bar)
                    else:
                        result = simulation.simulate(ds, sim_params, travel, progress=bar)
                    params = sim_params
                    frames = {"events": result.events, "outcomes": result.outcomes, "workload": result.workload,
                              "open": result.open_requests, **({} if result.stock is None else {"stock": result.stock})}
                    k, wall = kpis(result.outcomes, result.workload, stock=result.stock), result.wall_s
            label = RUN_LABELS[run]
            columns[label], outcomes[label] = k, frames["outcomes"]
            out = None
            if log_csv and run != OLD_WORLD:  # written before the store is touched: a database failure never loses the run
                out = log_csv if len(policies) == 1 else log_csv.replace(".csv", f"-{run}.csv")
                write_text(out, csv_text(frames["events"]))
            try:
                store.save(run_name, frames, params, {**k, "epoch_date": ds.epoch_date, "wall_s": wall,
                                                      "split": split if run != OLD_WORLD else "none",
                                                      **travel_record(travel)},
                           dataset_fingerprint(ds), kind="simulation")
            except StoreUnavailable as exc:
                kept = f", its event log is in {out}" if out else ""
                raise exc.noting(f"the {run} run is not stored{kept}") from exc
            if run == OLD_WORLD:
                click.echo(f"{label}: {len(ds.requests)} calls carried to dealers and posted to the labs; stored as "
                           f"{run_name!r} in {store.url}")
            else:
                how = (f", split into {result.outcomes['province_adcode'].nunique()} provinces' worlds"
                       if split == "provinces" else "")
                click.echo(f"{run}: {result.calls} calls simulated in {result.wall_s:.1f} s "
                           f"({result.calls / max(result.wall_s, 1e-9):.0f} calls/s{how}); stored as {run_name!r} in {store.url}")
            unserved = frames["outcomes"]["unassigned_reason"]
            still_open[label] = unserved[unserved != ""].value_counts().sort_index()
    click.echo(travel_line(travel))
    click.echo(format_kpis(columns))
    click.echo("n/a: the run does not measure it (the old world sends nobody: no dispatch, arrival or "
               "kilometres; its workload and cost are the labs' technicians and the mail legs; "
               "the plan's own estimate gives no arrival or courier legs); "
               "'never': the percentile falls on calls never dispatched; README 'KPIs' defines each row.")
    if policy == "all":
        click.echo("")
        click.echo("Waterfall, old world -> same-physics dispatcher -> optimiser:")
        old_k, dispatcher_k, optimiser_k = (columns[RUN_LABELS[r]] for r in runs)
        click.echo(format_waterfall(waterfall(old_k, dispatcher_k, optimiser_k)))
        click.echo(WATERFALL_NOTE)
    if breakdown:
        for by in BREAKDOWNS:
            click.echo("")
            click.echo(f"By {by}:")
            click.echo(format_breakdown({lab: kpi_breakdown(o, by) for lab, o in outcomes.items()}, by))
    for label, counts in still_open.items():
        if len(counts):
            click.echo(f"{label}: open at the horizon or unserved: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


COMMANDS = (simulate,)
