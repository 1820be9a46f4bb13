"""Appointment slots for a new call: the windows over the next days that the live plan can keep.

For each day of the horizon (today and the next ``Rules.slot_days - 1``), the windows of the
call's length (``Rules.slot_window_s_by_priority``: VIP and enterprise customers get narrower
ones) start every ``Rules.slot_step_s`` inside the customer's hours. Each window is tried by
insertion into that day's live plan of every candidate area (:meth:`LiveArea.urgent_options`,
the same exact timeline as every other insertion: windows, shifts, breaks, kept promises), so a
slot is offered only if some technician can keep it today as the plan stands; nothing is added
to any plan. The best technician of a window is the one :func:`~dispatch.live.decision.decide`
would pick (:func:`~dispatch.live.calls.offer_key` with the call's ranking). Slots are ranked
by the one-hour promise first, then by the appointment's start plus
``Rules.slot_travel_weight`` times the driving it adds; ``Rules.slot_count`` are offered, spread
over the days (:func:`spread`: the best of each day, so a customer who cannot take tomorrow
still has a choice), in that order.

A booked slot (``dispatch.service``) is then placed with :func:`decide` in its day's plan, its
window a hard constraint of every later insertion, drop-out and re-plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dispatch.live.area import LiveArea
from dispatch.live.calls import InsertionOption, NewCall, offer_key
from dispatch.model import DAY_S
from dispatch.rules import Rules


@dataclass(frozen=True)
class Slot:
    """A window the plan can keep, with who would go and when he would arrive."""

    day: int
    window_start_s: int
    window_end_s: int
    area: str
    option: InsertionOption
    created_s: int  # the call
    service_s: int

    @property
    def technician_id(self) -> str:
        return self.option.technician_id

    @property
    def eta_s(self) -> int:
        return self.option.eta_s

    @property
    def meets_deadline(self) -> bool:
        """Whether the technician sets off within the hour (counted from the dispatch clock's
        start: the window's start for a later appointment, ``dispatch.hours``)."""
        return self.option.meets_deadline

    @property
    def turnaround_s(self) -> int:
        """From the call to the end of the work at the customer's door."""
        return self.option.start_s + self.service_s - self.created_s


def slot_windows(day: int, at_s: int, length_s: int, rules: Rules) -> list[tuple[int, int]]:
    """The windows of ``length_s`` on ``day`` that start at or after ``at_s``, every
    ``rules.slot_step_s`` from the start of the customer's hours, each ending by their end."""
    first, last = (day * DAY_S + h for h in rules.customer_hours_s)
    return [(ws, ws + length_s) for ws in range(first, last - length_s + 1, rules.slot_step_s) if ws >= at_s]


def offer_slots(
    call_for: Callable[[int, int], NewCall], lives: Callable[[int], Mapping[str, LiveArea]],
    candidates: Sequence[str], at_s: int, priority: int, rules: Rules,
    days: int | None = None, count: int | None = None,
) -> list[Slot]:
    """The best ``count`` (default ``rules.slot_count``) slots over ``days`` days (default
    ``rules.slot_days``) from ``at_s``'s day for the call ``call_for(window_start_s,
    window_end_s)`` builds (its release and dispatch deadline depend on the window), in the
    ``candidates`` areas of each day's plan ``lives(day)``. Adds nothing to any plan."""
    days = rules.slot_days if days is None else days
    count = rules.slot_count if count is None else count
    policy = rules.ranking(priority)
    rank = offer_key(policy)
    length_s = rules.slot_window_s_by_priority[priority]
    def key(s: Slot) -> tuple[bool, float, int]:
        return not s.meets_deadline, s.window_start_s + rules.slot_travel_weight * s.option.added_travel_s, s.window_start_s

    slots: list[Slot] = []
    best: float | None = None  # the best promise-keeping slot's start + weighted driving so far
    first = at_s // DAY_S
    for day in range(first, first + days):
        # The best slot alone (count 1): a window starting after the best so far ranks after it
        # whatever it adds (its key is at least its start), so the search stops there.
        if count == 1 and best is not None and day * DAY_S > best:
            break
        areas = lives(day)
        names = [a for a in candidates if a in areas]
        for ws, we in slot_windows(day, at_s, length_s, rules):
            if count == 1 and best is not None and ws > best:
                break
            call = call_for(ws, we)
            who: tuple[tuple, str, InsertionOption] | None = None
            for name in names:
                # Only each window's best counts: the search may stop at the first insertion
                # that keeps the promise without overtime (the same best as a full search's).
                for o in areas[name].urgent_options(call, policy=policy, settle_first=policy == "travel"):
                    k = (rank(o), names.index(name), o.technician_id)
                    if who is None or k < who[0]:
                        who = (k, name, o)
            if who is not None:
                slots.append(Slot(day, ws, we, who[1], who[2], at_s, call.service_s))
                if slots[-1].meets_deadline:
                    best = min(key(slots[-1])[1], best if best is not None else float("inf"))
    return spread(sorted(slots, key=key), count, days)


def spread(ranked: Sequence[Slot], count: int, days: int) -> list[Slot]:
    """The ``count`` slots to offer from ``ranked`` (best first): a choice across the days (the
    best ``ceil(count / days)`` of each day), the places a day cannot fill taken by the best of
    the rest; offered in ``ranked``'s order (earliest keepable first)."""
    per_day = -(-count // days)
    taken: dict[int, int] = {}
    chosen: list[Slot] = []
    for s in ranked:
        if len(chosen) < count and taken.get(s.day, 0) < per_day:
            chosen.append(s)
            taken[s.day] = taken.get(s.day, 0) + 1
    chosen += [s for s in ranked if s not in chosen][:count - len(chosen)]
    return sorted(chosen, key=ranked.index)
