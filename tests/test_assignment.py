"""Tier assignment on a hand-built three-tier chain with hand-computed turnarounds."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from dispatch.assignment import AssignmentParams, assign
from dispatch.dataset import Dataset
from dispatch.model import Mode, Tier
from dispatch.network import Network
from dispatch.rules import DEFAULT_RULES, Rules
from tests.builders import HANGZHOU_PEAK, NETWORK, TECHS, centre, drive_s, req, road_by_hand, tech

H = 3600


def run(*reqs, **kw):
    ds = Dataset(NETWORK, TECHS, tuple(reqs), "2026-03-02")
    rules = {k: kw.pop(k) for k in list(kw) if k in {f.name for f in fields(Rules)}}
    return assign(ds, AssignmentParams(rules=replace(DEFAULT_RULES, **rules), **kw))


def test_walkins_repair_at_the_lowest_capable_tier_with_exact_turnaround():
    """A walk-in is repaired at the lowest capable tier of its chain; turnaround = courier legs + bench + 4 h return."""
    res = run(req("A", 1, Mode.WALKIN), req("B", 2, Mode.WALKIN), req("C", 3, Mode.WALKIN))
    got = {a.request_id: a for a in res.assigned}
    # A: at S1 10:00-10:30, +4 h return.
    assert (got["A"].repair_centre_id, got["A"].courier_hops, got["A"].est_turnaround_s) == ("S1", 0, 4.5 * H)
    # B: courier 5 h to C1 (15:00), bench 90 min (16:30), 5 h back, 4 h return = 15.5 h.
    assert (got["B"].repair_centre_id, got["B"].courier_hops, got["B"].est_turnaround_s) == ("C1", 1, 15.5 * H)
    # C: 5 h + 14 h -> P1 at 05:00 next day, opens 09:00, done 12:00, 19 h back, +4 h = 49 h.
    assert (got["C"].repair_centre_id, got["C"].courier_hops, got["C"].est_turnaround_s) == ("P1", 2, 49 * H)
    assert res.unassigned == ()


def test_full_bench_escalates_when_that_beats_waiting_a_day():
    """When the station's bench day is full, a repair goes up a tier if that brings it back sooner than waiting a day."""
    # S1 has 1 bench hour: two 30-min repairs fit today; the third either waits until tomorrow
    # at S1 (09:00-09:30 +4 h = 27.5 h) or goes up to C1 today (15:00-15:30, +5 h, +4 h = 14.5 h).
    res = run(*(req(f"W{i}", 1, Mode.WALKIN) for i in range(3)))
    where = sorted((a.repair_centre_id, a.est_turnaround_s) for a in res.assigned)
    assert where == [("C1", 14.5 * H), ("S1", 4.5 * H), ("S1", 4.5 * H)]
    assert res.status == "OPTIMAL"


def test_bench_queue_waits_when_no_one_else_can_repair():
    """A repair only the province can do waits for its next bench day; one no bench day can hold is no_capable_centre."""
    # P1's 4 bench hours a day hold one 3-hour repair: the second waits a day.
    res = run(req("X", 3, Mode.WALKIN), req("Y", 3, Mode.WALKIN))
    assert sorted(a.est_turnaround_s for a in res.assigned) == [49 * H, 73 * H]
    # With 2 bench hours no level-3 repair ever fits: unassigned, with the reason.
    small = Network(tuple(replace(c, bench_hours_per_day=2.0) if c.id == "P1" else c for c in NETWORK))
    res = assign(Dataset(small, TECHS, (req("X", 3, Mode.WALKIN),), "2026-03-02"), AssignmentParams())
    assert [u.reason_code for u in res.unassigned] == ["no_capable_centre"]


def test_with_nothing_repaired_on_site_every_onsite_call_is_collected():
    """With onsite_max_level 0 every on-site call is collected for a bench able to repair it, none dropped."""
    res = run(req("L1", 1, Mode.ONSITE), req("L2", 2, Mode.ONSITE), onsite_max_level=0)
    assert res.unassigned == ()
    got = {a.request_id: a for a in res.assigned}
    assert {a.mode for a in got.values()} == {Mode.PICKUP} and "collected" in got["L1"].rule
    assert got["L1"].repair_centre_id == "S1"  # the nearest station repairs level 1 itself
    assert NETWORK[got["L2"].repair_centre_id].can_repair(2)


