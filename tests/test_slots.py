"""Appointment slots (issue 19): windows over the next days tried by insertion into each day's
plan; a booked slot is kept by every later insertion and re-plan, and the checker finds nothing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.live import InsertionOption, LiveArea, NewCall
from dispatch.live.slots import offer_slots, slot_windows
from dispatch.model import DAY_S
from dispatch.routing import ALL_SKILLS, BreakRule, RoutingProblem, RoutingTechnician
from dispatch.routing.checker import check
from dispatch.rules import DEFAULT_RULES
from dispatch.travel import DEFAULT_TRAVEL
from tests.builders import LIVE_CENTRES, road_by_hand

H = 3600
ALL = frozenset({ALL_SKILLS})


def day_area(day: int, n_techs: int = 2, brk: bool = True) -> LiveArea:
    """Two centres near Huzhou, technicians T1.. on shift 08-18 of ``day`` with a break 12-14
    (unless ``brk`` is off)."""
    lon = np.array([c[0] for c in LIVE_CENTRES])
    lat = np.array([c[1] for c in LIVE_CENTRES])
    travel_s, distance_m = DEFAULT_TRAVEL.matrices(lon, lat)
    b = day * DAY_S
    techs = tuple(RoutingTechnician(f"T{i + 1}", i % 2, i % 2, b + 8 * H, b + 18 * H, 2 if i == 0 else 1, ALL,
                                    BreakRule(b + 12 * H, b + 14 * H, 1800) if brk else None, 0) for i in range(n_techs))
    return LiveArea(RoutingProblem(travel_s, distance_m, techs, (), ("S1", "S2")), {}, b + 8 * H, DEFAULT_TRAVEL,
                    lon, lat)


def caller(cid: str, lon: float, lat: float, at_s: int, service_min: int = 45, level: int = 1, priority: int = 1):  # type: ignore[no-untyped-def]
    def call_for(ws: int, we: int) -> NewCall:
        release = max(at_s, ws)  # the one-hour clock starts at the call or the window, whichever is later
        return NewCall(cid, lon, lat, service_min * 60, ws, we, level, None, priority, release_s=release,
                       dispatch_deadline_s=release + H)
    return call_for


def test_windows_follow_the_rule_book_and_start_after_the_call() -> None:
    # 08-21 customer hours, 4-hour windows every 2 hours: 08, 10, 12, 14, 16; at 10:30 today, 12 on.
    assert slot_windows(0, 0, 4 * H, DEFAULT_RULES) == [(h * H, (h + 4) * H) for h in (8, 10, 12, 14, 16)]
    assert [ws // H for ws, _ in slot_windows(0, 10 * H + 1800, 4 * H, DEFAULT_RULES)] == [12, 14, 16]
    vip = replace(DEFAULT_RULES, slot_window_s_by_priority={1: 4 * H, 2: 2 * H, 3: H})
    assert all(we - ws == H for ws, we in slot_windows(1, 0, vip.slot_window_s_by_priority[3], vip))


def test_a_full_day_is_skipped_and_tomorrow_offered_by_insertion_not_a_rule() -> None:
    """One technician whose today is filled to his shift's end: today's windows are not offered
    (they would break his shift), tomorrow's are, each with his arrival as the timeline has it."""
    lives = {0: {"A": day_area(0, 1, brk=False)}, 1: {"A": day_area(1, 1, brk=False)}}
    lon, lat = 120.15, 30.90
    today = lives[0]["A"]
    # A long job (9 h 15 min of work) started by 08:30. By the road model's formula S1 -> the
    # customer is 5.82 km crow-flies x 1.357 = 7,899 m, 3 km at 22 and 4.9 at 40 km/h = 0.25883 h =
    # 932 s rounded up + 300 = 1,232 s (Huzhou has no rush hour): on site 08:20:32, done 17:35:32,
    # home 17:56:04: nothing else fits by 18:00.
    assert road_by_hand(*LIVE_CENTRES[0], lon, lat, depart_h=8)[0] == 1232
    got = today.insert(NewCall("busy", lon, lat, int(9.25 * H), 8 * H, 8 * H + 1800, 1, None, 1, release_s=8 * H))
    assert isinstance(got, InsertionOption)
    slots = offer_slots(caller("c1", lon, lat, 8 * H), lives.__getitem__, ["A"], 8 * H, 1, DEFAULT_RULES, days=2)
    assert slots and {s.day for s in slots} == {1}
    for s in slots:
        assert s.window_start_s <= s.option.start_s <= s.window_end_s
        assert s.turnaround_s == s.option.start_s + 45 * 60 - 8 * H
    assert len(today.routes["T1"]) == 1 and lives[1]["A"].routes["T1"] == []  # offers planned nothing


