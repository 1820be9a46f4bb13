"""Runs with contracts: the three worlds side by side in hours and money, and "own the busiest".

:func:`contracted_runs` simulates a dataset's calls with its contract book under the
same-physics dispatcher and the optimiser (the same offers, answers and refusals for both:
answers are drawn per call, station and attempt), beside the old world, and gives per run the
KPIs (``dispatch.kpis``), the offers (made, accepted, refused, timed out; minutes lost to
refusals and timeouts) and the costs (``dispatch.contracts.costs``).

:func:`own_busiest` is the scenario "own the N busiest county stations instead of contracting
them": the N contracted stations that served most jobs in the contracted optimiser run become the
maker's own (their technicians employees at the county wage, no offers, no fees), and the
optimiser runs again on the same calls and seed; the two are compared in money and hours.

The old world's cost is an estimate of this module (until ``dispatch.oldworld`` gives its own):
its provincial labs' technicians paid 8 h on each working day (Monday to Saturday) of the calls'
days at the tier-1 wage, and two mail legs (to the lab and back) per device at the courier rate;
the dealers' handling, paid by the dealers' margin, is left out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd

from dispatch.contracts.costs import centre_costs, job_costs, network_costs
from dispatch.contracts.model import ContractBook
from dispatch.dataset import Dataset
from dispatch.kpis import RUN_LABELS, kpis
from dispatch.model import DAY_S
from dispatch.oldworld import OldWorldParams, OldWorldResult, simulate_old_world
from dispatch.progress import Progress
from dispatch.rules import DEFAULT_COST_RATES, CostRates
from dispatch.simulate import SimParams, SimResult, simulate

DEFAULT_SIM = SimParams()
HOURS_KEYS = ("dispatch_within_target_rate", "time_to_dispatch_p95_min", "turnaround_mean_h",
              "turnaround_within_24h_share")


@dataclass(frozen=True)
class Run:
    """One world's figures: KPIs, offers, costs (network dict, per-centre and per-job frames)."""

    name: str
    kpis: dict[str, float]
    offers: dict[str, float]
    cost: dict[str, float]
    centres: pd.DataFrame | None = None
    jobs: pd.DataFrame | None = None
    result: SimResult | None = None


def offer_figures(events: pd.DataFrame, outcomes: pd.DataFrame, target_s: int = 3600) -> dict[str, float]:
    """Offers made, accepted, refused, timed out; calls re-offered; minutes lost to refusals and
    timeouts (each refused or lapsed offer's time from offer to answer); and the one-hour rate of
    the re-offered calls (every one of them in its population)."""
    ev = events[events["event"].isin(["offered", "offer_accepted", "offer_refused", "offer_timeout"])]
    counts = ev["event"].value_counts()
    lost_s = 0.0
    reoffered: set[str] = set()
    for rid, g in ev.sort_values("t_s", kind="stable").groupby("request_id"):
        offered_at = None
        for t, e in zip(g["t_s"], g["event"]):
            if e == "offered":
                offered_at = t
            elif e in ("offer_refused", "offer_timeout") and offered_at is not None:
                lost_s += t - offered_at
                reoffered.add(str(rid))
    trav = outcomes[outcomes["request_id"].astype(str).isin(reoffered)]
    wait = trav["dispatch_wait_s"].fillna(trav["dispatch_s"] - trav["clock_start_s"])
    return {"offers": float(counts.get("offered", 0)), "accepted": float(counts.get("offer_accepted", 0)),
            "refused": float(counts.get("offer_refused", 0)), "timed_out": float(counts.get("offer_timeout", 0)),
            "reoffered_calls": float(len(reoffered)), "minutes_lost_to_refusals": lost_s / 60,
            "reoffered_within_target_rate": float((wait <= target_s).mean()) if len(trav) else math.nan,
            **miss_causes(events, outcomes, target_s)}


MISS_CAUSES = {
    "miss_after_failed_offer": "after a refused or lapsed offer",
    "miss_accepted_late": "accepted, set off late",
    "miss_carried_over": "no offer, re-booked for tomorrow",
    "miss_other": "no offer, set off late",
}


def miss_causes(events: pd.DataFrame, outcomes: pd.DataFrame, target_s: int = 3600) -> dict[str, float]:
    """The travelling calls that missed the one-hour dispatch, as shares of every travelling
    call (the one-hour rate's population), by what came first in their log (:data:`MISS_CAUSES`):
    an offer refused or lapsed; an offer accepted but the set-off late all the same; no offer and
    nobody today (carried over); no offer, and a late set-off. They add up to 1 - the rate."""
    trav = outcomes[outcomes["mode"] != "walkin"]
    if not len(trav):
        return {k: math.nan for k in MISS_CAUSES}
    missed = set(trav.loc[~(trav["dispatch_wait_s"] <= target_s), "request_id"].astype(str))
    seen = events[events["request_id"].astype(str).isin(missed)].groupby("request_id")["event"].agg(set)
    failed = seen.map(lambda s: bool(s & {"offer_refused", "offer_timeout", "offer_lapsed"}))
    accepted = seen.map(lambda s: "offer_accepted" in s) & ~failed
    carried = seen.map(lambda s: "carried_over" in s) & ~failed & ~accepted
    n = float(len(trav))
    return {"miss_after_failed_offer": float(failed.sum()) / n, "miss_accepted_late": float(accepted.sum()) / n,
            "miss_carried_over": float(carried.sum()) / n,
            "miss_other": (len(missed) - float(failed.sum() + accepted.sum() + carried.sum())) / n}


