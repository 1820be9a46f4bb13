"""The day plan: every request exactly once, routes pass the checker, pool and Dask agree."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dispatch.model import DAY_S, Mode
from dispatch.plan import PlanParams, make_plan
from dispatch.rules import DEFAULT_RULES
from dispatch.synthetic import generate
from tests.builders import centre, req, tech


@pytest.fixture(scope="module")
def tiny():
    return generate("tiny", days=1, seed=3)


@pytest.fixture(scope="module")
def tiny_plan(tiny):
    return make_plan(tiny, PlanParams(seed=3, deterministic=True))


def test_every_request_appears_exactly_once(tiny, tiny_plan):
    """Every call is in the outcomes once (or deferred as next_day), served or unassigned with a sentence, never both."""
    p = tiny_plan
    ids = [r.id for r in tiny.requests]
    outcome_ids = list(p.outcomes["request_id"])
    assert len(outcome_ids) == len(set(outcome_ids))
    next_day = set(p.unassigned.loc[p.unassigned["reason_code"] == "next_day", "request_id"])
    assert set(outcome_ids) | next_day == set(ids) and not (set(outcome_ids) & next_day)
    routed = list(p.stops["request_id"])
    assert len(routed) == len(set(routed))
    unassigned = set(p.unassigned["request_id"])
    assert (p.unassigned["reason"].str.len() > 10).all()  # a sentence, not just a code
    by_id = {r.id: r for r in tiny.requests}
    for row in p.outcomes.itertuples():
        r = by_id[row.request_id]
        served = not np.isnan(row.completion_s)
        # Served (routed or on a bench) or listed with a reason: never both, never neither.
        assert served != (row.request_id in unassigned), row.request_id
        if served and r.mode.travels:  # walk-ins and mail-ins (寄修) go to a bench with nobody routed
            assert row.request_id in set(routed)
            assert row.dispatch_s >= row.clock_start_s  # nobody sets off before the call
        if served:
            assert row.completion_s > r.created_s


def test_routes_pass_the_independent_checker(tiny_plan):
    """Every route passes the independent checker, stops keep their windows, and no bench day is overfilled."""
    stats = tiny_plan.routing_stats
    assert len(stats) >= 1
    assert stats["violations"].sum() == 0, stats["first_violation"].tolist()
    # Stops are consistent with their technician's shift and the customer's window.
    s = tiny_plan.stops
    assert (s["start_s"] >= s["window_start_s"]).all() and (s["start_s"] <= s["window_end_s"]).all()
    assert (s["arrival_s"] >= s["departure_s"]).all() and (s["end_s"] >= s["start_s"]).all()
    b = tiny_plan.bench  # and no bench day holds more repairs than its hours
    assert len(b) and (b["bench_h_used"] <= b["bench_h_capacity"]).all(), b[b["bench_h_used"] > b["bench_h_capacity"]]


def test_plan_is_for_the_day_asked(tiny):
    """A plan for day 0 holds the calls whose clock starts on day 0 (walk-ins aside)."""
    p = make_plan(tiny, PlanParams(day=0, seed=3, deterministic=True))
    assert (p.outcomes["clock_start_s"] // DAY_S == 0).all() or (p.outcomes["mode"] == "walkin").any()


def _essence(plan) -> pd.DataFrame:
    return plan.stops[["technician_id", "sequence", "request_id", "start_s"]].sort_values(
        ["technician_id", "sequence"]).reset_index(drop=True)


def test_dask_cluster_gives_the_same_plan_as_the_process_pool(tiny, tiny_plan):
    """A Dask cluster, a process pool and one process give the same routes."""
    distributed = pytest.importorskip("distributed")
    from dispatch.executor import executor

    params = PlanParams(seed=3, deterministic=True)
    with executor(workers=2) as pool:
        pooled = make_plan(tiny, params, pool=pool)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with executor(scheduler=cluster.scheduler_address) as pool:
            dasked = make_plan(tiny, params, pool=pool)
    pd.testing.assert_frame_equal(_essence(pooled), _essence(dasked))
    pd.testing.assert_frame_equal(_essence(pooled), _essence(tiny_plan))


# --------------------------------------------------------------------------------------------
# Two prefectures on a hand-built network: borrowing across the border, pins, overtime

H = 3600


def _two_prefectures():
    from dispatch.model import Tier
    from dispatch.network import Network

    net = Network((
        centre("P1", Tier.PROVINCE, None, 120.60, 30.00, {1, 2, 3}, 40.0, 9, 18, 0, "330000", ""),
        centre("CA", Tier.CITY, "P1", 120.09, 30.89, {1, 2}, 40.0, 9, 18, 5, "330000", "330500"),
        centre("SA", Tier.COUNTY, "CA", 119.97, 30.54, {1}, 40.0, 9, 18, 5, "330000", "330500", "330521"),
        # CB is 11 km from SA, in the next prefecture.
        centre("CB", Tier.CITY, "P1", 120.03, 30.45, {1, 2}, 40.0, 9, 18, 5, "330000", "330100"),
    ))
    return net, (_tech("TA", "SA"), _tech("TB", "CB"))


def _tech(tid, home, level=1):
    return tech(tid, home, level, shift_h=(9, 18), break_h=(13, 14), break_min=30)


def _calls(*specs):
    return tuple(req(rid, 1, mode, h, 119.975, 30.545, service_min=service_min)
                 for rid, h, mode, service_min in specs)


def test_a_call_its_area_cannot_serve_in_time_is_borrowed_by_the_next_prefecture():
    """A call its area cannot serve within the hour goes to the next prefecture's technician, and to his bench."""
    from dispatch.dataset import Dataset

    net, techs = _two_prefectures()
    # Two pickups at 10:00 next to SA, whose one technician is busy 90 min with the first: the
    # second goes to CB's technician across the border, on time, and its device to CB's bench.
    calls = _calls(("K1", 10, Mode.PICKUP, 90), ("K2", 10, Mode.PICKUP, 90))
    plan = make_plan(Dataset(net, techs, calls, "2026-03-02"), PlanParams(seed=1, deterministic=True))
    by_tech = dict(zip(plan.stops["request_id"], plan.stops["technician_id"]))
    assert sorted(by_tech.values()) == ["TA", "TB"]
    out = plan.outcomes.set_index("request_id")
    assert (out["dispatch_wait_s"] <= 3600).all() and plan.unassigned.empty
    borrowed = next(r for r, t in by_tech.items() if t == "TB")
    assert out.loc[borrowed, "repair_centre_id"] == "CB"  # the device follows its technician
    stats = plan.routing_stats.set_index("area")
    assert stats.loc["330100", "taken_from_neighbours"] == 1 and stats.loc["330500", "handed_to_neighbours"] == 1
    assert stats["violations"].sum() == 0, stats["first_violation"].tolist()
    # The stored area problems hold each visit once, in the area whose technician serves it.
    held = [v.id for p in plan.area_problems.values() for v in p.visits]
    assert sorted(held) == ["K1", "K2"]


