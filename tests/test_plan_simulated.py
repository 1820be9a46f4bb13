"""The day plan measured by simulating its day: the simulation begins with the plan's morning
routes, the populations are the plan's calls and those plus next-day calls, and the estimate's
error is the estimate minus the simulation over the same calls."""

from __future__ import annotations

import pytest

from dispatch.dataset import Dataset
from dispatch.errors import InputError
from dispatch.fieldwork import FieldworkParams
from dispatch.kpis import kpis
from dispatch.model import Mode
from dispatch.plan import PlanParams, make_plan
from dispatch.plan.simulated import estimate_error, format_plan_kpis, morning_routes, simulate_plan
from dispatch.simulate import MorningRoutes, SimParams, simulate
from tests.builders import EPOCH, NETWORK, TECHS, req

H = 3600
NOMINAL = FieldworkParams.none()


def _day():
    """A: called at 02:00 (its clock starts at Deqing's 09:00 opening: the morning batch); B at
    11:00; C at 20:00, after hours (its clock starts tomorrow: a next-day call)."""
    a = req("A", 1, Mode.ONSITE, created_h=2, window_h=12)
    b = req("B", 1, Mode.ONSITE, created_h=11, lon=119.99, lat=30.55)
    c = req("C", 1, Mode.ONSITE, created_h=20, window_h=12)
    return Dataset(NETWORK, TECHS, (a, b, c), EPOCH)


def test_the_simulated_day_begins_with_the_plans_morning_routes_and_counts_next_day_calls():
    ds = _day()
    plan = make_plan(ds, PlanParams(seed=1, deterministic=True))
    morning = morning_routes(plan)
    assert morning.day == 0 and sum(morning.routes.values(), ()) == ("A",)  # B and C come later
    sim = simulate_plan(ds, plan, fieldwork=NOMINAL)
    assert sim.plan_calls == {"A", "B"} and sim.next_day_calls == {"C"}
    assert sim.morning_calls == 1 and sim.not_kept == 0
    # Work to plan: the morning call is dispatched by the plan's technician at the plan's time.
    planned = plan.stops.set_index("request_id")
    got = sim.result.events[(sim.result.events["request_id"] == "A") & (sim.result.events["event"] == "dispatched")]
    assert got["where"].tolist() == [planned.loc["A", "technician_id"]]
    assert got["t_s"].tolist() == [planned.loc["A", "departure_s"]] == [9 * H]
    mine, wider = sim.kpis(), sim.kpis(with_next_day=True)
    assert mine["requests"] == 2 and wider["requests"] == 3 and wider["next_day_requests"] == 1
    est = kpis(plan.outcomes, plan.workload)
    assert est["requests"] == 2  # the plan's own population leaves C out
    err = estimate_error(est, mine)
    assert err["requests"] == 0 and err["turnaround_mean_h"] == pytest.approx(
        est["turnaround_mean_h"] - mine["turnaround_mean_h"])
    text = format_plan_kpis(est, sim)
    assert "plan's estimate (its calls)" in text and "simulated, with next-day calls" in text


def test_the_simulation_keeps_a_morning_route_it_is_given():
    """Given T3 (35 km away at P1) for A, the simulation sends T3, not T1 next door; a morning
    plan is the optimiser's, so the baseline refuses one."""
    ds = _day()
    morning = MorningRoutes(0, {"T3": ("A",)})
    res = simulate(ds, SimParams(fieldwork=NOMINAL), morning=morning)
    ev = res.events
    assert ev.loc[(ev["request_id"] == "A") & (ev["event"] == "dispatched"), "where"].tolist() == ["T3"]
    with pytest.raises(InputError, match="optimiser"):
        simulate(ds, SimParams(policy="baseline"), morning=morning)
