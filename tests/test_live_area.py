"""Real-time operations: frozen work never moves, promises kept (checker), drop-out explained."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.errors import DispatchError
from dispatch.live import JobState, LiveArea
from dispatch.routing import Route, RoutingParams, RoutingResult, Stop
from dispatch.routing.checker import check
from tests.builders import drive_s, live_area, new_call

H = 3600


def assert_feasible(area: LiveArea) -> None:
    problems = check(area.checked_problem(), area.result())
    assert problems == [], problems


def test_urgent_call_ranked_by_eta_with_hand_computed_times():
    """Urgent options rank by arrival (times by hand); ranking adds nothing, inserting takes the first."""
    area = live_area()
    c = new_call("A", 120.12, 30.87, 9 * H)  # ~1.9 km from S1, ~17 km from S2
    options = area.urgent_options(c)
    assert [o.technician_id for o in options] == ["T1", "T2"]
    leg_t1 = drive_s(120.10, 30.87, 120.12, 30.87)
    assert options[0].departure_s == 9 * H  # free, and sets off the moment the call exists
    assert options[0].eta_s == 9 * H + leg_t1
    assert options[0].meets_deadline and options[1].meets_deadline
    assert "A" not in area.routes["T1"]  # ranking adds nothing
    chosen = area.insert(c)
    assert chosen.technician_id == "T1" and area.routes["T1"] == ["A"]
    assert_feasible(area)


def test_skill_decides_and_nobody_able_is_a_reason():
    """A call goes to a technician with its level even if farther; a level nobody has is unassigned as no_skill."""
    area = live_area()
    level2 = new_call("B", 120.29, 30.87, 9 * H, level=2)  # next to S2, but only T1 does level 2
    assert area.insert(level2).technician_id == "T1"
    level3 = new_call("C", 120.29, 30.87, 9 * H, level=3)
    got = area.insert(level3)
    assert got.reason_code == "no_skill" and "level 3" in got.reason
    assert area.state("C") == JobState.UNASSIGNED


def test_insertion_keeps_committed_windows_and_met_deadlines():
    """Inserting a new call never pushes a committed job out of its window or past a deadline it met."""
    area = live_area(n_techs=1, break_rule=False)
    # A tight job late in the morning, then an urgent call that would fit only by delaying it.
    area.insert(new_call("A", 120.25, 30.95, 10 * H, window_h=1.0, service_min=60))
    before = area.schedule("T1").stops[0]
    area.insert(new_call("B", 120.05, 30.80, 10 * H - 600, service_min=90))
    after = {s.visit_id: s for s in area.schedule("T1").stops}
    assert after["A"].start_s <= 11 * H  # A still inside its window
    assert after["A"].dispatch_late_s == 0 or before.dispatch_late_s > 0
    assert_feasible(area)


def test_states_follow_the_clock_and_frozen_work_stays():
    """A job is dispatched, on site and done as the clock passes, never back; an overrun moves only later work."""
    area = live_area()
    area.insert(new_call("A", 120.12, 30.87, 9 * H))
    area.insert(new_call("B", 120.14, 30.88, 9 * H + 60))
    s = {x.visit_id: x for x in area.result().routes[0].stops}
    area.advance(s["A"].departure_toward_s)
    assert area.state("A") == JobState.DISPATCHED
    area.advance(s["A"].arrival_s)
    assert area.state("A") == JobState.ON_SITE
    area.advance(s["A"].end_s)
    assert area.state("A") == JobState.DONE
    with pytest.raises(DispatchError, match="the clock cannot go back"):
        area.advance(8 * H)
    # An overrun moves what follows, never what is frozen before it.
    area.report("A", "overrun", s["A"].end_s + 600)
    assert area.frozen["A"].end_s == s["A"].end_s + 601
    assert_feasible(area)


def test_an_overrun_with_an_expected_end_takes_back_a_set_off_the_plan_made_and_re_times_it():
    """T1's repair at A runs over. He reports it after the plan had him set off for B (the plan's
    departure passed unreported), saying he expects to finish 40 min late: B is planned again and
    sets off at that end (it was refused: 'report an overrun before the job's planned end').
    Once he reports B under way, A can no longer overrun; an expected end needs an overrun."""
    area = live_area(n_techs=1)
    area.insert(new_call("A", 120.12, 30.87, 9 * H))
    area.insert(new_call("B", 120.14, 30.88, 9 * H + 1800, window_h=6))
    assert area.routes["T1"] == ["A", "B"]
    s = {x.visit_id: x for x in area.result().routes[0].stops}
    late = s["B"].departure_toward_s + 60
    area.advance(late)
    assert area.state("B") == JobState.DISPATCHED
    end = s["A"].end_s + 40 * 60
    area.report("A", "overrun", late, expected_end_s=end)
    assert area.state("B") == JobState.PLANNED and area.frozen["A"].end_s == end
    b = next(x for x in area.schedule("T1").stops if x.visit_id == "B")
    assert b.departure_toward_s == end and b.arrival_s == end + s["B"].arrival_s - s["B"].departure_toward_s
    assert_feasible(area)
    area.advance(end)
    area.report("B", "dispatched", end)
    with pytest.raises(DispatchError, match="reported 'B'"):
        area.report("A", "overrun", end + 5)
    with pytest.raises(DispatchError, match="expected end belongs to an 'overrun'"):
        area.report("B", "on_site", end + 600, expected_end_s=end + 900)


def test_a_repair_that_runs_through_the_break_window_is_followed_by_the_break():
    """T1's break may start 12:00-14:00. His repair at A, planned to end before noon, is reported
    running until 14:30: he takes the break at 14:30 and sets off for B at 15:00; his day stays
    feasible (the break could not start by 14:00 any more, and every later job was taken from him)."""
    area = live_area(n_techs=1)
    area.insert(new_call("A", 120.12, 30.87, 11 * H, service_min=45))
    area.insert(new_call("B", 120.14, 30.88, 11 * H + 1800, window_h=8, deadline=False))
    assert area.routes["T1"] == ["A", "B"]
    a = area.result().routes[0].stops[0]
    area.advance(a.arrival_s)
    area.report("A", "overrun", a.arrival_s + 1800, expected_end_s=14 * H + 1800)
    day = area.schedule("T1")
    assert day.feasible and day.break_start_s == 14 * H + 1800
    assert day.stops[1].visit_id == "B" and day.stops[1].departure_toward_s == 15 * H
    assert area.repair() == []


def test_a_job_handed_on_after_a_drop_out_starts_its_reports_afresh():
    """T1 reports A running over and drops out: T2 takes A, and his own reports follow from
    'planned' (T1's 'on_site' was kept on A, so T2's 'dispatched' was refused)."""
    area = live_area(n_techs=2)
    area.insert(new_call("A", 120.12, 30.87, 9 * H))
    a = area.result().routes[0].stops[0]
    assert area.routes["T1"] == ["A"]
    area.advance(a.arrival_s)
    area.report("A", "overrun", a.arrival_s + 60)
    moved = area.drop_out("T1", a.arrival_s + 120)
    assert moved.moved == (("A", "T2"),) and "A" not in area.reported
    b = next(x for x in area.schedule("T2").stops if x.visit_id == "A")
    area.advance(b.departure_toward_s)
    area.report("A", "dispatched", b.departure_toward_s)
    assert area.state("A") == JobState.DISPATCHED


def test_drop_out_replans_or_explains_every_job():
    """After a drop-out each of his jobs is done, moved to another technician, or unserved with a reason."""
    area = live_area(n_techs=2)
    for i in range(6):
        area.insert(new_call(f"J{i}", 120.10 + 0.04 * i, 30.87 + 0.01 * (i % 2), 9 * H + 300 * i))
    t1_jobs = list(area.routes["T1"])
    t2_jobs = list(area.routes["T2"])
    result = area.drop_out("T1", 9 * H + 1800)
    moved = {v for v, _ in result.moved}
    unserved = {u.visit_id for u in result.unserved}
    done_before = {v for v in t1_jobs if v in area.routes["T1"]}
    # Every job of his is done, moved to someone else, or listed with a reason.
    assert set(t1_jobs) == done_before | moved | unserved
    assert not (moved & unserved)
    assert all(u.reason for u in result.unserved)
    assert all(tid == "T2" for _, tid in result.moved)
    assert set(t2_jobs) <= set(area.routes["T2"])
    assert_feasible(area)


def test_reoptimise_improves_the_tail_and_keeps_commitments():
    """Re-optimising cuts a zigzag route's driving by over 20 % and leaves frozen work where it was."""
    area = live_area(n_techs=1, break_rule=False)
    # Best-ETA insertion puts each new call first: the route zigzags across the area.
    for i, lon in enumerate([120.11, 120.29, 120.12, 120.28, 120.13, 120.27]):
        area.insert(new_call(f"J{i}", lon, 30.87, 8 * H, window_h=9, deadline=False))
    area.advance(8 * H + 60)
    frozen_before = dict(area.frozen)
    assert len(frozen_before) == 1
    travel_before = sum(r.travel_s for r in area.result().routes)
    assert area.reoptimise(RoutingParams(time_limit_s=1.0))
    travel_after = sum(r.travel_s for r in area.result().routes)
    assert travel_after < 0.8 * travel_before
    for vid, stop in frozen_before.items():
        assert area.frozen[vid] == stop and area.routes["T1"][0] == vid
    assert sorted(area.routes["T1"]) == [f"J{i}" for i in range(6)]
    assert_feasible(area)


def test_a_stale_reoptimisation_is_refused():
    """A re-optimisation solved on an older version of the plan is refused, and the newer call kept."""
    area = live_area(n_techs=1, break_rule=False)
    for i, lon in enumerate([120.11, 120.29, 120.12]):
        area.insert(new_call(f"J{i}", lon, 30.87, 8 * H, window_h=9, deadline=False))
    problem, tails = area._tail_problem()
    from dispatch.routing import solve

    res = solve(problem, RoutingParams(time_limit_s=0.3))
    version = area.version
    area.insert(new_call("J9", 120.2, 30.9, 8 * H, window_h=9, deadline=False))  # the plan moves on
    assert not area.adopt(res, version)
    assert "J9" in area.routes["T1"]


def test_reoptimise_solves_again_only_once_the_plan_changed(monkeypatch):
    """A re-solve of a plan no call or move has changed since the last one is skipped (the clock
    moving on only shrinks the same tail); a new call makes the next one solve again."""
    import dispatch.live.replan as replan

    area = live_area(n_techs=1, break_rule=False)
    for i, lon in enumerate([120.11, 120.29, 120.12]):
        area.insert(new_call(f"J{i}", lon, 30.87, 8 * H, window_h=9, deadline=False))
    solves = []
    real = replan.solve
    monkeypatch.setattr(replan, "solve", lambda p, prm: solves.append(len(p.visits)) or real(p, prm))
    params = RoutingParams(time_limit_s=0.2, engine="lns")
    while area.reoptimise(params):  # an adopted answer is a change: it is solved again
        pass
    tried = len(solves)
    area.advance(8 * H + 60)
    assert not area.reoptimise(params) and len(solves) == tried
    area.insert(new_call("J9", 120.2, 30.9, 8 * H + 60, window_h=9, deadline=False))
    area.reoptimise(params)
    assert len(solves) == tried + 1



def _answer(routes: dict[str, list[str]]) -> RoutingResult:
    """An engine's answer as ``adopt`` reads it: who does which visits in which order (the times
    are the live plan's own, so they are left empty here)."""
    return RoutingResult(tuple(Route(tid, tuple(Stop(x, 0, 0, 0, 0, 0, 0, 0) for x in ids), 0, 0, 0, 0, None, 0)
                               for tid, ids in routes.items()), (), "feasible", 0)


def test_an_answer_the_checker_refuses_is_never_adopted():
    """A re-optimisation answer that gives a level-2 job to a level-1 technician (less driving,
    every window kept: only the checker sees what is wrong) leaves the live plan as it was.
    Such answers come from an engine cut short by its time limit or knowing fewer rules; the
    exact timeline alone accepted it."""
    area = live_area(n_techs=2, break_rule=False)
    area.insert(new_call("A", 120.29, 30.87, 9 * H, level=2, window_h=8, deadline=False))  # next to S2
    area.insert(new_call("B", 120.11, 30.87, 9 * H, window_h=8, deadline=False))
    assert area.routes["T1"] == ["A", "B"] or area.routes["T1"] == ["B", "A"]  # only T1 does level 2
    before, version = {t: list(ids) for t, ids in area.routes.items()}, area.version
    assert not area.adopt(_answer({"T1": ["B"], "T2": ["A"]}), area.version)
    assert area.routes == before and area.version == version
    assert_feasible(area)


def test_repair_takes_a_job_away_from_a_technician_who_may_not_do_it():
    """A start whose level-2 job sits with a level-1 technician is repaired: the job goes to the
    one technician able to do it, and the checker finds nothing."""
    area = live_area(n_techs=2, break_rule=False)
    area.insert(new_call("A", 120.29, 30.87, 9 * H, level=2, window_h=8, deadline=False))
    area.routes = {"T1": [], "T2": ["A"]}
    area._changed()
    assert area.repair() == ["A"]
    assert area.routes == {"T1": ["A"], "T2": []}
    assert_feasible(area)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["call", "advance", "drop", "report"]),
                          st.floats(0, 1), st.floats(0, 1), st.integers(1, 3)), min_size=3, max_size=14),
       st.integers(0, 2**16))
