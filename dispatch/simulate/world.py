"""The simulated world both policies run in: the calls as they arrive, the devices moving
through stations, couriers and benches in time order, the field's fates and the overtime ledger
(see ``dispatch.simulate``)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from dispatch.baseline import BenchQueues
from dispatch.contracts.offers import ContractBook, offer_desk
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.fieldwork import AtTheDoor, FieldLedger, FieldworkParams
from dispatch.hours import dispatch_clock_start, opening_start
from dispatch.live import NewCall
from dispatch.model import DAY_S, Centre, Mode, Request
from dispatch.network import Network
from dispatch.parts.lanes import DeviceLegs, Lanes, points_of
from dispatch.parts.sim import parts_for
from dispatch.parts.world import NATIONAL_POINT
from dispatch.reasons import Reason
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.staffing import OvertimeLedger
from dispatch.travel import Travel

POLICIES = ("optimiser", "baseline")
# A simulation's frames, as a plan's (dispatch.kpis reads them).
OUTCOME_COLUMNS = ("request_id", "mode", "visit_mode", "level", "priority", "province_adcode", "centre_id",
                   "created_s", "clock_start_s", "dispatch_s", "dispatch_wait_s", "completion_s", "repair_tier",
                   "repair_centre_id", "unassigned_reason",
                   # Field work (dispatch.fieldwork): visits made, first attempt fixed it (NaN while
                   # open), the call this one repeats, no fault found, courier legs both ways.
                   "visits", "fixed_first_time", "repeat_of", "no_fault_found", "courier_legs",
                   "arrival_s",  # the first visit's arrival at the door: the response KPI
                   # Of courier_legs, those that rode a courier lane, and what they cost at the
                   # lanes' prices (service, distance band, remote surcharge); the others rode the
                   # shuttle between tiers (parts off), priced by CostRates.courier_cny.
                   "courier_lane_legs", "courier_lane_cny")
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
class MorningRoutes:
    """A day plan's routes as they stand when its day starts (``dispatch.plan.simulated``): the
    optimiser's live areas begin ``day`` with them instead of empty."""

    day: int
    routes: Mapping[str, tuple[str, ...]]  # technician id -> his calls, in the plan's order
    collected: frozenset[str] = frozenset()  # on-site calls the plan collects for the bench


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
    contracts: ContractBook = field(default_factory=ContractBook)  # dispatch.contracts; empty: all own
    # Appointment slots (issue 19, dispatch.live.slots): every first on-site or pickup call is
    # offered the windows of the next Rules.slot_days days the rolling plan can keep, when it
    # calls; the customer books the first-ranked, which goes into its day's plan at once (a hard
    # window). No keepable slot: dispatched as without slots. Off: each call is dispatched when
    # its clock starts, as before (carried and next-day work already roll over the days).
    slots: bool = False




# --------------------------------------------------------------------------------------------
# Shared world


