"""The business-hours calendar: when a centre is open, when the one-hour clock starts, when a
promise falls due, and how much of the opening hours lie between two moments.

The one-hour promise runs on the answering centre's opening hours: a call at 17:30 at a station
closing at 18:00 has used 30 minutes by closing and is due 30 minutes after the next opening.
Every deadline in the planner comes from here (through :meth:`dispatch.rules.Rules.dispatch_deadline`).
"""

from __future__ import annotations

from dispatch.errors import DispatchError
from dispatch.model import DAY_S, Centre, Request

# A centre is open every day, so a year of days is more than any deadline needs.
_MAX_DAYS = 400


def opening_start(centre: Centre, t_s: int) -> int:
    """The first moment >= t_s when the centre is open."""
    day = t_s // DAY_S
    tod = t_s - day * DAY_S
    if tod < centre.opening.start_s:
        return day * DAY_S + centre.opening.start_s
    if tod >= centre.opening.end_s:
        return (day + 1) * DAY_S + centre.opening.start_s
    return t_s


def dispatch_clock_start(centre: Centre, request: Request) -> int:
    """When the one-hour dispatch clock starts: at the call, or when the customer can first be
    visited if that is later (an evening call booked for the next morning), and in any case
    not before the centre is open (an after-hours call starts at the next opening). Walk-ins:
    when the customer walks in."""
    t = request.created_s
    if request.mode.travels:
        t = max(t, request.window.start_s)
    return opening_start(centre, t)


def business_deadline(centre: Centre, start_s: int, seconds: int) -> int:
    """The moment ``seconds`` of the centre's opening hours have passed since ``start_s``."""
    t = opening_start(centre, start_s)
    left = seconds
    for _ in range(_MAX_DAYS):
        day = t // DAY_S
        close = day * DAY_S + centre.opening.end_s
        if t + left <= close:
            return t + left
        left -= close - t
        t = (day + 1) * DAY_S + centre.opening.start_s
    raise DispatchError(f"centre {centre.id} has no opening hours to count {seconds} s in; expected an "
                        f"opening window longer than zero")


def business_seconds(centre: Centre, start_s: float, end_s: float) -> float:
    """Seconds of the centre's opening hours between two moments (0 if ``end_s`` is earlier)."""
    if not end_s > start_s:
        return 0.0
    total, t = 0.0, float(start_s)
    for _ in range(_MAX_DAYS):
        day = int(t // DAY_S)
        open_s, close_s = day * DAY_S + centre.opening.start_s, day * DAY_S + centre.opening.end_s
        total += max(0.0, min(end_s, close_s) - max(t, open_s))
        t = (day + 1) * DAY_S
        if t >= end_s:
            return total
    return total
