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
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dispatch.baseline import BenchQueues, TechState, send_nearest_free
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError, InputError
from dispatch.hours import business_seconds, dispatch_clock_start, opening_start
from dispatch.live import (
    LiveArea,
    NewCall,
)
from dispatch.live.decision import NotServed, decide
from dispatch.live.roster import LiveNetwork
from dispatch.model import DAY_S, Centre, Mode, Request, Technician
from dispatch.network import Network
from dispatch.progress import Progress
from dispatch.reasons import Reason
from dispatch.routing import RoutingParams, Stop
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.travel import DEFAULT_TRAVEL, HaversineTravel

POLICIES = ("optimiser", "baseline")
# A simulation's frames, as a plan's (dispatch.kpis reads them).
OUTCOME_COLUMNS = ("request_id", "mode", "visit_mode", "level", "priority", "province_adcode", "centre_id",
                   "created_s", "clock_start_s", "dispatch_s", "dispatch_wait_s", "completion_s", "repair_tier",
                   "repair_centre_id", "unassigned_reason")
WORKLOAD_COLUMNS = ("technician_id", "day", "centre_id", "province_adcode", "available_s", "busy_s", "travel_s",
                    "distance_m", "overtime_s", "jobs")


@dataclass(frozen=True)
class Couriers:
    """When the shuttle leaves a centre (seconds after midnight, every day), up or down."""

    departures_s: tuple[int, ...]

    def leave(self, ready_s: int) -> int:
        day = ready_s // DAY_S
        for d in (day, day + 1):
            for dep in sorted(self.departures_s):
                if d * DAY_S + dep >= ready_s:
                    return d * DAY_S + dep
        raise DispatchError("a courier schedule needs at least one departure")  # pragma: no cover


@dataclass(frozen=True)
class SimParams:
    policy: str = "optimiser"
    # The business rules, shared with the plan (the target, benches, return, overtime, the
    # maximum drive, candidate areas, the collection rule).
    rules: Rules = DEFAULT_RULES
    couriers: Couriers = Couriers((12 * 3600, 18 * 3600))  # shuttles between tiers, every policy
    reoptimise_every_s: int | None = None  # optimiser: re-solve each area's movable work
    reoptimise_time_limit_s: float = 0.2
    drain_days: int = 7  # after the last call day, keep repairing and returning devices
    seed: int = 0


@dataclass(frozen=True)
class SimResult:
    policy: str
    events: pd.DataFrame  # request_id, t_s, event, where, detail
    outcomes: pd.DataFrame  # as a plan's (see dispatch.kpis)
    workload: pd.DataFrame  # one row per technician and day
    open_requests: pd.DataFrame  # request_id, reason (still open at the horizon)
    wall_s: float
    calls: int


# --------------------------------------------------------------------------------------------
# Shared world


