"""`dispatch simulate`: days of calls dispatched as they arrive, under one policy or both."""

from __future__ import annotations

import click

from dispatch.cli.options import (
    ProgressBar,
    db_option,
    load_dataset,
    population_option,
    write_text,
)
from dispatch.cli.storage import PLANS, StoreUnavailable, open_store
from dispatch.exports import csv_text
from dispatch.kpis import format_kpis, kpis
from dispatch.tables import dataset_fingerprint


@click.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default=None, help="Generate the calls instead of reading SOURCE (default zhejiang).")
@click.option("--province", default=None, help="Shortcut for --preset province:<adcode or pinyin>.")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60), help="Days of calls.")
@click.option("--policy", default="both", show_default=True, type=click.Choice(["optimiser", "baseline", "both"]))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--reoptimise-min", default=None, type=click.IntRange(10, 600),
              help="Optimiser: re-solve each area's movable work every N minutes (default: never).")
@db_option
@population_option
@click.option("--name", default=None, help="Name of the run in the store (default: derived from the input).")
@click.option("--log-csv", default=None, type=click.Path(dir_okay=False), help="Also write the event log here.")
def simulate(source: str | None, preset: str | None, province: str | None, days: int, policy: str, seed: int,
             reoptimise_min: int | None, db: str | None, population: str | None, name: str | None,
             log_csv: str | None) -> None:
    """Simulate DAYS of calls under a dispatch policy; KPIs side by side; the log is stored."""
    # The simulator (OR-Tools routing behind it): slow to import, keeps `dispatch --help` fast.
    from dispatch import simulate as simulation

    if province:
        preset = f"province:{province}"
    store = open_store(db, write=PLANS)  # before the simulation: its runs must be storable
    ds = load_dataset(source, preset, seed, days, population)
    policies = ["optimiser", "baseline"] if policy == "both" else [policy]
    columns, runs = {}, {}
    for pol in policies:
        params = simulation.SimParams(policy=pol, seed=seed,
                           reoptimise_every_s=None if reoptimise_min is None else 60 * reoptimise_min)
        with ProgressBar() as bar:
            result = simulation.simulate(ds, params, progress=bar)
        runs[pol] = result
        columns[pol] = kpis(result.outcomes, result.workload)
        run_name = f"{name or (source or preset or 'zhejiang')}-sim-{pol}-seed{seed}-{days}d"
        out = None
        if log_csv:  # written before the store is touched: a database failure never loses the run
            out = log_csv if len(policies) == 1 else log_csv.replace(".csv", f"-{pol}.csv")
            write_text(out, csv_text(result.events))
        try:
            store.save(run_name, {"events": result.events, "outcomes": result.outcomes,
                                  "workload": result.workload, "open": result.open_requests},
                       params, {**columns[pol], "epoch_date": ds.epoch_date, "wall_s": result.wall_s},
                       dataset_fingerprint(ds), kind="simulation")
        except StoreUnavailable as exc:
            kept = f", its event log is in {out}" if out else ""
            raise exc.noting(f"the {pol} run is not stored{kept}") from exc
        click.echo(f"{pol}: {result.calls} calls simulated in {result.wall_s:.1f} s "
                   f"({result.calls / max(result.wall_s, 1e-9):.0f} calls/s); stored as {run_name!r} in {store.url}")
    click.echo(format_kpis(columns))
    for pol, result in runs.items():
        if len(result.open_requests):
            counts = result.open_requests["reason"].value_counts().sort_index()
            click.echo(f"{pol}: open at the horizon or unserved: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


COMMANDS = (simulate,)
