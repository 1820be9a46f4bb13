"""`dispatch stock size --target-24h`: stock sized for a within-24 h share (dispatch.parts.target),
the curve of stock value against the 24 h share it buys, simulated on other seeds' calls
(medians), and what stands in the way (dispatch.parts.obstacles)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click
import pandas as pd

from dispatch.cli.options import ProgressBar, pct
from dispatch.dataset import Dataset
from dispatch.kpis import kpis
from dispatch.parts.catalogue import LOANER
from dispatch.parts.enable import switch, with_levels, with_parts
from dispatch.parts.obstacles import obstacles
from dispatch.parts.stock import StockLevels
from dispatch.rules import DEFAULT_RULES, Rules

TIERS = ("van", "county", "city", "province", "national")
# The curve's CSV columns (the dashboard reads them: dashboard.stockcurve).
CURVE_COLUMNS = {"stock": "stock", "stock value held (M CNY)": "value_mcny", "fill": "fill", "within 24 h": "within_24h",
                 "own phone back within 24 h": "own_back_24h", "mean (h)": "mean_h", "part wait share": "part_wait_share",
                 "dispatched <= 60 min": "dispatched_60", "loaners given": "loaners"}


def device_back_within(outcomes: pd.DataFrame, events: pd.DataFrame, within_s: int = 24 * 3600) -> float:
    """Share of every call whose own phone was back within ``within_s`` (a loaner does not count)."""
    back = events[events["event"] == "returned"].groupby("request_id")["t_s"].max()
    created = outcomes.set_index("request_id")["created_s"]
    return float(((back.reindex(created.index) - created) <= within_s).sum()) / len(created) if len(created) else 0.0


def run_24h(load: Callable[[int], Dataset], seed: int, eval_seeds: tuple[int, ...], target: float, points: int,
            national_fill: float, swap_after_h: float | None, loaners: bool, run_sim: bool,
            out_csv: str | None) -> None:
    # The sizing and the simulator are slow to import (scipy, stockpyl, OR-Tools): only this mode needs them.
    from dispatch import simulate as simulation
    from dispatch.parts.sizing import (  # scipy and stockpyl, as above
        SizingParams,
        echelon,
        levels_with,
        size,
    )
    from dispatch.parts.target import (  # the sizing's, as above
        calibrate,
        loaner_levels,
        size_for_24h,
    )

    rules: Rules = DEFAULT_RULES if swap_after_h is None else replace(DEFAULT_RULES, swap_after_s=int(swap_after_h * 3600))
    ds = with_parts(load(seed), seed)
    params = SizingParams(national_fill=national_fill)
    problem = echelon(ds, params)
    start = size(ds, replace(params, fill_target=0.9)).levels

    def sim(dataset: Dataset, levels: StockLevels | None, sim_seed: int) -> Any:
        with ProgressBar() as bar:
            judged = dataset if levels is None else with_levels(dataset, levels)
            return simulation.simulate(judged, simulation.SimParams(seed=sim_seed, rules=rules), progress=bar)

    click.echo(f"calibration: the week of seed {seed} simulated with the fill-90 % sizing ...")
    calib = sim(ds, start, seed)
    cal = calibrate(calib.outcomes)
    tiers = {c.id: int(c.tier) for c in ds.network}
    probe = size_for_24h(problem, tiers, cal, 1.0)  # the whole path, to place the curve's points
    top = min(target, probe.ceiling - 0.002)  # the last point short of the ceiling (reached only in the limit)
    low = float(probe.path["estimate"].iloc[0])
    marks = tuple(low + (top - low) * (i + 1) / points for i in range(points))
    sized = size_for_24h(problem, tiers, cal, target, marks)
    loan = loaner_levels(calib.outcomes, rules.swap_after_s) if loaners else None

    def full(level: dict) -> StockLevels:
        lv = levels_with(ds, problem, level)
        if loan is None:
            return lv
        merged = {k: s for k, s in lv.levels.items() if k[1] != LOANER} | dict(loan.levels)
        return StockLevels(merged, lv.factory_lead_s)

    cost = {p.id: p.cost_cny for p in ds.parts.catalogue.parts}  # type: ignore[union-attr]
    national_cny = sum(s * cost[p] for p, s in problem.national.items())
    loan_cny = 0.0 if loan is None else sum(s * cost[LOANER] for s in loan.levels.values())
    click.echo(cal.table.to_string(index=False))
    click.echo(f"calibration: {cal.phi:.1%} of calls need a part; the others are within 24 h at {cal.share_other:.1%}.")
    click.echo(f"estimate (analytic on the calibration): {sized.estimate:.1%} with {sized.value_cny / 1e6:.2f} M CNY at the "
               f"centres (+ {national_cny / 1e6:.2f} M CNY at the national warehouse"
               + (f", {loan_cny / 1e6:.2f} M CNY of loaners" if loan is not None else "") + "); ceiling with every part at "
               f"first pick: {probe.ceiling:.1%}; target {target:.0%} {'reached' if sized.reached else 'NOT reached'}.")
    curve = [(f"24 h est. {est:.1%}", value, lv) for value, est, lv in sized.checkpoints]
    if not sized.reached:
        curve.append((f"ceiling path {sized.estimate:.1%}", sized.value_cny, sized.level))
    if not run_sim:
        click.echo(pd.DataFrame([{"point": n, "centre stock (M CNY)": round(v / 1e6, 3)} for n, v, _ in curve]).to_string(index=False))
        return
    rows: dict[str, list[dict]] = {}
    blocks = []
    for s in eval_seeds:
        judged = with_parts(load(s), seed)
        runs: list[tuple[str, Dataset, StockLevels | None]] = [("parts off", switch(load(s), False), None),
                                                               ("default stock", judged, judged.parts.levels)]  # type: ignore[union-attr]
        runs += [(name, judged, full(lv)) for name, _, lv in curve]
        for name, dataset, levels in runs:
            res = sim(dataset, levels, s)
            k = kpis(res.outcomes, res.workload, stock=res.stock)
            value = sum(k.get(f"stock_value_{t}_cny") or 0.0 for t in TIERS)
            rows.setdefault(name, []).append({
                "stock value held (M CNY)": value / 1e6, "fill": k.get("part_fill_rate"),
                "within 24 h": k.get("turnaround_within_24h_share"),
                "own phone back within 24 h": device_back_within(res.outcomes, res.events),
                "mean (h)": k.get("turnaround_mean_h"), "part wait share": k.get("part_wait_share"),
                "dispatched <= 60 min": k.get("dispatch_within_target_rate"), "loaners given": k.get("swaps")})
            if name == runs[-1][0]:
                blocks.append(obstacles(res.outcomes, res.events).set_index("step"))
    table = []
    for name, got in rows.items():
        row: dict[str, Any] = {"stock": name}
        for key in got[0]:
            vals = [g[key] for g in got if g[key] is not None]
            row[key] = statistics.median(vals) if vals else None
        table.append(row)
    frame = pd.DataFrame(table)
    shown = frame.copy()
    for key in ("fill", "within 24 h", "own phone back within 24 h", "part wait share", "dispatched <= 60 min"):
        shown[key] = shown[key].map(pct)
    for key in ("stock value held (M CNY)", "mean (h)"):
        shown[key] = shown[key].map(lambda v: "-" if v is None else f"{v:.2f}")
    click.echo(f"Medians over seeds {', '.join(map(str, eval_seeds))} (sized on seed {seed}); stock value: the "
               "simulated mean held, every tier:")
    click.echo(shown.to_string(index=False))
    obs = pd.concat(blocks).groupby(level=0, sort=False).median()
    obs["within 24 h if it took no time"] = obs["within 24 h if it took no time"].map(pct)
    click.echo("What stands in the way (the last stock, medians over the seeds; arithmetic on the simulated calls):")
    click.echo(obs.round(2).to_string())
    if out_csv:
        frame.rename(columns=CURVE_COLUMNS).to_csv(out_csv, index=False)
        click.echo(f"curve written to {out_csv}")