def test_random_event_sequences_never_move_frozen_work(events, seed):
    """Over random events frozen work keeps its technician, departure and start (but a set-off
    the plan made after a job he then reports still running), and no call is lost."""
    rng = np.random.default_rng(seed)
    area = live_area(n_techs=3)
    committed: dict[str, tuple[str, int, int]] = {}  # visit -> (technician, departure, start)
    clock, n = 8 * H, 0
    for kind, a, b, prio in events:
        if kind == "call":
            n += 1
            area.insert(new_call(f"C{n}", 120.05 + 0.3 * a, 30.80 + 0.15 * b, clock, priority=prio,
                                 service_min=int(rng.integers(10, 150)), later_h=float(rng.choice([0, 0, 1.5, 3]))),
                        policy="travel" if prio < 3 else "eta")
        elif kind == "advance":
            clock += int(a * 2 * H)
            area.advance(clock)
        elif kind == "drop":
            alive = [t for t in area.routes if t not in area.unavailable]
            if len(alive) > 1:
                area.drop_out(alive[int(a * len(alive)) % len(alive)], clock)
        elif kind == "report" and area.frozen:
            vid = sorted(area.frozen)[int(a * len(area.frozen)) % len(area.frozen)]
            tid = next(t for t, ids in area.routes.items() if vid in ids)
            later = area.routes[tid][area.routes[tid].index(vid) + 1:]
            if area.state(vid) != JobState.DONE and not any(v in area.reported for v in later):
                area.report(vid, "overrun", clock)
                # An overrun takes back the set-offs the plan had him make since (unreported).
                for v in later:
                    if v not in area.frozen:
                        committed.pop(v, None)
        # Frozen work keeps its technician, its departure and its start; only drop-outs release it.
        for vid, (tid, dep, start) in committed.items():
            if tid in area.unavailable:
                continue
            assert vid in area.routes[tid]
            assert area.frozen[vid].departure_toward_s == dep and area.frozen[vid].start_s >= start
        for vid, stop in area.frozen.items():
            tid = next(t for t, ids in area.routes.items() if vid in ids)
            committed.setdefault(vid, (tid, stop.departure_toward_s, stop.start_s))
        assert_feasible(area)
        # Nothing is lost: every call is routed once or unassigned with a reason.
        routed = [v for ids in area.routes.values() for v in ids]
        assert len(routed) == len(set(routed))
        assert set(routed) | set(area.unassigned) == {f"C{i}" for i in range(1, n + 1)}


