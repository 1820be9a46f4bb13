"""Scenarios apply purely, change what they say, and explain bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatch.errors import DispatchError
from dispatch.model import Mode, Tier
from dispatch.dataset import Dataset
from dispatch.rules import DEFAULT_COST_RATES, CostRates
from dispatch.scenarios import CostParams, Scenario, apply
from tests.builders import NETWORK, TECHS, req, tech

BASE = Dataset(NETWORK, TECHS, (req("A", 1, Mode.WALKIN), req("B", 2, Mode.ONSITE)), "2026-03-02")


def test_apply_is_pure_and_does_what_it_says():
    """Applying a scenario leaves the base dataset untouched and makes each change it states."""
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
    """An opened station gets its tier's levels and its parent's province; a scenario survives a JSON round trip."""
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
    """A bad scenario (unknown id, negative count, unknown change, closing a province lab) is a DispatchError saying so."""
    with pytest.raises(DispatchError) as exc:
        apply(BASE, Scenario.from_dict(doc))
    assert message in str(exc.value)


def test_losing_all_capable_centres_is_a_warning():
    """A scenario leaving a province no centre able to do a level warns which level."""
    out = apply(BASE, Scenario.from_dict({"name": "no lab", "capabilities": {"1": [1, 2]}}))
    assert "province 330000 has no centre able to repair level(s) [3]" in out.warnings


def test_demand_growth_is_seeded():
    """Demand growth of 2.0 doubles a province's calls, the same calls for the same seed."""
    sc = Scenario.from_dict({"name": "grow", "demand_growth": {"330000": 2.0}})
    a = apply(BASE, sc, seed=3).dataset.requests
    assert len(a) == 4 and a == apply(BASE, sc, seed=3).dataset.requests


def test_compare_uses_the_same_calls_and_leaves_the_base_alone():
    """Comparing scenarios plans the base's calls in each, with a delta column per scenario, the base untouched."""
    from dispatch.scenarios import CompareOptions, compare

    reqs = tuple(req(f"R{k}", 1 + k % 2, mode, created_h=9 + k)
                 for k, mode in enumerate([Mode.ONSITE, Mode.PICKUP, Mode.WALKIN, Mode.ONSITE, Mode.PICKUP]))
    # One evening call: the county station is closed then, the city centre still open, so closing
    # the station would move it into today's plan; the comparison keeps the base's calls.
    reqs += (req("R-late", 1, Mode.WALKIN, created_h=18.5),)
    base = Dataset(NETWORK, TECHS, reqs, "2026-03-02")
    before = (base.network.centres, base.technicians, base.requests)
    scs = [Scenario.from_dict({"name": "close S1", "close": ["S1"]}),
           Scenario.from_dict({"name": "two more", "add": [{"centre_id": "C1", "count": 2}]})]
    comp = compare(base, scs, CompareOptions(plan=True, routing_max_s=0.2))
    assert (base.network.centres, base.technicians, base.requests) == before
    ids = [e.request_ids for e in comp.evaluations]
    assert ids[0] and ids[0] == ids[1] == ids[2]
    assert list(comp.table.columns) == ["base", "close S1", "two more", "Δ close S1", "Δ two more"]
    assert comp.table.at["technicians", "Δ two more"] == 2
    assert comp.table.at["plan_requests", "base"] == comp.table.at["plan_requests", "close S1"]
    # In money as well as hours: the served calls' turnaround at the rule book's yuan per hour.
    for col in ("base", "close S1"):
        t = comp.table[col]
        assert t["turnaround_value_cny"] == pytest.approx(
            t["plan_served"] * t["plan_turnaround_mean_h"] * DEFAULT_COST_RATES.turnaround_cny_per_h)
        assert t["cost_and_turnaround_cny"] == pytest.approx(t["cost_per_day"] + t["turnaround_value_cny"])


def test_scenarios_round_trip_through_sqlite(tmp_path):
    """Scenarios are saved, replaced by name, listed and loaded back from SQLite; an unknown name lists the stored ones."""
    from dispatch.store import Store

    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    sc = Scenario.from_dict({"name": "mix", "close": ["S1"], "move": {"T2": "P1"}, "capabilities": {"3": [1, 2]},
                             "courier_h": {"3": 2.5}, "demand_growth": {"330000": 1.2}, "dispatch_target_min": 45,
                             "description": "测试 round trip"})
    base = {"source": None, "preset": "tiny", "seed": 3, "days": 1, "population": None}
    store.save_scenario(sc.name, sc.to_dict(), base, sc.description)
    store.save_scenario("other", Scenario(name="other").to_dict(), base)
    got = Store(f"sqlite:///{tmp_path / 's.sqlite'}").load_scenario("mix")
    assert Scenario.from_dict(got.spec) == sc and got.base == base and got.description == "测试 round trip"
    store.save_scenario(sc.name, Scenario(name="mix").to_dict(), base)  # replace by name
    assert Scenario.from_dict(store.load_scenario("mix").spec) == Scenario(name="mix")
    assert list(store.list_scenarios()["name"]) == ["other", "mix"]
    assert store.list().empty  # plans untouched
    with pytest.raises(DispatchError, match="no scenario 'nope' .*stored scenarios: other, mix"):
        store.load_scenario("nope")


def test_unknown_ids_name_valid_ones():
    """Unknown station or province ids are reported with valid ones to use."""
    with pytest.raises(DispatchError) as exc:
        apply(BASE, Scenario.from_dict({"name": "x", "close": ["S2"], "demand_growth": {"440000": 2}}))
    assert "close: unknown station id 'S2'; expected an existing station id such as S1" in str(exc.value)
    assert "demand_growth: '440000' is not a province of this network; expected one of 330000" in str(exc.value)


def test_a_scenarios_running_cost_reads_the_rule_books_rates():
    """CostParams charges a technician his net shift at CostRates' hourly rate, six days in seven
    with a weekly rest day, and kilometres at its rate: one place for rates."""
    t = tech("T1", "S1")  # 08-17 with a 45-minute break: 8.25 paid hours
    cost = CostParams(rates=CostRates(technician_cny_per_h=40.0, vehicle_cny_per_km=2.0))
    assert cost.technician_day(t) == pytest.approx(8.25 * 40)
    assert cost.technician_day(replace(t, rest_weekday=6)) == pytest.approx(8.25 * 40 * 6 / 7)
    assert cost.rates.vehicle_cny_per_km == 2.0 and CostParams().rates == CostRates()
