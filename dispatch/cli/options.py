"""What every command family shares: exit codes, the one exception for bad input, the progress
bar, the options that recur (--db, --population, SOURCE/--preset/--seed) and the helpers behind
them (reading or generating the input, writing text atomically, formatting a share). The store
behind --db is opened through ``dispatch.cli.storage``."""

from __future__ import annotations

import functools
from dataclasses import replace
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import click
import pandas as pd
from tqdm import tqdm

from dispatch.cli.storage import StoreUnavailable
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError, ValidationError
from dispatch.geodata import read_population_table
from dispatch.io import read_dataset
from dispatch.synthetic import DemandCalendar, GeneratorParams, calendar_from_options, generate, with_calendar
from dispatch.tables import atomic_write
from dispatch.travel import ENV_VAR as TRAVEL_ENV_VAR
from dispatch.travel import Travel, TravelSpecError, travel_from_spec, travel_record

# Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_INVALID_INPUT = 2  # the input files failed validation (also click's usage errors)
EXIT_FAILED = 3  # a run could not complete (solver/system problem)


class BadInput(click.ClickException):
    """Input a command cannot use, found by the command or by the library: a one-line error
    naming the value and what would be valid, exit code 2 (like click's usage errors and
    ``dispatch validate``)."""

    exit_code = EXIT_INVALID_INPUT


def bad_input_on_dispatch_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's DispatchError (raised on input it cannot use) into BadInput (exit 2).
    ValidationError keeps its own multi-line report and exit code (``main()`` gives 2 as well);
    a store that cannot be used is no bad input and keeps its exit code 3."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValidationError, StoreUnavailable):
            raise
        except DispatchError as exc:
            raise BadInput(str(exc)) from exc

    return wrapper


class ProgressBar:
    """A tqdm progress bar per stage, fed by the library's (stage, done, total, note) callbacks;
    shown only when stderr is a terminal. ``with ProgressBar() as bar: run(..., progress=bar)``
    closes the bars however the run ends."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int, note: str = "") -> None:
        if not self.enabled:
            return
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, leave=False, file=sys.stderr)
        bar.total = total
        bar.n = done
        if note:  # a running KPI, e.g. the share dispatched within the hour so far
            bar.set_postfix_str(note, refresh=False)
        bar.refresh()
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


db_option = click.option("--db", default=None, envvar="DISPATCH_DB",
                         help="Database URL (default sqlite:///dispatch.sqlite); e.g. postgresql://user@host/db")

parts_option = click.option(
    "--parts/--no-parts", default=None,
    help="Spare parts (dispatch.parts): stock, lanes, 三包 at intake. Default: on when the dataset has parts files; "
         "--parts on another dataset uses the documented default catalogue and stock.")

population_option = click.option(
    "--population",
    type=click.Path(exists=True, dir_okay=False),
    envvar="DISPATCH_POPULATION",
    help="Table of population or installed base per county (columns code/adcode and "
    "population/pop_total/installed_base); default: the documented proxy.",
)


travel_option = click.option(
    "--travel", "travel_spec", default=None, envvar=TRAVEL_ENV_VAR, metavar="SPEC",
    help="Travel model: flat, road, road:KEY=VALUE,..., PARAMS.json (the road model's parameters, e.g. from "
         "`dispatch travel calibrate`), a matrix file (.parquet), osrm:URL, valhalla:URL, amap, baidu "
         f"(default: the default model; also read from {TRAVEL_ENV_VAR}).")


def load_travel(spec: str | None) -> Travel:
    """The model ``--travel`` names (None: the default); a bad spec is a BadInput naming it."""
    try:
        return travel_from_spec(spec)
    except TravelSpecError as exc:
        raise BadInput(f"--travel: {exc}") from exc


def travel_line(travel: Travel) -> str:
    """The line a command prints about its travel: the model, and any requests a provider could not
    answer (each fell back to the default model for that request)."""
    rec = travel_record(travel)
    line = f"travel: {rec['travel']}"
    if rec.get("travel_fallbacks"):
        line += (f"; warning: {rec['travel_fallbacks']} leg(s) fell back to "
                 f"{rec.get('travel_fallback_model', 'the default model')}"
                 + (f" after {rec['travel_failed_requests']} failed of {rec['travel_requests']} provider requests"
                    if "travel_failed_requests" in rec else "")
                 + f" (last: {rec.get('travel_last_error', '?')})")
    return line


def calendar_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--calendar and --surge: the generated calls' demand by day."""
    fn = click.option("--surge", "surges", multiple=True, metavar="NAME[@YYYY-MM-DD]",
                      help="Add a named demand surge (new-model-launch, bad-batch-camera), optionally moved "
                           "to a date.")(fn)
    return click.option("--calendar", "calendar_kind", default="china", show_default=True,
                        type=click.Choice(["china", "flat"]),
                        help="Demand by day: China's weekday profile, public holidays and post-holiday "
                             "backlog, or flat.")(fn)


def demand_calendar(calendar_kind: str, surges: tuple[str, ...]) -> DemandCalendar:
    """The calendar the options ask for (an unknown surge is a BadInput naming the valid ones)."""
    try:
        return calendar_from_options(calendar_kind, surges)
    except DispatchError as exc:
        raise BadInput(str(exc)) from exc


def source_options(default_preset: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """SOURCE (a dataset folder, optional), --preset (generate instead), --seed, --population."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = population_option(fn)
        fn = click.option("--seed", default=1, show_default=True, type=int)(fn)
        fn = click.option("--preset", default=None,
                          help=f"Generate the network instead of reading SOURCE (default {default_preset}).")(fn)
        fn = click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))(fn)
        return fn

    return deco


def load_population(path: str | None) -> pd.DataFrame | None:
    return None if path is None else read_population_table(path)


def generate_dataset(preset: str, seed: int, days: int, population: str | None,
                     calendar: DemandCalendar | None = None, roster: str | None = None) -> Dataset:
    """The synthetic generator behind a progress bar (``calendar``: the demand calendar, default
    China's; ``roster``: the roster's sizing, default from the workload)."""
    params = GeneratorParams() if calendar is None else with_calendar(GeneratorParams(), calendar)
    if roster is not None:
        params = replace(params, roster=replace(params.roster, sizing=roster))
    with ProgressBar() as bar:
        return generate(preset, days=days, seed=seed, population=load_population(population), progress=bar,
                        params=params)


def load_dataset(source: str | None, preset: str | None, seed: int, days: int, population: str | None) -> Dataset:
    """The dataset folder SOURCE, else DAYS days generated from PRESET (default zhejiang)."""
    if source:
        return read_dataset(source)
    return generate_dataset(preset or "zhejiang", seed, days, population)


def pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(target, write)