def test_a_drop_out_in_the_past_is_refused_and_done_work_stays_done():
    """A drop-out before the plan's clock is refused, and done work stays done."""
    area = live_area(n_techs=2)
    area.insert(new_call("A", 120.12, 30.87, 9 * H))
    area.advance(12 * H)
    assert area.state("A") == JobState.DONE
    with pytest.raises(DispatchError, match="before the plan's clock"):
        area.drop_out("T1", 9 * H + 600)
    assert area.state("A") == JobState.DONE


def test_insertion_never_breaks_a_pinned_start():
    """Inserting a call never moves a job pinned to a start time."""
    from dataclasses import replace as dc_replace

    area = live_area(n_techs=1, break_rule=False)
    area.insert(new_call("A", 120.25, 30.95, 8 * H, window_h=6))
    pinned_at = area.schedule("T1").stops[0].start_s + 1800
    area._visit["A"] = dc_replace(area._visit["A"], pinned_start_s=pinned_at, pinned_technician="T1")
    area.problem = dc_replace(area.problem, visits=tuple(area._visit.values()))
    area._changed()
    area.insert(new_call("B", 120.05, 30.80, 8 * H, service_min=120))
    a = next(s for s in area.schedule("T1").stops if s.visit_id == "A")
    assert a.start_s == pinned_at
    assert_feasible(area)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["call", "call", "advance"]), st.floats(0, 1), st.floats(0, 1)),
                min_size=3, max_size=16),
       st.integers(0, 2**16))
