"""The rule book (dispatch.rules): the default values in their units, the dispatch deadline in a
centre's opening hours, changing a rule, and invalid rules refused with the field and value."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest

from dispatch.errors import DispatchError
from dispatch.hours import dispatch_clock_start
from dispatch.model import Mode, Priority, RepairLevel
from dispatch.rules import DEFAULT_RULES, Rules

MIN = 60
H = 3600


def test_default_rules_are_the_promises_and_limits_in_seconds():
    """Default promises and limits in seconds: 1 h dispatch, 4 h return, 1 h overtime (Labour Law art. 41), 3 h drive."""
    r = DEFAULT_RULES
    assert r.dispatch_target_s == 60 * MIN
    assert r.return_s == 4 * H
    assert r.max_overtime_s == 1 * H
    assert r.max_visit_travel_s == 3 * H
    assert r.collect_service_s == 10 * MIN
    assert r.pickup_service_s == 10 * MIN
    assert r.candidate_areas == 3
    assert r.customer_hours_s == (8 * H, 21 * H)


def test_default_bench_times_and_door_work_follow_the_repair_level():
    """Default bench work is 30/90/180 min by level, door work 30/75 min, windows 4/3/2 h by priority."""
    r = DEFAULT_RULES
    assert [r.bench_s(level) for level in RepairLevel] == [30 * MIN, 90 * MIN, 180 * MIN]
    assert dict(r.onsite_service_s_by_level) == {1: 30 * MIN, 2: 75 * MIN, 3: 75 * MIN}
    assert dict(r.window_s_by_priority) == {Priority.NORMAL: 4 * H, Priority.HIGH: 3 * H, Priority.URGENT: 2 * H}


def test_every_time_rule_is_whole_seconds():
    """Every _s rule and every time in a _s_by_ table is an int: the optimiser counts whole seconds."""
    for f in dataclasses.fields(Rules):
        value = getattr(DEFAULT_RULES, f.name)
        if f.name.endswith("_s"):
            values = value if isinstance(value, tuple) else (value,)
        elif "_s_by_" in f.name:
            values = tuple(value.values())
        else:
            continue
        assert values and all(type(v) is int for v in values), (f.name, value)


def test_the_rule_book_cannot_be_changed_in_place():
    """Rules are frozen and their tables read-only, so no caller can change DEFAULT_RULES for every other."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_RULES.dispatch_target_s = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        DEFAULT_RULES.bench_s_by_level[RepairLevel.SIMPLE] = 1  # type: ignore[index]
    assert DEFAULT_RULES.bench_s(RepairLevel.SIMPLE) == 30 * MIN


def test_the_dispatch_deadline_follows_the_centres_opening_hours(network):
    """The dispatch deadline is an hour of the centre's opening hours: 17:30 is due 09:30 next day at S1, 18:30 at P1."""
    s1, p1 = network["S1"], network["P1"]
    assert DEFAULT_RULES.dispatch_deadline(s1, int(17.5 * H)) == int((24 + 9.5) * H)
    assert DEFAULT_RULES.dispatch_deadline(p1, int(17.5 * H)) == int(18.5 * H)
    assert DEFAULT_RULES.dispatch_deadline(s1, int(10 * H)) == 11 * H


def test_an_after_hours_call_is_due_an_hour_after_the_next_opening(network, calls):
    """A pickup at 19:30 next to S1 (closed at 18:00) starts its clock at 09:00 and is due at 10:00 next morning."""
    s1 = network["S1"]
    clock = dispatch_clock_start(s1, calls["after_hours"])
    assert DEFAULT_RULES.dispatch_deadline(s1, clock) == (24 + 10) * H


def test_replace_changes_one_rule_and_leaves_the_defaults_alone(network):
    """replace() changes one rule (a 2-h target: 17:30 at S1 is due 10:30 next day), the rest and the defaults unchanged."""
    two_hours = replace(DEFAULT_RULES, dispatch_target_s=2 * H)
    assert two_hours.dispatch_target_s == 2 * H and DEFAULT_RULES.dispatch_target_s == H
    assert two_hours.dispatch_deadline(network["S1"], int(17.5 * H)) == int((24 + 10.5) * H)
    others = [f.name for f in dataclasses.fields(Rules) if f.name != "dispatch_target_s"]
    assert all(getattr(two_hours, n) == getattr(DEFAULT_RULES, n) for n in others)
    assert Rules() == DEFAULT_RULES and two_hours != DEFAULT_RULES


def test_replace_of_a_bench_table_changes_the_bench_time():
    """A replaced bench table is what bench_s reads: a 45-minute simple repair."""
    slow = replace(DEFAULT_RULES, bench_s_by_level={1: 45 * MIN, 2: 90 * MIN, 3: 180 * MIN})
    assert slow.bench_s(1) == 45 * MIN and DEFAULT_RULES.bench_s(1) == 30 * MIN