def test_overtime_is_allowed_up_to_the_limit_and_shown():
    """A call needing overtime is refused with max_overtime_s 0 and served within an hour's overtime, shown on the route."""
    from dispatch.dataset import Dataset

    net, techs = _two_prefectures()
    techs = techs[:1]  # SA's technician alone
    # A 15:30 on-site call with 150 min of work ends at 18:05 plus the drive home: overtime.
    calls = _calls(("L", 15.5, Mode.ONSITE, 150))
    ds = Dataset(net, techs, calls, "2026-03-02")
    strict = make_plan(ds, PlanParams(seed=1, deterministic=True, rules=replace(DEFAULT_RULES, max_overtime_s=0)))
    assert strict.unassigned["reason_code"].tolist() == ["out_of_reach_today"]
    paid = make_plan(ds, PlanParams(seed=1, deterministic=True, rules=replace(DEFAULT_RULES, max_overtime_s=H)))
    assert paid.unassigned.empty
    (route,) = paid.routes.itertuples()
    assert 0 < route.overtime_s <= H and route.end_s == 18 * H + route.overtime_s
    assert paid.routing_stats["violations"].sum() == 0


def test_pins_are_honoured_across_areas_or_refused_with_a_reason():
    """A pin to another prefecture's technician is honoured; one naming an unknown technician or call is an InputError."""
    from dispatch.errors import InputError
    from dispatch.dataset import Dataset
    from dispatch.plan import Pin

    net, techs = _two_prefectures()
    ds = Dataset(net, techs, _calls(("K1", 10, Mode.ONSITE, 30)), "2026-03-02")
    plan = make_plan(ds, PlanParams(seed=1, deterministic=True), pins=[Pin("K1", "TB")])
    assert plan.stops["technician_id"].tolist() == ["TB"]  # TB works in the next prefecture
    with pytest.raises(InputError, match="unknown technician 'TX'"):
        make_plan(ds, PlanParams(seed=1), pins=[Pin("K1", "TX")])
    with pytest.raises(InputError, match="'NOPE'"):
        make_plan(ds, PlanParams(seed=1), pins=[Pin("NOPE", "TA")])


