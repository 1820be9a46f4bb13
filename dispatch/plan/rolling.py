"""The rolling multi-day plan (``dispatch plan --days N``): each day's plan opens with the work
the days before left it.

Day by day, :func:`~dispatch.plan.make.make_plan` plans the calls whose technician can first set
off that day: the day's own calls, the calls of earlier days booked for it (an evening call, a
customer's appointment; the day plan lists them as ``next_day`` until their day), and the work
yesterday could not serve (``CARRIED_REASONS``: nobody had room, or could reach it in the window
that day). A carried call is offered the customer's whole day (``Rules.customer_hours_s``) on the
next day, with its technician allowed to set off from the opening; its promise clock keeps
running: its wait is measured from its first clock start, not restarted. A call no later day
can help (no technician in reach, no skill, no bench able to repair it) is not carried.

The whole run's outcomes count every call once, with its last day's outcome (served, or the
reason it was still open when the run ended); the KPIs also count the calls served on the day
their clock started and those carried.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.hours import business_seconds
from dispatch.kpis import kpis
from dispatch.model import DAY_S, Request, TimeWindow
from dispatch.plan.make import make_plan
from dispatch.plan.params import Plan, PlanParams
from dispatch.plan.trips import back_home, plan_trips, trips_frame, with_trips
from dispatch.progress import Progress
from dispatch.reasons import Reason
from dispatch.travel import DEFAULT_TRAVEL, Travel

# Why a call left unserved today may be served tomorrow (capacity or time, not the network).
CARRIED_REASONS = frozenset({Reason.CAPACITY, Reason.NO_CAPACITY, Reason.OUT_OF_REACH_TODAY,
                             Reason.UNREACHABLE_WINDOW, Reason.DEADLINE_UNREACHABLE, Reason.CAPACITY_FULL,
                             Reason.NO_FREE_TECHNICIAN})


@dataclass(frozen=True)
class RollingPlan:
    plans: tuple[Plan, ...]  # one per day, in order
    carried_in: tuple[tuple[str, ...], ...]  # per day, the calls yesterday left it
    outcomes: pd.DataFrame  # every call once: its last day's outcome, its wait since its first clock
    workload: pd.DataFrame  # every technician-day
    kpis: dict[str, float]
    trips: pd.DataFrame | None = None  # with overnight trips: one row per trip visit


def carried_request(r: Request, day: int, customer_hours_s: tuple[int, int]) -> Request:
    """``r`` offered the customer's whole ``day``: created when it was, so its clock keeps running."""
    return replace(r, window=TimeWindow(day * DAY_S + customer_hours_s[0], day * DAY_S + customer_hours_s[1]))


def make_rolling_plan(dataset: Dataset, params: PlanParams, days: int, pool: Executor | None = None,
                      travel: Travel = DEFAULT_TRAVEL,
                      progress: Callable[[int], Progress | None] | None = None,
                      overnight_trips: bool = False) -> RollingPlan:
    """Plan ``days`` days from ``params.day``, carrying the unserved work forward (module doc);
    ``progress(day)`` gives each day's progress callback. With ``overnight_trips``, each day's
    calls beyond same-day reach go on two-day trips (``dispatch.plan.trips``), whose
    technicians are away from the next day's plan."""
    original = {r.id: r for r in dataset.requests}
    carried: dict[str, Request] = {}
    plans, carried_in, rows, trip_rows = [], [], [], []
    first_clock: dict[str, float] = {}
    away: dict[int, set[str]] = {}  # day -> technicians on the second day of a trip
    for day in range(params.day, params.day + days):
        ds = replace(dataset, requests=tuple(carried.get(r.id, r) for r in dataset.requests),
                     technicians=tuple(t for t in dataset.technicians if t.id not in away.get(day, set())))
        plan = make_plan(ds, replace(params, day=day), pool=pool, travel=travel,
                         progress=progress(day) if progress else None)
        plans.append(plan)
        carried_in.append(tuple(sorted(carried)))
        out = plan.outcomes.copy()
        if overnight_trips:
            far = plan.unassigned.loc[plan.unassigned["reason_code"] == Reason.NO_TECHNICIAN_IN_REACH, "request_id"]
            trips = plan_trips(ds, list(far), day, (), params.rules, travel=travel, seed=params.seed,
                               busy_until=back_home(plan.routes))  # a routed technician goes once back
            out, _ = with_trips(out, plan.unassigned, trips, dataset.network, params.rules)
            away[day + 1] = {t.technician_id for t in trips.trips if t.stops and t.end_s > (day + 1) * DAY_S}
            trip_rows.append(trips_frame(trips))
        # The promise clock of a carried call runs from its first start (business hours).
        for i, rid in zip(out.index, out["request_id"]):
            if rid in first_clock and rid in carried:
                out.loc[i, "clock_start_s"] = first_clock[rid]
                if np.isfinite(out.loc[i, "dispatch_s"]) and out.loc[i, "centre_id"]:
                    out.loc[i, "dispatch_wait_s"] = business_seconds(
                        dataset.network[out.loc[i, "centre_id"]], first_clock[rid], out.loc[i, "dispatch_s"])
            elif out.loc[i, "unassigned_reason"] != Reason.NEXT_DAY:
                first_clock.setdefault(rid, float(out.loc[i, "clock_start_s"]))
        out["plan_day"] = day
        out["carried"] = out["request_id"].isin(carried)
        rows.append(out)
        open_now = out.loc[out["unassigned_reason"].isin(CARRIED_REASONS), "request_id"]
        carried = {rid: carried_request(original[rid], day + 1, params.rules.customer_hours_s) for rid in open_now}
    outcomes = _last_outcome(rows, original)
    workload = pd.concat([p.workload.assign(day=p.params.day) for p in plans], ignore_index=True)
    k = kpis(outcomes.drop(columns=["plan_day", "carried", "first_day"]), workload)
    travelling = outcomes[outcomes["mode"].isin(("onsite", "pickup"))]
    served = travelling["dispatch_s"].notna()
    k["carried_requests"] = float(travelling["carried"].sum())
    k["served_on_first_day_rate"] = float((served & (travelling["plan_day"] == travelling["first_day"])).mean()) \
        if len(travelling) else float("nan")
    k["open_at_end_requests"] = float((travelling["unassigned_reason"] != "").sum())
    trips = pd.concat(trip_rows, ignore_index=True) if trip_rows else None
    if trips is not None:
        per_trip = trips.drop_duplicates(["technician_id", "day"])
        k |= {"trips": float(len(per_trip)), "trip_nights_away": float(per_trip["nights_away"].sum()),
              "trip_cost_cny": float(per_trip["trip_cost_cny"].sum()), "trip_calls": float(len(trips))}
    return RollingPlan(tuple(plans), tuple(carried_in), outcomes, workload, k, trips)


def _last_outcome(rows: list[pd.DataFrame], original: dict[str, Request]) -> pd.DataFrame:
    """Every call once: the row of the last day that had it, with the day its clock first started."""
    allrows = pd.concat(rows, ignore_index=True)
    planned = allrows[allrows["unassigned_reason"] != Reason.NEXT_DAY]
    first_day = planned.groupby("request_id")["plan_day"].min()
    last = allrows.drop_duplicates("request_id", keep="last").copy()
    last["first_day"] = last["request_id"].map(first_day).fillna(last["plan_day"]).astype(int)
    return last.reset_index(drop=True)
