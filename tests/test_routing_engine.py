"""Routing engine: one hand-worked instance per constraint, plus a property test.

Nodes lie on a line; travel seconds = |x_i - x_j|, metres = 10 x seconds, so every expected time
below can be worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.errors import DispatchError
from dispatch.routing import (
    BreakRule,
    RoutingParams,
    RoutingProblem,
    RoutingTechnician,
    RoutingVisit,
    solve,
)
from dispatch.routing.checker import check
from tests.builders import ALL, line, line_problem, routing_tech, visit

H = 3600
FAST = RoutingParams(time_limit_s=0.3)


def run(p: RoutingProblem, params: RoutingParams = FAST, hard: bool = False):
    r = solve(p, params)
    assert check(p, r, hard_deadline=hard) == []
    return r


def seq(result, tid: str) -> list[str]:
    return next(([s.visit_id for s in r.stops] for r in result.routes if r.technician_id == tid), [])


def reasons(result) -> dict[str, str]:
    return {u.visit_id: u.reason_code for u in result.unassigned}


def test_skills_and_levels_pick_the_qualified_technician():
    """Only a technician with the level and product line serves a visit; one nobody qualifies for is no_skill."""
    # A is next to the visit but repairs phones only, up to level 1; B is far away but qualified.
    p = line_problem([0, 5000, 100],
                     [routing_tech("A", 0, level=1, skills=frozenset({"phone"})),
                      routing_tech("B", 1, level=2, skills=frozenset({"laptop"}))],
                     [visit("v", 2, level=2, skill="laptop"), visit("nobody", 2, level=3, skill="laptop")])
    r = run(p)
    assert seq(r, "B") == ["v"] and seq(r, "A") == []
    assert reasons(r) == {"nobody": "no_skill"}


def test_time_windows_order_and_exact_times():
    """Windows decide the order and the exact start times; a window nobody can reach is unreachable_window."""
    # late: window [7200, 7200]; early: window [0, 3600]. Only early -> late is feasible.
    p = line_problem([0, 600, 1200], [routing_tech("A")],
                     [visit("late", 1, ws=7200, we=7200), visit("early", 2, ws=0, we=3600),
                      visit("impossible", 2, ws=0, we=1000)])  # 1200 s away: cannot start by 1000
    r = run(p)
    assert seq(r, "A") == ["early", "late"]
    late = r.routes[0].stops[1]
    assert late.start_s == 7200 and late.end_s == 7800
    assert reasons(r) == {"impossible": "unreachable_window"}


def test_shift_end_is_hard_and_overtime_is_reported():
    """Work past shift end is refused without overtime; with allowed overtime it is served and the overtime reported."""
    # 1000 s out, 1800 s service, 1000 s back = 3800 s of work.
    short = line_problem([0, 1000], [routing_tech("A", end=3600)], [visit("v", 1, service=1800)])
    assert reasons(run(short)) == {"v": "unreachable_window"}
    ot = line_problem([0, 1000], [routing_tech("A", end=3600, max_overtime_s=600)], [visit("v", 1, service=1800)])
    r = run(ot)
    assert seq(r, "A") == ["v"] and r.routes[0].end_s == 3800 and r.routes[0].overtime_s == 200


def test_break_is_taken_in_its_window_and_never_during_service():
    """The break is taken inside its window and never during a service, the next visit waiting for it."""
    # Break fixed at [3600, 5400). v1 600-3000, drive to v2 arrives 3600, break, v2 5400-7800, home 9000.
    p = line_problem([0, 600, 1200], [routing_tech("A", brk=BreakRule(3600, 3600, 1800))],
                     [visit("v1", 1, service=2400, we=1000), visit("v2", 2, service=2400, ws=3000, we=6000)])
    r = run(p)
    route = r.routes[0]
    assert [s.visit_id for s in route.stops] == ["v1", "v2"]
    assert route.break_start_s == 3600
    assert route.stops[1].start_s == 5400 and route.end_s == 9000


def test_dispatch_deadline_bounds_departure_not_arrival():
    """The dispatch deadline bounds when a technician sets off, not when he arrives."""
    # far: 1200 s from the depot, deadline 100: leaving at 0 is on time though arrival is 1200.
    # near (service 1 h) first would mean leaving toward far at 4200: too late, so far goes first.
    p = line_problem([0, 600, 1200], [routing_tech("A")],
                     [visit("near", 1, service=3600), visit("far", 2, deadline=100)])
    r = run(p, RoutingParams(0.3, dispatch_deadline="hard"), hard=True)
    assert seq(r, "A") == ["far", "near"]
    far = r.routes[0].stops[0]
    assert far.departure_toward_s <= 100 and far.arrival_s == far.departure_toward_s + 1200
    assert far.dispatch_late_s == 0


def test_dispatch_deadline_soft_reports_lateness_hard_gives_reason():
    """A missed deadline is served and reported late when soft, and unassigned as deadline_unreachable when hard."""
    # The technician starts at 1000; the deadline is 100: 900 s late at best.
    p = line_problem([0, 600], [routing_tech("A", start=1000)], [visit("v", 1, deadline=100)])
    soft = run(p)
    assert seq(soft, "A") == ["v"] and soft.routes[0].stops[0].dispatch_late_s == 900
    hard = run(p, RoutingParams(0.3, dispatch_deadline="hard"), hard=True)
    assert reasons(hard) == {"v": "deadline_unreachable"}


def test_deadline_counts_from_the_end_of_the_previous_visit():
    """A technician sets off toward the next visit when the previous one ends, and that is the departure checked."""
    # a: fixed 600-1200 (start pinned by its window). b deadline 1200: leaving a at 1200 is on time.
    p = line_problem([0, 600, 900], [routing_tech("A")],
                     [visit("a", 1, ws=600, we=600), visit("b", 2, deadline=1200, ws=0)])
    r = run(p, RoutingParams(0.3, dispatch_deadline="hard"), hard=True)
    assert seq(r, "A") == ["a", "b"]
    assert r.routes[0].stops[1].departure_toward_s == 1200 and r.routes[0].stops[1].arrival_s == 1500


def test_pins_fix_technician_order_and_start():
    """Pins fix a visit's technician, sequence and start, even against a nearer technician."""
    # A is next to both visits; the pins send them to B, in the pinned (reverse) order, y at 5000.
    p = line_problem([0, 3000, 100, 200], [routing_tech("A", 0), routing_tech("B", 1)],
                     [visit("x", 2, pinned_technician="B", pinned_sequence=2),
                      visit("y", 3, pinned_technician="B", pinned_sequence=1, pinned_start_s=5000)])
    r = run(p)
    assert seq(r, "B") == ["y", "x"] and seq(r, "A") == []
    assert r.routes[0].stops[0].start_s == 5000


