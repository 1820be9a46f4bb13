"""Scenarios apply purely, change what they say, and explain bad input."""

from __future__ import annotations

import pytest

from dispatch.errors import DispatchError
from dispatch.model import Dataset, Tier
from dispatch.scenarios import Scenario, apply
from tests.test_assignment import NETWORK, TECHS, Mode, req

BASE = Dataset(NETWORK, TECHS, (req("A", 1, Mode.WALKIN), req("B", 2, Mode.ONSITE)), "2026-03-02")


def test_apply_is_pure_and_does_what_it_says():
    before = (BASE.network.centres, BASE.technicians, BASE.requests)
    sc = Scenario.from_dict({
        "name": "close S1, add two in C1",
        "close": ["S1"],
        "add": [{"centre_id": "C1", "count": 2}],
        "bench_hours": {"2": 12},
        "dispatch_target_min": 45,
    })
    out = apply(BASE, sc)
    assert (BASE.network.centres, BASE.technicians, BASE.requests) == before
    assert "S1" not in out.dataset.network.by_id
    homes = [t.home_centre_id for t in out.dataset.technicians]
    assert homes.count("C1") == 1 + 1 + 2  # T2, T1 moved from S1, two added
    assert out.dataset.network["C1"].bench_hours_per_day == 12
    assert out.dispatch_target_s == 45 * 60
    assert any("closing S1: its 1 technician(s) move to C1" in w for w in out.warnings)


def test_open_station_and_json_round_trip():
    sc = Scenario.from_dict({"name": "new county", "open": [
        {"id": "S2", "tier": 3, "lon": 120.3, "lat": 30.6, "parent_id": "C1"}],
        "add": [{"centre_id": "S2", "count": 1}]})
    assert Scenario.from_dict(__import__("json").loads(sc.to_json())) == sc
    out = apply(BASE, sc)
    s2 = out.dataset.network["S2"]
    assert s2.tier == Tier.COUNTY and s2.levels == frozenset({1}) and s2.province_adcode == "330000"
    assert [t.home_centre_id for t in out.dataset.technicians].count("S2") == 1


@pytest.mark.parametrize("doc, message", [
    ({"name": "x", "close": ["S9"]}, "close: unknown station id 'S9'"),
    ({"name": "x", "add": [{"centre_id": "C1", "count": -2}]}, "add: count -2 for 'C1' is negative"),
    ({"name": "x", "move": {"T9": "C1"}}, "move: unknown technician id 'T9'"),
    ({"name": "x", "teleport": 1}, "unknown change(s) ['teleport']"),
    ({"name": "x", "close": ["P1"]}, "'P1' is a tier-1 centre"),
])
def test_bad_scenarios_are_clear_errors(doc, message):
    with pytest.raises(DispatchError) as exc:
        apply(BASE, Scenario.from_dict(doc))
    assert message in str(exc.value)


def test_losing_all_capable_centres_is_a_warning():
    out = apply(BASE, Scenario.from_dict({"name": "no lab", "capabilities": {"1": [1, 2]}}))
    assert "province 330000 has no centre able to repair level(s) [3]" in out.warnings


def test_demand_growth_is_seeded():
    sc = Scenario.from_dict({"name": "grow", "demand_growth": {"330000": 2.0}})
    a = apply(BASE, sc, seed=3).dataset.requests
    assert len(a) == 4 and a == apply(BASE, sc, seed=3).dataset.requests
