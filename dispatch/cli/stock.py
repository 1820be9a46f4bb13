"""`dispatch stock size`: base-stock levels per part and centre for fill-rate targets at the least
holding cost (dispatch.parts.sizing), and, with --simulate, what each buys: the week simulated
with those levels on calls of another seed (the sizing sees the forecast, not the calls it is
judged on)."""

from __future__ import annotations

import click
import pandas as pd

from dispatch.cli.options import ProgressBar, load_dataset, pct, population_option, write_text
from dispatch.cli.stocktarget import run_24h
from dispatch.kpis import kpis
from dispatch.parts.enable import with_levels, with_parts
from dispatch.parts.stock import StockLevels, is_van

SHOWN = ("turnaround_mean_h", "turnaround_within_24h_share", "part_fill_rate", "part_wait_share",
         "lateral_transfers_per_day", "swaps")


@click.group()
def stock() -> None:
    """Spare parts stock: sizing and what it buys."""


@stock.command("size")
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default=None, help="Generate the calls instead of reading SOURCE (default zhejiang).")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60))
@click.option("--seed", default=1, show_default=True, type=int, help="The calls the sizing forecasts from.")
@click.option("--fill", "fills", multiple=True, type=click.FloatRange(0.0, 0.999), default=(0.9,), show_default=True,
              help="Network fill-rate target (first pick); repeat for a curve.")
@click.option("--national-fill", default=0.95, show_default=True, type=click.FloatRange(0.0, 0.9999))
@click.option("--simulate/--no-simulate", "run_sim", default=False, show_default=True,
              help="Simulate the week (optimiser) with the default stock and each sizing; report the 24 h share.")
@click.option("--eval-seed", default=None, type=int, help="Seed of the simulated calls (default: --seed + 1).")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Write the last target's levels as a stock.csv (location, part_id, level).")
@click.option("--target-24h", "target_24h", default=None, type=click.FloatRange(0.01, 0.999),
              help="Size for a within-24 h share instead (dispatch.parts.target): marginal analysis on the share "
                   "a simulated calibration of --seed implies; the curve's points simulated on --eval-seeds.")
@click.option("--points", default=5, show_default=True, type=click.IntRange(1, 12),
              help="--target-24h: points of the stock-value curve.")
@click.option("--eval-seeds", default="2,3", show_default=True,
              help="--target-24h: seeds of the simulated calls, comma-separated (medians).")
@click.option("--swap-after-h", default=None, type=click.FloatRange(1, 240),
              help="--target-24h: a loaner when a repair would pass this (default: the rule book's 48 h).")
@click.option("--loaners/--no-loaners", default=False, show_default=True,
              help="--target-24h: size each station's loaners for the swap threshold.")
@click.option("--curve-csv", default=None, type=click.Path(dir_okay=False),
              help="--target-24h: write the curve's medians as CSV (the dashboard draws it).")
@click.option("--vans/--no-vans", "size_van_stock", default=False, show_default=True,
              help="Size each field technician's van from his on-site job mix too (dispatch.parts.vans); the "
                   "simulated runs and --out use those vans instead of the default's.")
@click.option("--van-fill", default=0.6, show_default=True, type=click.FloatRange(0.0, 0.999),
              help="--vans: a van's demand-weighted fill target (its centre's shelf meets the rest).")
@click.option("--van-units", default=12, show_default=True, type=click.IntRange(1, 200),
              help="--vans: units a van's parts box holds.")
@click.option("--van-mix", type=click.Choice(["station", "simulated"]), default="station", show_default=True,
              help="--vans: whose calls a van serves: the technicians of the call's nearest station, shared "
                   "evenly, or who went to each call in a simulated week of --seed's calls (the first --fill's "
                   "levels; one week of dispatches over-fits: dispatch.parts.vans).")