def test_priority_drop_keeps_the_urgent_visit_and_says_why():
    """When not all visits fit, the lower-priority one is dropped, its reason naming higher-priority work."""
    # Room for one 1 h visit in a 1.5 h shift; the normal one is nearer, the urgent one is kept.
    p = line_problem([0, 100, 600], [routing_tech("A", end=int(1.5 * H))],
                     [visit("normal", 1, service=H, priority=1), visit("urgent", 2, service=H, priority=3)])
    r = run(p)
    assert seq(r, "A") == ["urgent"]
    assert reasons(r) == {"normal": "capacity"}
    assert "higher-priority" in r.unassigned[0].reason


def test_capacity_splits_the_load():
    """Technician capacity splits visits whose total demand exceeds one technician's."""
    p = line_problem([0, 100, 200], [routing_tech("A", capacity=5), routing_tech("B", capacity=5)],
                     [visit("a", 1, demand=4), visit("b", 2, demand=4)])
    r = run(p)
    assert sorted(len(x.stops) for x in r.routes) == [1, 1]


def test_multiple_depots_and_speed_classes():
    """Technicians start from their own depots, and speed class 1 takes twice the travel time of class 0."""
    t, d = line([0, 10000, 9900, 100], classes=2)
    p = RoutingProblem(t, d, (routing_tech("west", 0), routing_tech("east", 1, speed_class=1)),
                       (visit("w", 3), visit("e", 2)), tuple("abcd"))
    r = run(p)
    assert seq(r, "west") == ["w"] and seq(r, "east") == ["e"]
    east = next(x for x in r.routes if x.technician_id == "east")
    assert east.stops[0].travel_s == 200  # speed class 1 takes twice as long


