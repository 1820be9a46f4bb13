"""The independent checker catches deliberately broken plans.

Each test starts from a hand-built feasible plan (checked clean) and breaks one thing.
Line: depot at 0, visits a at 600 and b at 1200 (travel seconds = distance / 10 m).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatch.routing import (
    BreakRule,
    Route,
    RoutingProblem,
    RoutingResult,
    RoutingTechnician,
    RoutingVisit,
    Stop,
    Unserved,
)
from dispatch.routing.checker import check
from tests.builders import line

T, D = line([0, 600, 1200])
A = RoutingTechnician("A", 0, 0, 0, 36000, 2, frozenset({"phone"}), BreakRule(3600, 4000, 1800), 0, capacity=5)
VA = RoutingVisit("a", 1, 600, 0, 2000, 1, "phone", 1, 100, demand=3)
VB = RoutingVisit("b", 2, 600, 0, 9000, 2, "phone", 1, 1300, demand=2)
VC = RoutingVisit("c", 2, 600, 0, 9000, 1, None, 1, None)
PROBLEM = RoutingProblem(T, D, (A,), (VA, VB, VC), ("depot", "a", "b"))

# a: leave 0, arrive 600, 600-1200; b: leave 1200, arrive 1800, 1800-2400; home 3600; break 3600.
GOOD = RoutingResult(
    routes=(Route("A", (Stop("a", 0, 600, 600, 1200, 600, 6000, 0),
                        Stop("b", 1200, 1800, 1800, 2400, 600, 6000, 0)),
                  0, 3600, 2400, 24000, 3600, 0),),
    unassigned=(Unserved("c", "capacity", "dropped: the technicians' hours are full with higher-priority work"),),
    status="feasible", objective=0)


def with_stops(*stops: Stop, **route_fields) -> RoutingResult:
    route = replace(GOOD.routes[0], stops=tuple(stops), **route_fields)
    return replace(GOOD, routes=(route,))


def test_good_plan_is_clean():
    """The hand-built feasible plan passes the checker with soft and with hard deadlines."""
    assert check(PROBLEM, GOOD) == []
    assert check(PROBLEM, GOOD, hard_deadline=True) == []


def test_late_window():
    """A visit started after its window closes is reported as outside its window."""
    a, b = GOOD.routes[0].stops
    late_a = replace(a, start_s=2100, end_s=2700)
    b2 = replace(b, departure_toward_s=2700, arrival_s=3300, start_s=3300, end_s=3900)
    v = check(PROBLEM, with_stops(late_a, b2, end_s=5100, break_start_s=3900 + 1200))
    assert any("outside its window" in s for s in v)


def test_missed_break():
    """A route that skips the technician's break is reported."""
    v = check(PROBLEM, with_stops(*GOOD.routes[0].stops, break_start_s=None))
    assert any("no break" in s for s in v)


def test_break_outside_window_or_over_service():
    """A break started outside its window, or overlapping a service, is reported."""
    assert any("outside [3600, 4000]" in s for s in check(PROBLEM, with_stops(*GOOD.routes[0].stops, break_start_s=100)))
    a, b = GOOD.routes[0].stops
    b2 = replace(b, start_s=3700, end_s=4300)  # service over the break at 3600-5400
    v = check(PROBLEM, with_stops(a, b2, end_s=7000, break_start_s=3600))
    assert any("overlaps the service" in s for s in v)


def test_wrong_skill_and_level():
    """A technician below a visit's level or without its product line is reported for that visit."""
    weak = replace(A, max_level=1, skills=frozenset({"laptop"}))
    v = check(replace(PROBLEM, technicians=(weak,)), GOOD)
    assert any("needs level 1 / phone" in s for s in v) and any("needs level 2" in s for s in v)


def test_dispatch_deadline_broken():
    """Misreported dispatch lateness is caught; reported right it passes soft deadlines and fails hard ones."""
    # b's deadline is 1300; make it 1100: leaving at 1200 is 100 s late, reported as 0.
    tight = replace(VB, dispatch_deadline_s=1100)
    p = replace(PROBLEM, visits=(VA, tight, VC))
    v = check(p, GOOD)
    assert any("dispatch lateness reported 0, recomputed 100" in s for s in v)
    fixed = with_stops(GOOD.routes[0].stops[0], replace(GOOD.routes[0].stops[1], dispatch_late_s=100))
    assert check(p, fixed) == []
    assert any("after the dispatch deadline" in s for s in check(p, fixed, hard_deadline=True))


def test_misreported_departure_or_arrival():
    """A departure or arrival that differs from the recomputed timeline is reported."""
    a, b = GOOD.routes[0].stops
    v = check(PROBLEM, with_stops(a, replace(b, departure_toward_s=1150)))
    assert any("departure reported 1150" in s for s in v)
    v = check(PROBLEM, with_stops(a, replace(b, arrival_s=1700, start_s=1700, end_s=2300)))
    assert any("arrival reported 1700" in s for s in v)


@pytest.mark.parametrize("case", ["twice", "missing"])
def test_visit_twice_or_missing(case):
    """A visit listed twice, or neither routed nor unassigned, is reported."""
    a, b = GOOD.routes[0].stops
    if case == "twice":
        res = replace(GOOD, unassigned=GOOD.unassigned + (Unserved("a", "x", "y"),))
        assert any("appears 2 times" in s for s in check(PROBLEM, res))
    else:
        res = replace(GOOD, unassigned=())
        assert any("neither routed nor unassigned" in s for s in check(PROBLEM, res))


def test_capacity_shift_and_pins():
    """Load over capacity, work after shift end, a pin to another technician and a broken pinned order are each reported."""
    small = replace(A, capacity=4)
    assert any("exceeds capacity" in s for s in check(replace(PROBLEM, technicians=(small,)), GOOD))
    early_end = replace(A, shift_end_s=3000)
    assert any("after shift end" in s for s in check(replace(PROBLEM, technicians=(early_end,)), GOOD))
    pinned = replace(PROBLEM, visits=(replace(VA, pinned_technician="B"), VB, VC))
    assert any("pinned to B" in s for s in check(pinned, GOOD))
    ordered = replace(PROBLEM, visits=(replace(VA, pinned_sequence=2), replace(VB, pinned_sequence=1), VC))
    assert any("pinned order" in s for s in check(ordered, GOOD))


def test_totals_and_return_time():
    """Route totals that do not add up, and an end before the technician can be back, are reported."""
    assert any("route totals" in s for s in check(PROBLEM, with_stops(*GOOD.routes[0].stops, travel_s=1)))
    assert any("cannot be back" in s for s in check(PROBLEM, with_stops(*GOOD.routes[0].stops, end_s=3000)))
