"""What a live plan trades in: a new call, a technician's insertion option, job states, and how options are ranked."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple

from dispatch.errors import DispatchError
from dispatch.model import DAY_S
from dispatch.routing import (
    RoutingTechnician,
    RoutingVisit,
    Stop,
    Unserved,
)


class JobState(StrEnum):
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    ON_SITE = "on_site"
    DONE = "done"
    UNASSIGNED = "unassigned"
    CANCELLED = "cancelled"


FROZEN_STATES = frozenset({JobState.DISPATCHED, JobState.ON_SITE, JobState.DONE})

# A job's field reports only move it forward: planned -> dispatched -> on_site -> done, or
# cancelled before the work starts; a report may skip a step (a technician who only taps
# "done"), never repeat or undo one. ``overrun`` (still working) puts or keeps a job on site. Keys are
# the report, values the reported states it may follow (PLANNED: nothing reported yet).
REPORT_FOLLOWS: dict[str, frozenset[JobState]] = {
    "dispatched": frozenset({JobState.PLANNED}),
    "on_site": frozenset({JobState.PLANNED, JobState.DISPATCHED}),
    "overrun": frozenset({JobState.PLANNED, JobState.DISPATCHED, JobState.ON_SITE}),
    "done": frozenset({JobState.PLANNED, JobState.DISPATCHED, JobState.ON_SITE}),
    "cancelled": frozenset({JobState.PLANNED, JobState.DISPATCHED}),
}
REPORTED_STATE = {"dispatched": JobState.DISPATCHED, "on_site": JobState.ON_SITE, "overrun": JobState.ON_SITE,
                  "done": JobState.DONE, "cancelled": JobState.CANCELLED}


def check_report(visit_id: str, status: str, at_s: int, last: tuple[JobState, int | None],
                 expected_end_s: int | None = None) -> None:
    """Raise :class:`StatusConflict` unless a ``status`` report at ``at_s`` may follow the job's
    ``last`` report (state, time): a later state, at the same time or after. An expected end is
    an overrun's only, and lies after the report."""
    if status not in REPORT_FOLLOWS:
        raise DispatchError(f"unknown status {status!r}; expected {', '.join(REPORT_FOLLOWS)}")
    if expected_end_s is not None and (status != "overrun" or expected_end_s <= at_s):
        raise DispatchError(f"an expected end belongs to an 'overrun' report and lies after it; got {status!r} "
                            f"at {at_s} expecting the end at {expected_end_s}")
    reported, last_s = last
    if reported not in REPORT_FOLLOWS[status] or (last_s is not None and at_s < last_s):
        raise StatusConflict(visit_id, status, reported, last_s)


def reported_times(st: Stop, status: str, at_s: int, expected_end_s: int | None = None) -> Stop:
    """A dispatched stop's times after a field report at ``at_s``; an ``overrun`` may say when
    the technician expects to finish (``expected_end_s``), else he is taken to be done just after."""
    if status == "on_site":
        start = max(at_s, st.start_s)
        return replace(st, arrival_s=at_s, start_s=start, end_s=start + (st.end_s - st.start_s))
    if status == "done":
        return replace(st, end_s=max(at_s, st.start_s))
    if status == "overrun":
        return replace(st, end_s=max(st.end_s, at_s + 1, expected_end_s or 0))
    if status == "cancelled":
        # Cancelled on his way: where he turned round is not known, so he is taken to reach the
        # door and leave at once (a drive the checker can verify).
        return replace(st, start_s=st.arrival_s, end_s=st.arrival_s)
    return st  # dispatched: the plan already froze the departure


class StatusConflict(DispatchError):
    """A field report that does not fit the job's reported state (the service answers 409)."""

    def __init__(self, visit_id: str, status: str, reported: JobState, at_s: int | None) -> None:
        self.visit_id, self.status, self.reported, self.reported_at_s = visit_id, status, reported, at_s
        may = sorted(s for s, follows in REPORT_FOLLOWS.items() if reported in follows)
        super().__init__(f"job {visit_id!r} is {reported.value}" + ("" if at_s is None else f" (reported at {at_s})")
                         + f"; a '{status}' report cannot follow it (next: {', '.join(may) or 'none, it is closed'})")


@dataclass(frozen=True)
class NewCall:
    """A call to insert: where, what, when the customer can be visited, and its deadline."""

    id: str
    lon: float
    lat: float
    service_s: int
    window_start_s: int
    window_end_s: int
    required_level: int = 1
    required_skill: str | None = None
    priority: int = 1
    release_s: int = 0  # the dispatch clock's start: nobody can set off before it
    dispatch_deadline_s: int | None = None
    pinned_technician: str | None = None  # a dispatcher's pin: only this technician may take it
    pinned_start_s: int | None = None