def test_warm_start_and_portfolio_return_checked_plans():
    """A warm start and a two-worker portfolio both return complete checked plans."""
    p = line_problem([0, 100, 200, 300], [routing_tech("A"), routing_tech("B")],
                     [visit("a", 1), visit("b", 2), visit("c", 3)])
    r = run(p, RoutingParams(0.3, initial_routes=(("B", ("c", "b", "a")),)))
    assert not r.unassigned
    r2 = run(p, RoutingParams(0.5, workers=2))
    assert not r2.unassigned and len(r2.stats["portfolio"]) == 2


def test_pyvrp_engine_on_plain_vrptw_and_refusal_otherwise():
    """PyVRP solves plain VRPTW and auto picks it; with a break auto picks OR-Tools and forcing PyVRP raises."""
    p = line_problem([0, 100, 200, 300], [routing_tech("A", capacity=10), routing_tech("B", capacity=10)],
                     [visit("a", 1, demand=6), visit("b", 2, demand=6), visit("c", 3, ws=2000)])
    r = run(p, RoutingParams(0.3, engine="pyvrp"))
    assert r.engine == "pyvrp" and not r.unassigned
    assert solve(p, RoutingParams(0.3, engine="auto")).engine == "pyvrp"
    with_break = line_problem([0, 100], [routing_tech("A", brk=BreakRule(0, H, 60))], [visit("a", 1)])
    assert solve(with_break, RoutingParams(0.2, engine="auto")).engine == "ortools"
    with pytest.raises(DispatchError):
        solve(with_break, RoutingParams(0.2, engine="pyvrp"))


def test_pyvrp_fleet_phase_stops_at_the_load_bound():
    """With vehicle minimisation, five technicians where two suffice (load 4 x 5 in vans of 10):
    the distance search already uses two, the load's lower bound, so the fleet phase tries no
    fewer, and the checked result uses two technicians."""
    techs = [routing_tech(f"T{i}", capacity=10) for i in range(5)]
    p = line_problem([0, 100, 200, 300, 400], techs, [visit(x, i + 1, demand=5) for i, x in enumerate("abcd")])
    r = run(p, RoutingParams(0.6, engine="pyvrp", route_elimination=0.5, arc_cost="distance"))
    assert r.stats["fleet"] == (5, 2) and r.stats["fleet_reduced"] is False
    assert r.vehicles == 2 and not r.unassigned


def test_pyvrp_fleet_phase_empties_a_route_the_distance_search_keeps():
    """Three visits 100 from the depot and 250 from each other, vans of 2: on distance alone
    three out-and-back trips (600) beat two routes (650), so the distance search ends with
    three; the fleet phase then finds the plan with two, which the fleet-first order prefers."""
    d = np.array([[0, 100, 100, 100], [100, 0, 250, 250], [100, 250, 0, 250], [100, 250, 250, 0]], dtype=np.int64)
    techs = tuple(routing_tech(f"T{i}", capacity=2) for i in range(4))
    p = RoutingProblem(d[None, :, :], d, techs, tuple(visit(x, i + 1, demand=1) for i, x in enumerate("abc")),
                       ("n0", "n1", "n2", "n3"))
    r = run(p, RoutingParams(0.6, engine="pyvrp", route_elimination=0.5, arc_cost="distance"))
    assert r.stats["fleet"] == (4, 2) and r.stats["fleet_reduced"] is True
    assert r.vehicles == 2 and not r.unassigned
    assert sum(x.distance_m for x in r.routes) == 650
    # The distance stage has no fixed cost, yet three out-and-back trips (600) stay out: the
    # fleet the fleet phase reached is its limit.
    assert r.stats["distance_stage"] == {"vehicles": 2, "from": 650, "to": 650}
    plain = run(p, RoutingParams(0.3, engine="pyvrp", arc_cost="distance"))
    assert plain.vehicles == 3 and sum(x.distance_m for x in plain.routes) == 600


