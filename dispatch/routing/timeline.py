"""The exact timeline of one technician's route, by the checker's rules (``dispatch.routing.checker``).

He sets off toward a visit as soon as he is free, but never before the call exists (the visit's
release) nor before ``clock_s``; he arrives after the drive, plus his break when he takes it on
the way; service starts inside the customer's window. The break is taken while he waits idle
(at his centre before the first call, or where he is until a call exists) when it fits there,
else as soon as the drive crosses its earliest start, or just before a service that would
otherwise push it past its latest start, or after the last visit. Frozen stops (work already under way) keep their times.

Used by real-time operations (every insertion is timed here) and by the routing adapter where
the solver's own times cannot be used as they are (calls released during the day).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dispatch.routing.problem import Route, RoutingProblem, RoutingTechnician, RoutingVisit, Stop


@dataclass
class Timeline:
    stops: list[Stop]
    start_s: int  # leaves his start node
    end_s: int  # back at his end node
    break_start_s: int | None
    feasible: bool
    why: str = ""
    bad_visit: str | None = None  # the first visit whose window cannot be kept


def timeline(
    problem: RoutingProblem,
    k: RoutingTechnician,
    ids: list[str],
    visits: Mapping[str, RoutingVisit],
    release: Mapping[str, int] | None = None,
    clock_s: int = 0,
    frozen: Mapping[str, Stop] | None = None,
    break_taken_s: int | None = None,
) -> Timeline:
    tt = problem.travel_s[k.speed_class]
    dd = problem.distance_m
    frozen = frozen or {}

    def release_of(vid: str) -> int:
        return release[vid] if release is not None and vid in release else visits[vid].release_s

    bw = k.break_window
    brk = break_taken_s
    stops: list[Stop] = []
    node, free = k.start_node, k.shift_start_s
    start_s = None
    n_frozen = 0
    for vid in ids:
        if vid not in frozen:
            break
        st = frozen[vid]
        if start_s is None:
            start_s = st.departure_toward_s
        stops.append(st)
        node, free = visits[vid].node, st.end_s
        n_frozen += 1
    if start_s is None:
        start_s = k.shift_start_s if not ids else max(k.shift_start_s, min(
            max(release_of(ids[0]), clock_s), k.shift_end_s))
        free = start_s
        if bw is not None and brk is None and ids:
            # Idle at his centre until the first call: the break fits there if the wait is long enough.
            b = max(k.shift_start_s, bw.earliest_start_s)
            if b <= bw.latest_start_s and b + bw.duration_s <= start_s:
                brk = b
    elif bw is not None and brk is None and free > bw.latest_start_s:
        # Work under way (as reported) ran past the break's latest start: he takes it as soon
        # as that work ends, late (the checker reports it), and the rest of his day follows.
        brk, free = free, free + bw.duration_s
    feasible, why, bad = True, "", None

    def fail(reason: str, vid: str | None = None) -> None:
        nonlocal feasible, why, bad
        if feasible:
            feasible, why = False, reason
        if bad is None and vid is not None:
            bad = vid

    for vid in ids[n_frozen:]:
        v = visits[vid]
        depart = max(free, release_of(vid), clock_s)
        if bw is not None and brk is None and depart > free:
            # He waits where he is (for the call, or for the clock): a break that fits in the
            # wait costs nothing there, and later it may no longer fit by its latest start.
            b = max(free, bw.earliest_start_s)
            if b <= bw.latest_start_s and b + bw.duration_s <= depart:
                brk = b
        leg, dist = int(tt[node, v.node]), int(dd[node, v.node])
        arrive = depart + leg
        start_floor = v.window_start_s
        if bw is not None and brk is not None and depart <= brk < arrive:
            arrive += bw.duration_s  # a break already placed falls on this drive
        elif bw is not None and brk is None:
            b = None
            if depart >= bw.earliest_start_s:
                b = depart
            elif arrive > bw.earliest_start_s:
                b = bw.earliest_start_s
            if b is not None and leg > 0:
                if b > bw.latest_start_s:
                    fail(f"the break of {k.id} cannot start by {bw.latest_start_s}", vid)
                brk, arrive = b, arrive + bw.duration_s
            else:
                # Arrived before the break window (or no drive): take it before the service when
                # waiting until after the service would be too late.
                would_end = max(arrive, v.window_start_s) + v.service_s
                if b is not None or would_end > bw.latest_start_s:
                    b = max(arrive, bw.earliest_start_s)
                    if b > bw.latest_start_s:
                        fail(f"the break of {k.id} cannot start by {bw.latest_start_s}", vid)
                    brk = b
                    start_floor = max(start_floor, b + bw.duration_s)
        start = max(arrive, start_floor)
        if v.pinned_start_s is not None:
            if start > v.pinned_start_s:  # a dispatcher's pinned time is a promise too
                fail(f"visit {vid} cannot start at its pinned time {v.pinned_start_s}", vid)
            start = max(start, v.pinned_start_s)
        if start > v.window_end_s:
            fail(f"visit {vid} would start after its window ends", vid)
        late = 0 if v.dispatch_deadline_s is None else max(0, depart - v.dispatch_deadline_s)
        stops.append(Stop(vid, depart, arrive, start, start + v.service_s, leg, dist, late))
        node, free = v.node, start + v.service_s
    leg = int(tt[node, k.end_node])
    end = free + leg
    if bw is not None and brk is not None and free <= brk < end:
        end += bw.duration_s
    elif bw is not None and brk is None:
        b = max(free, bw.earliest_start_s)
        if b < end and leg > 0:
            end += bw.duration_s
        if b > bw.latest_start_s:
            fail(f"the break of {k.id} cannot start by {bw.latest_start_s}", ids[-1] if ids else None)
        brk = b
    if end > k.shift_end_s + k.max_overtime_s:
        fail(f"{k.id} would be back after his shift ends", ids[-1] if ids else None)
    if not ids:
        end = start_s
        if bw is not None and brk is None:
            brk = bw.earliest_start_s
    return Timeline(stops, start_s, end, brk, feasible, why, bad)


def earliest_reach(free_s: int, earliest_s: int, leg_s: int, v: RoutingVisit, on_s: int,
                   limit_s: int) -> tuple[int, int] | None:
    """The earliest a technician free at ``free_s`` (his previous stop's end in the route as
    timed, or his shift's start) can set off toward ``v`` and reach it, ``leg_s`` away, when he
    may set off toward it at ``earliest_s`` at the earliest (its release, the clock); or None
    when it cannot start in its window, or cannot be left ``on_s`` before ``limit_s``: the next
    visit's window end, or as his last visit, home by the shift's end and allowed overtime.
    Bounds without breaks and waits (which only make him later): an insertion it refuses is one
    the exact timeline would refuse too, and the timeline's departure and arrival are never
    earlier."""
    depart = max(free_s, earliest_s)
    arrive = depart + leg_s
    start = max(arrive, v.window_start_s)
    if start > v.window_end_s or start + v.service_s + on_s > limit_s:
        return None
    return depart, arrive


def as_route(problem: RoutingProblem, k: RoutingTechnician, ids: list[str], t: Timeline,
             visits: Mapping[str, RoutingVisit]) -> Route:
    """A non-empty route timed by ``t`` (its timeline), with the drive home in its totals."""
    last = visits[ids[-1]].node
    return Route(k.id, tuple(t.stops), t.start_s, t.end_s,
                 sum(s.travel_s for s in t.stops) + int(problem.travel_s[k.speed_class][last, k.end_node]),
                 sum(s.distance_m for s in t.stops) + int(problem.distance_m[last, k.end_node]),
                 t.break_start_s, max(0, t.end_s - k.shift_end_s))