@population_option
def size_command(source: str | None, preset: str | None, days: int, seed: int, fills: tuple[float, ...],
                 national_fill: float, run_sim: bool, eval_seed: int | None, out: str | None,
                 target_24h: float | None, points: int, eval_seeds: str, swap_after_h: float | None, loaners: bool,
                 curve_csv: str | None, size_van_stock: bool, van_fill: float, van_units: int, van_mix: str,
                 population: str | None) -> None:
    """Base-stock levels for each --fill target at the least holding cost, with their stock value."""
    if target_24h is not None:
        try:
            seeds = tuple(int(x) for x in eval_seeds.split(",") if x.strip())
        except ValueError:
            raise click.BadParameter(f"expected comma-separated integers, got {eval_seeds!r}", param_hint="--eval-seeds")
        run_24h(lambda s: load_dataset(source, preset, s, days, population), seed, seeds, target_24h, points,
                national_fill, swap_after_h, loaners, run_sim, curve_csv)
        return
    # The sizing and the simulator are slow to import (scipy, stockpyl, OR-Tools): only this command needs them.
    from dispatch import simulate as simulation
    from dispatch.parts.sizing import SizingParams, size  # scipy and stockpyl behind it, as above
    from dispatch.parts.vans import (  # the sizing's, as above
        VanParams,
        served_by,
        size_vans,
        with_vans,
    )

    ds = with_parts(load_dataset(source, preset, seed, days, population), seed)
    judged = None
    if run_sim:
        judged = ds if source else with_parts(load_dataset(source, preset, seed + 1 if eval_seed is None else eval_seed,
                                                           days, population), seed)
    vans = None
    if size_van_stock:
        served = None
        if van_mix == "simulated":  # who goes to which call, as the optimiser dispatches the forecast's week
            click.echo(f"vans: the week of seed {seed} simulated to learn each technician's job mix ...")
            with ProgressBar() as bar:
                calib = simulation.simulate(with_levels(ds, size(ds, SizingParams(fill_target=fills[0])).levels),
                                            simulation.SimParams(seed=seed), progress=bar)
            served = served_by(calib.events)
        vans = size_vans(ds, VanParams(fill_target=van_fill, max_units=van_units), served=served)

    def fitted(levels):  # type: ignore[no-untyped-def]
        return levels if vans is None else with_vans(levels, vans.levels)

    rows = []

    def measure(label: str, levels) -> dict:  # type: ignore[no-untyped-def]
        if judged is None:
            return {}
        with ProgressBar() as bar:
            res = simulation.simulate(with_levels(judged, levels), simulation.SimParams(seed=seed), progress=bar)
        k = kpis(res.outcomes, res.workload, stock=res.stock)
        stock_value = sum(k.get(f"stock_value_{t}_cny", 0.0) for t in ("van", "county", "city", "province", "national"))
        return {"simulated stock value (CNY)": round(stock_value), **{key: k.get(key) for key in SHOWN}}

    if judged is not None:
        rows.append({"target": "default stock", **measure("default", ds.parts.levels)})  # type: ignore[union-attr]
    sizing = None
    for fill in fills:
        sizing = size(ds, SizingParams(fill_target=fill, national_fill=national_fill))
        centres = sizing.table[sizing.table["location"] != "NATIONAL"]
        rows.append({"target": f"fill {fill:.0%}", "model fill": round(sizing.fill, 4),
                     "stock value (CNY)": round(sizing.value_cny),
                     "of which centres (CNY)": round(float(centres["value_cny"].sum())),
                     "holding (CNY/year)": round(sizing.holding_cny_per_year),
                     **({} if vans is None else {"vans (CNY)": round(vans.value_cny)}),
                     **measure(f"fill {fill}", fitted(sizing.levels))})
    frame = pd.DataFrame(rows)
    for key in SHOWN:
        if key in frame and key.endswith(("share", "rate")):
            frame[key] = frame[key].map(lambda v: "-" if v is None else f"{100 * v:.1f} %")
    click.echo(frame.to_string(index=False))
    click.echo("model fill: the sizing's own estimate (METRIC, Poisson demand); simulated: the optimiser's week on "
               f"seed {seed + 1 if eval_seed is None else eval_seed}'s calls with those levels (vans and loaners as "
               "the default has them, or --vans' sizing); stock value at cost.")
    if vans is not None:
        show_vans(vans, van_fill, ds.parts.levels, van_mix)  # type: ignore[union-attr]
    if out and sizing is not None:
        levels = pd.DataFrame([{"location": loc, "part_id": p, "level": s}
                               for (loc, p), s in sorted(fitted(sizing.levels).levels.items())])
        write_text(out, levels.to_csv(index=False))
        click.echo(f"levels written to {out}")


def show_vans(vans, target: float, default: StockLevels, mix: str) -> None:  # type: ignore[no-untyped-def]
    """The van section of ``stock size --vans``: per tier of the vans' centres, and the parts most carried."""
    if vans.vans.empty:
        click.echo("vans: no field technician has on-site part demand in these calls.")
        return
    was = sum(s for (loc, _), s in default.levels.items() if is_van(loc))
    per = vans.vans
    click.echo(f"vans sized from the on-site job mix ({mix}; target fill {target:.0%} per van, refilled nightly): "
               f"{len(per)} vans, {int(per['units'].sum())} units (default stock: {was}), "
               f"{vans.value_cny:,.0f} CNY, model fill {pct(vans.fill)} of the on-site part demands.")
    by_part = vans.table[vans.table["level"] > 0].groupby("part").agg(
        vans=("technician_id", "nunique"), units=("level", "sum"), demand_per_shift=("demand_per_shift", "mean"))
    by_part = by_part.sort_values(["units", "vans"], ascending=False).head(10)
    click.echo("parts most carried (demand per shift: mean over the vans carrying it):")
    click.echo(by_part.round(3).to_string())
    q = per["units"].quantile([0.0, 0.5, 1.0]).tolist()
    click.echo(f"units per van: min {q[0]:.0f}, median {q[1]:.0f}, max {q[2]:.0f}; on-site part demands per shift "
               f"per van: median {per['demand_per_shift'].median():.2f}.")


COMMANDS = (stock,)
