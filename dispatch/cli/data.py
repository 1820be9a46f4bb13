"""`dispatch generate`, `validate`, `info` and `demo`: the inputs, and the main job on them."""

from __future__ import annotations

import click

from dispatch.cli.options import (
    calendar_options,
    db_option,
    demand_calendar,
    generate_dataset,
    population_option,
)
from dispatch.cli.plan import plan
from dispatch.contracts.table import read_contracts
from dispatch.errors import Problem, ValidationError
from dispatch.io import read_dataset
from dispatch.summary import dataset_summary
from dispatch.synthetic.roster import SIZINGS
from dispatch.tables import write_dataset


@click.command()
@click.option("--preset", default="national", show_default=True,
              help="national, tiny, zhejiang (or another province alias), province:<adcode|pinyin>")
@click.option("--days", default=1, show_default=True, type=click.IntRange(0, 365))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(["csv", "parquet", "geojson"]))
@population_option
@calendar_options
@click.option("--roster", default="workload", show_default=True, type=click.Choice(SIZINGS),
              help="Roster sizing: from the expected workload (dispatch staff), or sqrt (the roster before it: "
                   "everyone in the field every day).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
def generate(preset: str, days: int, seed: int, fmt: str, population: str | None, calendar_kind: str,
             surges: tuple[str, ...], roster: str, out: str) -> None:
    """Generate a network, a roster and DAYS days of calls into OUT."""
    dataset = generate_dataset(preset, seed, days, population, demand_calendar(calendar_kind, surges), roster)
    write_dataset(dataset, out, fmt)
    click.echo(dataset_summary(dataset))
    click.echo(f"written to {out}")


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def validate(folder: str) -> None:
    """Validate a dataset folder; list every problem (exit code 2 if any)."""
    try:
        ds = read_dataset(folder)
    except ValidationError as exc:
        # The optional contracts file is checked too, cell by cell (its stations need a valid
        # network), so one run lists every file's problems instead of one file at a time.
        raise ValidationError(exc.problems + _contract_cell_problems(folder)) from None
    book = read_contracts(folder, ds.network, ds.technicians)  # the optional contracts.csv, checked as the runs read it
    contracted = f", {len(book)} contracted stations" if len(book) else ""
    click.echo(
        f"{folder}: valid ({len(ds.network)} centres, {len(ds.technicians)} technicians, "
        f"{len(ds.requests)} requests{contracted})"
    )


def _contract_cell_problems(folder: str) -> list[Problem]:
    try:
        read_contracts(folder)
    except ValidationError as exc:
        return exc.problems
    return []


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def info(folder: str) -> None:
    """Counts by tier, technicians, calls by mode/level and demand by province."""
    click.echo(dataset_summary(read_dataset(folder)))


@click.command()
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--out", default="out/demo", show_default=True, type=click.Path(file_okay=False))
@db_option
def demo(seed: int, out: str, db: str | None) -> None:
    """The main job on the embedded demo: plan a day of the Zhejiang network."""
    click.get_current_context().invoke(
        plan, source=None, preset="zhejiang", seed=seed, day=0, time_limit=None, workers=None, scheduler=None,
        db=db or f"sqlite:///{out}/plans.sqlite", population=None, name="demo", out=out)


COMMANDS = (generate, validate, info, demo)
