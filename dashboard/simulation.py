"""Simulation for the dashboard (``dispatch.simulate``): days of calls for a dataset, the
optimiser against the same-physics dispatcher (policy ``baseline``) on the same calls, and their
KPIs per day."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from dashboard.data import days_of
from dashboard import i18n
from dashboard.formatting import DAILY_KPIS
from dispatch.dataset import Dataset
from dispatch.kpis import TRAVELLING, dispatch_wait_s, kpis
from dispatch.model import DAY_S
from dispatch.simulate import SimParams, SimResult, simulate
from dispatch.synthetic import GeneratorParams, generate, recorded_calendar, with_calendar
from dispatch.travel import DEFAULT_TRAVEL, Travel

SIM_DAYS_MAX = 7
SIM_DAYS_DEFAULT = 3
SIM_POLICIES = ("optimiser", "baseline")
# Share of the progress bar given to each policy: the optimiser takes most of the time.
SIM_SPAN = {"optimiser": (0.0, 0.85), "baseline": (0.85, 0.15)}
# Small runs (calls x policies) start by themselves when the page opens; larger ones wait for
# the button, like the board's plans.
AUTO_SIM_CALLS = 1000


def sim_preset(ds: Dataset) -> tuple[str, int] | None:
    """(preset, seed) of a dataset made by ``dispatch.synthetic`` (the demos), else None."""
    meta = dict(ds.meta)
    if meta.get("generator") != "dispatch.synthetic" or not meta.get("preset"):
        return None
    try:
        return str(meta["preset"]), int(meta.get("seed", 1))
    except ValueError:
        return None


def sim_calls(ds: Dataset, days: int) -> Dataset:
    """``days`` days of calls for the dataset. A generated dataset (a demo) is generated again
    from its preset and seed with that many days (same network and roster, more calls); any
    other keeps its own calls of its first ``days`` days."""
    days = max(1, min(int(days), SIM_DAYS_MAX))
    src = sim_preset(ds)
    if src is not None:
        # The calls as the dataset's own generator made them (a dataset made before the demand
        # calendar has no such line: its days were alike), with the dataset's network and roster.
        calendar = recorded_calendar(dict(ds.meta).get("demand_calendar"))
        calls = generate(src[0], days=days, seed=src[1], params=with_calendar(GeneratorParams(), calendar)).requests
        return Dataset(ds.network, ds.technicians, calls, ds.epoch_date, ds.meta)
    first = min(days_of(ds))
    reqs = tuple(r for r in ds.requests if first <= r.created_s // DAY_S < first + days)
    return Dataset(ds.network, ds.technicians, reqs, ds.epoch_date, ds.meta)


def sim_source_label(ds: Dataset, days: int) -> str:
    src = sim_preset(ds)
    if src is not None:
        return i18n.t("sim.source_preset", days=days, preset=src[0], seed=src[1])
    return i18n.t("sim.source_own", days=days)


@dataclass(frozen=True)
class SimComparison:
    """Both policies on the same calls: ``dispatch.simulate.SimResult`` per policy and KPIs."""

    results: dict[str, SimResult]  # policy -> result
    kpis: dict[str, dict[str, float]]
    days: int
    calls: int
    scenario: str


def simulate_pair(ds: Dataset, days: int, seed: int = 0, scenario: str = "base",
                  sink: Callable[[float, str], None] | None = None, travel: Travel = DEFAULT_TRAVEL) -> SimComparison:
    """``dispatch.simulate`` with the optimiser then the baseline on the same calls; ``sink``
    gets (fraction 0..1, label) as the run goes."""
    results = {}
    for policy in SIM_POLICIES:
        lo, span = SIM_SPAN[policy]

        def report(stage: str, done: int, total: int, lo: float = lo, span: float = span,
                   policy: str = policy) -> None:
            if sink is not None:
                sink(min(1.0, lo + span * (done / total if total else 1.0)),
                     f"{i18n.t('sim.policy.' + policy)}: {i18n.ProgressLabel(stage, done, total)}")

        report("simulated calls", 0, len(ds.requests))
        results[policy] = simulate(ds, SimParams(policy=policy, seed=seed), travel, progress=report)
        report("simulated calls", len(ds.requests), len(ds.requests))
    k = {p: kpis(r.outcomes, r.workload) for p, r in results.items()}
    return SimComparison(results, k, int(days), len(ds.requests), scenario)


def dispatch_wait_min(outcomes: pd.DataFrame) -> pd.Series:
    """Minutes from clock start to set-off of the dispatched onsite/pickup calls: opening-hours
    (business) minutes when the producer gives ``dispatch_wait_s``, else the plain difference."""
    trav = outcomes[outcomes["mode"].isin(TRAVELLING) & outcomes["dispatch_s"].notna()]
    return (dispatch_wait_s(trav) / 60).astype(float)


def daily_kpis(outcomes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """KPIs per policy and day the calls were made (``created_s`` // day), long format:
    policy, day, kpi, label, value."""
    rows = []
    for policy, o in outcomes.items():
        if o.empty:
            continue
        for day, g in o.groupby(o["created_s"] // DAY_S):
            k = kpis(g)
            k["calls"] = float(len(g))
            for key in DAILY_KPIS:
                rows.append({"policy": policy, "day": int(day), "kpi": key, "label": i18n.kpi_label(key),
                             "value": k.get(key, math.nan)})
    return pd.DataFrame(rows, columns=["policy", "day", "kpi", "label", "value"])


def open_reasons(results: Mapping[str, SimResult]) -> pd.DataFrame:
    """Calls still open at the horizon per policy and reason."""
    frames = [r.open_requests.assign(policy=p) for p, r in results.items() if len(r.open_requests)]
    if not frames:
        return pd.DataFrame(columns=["reason", *results])
    o = pd.concat(frames, ignore_index=True)
    t = o.groupby(["reason", "policy"]).size().unstack("policy", fill_value=0)
    return t.reindex(columns=list(results), fill_value=0).reset_index()
