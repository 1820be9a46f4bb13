"""`dispatch contracts ...`: contracted county stations (generate a book, run the week with it,
the "own the busiest" scenario, the monthly settlement)."""

from __future__ import annotations

from pathlib import Path

import click

from dispatch.cli.options import ProgressBar, load_dataset, population_option, write_text
from dispatch.contracts import contracts_frame, generate_contracts, read_contracts
from dispatch.exports import csv_text
from dispatch.io import read_dataset
from dispatch.model import Tier


@click.group("contracts")
def contracts() -> None:
    """Contracted county stations (特约维修站): offers, fees, SLA penalties, settlement."""


@contracts.command("generate")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--own-share", default=0.10, show_default=True, type=click.FloatRange(0, 1),
              help="Share of county stations the maker owns (the rest are contracted).")
def generate(folder: str, seed: int, own_share: float) -> None:
    """Write FOLDER/contracts.csv: most county stations of the dataset contracted, a few own."""
    ds = read_dataset(folder)
    book = generate_contracts(ds.network, ds.technicians, seed, own_share)
    out = Path(folder) / "contracts.csv"
    write_text(str(out), csv_text(contracts_frame(book)))
    click.echo(f"{len(book)} contracted stations of {len(ds.network.by_tier(Tier.COUNTY))} county stations written to {out}")


@contracts.command("week")
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default=None, help="Generate the calls instead of reading SOURCE (default zhejiang).")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60), help="Days of calls.")
@click.option("--seed", default=1, show_default=True, type=int)
@population_option
@click.option("--own-busiest", default=10, show_default=True, type=click.IntRange(0, 1000),
              help="Also run the scenario: own the N busiest contracted stations instead (0: skip).")
@click.option("--settlement-csv", "settlement_path", default=None, type=click.Path(dir_okay=False),
              help="Write the optimiser run's monthly statements of the contracted stations here.")
@click.option("--costs-csv", default=None, type=click.Path(dir_okay=False),
              help="Write the optimiser run's cost per centre here.")
def week(source: str | None, preset: str | None, days: int, seed: int, population: str | None, own_busiest: int,
         settlement_path: str | None, costs_csv: str | None) -> None:
    """The old world, the same-physics dispatcher and the optimiser with contracted stations, in
    hours and money; contracts from SOURCE/contracts.csv, else generated (seeded)."""
    # The simulator (OR-Tools routing behind it): slow to import, keeps `dispatch --help` fast.
    from dispatch.contracts import week as runs
    from dispatch.contracts.settlement import settlement, settlement_csv  # (as above)
    from dispatch.simulate import SimParams  # (as above)

    ds = load_dataset(source, preset, seed, days, population)
    book = read_contracts(source, ds.network, ds.technicians) if source else None
    if not book:
        book = generate_contracts(ds.network, ds.technicians, seed)
        click.echo(f"contracts generated (seed {seed}): {len(book)} of {len(ds.network.by_tier(Tier.COUNTY))} county stations")
    params = SimParams(seed=seed)
    with ProgressBar() as bar:
        worlds = runs.contracted_runs(ds, book, params, progress=bar)
        columns = dict(worlds)
        if own_busiest:
            stations, owned = runs.own_busiest(ds, book, worlds["optimiser"], own_busiest, params, progress=bar)
            columns["owned"] = owned
    click.echo(runs.side_by_side(columns).to_string())
    if own_busiest:
        click.echo(f"owned: the optimiser with the {len(stations)} busiest contracted stations owned instead "
                   f"({', '.join(stations)}); the same calls, seed and answers")
    opt = worlds["optimiser"]
    assert opt.jobs is not None and opt.result is not None and opt.centres is not None
    if settlement_path:
        write_text(settlement_path, settlement_csv(settlement(opt.jobs, opt.result.outcomes, book, ds.epoch_date)))
        click.echo(f"settlement written to {settlement_path}")
    if costs_csv:
        write_text(costs_csv, csv_text(opt.centres))
        click.echo(f"cost per centre written to {costs_csv}")


COMMANDS = (contracts,)
