"""Location models agree with exhaustive search on small instances; locks and capacities hold."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from dispatch.coverage import (
    LocationProblem,
    coverage_table,
    greedy_mclp,
    lscp,
    mclp,
    pcenter,
    pmedian,
)
from dispatch.errors import DispatchError
from dispatch.model import Tier
from dispatch.network import Network
from tests.builders import centre


def random_problem(seed, n=12, m=7):
    rng = np.random.default_rng(seed)
    pts_d = rng.uniform(0, 100, (n, 2))
    pts_s = rng.uniform(0, 100, (m, 2))
    cost = np.rint(np.linalg.norm(pts_d[:, None] - pts_s[None], axis=2) * 60).astype(int)
    return LocationProblem.from_cost_matrix(cost, rng.integers(1, 10, n).astype(float))


def brute(problem, p, score, better):
    best = None
    for combo in combinations(range(len(problem.site_ids)), p):
        if problem.locked_open - set(combo) or problem.locked_closed & set(combo):
            continue
        v = score(list(combo))
        if v is not None and (best is None or better(v, best)):
            best = v
    return best


@pytest.mark.parametrize("seed", range(6))
def test_mclp_equals_exhaustive_search(seed):
    """Maximal cover finds the exhaustive search's best covered demand for p = 1..3, and greedy never beats it."""
    prob = random_problem(seed)
    radius = 2400
    cover = prob.cost_s <= radius
    for p in (1, 2, 3):
        exact = brute(prob, p, lambda c: float(prob.weights[cover[:, c].any(axis=1)].sum()), lambda a, b: a > b)
        res = mclp(prob, p, radius)
        assert res.status == "OPTIMAL" and len(res.chosen) == p
        assert res.objective == pytest.approx(exact)
        assert greedy_mclp(prob, p, radius).objective <= exact + 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_pmedian_and_pcenter_equal_exhaustive_search(seed):
    """p-median and p-centre find the exhaustive search's best total and worst-case cost for p = 1..3."""
    prob = random_problem(seed)
    for p in (1, 2, 3):
        exact_med = brute(prob, p, lambda c: float((prob.weights * prob.cost_s[:, c].min(axis=1)).sum()), lambda a, b: a < b)
        assert pmedian(prob, p).objective == pytest.approx(exact_med)
        exact_ctr = brute(prob, p, lambda c: float(prob.cost_s[:, c].min(axis=1).max()), lambda a, b: a < b)
        res = pcenter(prob, p)
        assert res.status == "OPTIMAL" and res.objective == exact_ctr


@pytest.mark.parametrize("seed", range(4))
def test_lscp_equals_exhaustive_search(seed):
    """Set cover opens the fewest sites that cover every coverable point, as exhaustive search finds."""
    prob = random_problem(seed)
    radius = 3000
    cover = prob.cost_s <= radius
    coverable = cover.any(axis=1)
    exact = next(p for p in range(1, 8) if brute(prob, p, lambda c: cover[coverable][:, c].any(axis=1).all() or None, lambda a, b: True))
    res = lscp(prob, radius)
    assert res.objective == exact
    assert cover[coverable][:, [prob.site_ids.index(s) for s in res.chosen]].any(axis=1).all()


def test_locked_sites_are_respected():
    """Every location model keeps locked-open sites and never opens locked-closed ones."""
    prob = random_problem(1)
    locked = LocationProblem.from_cost_matrix(prob.cost_s, prob.weights, locked_open=["0"], locked_closed=["1", "2"])
    for res in (mclp(locked, 3, 2400), greedy_mclp(locked, 3, 2400), pmedian(locked, 3), pcenter(locked, 3)):
        assert "0" in res.chosen and not {"1", "2"} & set(res.chosen), res.model


def test_capacities_are_respected():
    """Capacitated p-median loads no site beyond its capacity and costs no less than the uncapacitated optimum."""
    prob = random_problem(2)
    cap = np.full(len(prob.site_ids), prob.weights.sum() / 2.5)
    capped = LocationProblem.from_cost_matrix(prob.cost_s, prob.weights, capacities=cap)
    res = pmedian(capped, 3)
    load = {}
    for i, s in enumerate(res.allocation):
        load[s] = load.get(s, 0) + prob.weights[i]
    assert all(v <= cap[0] + 1e-6 for v in load.values())
    assert res.objective >= pmedian(prob, 3).objective - 1e-6


def test_bad_requests_are_clear():
    """Asking for more sites than exist, or locking an unknown site, is a DispatchError naming it."""
    prob = random_problem(0)
    with pytest.raises(DispatchError, match=r"p = 9 sites requested; expected 0..7"):
        mclp(prob, 9, 100)
    with pytest.raises(DispatchError, match="unknown site id 'S9'"):
        LocationProblem.from_cost_matrix(prob.cost_s, prob.weights, locked_open=["S9"])


def test_coverage_table_matches_brute_force_count():
    """The share of demand within 60 min of a centre able to repair each level equals a brute-force count."""
    net = Network((centre("P", Tier.PROVINCE, None, 120.0, 30.0, {1, 2, 3}, 8, courier_h=0),
                   centre("S", Tier.COUNTY, "P", 121.0, 30.0, {1}, 8, courier_h=0)))
    demand = pd.DataFrame({"lon": [120.1, 120.9, 120.5, 122.5], "lat": [30.0] * 4,
                           "weight": [1.0, 2.0, 3.0, 4.0], "province_adcode": ["33"] * 4})
    table = coverage_table(net, demand, minutes=60)
    from dispatch.travel import DEFAULT_TRAVEL

    t = lambda a, b: DEFAULT_TRAVEL.legs(a, 30.0, b, 30.0)[0]
    within = lambda lon, sites: min(t(lon, s) for s in sites) <= 3600
    expected_l1 = sum(w for lon, w in zip(demand.lon, demand.weight) if within(lon, [120.0, 121.0])) / 10
    expected_l3 = sum(w for lon, w in zip(demand.lon, demand.weight) if within(lon, [120.0])) / 10
    assert table.loc["national", "level1_within_60min"] == pytest.approx(expected_l1)
    assert table.loc["national", "level3_within_60min"] == pytest.approx(expected_l3)