class _World:
    def __init__(self, dataset: Dataset, params: SimParams, travel: HaversineTravel) -> None:
        self.ds, self.p, self.travel = dataset, params, travel
        self.net: Network = dataset.network
        self.benches = BenchQueues(self.net)
        self.collected: set[str] = set()  # on-site calls collected for the bench instead
        self.log: list[tuple[str, int, str, str, str]] = []
        self.queue: list[tuple[int, int, str, str, tuple]] = []  # (t, seq, kind, request, payload)
        self._seq = itertools.count()
        self.now_s = 0
        self.outcome: dict[str, dict] = {}
        self.req = {r.id: r for r in dataset.requests}
        lon = np.array([r.lon for r in dataset.requests])
        lat = np.array([r.lat for r in dataset.requests])
        near = np.atleast_1d(self.net.nearest(lon, lat)[0]) if len(lon) else np.array([], int)
        self.nearest = {r.id: self.net.centres[int(j)] for r, j in zip(dataset.requests, near)}
        self.couriers = params.couriers
        # A device's next step by the kind of its event.
        self._handlers: dict[str, Callable[..., None]] = {
            "at_station": self._on_at_station, "to_repair": self._on_to_repair, "at_repair": self._on_at_repair,
            "repaired": self._on_repaired, "returned": self._on_returned}

    def event(self, rid: str, t_s: int, what: str, where: str = "", detail: str = "") -> None:
        self.log.append((rid, int(t_s), what, where, detail))

    def push(self, t_s: int, kind: str, rid: str, payload: tuple = ()) -> None:
        heapq.heappush(self.queue, (int(t_s), next(self._seq), kind, rid, payload))

    def run_until(self, t_end_s: int) -> None:
        """Process device movements up to ``t_end_s`` in time order."""
        while self.queue and self.queue[0][0] <= t_end_s:
            t, _, kind, rid, payload = heapq.heappop(self.queue)
            if t < self.now_s:
                raise DispatchError(f"simulation clock went back from {self.now_s} to {t}")  # pragma: no cover
            self.now_s = t
            self._handlers[kind](t, rid, *payload)

    # -- devices ---------------------------------------------------------------------------

    def _on_at_station(self, t: int, rid: str, station_id: str) -> None:
        r = self.req[rid]
        self.event(rid, t, "at_station", station_id)
        chain = self.net.chain(station_id)
        hops = self._repair_hops(r, chain, t)
        if hops is None:
            self.outcome[rid]["unassigned_reason"] = Reason.NO_CAPABLE_CENTRE
            self.event(rid, t, "open", station_id, "no centre in the chain can repair this level")
            return
        self.push(t, "to_repair", rid, (station_id, hops))

    def _repair_hops(self, r: Request, chain: tuple[Centre, ...], t: int) -> int | None:
        level = r.level
        capable = [i for i, c in enumerate(chain) if c.can_repair(level)
                   and BenchQueues.fits(c, self.p.rules.bench_s(level))]
        if not capable:
            return None
        # The capable centre that finishes soonest with the queues as they stand.
        best, best_done = None, None
        for hops in capable:
            arrive = self._courier_up(chain, hops, t)
            done = self.benches.peek(chain[hops], arrive, self.p.rules.bench_s(level))
            if best_done is None or done < best_done:
                best, best_done = hops, done
        return best

    def _courier_up(self, chain: tuple[Centre, ...], hops: int, t: int) -> int:
        return self._courier(chain, range(hops), t)

    def _courier_down(self, chain: tuple[Centre, ...], hops: int, t: int) -> int:
        return self._courier(chain, reversed(range(hops)), t)

    def _courier(self, chain: tuple[Centre, ...], legs, t: int) -> int:  # type: ignore[no-untyped-def]
        """Arrival after riding the shuttle over ``legs`` (chain positions, in travel order)."""
        legs = list(legs)
        if not legs:
            return t
        for i in legs:
            t = self.couriers.leave(t) + chain[i].courier_to_parent_s
        return t

    def _on_to_repair(self, t: int, rid: str, station_id: str, hops: int) -> None:
        chain = self.net.chain(station_id)
        centre = chain[hops]
        arrive = self._courier_up(chain, hops, t)
        if hops:
            self.event(rid, t, "courier_up", station_id, f"to {centre.id}")
        self.push(arrive, "at_repair", rid, (station_id, hops))

    def _on_at_repair(self, t: int, rid: str, station_id: str, hops: int) -> None:
        centre = self.net.chain(station_id)[hops]
        if hops:
            self.event(rid, t, "at_repair_centre", centre.id)
        done = self.benches.repair(centre, t, self.p.rules.bench_s(self.req[rid].level))
        self.outcome[rid]["repair_tier"] = int(centre.tier)
        self.outcome[rid]["repair_centre_id"] = centre.id
        self.push(done, "repaired", rid, (station_id, hops))

    def _on_repaired(self, t: int, rid: str, station_id: str, hops: int) -> None:
        chain = self.net.chain(station_id)
        self.event(rid, t, "repaired", chain[hops].id)
        back = self._courier_down(chain, hops, t)
        if hops:
            self.event(rid, t, "courier_down", chain[hops].id, f"to {station_id}")
        # The customer gets it back in the station's hours (collected, or delivered).
        self.push(opening_start(self.net[station_id], back) + self.p.rules.return_s, "returned", rid, (station_id,))

    def _on_returned(self, t: int, rid: str, station_id: str) -> None:
        self.event(rid, t, "returned", station_id, "device back with the customer")
        self.outcome[rid]["completion_s"] = t