def test_slots_rank_the_promise_then_the_start_and_stop_at_the_count() -> None:
    lives = {d: {"A": day_area(d)} for d in range(3)}
    rules = replace(DEFAULT_RULES, slot_count=4)
    slots = offer_slots(caller("c1", 120.2, 30.9, 9 * H), lives.__getitem__, ["A"], 9 * H, 1, rules)
    assert len(slots) == 4
    assert all(s.meets_deadline for s in slots)
    starts = [s.window_start_s for s in slots]
    assert starts == sorted(starts) and starts[0] == 10 * H  # empty plans: the earliest first


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(120.0, 120.4), st.floats(30.75, 31.0), st.integers(15, 90),
                          st.booleans(), st.integers(0, 5), st.integers(1, 3)), min_size=3, max_size=14),
       st.booleans())
def test_every_booked_slot_is_kept_by_the_plan_and_the_checker(calls, drop_one) -> None:  # type: ignore[no-untyped-def]
    """Random calls, some booking a slot the customer picks, some taken as today's calls; then
    optionally a technician drops out today (a re-plan). Every booked slot is served inside its
    window by someone, or is listed unassigned with a reason (an explicit break), never moved out
    of its window; the checker finds nothing on any day."""
    lives = {d: {"A": day_area(d, 3)} for d in range(3)}
    booked: dict[str, tuple[int, int, int]] = {}
    for i, (lon, lat, service_min, book, pick, priority) in enumerate(calls):
        at = 9 * H + 600 * i
        for d in lives:
            if d == 0:
                lives[d]["A"].advance(at)
        call_for = caller(f"c{i}", lon, lat, at, service_min, priority=priority)
        if book:
            slots = offer_slots(call_for, lives.__getitem__, ["A"], at, priority, DEFAULT_RULES)
            if not slots:
                continue
            s = slots[pick % len(slots)]
            got = lives[s.day]["A"].insert(call_for(s.window_start_s, s.window_end_s),
                                           policy=DEFAULT_RULES.ranking(priority))
            assert isinstance(got, InsertionOption), "an offered slot must be bookable at once"
            assert s.window_start_s <= got.start_s <= s.window_end_s
            booked[f"c{i}"] = (s.day, s.window_start_s, s.window_end_s)
        else:
            lives[0]["A"].insert(call_for(at, at + 4 * H), policy="travel")
    if drop_one:
        lives[0]["A"].drop_out("T2", lives[0]["A"].clock_s)
    for vid, (day, ws, we) in booked.items():
        area = lives[day]["A"]
        stop = next((s for r in area.result().routes for s in r.stops if s.visit_id == vid), None)
        if stop is None:
            assert vid in area.unassigned and area.unassigned[vid].reason  # broken, and said why
        else:
            assert ws <= stop.start_s <= we
    for d in lives:
        assert check(lives[d]["A"].checked_problem(), lives[d]["A"].result()) == []