def test_onsite_goes_to_a_centre_whose_technician_has_the_level():
    """An on-site call goes to the nearest centre with a technician of its level and needs no bench."""
    res = run(req("O1", 1, Mode.ONSITE), req("O2", 2, Mode.ONSITE))
    got = {a.request_id: a for a in res.assigned}
    assert got["O1"].visit_centre_id == "S1"  # T1 is level 1 and nearest
    assert got["O2"].visit_centre_id in ("C1", "P1")  # T1 cannot do level 2 on site
    assert got["O2"].repair_centre_id is None



def test_the_same_centre_and_level_for_another_product_line_is_asked_again():
    """Who can visit is remembered per centre, level and product line: a level-2 phone goes on
    site from C1 (T2 does phones), a level-2 wearable in the same place is collected instead."""
    res = run(req("P", 2, Mode.ONSITE), req("W", 2, Mode.ONSITE, product="wearable"))
    got = {a.request_id: a for a in res.assigned}
    assert (got["P"].mode, got["P"].repair_centre_id) == (Mode.ONSITE, None)
    assert (got["W"].mode, got["W"].visit_centre_id) == (Mode.PICKUP, "S1")

def test_unassigned_with_reasons():
    """A call no able technician can reach is no_technician_in_reach, its sentence naming the level and product."""
    res = run(req("U1", 2, Mode.ONSITE, product="wearable"), max_visit_travel_s=4 * H, collect_onsite=False)
    assert [(u.request_id, u.reason_code) for u in res.unassigned] == [("U1", "no_technician_in_reach")]
    assert "no technician able to do level 2 (wearable)" in res.unassigned[0].reason
    far = run(req("U2", 1, Mode.PICKUP, lon=110.0, lat=40.0))
    assert [(u.request_id, u.reason_code) for u in far.unassigned] == [("U2", "no_technician_in_reach")]


def test_onsite_call_nobody_can_repair_on_site_is_collected_for_the_bench():
    """An on-site call nobody can repair on site is collected (10-min hand-over) and repaired at the first able bench."""
    # Only T2/T3 do level 2, and only phones: T1 (any product, level 1) collects the wearable,
    # with a 10-minute hand-over; the device goes by courier to C1, the first level-2 bench.
    res = run(req("U1", 2, Mode.ONSITE, product="wearable"))
    assert res.unassigned == ()
    (a,) = res.assigned
    assert (a.mode, a.visit_centre_id, a.repair_centre_id, a.courier_hops) == (Mode.PICKUP, "S1", "C1", 1)
    assert "collected for the bench" in a.rule
    tr = drive_s(119.97, 30.54, 119.971, 30.541)
    # 10:00 + 30 min allowance + drive there and back + 10 min hand-over at S1; courier 5 h to
    # C1, 90 min bench, 5 h back, 4 h to the customer.
    at_s1 = 10 * H + 1800 + 2 * tr + 600
    assert a.est_turnaround_s == at_s1 + 5 * H + 1.5 * H + 5 * H + 4 * H - 10 * H


def test_technician_hours_cap_moves_visits_to_the_next_centre():
    """Visits beyond the station technician's estimated hours go to the next centre, every call still assigned."""
    # T1 has 8.25 h net x 0.85 = 7.0 h; 1-hour visits (30 min service + 2 x travel) fill it up.
    many = [req(f"V{i}", 1, Mode.ONSITE) for i in range(12)]
    res = run(*many)
    by_centre = {}
    for a in res.assigned:
        by_centre[a.visit_centre_id] = by_centre.get(a.visit_centre_id, 0) + 1
    assert len(res.assigned) + len(res.unassigned) == 12
    assert by_centre.get("S1", 0) < 12 and sum(by_centre.values()) == 12


@pytest.mark.parametrize("mode", [Mode.PICKUP])
def test_pickup_collected_and_escalated(mode):
    """A level-2 pickup is collected by a technician and repaired up the chain, at C1 or P1."""
    res = run(req("K", 2, mode))
    (a,) = res.assigned
    assert a.visit_centre_id is not None and a.repair_centre_id in ("C1", "P1")


def test_technician_hours_are_an_estimate_that_never_refuses_a_call():
    """Estimated technician hours never refuse a call: with only S1 in reach, all twelve go to S1."""
    # Only S1 is within 10 min of the customers; its one technician's estimated hours (7.0 h)
    # hold about seven 1-hour visits, yet all twelve are assigned there: routing decides who
    # goes (and may borrow a neighbouring area's technician), so no call is refused for hours.
    many = [req(f"V{i}", 1, Mode.ONSITE) for i in range(12)]
    res = run(*many, max_visit_travel_s=600)
    assert res.unassigned == ()
    assert {a.visit_centre_id for a in res.assigned} == {"S1"}