@dataclass(frozen=True)
class InsertionOption:
    technician_id: str
    position: int  # index in the technician's route (frozen stops included)
    departure_s: int
    eta_s: int  # arrival at the customer
    start_s: int
    meets_deadline: bool
    late_s: int
    added_travel_s: int
    route_end_s: int
    overtime_s: int = 0  # the technician's work past his shift end with this call in his route
    # What the ranking adds to the driving for a technician not yet out today (Rules.leave_home_s).
    leave_home_s: int = 0


@dataclass(frozen=True)
class DropOutResult:
    technician_id: str
    moved: tuple[tuple[str, str], ...]  # (visit id, new technician id)
    unserved: tuple[Unserved, ...]


def eta_table(options: list[InsertionOption], epoch_s: int = 0) -> list[dict[str, object]]:
    """The dispatcher's emergency view: one row per technician, best ETA first."""
    return [{"technician_id": o.technician_id, "sets_off_min": math.ceil((o.departure_s - epoch_s) / 60),
             "eta_min": math.ceil((o.eta_s - epoch_s) / 60), "meets_deadline": o.meets_deadline,
             "late_min": math.ceil(o.late_s / 60), "added_travel_min": math.ceil(o.added_travel_s / 60)}
            for o in options]


class Untimed(NamedTuple):
    """The best an insertion not yet timed can do: its least lateness, its earliest arrival, its
    added driving (exact) and no overtime. Every field of a :func:`rank_key` or :func:`offer_key`
    only grows with lateness, arrival, overtime and driving, so its key ranks no later than the
    timed option's: an option whose bound already ranks after a timed one cannot be chosen."""

    technician_id: str
    late_s: int
    eta_s: int
    added_travel_s: int  # with the cost of leaving home, if any (``leave_home_s`` then 0)
    overtime_s: int = 0
    leave_home_s: int = 0


def rank_key(policy: str):  # type: ignore[no-untyped-def]
    """How insertion options are ranked. ``eta``: the earliest arrival (an urgent call, the
    dispatcher's emergency view); ``travel``: among insertions that meet the deadline, those
    asking no overtime, then the least added driving (everyday calls: the promise first, then
    the technicians' hours, then efficiency). Driving is weighed with the cost of sending out a
    technician not yet out today (``leave_home_s``: ``Rules.leave_home_s``)."""
    if policy == "eta":
        return lambda o: (o.late_s, o.eta_s, o.overtime_s, o.added_travel_s + o.leave_home_s)
    if policy == "travel":
        return lambda o: (o.late_s, o.overtime_s, o.added_travel_s + o.leave_home_s, o.eta_s)
    raise DispatchError(f"unknown insertion policy {policy!r}; expected 'eta' or 'travel'")


def offer_key(policy: str, prefer=None):  # type: ignore[no-untyped-def]
    """How offers from several areas are compared (simulation, service, day plan): the promise
    kept first, then ``prefer(option)`` (lower first; e.g. a pickup whose technician's own centre
    can repair the device), then :func:`rank_key`."""
    rank = rank_key(policy)
    return lambda o: (o.late_s > 0, 0 if prefer is None else prefer(o), *rank(o))


def visit_of(call: NewCall, node: int) -> RoutingVisit:
    """The call as the routing engine's visit at ``node`` (its release is the live area's)."""
    return RoutingVisit(call.id, node, call.service_s, call.window_start_s, call.window_end_s,
                        call.required_level, call.required_skill, call.priority, call.dispatch_deadline_s,
                        pinned_technician=call.pinned_technician, pinned_start_s=call.pinned_start_s)


def first_shift_s(technicians: Iterable[RoutingTechnician]) -> int | None:
    """The earliest shift start among ``technicians`` (None: nobody)."""
    return min((t.shift_start_s for t in technicians), default=None)


def call_depart_s(call: NewCall, technicians: Iterable[RoutingTechnician], first_s: int | None = None) -> int:
    """The departure (seconds of the day) that prices a new call's legs, both ways: the earliest
    anyone can set off toward it (its release), not before the area's first shift starts. The
    call's own time rather than the area's clock, so that a replayed log rebuilds the same
    matrices. One hour for all its legs (the routing problem has no time-dependent transit): a
    call taken in the evening peak is driven to, and from, at the peak's pace. ``first_s``: the
    technicians' :func:`first_shift_s` when the caller keeps it (then ``technicians`` is not read)."""
    first = first_shift_s(technicians) if first_s is None else first_s
    return max(call.release_s, call.release_s if first is None else first) % DAY_S


def collection(call: NewCall, service_s: int) -> NewCall:
    """An on-site call as a collection for the bench: any technician may take it, and the work
    at the door is a hand-over of ``service_s`` (assignment rule 7)."""
    return replace(call, required_level=1, service_s=service_s)

