"""The field-service engine's PyVRP phase, the exact ruin-and-recreate search, and the hindsight
figures: small hand-built cases on a line (travel seconds = |x_i - x_j|, metres = 10 x that)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from dispatch.bench.hindsight import called_at, figures, ratios, solve_offline
from dispatch.routing import (
    BreakRule,
    Route,
    RoutingParams,
    RoutingResult,
    Stop,
    check,
    pyvrp_can_express,
    solve,
)
from dispatch.routing.lns import improve, routes_result
from dispatch.routing.pyvrp import pyvrp_start
from tests.builders import line_problem, live_area, new_call, routing_tech, visit

H = 3600


def test_pyvrp_phase_respects_skills_and_overtime_exactly():
    """Skills become PyVRP profiles and overtime its own: PyVRP alone gives a checked plan in
    which only the qualified technician does the laptop call, and the long job runs into the
    allowed overtime."""
    p = line_problem([0, 100, 200, 300], [routing_tech("A", skills=frozenset({"phone"})),
                                          routing_tech("B", max_overtime_s=H, end=2 * H)],
                     [visit("a", 1, skill="phone"), visit("b", 2, skill="laptop"),
                      visit("c", 3, service=2 * H - 200, skill="laptop")])
    params = RoutingParams(0.3, engine="pyvrp")
    assert pyvrp_can_express(p, params)
    r = solve(p, params)
    assert check(p, r) == [] and not r.unassigned
    by = {s.visit_id: x.technician_id for x in r.routes for s in x.stops}
    assert by == {"a": "A", "b": "B", "c": "B"}
    # B: 600 s of driving and 600 + 7,000 s of work in a two-hour shift: 1,000 s of overtime.
    assert next(x for x in r.routes if x.technician_id == "B").overtime_s == 1000


def test_warm_start_cuts_relaxed_routes_back_to_what_the_rules_keep():
    """With a break PyVRP does not know, the start's routes are cut back by the exact timeline
    (nothing infeasible goes to OR-Tools), and the final plan passes the checker."""
    brk = BreakRule(H, H, 2 * H)  # a fixed two-hour break from 1 h to 3 h
    p = line_problem([0, 100, 200, 300, 400], [routing_tech("A", end=4 * H, brk=brk)],
                     [visit(f"v{i}", i + 1, service=1200, ws=0, we=4 * H) for i in range(4)])
    params = RoutingParams(1.0)
    stats: dict = {}
    routes, exact = pyvrp_start(p, params, 0.3, stats)
    assert not exact
    assert check(p, routes_result(p, {t: list(ids) for t, ids in routes})) == []
    r = solve(p, params)
    assert check(p, r) == [] and "warm_start" in r.stats
    assert not solve(p, RoutingParams(1.0, warm_start="none")).stats.get("warm_start")


def test_lns_inserts_everything_it_can_and_never_breaks_a_rule():
    """From nothing, the exact search routes every visit it can (windows and the break timed
    exactly) and reports the rest; from a poor start it only gets better."""
    rng = np.random.default_rng(1)
    xs = [0, 0] + [int(x) for x in rng.integers(0, 3000, 12)]
    techs = [routing_tech("A", 0, end=5 * H, brk=BreakRule(2 * H, 3 * H, 1800)), routing_tech("B", 1, end=5 * H)]
    visits = [visit(f"v{i}", i + 2, service=900, deadline=int(rng.integers(H, 4 * H)), release_s=int(rng.integers(0, H)))
              for i in range(12)]
    p = line_problem(xs, techs, visits)
    params = RoutingParams(0.5, seed=3)
    routes, stats = improve(p, {}, params, 0.5)
    r = routes_result(p, routes, stats=stats)
    assert check(p, r) == []
    assert {s.visit_id for x in r.routes for s in x.stops} | {u.visit_id for u in r.unassigned} == {v.id for v in visits}
    assert stats["end_cost"] <= stats["start_cost"]
    via_engine = solve(p, RoutingParams(0.3, engine="lns"))
    assert check(p, via_engine) == [] and via_engine.engine == "lns"


def test_lns_shortens_a_zigzag():
    """Four visits on a line served in zigzag order (far, near, far, near) come back in order:
    travel falls from 1,400 s to the 800 s of out and back."""
    p = line_problem([0, 100, 200, 300, 400], [routing_tech("A")], [visit(f"v{i}", i + 1, service=60) for i in range(4)])
    zigzag = {"A": ["v3", "v0", "v2", "v1"]}
    before = routes_result(p, zigzag)
    assert before.routes[0].travel_s == 400 + 300 + 200 + 100 + 200
    routes, _ = improve(p, zigzag, RoutingParams(0.2), 0.2)
    after = routes_result(p, routes)
    assert check(p, after) == [] and after.routes[0].travel_s == 800


def _stop(vid: str, late: int) -> Stop:
    return Stop(vid, 0, 10, 10, 20, 10, 1000, late)


def test_hindsight_figures_and_ratios_by_hand():
    """Three visits: online serves two (one late) over 5 km with 1 h overtime; offline serves
    all three on time over 4 km: one-hour rates 1/3 and 3/3, ratios 1.25 km and 1/3."""
    p = line_problem([0, 1, 2, 3], [routing_tech("A"), routing_tech("B")],
                     [visit("a", 1), visit("b", 2, priority=3), visit("c", 3)])
    online = RoutingResult((Route("A", (_stop("a", 0), _stop("b", 60)), 0, 100, 20, 5000, None, H),), (), "x", 0)
    offline = RoutingResult((Route("A", (_stop("a", 0), _stop("b", 0)), 0, 100, 20, 3000, None, 0),
                             Route("B", (_stop("c", 0),), 0, 100, 20, 1000, None, 0)), (), "x", 0)
    on, off = figures(p, online).as_dict(), figures(p, offline).as_dict()
    assert (on["served"], on["on_time"], on["urgent_on_time"], on["travel_km"], on["overtime_h"]) == (2, 1, 0, 5.0, 1.0)
    assert on["one_hour_rate"] == 1 / 3 and off["one_hour_rate"] == 1.0 and off["urgent_one_hour_rate"] == 1.0
    r = ratios(on, off)
    assert r["travel_km"] == 1.25 and r["one_hour_rate"] == 1 / 3 and r["served"] == 2 / 3
    assert r["overtime_h"] == float("inf")


def test_exact_search_reoptimises_a_live_tail_and_keeps_frozen_work():
    """The online policy's re-solve by the exact search: a zigzag route's driving falls by over
    20 %, frozen work stays where it was, and the checker passes the live plan."""
    area = live_area(n_techs=1, break_rule=False)
    for i, lon in enumerate([120.11, 120.29, 120.12, 120.28, 120.13, 120.27]):
        area.insert(new_call(f"J{i}", lon, 30.87, 8 * H, window_h=9, deadline=False))
    area.advance(8 * H + 60)
    frozen_before = dict(area.frozen)
    travel_before = sum(r.travel_s for r in area.result().routes)
    assert area.reoptimise(RoutingParams(time_limit_s=0.3, engine="lns"))
    assert sum(r.travel_s for r in area.result().routes) < 0.8 * travel_before
    assert all(area.frozen[vid] == stop for vid, stop in frozen_before.items())
    assert sorted(area.routes["T1"]) == [f"J{i}" for i in range(6)]
    assert check(area.checked_problem(), area.result()) == []


def test_timeline_takes_the_break_while_he_waits_idle():
    """A technician idle at his centre until a call at 4 h, break window 1-2 h (30 min): the
    break is taken at 1 h at the centre, not pushed past its latest start (the plan was
    infeasible before); idle between two calls (done at 700 s, the next exists at 3 h) he takes
    it at 1 h where he is."""
    from dispatch.routing import timeline

    brk = BreakRule(H, 2 * H, 1800)
    k = routing_tech("A", end=8 * H, brk=brk)
    p = line_problem([0, 100, 200], [k], [visit("a", 1, release_s=4 * H), visit("b", 1, service=600, release_s=0),
                                         visit("c", 2, release_s=3 * H)])
    vs = {v.id: v for v in p.visits}
    t = timeline(p, k, ["a"], vs)
    assert t.feasible and t.break_start_s == H and t.stops[0].departure_toward_s == 4 * H
    t2 = timeline(p, k, ["b", "c"], vs)
    assert t2.feasible and t2.break_start_s == H and t2.stops[1].departure_toward_s == 3 * H


def test_a_technician_with_a_break_and_overtime_gets_work_under_a_hard_deadline():
    """Two calls to be set off for by 10:00, a technician on shift 9:00-18:00 with a lunch break
    and an hour of allowed overtime: both are routed (with OR-Tools' soft bound on the end
    beside the break interval, the model had no plan at all and routed neither)."""
    k = routing_tech("A", start=32400, end=64800, level=1, brk=BreakRule(45000, 52200, 2700), max_overtime_s=3600)
    p = line_problem([0, 668, 1781], [k], [visit("a", 1, service=540, ws=28800, we=39600, deadline=36000),
                                           visit("b", 2, service=420, ws=30098, we=44498, deadline=36000)])
    r = solve(p, RoutingParams(0.5, dispatch_deadline="hard", warm_start="none"))
    assert check(p, r, hard_deadline=True) == [] and sum(len(x.stops) for x in r.routes) == 2


def test_hindsight_is_not_held_back_by_the_waiting_strategy_nor_started_from_the_online_plan():
    """A call the online plan held (released at 09:10 for a call at 09:00) is offline released at
    09:00, when its clock started; one the outcomes do not list keeps its release. The offline
    search from its own construction serves both calls whatever the online plan was (here none)."""
    p = line_problem([0, 100, 200], [routing_tech("A")],
                     [visit("a", 1, release_s=9 * H + 600), visit("b", 2, release_s=9 * H)])
    plan = SimpleNamespace(outcomes=pd.DataFrame({"request_id": ["a"], "clock_start_s": [9 * H]}))
    called = called_at(p, plan)
    assert [v.release_s for v in called.visits] == [9 * H, 9 * H]
    _, best, _, source = solve_offline("x", called, 0.05, 1, RoutingResult((), (), "x", 0), start="own")
    assert source == "offline" and sorted(s.visit_id for r in best.routes for s in r.stops) == ["a", "b"]
    assert check(called, best) == []


def test_exact_search_weighs_the_way_home_only_when_asked_and_stops_at_its_step_cap():
    """A live tail: A is at 100 with a call there, his centre at 0; B waits at his centre at
    60. A call at 50 lies on A's way home (it adds no driving there) but is 10 from B. Counting the way home it goes to A; mid-day, where the next call starts where he is
    (``count_way_home=False``, the live tail's re-solve), to B. With a step cap the search does
    that many steps and gives the same routes every time."""
    a = replace(routing_tech("A", 0), start_node=1)
    p = line_problem([0, 100, 50, 60], [a, routing_tech("B", 3)], [visit("a", 1), visit("v", 2)])
    home, _ = improve(p, {"A": ["a"]}, RoutingParams(0), 0)
    away, _ = improve(p, {"A": ["a"]}, RoutingParams(0, count_way_home=False), 0)
    assert home == {"A": ["a", "v"], "B": []} and away == {"A": ["a"], "B": ["v"]}
    runs = [improve(p, {"A": ["a"]}, RoutingParams(0, seed=3), 60.0, max_steps=25) for _ in range(2)]
    assert runs[0][1]["steps"] == 25 and runs[0][0] == runs[1][0]
