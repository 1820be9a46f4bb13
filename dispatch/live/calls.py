"""What a live plan trades in: a new call, a technician's insertion option, job states, and how options are ranked."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from dispatch.errors import DispatchError
from dispatch.routing import (
    Unserved,
)


class JobState(StrEnum):
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    ON_SITE = "on_site"
    DONE = "done"
    UNASSIGNED = "unassigned"


FROZEN_STATES = frozenset({JobState.DISPATCHED, JobState.ON_SITE, JobState.DONE})


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


def rank_key(policy: str):  # type: ignore[no-untyped-def]
    """How insertion options are ranked. ``eta``: the earliest arrival (an urgent call, the
    dispatcher's emergency view); ``travel``: among insertions that meet the deadline, those
    asking no overtime, then the least added driving (everyday calls: the promise first, then
    the technicians' hours, then efficiency)."""
    if policy == "eta":
        return lambda o: (o.late_s, o.eta_s, o.overtime_s, o.added_travel_s)
    if policy == "travel":
        return lambda o: (o.late_s, o.overtime_s, o.added_travel_s, o.eta_s)
    raise DispatchError(f"unknown insertion policy {policy!r}; expected 'eta' or 'travel'")


def offer_key(policy: str, prefer=None):  # type: ignore[no-untyped-def]
    """How offers from several areas are compared (simulation, service, day plan): the promise
    kept first, then ``prefer(option)`` (lower first; e.g. a pickup whose technician's own centre
    can repair the device), then :func:`rank_key`."""
    rank = rank_key(policy)
    return lambda o: (o.late_s > 0, 0 if prefer is None else prefer(o), *rank(o))


def collection(call: NewCall, service_s: int) -> NewCall:
    """An on-site call as a collection for the bench: any technician may take it, and the work
    at the door is a hand-over of ``service_s`` (assignment rule 7)."""
    return replace(call, required_level=1, service_s=service_s)

