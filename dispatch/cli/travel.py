"""`dispatch travel calibrate` and `dispatch travel compare`: fit the road model to a company's
own trips, and set two travel models side by side on a dataset."""

from __future__ import annotations

import math

import click
import pandas as pd

from dispatch.cli.options import (
    BadInput,
    ProgressBar,
    bad_input_on_dispatch_error,
    load_dataset,
    load_travel,
    pct,
    population_option,
)
from dispatch.cli.storage import describe, open_store
from dispatch.executor import executor
from dispatch.travel import DEFAULT_SPEC
from dispatch.travel.calibrate import TripsError, calibrate, read_trips, trips_of
from dispatch.travel.road import RoadTravel
from dispatch.travel.roadparams import write_params


@click.group("travel")
def travel() -> None:
    """Travel models: calibrate the road model on your trips, compare two models."""


def _fmt(stat: str, v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return ""
    return pct(v) if "reach" in stat else f"{v:.2f}" if "/" in stat else f"{v:+.1f}" if "B - A" in stat else f"{v:.1f}"


@travel.command("calibrate")
@click.argument("trips", required=False, default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--store", "store_url", default=None, metavar="URL",
              help="Fit the drives the live service recorded from the technicians' reports (the store's "
                   "travel_trips table, e.g. sqlite:///dispatch.sqlite) instead of a TRIPS file.")
@click.option("--scope", default=None, help="With --store: only this served network/day's trips (default: all).")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Write the fitted parameters here (JSON; use them with --travel PARAMS.json).")
@click.option("--start", default="road", show_default=True, metavar="SPEC",
              help="The road model to start from (road, road:KEY=VALUE or PARAMS.json).")
@bad_input_on_dispatch_error
def calibrate_command(trips: str | None, store_url: str | None, scope: str | None, out: str | None,
                      start: str) -> None:
    """Fit the road model's overhead, band speeds and detour to TRIPS.csv (from_lon, from_lat, to_lon,
    to_lat, depart_at with offset, duration_s, optionally distance_m and speed_class), or to the
    trips the live service stored (--store), robustly."""
    model = load_travel(start)
    if not isinstance(model, RoadTravel):
        raise BadInput(f"--start {start!r}: calibration fits the road model; give road, road:KEY=VALUE or PARAMS.json")
    if (trips is None) == (store_url is None):
        raise BadInput("give either a TRIPS.csv file or --store URL (the live service's recorded trips), not "
                       + ("both" if trips else "neither"))
    try:
        cal = calibrate(read_trips(trips) if trips else _stored_trips(store_url, scope), model.params)  # type: ignore[arg-type]
    except TripsError as exc:
        raise BadInput(str(exc)) from exc
    trips = trips or f"{describe(store_url)} (travel_trips{'' if scope is None else f', scope {scope}'})"
    click.echo(f"{cal.before['trips']} trips; left out of the fit: "
               + (", ".join(f"{k} {v}" for k, v in cal.left_out.items() if v) or "none"))
    click.echo(f"duration error, median (MdAPE): {pct(cal.before['mdape'])} -> {pct(cal.after['mdape'])}")
    click.echo(f"duration error, 90th percentile: {pct(cal.before['p90_ape'])} -> {pct(cal.after['p90_ape'])}")
    p = cal.params
    click.echo(f"fitted: overhead {p.overhead_s} s, detour {p.detour_short:.3f} (short) -> {p.detour_long:.3f} (long), "
               + "; ".join(f"{c} " + "/".join(f"{v:.0f}" for v in s) + " km/h" for c, s in p.speeds_kmh.items()
                           if f"speeds_kmh.{c}" in cal.fitted)
               + f" (bands to {', '.join(f'{e:g}' for e in p.band_ends_km)} km and beyond)")
    if out:
        write_params(p, out, {"fit": {"trips_file": trips, "before": cal.before, "after": cal.after,
                                      "fitted": list(cal.fitted), "left_out": cal.left_out}})
        click.echo(f"parameters written to {out}; use them with --travel {out}")


def _stored_trips(url: str, scope: str | None):  # type: ignore[no-untyped-def]
    """The store's recorded trips as calibration trips; a bad one is named by its row, oldest first."""
    store = open_store(url)
    try:
        frame = store.trips(scope)
    finally:
        store.close()
    where = f"{describe(url)}, table travel_trips" + ("" if scope is None else f", scope {scope}")
    if frame.empty:
        raise TripsError(f"{where}: no trips recorded (the live service records a drive when a technician "
                         "reports both setting off and arriving)")
    return trips_of(frame, where + " (row 1: the oldest)", first_row=1)


@travel.command("compare")
@click.argument("a")
@click.argument("b", required=False, default=None)
@click.option("--source", default=None, type=click.Path(exists=True, file_okay=False), help="A dataset folder.")
@click.option("--preset", default=None, help="Generate the dataset instead (default zhejiang).")
@click.option("--seed", default=1, show_default=True, type=int)
@population_option
@click.option("--plan/--no-plan", default=False, show_default=True,
              help="Also plan the day under each model: dispatch within the hour, turnaround, plan changes.")
@click.option("--day", default=0, show_default=True, type=click.IntRange(0, None))
@click.option("--workers", default=None, type=click.IntRange(1, 64))
@click.option("--csv", "csv_out", default=None, type=click.Path(dir_okay=False), help="Write the drive table here.")
@bad_input_on_dispatch_error
def compare_command(a: str, b: str | None, source: str | None, preset: str | None, seed: int, population: str | None,
                    plan: bool, day: int, workers: int | None, csv_out: str | None) -> None:
    """Travel models A and B (default B: the default model) over the dataset's centre-seat and
    centre-customer pairs: drive times, reach beyond an hour, and with --plan the day planned."""
    from dispatch.travelcompare import compare_travel  # the planner behind --plan: slow to import

    model_a, model_b = load_travel(a), load_travel(b or DEFAULT_SPEC)
    ds = load_dataset(source, preset, seed, day + 1, population)
    with ProgressBar(), executor(workers, None) as pool:
        comp = compare_travel(ds, model_a, model_b, plan, day, seed, pool)
    click.echo(f"A: {model_a.spec}\nB: {model_b.spec}\n")
    table = comp.drives.copy()
    shown = pd.DataFrame({col: [_fmt(stat, v) for (_, stat), v in table[col].items()] for col in table.columns},
                         index=table.index)
    click.echo(shown.to_string())
    if csv_out:
        table.to_csv(csv_out)
    if comp.plans is not None:
        click.echo("\nthe day planned under each:")
        rows = comp.plans.copy().astype(object)
        for key in rows.index:
            for col in rows.columns:
                v = comp.plans.at[key, col]
                rows.at[key, col] = pct(v) if key.endswith(("_rate", "_share")) else f"{v:.1f}"
        click.echo(rows.to_string())
        click.echo("calls planned differently: " + ", ".join(
            f"{k} {pct(v) if k.startswith('another') else int(v)}" for k, v in comp.changed.items()))


COMMANDS = (travel,)