def test_a_call_no_centre_of_its_province_reaches_goes_across_the_border():
    """A call no centre of its own province can reach goes to the nearest centre across the border; one in reach stays."""
    # A customer of province 34 lives next to S1 (province 33); province 34's only centre is
    # 300 km away, beyond the 3-hour drive: the nearest centres across the border take it.
    p2 = replace(centre("P2", Tier.PROVINCE, None, 117.2, 31.8, {1, 2, 3}, 4, 9, 21, 0),
                 province_adcode="340000", prefecture_adcode="")
    ds = Dataset(Network(NETWORK.centres + (p2,)), TECHS + (tech("T4", "P2", 3),),
                 (replace(req("X", 1, Mode.ONSITE), county_adcode="341100"),), "2026-03-02")
    res = assign(ds, AssignmentParams())
    assert [a.visit_centre_id for a in res.assigned] == ["S1"] and res.unassigned == ()
    # Within its own province's reach, it stays there.
    near = replace(req("Y", 1, Mode.ONSITE, lon=117.25, lat=31.85), county_adcode="341100")
    res = assign(replace(ds, requests=(near,)), AssignmentParams())
    assert [a.visit_centre_id for a in res.assigned] == ["P2"]


def test_provinces_solved_in_a_process_pool_give_the_same_assignment():
    """Provinces solved in a process pool give exactly the assignment solved in one process."""
    from dispatch.executor import executor

    def moved(c):  # the same chain two degrees east, in another province
        return replace(c, id=c.id + "b", name=c.name + "b", lon=c.lon + 2, parent_id=c.parent_id and c.parent_id + "b",
                       province_adcode="340000", prefecture_adcode="340500",
                       county_adcode=c.county_adcode and "340521")

    net = Network(tuple(NETWORK) + tuple(moved(c) for c in NETWORK))
    techs = TECHS + tuple(replace(t, id=t.id + "b", home_centre_id=t.home_centre_id + "b") for t in TECHS)
    reqs = []
    for i in range(6):  # walk-ins filling S1's bench, on-site and pickup calls, in both provinces
        for dlon, county, tag in ((0, "330521", "a"), (2, "340521", "b")):
            for mode, level in ((Mode.WALKIN, 1), (Mode.ONSITE, 1), (Mode.PICKUP, 2)):
                r = req(f"{tag}{mode.value}{i}", level, mode, created_h=9 + i, lon=119.971 + dlon)
                reqs.append(replace(r, county_adcode=county))
    ds = Dataset(net, techs, tuple(reqs), "2026-03-02")
    alone = assign(ds, AssignmentParams(time_limit_s=5.0))
    with executor(2) as pool:
        pooled = assign(ds, AssignmentParams(time_limit_s=5.0), pool=pool)
    assert {a.visit_centre_id or a.repair_centre_id for a in alone.assigned} >= {"S1", "S1b"}
    assert pooled == alone


def test_a_call_across_the_border_after_its_groups_province_was_sent_gives_the_same_assignment():
    """Province 330000's calls come first, so its group goes to the pool as soon as its options
    are built; then a call of province 340000, whose stations have no technician, can only be
    served from 330000 (the national search): that group is solved again with it, and the pool
    gives the assignment solved in one process."""
    from dispatch.executor import executor

    def moved(c):  # the chain half a degree east, in another province, without technicians
        return replace(c, id=c.id + "b", name=c.name + "b", lon=c.lon + 0.5, parent_id=c.parent_id and c.parent_id + "b",
                       province_adcode="340000", prefecture_adcode="340500",
                       county_adcode=c.county_adcode and "340521")

    net = Network(tuple(NETWORK) + tuple(moved(c) for c in NETWORK))
    reqs = [req(f"a{i}", 1, Mode.ONSITE, created_h=9 + i) for i in range(4)]
    across = replace(req("b0", 1, Mode.ONSITE, created_h=10, lon=120.47), county_adcode="340521")
    ds = Dataset(net, TECHS, (*reqs, across), "2026-03-02")
    alone = assign(ds, AssignmentParams(time_limit_s=5.0))
    with executor(2) as pool:
        pooled = assign(ds, AssignmentParams(time_limit_s=5.0), pool=pool)
    by_id = {a.request_id: a for a in alone.assigned}
    assert net[by_id["b0"].visit_centre_id].province_adcode == "330000"
    assert pooled == alone