def test_pyvrp_distance_stage_keeps_the_fleet_and_ends_at_its_shortest_plan():
    """Vehicles first, then distance: two vans of 4 on a line, visits at 100..400 and at -100..-400,
    each far from the others' side. The fleet stage's fixed cost leaves a plan of two routes; the
    distance stage (no fixed cost, at most two vehicles) ends at the two out-and-back sweeps,
    1600, which the checker verifies, and never above where it started."""
    techs = [routing_tech(f"T{i}", capacity=4, fixed_cost=10**6) for i in range(4)]
    xs = [0, 100, 200, 300, 400, -100, -200, -300, -400]
    p = line_problem(xs, techs, [visit(f"v{i}", i, demand=1) for i in range(1, 9)])
    r = run(p, RoutingParams(0.6, engine="pyvrp", route_elimination=0.3, arc_cost="time"))
    st = r.stats["distance_stage"]
    assert st["vehicles"] == 2 and r.vehicles == 2 and not r.unassigned
    assert st["to"] <= st["from"] and st["to"] == 1600
    assert sum(x.travel_s for x in r.routes) == 1600


def test_invalid_problem_is_refused():
    """A visit at a node outside the matrices is refused with a DispatchError."""
    with pytest.raises(DispatchError, match="node"):
        solve(line_problem([0, 1], [routing_tech("A")], [visit("v", 7)]), FAST)