def old_world_cost(old: OldWorldResult, dataset: Dataset, rates: CostRates = DEFAULT_COST_RATES) -> dict[str, float]:
    """The old world's cost estimate (module docstring)."""
    days = sorted({r.created_s // DAY_S for r in dataset.requests})
    epoch = dt.date.fromisoformat(dataset.epoch_date)
    workdays = sum(1 for d in days if (epoch + dt.timedelta(days=d)).weekday() < 6)
    labour = float(old.labs["technicians"].sum()) * 8 * workdays * rates.wage_cny_per_h(1)
    done = old.outcomes["completion_s"].notna()
    courier = 2 * len(old.outcomes) * rates.courier_cny_per_leg
    total = labour + courier
    return {"labour_cny": labour, "courier_cny": courier, "fee_cny": 0.0, "penalty_cny": 0.0, "total_cny": total,
            "completed": float(done.sum()), "cost_per_job_cny": total / float(done.sum()) if done.any() else math.nan}


def simulated_run(dataset: Dataset, book: ContractBook, params: SimParams, rates: CostRates = DEFAULT_COST_RATES,
                  progress: Progress | None = None) -> Run:
    """One simulation with ``book`` and its figures."""
    res = simulate(dataset, replace(params, contracts=book), progress=progress)
    jobs = job_costs(res.events, res.outcomes, res.workload, dataset, book, rates)
    centres = centre_costs(jobs, res.workload, dataset, book, rates)
    return Run(params.policy, kpis(res.outcomes, res.workload), offer_figures(res.events, res.outcomes),
               network_costs(centres), centres, jobs, res)


def contracted_runs(dataset: Dataset, book: ContractBook, params: SimParams = DEFAULT_SIM,
                    rates: CostRates = DEFAULT_COST_RATES, progress: Progress | None = None) -> dict[str, Run]:
    """The old world, the same-physics dispatcher and the optimiser, with ``book`` (module docstring)."""
    old = simulate_old_world(dataset, OldWorldParams(seed=params.seed), progress=progress)
    runs = {"oldworld": Run("oldworld", kpis(old.outcomes), {}, old_world_cost(old, dataset, rates))}
    for policy in ("baseline", "optimiser"):
        runs[policy] = simulated_run(dataset, book, replace(params, policy=policy), rates, progress)
    return runs


def busiest_stations(run: Run, book: ContractBook, n: int = 10) -> list[str]:
    """The ``n`` contracted stations that served most jobs in ``run`` (ties by id)."""
    assert run.jobs is not None
    served = run.jobs[run.jobs["owner"] == "contracted"].groupby("centre_id").size()
    ranked = sorted(served.items(), key=lambda kv: (-kv[1], kv[0]))
    return [cid for cid, _ in ranked[:n] if cid in book]


def own_busiest(dataset: Dataset, book: ContractBook, base: Run, n: int = 10, params: SimParams = DEFAULT_SIM,
                rates: CostRates = DEFAULT_COST_RATES, progress: Progress | None = None) -> tuple[list[str], Run]:
    """The scenario: the ``n`` busiest stations of ``base`` (an optimiser run with ``book``)
    owned instead of contracted, the optimiser run again; (the stations, the run)."""
    stations = busiest_stations(base, book, n)
    run = simulated_run(dataset, book.without(set(stations)), replace(params, policy="optimiser"), rates, progress)
    return stations, replace(run, name=f"own {len(stations)} busiest")


def side_by_side(runs: Mapping[str, Run]) -> pd.DataFrame:
    """Hours, offers and money of each run, one column per run (labels of ``kpis.RUN_LABELS``)."""
    rows: list[tuple[str, str, str]] = [
        ("dispatched <= 60 min", "kpis", "dispatch_within_target_rate"),
        ("time to dispatch p95 (min)", "kpis", "time_to_dispatch_p95_min"),
        ("turnaround mean (h)", "kpis", "turnaround_mean_h"),
        ("turnaround <= 24 h", "kpis", "turnaround_within_24h_share"),
        ("offers made", "offers", "offers"), ("offers accepted", "offers", "accepted"),
        ("offers refused", "offers", "refused"), ("offers timed out", "offers", "timed_out"),
        ("calls re-offered", "offers", "reoffered_calls"),
        ("minutes lost to refusals and timeouts", "offers", "minutes_lost_to_refusals"),
        ("re-offered calls dispatched <= 60 min", "offers", "reoffered_within_target_rate"),
        *((f"  missed <= 60 min: {label}", "offers", key) for key, label in MISS_CAUSES.items()),
        ("cost per job (CNY)", "cost", "cost_per_job_cny"), ("network cost (CNY)", "cost", "total_cny"),
        ("  own technicians' time (CNY)", "cost", "labour_cny"), ("  overtime (CNY)", "cost", "overtime_cny"),
        ("  kilometres (CNY)", "cost", "vehicle_cny"), ("  couriers (CNY)", "cost", "courier_cny"),
        ("  parts at cost (CNY)", "cost", "parts_cny"), ("  contracted fees (CNY)", "cost", "fee_cny"),
        ("  SLA penalties credited (CNY)", "cost", "penalty_cny")]
    table = {}
    for key, run in runs.items():
        col = []
        for label, part, k in rows:
            v = getattr(run, part).get(k)
            col.append("n/a" if v is None else _fmt(label, v))
        table[RUN_LABELS.get(key, key)] = col
    return pd.DataFrame(table, index=[label for label, _, _ in rows])


def _fmt(label: str, v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "-"
    if "<=" in label:
        return f"{100 * v:.1f} %"  # a share (the misses by cause: of every travelling call)
    if "CNY" in label and "per job" not in label:
        return f"{v:,.0f}"
    return f"{v:,.2f}" if not float(v).is_integer() else f"{int(v):,}"