def test_a_pin_overrides_the_assignments_reach():
    """A dispatcher's pin sends a technician beyond the assignment's reach, the device going to his own centre."""
    from dispatch.dataset import Dataset
    from dispatch.plan import Pin

    net, techs = _two_prefectures()
    far = tuple(replace(c, lon=120.2, lat=30.7) for c in _calls(("F", 10, Mode.PICKUP, 10)))
    ds = Dataset(net, techs, far, "2026-03-02")
    # With a 10-minute reach nobody is sent; the dispatcher's pin sends TB all the same, and the
    # device goes to TB's own centre.
    params = PlanParams(seed=1, deterministic=True, rules=replace(DEFAULT_RULES, max_visit_travel_s=600))
    assert make_plan(ds, params).unassigned["reason_code"].tolist() == ["no_technician_in_reach"]
    pinned = make_plan(ds, params, pins=[Pin("F", "TB")])
    assert pinned.unassigned.empty and pinned.stops["technician_id"].tolist() == ["TB"]
    assert pinned.outcomes.set_index("request_id").loc["F", "repair_centre_id"] == "CB"
    assert pinned.routing_stats["violations"].sum() == 0


def test_an_onsite_call_nobody_can_repair_within_the_hour_is_collected_instead():
    """An on-site call the able technician cannot reach within the hour is collected by another; switched off, it waits."""
    from dispatch.dataset import Dataset

    net, techs = _two_prefectures()
    # CA's technician alone does level 2; two level-2 on-site calls at 10:00 next to SA: he
    # takes one (2 h of work), and SA's level-1 technician collects the other within the hour.
    ca = _tech("TC", "CA", 2)
    calls = tuple(replace(c, level=2) for c in _calls(("K1", 10, Mode.ONSITE, 120), ("K2", 10, Mode.ONSITE, 120)))
    ds = Dataset(net, (techs[0], ca), calls, "2026-03-02")
    plan = make_plan(ds, PlanParams(seed=1, deterministic=True))
    out = plan.outcomes.set_index("request_id")
    assert plan.unassigned.empty and (out["dispatch_wait_s"] <= 3600).all()
    stops = plan.stops.set_index("request_id")
    collected = stops.index[stops["technician_id"] == "TA"].tolist()
    assert len(collected) == 1 and stops.loc[collected, "mode"].tolist() == ["pickup"]
    (c,) = collected
    assert stops.loc[c, "end_s"] - stops.loc[c, "start_s"] == 600  # a hand-over, not the repair
    on_site = ({"K1", "K2"} - {c}).pop()
    assert stops.loc[on_site, "technician_id"] == "TC" and stops.loc[on_site, "mode"] == "onsite"
    assert out.loc[c, "visit_mode"] == "pickup" and out.loc[c, "repair_centre_id"] == "CA"  # SA cannot do level 2
    assert out.loc[c, "completion_s"] > stops.loc[c, "end_s"]  # the device still has to be repaired
    from dispatch.kpis import kpis
    assert kpis(plan.outcomes)["onsite_collected_share"] == 0.5
    assert plan.routing_stats["violations"].sum() == 0
    # The manager's switch: without collection the second call waits for the level-2 technician.
    notes, plain = [], []
    strict = make_plan(ds, PlanParams(seed=1, deterministic=True, rules=replace(DEFAULT_RULES, collect_onsite=False)),
                       progress=lambda stage, done, total, note="": notes.append((stage, done, total, note)))
    late = strict.outcomes.set_index("request_id")
    assert (late["visit_mode"] == "onsite").all() and not (late["dispatch_wait_s"] <= 3600).all()
    # The progress bar's running KPIs: one of the two routed in the morning batch, the other
    # dispatched late in call order: 50 % within the hour, as the final KPI says.
    assert ("routing areas", 1, 1, "1 of 2 morning calls routed within the hour") in notes
    assert notes[-1] == ("dispatching calls", 1, 1, "50.0 % dispatched within the hour so far")
    from dispatch.kpis import kpis as plan_kpis
    assert plan_kpis(strict.outcomes)["dispatch_within_target_rate"] == 0.5
    # A plain (stage, done, total) callback still works, without notes.
    make_plan(ds, PlanParams(seed=1, deterministic=True), progress=lambda stage, done, total: plain.append(stage))
    assert "dispatching calls" in plain