@pytest.mark.parametrize("field, value", [
    ("dispatch_target_s", 0),
    ("dispatch_target_s", -60),
    ("bench_s_by_level", {1: 1800, 2: 5400}),  # no time for level 3
    ("bench_s_by_level", {1: 1800, 2: -5, 3: 10800}),
    ("max_overtime_s", -1),
    ("return_s", -7),
    ("candidate_areas", 0),
    ("replan_hold_s", -60),
    ("replan_hold_margin_s", -1),
    ("leave_home_s", -300),
])
def test_an_invalid_rule_is_refused_naming_the_field_and_value(field, value):
    """A rule out of its range raises DispatchError naming the field and value, built directly or by replace()."""
    for build in (lambda: Rules(**{field: value}), lambda: replace(DEFAULT_RULES, **{field: value})):
        with pytest.raises(DispatchError) as exc:
            build()
        message = str(exc.value)
        assert field in message and str(value) in message, message


def test_every_invalid_rule_is_reported_at_once():
    """Two bad rules give one error naming both."""
    with pytest.raises(DispatchError) as exc:
        Rules(dispatch_target_s=-60, candidate_areas=0)
    assert "dispatch_target_s" in str(exc.value) and "candidate_areas" in str(exc.value)


@pytest.mark.parametrize("mode, level, expected", [
    (Mode.ONSITE, RepairLevel.MODULE, True),
    (Mode.ONSITE, RepairLevel.BOARD, True),
    ("onsite", RepairLevel.MODULE, True),  # the code as frames carry it
    (Mode.ONSITE, RepairLevel.SIMPLE, False),  # every technician repairs level 1 on site
    (Mode.PICKUP, RepairLevel.MODULE, False),  # already going to a bench
    (Mode.WALKIN, RepairLevel.MODULE, False),
])
def test_only_an_onsite_call_above_level_1_may_be_collected(mode, level, expected):
    """Rule 7: an on-site call of level 2 or 3 may be collected for the bench; level 1, a pickup or a walk-in never."""
    assert DEFAULT_RULES.may_collect(mode, level) is expected


def test_collection_can_be_switched_off():
    """With collect_onsite off no on-site call is collected, whatever its level."""
    strict = replace(DEFAULT_RULES, collect_onsite=False)
    assert not any(strict.may_collect(Mode.ONSITE, level) for level in RepairLevel)


def test_an_urgent_call_is_ranked_by_arrival_every_other_by_travel():
    """An urgent call's options rank by earliest arrival (eta), a normal or high one's by added driving (travel)."""
    assert DEFAULT_RULES.ranking(Priority.URGENT) == "eta"
    assert DEFAULT_RULES.ranking(Priority.NORMAL) == DEFAULT_RULES.ranking(Priority.HIGH) == "travel"


@pytest.mark.parametrize("mode, level, expected_s", [
    (Mode.ONSITE, 1, 30 * MIN),
    (Mode.ONSITE, 2, 75 * MIN),
    ("onsite", 2, 75 * MIN),
    (Mode.PICKUP, 3, 10 * MIN),  # a hand-over at the door, whatever the level
    (Mode.WALKIN, 2, 0),  # nobody goes to the customer
])
def test_the_default_work_at_the_door_follows_mode_and_level(mode, level, expected_s):
    """Door work by default: the level's on-site repair time, a 10-min pickup hand-over, nothing for a walk-in."""
    assert DEFAULT_RULES.default_service_s(mode, level) == expected_s


def test_a_held_call_sets_off_no_sooner_than_the_hold_and_keeps_its_promise():
    """The waiting strategy: off by default; a normal or high-priority call at 10:00 due by 11:00
    held 20 min may leave from 10:20; one due by 10:30 only until 15 min before it (10:15); one
    due in 10 min not later than its call; an urgent call, or one without a deadline, at once."""
    ten, h = 10 * 3600, 3600
    assert DEFAULT_RULES.hold_until_s(Priority.NORMAL, ten, ten + h) == ten
    rules = replace(DEFAULT_RULES, replan_hold_s=1200)
    assert rules.hold_until_s(Priority.NORMAL, ten, ten + h) == ten + 1200
    assert rules.hold_until_s(Priority.HIGH, ten, ten + h) == ten + 1200
    assert rules.hold_until_s(Priority.NORMAL, ten, ten + 1800) == ten + 900
    assert rules.hold_until_s(Priority.NORMAL, ten, ten + 600) == ten
    assert rules.hold_until_s(Priority.URGENT, ten, ten + h) == ten
    assert rules.hold_until_s(Priority.NORMAL, ten, None) == ten
