"""Discrete-event simulation of days of calls: dispatch, field work, couriers, benches.

Calls arrive over time; a **policy** decides who goes and where a device is repaired:

* ``optimiser``: each call, when its dispatch clock starts, is inserted into the live plan of
  the best of the nearest areas (``dispatch.live``: technicians already under way keep their
  work; the one-hour deadline first, then the least added driving; urgent calls by ETA). A
  device goes to the lowest centre of its escalation chain that can repair it, unless climbing
  higher finishes sooner with the bench queues as they stand. Shuttles run twice a day
  (12:00 and 18:00) between tiers.
* ``baseline``: a good human dispatcher with a whiteboard (``dispatch.baseline``): the nearest
  free capable technician of the province, first come first served, no look-ahead and no
  re-planning.

Both run in the same world, so the difference is dispatching alone: the same network, roster,
shifts and breaks, travel times, escalation rule (the capable centre of the chain that finishes
soonest with the bench queues as they stand), benches as first come, first served queues with
their daily hours, shuttles (12:00 and 18:00, hop by hop, with the couriers' lead times), a
picked-up device reaching the centre when its technician gets back there, opening hours
(after-hours calls wait for the next opening), and a call that cannot be served today re-booked
for the next morning. Devices move through a time-ordered event queue, so the
simulation clock never goes backwards. Output: an event log (one row per state change per
request), the same ``outcomes``/``workload`` frames as a plan (``dispatch.kpis`` applies), and
the list of requests still open at the horizon, each with its reason.

Work goes wrong as it does in the field (``dispatch.fieldwork``, ``SimParams.fieldwork``, on by
default): repair times vary, a fault may turn out to need the bench, no fault may be found, a
customer may be out (a second visit the next day), and a repair may fail and bring the customer
back (a repeat call ``<id>-R1`` with ``repeat_of``). Fates are drawn per call, the same for both
policies. The optimiser's live plan learns of them from the technicians' reports
(``fieldwork.LiveField``); the baseline's technician is simply busy for as long as the work
takes. ``FieldworkParams.none()`` runs every job to plan, exactly as before fates existed.

The days roll over: work a day could not serve opens the next day's plan with its one-hour
clock still running, and a call after hours is the next morning's backlog. With
``SimParams.slots`` (``dispatch simulate --slots``; optimiser only) a calling customer is offered
the appointment windows of the next ``Rules.slot_days`` days the live plans can keep
(``dispatch.live.slots``) and books the first-ranked: it goes into that day's plan at once (a
later day's plan is built at its first booking and opens its day), its window a hard promise,
its one-hour clock starting with the window, its turnaround with the call. The booking KPIs
(``dispatch.kpis``: windows kept, slots on the first day) read the columns it adds. Slots are off
by default: they change what customers do, not the physics, and the runs without them stay as
they were.

Modules: ``world`` (the parameters, the calls and devices in time order, the benches and
couriers), ``policies`` (the optimiser and the whiteboard dispatcher), and here the run, day by
day, and what each visit came to.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dispatch import fieldwork as fate
from dispatch.dataset import Dataset
from dispatch.errors import InputError
from dispatch.hours import business_seconds
from dispatch.live import NewCall
from dispatch.model import DAY_S, Mode, Request, Technician
from dispatch.progress import Progress
from dispatch.reasons import Reason
from dispatch.routing import Stop
from dispatch.simulate.policies import Baseline, Optimiser
from dispatch.simulate.world import (
    OUTCOME_COLUMNS,
    POLICIES,
    WORKLOAD_COLUMNS,
    Couriers,
    MorningRoutes,
    SimParams,
    World,
    rebook,
)
from dispatch.staffing import on_duty
from dispatch.travel import DEFAULT_TRAVEL, Travel

__all__ = ["OUTCOME_COLUMNS", "POLICIES", "WORKLOAD_COLUMNS", "Couriers", "MorningRoutes", "SimParams", "SimResult", "simulate"]


@dataclass(frozen=True)
class SimResult:
    policy: str
    events: pd.DataFrame  # request_id, t_s, event, where, detail
    outcomes: pd.DataFrame  # as a plan's (see dispatch.kpis)
    # One row per field technician at work and day of calls. The drain days after the last day
    # of calls (carried-over calls and second visits only) are left out: that day's own calls
    # are not simulated, so the roster's idle time there would not be idle (it halved the week's
    # utilisation); the work done on them is in the outcomes, not in the workload KPIs.
    workload: pd.DataFrame
    open_requests: pd.DataFrame  # request_id, reason (still open at the horizon)
    wall_s: float
    calls: int
    stock: pd.DataFrame | None = None  # stock value (CNY) per day and tier; None: parts off


# --------------------------------------------------------------------------------------------
# The run


def calendar_of(dataset: Dataset) -> tuple[int, int]:
    """The first and last day of the dataset's calls ((0, -1) for none): the days ``simulate`` runs."""
    days = [r.created_s // DAY_S for r in dataset.requests]
    return (min(days), max(days)) if days else (0, -1)


def simulate(
    dataset: Dataset, params: SimParams = SimParams(),  # noqa: B008 (frozen: one shared default is safe)
    travel: Travel = DEFAULT_TRAVEL, progress: Progress | None = None, morning: MorningRoutes | None = None,
    calendar: tuple[int, int] | None = None,
) -> SimResult:
    """Simulate every day that holds calls, then drain devices for ``drain_days``; the
    optimiser begins ``morning.day`` with a day plan's ``morning`` routes when given.
    ``calendar``: the first and last day of calls (default: the calls'); a province of a split
    national run (``dispatch.simulate.split``) keeps the nation's, so that its technicians' idle
    days and its repeat calls' cut-off are the national run's."""
    if params.policy not in POLICIES:
        raise InputError(f"unknown policy {params.policy!r}; expected one of {', '.join(POLICIES)}")
    if morning is not None and params.policy != "optimiser":
        raise InputError(f"a day plan's morning routes are the optimiser's; the {params.policy} policy has none")
    if params.slots and (params.policy != "optimiser" or morning is not None):
        raise InputError("appointment slots are offered by the optimiser's rolling plan, without a day plan's "
                         f"morning routes (policy {params.policy!r}{', morning routes given' if morning else ''})")
    t_wall = time.perf_counter()
    w = World(dataset, params, travel)
    policy = Optimiser(w) if params.policy == "optimiser" else Baseline(w)
    report = progress or (lambda stage, done, total: None)
    calls = sorted(dataset.requests, key=lambda r: (r.created_s, r.id))
    first_day, last_day = calendar_of(dataset) if calendar is None else calendar
    w.repeats_until_s = (last_day + 1) * DAY_S
    workload_rows: list[dict] = []
    w.prefetch_mail(calls)
    for r in calls:
        w.admit(r)
    horizon_day = last_day + params.drain_days
    n_done = 0
    day = first_day
    while day <= last_day or ((w.pending or getattr(policy, "ahead", None)) and day <= horizon_day):
        policy.start_day(day)
        todays: list[tuple[int, Request, NewCall]] = []
        while w.pending and w.pending[0][0] <= day:
            *_, r, call = heapq.heappop(w.pending)
            if day * DAY_S > call.window_start_s:  # carried over: re-booked for this morning
                call = rebook(call, w.net[w.outcome[r.id]["centre_id"]], day)
            todays.append((call.release_s, r, call))
        todays.sort(key=lambda x: (x[0], -x[2].priority, x[1].id))
        if morning is not None and day == morning.day:
            todays, lost = policy.follow(morning, todays)  # type: ignore[union-attr]
            for r, call in lost:
                _carry_over(w, r, call, day, call.release_s, Reason.CAPACITY, horizon_day,
                            "the day plan's morning route cannot keep it in the simulated day; re-booked for tomorrow")
        policy.expect(todays)
        next_tick = day * DAY_S + 10 * 3600 if params.reoptimise_every_s else None
        # In release order; a call awaiting a contracted station's answer comes back at it. A
        # customer offered slots (SimParams.slots) is answered when he calls (OFFER).
        queue = [(release, -call.priority, r.id, DISPATCH, r, call) for release, r, call in todays]
        while w.offers and w.offers[0][0] <= day:
            _, at_s, rid, r, call = heapq.heappop(w.offers)
            queue.append((at_s, -call.priority, rid, OFFER, r, call))
        heapq.heapify(queue)
        while queue:
            release, _, _, kind, r, call = heapq.heappop(queue)
            while next_tick is not None and next_tick <= release:
                policy.tick(next_tick)
                next_tick += params.reoptimise_every_s  # type: ignore[operator]
            if kind == OFFER:
                got = policy.book(r, call, release)  # type: ignore[union-attr]
                if got is not None:
                    w.booked(r, got[0], got[1], got[2])
                elif call.release_s // DAY_S == day:  # no slot: dispatched today when its clock starts
                    heapq.heappush(queue, (call.release_s, -call.priority, r.id, DISPATCH, r, call))
                else:
                    w.wait(r, call)
                continue
            why = policy.dispatch(r, call)
            if isinstance(why, NewCall):
                if why.release_s >= (day + 1) * DAY_S:  # booked for a later day (its part comes then)
                    w.wait(r, why)
                else:
                    heapq.heappush(queue, (why.release_s, -why.priority, r.id, DISPATCH, r, why))
                continue
            if why is not None:
                _carry_over(w, r, call, day, release, why, horizon_day)
            n_done += 1
            if n_done % 200 == 0:
                report("simulated calls", n_done, len(calls))
        worked = policy.end_day()
        for rid, t_s in policy.dropped.items():  # an overrun left a later call to nobody: tomorrow
            w.collected.discard(rid)
            _carry_over(w, w.req[rid], w.call_of[rid], day, t_s, Reason.CAPACITY, horizon_day,
                        "an earlier job ran over and nobody else could take it; re-booked for tomorrow")
        field_staff = on_duty(dataset.technicians, dataset.epoch_date, day)
        idle = {t.id for t in field_staff} - {tech.id for tech, *_ in worked}
        # Everyone in the field counts in utilisation, with or without jobs (as in a plan); bench
        # and counter staff are the benches' hours, not field time.
        worked += [(t, [], day * DAY_S + t.shift.start_s, 0, 0) for t in field_staff if t.id in idle]
        for tech, stops, end_s, travel_s, distance_m in worked:
            row = _workload_row(w, tech, day, stops, end_s, travel_s, distance_m)
            w.overtime.record(tech.id, day, row["overtime_s"])
            if day <= last_day:  # a drain day's own calls are not simulated: its idle time is not idle
                workload_rows.append(row)
            for s in stops:
                _close_visit(w, tech, s, end_s, day, horizon_day)
        w.run_until((day + 1) * DAY_S)
        day += 1
    w.run_until((horizon_day + 1) * DAY_S)
    report("simulated calls", len(calls), len(calls))
    for rid, o in w.outcome.items():
        if np.isnan(o["completion_s"]) and not o["unassigned_reason"]:
            o["unassigned_reason"] = Reason.OPEN_AT_HORIZON
        o["fixed_first_time"] = np.nan if np.isnan(o["completion_s"]) else rid not in w.field.missed
        o["no_fault_found"] = rid in w.field.nff
    for _, _, _, r, _ in w.pending:
        w.outcome[r.id]["unassigned_reason"] = Reason.OPEN_AT_HORIZON
    events = pd.DataFrame(w.log, columns=["request_id", "t_s", "event", "where", "detail"])
    events = events.sort_values(["t_s", "request_id"], kind="stable").reset_index(drop=True)
    columns = [*OUTCOME_COLUMNS, *(BOOKING_COLUMNS if params.slots else ())]
    outcomes = w.parts.columns(pd.DataFrame(list(w.outcome.values()), columns=columns))  # columns even for no call
    open_requests = outcomes.loc[outcomes["unassigned_reason"] != "", ["request_id", "unassigned_reason"]]
    return SimResult(params.policy, events, outcomes, pd.DataFrame(workload_rows, columns=list(WORKLOAD_COLUMNS)),
                     open_requests.rename(columns={"unassigned_reason": "reason"}).reset_index(drop=True),
                     time.perf_counter() - t_wall, len(calls), w.parts.stock_frame())


def _carry_over(w: World, r: Request, call: NewCall, day: int, t_s: int, why: Reason, horizon_day: int,
                sentence: str | None = None) -> None:
    """Nobody takes the call today: it stays open (out of reach, or no day left), or the
    customer is offered the next morning."""
    text = sentence or _CARRIED_OVER.get(why, why.sentence)
    if why == Reason.NO_TECHNICIAN_IN_REACH or day + 1 > horizon_day:
        w.outcome[r.id]["unassigned_reason"] = why
        w.event(r.id, t_s, "open", "", text)
    else:  # another day may have room: the customer is offered the next morning
        w.event(r.id, t_s, "carried_over", "", text)
        heapq.heappush(w.pending, (day + 1, t_s, r.id, r, call))


def _workload_row(w: World, tech: Technician, day: int, stops: list, end_s: int, travel_s: int,
                  distance_m: int) -> dict:
    home = w.net[tech.home_centre_id]
    return {"technician_id": tech.id, "day": day, "centre_id": tech.home_centre_id,
            "province_adcode": home.province_adcode,
            "available_s": tech.shift.duration_s - tech.break_s,
            "busy_s": travel_s + sum(s.end_s - s.start_s for s in stops), "travel_s": travel_s,
            "distance_m": distance_m, "overtime_s": max(0, end_s - (day * DAY_S + tech.shift.end_s)),
            "jobs": len(stops)}


def _close_visit(w: World, tech: Technician, s: Stop, route_end_s: int, day: int, horizon_day: int) -> None:
    """A visit of the day as it went: the log, the outcome, and the device's next step."""
    r = w.req[s.visit_id]
    o = w.outcome[r.id]
    if np.isnan(o["dispatch_s"]):  # the promise is about the first set-off, not a second visit's
        o["dispatch_s"], o["arrival_s"] = s.departure_toward_s, s.arrival_s
        o["dispatch_wait_s"] = business_seconds(w.net[o["centre_id"]], o["clock_start_s"], s.departure_toward_s)
    o["visits"] += 1
    w.event(r.id, s.departure_toward_s, "dispatched", tech.id)
    w.event(r.id, s.arrival_s, "on_site", tech.id)
    collected = r.id in w.collected
    door = w.field.door.pop(r.id, None)
    kind = door.kind if door else fate.HANDED_OVER if collected or r.mode != Mode.ONSITE else fate.REPAIRED
    for event, detail in w.field.visit_done(r.id, door):
        if event == fate.ABSENT:
            w.collected.discard(r.id)  # the next visit is decided afresh
            detail += "; " + w.revisit(r, day + 1, horizon_day)
        w.event(r.id, s.end_s, event, tech.id, detail)
    if kind == fate.ABSENT:
        return
    w.parts.fitted(r.id, s.end_s, kind == fate.REPAIRED)  # a part held for the visit: fitted, or back
    if kind in fate.BENCH_KINDS:
        if collected or kind != fate.HANDED_OVER:
            o["visit_mode"] = "pickup"
        w.event(r.id, s.end_s, "picked_up", tech.id)
        w.push(max(route_end_s, s.end_s), "at_station", r.id, (tech.home_centre_id,))
        return
    w.event(r.id, s.end_s, "returned", tech.id, "repaired on site" if kind == fate.REPAIRED else "no repair needed")
    o["completion_s"] = s.end_s
    if kind == fate.REPAIRED:
        w.after_repair(r.id, s.end_s, int(w.net[tech.home_centre_id].tier))


DISPATCH, OFFER = 0, 1  # a day's queue: a call to dispatch as its clock starts; a customer offered slots
# A run with slots: the first day each offered call could be served (NaN: not offered), the
# window it booked and that window's day (NaN: not booked); dispatch.kpis's booking KPIs read them.
BOOKING_COLUMNS = ("offered_day", "booked_window_start_s", "booked_window_end_s", "booked_day")

# What the event log says of a call nobody could take today (the customer is offered the next
# morning); other reasons use their own sentence.
_CARRIED_OVER = {
    Reason.CAPACITY: "no technician can take it today without breaking a promise; re-booked for tomorrow",
}
