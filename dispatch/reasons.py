"""Why a call is not served (or not as promised): one code each, with the sentence a dispatcher
reads. Codes are strings (``Reason`` is a ``StrEnum``), so frames, the store and the service
carry them as they always did; a message may add detail to the sentence, never change the code.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # The day plan
    NEXT_DAY = "next_day"
    # Assignment
    NO_TECHNICIAN_IN_REACH = "no_technician_in_reach"
    NO_CAPABLE_CENTRE = "no_capable_centre"
    CAPACITY_FULL = "capacity_full"
    # Routing (pre-check and solver)
    NO_SKILL = "no_skill"
    UNREACHABLE_WINDOW = "unreachable_window"
    DEADLINE_UNREACHABLE = "deadline_unreachable"
    NO_CAPACITY = "no_capacity"
    PIN_INFEASIBLE = "pin_infeasible"
    CAPACITY = "capacity"
    # The live plan
    OUT_OF_REACH_TODAY = "out_of_reach_today"
    LATE = "late"
    CANCELLED = "cancelled"
    # The simulation
    NO_FREE_TECHNICIAN = "no_free_technician"
    OPEN_AT_HORIZON = "open_at_horizon"

    @property
    def sentence(self) -> str:
        return SENTENCES[self]


SENTENCES: dict[Reason, str] = {
    Reason.NEXT_DAY: "called in today, served on a later day (the clock starts at the next opening, or the "
                     "customer's window is then); planned with that day",
    Reason.NO_TECHNICIAN_IN_REACH: "no staffed centre within the maximum drive of the customer",
    Reason.NO_CAPABLE_CENTRE: "no centre in the escalation chain can repair this level",
    Reason.CAPACITY_FULL: "bench capacity at all candidate centres is full for the next days",
    Reason.NO_SKILL: "no technician in the area has the required repair level and product line",
    Reason.UNREACHABLE_WINDOW: "the time window cannot be reached from any qualified technician's centre within "
                               "his shift",
    Reason.DEADLINE_UNREACHABLE: "no qualified technician can set off before the dispatch deadline and still "
                                 "reach the time window",
    Reason.NO_CAPACITY: "the load exceeds every qualified technician's capacity",
    Reason.PIN_INFEASIBLE: "the visit is pinned to a technician who cannot serve it",
    Reason.CAPACITY: "every technician who could reach it in time is busy: it fits nobody's day without "
                     "breaking a window, a met deadline or a shift",
    Reason.OUT_OF_REACH_TODAY: "no technician could reach it inside the customer's window and be back by the end "
                               "of his shift, even with nothing else to do; offer the customer another day",
    Reason.LATE: "no technician can set off within the hour without breaking another customer's promise; this "
                 "is the earliest arrival that keeps them",
    Reason.CANCELLED: "the customer called the visit off before a technician set off",
    Reason.NO_FREE_TECHNICIAN: "no technician free today; re-booked for tomorrow",
    Reason.OPEN_AT_HORIZON: "still open when the simulation ended",
}

# The solver's own account of a visit it dropped (code ``Reason.CAPACITY``): more precise than
# the sentence, since only the priorities decided it.
DROPPED_FOR_PRIORITY = "dropped: the technicians' hours are full with higher-priority work"