@st.composite
def instances(draw):
    n_depots = draw(st.integers(1, 2))
    n_visits = draw(st.integers(0, 6))
    xs = draw(st.lists(st.integers(0, 3000), min_size=n_depots + n_visits, max_size=n_depots + n_visits))
    techs = []
    for i in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, 2 * H))
        end = start + draw(st.integers(H, 8 * H))
        brk = None
        if draw(st.booleans()):
            b0 = draw(st.integers(start, end))
            brk = BreakRule(b0, b0 + draw(st.integers(0, H)), draw(st.integers(0, 1800)))
        techs.append(routing_tech(f"t{i}", draw(st.integers(0, n_depots - 1)), start, end, draw(st.integers(1, 3)),
                                  draw(st.sampled_from([ALL, frozenset({"phone"}), frozenset({"laptop"})])), brk,
                                  max_overtime_s=draw(st.sampled_from([0, 1800])),
                                  capacity=draw(st.sampled_from([None, 3]))))
    visits = []
    for j in range(n_visits):
        ws = draw(st.integers(0, 8 * H))
        visits.append(visit(f"v{j}", n_depots + j, draw(st.integers(0, 2 * H)), ws, ws + draw(st.integers(0, 4 * H)),
                            draw(st.integers(1, 3)), draw(st.sampled_from([None, "phone", "laptop"])),
                            draw(st.integers(1, 3)), draw(st.one_of(st.none(), st.integers(0, 8 * H))),
                            demand=draw(st.integers(0, 2))))
    return line_problem(xs, techs, visits), draw(st.sampled_from(["soft", "hard"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_random_instances_give_checked_plans_with_every_visit_accounted_for(case):
    """On random instances every plan passes the checker and every visit is routed or unassigned with a reason."""
    p, mode = case
    r = solve(p, RoutingParams(0.2, dispatch_deadline=mode))
    assert check(p, r, hard_deadline=mode == "hard") == []
    routed = {s.visit_id for x in r.routes for s in x.stops}
    assert routed | {u.visit_id for u in r.unassigned} == {v.id for v in p.visits}
    assert all(u.reason for u in r.unassigned)


def test_solution_limit_makes_the_plan_reproducible():
    """With a solution limit the same problem gives the same routes twice."""
    rng = np.random.default_rng(4)
    xs = [0, 0] + [int(v) for v in rng.integers(0, 5000, 12)]
    p = line_problem(xs, [routing_tech("A", 0, end=5 * H, brk=BreakRule(2 * H, 3 * H, 1800)),
                          routing_tech("B", 1, end=5 * H)],
                     [visit(f"v{i}", i + 2, deadline=int(rng.integers(0, 3 * H)), priority=1 + i % 3) for i in range(12)])
    params = RoutingParams(time_limit_s=30, solution_limit=300)
    first, second = run(p, params), run(p, params)
    assert first.routes == second.routes and first.unassigned == second.unassigned


def test_released_calls_are_timed_exactly_and_never_set_off_early():
    """Calls released during the day are re-timed exactly: nothing sets off before its call, hard deadlines hold."""
    import numpy as np

    from dispatch.routing.checker import check
    from dispatch.travel import DEFAULT_TRAVEL

    rng = np.random.default_rng(3)
    n = 10
    lon = np.r_[120.0, 120.0 + rng.uniform(-0.15, 0.15, n)]
    lat = np.r_[30.0, 30.0 + rng.uniform(-0.15, 0.15, n)]
    tt, dd = DEFAULT_TRAVEL.matrices(lon, lat)
    techs = tuple(RoutingTechnician(f"k{i}", 0, 0, 8 * H, 18 * H, 2, frozenset({"*"}),
                                    BreakRule(12 * H, 14 * H, 2700), i % 2) for i in range(2))
    visits = []
    for i in range(n):
        rel = int(rng.integers(8 * H, 15 * H))
        visits.append(RoutingVisit(f"v{i}", i + 1, 1800, rel, rel + 4 * H, 1, None, 1, rel + H, release_s=rel))
    problem = RoutingProblem(tt, dd, techs, tuple(visits), tuple(["c"] + [v.id for v in visits]))
    for mode in ("soft", "hard"):
        res = solve(problem, RoutingParams(time_limit_s=0.3, dispatch_deadline=mode))
        assert check(problem, res, hard_deadline=mode == "hard") == []
        release = {v.id: v.release_s for v in visits}
        assert all(s.departure_toward_s >= release[s.visit_id] for r in res.routes for s in r.stops)
        assert len([s for r in res.routes for s in r.stops]) + len(res.unassigned) == n


def test_kilometres_at_their_cost_move_the_visit_to_the_cheaper_vehicle_at_the_break_even():
    """A car and a scooter at one depot, one visit 10 km away: 10 min by car, 20 by scooter.
    By time alone the car goes. At 1.2 CNY/km (car) and 0.2 (scooter) the car's 20 km cost 20 CNY
    more and save 1/3 h: the break-even is 60 CNY per hour of turnaround; above it the car, below
    it the scooter."""
    from dispatch.rules import CostRates

    t = np.array([[[0, 600], [600, 0]], [[0, 1200], [1200, 0]]], dtype=np.int64)
    d = np.array([[0, 10_000], [10_000, 0]], dtype=np.int64)
    problem = RoutingProblem(t, d, (routing_tech("CAR", speed_class=0), routing_tech("SCOOTER", speed_class=1)),
                             (visit("V", 1),), ("depot", "customer"))

    def who(weight: float | None) -> str:
        km = () if weight is None else CostRates(turnaround_cny_per_h=weight).km_as_turnaround_s(("car", "scooter"))
        res = solve(problem, RoutingParams(time_limit_s=2, warm_start="none", solution_limit=50, km_cost_s=km))
        assert not check(problem, res)
        return next(r.technician_id for r in res.routes if r.stops)

    assert who(None) == "CAR"
    assert who(61) == "CAR" and who(59) == "SCOOTER"
