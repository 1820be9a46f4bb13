"""Appointment slots at intake (``POST /calls/slots``) and the booking of one (``POST /calls``
with ``booked``): which day's plan a booked window goes to, and the slots' answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dispatch.live.calls import InsertionOption, NewCall
from dispatch.live.slots import Slot
from dispatch.model import DAY_S
from dispatch.rules import Rules
from dispatch.service.errors import ServiceError
from dispatch.store import ServiceEntry, Store

# The id a slot probe is inserted under: the id rule (``dispatch.ids``) lets no call have it.
SLOT_PROBE_ID = "#slot-offer"


def booking_day(body: dict[str, Any], call: NewCall, today: int, rules: Rules) -> int | None:
    """The day whose plan a booked call goes to (its window's), or None when the call is not a
    booking (422 when the window is not given or lies outside the slot horizon)."""
    if not body.get("booked"):
        return None
    if not (body.get("window_start") and body.get("window_end")):
        raise ServiceError(422, "a booking needs the chosen slot's window_start and window_end "
                           "(POST /calls/slots offers them)", "window_start")
    day = call.window_start_s // DAY_S
    if not today <= day < today + rules.slot_days:
        raise ServiceError(422, f"a booked window must start within the next {rules.slot_days} days (the slot "
                           f"horizon, day {today} to {today + rules.slot_days - 1}); this one is on day {day}",
                           "window_start")
    return day


def booked_for(store: Store, scope_of: Callable[[int], str], day: int, earlier: Iterable[int]) -> list[ServiceEntry]:
    """What the servers of the ``earlier`` days logged about the calls they booked for ``day``:
    the bookings and their field reports (a cancellation), oldest day first, each day in its
    log's order. A day's plan opens with them, in that order, before its own log."""
    out: list[ServiceEntry] = []
    for d in earlier:
        if d < 0:
            continue
        entries = store.service_entries(scope_of(d))
        jobs = {e.key for e in entries if e.kind == "call" and e.payload.get("day") == day}
        out += [e for e in entries if e.key in jobs and e.kind in ("call", "status")]
    return out


def slots_answer(slots: list[Slot], at_s: int, warnings: list[str], iso: Callable[[int | None], str | None],
                 option: Callable[[str, InsertionOption], dict[str, Any]], rules: Rules,
                 priority: int) -> dict[str, Any]:
    """The slots as the customer is offered them, best first."""
    rows = [{"rank": i + 1, "day": s.day, "window_start": iso(s.window_start_s), "window_start_s": s.window_start_s,
             "window_end": iso(s.window_end_s), "window_end_s": s.window_end_s, **option(s.area, s.option),
             "turnaround_s": s.turnaround_s} for i, s in enumerate(slots)]
    return {"at": iso(at_s), "at_s": at_s, "warnings": warnings, "days": rules.slot_days,
            "window_s": rules.slot_window_s_by_priority[priority], "slots": rows}