def test_lscp_respects_locks():
    """Set cover keeps a locked-open site and never opens a locked-closed one."""
    prob = random_problem(3)
    locked = LocationProblem.from_cost_matrix(prob.cost_s, prob.weights, locked_open=["4"], locked_closed=["0"])
    res = lscp(locked, 3000)
    assert "4" in res.chosen and "0" not in res.chosen


def test_capacities_bind_and_single_source():
    """A full site's overflow goes to the next site, each point served by one site."""
    # Two sites, both near every point; the nearer one cannot take everything.
    cost = np.array([[10, 20], [10, 20], [10, 20]])
    prob = LocationProblem.from_cost_matrix(cost, [1.0, 1.0, 1.0], ["a", "b"], capacities=[2.0, 5.0])
    res = pmedian(prob, 2)
    assert res.allocation.count("a") == 2 and res.allocation.count("b") == 1
    assert res.objective == pytest.approx(10 + 10 + 20)


def test_escalation_turnaround_is_hand_computed():
    """Escalation turnaround is courier both ways to the lowest able tier, plus bench, return and the access drive."""
    from dispatch.coverage import escalation_turnaround_h
    from dispatch.travel import DEFAULT_TRAVEL

    net = Network((centre("P", Tier.PROVINCE, None, 120.0, 30.0, {1, 2, 3}, 8, courier_h=0),
                   centre("C", Tier.CITY, "P", 121.0, 30.0, {1, 2}, 8, courier_h=14),
                   centre("S", Tier.COUNTY, "C", 122.0, 30.0, {1}, 8, courier_h=5)))
    demand = pd.DataFrame({"lon": [122.0, 121.0, 120.0], "lat": [30.0] * 3, "weight": [1.0] * 3})
    t0 = DEFAULT_TRAVEL.legs(122.0, 30.0, 122.0, 30.0)[0] / 3600  # at the station itself: no drive
    got = escalation_turnaround_h(net, demand, 3, bench_h=3.0, return_h=4.0)
    assert got == pytest.approx([2 * 19 + 3 + 4 + t0, 2 * 14 + 3 + 4 + t0, 3 + 4 + t0])
    got2 = escalation_turnaround_h(net, demand, 2, bench_h=1.5, return_h=4.0)
    assert got2 == pytest.approx([2 * 5 + 1.5 + 4 + t0, 1.5 + 4 + t0, 1.5 + 4 + t0])


def test_county_problem_resolves_centre_ids_and_names_bad_ones(network):
    """A county problem locks sites by centre id or county adcode, and names a lock that is neither."""
    from dispatch.coverage import county_location_problem, demand_for, existing_sites

    demand = demand_for(network)  # one prefecture: Huzhou's counties
    assert set(demand["prefecture_adcode"]) == {"330500"} and len(demand) >= 4
    assert existing_sites(network, demand, 1)["330521"] == "S1"
    prob = county_location_problem(demand, network, lock_open=("S1",), lock_closed=("330522",))
    assert prob.site_ids.index("330521") in prob.locked_open
    res = mclp(prob, 2, 3600)
    assert "330521" in res.chosen and "330522" not in res.chosen
    with pytest.raises(DispatchError, match=r"lock open: 'S9' is neither a county adcode of this area nor an existing centre id"):
        county_location_problem(demand, network, lock_open=("S9",))


def test_pcenter_greedy_skips_taken_sites_with_int32_costs():
    """The greedy p-centre start picks distinct sites on int32 costs."""
    from dispatch.coverage.location import _pcenter_greedy

    cost = np.array([[0, 50, 90], [50, 0, 40], [90, 40, 0]], dtype=np.int32)
    chosen, radius = _pcenter_greedy(cost, 2, np.ones(3, bool), [])
    assert len(set(chosen)) == 2 and radius <= 50


def test_pcenter_with_no_site_for_positive_demand_is_infeasible():
    """p-centre with p = 0 and demand of positive weight is INFEASIBLE with the reason, never
    OPTIMAL with a worst travel of 0 (as p-median says)."""
    prob = random_problem(0)
    res = pcenter(prob, 0)
    assert res.status == "INFEASIBLE" and not res.chosen and np.isnan(res.objective)
    assert "p = 0 sites cannot serve the 12 demand point(s)" in res.notes[0]
    assert pmedian(prob, 0).status == "INFEASIBLE"


def test_lscp_that_leaves_demand_out_says_so_in_its_status():
    """A set cover where some demand is beyond every candidate's reach is PARTIAL (not OPTIMAL),
    and its note says how many points and what share of demand are left out."""
    cost = np.array([[60, 9000], [9000, 60], [9000, 9000]])  # the third point reaches no site in time
    prob = LocationProblem.from_cost_matrix(cost, np.array([1.0, 1.0, 2.0]))
    res = lscp(prob, 600)
    assert res.status == "PARTIAL" and sorted(res.chosen) == ["0", "1"]
    assert "1 demand point(s), 50.0 % of demand, cannot be covered" in res.notes[0]
    full = lscp(LocationProblem.from_cost_matrix(cost[:2], np.array([1.0, 1.0])), 600)
    assert full.status == "OPTIMAL"