def test_an_offer_spreads_over_the_days_earliest_first_and_vip_windows_are_narrower() -> None:
    """Empty plans over 3 days, 6 slots: the two best of each day (not day 0's five windows and
    one of day 1), offered earliest first; a VIP's windows are 2 h, a normal customer's 4 h."""
    lives = {d: {"A": day_area(d)} for d in range(3)}
    slots = offer_slots(caller("c1", 120.2, 30.9, 9 * H), lives.__getitem__, ["A"], 9 * H, 1, DEFAULT_RULES)
    assert [s.day for s in slots] == [0, 0, 1, 1, 2, 2]
    assert [s.window_start_s for s in slots] == sorted(s.window_start_s for s in slots)
    assert all(s.window_end_s - s.window_start_s == 4 * H for s in slots)
    vip = offer_slots(caller("v1", 120.2, 30.9, 9 * H, priority=3), lives.__getitem__, ["A"], 9 * H, 3, DEFAULT_RULES)
    assert {s.day for s in vip} == {0, 1, 2} and all(s.window_end_s - s.window_start_s == 2 * H for s in vip)


def test_a_day_that_cannot_fill_its_share_leaves_its_places_to_the_best_of_the_others() -> None:
    lives = {0: {"A": day_area(0, 1, brk=False)}, 1: {"A": day_area(1)}, 2: {"A": day_area(2)}}
    lon, lat = 120.15, 30.90
    # Day 0 filled as in test_a_full_day_is_skipped_and_tomorrow_offered_by_insertion_not_a_rule.
    assert isinstance(lives[0]["A"].insert(NewCall("busy", lon, lat, int(9.25 * H), 8 * H, 8 * H + 1800, 1, None, 1,
                                                   release_s=8 * H)), InsertionOption)
    slots = offer_slots(caller("c1", lon, lat, 8 * H), lives.__getitem__, ["A"], 8 * H, 1, DEFAULT_RULES)
    assert len(slots) == 6 and {s.day for s in slots} == {1, 2}
    assert [s.day for s in slots].count(1) == 4  # day 0's two places go to the best others: day 1's next


@given(st.integers(0, 10_000))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_best_slot_alone_is_the_full_searchs_best(seed: int) -> None:
    """count=1 stops once no later window can rank first: the same slot as the full search's first."""
    rng = np.random.default_rng(seed)
    lives = {d: {"A": day_area(d)} for d in range(3)}
    for i in range(int(rng.integers(0, 12))):
        d = int(rng.integers(0, 3))
        ws = d * DAY_S + int(rng.integers(8, 16)) * H
        lives[d]["A"].insert(NewCall(f"j{i}", 120.1 + rng.normal(0, 0.05), 30.9 + rng.normal(0, 0.05),
                                     int(rng.integers(30, 150)) * 60, ws, ws + 2 * H, 1, None, 1, release_s=ws))
    at = int(rng.integers(8, 18)) * H
    call_for = caller("c1", 120.1 + rng.normal(0, 0.1), 30.9 + rng.normal(0, 0.1), at)
    full = offer_slots(call_for, lives.__getitem__, ["A"], at, 1, DEFAULT_RULES, count=50)
    alone = offer_slots(call_for, lives.__getitem__, ["A"], at, 1, DEFAULT_RULES, count=1)
    assert [(s.day, s.window_start_s, s.technician_id) for s in alone] == \
        [(s.day, s.window_start_s, s.technician_id) for s in full[:1]]


def test_the_slot_bench_reports_cpu_time_the_days_offered_and_keeps_every_booking() -> None:
    from dispatch.bench.slots import format_slots, measure_slots  # the bench's area builder: only here

    row = measure_slots(4, 24, 3, 6, seed=2)
    assert row["booked"] == row["kept"] and row["checker_violations"] == 0
    assert 0 < row["cpu_p50_ms"] <= row["cpu_p95_ms"] and 1 <= row["days_per_offer"] <= 3
    assert "CPU time p50" in format_slots(row) and "load average" in format_slots(row)