class World:
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
        self.offers: list[tuple[int, int, str, Request, NewCall]] = []  # slot offers (day, call time, ...)
        self.call_of: dict[str, NewCall] = {}  # each travelling call as booked
        self.fw = params.fieldwork
        self.field = FieldLedger(params.fieldwork, params.rules, params.seed, self.req)
        self.repeats_until_s = 0  # repeat calls arrive only within the days of calls
        self.desk = offer_desk(params.contracts, self.net, dataset.technicians, travel, self.event, params.seed)
        # Overtime worked, per technician and month: a day's plan asks no more than the cap leaves.
        self.overtime = OvertimeLedger(dataset.epoch_date, params.rules)
        # A device's next step by the kind of its event.
        self._handlers: dict[str, Callable[..., None]] = {
            "at_station": self._on_at_station, "to_repair": self._on_to_repair, "at_repair": self._on_at_repair,
            "repaired": self._on_repaired, "returned": self._on_returned}
        self._mail: DeviceLegs | None = None  # mail-in lanes without parts (mail_legs)
        self.parts = parts_for(self)  # spare parts (dispatch.parts): no-ops when the dataset has none
        self._handlers.update(self.parts.handlers)

    def event(self, rid: str, t_s: int, what: str, where: str = "", detail: str = "") -> None:
        self.log.append((rid, int(t_s), what, where, detail))

    def admit(self, r: Request, repeat_of: str = "") -> None:
        """A call arrives: its outcome row, its event, and its place in the queue."""
        station = self.nearest[r.id]
        clock = dispatch_clock_start(station, r)
        self.outcome[r.id] = dict(zip(OUTCOME_COLUMNS, (
            r.id, r.mode.value, r.mode.value, r.level, int(r.priority), station.province_adcode, station.id,
            r.created_s, clock, np.nan, np.nan, np.nan, np.nan, None, "", 0, np.nan, repeat_of, False, 0, np.nan, 0, 0.0)))
        self.event(r.id, r.created_s, "called", station.id, r.mode.value)
        if repeat_of:
            self.event(r.id, r.created_s, "repeat", station.id, f"the repair of {repeat_of} failed; its customer calls again")
        if r.mode == Mode.WALKIN:
            self.push(clock, "at_station", r.id, (station.id,))
            return
        if r.mode == Mode.MAILIN:
            self._mail_in(r, station)
            return
        self.call_of[r.id] = call = call_of(r, clock, station, self.p)
        if self.p.slots and not repeat_of:  # offered slots when it calls (a repeat: dispatched at once)
            self.outcome[r.id]["offered_day"] = clock // DAY_S  # the first day it could be served
            heapq.heappush(self.offers, (r.created_s // DAY_S, r.created_s, r.id, r, call))
            return
        self.wait(r, call)

    def wait(self, r: Request, call: NewCall) -> None:
        """Dispatch the call when its clock starts."""
        heapq.heappush(self.pending, (call.release_s // DAY_S, call.release_s, r.id, r, call))

    def booked(self, r: Request, call: NewCall, area: str, day: int) -> None:
        """The customer booked ``call``'s window on ``day``: its one-hour clock starts with the
        window (``dispatch.hours``); the turnaround still counts from the call."""
        o = self.outcome[r.id]
        o["clock_start_s"], o["booked_window_start_s"], o["booked_window_end_s"] = (
            call.release_s, call.window_start_s, call.window_end_s)
        o["booked_day"] = day
        self.call_of[r.id] = call
        self.event(r.id, r.created_s, "booked", area, f"day {day}, window {call.window_start_s}-{call.window_end_s}")

    def at_door(self, rid: str, **visit: int | bool) -> AtTheDoor:
        """What this visit to ``rid`` comes to (the number of visits made so far picks the draw)."""
        return self.field.at_door(rid, int(self.outcome[rid]["visits"]), **visit)

    def revisit(self, r: Request, day: int, horizon_day: int) -> str:
        """Book another visit for ``day``'s opening (the customer was out); what the log says."""
        if day > horizon_day:
            return "no day left in the run to visit again"
        call = rebook(self.call_of[r.id], self.net[self.outcome[r.id]["centre_id"]], day, self.p.rules)
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
        if self.parts.intake(rid, t, station_id):  # the 三包 rules settle it, or it waits for a quote
            return
        chain = self.net.chain(station_id)
        hops = self._repair_hops(r, chain, t)
        if hops is None:
            self.outcome[rid]["unassigned_reason"] = Reason.NO_CAPABLE_CENTRE
            self.event(rid, t, "open", station_id, "no centre in the chain can repair this level")
            return
        self.push(t, "to_repair", rid, (station_id, hops))

    def _repair_hops(self, r: Request, chain: tuple[Centre, ...], t: int) -> int | None:
        best = self._best_repair(r, chain, t)
        return None if best is None else best[0]

    def _best_repair(self, r: Request, chain: tuple[Centre, ...], t: int) -> tuple[int, int] | None:
        """(hops, repair done) of the capable centre that finishes soonest with the queues as they stand."""
        level = self.field.level_of(r.id)
        capable = [i for i, c in enumerate(chain) if c.can_repair(level)
                   and BenchQueues.fits(c, self.p.rules.bench_s(level))]
        best: tuple[int, int] | None = None
        for hops in capable:
            arrive = self._courier_up(chain, hops, t)
            done = self.benches.peek(chain[hops], self.parts.ready(r.id, chain[hops], arrive), self.p.rules.bench_s(level))
            if best is None or done < best[1]:
                best = (hops, done)
        return best

    def bench_return_estimate(self, r: Request, station_id: str, t: int) -> int | None:
        """When the customer would have the device back if it were at ``station_id`` at ``t`` and
        went to the bench (None: no centre of the chain can repair it)."""
        chain = self.net.chain(station_id)
        best = self._best_repair(r, chain, t)
        if best is None:
            return None
        back = self._courier_down(chain, best[0], best[1])
        return opening_start(self.net[station_id], back) + self.p.rules.return_s

    def prefetch_mail(self, requests: Iterable[Request]) -> None:
        """The lanes the mail-in calls among ``requests`` may ride, to and from each centre of
        their station's chain, asked in one go (``Lanes.prefetch``: the same legs)."""
        pairs = [p for r in requests if r.mode == Mode.MAILIN
                 for c in self.net.chain(self.nearest[r.id].id)
                 for p in ((self.nearest[r.id].id, c.id), (c.id, self.nearest[r.id].id))]
        if pairs:
            self.mail_legs().lanes.prefetch(pairs)

    def mail_legs(self) -> DeviceLegs:
        """The lanes a mail-in parcel rides: the parts' (parts on), else the default lanes."""
        if self.parts.device_legs is not None:
            return self.parts.device_legs
        if self._mail is None:
            self._mail = DeviceLegs(Lanes(points_of(tuple(self.net), NATIONAL_POINT), self.travel, seed=self.p.seed))
        return self._mail

    def _mail_in(self, r: Request, station: Centre) -> None:
        """寄修: the customer ships the phone from home (his station's area) straight to the capable
        centre of the station's chain that would finish soonest, its lane's arrival and part
        counted; it comes back to his door by lane (``_on_repaired``)."""
        legs, chain, t = self.mail_legs(), self.net.chain(station.id), r.created_s
        bench_s = self.p.rules.bench_s(self.field.level_of(r.id))
        best: tuple[int, int] | None = None
        for hops, c in enumerate(chain):
            if c.can_repair(self.field.level_of(r.id)) and BenchQueues.fits(c, bench_s):
                done = self.benches.peek(c, self.parts.ready(r.id, c, legs.direct(station.id, c.id, t)), bench_s)
                best = (hops, done) if best is None or done < best[1] else best
        if best is None:
            self.outcome[r.id]["unassigned_reason"] = Reason.NO_CAPABLE_CENTRE
            self.event(r.id, t, "open", station.id, "no centre in the chain can repair this level")
            return
        hub = chain[best[0]]
        arrive, cny = legs.direct_priced(station.id, hub.id, t, r.id)
        self.event(r.id, t, "mailed", station.id, f"to {hub.id}")
        self.outcome[r.id]["courier_legs"] += 1
        self._paid(r.id, 1, cny)
        self.parts.reserve(r.id, station.id, hub, t, arrive)
        self.push(arrive, "at_repair", r.id, (station.id, best[0]))

    def _paid(self, rid: str, legs: int, cny: float) -> None:
        """The call's device rode ``legs`` courier lanes at ``cny`` (their prices)."""
        self.outcome[rid]["courier_lane_legs"] += legs
        self.outcome[rid]["courier_lane_cny"] += cny

    def _courier_up(self, chain: tuple[Centre, ...], hops: int, t: int, key: str = "") -> int:
        """Arrival ``hops`` up the chain; ``key`` (the call's id) makes it a ride: lateness drawn, price paid."""
        legs = self.parts.device_legs  # parts on: the courier lanes; else the shuttle
        if legs is None:
            return self._courier(chain, range(hops), t)
        t, cny = legs.up_priced(chain, hops, t, key)
        if key:
            self._paid(key, hops, cny)
        return t

    def _courier_down(self, chain: tuple[Centre, ...], hops: int, t: int, key: str = "") -> int:
        """As :meth:`_courier_up`, down the chain."""
        legs = self.parts.device_legs
        if legs is None:
            return self._courier(chain, reversed(range(hops)), t)
        t, cny = legs.down_priced(chain, hops, t, key)
        if key:
            self._paid(key, hops, cny)
        return t

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
        arrive = self._courier_up(chain, hops, t, rid)
        self.outcome[rid]["courier_legs"] += hops
        self.parts.reserve(rid, station_id, centre, t, arrive)
        if hops:
            self.event(rid, t, "courier_up", station_id, f"to {centre.id}")
        self.push(arrive, "at_repair", rid, (station_id, hops))

    def _on_at_repair(self, t: int, rid: str, station_id: str, hops: int) -> None:
        centre = self.net.chain(station_id)[hops]
        if self.parts.wait(rid, t, (station_id, hops)):  # its part is not here yet: resumes on arrival
            return
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
        self.parts.fitted(rid, t, rid not in self.field.nff)
        if self.req[rid].mode == Mode.MAILIN:  # back to the customer's door by lane
            self.outcome[rid]["courier_legs"] += 1
            self.event(rid, t, "mailed_back", chain[hops].id, f"to the customer ({station_id})")
            back, cny = self.mail_legs().direct_priced(chain[hops].id, station_id, t, rid + ":back")
            self._paid(rid, 1, cny)
            self.push(back, "returned", rid, (station_id,))
            return
        self.outcome[rid]["courier_legs"] += hops
        back = self._courier_down(chain, hops, t, rid)
        if hops:
            self.event(rid, t, "courier_down", chain[hops].id, f"to {station_id}")
        # The customer gets it back in the station's hours (collected, or delivered).
        self.push(opening_start(self.net[station_id], back) + self.p.rules.return_s, "returned", rid, (station_id,))

    def _on_returned(self, t: int, rid: str, station_id: str) -> None:
        self.event(rid, t, "returned", station_id, "device back with the customer")
        self.outcome[rid]["completion_s"] = self.parts.completion(rid, t)
        self.after_repair(rid, t, int(self.outcome[rid]["repair_tier"]))


def call_of(r: Request, clock_s: int, station: Centre, params: SimParams) -> NewCall:

    return NewCall(r.id, r.lon, r.lat, r.service_s, r.window.start_s, r.window.end_s,
                   r.level if r.mode == Mode.ONSITE else 1, r.product_line or None, int(r.priority),
                   release_s=clock_s, dispatch_deadline_s=params.rules.dispatch_deadline(station, clock_s))


def part_visit(call: NewCall, station: Centre, at_s: int, rules: Rules) -> NewCall:
    """An on-site call booked for when its part reaches ``station`` (``PartsSim.visit_at``): the
    customer's window from then, its technician setting off within the target of it. The
    dispatch KPI still counts from the call (the customer waited for the part)."""
    start = max(call.window_start_s, at_s)
    length = max(call.window_end_s - call.window_start_s, 3600)
    start = opening_start(station, start)
    if start % DAY_S + 3600 > station.opening.end_s:  # too late in the station's day: its next opening
        start = opening_start(station, (start // DAY_S + 1) * DAY_S)
    return replace(call, window_start_s=start, window_end_s=start + length, release_s=max(call.release_s, start),
                   dispatch_deadline_s=rules.dispatch_deadline(station, start))


def rebook(call: NewCall, station: Centre, day: int, rules: Rules | None = None) -> NewCall:
    """A call carried over: the customer is offered the same length of window from the next
    opening; the one-hour clock keeps running on business hours from when it started. With
    ``rules``, a visit re-booked after an absent customer: a new appointment, whose technician
    sets off within the target of its opening (the first visit kept the call's promise)."""
    start = max(day * DAY_S + station.opening.start_s, call.release_s)
    length = max(call.window_end_s - call.window_start_s, 3600)
    deadline = call.dispatch_deadline_s if rules is None else rules.dispatch_deadline(station, start)
    return replace(call, window_start_s=start, window_end_s=start + length,
                   release_s=max(call.release_s, start), dispatch_deadline_s=deadline)