# --------------------------------------------------------------------------------------------
# Dispatch policies


class _Optimiser:
    """Per day, one live plan per area; calls inserted as their clock starts."""

    def __init__(self, world: _World) -> None:
        self.w = world
        self.live = LiveNetwork(world.net, world.ds.technicians, world.p.rules, world.travel)
        self.areas: dict[str, LiveArea] = {}

    def start_day(self, day: int) -> None:
        self.day = day
        self.areas = self.live.start_day(day)

    def dispatch(self, r: Request, call: NewCall) -> Reason | None:
        """Place the call by the one decision; None when a technician takes it, else the
        reason nobody can today."""
        decision = decide(call, self.areas, self.live.find_areas(r.lon, r.lat), call.release_s, self.w.p.rules,
                          self.live.repairs_at_home, mode=r.mode, device_level=r.level,
                          may_collect=self.w.p.rules.may_collect(r.mode, call.required_level))
        if isinstance(decision, NotServed):
            # Whatever the area's reason, nobody can take it today: the customer is offered the
            # next morning (only a call beyond every area's reach stays open).
            return decision.reason if decision.reason == Reason.NO_TECHNICIAN_IN_REACH else Reason.CAPACITY
        if decision.visit_mode != r.mode:
            self.w.collected.add(r.id)
        return None

    def tick(self, t_s: int) -> None:
        if self.w.p.reoptimise_every_s is None:
            return
        params = RoutingParams(time_limit_s=self.w.p.reoptimise_time_limit_s, dispatch_deadline="hard",
                               seed=self.w.p.seed)
        for area in self.areas.values():
            area.advance(max(area.clock_s, t_s))
            if sum(1 for ids in area.routes.values() for x in ids if x not in area.frozen) >= 3:
                area.reoptimise(params)

    def end_day(self) -> list[tuple[Technician, list, int, int]]:
        """(technician, stops, route end, route travel/distance) of the day, all frozen."""
        out = []
        end = (self.day + 1) * DAY_S
        techs = {t.id: t for t in self.w.ds.technicians}
        for area in self.areas.values():
            area.advance(max(area.clock_s, end))
            for r in area.result().routes:
                out.append((techs[r.technician_id], list(r.stops), r.end_s, r.travel_s, r.distance_m))
        return out


class _Baseline:
    """The nearest free technician in call order (dispatch.baseline's rule), day by day."""

    def __init__(self, world: _World) -> None:
        self.w = world

    def start_day(self, day: int) -> None:
        self.day = day
        base = day * DAY_S
        self.states: dict[str, list] = defaultdict(list)
        for t in self.w.ds.technicians:
            c = self.w.net[t.home_centre_id]
            bw = t.break_window
            self.states[c.province_adcode].append(TechState(
                t, base + t.shift.start_s, c.lon, c.lat, base + t.shift.end_s,
                None if bw is None or t.break_s == 0 else base + bw.start_s,
                None if bw is None or t.break_s == 0 else base + bw.end_s))
        self.trips: dict[str, list] = defaultdict(list)

    def dispatch(self, r: Request, call: NewCall) -> Reason | None:
        station = self.w.nearest[r.id]
        shifted = replace(r, window=type(r.window)(call.window_start_s, call.window_end_s))
        got = send_nearest_free(self.states[station.province_adcode], shifted, call.release_s, self.w.travel)
        if got is None:
            return Reason.NO_FREE_TECHNICIAN
        st, depart, arrive, end = got
        self.trips[st.tech.id].append(Stop(r.id, depart, arrive, max(arrive, call.window_start_s), end,
                                           0, 0, 0))
        return None

    def tick(self, t_s: int) -> None:
        pass

    def end_day(self) -> list[tuple[Technician, list, int, int]]:
        out = []
        for sts in self.states.values():
            for st in sts:
                if not st.jobs:
                    continue
                c = self.w.net[st.tech.home_centre_id]
                back = st.free_at_s + int(self.w.travel.time_s_from_distance(
                    self.w.travel.distance_m(st.lon, st.lat, c.lon, c.lat), st.tech.speed_class))
                home_m = int(self.w.travel.distance_m(st.lon, st.lat, c.lon, c.lat))
                # Back at his centre after the last job: the devices he picked up arrive then.
                out.append((st.tech, self.trips[st.tech.id], back,
                            st.travel_s + back - st.free_at_s, st.distance_m + home_m))
        return out


