"""Work that can go wrong, seeded: how long a job really takes, what the fault really is, whether
the customer is in, whether the repair holds.

Each call's **fate** is drawn once, from its own generator seeded by (the run's seed, the call's
id): the factor on its on-site repair time, the level the fault turns out to be, whether no
fault is found, whether the customer is absent at each visit, and the draw that decides whether
the repair fails and when the customer comes back. These are **common random numbers**: the
optimiser and the baseline face the same fate for the same call (the same absent customer at the
first visit, the same hidden board fault, the same slow repair), so the difference between the
two policies stays the dispatching, not luck. Every draw is made whether it is used or not and
in a fixed order, so changing one probability does not shift the others' draws either.

What the technician does with a fate at the door is :func:`at_the_door`; the simulation
(``dispatch.simulate``) moves the devices, and :class:`LiveField` tells the optimiser's live plan
what happened at the moments a technician would report it (``on_site``, ``overrun``, ``done``).

Default values (:class:`FieldworkParams`) and where they come from; the probabilities are
assumptions of the planning team, to be replaced by the maker's own service records:

* repair time: lognormal, the distribution maintainability engineering uses for repair times
  (MIL-HDBK-338B, 5.6.2.1), with shape sigma = 0.35 (coefficient of variation 0.36) scaled so its
  mean is the planned time (mean-preserving: median 0.94 x planned, 95th percentile 1.67 x);
* a fault found on inspection to be one level higher: 10 % of level-1 calls (a "screen" that is
  a display connector, a "battery" that is the charging port), 8 % of level-2 calls (a module
  fault that is the board); level 3 is the highest;
* no fault found: 7 %, inside the 5-10 % issue 16 sets for calls already triaged by the call
  centre (the 63 % NFF WDS Global found among phones returned to a UK retailer counts untriaged
  returns and buyer's remorse, not this population);
* customer absent at the door: 4 % of on-site and pickup visits (home-service scheduling vendors
  quote 1-2 % with reminders, 4-8 % without; our calls are booked within the hour, so few forget);
  the technician waits 10 minutes, leaves, and the visit is re-booked for the next opening;
* repair fails and the customer comes back: 2 / 4 / 6 % for levels 1 / 2 / 3 (Chinese phone-repair
  pages quote a 30-day 二次返修 rate of at most 5 % as the benchmark), times 0.8 at a provincial
  lab, 1.0 at a city centre and 1.5 at a county station (contracted shops, a lower quality
  score); the customer comes back uniformly over 1-30 days after the repair;
* inspection before a fault is known: 15 min; a no-fault-found bench test: 20 min.

In the Zhejiang week (seed 1) these values leave 79 % of the optimiser's on-site calls fixed at
the first visit (86 % of all calls, walk-ins and pickups included), near the field-service
average Aberdeen Group reports (75 %; best in class 88 %).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from dispatch.errors import DispatchError
from dispatch.live import LiveArea
from dispatch.model import DAY_S, Request, TimeWindow
from dispatch.routing import Stop
from dispatch.rules import Rules

MAX_VISITS = 8  # absence draws per call; an eighth absent visit in a row has P = 0.04^8
_STREAM = 1603  # this module's stream (issue 16, item 3): no other seeded draw shares it

# What a technician's visit came to (AtTheDoor.kind).
REPAIRED = "repaired"  # repaired on site (perhaps at the level found on inspection)
NO_FAULT = "no_fault_found"  # inspected, nothing wrong: he leaves without a repair
ABSENT = "absent"  # nobody at the door: he waits, leaves, and the visit is re-booked
TO_BENCH = "rediagnosed"  # the fault needs more than he can do on site: he takes the device
UNFINISHED = "unfinished"  # the repair would run past his overtime limit: he takes the device
HANDED_OVER = "handed_over"  # a pickup (or a collection): the device goes to the bench
BENCH_KINDS = frozenset({TO_BENCH, UNFINISHED, HANDED_OVER})


@dataclass(frozen=True)
class FieldworkParams:
    """How work goes wrong (see the module doc for each value's source). Per-level tuples are
    for levels 1, 2, 3; per-tier tuples for tiers 1 (province), 2 (city), 3 (county)."""

    service_sigma: float = 0.35  # lognormal shape of the on-site repair time, mean = planned
    rediagnosis_p_by_level: tuple[float, float, float] = (0.10, 0.08, 0.0)  # one level higher
    no_fault_found_p: float = 0.07
    absent_p: float = 0.04  # per on-site or pickup visit
    absent_wait_s: int = 10 * 60
    diagnosis_s: int = 15 * 60  # at the door, before the fault is known
    nff_bench_s: int = 20 * 60  # a bench test that finds nothing
    fail_p_by_level: tuple[float, float, float] = (0.02, 0.04, 0.06)
    fail_factor_by_tier: tuple[float, float, float] = (0.8, 1.0, 1.5)
    return_after_s: tuple[int, int] = (1 * DAY_S, 30 * DAY_S)  # uniform: repair -> customer back

    def __post_init__(self) -> None:
        if not all(0.0 <= p <= 1.0 for p in self._probabilities) or self.service_sigma < 0 \
                or min(self.fail_factor_by_tier) < 0:
            raise DispatchError(f"fieldwork probabilities must lie in [0, 1] and sigma and tier factors be >= 0, "
                                f"got {self}")
        if not 0 <= self.return_after_s[0] <= self.return_after_s[1]:
            raise DispatchError(f"return_after_s must be (low, high) with 0 <= low <= high, got {self.return_after_s}")

    @classmethod
    def none(cls) -> FieldworkParams:
        """Everything goes to plan: nominal times, the level known at the call, every repair holds."""
        return cls(0.0, (0.0, 0.0, 0.0), 0.0, 0.0, fail_p_by_level=(0.0, 0.0, 0.0))

    @property
    def _probabilities(self) -> tuple[float, ...]:
        return (*self.rediagnosis_p_by_level, self.no_fault_found_p, self.absent_p, *self.fail_p_by_level)

    @property
    def active(self) -> bool:
        """Whether anything can go wrong (else the simulation runs exactly as without fates)."""
        return self.service_sigma > 0 or any(p > 0 for p in self._probabilities)

    def fail_p(self, level: int, tier: int) -> float:
        """P(a repair of ``level`` made at a centre (or by a technician) of ``tier`` fails)."""
        return min(1.0, self.fail_p_by_level[level - 1] * self.fail_factor_by_tier[tier - 1])


@dataclass(frozen=True)
class Fate:
    """One call's fate, drawn before any policy sees the call."""

    request_id: str
    level: int  # as called
    true_level: int  # as found on inspection
    service_factor: float  # actual / planned on-site repair time
    no_fault_found: bool
    absent_at: tuple[bool, ...]  # visit k (0-based) finds nobody in
    fail_u: float  # the repair fails when this is below its P(fail)
    return_after_s: int  # repair -> the customer calls again, if it fails

    def absent(self, visit: int) -> bool:
        return visit < len(self.absent_at) and self.absent_at[visit]

    def fails(self, params: FieldworkParams, level: int, tier: int) -> bool:
        return self.fail_u < params.fail_p(level, tier)


def draw_fate(params: FieldworkParams, seed: int, request: Request) -> Fate:
    """The fate of ``request`` in a run seeded ``seed``: the same for every policy (common random numbers)."""
    words = hashlib.blake2b(request.id.encode(), digest_size=16).digest()
    rng = np.random.default_rng(np.random.SeedSequence(
        [seed % 2**64, _STREAM, *(int.from_bytes(words[i:i + 4], "little") for i in range(0, 16, 4))]))
    z = float(rng.standard_normal())
    u_nff, u_level, u_fail, u_back = (float(u) for u in rng.random(4))
    u_absent = rng.random(MAX_VISITS)
    nff = u_nff < params.no_fault_found_p
    # A fault that is not there has no level to find: rediagnosis needs a fault.
    up = not nff and request.level < 3 and u_level < params.rediagnosis_p_by_level[request.level - 1]
    s = params.service_sigma
    lo, hi = params.return_after_s
    return Fate(request.id, request.level, request.level + int(up), math.exp(s * z - s * s / 2), nff,
                tuple(bool(u < params.absent_p) for u in u_absent), u_fail, int(lo + u_back * (hi - lo)))


@dataclass(frozen=True)
class AtTheDoor:
    kind: str  # REPAIRED, NO_FAULT, ABSENT, TO_BENCH, UNFINISHED or HANDED_OVER
    door_s: int  # the technician's time at the door, from the start of the work
    level: int  # the device's level as now known


def at_the_door(fate: Fate, params: FieldworkParams, rules: Rules, *, visit: int, on_site_repair: bool,
                planned_s: int, level_on_site: int, start_s: int, latest_end_s: int) -> AtTheDoor:
    """What visit number ``visit`` (0-based) of a call comes to. ``on_site_repair``: the visit
    was to repair on site (not a pickup or a collection); ``level_on_site``: the highest level
    this technician may repair at the door; ``latest_end_s``: when he must leave to be home by
    his shift's end plus the overtime a plan may ask (China's Labour Law, art. 41)."""
    if fate.absent(visit):
        return AtTheDoor(ABSENT, params.absent_wait_s, fate.level)
    if not on_site_repair:
        return AtTheDoor(HANDED_OVER, planned_s, fate.level)  # the bench diagnoses it
    if fate.true_level > level_on_site:
        return AtTheDoor(TO_BENCH, params.diagnosis_s + rules.collect_service_s, fate.true_level)
    if fate.no_fault_found:
        return AtTheDoor(NO_FAULT, params.diagnosis_s, fate.level)
    by_level = rules.onsite_service_s_by_level
    work_s = round(planned_s * fate.service_factor * by_level[fate.true_level] / by_level[fate.level])
    if start_s + work_s > latest_end_s:
        # He does not work past the overtime a plan may ask: the device goes to the bench
        # (Aberdeen: 13 % of repeat visits are technicians running out of time).
        return AtTheDoor(UNFINISHED, max(latest_end_s - start_s, rules.collect_service_s), fate.true_level)
    return AtTheDoor(REPAIRED, work_s, fate.true_level)


class FieldLedger:
    """A run's fates and what came of them, call by call: the level found, no fault found, and
    the calls not fixed by their first attempt. ``requests`` is the run's calls by id (repeat
    calls are added to it by the caller)."""

    def __init__(self, params: FieldworkParams, rules: Rules, seed: int, requests: dict[str, Request]) -> None:
        self.p, self.rules, self.seed, self.req = params, rules, seed, requests
        self.active = params.active
        self.fates: dict[str, Fate] = {}
        self.door: dict[str, AtTheDoor] = {}  # what today's visit to a call came to
        self.level: dict[str, int] = {}  # a device's level once someone has looked inside
        self.missed: set[str] = set()  # not fixed by the first attempt
        self.nff: set[str] = set()  # no fault found

    def fate(self, rid: str) -> Fate:
        if rid not in self.fates:
            self.fates[rid] = draw_fate(self.p, self.seed, self.req[rid])
        return self.fates[rid]

    def level_of(self, rid: str) -> int:
        return self.level.get(rid, self.req[rid].level)

    def at_door(self, rid: str, visit: int, **kw: int | bool) -> AtTheDoor:
        """What visit ``visit`` (0-based) to ``rid`` comes to (:func:`at_the_door`), kept for the day's end."""
        self.door[rid] = d = at_the_door(self.fate(rid), self.p, self.rules, visit=visit, **kw)  # type: ignore[arg-type]
        return d

    def visit_done(self, rid: str, door: AtTheDoor | None) -> list[tuple[str, str]]:
        """Book what a visit came to; the log's (event, detail) for it."""
        if door is None:
            return []
        if door.kind == ABSENT:
            self.missed.add(rid)
            return [(ABSENT, f"nobody at the door; he waited {door.door_s // 60} min and left")]
        out = []
        level = self.req[rid].level
        if door.kind != HANDED_OVER:  # he has looked inside: the bench will not diagnose again
            self.level[rid] = door.level
        if door.level != level:
            out.append((TO_BENCH, f"level {level} found to be level {door.level} on site; "
                        + ("repaired on site" if door.kind == REPAIRED else "taken for the bench")))
        if door.kind == UNFINISHED:
            out.append((UNFINISHED, "the repair would run past his overtime limit; taken for the bench"))
        if door.kind == NO_FAULT:
            self.nff.add(rid)
            out.append(("nff", "no fault found on site"))
        if door.kind in (TO_BENCH, UNFINISHED, NO_FAULT):
            self.missed.add(rid)
        return out

    def at_intake(self, rid: str) -> str | None:
        """A device reaches a station. If nobody has looked inside yet the bench does: the level it
        finds (a sentence for the log when it differs), or no fault."""
        if not self.active or rid in self.level:
            return None
        f = self.fate(rid)
        self.level[rid] = f.true_level
        if f.no_fault_found:
            self.nff.add(rid)
            self.missed.add(rid)
        return None if f.true_level == f.level else f"level {f.level} found to be level {f.true_level} at intake"

    def repeat(self, rid: str, t_s: int, tier: int, until_s: int) -> tuple[str, Request | None] | None:
        """A repair of ``rid`` made at ``t_s`` by a centre (or a technician) of ``tier``: None if
        it holds; else the log's sentence and the customer's repeat call ``<id>-R1`` (None when it
        would come at or after ``until_s``). He calls again on the day the drawn delay ends, at
        the hour of his first call, from the same place, for the fault as found."""
        if not self.active or rid in self.nff:
            return None
        f = self.fate(rid)
        if not f.fails(self.p, self.level_of(rid), tier):
            return None
        self.missed.add(rid)
        r = self.req[rid]
        created = (t_s + f.return_after_s) // DAY_S * DAY_S + r.created_s % DAY_S
        created += DAY_S if created <= t_s else 0
        new_id = next(f"{rid}-R{n}" for n in itertools.count(1) if f"{rid}-R{n}" not in self.req)
        if created >= until_s:
            return f"the repair fails; the customer calls again on day {created // DAY_S}, after the days simulated", None
        window = TimeWindow(created + r.window.start_s - r.created_s, created + r.window.end_s - r.created_s)
        return (f"the repair fails; the customer calls again on day {created // DAY_S} ({new_id})",
                replace(r, id=new_id, created_s=created, level=self.level_of(rid), window=window))


# --------------------------------------------------------------------------------------------
# The live plan hears of it


@dataclass
class _AreaField:
    seen: set[str] = field(default_factory=set)  # frozen visits whose fate is known
    due: list[tuple[int, int, str, str]] = field(default_factory=list)  # (time, seq, visit, report)
    running: dict[str, list] = field(default_factory=dict)  # visit -> [technician, true end, arrived]
    # technician -> (his timeline, its first departure not yet made): a freeze makes a new timeline.
    departs: dict[str, tuple[object, int | None]] = field(default_factory=dict)


class LiveField:
    """Field reports into the live areas of a day, at the simulated moments they are made.

    ``true_end(area, technician, stop)`` gives a job's real end when it is frozen (dispatched).
    A job that does not end as planned is reported ``on_site`` at its arrival, ``overrun`` at
    every moment the plan is consulted while the technician is still at work past the time the
    plan expected, and ``done`` at its real end; every report is made before the area's clock
    passes it, so no later job is frozen as if he had set off before he did. After a report
    that moves a route, visits that route can no longer keep are placed again
    (``LiveArea.repair``); those nobody can take any more are listed in ``dropped`` (visit ->
    when) for the simulation to re-book. The plan never knows a job's real length before its
    ``done``."""

    def __init__(self, true_end: Callable[[LiveArea, str, Stop], int]) -> None:
        self._true_end = true_end
        self._areas: dict[str, _AreaField] = {}
        self._seq = itertools.count()
        self.dropped: dict[str, int] = {}

    def catch_up(self, name: str, area: LiveArea, t_s: int) -> None:
        """Move ``area`` to ``t_s`` through every departure and field report before it, in time order."""
        f = self._areas.setdefault(name, _AreaField())
        self._register(f, area)
        while (x := self._next(f, area)) is not None and x <= t_s:
            self._hold(f, area, x)
            area.advance(max(area.clock_s, x))
            reported = False
            while f.due and f.due[0][0] <= x:
                t, _, vid, status = heapq.heappop(f.due)
                area.report(vid, status, t)
                if status == "on_site":  # times as planned so far: nothing moves
                    f.running[vid][2] = True
                else:
                    del f.running[vid]
                    reported = True
            if reported:
                self._repair(area)
                # A technician free again sets off now; max: a report registered after the clock
                # passed its due time (seen with the road model, Zhejiang week seed 1) must not turn it back.
                area.advance(max(area.clock_s, x))
            self._register(f, area)
        self._hold(f, area, t_s)
        area.advance(max(area.clock_s, t_s))
        self._register(f, area)

    def _repair(self, area: LiveArea) -> None:
        """Routes a report moved: what they cannot keep is placed again, or dropped."""
        for vid in area.repair():
            if vid in area.unassigned:
                self.dropped.setdefault(vid, area.clock_s)

    def _register(self, f: _AreaField, area: LiveArea) -> None:
        if len(f.seen) == len(area.frozen):
            return
        owner = {vid: tid for tid, ids in area.routes.items() for vid in ids}
        for vid in sorted(set(area.frozen) - f.seen):
            f.seen.add(vid)
            st = area.frozen[vid]
            end = self._true_end(area, owner[vid], st)
            if end != st.end_s:
                f.running[vid] = [owner[vid], end, False]
                heapq.heappush(f.due, (st.arrival_s, next(self._seq), vid, "on_site"))
                heapq.heappush(f.due, (end, next(self._seq), vid, "done"))

    @staticmethod
    def _next(f: _AreaField, area: LiveArea) -> int | None:
        """The next moment something happens: a report, or a departure of a technician whose
        work so far goes to plan (one still at a job sets off only after its ``done``)."""
        times = [f.due[0][0]] if f.due else []
        busy = {tid for tid, _, _ in f.running.values()}
        for tid, ids in area.routes.items():
            if tid in busy or not ids:
                continue
            sched = area.schedule(tid)
            got = f.departs.get(tid)
            if got is None or got[0] is not sched:
                nxt = next((s for s in sched.stops if s.visit_id not in area.frozen), None)
                got = f.departs[tid] = (sched, None if nxt is None else nxt.departure_toward_s)
            if got[1] is not None:
                times.append(got[1])
        return min(times, default=None)

    def _hold(self, f: _AreaField, area: LiveArea, x: int) -> None:
        """Jobs the plan thinks over by ``x`` but still going on: reported running at ``x``."""
        held = [vid for vid, (_, end, arrived) in f.running.items() if arrived and area.frozen[vid].end_s <= x <= end]
        for vid in held:
            area.report(vid, "overrun", x)
        if held:
            # The plan hears it at x: whatever it re-places now sets off at x or later (placed at
            # the area's older clock, a visit could be sent on its way in the past).
            area.advance(max(area.clock_s, x))
            self._repair(area)
