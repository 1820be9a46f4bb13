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
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from dispatch import fieldwork as fate
from dispatch.baseline import BenchQueues, TechState, send_nearest_free
from dispatch.contracts import offers as contract_offers
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError, InputError
from dispatch.fieldwork import AtTheDoor, FieldLedger, FieldworkParams, LiveField
from dispatch.hours import business_seconds, dispatch_clock_start, opening_start
from dispatch.live import (
    LiveArea,
    NewCall,
)
from dispatch.live.decision import Decision, NotServed, decide
from dispatch.live.roster import LiveNetwork
from dispatch.model import DAY_S, Centre, Mode, Request, Technician
from dispatch.network import Network
from dispatch.progress import Progress
from dispatch.reasons import Reason
from dispatch.routing import RoutingParams, Stop
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.staffing import on_duty
from dispatch.travel import DEFAULT_TRAVEL, Travel, drive_s

POLICIES = ("optimiser", "baseline")
# A simulation's frames, as a plan's (dispatch.kpis reads them).
OUTCOME_COLUMNS = ("request_id", "mode", "visit_mode", "level", "priority", "province_adcode", "centre_id",
                   "created_s", "clock_start_s", "dispatch_s", "dispatch_wait_s", "completion_s", "repair_tier",
                   "repair_centre_id", "unassigned_reason",
                   # Field work (dispatch.fieldwork): visits made, first attempt fixed it (NaN while
                   # open), the call this one repeats, no fault found, courier legs both ways.
                   "visits", "fixed_first_time", "repeat_of", "no_fault_found", "courier_legs",
                   "arrival_s")  # the first visit's arrival at the door: the response KPI
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
    # How work goes wrong in the field (dispatch.fieldwork); FieldworkParams.none(): all to plan.
    fieldwork: FieldworkParams = field(default_factory=FieldworkParams)
    contracts: contract_offers.ContractBook = field(default_factory=contract_offers.ContractBook)  # dispatch.contracts; empty: all own


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
    def __init__(self, dataset: Dataset, params: SimParams, travel: Travel) -> None:
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
        self.pending: list[tuple[int, int, str, Request, NewCall]] = []  # (day, clock, id, ...) by day
        self.call_of: dict[str, NewCall] = {}  # each travelling call as booked
        self.fw = params.fieldwork
        self.field = FieldLedger(params.fieldwork, params.rules, params.seed, self.req)
        self.repeats_until_s = 0  # repeat calls arrive only within the days of calls
        self.desk = contract_offers.offer_desk(params.contracts, self.net, dataset.technicians, travel, self.event, params.seed)
        # A device's next step by the kind of its event.
        self._handlers: dict[str, Callable[..., None]] = {
            "at_station": self._on_at_station, "to_repair": self._on_to_repair, "at_repair": self._on_at_repair,
            "repaired": self._on_repaired, "returned": self._on_returned}

    def event(self, rid: str, t_s: int, what: str, where: str = "", detail: str = "") -> None:
        self.log.append((rid, int(t_s), what, where, detail))

    def admit(self, r: Request, repeat_of: str = "") -> None:
        """A call arrives: its outcome row, its event, and its place in the queue."""
        station = self.nearest[r.id]
        clock = dispatch_clock_start(station, r)
        self.outcome[r.id] = dict(zip(OUTCOME_COLUMNS, (
            r.id, r.mode.value, r.mode.value, r.level, int(r.priority), station.province_adcode, station.id,
            r.created_s, clock, np.nan, np.nan, np.nan, np.nan, None, "", 0, np.nan, repeat_of, False, 0, np.nan)))
        self.event(r.id, r.created_s, "called", station.id, r.mode.value)
        if repeat_of:
            self.event(r.id, r.created_s, "repeat", station.id, f"the repair of {repeat_of} failed; its customer calls again")
        if r.mode == Mode.WALKIN:
            self.push(clock, "at_station", r.id, (station.id,))
            return
        self.call_of[r.id] = call = _call_of(r, clock, station, self.p)
        heapq.heappush(self.pending, (clock // DAY_S, clock, r.id, r, call))

    def at_door(self, rid: str, **visit: int | bool) -> AtTheDoor:
        """What this visit to ``rid`` comes to (the number of visits made so far picks the draw)."""
        return self.field.at_door(rid, int(self.outcome[rid]["visits"]), **visit)

    def revisit(self, r: Request, day: int, horizon_day: int) -> str:
        """Book another visit for ``day``'s opening (the customer was out); what the log says."""
        if day > horizon_day:
            return "no day left in the run to visit again"
        call = _rebook(self.call_of[r.id], self.net[self.outcome[r.id]["centre_id"]], day, self.p.rules)
        heapq.heappush(self.pending, (day, call.release_s, r.id, r, call))
        return f"visit re-booked for day {day}"

    def after_repair(self, rid: str, t: int, tier: int) -> None:
        """A repair made at ``t`` by a centre or technician of ``tier``; if it fails, the
        customer's repeat call comes (within the days of calls)."""
        failed = self.field.repeat(rid, t, tier, self.repeats_until_s)
        if failed is None:
            return
        sentence, rep = failed
        self.event(rid, t, "failed", "", sentence)
        if rep is not None:
            self.req[rep.id], self.nearest[rep.id] = rep, self.nearest[rid]
            self.admit(rep, repeat_of=rid)

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
        found = self.field.at_intake(rid)
        if found:
            self.event(rid, t, "rediagnosed", station_id, found)
        chain = self.net.chain(station_id)
        hops = self._repair_hops(r, chain, t)
        if hops is None:
            self.outcome[rid]["unassigned_reason"] = Reason.NO_CAPABLE_CENTRE
            self.event(rid, t, "open", station_id, "no centre in the chain can repair this level")
            return
        self.push(t, "to_repair", rid, (station_id, hops))

    def _repair_hops(self, r: Request, chain: tuple[Centre, ...], t: int) -> int | None:
        level = self.field.level_of(r.id)
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
        self.outcome[rid]["courier_legs"] += hops
        if hops:
            self.event(rid, t, "courier_up", station_id, f"to {centre.id}")
        self.push(arrive, "at_repair", rid, (station_id, hops))

    def _on_at_repair(self, t: int, rid: str, station_id: str, hops: int) -> None:
        centre = self.net.chain(station_id)[hops]
        if hops:
            self.event(rid, t, "at_repair_centre", centre.id)
        work_s = self.fw.nff_bench_s if rid in self.field.nff else self.p.rules.bench_s(self.field.level_of(rid))
        done = self.benches.repair(centre, t, work_s)
        self.outcome[rid]["repair_tier"] = int(centre.tier)
        self.outcome[rid]["repair_centre_id"] = centre.id
        self.push(done, "repaired", rid, (station_id, hops))

    def _on_repaired(self, t: int, rid: str, station_id: str, hops: int) -> None:
        chain = self.net.chain(station_id)
        if rid in self.field.nff:
            self.event(rid, t, "nff", chain[hops].id, "no fault found on the bench: returned without repair")
        else:
            self.event(rid, t, "repaired", chain[hops].id)
        self.outcome[rid]["courier_legs"] += hops
        back = self._courier_down(chain, hops, t)
        if hops:
            self.event(rid, t, "courier_down", chain[hops].id, f"to {station_id}")
        # The customer gets it back in the station's hours (collected, or delivered).
        self.push(opening_start(self.net[station_id], back) + self.p.rules.return_s, "returned", rid, (station_id,))

    def _on_returned(self, t: int, rid: str, station_id: str) -> None:
        self.event(rid, t, "returned", station_id, "device back with the customer")
        self.outcome[rid]["completion_s"] = t
        self.after_repair(rid, t, int(self.outcome[rid]["repair_tier"]))


# --------------------------------------------------------------------------------------------
# Dispatch policies


class _Optimiser:
    """Per day, one live plan per area; calls inserted as their clock starts."""

    def __init__(self, world: _World) -> None:
        self.w = world
        self.live = LiveNetwork(world.net, world.ds.technicians, world.p.rules, world.travel, world.ds.epoch_date)
        self.areas: dict[str, LiveArea] = {}
        self.field: LiveField | None = None

    def start_day(self, day: int) -> None:
        self.day = day
        self.areas = self.live.start_day(day)
        # Field reports only when work can differ from the plan (none(): the plan as it was).
        self.field = LiveField(self._true_end) if self.w.fw.active else None
        self.dropped: dict[str, int] = self.field.dropped if self.field is not None else {}

    def _catch_up(self, names: list[str], t_s: int) -> None:
        for name in names if self.field is not None else ():
            self.field.catch_up(name, self.areas[name], t_s)  # type: ignore[union-attr]

    def _true_end(self, area: LiveArea, tid: str, st: Stop) -> int:
        """A job's real end, known at the door; the plan hears it in the technician's reports."""
        k, rules = area.technician(tid), self.w.p.rules
        node = next(v.node for v in reversed(area.problem.visits) if v.id == st.visit_id)
        home_s = int(area.problem.travel_s[k.speed_class][node, k.end_node])
        bw = k.break_window  # a break still to come must fit before he is home
        later_break_s = bw.duration_s if bw is not None and tid not in area.break_taken else 0
        door = self.w.at_door(st.visit_id, on_site_repair=self.w.req[st.visit_id].mode == Mode.ONSITE
                              and st.visit_id not in self.w.collected, planned_s=st.end_s - st.start_s,
                              level_on_site=min(k.max_level, rules.onsite_max_level), start_s=st.start_s,
                              latest_end_s=k.shift_end_s + k.max_overtime_s - home_s - later_break_s)
        return st.start_s + door.door_s

    def dispatch(self, r: Request, call: NewCall) -> Reason | NewCall | None:
        """Place the call by the one decision; None when a technician takes it, the call again when a
        contracted station's answer is awaited (dispatch.contracts), else why nobody can today."""
        names = self.live.find_areas(r.lon, r.lat)
        self._catch_up(names, call.release_s)
        def ask(c: NewCall, allow: Callable[[str], bool] | None = None, probe: bool = False) -> Decision:
            return decide(c, self.areas, names, c.release_s, self.w.p.rules, self.live.repairs_at_home, mode=r.mode,
                          device_level=r.level, may_collect=self.w.p.rules.may_collect(r.mode, c.required_level),
                          allow=allow, probe=probe)
        decision = contract_offers.place(self.w.desk, r, call, ask, lambda d: contract_offers.decision_choices(d, r.mode))
        if isinstance(decision, contract_offers.Pending):
            return decision.call
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
        self._catch_up(list(self.areas), t_s)
        for area in self.areas.values():
            area.advance(max(area.clock_s, t_s))
            if sum(1 for ids in area.routes.values() for x in ids if x not in area.frozen) >= 3:
                area.reoptimise(params)

    def end_day(self) -> list[tuple[Technician, list[Stop], int, int, int]]:
        """(technician, stops, route end, route travel/distance) of the day, all frozen."""
        out = []
        end = (self.day + 1) * DAY_S
        techs = {t.id: t for t in self.w.ds.technicians}
        self._catch_up(list(self.areas), end)
        for area in self.areas.values():
            area.advance(max(area.clock_s, end))
            for r in area.result().routes:
                out.append((techs[r.technician_id], list(r.stops), r.end_s, r.travel_s, r.distance_m))
        return out


class _Baseline:
    """The nearest free technician in call order (dispatch.baseline's rule), day by day."""

    def __init__(self, world: _World) -> None:
        self.w = world
        self.dropped: dict[str, int] = {}  # nobody's plan changes under him: nothing is dropped

    def start_day(self, day: int) -> None:
        self.day = day
        base = day * DAY_S
        self.states: dict[str, list] = defaultdict(list)
        # The field staff at work that day (rest days, roles), as the live network has them.
        for t in on_duty(self.w.ds.technicians, self.w.ds.epoch_date, day):
            c = self.w.net[t.home_centre_id]
            bw = t.break_window
            self.states[c.province_adcode].append(TechState(
                t, base + t.shift.start_s, c.lon, c.lat, base + t.shift.end_s,
                None if bw is None or t.break_s == 0 else base + bw.start_s,
                None if bw is None or t.break_s == 0 else base + bw.end_s))
        self.trips: dict[str, list] = defaultdict(list)

    def dispatch(self, r: Request, call: NewCall) -> Reason | NewCall | None:
        states = self.states[self.w.nearest[r.id].province_adcode]
        shifted = replace(r, window=type(r.window)(call.window_start_s, call.window_end_s))
        def ask(c: NewCall, allow: Callable[[str], bool] | None = None, probe: bool = False) -> contract_offers.Trip | None:
            able = [replace(s) if probe else s for s in states if allow is None or allow(s.tech.id)]
            return send_nearest_free(able, shifted, c.release_s, self.w.travel)
        got = contract_offers.place(self.w.desk, r, call, ask, contract_offers.trip_choices)
        if isinstance(got, contract_offers.Pending):  # a contracted station's answer is awaited
            return got.call
        if got is None:
            return Reason.NO_FREE_TECHNICIAN
        st, depart, arrive, end = got
        start = max(arrive, call.window_start_s)
        if self.w.fw.active:  # he is busy for as long as the work really takes
            rules, home = self.w.p.rules, self.w.net[st.tech.home_centre_id]
            home_s = int(drive_s(self.w.travel, r.lon, r.lat, home.lon, home.lat, st.tech.speed_class))
            door = self.w.at_door(r.id, on_site_repair=r.mode == Mode.ONSITE, planned_s=end - start,
                                  level_on_site=min(st.tech.max_level, rules.onsite_max_level), start_s=start,
                                  latest_end_s=st.shift_end_s + rules.max_overtime_s - home_s)
            st.busy_s += start + door.door_s - end
            end = st.free_at_s = start + door.door_s
        self.trips[st.tech.id].append(Stop(r.id, depart, arrive, start, end, 0, 0, 0))
        return None

    def tick(self, t_s: int) -> None:
        pass

    def end_day(self) -> list[tuple[Technician, list[Stop], int, int, int]]:
        out = []
        for sts in self.states.values():
            for st in sts:
                if not st.jobs:
                    continue
                c = self.w.net[st.tech.home_centre_id]
                home_s, home_m = (int(x) for x in self.w.travel.legs(st.lon, st.lat, c.lon, c.lat, st.tech.speed_class))
                back = st.free_at_s + home_s
                # Back at his centre after the last job: the devices he picked up arrive then.
                out.append((st.tech, self.trips[st.tech.id], back,
                            st.travel_s + back - st.free_at_s, st.distance_m + home_m))
        return out


# --------------------------------------------------------------------------------------------
# The run


def simulate(
    dataset: Dataset, params: SimParams = SimParams(), travel: Travel = DEFAULT_TRAVEL,
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
    w.repeats_until_s = (last_day + 1) * DAY_S
    workload_rows: list[dict] = []
    for r in calls:
        w.admit(r)
    horizon_day = last_day + params.drain_days
    n_done = 0
    day = min((r.created_s // DAY_S for r in calls), default=0)
    while day <= last_day or (w.pending and day <= horizon_day):
        policy.start_day(day)
        todays: list[tuple[int, int, str, Request, NewCall]] = []
        while w.pending and w.pending[0][0] <= day:
            *_, r, call = heapq.heappop(w.pending)
            if day * DAY_S > call.window_start_s:  # carried over: re-booked for this morning
                call = _rebook(call, w.net[w.outcome[r.id]["centre_id"]], day)
            todays.append((call.release_s, -call.priority, r.id, r, call))
        heapq.heapify(todays)  # in release order; a call awaiting a station's answer comes back at it
        next_tick = day * DAY_S + 10 * 3600 if params.reoptimise_every_s else None
        while todays:
            release, _, _, r, call = heapq.heappop(todays)
            while next_tick is not None and next_tick <= release:
                policy.tick(next_tick)
                next_tick += params.reoptimise_every_s  # type: ignore[operator]
            why = policy.dispatch(r, call)
            if isinstance(why, NewCall):
                heapq.heappush(todays, (why.release_s, -why.priority, r.id, r, why))
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
            workload_rows.append(_workload_row(w, tech, day, stops, end_s, travel_s, distance_m))
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
    outcomes = pd.DataFrame(list(w.outcome.values()), columns=list(OUTCOME_COLUMNS))  # columns even for no call
    open_requests = outcomes.loc[outcomes["unassigned_reason"] != "", ["request_id", "unassigned_reason"]]
    return SimResult(params.policy, events, outcomes, pd.DataFrame(workload_rows, columns=list(WORKLOAD_COLUMNS)),
                     open_requests.rename(columns={"unassigned_reason": "reason"}).reset_index(drop=True),
                     time.perf_counter() - t_wall, len(calls))


def _carry_over(w: _World, r: Request, call: NewCall, day: int, t_s: int, why: Reason, horizon_day: int,
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


def _workload_row(w: _World, tech: Technician, day: int, stops: list, end_s: int, travel_s: int,
                  distance_m: int) -> dict:
    home = w.net[tech.home_centre_id]
    return {"technician_id": tech.id, "day": day, "centre_id": tech.home_centre_id,
            "province_adcode": home.province_adcode,
            "available_s": tech.shift.duration_s - tech.break_s,
            "busy_s": travel_s + sum(s.end_s - s.start_s for s in stops), "travel_s": travel_s,
            "distance_m": distance_m, "overtime_s": max(0, end_s - (day * DAY_S + tech.shift.end_s)),
            "jobs": len(stops)}


def _close_visit(w: _World, tech: Technician, s: Stop, route_end_s: int, day: int, horizon_day: int) -> None:
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


# What the event log says of a call nobody could take today (the customer is offered the next
# morning); other reasons use their own sentence.
_CARRIED_OVER = {
    Reason.CAPACITY: "no technician can take it today without breaking a promise; re-booked for tomorrow",
}


def _call_of(r: Request, clock_s: int, station: Centre, params: SimParams) -> NewCall:

    return NewCall(r.id, r.lon, r.lat, r.service_s, r.window.start_s, r.window.end_s,
                   r.level if r.mode == Mode.ONSITE else 1, r.product_line or None, int(r.priority),
                   release_s=clock_s, dispatch_deadline_s=params.rules.dispatch_deadline(station, clock_s))


def _rebook(call: NewCall, station: Centre, day: int, rules: Rules | None = None) -> NewCall:
    """A call carried over: the customer is offered the same length of window from the next
    opening; the one-hour clock keeps running on business hours from when it started. With
    ``rules``, a visit re-booked after an absent customer: a new appointment, whose technician
    sets off within the target of its opening (the first visit kept the call's promise)."""
    start = max(day * DAY_S + station.opening.start_s, call.release_s)
    length = max(call.window_end_s - call.window_start_s, 3600)
    deadline = call.dispatch_deadline_s if rules is None else rules.dispatch_deadline(station, start)
    return replace(call, window_start_s=start, window_end_s=start + length,
                   release_s=max(call.release_s, start), dispatch_deadline_s=deadline)