def test_the_cost_weight_moves_the_assignment_from_faster_to_cheaper_at_the_break_even():
    """A call next to Deqing: S1's technician is minutes away, but S1 is a contracted station
    whose fee is high; the next centre's own technician is farther and cheaper. Time alone (and a large
    weight) sends S1; below the break-even (the extra cost over the hours saved) the cheaper
    own technician goes; the switch is at the break-even, to the objective's minute."""
    from dispatch.assignment import build_options, option_cost_cny
    from dispatch.contracts import Contract, ContractBook, Fees
    from dispatch.rules import CostRates

    r = req("R1", 1, Mode.ONSITE)
    ds = Dataset(NETWORK, TECHS, (r,), "2026-03-02")
    book = ContractBook({"S1": Contract("S1", fees=Fees((400.0, 400.0, 400.0)))})
    base = AssignmentParams(candidates=2, contracts=book)
    opts = build_options(ds, base)[0]["R1"]
    rates = CostRates()
    cost = {o.visit: option_cost_cny(o, r, NETWORK, rates, book) for o in opts}
    turn = {o.visit: o.turnaround_s for o in opts}
    fast, cheap = min(turn, key=turn.get), min(cost, key=cost.get)
    assert fast == "S1" and cheap in {"C1", "P1"} and len(opts) == 2
    # S1's fee: (400 + 30 on site) over its quality score.
    assert cost["S1"] == pytest.approx(430 / Contract("S1").quality)
    break_even = (cost[fast] - cost[cheap]) / ((turn[cheap] - turn[fast]) / 3600)

    def visit(weight: float | None) -> str:
        p = base if weight is None else replace(base, cost=CostRates(turnaround_cny_per_h=weight))
        return assign(ds, p).assigned[0].visit_centre_id

    assert visit(None) == fast
    assert visit(break_even * 1.03) == fast and visit(break_even * 100) == fast
    assert visit(break_even * 0.97) == cheap and visit(1.0) == cheap


def test_bench_turnarounds_are_the_one_day_form_day_by_day_checked_by_hand():
    """A level-2 device at Deqing (S1) at 10:00 goes 5 h by courier to Huzhou (C1, 09-19),
    90 min on the bench, 5 h back, 4 h return. Day 0: done 16:30, 15.5 h; day 1: 33.5 h;
    day 2: 57.5 h. With its part at C1 only at 18:30, day 0 ends next morning (09:00 + 90
    min): 33.5 h. The several-days form asks for the part once and equals the one-day form."""
    from dispatch.assignment import bench_turnaround, bench_turnarounds

    chain = NETWORK.chain("S1")
    params = AssignmentParams()
    bench = DEFAULT_RULES.bench_s(2)
    assert bench == 90 * 60
    got = bench_turnarounds(chain, 1, 10 * H, bench, range(3), 10 * H, params)
    assert [(ta / H, day) for ta, day, _ in got] == [(15.5, 0), (33.5, 1), (57.5, 2)]
    asked = []

    def late_part(c, t):
        asked.append((c.id, t))
        return max(t, int(18.5 * H))

    got = bench_turnarounds(chain, 1, 10 * H, bench, range(3), 10 * H, params, late_part)
    assert [(ta / H, day) for ta, day, _ in got] == [(33.5, 0), (33.5, 1), (57.5, 2)]
    assert asked == [("C1", 15 * H)]
    for d in range(3):
        assert bench_turnaround(NETWORK, chain, 1, 10 * H, bench, d, 10 * H, params, late_part) == got[d]


def test_candidate_drives_are_priced_at_the_hour_the_calls_clock_starts():
    """A call in Hangzhou, 4.9 km from P1: P1's candidate drive is the road model's at the hour
    the call's dispatch clock starts, as an insertion's is at its release. By the formula: 7,930 m
    by road, 1,235 s off-peak; both ends in Hangzhou's rush-hour circle (x 1.35) and the whole leg
    town driving: x 1.175 at 09:00 (a call at 08:00 waits for P1's opening, half the peak), x 1.07
    at 14:00, x 1.35 at 17:00 (the full evening peak)."""
    from dispatch.assignment import build_options

    p1 = NETWORK["P1"]
    at = {"early": 8, "midday": 14, "peak": 17}
    calls = tuple(req(rid, 1, Mode.ONSITE, created_h=h, lon=120.20, lat=30.30) for rid, h in at.items())
    opts = build_options(Dataset(NETWORK, TECHS, calls, "2026-03-02"), AssignmentParams())[0]
    drive = {rid: next(o.travel_s for o in opts[rid] if o.visit == "P1") for rid in at}
    hand = {rid: road_by_hand(p1.lon, p1.lat, 120.20, 30.30, depart_h=max(h, 9), peaks=(HANGZHOU_PEAK, HANGZHOU_PEAK))[0]
            for rid, h in at.items()}
    assert drive == hand == {"early": 1399, "midday": 1301, "peak": 1562}