def test_the_pruned_search_and_kept_timelines_match_a_full_recomputation(events, seed):
    """The pruned option search finds the full search's best offer, and every cached timeline equals a fresh one."""
    from dispatch.live import offer_key

    rng = np.random.default_rng(seed)
    area = live_area(n_techs=4)
    clock, n = 8 * H, 0
    for kind, a, b in events:
        if kind == "advance":
            clock += int(a * 2 * H)
            area.advance(clock)
        else:
            n += 1
            v = area._add_visit(new_call(f"C{n}", 120.05 + 0.3 * a, 30.80 + 0.15 * b, clock,
                                         service_min=int(rng.integers(10, 150)),
                                         later_h=float(rng.choice([0, 0, 1.5, 3]))))
            liked = {t for t in area.routes if rng.random() < 0.5}
            prefer = lambda tid: 0 if tid in liked else 1  # noqa: E731
            key = offer_key("travel", lambda o: prefer(o.technician_id))
            full = area._options_for(v, policy="travel")
            pruned = area._options_for(v, policy="travel", prefer=prefer, settle_first=True)
            assert bool(full) == bool(pruned)
            if full:  # the same best offer, found with fewer timelines
                best = min(full, key=lambda o: (key(o), o.technician_id))
                assert min(pruned, key=lambda o: (key(o), o.technician_id)) == best
            area.place(v.id, policy="travel")
        # Every timeline kept in the cache is what a fresh computation gives.
        for tid, ids in area.routes.items():
            assert area.schedule(tid) == area._schedule(area._tech[tid], ids)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["call", "call", "advance", "tick", "report"]), st.floats(0, 1),
                          st.floats(0, 1)), min_size=3, max_size=18),
       st.integers(0, 2**16))