# --------------------------------------------------------------------------------------------
# The run


def simulate(
    dataset: Dataset, params: SimParams = SimParams(), travel: HaversineTravel = DEFAULT_TRAVEL,
    progress: Progress | None = None,
) -> SimResult:
    """Simulate every day that holds calls, then drain devices for ``drain_days``."""
    if params.policy not in POLICIES:
        raise InputError(f"unknown policy {params.policy!r}; expected one of {', '.join(POLICIES)}")
    t_wall = time.perf_counter()
    w = _World(dataset, params, travel)
    policy = _Optimiser(w) if params.policy == "optimiser" else _Baseline(w)
    report = progress or (lambda stage, done, total: None)
    calls = sorted(dataset.requests, key=lambda r: (r.created_s, r.id))
    last_day = max((r.created_s // DAY_S for r in calls), default=-1)
    pending: list[tuple[int, int, str, Request, NewCall]] = []  # (day, clock, id, ...) by day
    workload_rows = []
    for r in calls:
        station = w.nearest[r.id]
        clock = dispatch_clock_start(station, r)
        w.outcome[r.id] = dict(zip(OUTCOME_COLUMNS, (
            r.id, r.mode.value, r.mode.value, r.level, int(r.priority), station.province_adcode, station.id,
            r.created_s, clock, np.nan, np.nan, np.nan, np.nan, None, "")))
        w.event(r.id, r.created_s, "called", station.id, r.mode.value)
        if r.mode == Mode.WALKIN:
            w.push(clock, "at_station", r.id, (station.id,))
            continue
        call = _call_of(r, clock, station, params)
        heapq.heappush(pending, (clock // DAY_S, clock, r.id, r, call))
    horizon_day = last_day + params.drain_days
    n_done = 0
    day = min((r.created_s // DAY_S for r in calls), default=0)
    while day <= last_day or (pending and day <= horizon_day):
        policy.start_day(day)
        todays: list[tuple[int, Request, NewCall]] = []
        while pending and pending[0][0] <= day:
            _, clock, _, r, call = heapq.heappop(pending)
            if day * DAY_S > call.window_start_s:  # carried over: re-booked for this morning
                call = _rebook(call, w.net[w.outcome[r.id]["centre_id"]], day)
            todays.append((call.release_s, r, call))
        todays.sort(key=lambda x: (x[0], -x[2].priority, x[1].id))
        next_tick = day * DAY_S + 10 * 3600 if params.reoptimise_every_s else None
        for release, r, call in todays:
            while next_tick is not None and next_tick <= release:
                policy.tick(next_tick)
                next_tick += params.reoptimise_every_s  # type: ignore[operator]
            why = policy.dispatch(r, call)
            if why is not None:
                if why == Reason.NO_TECHNICIAN_IN_REACH or day + 1 > horizon_day:
                    w.outcome[r.id]["unassigned_reason"] = why
                    w.event(r.id, release, "open", "", _CARRIED_OVER.get(why, why.sentence))
                else:  # another day may have room: the customer is offered the next morning
                    w.event(r.id, release, "carried_over", "", _CARRIED_OVER.get(why, why.sentence))
                    heapq.heappush(pending, (day + 1, release, r.id, r, call))
            n_done += 1
            if n_done % 200 == 0:
                report("simulated calls", n_done, len(calls))
        worked = policy.end_day()
        idle = {t.id for t in dataset.technicians} - {tech.id for tech, *_ in worked}
        # Everyone on the roster counts in utilisation, with or without jobs (as in a plan).
        worked += [(t, [], day * DAY_S + t.shift.start_s, 0, 0) for t in dataset.technicians if t.id in idle]
        for tech, stops, end_s, travel_s, distance_m in worked:
            home = w.net[tech.home_centre_id]
            busy = travel_s + sum(s.end_s - s.start_s for s in stops)
            workload_rows.append({
                "technician_id": tech.id, "day": day, "centre_id": tech.home_centre_id,
                "province_adcode": home.province_adcode,
                "available_s": tech.shift.duration_s - tech.break_s, "busy_s": busy, "travel_s": travel_s,
                "distance_m": distance_m, "overtime_s": max(0, end_s - (day * DAY_S + tech.shift.end_s)),
                "jobs": len(stops)})
            for s in stops:
                r = w.req[s.visit_id]
                o = w.outcome[r.id]
                o["dispatch_s"] = s.departure_toward_s
                o["dispatch_wait_s"] = business_seconds(w.net[o["centre_id"]], o["clock_start_s"],
                                                        s.departure_toward_s)
                w.event(r.id, s.departure_toward_s, "dispatched", tech.id)
                w.event(r.id, s.arrival_s, "on_site", tech.id)
                if r.id in w.collected:
                    o["visit_mode"] = "pickup"
                if r.mode == Mode.ONSITE and r.id not in w.collected:
                    w.event(r.id, s.end_s, "returned", tech.id, "repaired on site")
                    o["completion_s"] = s.end_s
                else:
                    w.event(r.id, s.end_s, "picked_up", tech.id)
                    w.push(max(end_s, s.end_s), "at_station", r.id, (tech.home_centre_id,))
        w.run_until((day + 1) * DAY_S)
        day += 1
    w.run_until((horizon_day + 1) * DAY_S)
    report("simulated calls", len(calls), len(calls))
    for rid, o in w.outcome.items():
        if np.isnan(o["completion_s"]) and not o["unassigned_reason"]:
            o["unassigned_reason"] = Reason.OPEN_AT_HORIZON
    for _, _, _, r, _ in pending:
        w.outcome[r.id]["unassigned_reason"] = Reason.OPEN_AT_HORIZON
    events = pd.DataFrame(w.log, columns=["request_id", "t_s", "event", "where", "detail"])
    events = events.sort_values(["t_s", "request_id"], kind="stable").reset_index(drop=True)
    outcomes = pd.DataFrame(list(w.outcome.values()), columns=list(OUTCOME_COLUMNS))  # columns even for no call
    open_requests = outcomes.loc[outcomes["unassigned_reason"] != "", ["request_id", "unassigned_reason"]]
    return SimResult(params.policy, events, outcomes, pd.DataFrame(workload_rows, columns=list(WORKLOAD_COLUMNS)),
                     open_requests.rename(columns={"unassigned_reason": "reason"}).reset_index(drop=True),
                     time.perf_counter() - t_wall, len(calls))


# What the event log says of a call nobody could take today (the customer is offered the next
# morning); other reasons use their own sentence.
_CARRIED_OVER = {
    Reason.CAPACITY: "no technician can take it today without breaking a promise; re-booked for tomorrow",
}


def _call_of(r: Request, clock_s: int, station: Centre, params: SimParams) -> NewCall:

    return NewCall(r.id, r.lon, r.lat, r.service_s, r.window.start_s, r.window.end_s,
                   r.level if r.mode == Mode.ONSITE else 1, r.product_line or None, int(r.priority),
                   release_s=clock_s, dispatch_deadline_s=params.rules.dispatch_deadline(station, clock_s))


def _rebook(call: NewCall, station: Centre, day: int) -> NewCall:
    """A call carried over: the customer is offered the same length of window from the next
    opening; the one-hour clock keeps running on business hours from when it started."""
    start = max(day * DAY_S + station.opening.start_s, call.release_s)
    length = max(call.window_end_s - call.window_start_s, 3600)
    return replace(call, window_start_s=start, window_end_s=start + length,
                   release_s=max(call.release_s, start))
