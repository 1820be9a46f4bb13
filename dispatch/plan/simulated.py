"""The day plan measured by simulating its day, with the physics of ``dispatch simulate``.

A plan's own figures are an estimate: every job takes its nominal time, every customer is in,
benches follow the assignment's booking, and its population leaves out the calls made today
whose clock starts tomorrow. Here the plan's day is simulated instead (``dispatch.simulate``,
the optimiser): its live areas begin the day with the plan's **morning routes** (every call an
area knows when its day starts, with the technician and in the order the plan gave it), each
later call is placed as it comes by the same decision the plan used, work goes wrong as in the
field (``dispatch.fieldwork``, seeded by the plan's seed), devices ride the shuttles and wait
in the bench queues, and the days after are simulated until every device is back (or
``drain_days`` pass).

Two populations, each named where it is shown:

* **the plan's calls**: the calls the plan serves today (the population of its estimate), so
  that the estimate's error is the estimate minus the simulation over the same calls;
* **with next-day calls**: those and the calls made by today whose dispatch clock starts on a
  later day (after hours; the plan lists them as ``next_day``), dispatched in the simulation at
  the next opening. Tomorrow's own calls are not simulated, so the next morning is lighter than
  a real one: their dispatch figures are a best case.

Workload figures (utilisation, overtime, cost per job) are the plan's day's: the technicians'
day ``day`` in the simulation (tomorrow's technicians serve only the carried calls).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from dispatch.dataset import Dataset
from dispatch.fieldwork import FieldworkParams
from dispatch.kpis import KPIS, fmt, fmt_delta, kpis
from dispatch.plan.areas import reach_s
from dispatch.plan.day import batch_start_s
from dispatch.plan.make import requests_of_day
from dispatch.plan.params import Plan
from dispatch.progress import Progress
from dispatch.simulate import MorningRoutes, SimParams, SimResult, simulate
from dispatch.travel import DEFAULT_TRAVEL, Travel

ESTIMATE = "plan's estimate (its calls)"
SIMULATED = "simulated (its calls)"
ERROR = "estimate error"
WITH_NEXT_DAY = "simulated, with next-day calls"


@dataclass(frozen=True)
class PlanSimulation:
    """The plan's day as simulated, and the calls of each population."""

    result: SimResult
    day: int
    plan_calls: frozenset[str]  # the plan's own population
    next_day_calls: frozenset[str]  # made by today, clock starting later (the plan's next_day)
    seed: int  # the fates' (the plan's seed)
    morning_calls: int  # calls on the morning routes the simulation began with
    not_kept: int  # of them, those the simulated day could not keep on their route

    def outcomes(self, with_next_day: bool = False) -> pd.DataFrame:
        ids = self.plan_calls | (self.next_day_calls if with_next_day else frozenset())
        o = self.result.outcomes
        return o[o["request_id"].isin(ids)].reset_index(drop=True)

    def workload(self) -> pd.DataFrame:
        w = self.result.workload
        return w[w["day"] == self.day].reset_index(drop=True)

    def kpis(self, with_next_day: bool = False) -> dict[str, float]:
        return kpis(self.outcomes(with_next_day), self.workload())


def morning_routes(plan: Plan) -> MorningRoutes:
    """The plan's routes as they stand when each area's day starts: every call released by
    then (``plan.day.batch_start_s``), with its technician, in his route's order."""
    visits = [v for p in plan.area_problems.values() for v in p.visits]
    day_start = min((v.release_s for v in visits), default=0)
    morning = {v.id for p in plan.area_problems.values() for v in p.visits
               if v.release_s <= batch_start_s(p, day_start)}
    stops = plan.stops[plan.stops["request_id"].isin(morning)] if len(plan.stops) else plan.stops
    routes: dict[str, tuple[str, ...]] = {}
    for tid, g in stops.groupby("technician_id", sort=True):
        routes[str(tid)] = tuple(g.sort_values("sequence")["request_id"].astype(str))
    o = plan.outcomes
    collected = set(o.loc[(o["mode"] == "onsite") & (o["visit_mode"] == "pickup"), "request_id"].astype(str))
    return MorningRoutes(plan.params.day, routes, frozenset(collected & morning))