def test_advance_skipping_quiet_technicians_freezes_what_a_full_scan_freezes(events, seed):
    """``advance`` skips a technician whose timeline has nothing due before its next event; over
    random calls, clock moves (long, and a few minutes) and overrun reports it freezes the same
    work, at the same times, and makes the same breaks history as a scan of every technician."""
    rng = np.random.default_rng(seed)
    area, full = live_area(n_techs=3), live_area(n_techs=3)  # the same events; ``full`` keeps no memo
    clock, n = 8 * H, 0
    for kind, a, b in events:
        if kind == "call":
            n += 1
            call = new_call(f"C{n}", 120.05 + 0.3 * a, 30.80 + 0.15 * b, clock,
                            service_min=int(rng.integers(10, 150)), later_h=float(rng.choice([0, 0, 1.5])))
            assert area.insert(call, policy="travel") == full.insert(call, policy="travel")
            continue
        if kind == "report" and area.frozen:
            vid = sorted(area.frozen)[int(a * len(area.frozen)) % len(area.frozen)]
            tid = next(t for t, ids in area.routes.items() if vid in ids)
            later = area.routes[tid][area.routes[tid].index(vid) + 1:]
            if area.state(vid) != JobState.DONE and not any(v in area.reported for v in later):
                area.report(vid, "overrun", clock)
                full.report(vid, "overrun", clock)
            continue
        clock += int(a * 2 * H) if kind == "advance" else int(a * 600)
        full._quiet.clear()  # every technician scanned
        assert area.advance(clock) == full.advance(clock)
        assert area.frozen == full.frozen and area.break_taken == full.break_taken
        assert area.routes == full.routes


def test_counting_the_way_home_puts_a_call_on_a_route_that_passes_by_instead_of_an_idle_technician():
    """T1 (S1 at 120.10) is out at A (120.25; T2 is at S2, 120.30); a call B at 120.14 lies on his way
    home, after A (he set off toward A already). By the drive to the call alone, T3, idle at S1, costs S1->B and T1 costs A->B (more):
    T3. Counting the way home (cheapest insertion), T3 costs S1->B->S1 and T1 A->B + B->S1 -
    A->S1 (about nothing): T1. Every figure from the travel model by hand."""
    area = live_area(n_techs=3, break_rule=False)
    assert area.insert(new_call("A", 120.25, 30.87, 8 * H, level=2)).technician_id == "T1"  # only T1 does level 2
    area.advance(8 * H + 600)  # T1 is on his way to A: B can only come after it
    b = new_call("B", 120.14, 30.87, 8 * H + 600)
    s1, a_, b_ = (120.10, 30.87), (120.25, 30.87), (120.14, 30.87)
    one_way = area.urgent_options(b, policy="travel")
    assert one_way[0].technician_id == "T3" and one_way[0].added_travel_s == drive_s(*s1, *b_)
    assert next(o for o in one_way if o.technician_id == "T1").added_travel_s == drive_s(*a_, *b_)
    area.count_return = True
    cheapest = area.urgent_options(b, policy="travel")
    assert cheapest[0].technician_id == "T1"
    assert cheapest[0].added_travel_s == drive_s(*a_, *b_) + drive_s(*b_, *s1) - drive_s(*a_, *s1)
    assert next(o for o in cheapest if o.technician_id == "T3").added_travel_s == 2 * drive_s(*s1, *b_)