def test_a_device_brought_to_a_full_bench_waits_for_the_next_day_with_room():
    """A device reaching a full bench is repaired when it opens next morning; no bench day holds more than its hours."""
    from dispatch.model import Tier
    from dispatch.dataset import Dataset
    from dispatch.network import Network

    net, techs = _two_prefectures()
    # CB's bench holds two 30-min repairs a day; two walk-ins fill today's. K2 is borrowed by
    # CB's technician (as in the borrowing test) and his device reaches CB's full bench.
    net = Network(tuple(replace(c, bench_hours_per_day=1.0) if c.id == "CB" else c for c in net))
    walkins = tuple(replace(c, lon=120.03, lat=30.45, service_s=0)
                    for c in _calls(("W1", 9.5, Mode.WALKIN, 0), ("W2", 9.5, Mode.WALKIN, 0)))
    calls = _calls(("K1", 10, Mode.PICKUP, 90), ("K2", 10, Mode.PICKUP, 90)) + walkins
    plan = make_plan(Dataset(net, techs, calls, "2026-03-02"), PlanParams(seed=1, deterministic=True))
    out = plan.outcomes.set_index("request_id")
    assert out.loc[["W1", "W2"], "repair_centre_id"].tolist() == ["CB", "CB"]
    borrowed = plan.stops.set_index("technician_id").loc["TB", "request_id"]
    assert out.loc[borrowed, "repair_centre_id"] == "CB"
    bench = plan.bench.set_index(["centre_id", "day"])
    assert (plan.bench["bench_h_used"] <= plan.bench["bench_h_capacity"]).all(), plan.bench
    assert bench.loc[("CB", 0), "bench_h_used"] == 1.0 and bench.loc[("CB", 1), "bench_h_used"] == 0.5
    # Repaired when CB opens the next morning (09:00 + 30 min), back with the customer 4 h later.
    assert out.loc[borrowed, "completion_s"] == 24 * H + 9.5 * H + 4 * H
    assert net["CB"].tier == Tier.CITY


def test_a_day_without_calls_is_an_empty_plan(tiny):
    """A day without calls gives an empty plan, not an error."""
    plan = make_plan(tiny, PlanParams(seed=1, day=5))  # the tiny dataset has one day of calls
    assert plan.outcomes.empty and plan.stops.empty and plan.unassigned.empty


def test_progress_notes_go_only_to_callbacks_that_take_a_note():
    """Progress notes go to callbacks taking 'note' (or **kwargs), never into another fourth parameter."""
    from dispatch.progress import noting as _noting

    got = []
    _noting(lambda stage, done, total, note="": got.append(note))("s", 1, 2, "50 %")
    _noting(lambda stage, done, total, **kw: got.append(kw))("s", 1, 2, "50 %")
    _noting(lambda stage, done, total, lo=0.5: got.append(lo))("s", 1, 2, "50 %")  # not a note
    _noting(lambda stage, done, total: got.append(total))("s", 1, 2, "50 %")
    _noting(None)("s", 1, 2, "50 %")
    assert got == ["50 %", {"note": "50 %"}, 0.5, 2]


def test_the_plan_has_one_rule_book_which_the_assignment_follows():
    """PlanParams.rules is the one rule book: the assignment follows it through replace(), and an
    assignment given a different one is refused with a message saying where the rules go."""
    from dispatch.assignment import AssignmentParams
    from dispatch.errors import DispatchError

    r1, r2 = replace(DEFAULT_RULES, max_overtime_s=0), replace(DEFAULT_RULES, dispatch_target_s=1800)
    p = PlanParams(rules=r1)
    assert p.assignment_params().rules == r1
    assert replace(p, rules=r2).assignment_params().rules == r2
    assert replace(p, rules=DEFAULT_RULES).assignment_params().rules == DEFAULT_RULES
    assert PlanParams(deterministic=True).assignment_params().deterministic
    with pytest.raises(DispatchError, match="give the rule book once"):
        PlanParams(rules=r1, assignment=AssignmentParams(rules=r2))