def simulate_plan(
    dataset: Dataset, plan: Plan, travel: Travel = DEFAULT_TRAVEL,
    fieldwork: FieldworkParams | None = None, progress: Progress | None = None,
) -> PlanSimulation:
    """Simulate ``plan``'s day of ``dataset`` (the dataset it was made from), beginning with its
    morning routes; fates seeded by the plan's seed (``fieldwork`` default: on)."""
    day = plan.params.day
    today, later = requests_of_day(dataset, day)
    calls = Dataset(dataset.network, dataset.technicians, tuple(today + later), dataset.epoch_date, dataset.meta)
    # A plan made with contracts (its assignment's book): the day's jobs for contracted stations
    # are offers, and the simulation draws each station's answer (dispatch.contracts.offers).
    params = SimParams(policy="optimiser", rules=plan.params.rules, seed=plan.params.seed,
                       fieldwork=FieldworkParams() if fieldwork is None else fieldwork,
                       contracts=plan.params.assignment.contracts)
    morning = morning_routes(plan)
    result = simulate(calls, params, travel, progress, morning=morning)
    result.outcomes["reach_s"] = reach_s(calls, result.outcomes["request_id"], travel)  # as the plan's
    not_kept = result.events[(result.events["event"] == "carried_over")
                             & result.events["detail"].str.startswith("the day plan's morning route")]
    return PlanSimulation(result, day, frozenset(r.id for r in today), frozenset(r.id for r in later), params.seed,
                          sum(len(ids) for ids in morning.routes.values()), int(not_kept["request_id"].nunique()))


def estimate_error(estimate: Mapping[str, float], simulated: Mapping[str, float]) -> dict[str, float]:
    """Per KPI both measure: the plan's estimate minus the simulation (same population)."""
    return {k: float(estimate[k]) - float(simulated[k]) for k in estimate if k in simulated}


def format_plan_kpis(estimate: Mapping[str, float], sim: PlanSimulation) -> str:
    """The plan's estimate beside its simulated day: the same calls, the estimate's error, and
    the population with next-day calls (every column says which it is)."""
    mine, wider = sim.kpis(), sim.kpis(with_next_day=True)
    error = estimate_error(estimate, mine)
    rows = []
    for k in KPIS:
        if k.key not in estimate and k.key not in mine:
            continue
        rows.append({"KPI": k.label,
                     ESTIMATE: fmt(k.key, estimate[k.key]) if k.key in estimate else "n/a",
                     SIMULATED: fmt(k.key, mine[k.key]) if k.key in mine else "n/a",
                     ERROR: fmt_delta(k.key, error[k.key]) if k.key in error and not math.isinf(error[k.key])
                     else "-",
                     WITH_NEXT_DAY: fmt(k.key, wider[k.key]) if k.key in wider else "n/a"})
    return pd.DataFrame(rows).to_string(index=False)


def offers_line(events: pd.DataFrame) -> str:
    """The simulated day's offers to contracted stations, in one sentence."""
    n = events["event"].value_counts()
    return (f"offers (simulated): {n.get('offered', 0):,} made to contracted stations, {n.get('offer_accepted', 0):,} "
            f"accepted, {n.get('offer_refused', 0):,} refused, {n.get('offer_timeout', 0):,} timed out (each re-offered, "
            "the one-hour clock running)")


def populations_note(sim: PlanSimulation) -> str:
    """One paragraph naming each column's population and how the simulation began."""
    n, m = len(sim.plan_calls), len(sim.next_day_calls)
    return (f"Populations: 'its calls' = the {n:,} calls the plan serves on day {sim.day} (the estimate's own "
            f"population); 'with next-day calls' adds the {m:,} calls made by then whose clock starts on a later "
            f"day (dispatched at the next opening, tomorrow's own calls not simulated: a best case). The "
            f"simulation (dispatch.simulate, the optimiser, field work seeded {sim.seed}) began the day with the plan's {sim.morning_calls:,} morning-route calls "
            f"({sim.not_kept:,} could not be kept on their route and were re-booked); workload KPIs are day "
            f"{sim.day}'s. Estimate error = estimate - simulation over the plan's calls (pt for shares).")