def test_leaving_home_weighs_on_a_technician_not_yet_out_and_only_on_him():
    """The same day as above: T1 is out at A, T3 idle at S1. By the drive to the call, T3 costs
    S1->B and T1 A->B (more). With ``leave_home_s`` (Rules.leave_home_s) just above the difference,
    T3, not yet out, weighs S1->B + leave_home_s: T1 takes B; just below it, T3 still does. The
    reported driving stays the driving; the cost of leaving home is listed apart."""
    area = live_area(n_techs=3, break_rule=False)
    area.insert(new_call("A", 120.25, 30.87, 8 * H, level=2))
    area.advance(8 * H + 600)
    b = new_call("B", 120.14, 30.87, 8 * H + 600)
    s1, a_, b_ = (120.10, 30.87), (120.25, 30.87), (120.14, 30.87)
    gap = drive_s(*a_, *b_) - drive_s(*s1, *b_)
    assert gap > 0
    area.leave_home_s = gap + 1
    options = {o.technician_id: o for o in area.urgent_options(b, policy="travel")}
    assert min(options.values(), key=lambda o: o.added_travel_s + o.leave_home_s).technician_id == "T1"
    assert area.urgent_options(b, policy="travel")[0].technician_id == "T1"
    assert (options["T1"].added_travel_s, options["T1"].leave_home_s) == (drive_s(*a_, *b_), 0)
    assert (options["T3"].added_travel_s, options["T3"].leave_home_s) == (drive_s(*s1, *b_), gap + 1)
    area.leave_home_s = gap - 1
    assert area.urgent_options(b, policy="travel")[0].technician_id == "T3"
    area.leave_home_s = gap + 1
    assert area.insert(b, policy="travel").technician_id == "T1" and area.routes["T1"] == ["A", "B"]
    assert_feasible(area)


def test_move_gives_a_job_to_a_chosen_technician_from_a_chosen_time():
    """A move to another technician from 14:00: he starts it then (or later), the old route loses
    it, every route passes the checker; the window the customer gave still bounds it."""
    area = live_area(break_rule=False)
    area.insert(new_call("A", 120.12, 30.87, 9 * H, window_h=8))  # next to S1: T1's
    area.insert(new_call("B", 120.29, 30.87, 9 * H, window_h=8))  # next to S2: T2's
    assert area.routes == {"T1": ["A"], "T2": ["B"]}
    got = area.move("A", "T2", 14 * H)
    assert got is not None and got.technician_id == "T2"
    stops = {s.visit_id: s for s in area.schedule("T2").stops}
    assert stops["A"].start_s >= 14 * H and area.routes["T1"] == []
    assert area.routes["T2"] == ["B", "A"]  # B in the morning, then A from 14:00
    assert area.visit("A").window_start_s == 14 * H and area.visit("A").window_end_s == 17 * H
    assert_feasible(area)


def test_a_move_that_cannot_be_kept_changes_nothing():
    """After the customer's window, past the shift, or once under way: refused, the plan as it was."""
    area = live_area(break_rule=False)
    area.insert(new_call("A", 120.12, 30.87, 9 * H, window_h=8))
    area.insert(new_call("C", 120.13, 30.88, 9 * H, window_h=10, service_min=60, deadline=False))
    routes = {k: list(v) for k, v in area.routes.items()}
    times = {k: area.schedule(k).stops for k in area.routes}
    windows = {v: (area.visit(v).window_start_s, area.visit(v).window_end_s) for v in ("A", "C")}
    assert area.move("A", "T2", 17 * H + 60) is None  # A's window closes at 17:00
    assert area.move("C", "T1", 17 * H + 1800) is None  # an hour's work from 17:30 ends after his shift
    assert area.move("C", "NOBODY", None) is None
    assert {k: list(v) for k, v in area.routes.items()} == routes
    assert {k: area.schedule(k).stops for k in area.routes} == times
    assert {v: (area.visit(v).window_start_s, area.visit(v).window_end_s) for v in ("A", "C")} == windows
    area.advance(area.schedule("T1").stops[0].departure_toward_s)  # he sets off toward his first job
    first = area.routes["T1"][0]
    assert area.move(first, "T2") is None and area.routes == routes
    assert_feasible(area)
