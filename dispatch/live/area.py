"""Real-time operations on one area's live plan: job states, urgent insertion, drop-out, re-plan.

A :class:`LiveArea` holds an area's technicians and visits (a :class:`RoutingProblem` that grows
as calls arrive), each technician's ordered route, and the clock. Times follow the checker's
semantics (``dispatch.routing.checker``): a technician sets off toward a visit as soon as he is free and
the call exists (``release_s``), arrives after the drive (plus his break if he takes it on the
way), starts inside the customer's window, and goes home after his last visit.

Job states at the clock: ``planned`` (he has not set off), ``dispatched`` (en route),
``on_site`` (arrived, waiting or working), ``done``, or ``cancelled`` by the customer. Dispatched,
on-site and done work is **frozen**: its technician, order and times never change again (only
field reports move them, in the order ``REPORT_FOLLOWS``). Everything else may move.

* :meth:`LiveArea.urgent_options` ranks technicians by ETA for a new call: for each one, the
  earliest feasible insertion into the movable tail that keeps every other visit inside its
  window, every planned visit's dispatch deadline that was met still met, the shift (plus
  allowed overtime) and the break. Pure Python over the precomputed matrices: a few ms for 30
  technicians and 150 open jobs (``dispatch bench realtime``). The insertion search, and
  :meth:`LiveArea.move` (a visit to a chosen technician from a chosen time), are in
  ``dispatch.live.insertion``.
* :meth:`LiveArea.drop_out` re-plans a technician's unfinished work over the others and lists
  what cannot be saved, with reasons.
* :meth:`LiveArea.reoptimise` re-solves the movable tail with the routing engine, warm-started
  from the current routes, each technician starting from where his frozen work leaves him; the
  result is accepted only if every job planned before is still planned and no kept promise
  (window, met deadline) is broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dispatch.errors import DispatchError
from dispatch.live.calls import (
    FROZEN_STATES,
    REPORTED_STATE,
    DropOutResult,
    JobState,
    check_report,
    reported_times,
)
from dispatch.live.insertion import Insertion
from dispatch.live.replan import Replanning
from dispatch.routing import (
    Route,
    RoutingProblem,
    RoutingResult,
    RoutingTechnician,
    RoutingVisit,
    Stop,
    Unserved,
)
from dispatch.routing.timeline import Timeline, timeline
from dispatch.travel import DEFAULT_TRAVEL, Travel


@dataclass
class LiveArea(Insertion, Replanning):
    problem: RoutingProblem
    routes: dict[str, list[str]]  # technician id -> ordered visit ids
    clock_s: int = 0
    travel: Travel = DEFAULT_TRAVEL
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    release_s: dict[str, int] = field(default_factory=dict)
    reserve_share: float = 0.0  # share of each shift kept free of normal-priority work
    # Added driving counts the change of the way home for a call put last (cheapest insertion):
    # without it an idle technician's round trip costs only its way out, so work spreads.
    count_return: bool = False
    # A technician not yet out today weighs as this much more driving (``Rules.leave_home_s``).
    leave_home_s: int = 0
    frozen: dict[str, Stop] = field(default_factory=dict)  # visit id -> its committed times
    break_taken: dict[str, int] = field(default_factory=dict)  # technician id -> break start
    unavailable: dict[str, int] = field(default_factory=dict)  # technician id -> from
    unassigned: dict[str, Unserved] = field(default_factory=dict)
    # Visits that left this area's plan: another area's technician took them, or the customer
    # cancelled before anyone set off.
    gone: set[str] = field(default_factory=set)
    reported: dict[str, tuple[JobState, int]] = field(default_factory=dict)  # visit -> last field report
    version: int = 0  # bumped at every change, so a background re-plan knows it is stale

    def __post_init__(self) -> None:
        self._visit = {v.id: v for v in self.problem.visits}
        self._tech = {k.id: k for k in self.problem.technicians}
        for k in self.problem.technicians:
            self.routes.setdefault(k.id, [])
        self._cache: dict[str, Timeline] = {}
        # advance: per technician, the timeline last looked at and the clock before which it has
        # nothing to freeze (a national day advances every area's clock at each of 12,000 calls).
        self._quiet: dict[str, tuple[Timeline, float]] = {}
        self._shape: dict = {}  # _candidates: per technician, his route's positions, likewise
        # advance: the count of timeline changes (_changed, or a freeze), and at the count it
        # holds, the clock before which no technician has anything to freeze.
        self._timelines = 0
        self._calm: tuple[int, float] | None = None
        self._cap = 0  # rows of the travel buffers (see _grow)
        self._row = None  # _add_visit: no call's legs priced beyond the nodes yet
        self._first_shift = None, None  # _open_row: (the roster, its first shift start)
        self._legbook = None  # _price_rows: a day's call legs priced in bulk (LegBook), if any

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_result(
        cls, problem: RoutingProblem, result: RoutingResult, lon: np.ndarray, lat: np.ndarray,
        release_s: dict[str, int] | None = None, clock_s: int = 0, travel: Travel = DEFAULT_TRAVEL,
    ) -> LiveArea:
        """A live area from a solved plan; ``lon``/``lat`` are the problem's node coordinates."""
        routes = {r.technician_id: [s.visit_id for s in r.stops] for r in result.routes}
        area = cls(problem, routes, clock_s, travel, np.asarray(lon, float), np.asarray(lat, float),
                   dict(release_s or {}))
        area.unassigned = {u.visit_id: u for u in result.unassigned}
        area.advance(clock_s)
        return area

    # ---------------------------------------------------------------- schedule

    def _release(self, v: RoutingVisit) -> int:
        return self.release_s.get(v.id, v.release_s)

    def schedule(self, tech_id: str, order: list[str] | None = None) -> Timeline:
        """Times of a technician's route (frozen stops as committed, the rest recomputed)."""
        if order is None and tech_id in self._cache:
            return self._cache[tech_id]
        k = self._tech[tech_id]
        ids = self.routes[tech_id] if order is None else order
        s = self._schedule(k, ids)
        if order is None:
            self._cache[tech_id] = s
        return s

    def _schedule(self, k: RoutingTechnician, ids: list[str]) -> Timeline:
        return timeline(self.problem, k, ids, self._visit, self.release_s, self.clock_s, self.frozen,
                        self.break_taken.get(k.id))

    # ---------------------------------------------------------------- clock and states

    def state(self, visit_id: str) -> JobState:
        if visit_id in self.unassigned:
            return JobState.UNASSIGNED
        if self.reported.get(visit_id, (None,))[0] == JobState.CANCELLED:
            return JobState.CANCELLED
        for tid, ids in self.routes.items():
            if visit_id in ids:
                st = next(s for s in self.schedule(tid).stops if s.visit_id == visit_id)
                if st.end_s <= self.clock_s:
                    return JobState.DONE
                if st.arrival_s <= self.clock_s:
                    return JobState.ON_SITE
                if st.departure_toward_s <= self.clock_s:
                    return JobState.DISPATCHED
                return JobState.PLANNED
        raise DispatchError(f"unknown visit {visit_id!r}; expected one of this area's visits")

    def advance(self, clock_s: int) -> list[tuple[str, str, int]]:
        """Move the clock; freeze what has started. Returns (visit, new state, time) events."""
        if clock_s < self.clock_s:
            raise DispatchError(f"the clock cannot go back: at {self.clock_s}, asked {clock_s}")
        calm = self._calm
        if calm is not None and calm[0] == self._timelines and clock_s < calm[1]:
            self.clock_s = clock_s  # no timeline changed since every one was quiet until calm[1]
            return []
        events = []
        moved = set()
        for tid in self.routes:
            # The plan as it stood before this moment: what it had him set off toward by now
            # is what he did (timed at the new clock, a departure would move to now).
            sched = self.schedule(tid)
            quiet = self._quiet.get(tid)
            if quiet is not None and quiet[0] is sched and clock_s < quiet[1]:
                continue  # his timeline unchanged, and nothing of it due before its next event
            for st in sched.stops:
                if st.visit_id not in self.frozen and st.departure_toward_s <= clock_s:
                    self.frozen[st.visit_id] = st
                    events.append((st.visit_id, JobState.DISPATCHED.value, st.departure_toward_s))
                    moved.add(tid)
            # A break is history once it is over, or once it lies inside work already under way;
            # a break an idle technician would be on now can still move with new work.
            bw = self._tech[tid].break_window
            b = sched.break_start_s
            if bw is not None and tid not in self.break_taken and b is not None:
                # Frozen work runs from setting off to the end of the service (a break taken
                # while waiting for the customer's window is part of it).
                committed_until = max((st.end_s for st in sched.stops if st.visit_id in self.frozen),
                                      default=-1)
                if b + bw.duration_s <= clock_s or b < committed_until:
                    self.break_taken[tid] = b
                    moved.add(tid)
            self._quiet[tid] = (sched, self._next_event(tid, sched))
        self.clock_s = clock_s
        # Departures not yet made now count from the new clock. A route where nothing was
        # frozen and no break became history keeps its timeline: every departure it still has
        # lies after the new clock (or it would have been frozen), so the clock bounds none.
        for tid in moved:
            self._cache.pop(tid, None)
        self._timelines += bool(moved)
        # Every technician is quiet until the earliest of his next events (see the loop's skip).
        self._calm = self._timelines, min((self._quiet[tid][1] for tid in self.routes), default=float("inf"))
        return events

    def _next_event(self, tid: str, sched: Timeline) -> float:
        """The earliest clock at which ``advance`` has something to do on this timeline: a
        departure to freeze, or a pending break to make history. (A break overlapping frozen
        work only becomes history when something freezes, which makes a new timeline.)"""
        due = [st.departure_toward_s for st in sched.stops if st.visit_id not in self.frozen]
        bw = self._tech[tid].break_window
        if bw is not None and tid not in self.break_taken and sched.break_start_s is not None:
            due.append(sched.break_start_s + bw.duration_s)
        return min(due, default=float("inf"))

    def report(self, visit_id: str, status: str, at_s: int, expected_end_s: int | None = None) -> None:
        """A field report: ``dispatched``, ``on_site``, ``done``, ``overrun`` (still working at ``at_s``, done by
        ``expected_end_s`` if he says) or ``cancelled``. It fixes the job's times; the rest of the route follows
        (an overrun takes back the set-offs planned since); ``StatusConflict`` if out of ``REPORT_FOLLOWS``."""
        check_report(visit_id, status, at_s, self.reported.get(visit_id, (JobState.PLANNED, None)), expected_end_s)
        st = self.frozen.get(visit_id)
        tid = next(t for t, ids in self.routes.items() if visit_id in ids)
        following = self.routes[tid][self.routes[tid].index(visit_id) + 1:]
        if status == "cancelled" and st is None:  # not on his way yet: the slot is free again
            self.routes[tid].remove(visit_id)
            self.gone.add(visit_id)
        elif st is None:
            raise DispatchError(f"visit {visit_id!r} has not been dispatched; a report needs a "
                                f"dispatched job (states: {', '.join(s.value for s in FROZEN_STATES)})")
        elif at_s < st.departure_toward_s:
            raise DispatchError(f"report for {visit_id!r} at {at_s} is before the technician set off "
                                f"toward it at {st.departure_toward_s}")
        elif status == "overrun" and (later := [v for v in following if v in self.reported]):
            raise DispatchError(f"{visit_id!r} cannot overrun: its technician reported {later[0]!r}, later on "
                                f"his route, {self.reported[later[0]][0].value}")
        elif status == "cancelled" and st.arrival_s <= at_s:
            raise DispatchError(f"{visit_id!r} cannot be cancelled: its technician is at the door since {st.arrival_s}")
        else:
            for vid in following if status == "overrun" else ():
                self.frozen.pop(vid, None)  # the plan had him on his way; he is still here
            self.frozen[visit_id] = reported_times(st, status, at_s, expected_end_s)
        self.reported[visit_id] = (REPORTED_STATE[status], at_s)
        self._changed(tid)  # only his route's times depend on the job's

    def _changed(self, tech_id: str | None = None) -> None:
        """Something changed: only ``tech_id``'s route (his timeline is recomputed), else every one."""
        if tech_id is None:
            self._cache.clear()
        else:
            self._cache.pop(tech_id, None)
        self._timelines += 1
        self.version += 1

    def holds(self, visit_id: str) -> bool:
        """Whether the area knows this visit (routed, unassigned or gone)."""
        return visit_id in self._visit

    def technician(self, technician_id: str) -> RoutingTechnician:
        return self._tech[technician_id]

    def visit(self, visit_id: str) -> RoutingVisit:
        """A visit the area holds, as it stands (a move may have narrowed its window)."""
        return self._visit[visit_id]

    def hold(self, visit_id: str, until_s: int) -> None:
        """Nobody is to set off toward a visit nobody serves yet before ``until_s`` (a waiting
        strategy: ``Rules.replan_hold_s``); its deadline stays what it was."""
        if any(visit_id in ids for ids in self.routes.values()):
            raise DispatchError(f"visit {visit_id!r} is already routed; only a visit nobody serves yet is held")
        self.release_s[visit_id] = max(self._release(self._visit[visit_id]), until_s)

    def hand_over(self, visit_id: str) -> None:
        """Another area's technician takes this visit: it leaves this area's plan (it must not be
        under way here)."""
        if visit_id in self.frozen:
            raise DispatchError(f"visit {visit_id!r} is already under way in this area; it cannot be handed over")
        for ids in self.routes.values():
            if visit_id in ids:
                ids.remove(visit_id)
        self.unassigned.pop(visit_id, None)
        self.gone.add(visit_id)
        self._changed()

    def collect_instead(self, visit_id: str, service_s: int) -> None:
        """An on-site visit becomes a collection for the bench: any technician may take it, and
        the work at the door is a hand-over of ``service_s``. Only before anyone set off."""
        if visit_id in self.frozen:
            raise DispatchError(f"visit {visit_id!r} is already under way; it cannot become a collection")
        self._set_visit(replace(self._visit[visit_id], required_level=1, service_s=service_s))

    # ---------------------------------------------------------------- drop-out

    def drop_out(self, tech_id: str, at_s: int) -> DropOutResult:
        """The technician stops working at ``at_s``: his work not yet done is given to others
        (most urgent first), or listed with the reason it cannot be saved."""
        if tech_id not in self._tech:
            known = sorted(self._tech)
            raise DispatchError(f"unknown technician {tech_id!r}; expected one of {', '.join(known[:5])}"
                                + (f" ... ({len(known)} in all)" if len(known) > 5 else ""))
        if at_s < self.clock_s:
            raise DispatchError(f"a drop-out at {at_s} is before the plan's clock {self.clock_s}: work done "
                                f"by then is history; report it at or after the clock")
        self.advance(at_s)
        keep, orphans = [], []
        for vid in self.routes[tech_id]:
            st = self.frozen.get(vid)
            # Done work is history, and a cancelled job is nobody's to take over.
            if st is not None and (st.end_s <= at_s or self.state(vid) == JobState.CANCELLED):
                keep.append(vid)
            else:
                orphans.append(vid)
                self.frozen.pop(vid, None)
                self.reported.pop(vid, None)  # his reports say nothing of the next man's visit
        self.routes[tech_id] = keep
        self.unavailable[tech_id] = at_s
        self._changed()
        moved, unserved = [], []
        orphans.sort(key=lambda x: (-self._visit[x].priority, self._visit[x].dispatch_deadline_s or 0, x))
        for vid in orphans:
            v = self._visit[vid]
            # A job he had started is re-dispatched from now on.
            self.release_s[vid] = max(self._release(v), at_s)
            options = self._options_for(v)
            if options:
                best = options[0]
                self.routes[best.technician_id].insert(best.position, vid)
                self._changed()
                moved.append((vid, best.technician_id))
            else:
                u = self._why_not(v)
                self.unassigned[vid] = u
                unserved.append(u)
        return DropOutResult(tech_id, tuple(moved), tuple(unserved))

    # ---------------------------------------------------------------- whole-area views

    def result(self) -> RoutingResult:
        """The live plan as a routing result (for the checker, exports and the dashboard)."""
        routes = []
        for tid, ids in self.routes.items():
            if not ids:
                continue
            s = self.schedule(tid)
            k = self._tech[tid]
            routes.append(Route(tid, tuple(s.stops), s.start_s, s.end_s, sum(x.travel_s for x in s.stops)
                                + int(self.problem.travel_s[k.speed_class][self._last_node(k, ids), k.end_node]),
                                sum(x.distance_m for x in s.stops)
                                + int(self.problem.distance_m[self._last_node(k, ids), k.end_node]),
                                s.break_start_s, max(0, s.end_s - k.shift_end_s)))
        return RoutingResult(tuple(routes), tuple(self.unassigned.values()), "LIVE", 0, "realtime")

    def checked_problem(self) -> RoutingProblem:
        """The area's problem as the live schedule saw it, for the checker: a frozen visit's
        release is the moment it was dispatched and its service what the field reported; a
        movable one cannot leave before now."""
        visits = tuple(
            replace(v, release_s=self.frozen[v.id].departure_toward_s,
                    service_s=self.frozen[v.id].end_s - self.frozen[v.id].start_s)  # as reported
            if v.id in self.frozen else replace(v, release_s=max(self._release(v), self.clock_s))
            for v in self.problem.visits if v.id not in self.gone)
        return replace(self.problem, visits=visits)

    def day_problem(self) -> RoutingProblem:
        """The area's problem as it stands: every visit it holds, each with its call's release
        (what a live area of a stored plan starts from again)."""
        visits = tuple(replace(v, release_s=self._release(v)) for v in self.problem.visits
                       if v.id not in self.gone)
        return replace(self.problem, visits=visits)

    def _last_node(self, k: RoutingTechnician, ids: list[str]) -> int:
        return self._visit[ids[-1]].node if ids else k.start_node
