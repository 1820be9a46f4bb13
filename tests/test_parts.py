"""Spare parts (dispatch.parts): a hand-built case per rule, conservation, the 三包 rules, lane
cut-offs and the sizing against the textbook single-echelon case."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import pytest
from scipy.stats import poisson

from dispatch.assignment import AssignmentParams, bench_turnaround
from dispatch.dataset import Dataset
from dispatch.fieldwork import FieldworkParams
from dispatch.kpis import kpi_breakdown, kpis
from dispatch.model import Mode, Tier
from dispatch.network import Network
from dispatch.parts.catalogue import LOANER, Catalogue, DeviceModel, Part, Recipe
from dispatch.parts.lanes import Lane, LaneParams, Lanes
from dispatch.parts.promise import device_legs_for
from dispatch.parts.sim import awake_after
from dispatch.parts.sizing import SizingParams, ebo, item_fill, size, smallest_level
from dispatch.parts.stock import NATIONAL, Ledger, StockLevels, van
from dispatch.parts.world import PartsData
from dispatch.rules import DEFAULT_RULES, EXCHANGE, QUOTE, REFUND, REPAIR
from dispatch.simulate import SimParams, simulate
from dispatch.travel import DEFAULT_TRAVEL
from tests.builders import centre, req, tech

H, D = 3600, 86_400
NOMINAL = FieldworkParams.none()
SHANGHAI = (121.47, 31.23, "310000")  # the test's national warehouse: 211 km by road from S1
# Every level-1 repair of M1 takes a screen, every level-2 one a camera.
CAT = Catalogue(
    (DeviceModel("M1", "Phone 1", 1.0, 2024, 4000.0),),
    (Part("SCR", "screen", "M1", 1, 1000.0), Part("CAM", "camera", "M1", 2, 300.0),
     Part("PHONE", "handset", "M1", 0, 3000.0), Part(LOANER, "loaner", "", 0, 900.0)),
    (Recipe("M1", 1, "SCR", 1.0), Recipe("M1", 2, "CAM", 1.0)))
# S1, S2, S3 are county stations of one province, 5 km, 70 km and 35 km from each other.
NET = Network((
    centre("P1", Tier.PROVINCE, None, 120.15, 30.27, {1, 2, 3}, 8, 9, 21, 0, "330000", "330100"),
    centre("C1", Tier.CITY, "P1", 120.09, 30.89, {1, 2}, 8, 9, 19, 14, "330000", "330500"),
    centre("S1", Tier.COUNTY, "C1", 119.97, 30.54, {1}, 8, 9, 18, 5, "330000", "330500", "330521"),
    centre("S2", Tier.COUNTY, "C1", 120.50, 30.70, {1}, 8, 9, 18, 5, "330000", "330500", "330522"),
    centre("S3", Tier.COUNTY, "C1", 120.30, 30.60, {1}, 8, 9, 18, 5, "330000", "330500", "330523"),
))
TECHS = (tech("T1", "S1", 1), tech("T2", "C1", 2))


def phone(r, **kw):
    return replace(r, device_model="M1", **kw)


def run(calls, levels, techs=TECHS, national=SHANGHAI, **params):
    parts = PartsData(CAT, StockLevels(levels), LaneParams(late=False), national=national)
    ds = Dataset(NET, techs, tuple(calls), "2026-03-02", parts=parts)
    return simulate(ds, SimParams(fieldwork=NOMINAL, **params))


def events(res, rid):
    ev = res.events[res.events["request_id"] == rid]
    return {e: (t, d) for e, t, d in zip(ev["event"], ev["t_s"], ev["detail"])}


def row(res, rid):
    return res.outcomes.set_index("request_id").loc[rid]


def test_a_part_on_the_van_wins_over_the_nearer_technician():
    """A level-1 on-site call next to S1: T1 (at S1, 5 km) is nearer than T2 (at C1, 53 km), and
    both can set off within the hour. Only T2's van holds the screen: T2 goes and repairs it on
    site from his van. Without it on his van, the screen is ordered to S1 (same-day lane: 19:00,
    after the station closes) and the visit booked for its next opening: T1 repairs it on site at
    09:00 the next day (the bench, needing the same screen, would hand it back later). With that
    rule off, T1 goes, has no screen, and collects the phone."""
    call = phone(req("A", 1, Mode.ONSITE, created_h=10, window_h=6))
    res = run([call], {(van("T2"), "SCR"): 1, (NATIONAL, "SCR"): 5})
    ev = events(res, "A")
    assert res.events[(res.events["request_id"] == "A") & (res.events["event"] == "dispatched")]["where"].tolist() == ["T2"]
    assert "returned" in ev and "picked_up" not in ev
    assert row(res, "A")["part_source"] == "van"
    waited = run([call], {(NATIONAL, "SCR"): 5})
    ev = events(waited, "A")
    assert ev["visit_booked"] == (10 * H, "when SCR is in, day 0 19:00")
    assert waited.events.query("request_id == 'A' and event == 'dispatched'")[["where", "t_s"]].values.tolist() == [["T1", D + 9 * H]]
    assert "picked_up" not in ev and ev["returned"][1] == "repaired on site"
    assert row(waited, "A")["part_source"] == "order" and row(waited, "A")["part_wait_s"] == 9 * H
    collect = replace(DEFAULT_RULES, onsite_waits_for_part=False)
    without = run([call], {(NATIONAL, "SCR"): 5}, rules=collect)
    ev = events(without, "A")
    assert without.events.query("request_id == 'A' and event == 'dispatched'")["where"].tolist() == ["T1"]
    assert "picked_up" in ev and "stockout" in ev


def test_a_part_two_stations_away_comes_by_lateral_transfer_with_the_lanes_eta():
    """A walk-in at S1 (10:00) needs a screen; S1 and S2 have none, S3 (35 km: a same-city lane,
    picked up at once, delivered 3 h later) has one, and the national warehouse none (its
    factory is 5 days away). The screen comes from S3: ETA 13:00; the bench repairs 13:00-13:30."""
    call = phone(req("W", 1, Mode.WALKIN, created_h=10, lon=119.97, lat=30.54))
    res = run([call], {("S3", "SCR"): 1})
    ev = events(res, "W")
    assert ev["waiting_for_part"] == (10 * H, "SCR by lateral from S3, ETA day 0 13:00")
    assert ev["repaired"][0] == 13 * H + 1800
    assert row(res, "W")["part_source"] == "lateral" and row(res, "W")["part_wait_s"] == 3 * H


def test_a_stock_out_books_the_job_at_the_replenishments_arrival():
    """S1 holds one screen. A (10:00) takes it and S1 reorders from the warehouse (211 km: the
    same-day lane, cut-off 11:00, delivered 9 h after pickup: 19:00). B (10:30) finds the shelf
    empty; the unit on its way (19:00) beats a new order (picked up 10:30, 19:30): B is booked
    for it. S1's bench is closed at 19:00: B is repaired at 09:00-09:30 the next day."""
    a = phone(req("A", 1, Mode.WALKIN, created_h=10))
    b = phone(req("B", 1, Mode.WALKIN, created_h=10.5))
    res = run([a, b], {("S1", "SCR"): 1, (NATIONAL, "SCR"): 5})
    assert events(res, "A")["repaired"][0] == 10 * H + 1800
    ev = events(res, "B")
    assert ev["waiting_for_part"] == (10.5 * H, "SCR by inbound, ETA day 0 19:00")
    assert ev["repaired"][0] == D + 9 * H + 1800
    assert row(res, "B")["part_source"] == "inbound"


def test_a_lane_cut_off_pushes_a_shipment_to_the_next_day():
    """Next-morning lane (cut-off 18:00, delivered 10:30 the next day): ready 17:59 -> picked up
    18:00, delivered day 1 10:30; ready 18:01 -> picked up day 1 18:00, delivered day 2 10:30.
    A same-day service (cut-off 11:00, 9 h) ready at 11:30 waits for the next day's 09:00 pickup."""
    lane = Lane("A", "B", "next_morning", 18 * H, 1, 10 * H + 1800, 0.0, 23.0)
    assert lane.nominal(17 * H + 59 * 60) == (18 * H, D + 10 * H + 1800)
    assert lane.nominal(18 * H + 60) == (D + 18 * H, 2 * D + 10 * H + 1800)
    same_day = Lane("A", "B", "same_day", 11 * H, 0, 9 * H, 0.0, 30.0)
    assert same_day.nominal(10 * H) == (10 * H, 19 * H)
    assert same_day.nominal(11 * H + 1800) == (D + 9 * H, D + 18 * H)
    lanes = Lanes({"A": (119.97, 30.54, "330521"), "B": (87.6, 43.8, "650102")})
    assert [ln.service for ln in lanes.lanes("A", "B")] == ["standard"]  # 4,200 km into Xinjiang
    assert lanes.lanes("A", "B")[0].transit_days == 4 + 2  # 1 day per 1,200 km (at least 2), +2 remote


def test_the_promises_fast_eta_is_the_shipments_and_prefetched_lanes_are_the_same():
    """``Lanes.eta_s`` (the assignment's fast path) gives ``ship(...).eta_s`` at every quarter
    hour of two days, on generated lanes (same-city, same-day, next-morning, Xinjiang standard)
    and on a user's table lane; lanes whose distances were asked ahead in one batch
    (``prefetch``) are those generated pair by pair."""
    points = {c.id: (c.lon, c.lat, c.province_adcode) for c in NET} | {
        NATIONAL: SHANGHAI, "X": (87.6, 43.8, "650102")}
    table = {("S2", "S3"): (Lane("S2", "S3", "own", 15 * H, 0, 2 * H, 0.0, 9.0),
                            Lane("S2", "S3", "slow", 20 * H, 1, 8 * H, 0.0, 5.0))}
    pairs = [("S1", "C1"), ("C1", "S1"), ("C1", "P1"), (NATIONAL, "S1"), ("S1", "X"), ("S2", "S3")]
    lanes, ahead = Lanes(points, table=table), Lanes(points, table=table)
    ahead.prefetch(pairs)
    for o, d in pairs:
        assert ahead.lanes(o, d) == lanes.lanes(o, d)
        for t in range(0, 2 * D, 900):
            assert lanes.eta_s(o, d, t) == lanes.ship(o, d, t).eta_s, (o, d, t)
    legs = device_legs_for(Dataset(NET, TECHS, (), "2026-03-02", parts=PartsData(
        CAT, StockLevels({}), LaneParams(late=False), national=SHANGHAI)), DEFAULT_TRAVEL)
    chain = NET.chain("S1")
    for t in range(0, D, 1800):  # the on-time fast path of the device legs, both ways
        assert legs.up(chain, 2, t) == legs.up_priced(chain, 2, t)[0]
        assert legs.down(chain, 2, t) == legs.down_priced(chain, 2, t)[0]


@pytest.mark.parametrize(("age_days", "damage", "failed", "route", "rule"), [
    (3, "", 0, REFUND, "return_7d"),
    (12, "", 0, EXCHANGE, "exchange_15d"),
    (200, "", 2, EXCHANGE, "exchange_after_repairs"),
    (200, "", 1, REPAIR, "warranty_repair"),
    (3, "water", 0, QUOTE, "paid_damage"),
    (500, "", 0, QUOTE, "out_of_warranty"),
    (None, "", 0, REPAIR, "no_purchase_date"),
])
def test_each_sanbao_rule(age_days, damage, failed, route, rule):
    assert DEFAULT_RULES.sanbao.route(age_days, damage, failed) == (route, rule)


def test_sanbao_at_intake_refunds_exchanges_from_stock_and_waits_for_a_quote():
    """Walk-ins at S1 at 10:00: bought 3 days ago -> refunded at the counter (done at 10:00);
    12 days ago -> a new phone from S1's stock, back with the customer 4 h later (14:00); water
    damage -> a quote, accepted at the counter 10 min later (the customer is there), then the
    screen from the shelf: repaired 10:10-10:40."""
    t = 10 * H
    refund = phone(req("R", 1, Mode.WALKIN, created_h=10), purchase_s=t - 3 * D)
    swap = phone(req("X", 1, Mode.WALKIN, created_h=10), purchase_s=t - 12 * D)
    quote = phone(req("Q", 1, Mode.WALKIN, created_h=10), damage="water")
    res = run([refund, swap, quote], {("S1", "PHONE"): 1, ("S1", "SCR"): 1})
    assert row(res, "R")["completion_s"] == t and row(res, "R")["sanbao_rule"] == "return_7d"
    assert row(res, "X")["completion_s"] == t + 4 * H and row(res, "X")["part_source"] == "stock"
    assert events(res, "Q")["quote_accepted"] == (t + 600, "after 0.2 h")
    assert events(res, "Q")["repaired"][0] == t + 600 + 1800 and row(res, "Q")["sanbao_rule"] == "paid_damage"


def test_a_quote_by_phone_is_answered_in_the_customers_waking_hours():
    """The quote's answer: log-normal, median 1.5 h and 90th percentile 8 h (Sanbao); a wait that
    runs past 21:00 (the customer's hours end) goes on from 08:00 the next morning."""
    sanbao = DEFAULT_RULES.sanbao
    assert sanbao.quote_wait_s(0.5, False) == 90 * 60
    assert abs(sanbao.quote_wait_s(0.9, False) - 8 * H) <= 1
    assert sanbao.quote_wait_s(0.99, True) == 600
    hours = DEFAULT_RULES.customer_hours_s
    assert awake_after(20 * H, 3 * H, hours) == D + 10 * H  # 1 h before 21:00, 2 h from 08:00
    assert awake_after(23 * H, 30 * 60, hours) == D + 8 * H + 1800
    assert awake_after(9 * H, 2 * H, hours) == 11 * H


def test_a_long_wait_gets_a_loaner_and_the_customers_turnaround_ends_there():
    """No screen anywhere but the warehouse's factory (5 days): the repair would pass 48 h, and S1
    has a loaner: the customer has it 4 h after the intake; the loaner is back when the phone is."""
    call = phone(req("L", 1, Mode.WALKIN, created_h=10))
    res = run([call], {("S1", LOANER): 1})
    assert row(res, "L")["swapped"] and row(res, "L")["completion_s"] == 14 * H
    assert res.stock["units_held"].iloc[-1] == 0  # the loaner came back with the phone


def test_every_part_in_is_used_on_hand_held_or_in_transit_each_day():
    """Conservation over a small run with stock-outs, lateral transfers, orders and vans: each
    day, the opening stock plus the factory's deliveries = used + on hand + held + in transit,
    and every faulty part sent back is in transit or received."""
    calls = [phone(req(f"c{i}", 1 + i % 2, mode, created_h=9.5 + i * 0.7, lon=119.97 + 0.02 * (i % 5), lat=30.54))
             for i, mode in enumerate([Mode.WALKIN, Mode.PICKUP, Mode.ONSITE] * 6)]
    res = run(calls, {("S1", "SCR"): 2, ("C1", "CAM"): 1, ("S3", "SCR"): 1, (van("T1"), "SCR"): 1,
                      (NATIONAL, "SCR"): 3, (NATIONAL, "CAM"): 2})
    s = res.stock
    assert len(s) >= 7 and (s["units_used"] > 0).any()
    assert (s["units_entered"] == s["units_used"] + s["units_on_hand"] + s["units_held"] + s["units_in_transit"]).all()
    assert (s["units_faulty_sent"] == s["units_faulty_in_transit"] + s["units_faulty_received"]).all()
    assert s["units_used"].iloc[-1] == res.outcomes["part_id"].ne("").sum()


def test_a_ledger_keeps_the_identity_through_every_move():
    led = Ledger(StockLevels({("A", "p"): 1, (NATIONAL, "p"): 1}), lambda loc: NATIONAL,
                 lambda o, d, p, t, k: (t + 10, t + 10, 15.0))
    def same():
        b = led.balance()
        return b["entered"] == b["used"] + b["on_hand"] + b["held"] + b["in_transit"]
    led.hold("j1", "A", "p", 0)  # A reorders: the warehouse sends its unit, and reorders from the factory
    assert same() and len(led.transit) == 2
    led.consume("j1")
    tr = led.order("A", "p", 5, job="j2")  # the warehouse has none: queued there
    assert tr is None and same()
    for tid in sorted(led.transit):
        led.arrive(tid, 100)
    assert same() and led.balance()["used"] == 1


def test_sizing_matches_the_textbook_single_echelon_case():
    """Poisson demand 2 a day over a 3-day lead time (mean 6): fill P(D <= S-1) reaches 90 % at
    S = 10 (P(D <= 8) = 0.847, P(D <= 9) = 0.916); EBO(10) = sum_{k>10} (k-10) p(k)."""
    assert smallest_level(6.0, 0.90) == 10
    assert item_fill(10, 6.0) == pytest.approx(0.9160759830051242)
    by_hand = sum((k - 10) * poisson.pmf(k, 6.0) for k in range(11, 200))
    assert ebo(10, 6.0) == pytest.approx(by_hand, rel=1e-9)


def test_sizing_a_station_reaches_its_fill_at_the_least_level():
    """Six level-1 walk-ins a day at S1 each take a screen. A parcel from the warehouse ready at
    noon has missed the same-day cut-off (11:00); the next-morning lane (cut-off 18:00, there at
    10:30) beats tomorrow's same-day (18:00): 22.5 h = 0.9375 days. Lead-time demand 5.625; with a
    warehouse that never runs short, 90 % fill needs S = 10 (P(D <= 8) = 0.883, P(D <= 9) = 0.939)."""
    calls = [phone(req(f"w{i}", 1, Mode.WALKIN, created_h=9 + i)) for i in range(6)]
    parts = PartsData(CAT, StockLevels({}), LaneParams(late=False), national=SHANGHAI)
    ds = Dataset(NET, TECHS, tuple(calls), "2026-03-02", parts=parts)
    got = size(ds, SizingParams(fill_target=0.90, national_fill=1 - 1e-12))
    t = got.table.set_index(["location", "part"])
    assert t.loc[("S1", "SCR"), "lead_days"] == pytest.approx(0.9375, abs=1e-6)
    assert got.levels.level("S1", "SCR") == 10 and got.fill >= 0.90
    assert math.isclose(got.value_cny, float(t["value_cny"].sum()))


def test_a_dataset_without_parts_runs_as_before():
    """No parts: no parts columns, no stock frame, the same log as a run that never heard of parts."""
    call = req("A", 1, Mode.WALKIN, created_h=10)
    ds = Dataset(NET, TECHS, (call,), "2026-03-02")
    res = simulate(ds, SimParams(fieldwork=NOMINAL))
    assert res.stock is None and "part_id" not in res.outcomes
    assert set(res.events["event"]) == {"called", "at_station", "repaired", "returned"}


def test_a_dataset_folder_with_parts_files_reads_back_and_bad_rows_are_named(tmp_path):
    """Parts written with the dataset read back as they were (devices, parts, recipes, stock; the
    calls' devices); a recipe naming an unknown part is an error naming file, row, column, value."""
    from dispatch.errors import ValidationError
    from dispatch.io import read_dataset
    from dispatch.tables import write_dataset

    calls = (phone(req("A", 1, Mode.WALKIN, created_h=10), purchase_s=-3 * D, damage="drop"),
             req("B", 1, Mode.WALKIN, created_h=11))
    parts = PartsData(CAT, StockLevels({("S1", "SCR"): 2, (van("T1"), "SCR"): 1, (NATIONAL, "CAM"): 4}))
    write_dataset(Dataset(NET, TECHS, calls, "2026-03-02", parts=parts), tmp_path)
    back = read_dataset(tmp_path)
    assert back.parts is not None and back.parts.catalogue == CAT and back.parts.levels == parts.levels
    assert back.requests == calls
    recipes = tmp_path / "recipes.csv"
    recipes.write_text(recipes.read_text() + "M1,2,NOPE,0.1\n")
    with pytest.raises(ValidationError) as err:
        read_dataset(tmp_path)
    assert "recipes.csv" in str(err.value) and "row 4" in str(err.value) and "NOPE" in str(err.value)


def test_the_service_answer_carries_the_part_decision(tmp_path):
    """A dataset with parts files served: a call naming its device model is answered with its
    part, where it is or its ETA (waiting_for_part), and the 三包 rule; a model the catalogue
    lacks is a 422 naming device_model. A dataset without parts answers as before (no part)."""
    from fastapi.testclient import TestClient

    from dispatch.parts.enable import with_parts
    from dispatch.service import LiveService, ServiceConfig, create_app, parse_tokens
    from dispatch.synthetic import generate
    from dispatch.tables import write_dataset

    ds = with_parts(generate("tiny", days=1, seed=1), 1)
    write_dataset(replace(ds, requests=ds.requests[:3]), tmp_path / "ds")
    token = "d-" + "x" * 30

    class Clock:
        def now_s(self) -> int:
            return 10 * H

    config = ServiceConfig(source=str(tmp_path / "ds"), db=f"sqlite:///{tmp_path / 's.sqlite'}",
                           tokens=parse_tokens(f"{token}:dispatcher"))
    service = LiveService(config, clock=Clock())
    try:
        client = TestClient(create_app(config, service))
        auth = {"Authorization": f"Bearer {token}"}
        body = {"lon": 120.1, "lat": 30.9, "at": "2026-03-02T10:00:00", "level": 1, "mode": "walkin"}
        got = client.post("/calls", json={**body, "id": "p1", "device_model": "M01",
                                          "purchase_date": "2026-02-27T12:00:00"}, headers=auth).json()
        assert got["part"]["sanbao"] == "refund" and got["part"]["sanbao_rule"] == "return_7d"
        assert got["part"]["part_id"] == (ds.parts.catalogue.need(0, "p1", "M01", 1) or "")
        if got["part"]["part_id"]:
            assert isinstance(got["part"]["waiting_for_part"], bool) and got["part"]["eta_s"] >= 10 * H
        bad = client.post("/calls", json={**body, "id": "p2", "device_model": "NOPE"}, headers=auth)
        assert bad.status_code == 422 and "device_model" in bad.text
        plain = client.post("/calls", json={**body, "id": "p3"}, headers=auth).json()
        assert plain.get("part") is None
    finally:
        service.close()


def test_a_queued_order_is_reordered_once():
    """Base stock: a location's position (on hand + inbound - backorders) stays at its level. The
    warehouse (level 1) sends its unit and reorders; a second order queues there and the warehouse
    reorders for it; when the factory's units come, the queued order is served without a third."""
    led = Ledger(StockLevels({("A", "p"): 0, (NATIONAL, "p"): 1}), lambda loc: NATIONAL,
                 lambda o, d, p, t, k: (t + 10, t + 10, 15.0))
    led.order("A", "p", 0)
    led.order("A", "p", 1)
    factory = [t for t in led.transit.values() if t.kind == "factory"]
    assert len(factory) == 2 and len(led.backorders[NATIONAL, "p"]) == 1
    led.arrive(factory[0].id, 50)
    assert len([t for t in led.transit.values() if t.kind == "factory"]) == 1  # no new factory order
    led.arrive(factory[1].id, 60)
    assert led.free(NATIONAL, "p") == 1  # back at its level


def test_a_device_misses_the_lanes_cut_off_and_rides_up_the_next_day():
    """A walk-in at S1 at 17:30 needs a module repair (level 2: S1 cannot, C1 can; the camera is
    on C1's shelf). The S1 -> C1 lane (53 km by road) offers same-city (17:00 cut-off, 3 h) and
    next-morning (18:00, 10:30 the next day): the same-city cut-off has passed, so the phone
    rides next-morning and reaches C1 at 10:30 the next day (the per-tier shuttle would have
    had it there at 23:00); repaired 10:30-12:00, back at S1 by same-city at 15:00, with the
    customer 4 h later. The same phone ready at 16:00 goes same-city and is at C1 at 19:00."""
    call = phone(req("U", 2, Mode.WALKIN, created_h=17.5, lon=119.97, lat=30.54))
    res = run([call], {("C1", "CAM"): 1})
    ev = events(res, "U")
    assert ev["courier_up"][0] == 17 * H + 1800
    assert ev["at_repair_centre"][0] == D + 10 * H + 1800
    assert ev["repaired"][0] == D + 12 * H
    assert row(res, "U")["completion_s"] == D + 15 * H + 4 * H
    early = run([replace(call, created_s=16 * H)], {("C1", "CAM"): 1})
    assert events(early, "U")["at_repair_centre"][0] == 19 * H


def test_the_plans_bench_estimate_rides_the_same_lanes():
    """The plan's estimate for the phone above (at S1 at 17:30, repaired at C1): by the lanes, at
    C1 10:30 the next day, repaired by 12:00, back at S1 at 15:00 and with the customer at 19:00
    (25.5 h); without parts, the per-tier lead time (5 h) and C1's opening: 26 h."""
    parts = PartsData(CAT, StockLevels({}), LaneParams(late=False), national=SHANGHAI)
    legs = device_legs_for(Dataset(NET, TECHS, (), "2026-03-02", parts=parts), DEFAULT_TRAVEL)
    chain = NET.chain("S1")
    at = 17 * H + 1800
    ta, _, done = bench_turnaround(NET, chain, 1, at, 90 * 60, 0, at, AssignmentParams(), legs=legs)
    assert (ta, done) == (25 * H + 1800, D + 12 * H)
    assert bench_turnaround(NET, chain, 1, at, 90 * 60, 0, at, AssignmentParams())[0] == 26 * H
    assert device_legs_for(Dataset(NET, TECHS, (), "2026-03-02"), DEFAULT_TRAVEL) is None


def test_the_service_holds_the_last_unit_for_the_first_call_and_keeps_it_across_a_restart(tmp_path):
    """Two walk-ins at one station need the same screen; the station has the last one and no other
    centre nor the warehouse has any. The first is answered 'on hand' and holds it; the second
    waits for the factory's. A restarted service replays the log: the hold is still there, so a
    third waits too. A cancelled call gives its unit back (the ledger under the service)."""
    from dispatch.parts.answer import PartAnswer
    from dispatch.parts.enable import with_levels, with_parts
    from dispatch.service import LiveService, ServiceConfig
    from dispatch.synthetic import generate
    from dispatch.tables import write_dataset

    ds = with_parts(generate("tiny", days=1, seed=1), 1)
    cat = ds.parts.catalogue
    ids = [f"w{i}" for i in range(60)]
    part = cat.need(0, ids[0], "M01", 1)
    same = [i for i in ids if cat.need(0, i, "M01", 1) == part][:3]
    assert part and len(same) == 3
    station = ds.network.centres[int(ds.network.nearest([120.1], [30.9])[0][0])]
    ds = with_levels(ds, StockLevels({(station.id, part): 1}))
    write_dataset(replace(ds, requests=ds.requests[:3]), tmp_path / "ds")

    class Clock:
        def now_s(self) -> int:
            return 10 * H

    config = ServiceConfig(source=str(tmp_path / "ds"), db=f"sqlite:///{tmp_path / 's.sqlite'}")
    body = {"lon": 120.1, "lat": 30.9, "at": dt.datetime(2026, 3, 2, 10), "level": 1, "mode": "walkin", "device_model": "M01"}
    service = LiveService(config, clock=Clock())
    try:
        first, _ = service.post_call({**body, "id": same[0]})
        second, _ = service.post_call({**body, "id": same[1]})
    finally:
        service.close()
    assert first["part"]["part_id"] == part and first["part"]["source"] == "on hand"
    assert second["part"]["waiting_for_part"] and second["part"]["eta_s"] > first["part"]["eta_s"]
    again = LiveService(config, clock=Clock())
    try:
        third, _ = again.post_call({**body, "id": same[2]})
    finally:
        again.close()
    assert third["part"]["waiting_for_part"]
    ledger = PartAnswer(ds, DEFAULT_TRAVEL, DEFAULT_RULES)
    r = replace(req(same[0], 1, Mode.WALKIN), device_model="M01")
    got = [ledger.reserve(c, replace(r, id=c), station.id, 10 * H, str)[0]["part"]["waiting_for_part"] for c in same[:2]]
    assert got == [False, True]
    ledger.release(same[0])
    assert ledger.reserve(same[2], replace(r, id=same[2]), station.id, 10 * H, str)[0]["part"]["source"] == "on hand"


def test_a_mail_in_phone_rides_the_lanes_to_the_hub_and_back_to_the_door():
    """寄修: a customer near S1 ships a phone for a module repair (level 2) at 10:00. S1 cannot
    repair it, C1 can and has the camera: the parcel goes straight to C1 by the same-city lane
    (3 h: 13:00), repaired 13:00-14:30, and back to the customer's door by the same lane at 17:30
    (no station hours, no hand-back). Nobody is dispatched; it counts in the 24 h share and its
    channel, not in the dispatch KPI."""
    call = phone(req("M", 2, Mode.MAILIN, created_h=10, lon=119.97, lat=30.54))
    res = run([call], {("C1", "CAM"): 1})
    ev = events(res, "M")
    assert ev["mailed"] == (10 * H, "to C1") and "dispatched" not in ev and "at_station" not in ev
    assert ev["repaired"][0] == 14 * H + 1800 and ev["mailed_back"][0] == 14 * H + 1800
    assert row(res, "M")["completion_s"] == 17 * H + 1800 and row(res, "M")["courier_legs"] == 2
    k = kpis(res.outcomes, res.workload)
    assert k["turnaround_within_24h_share"] == 1.0 and k["turnaround_mean_h"] == 7.5
    assert kpi_breakdown(res.outcomes, "channel")["channel"].tolist() == ["mail-in"]
    # Both parcels rode the same-city lane at its 25 CNY: 50 CNY of couriers for the one job.
    assert row(res, "M")["courier_lane_legs"] == 2 and row(res, "M")["courier_lane_cny"] == 50.0
    assert k["cost_courier_per_job_cny"] == 50.0


def test_the_courier_cost_is_what_the_lanes_the_parcels_rode_charge():
    """The user's lane table prices S1 -> C1 at 12 CNY (same-city) and C1 -> S1 at 19 (a
    next-morning lane): the mail-in above rides both, 31 CNY, and is back the next day at 10:00. A
    walk-in at S1 repaired at C1 with parts off rides the shuttle up and down: 2 x 15 CNY."""
    table = {("S1", "C1"): (Lane("S1", "C1", "same_city", 17 * H, 0, 3 * H, 0.0, 12.0),),
             ("C1", "S1"): (Lane("C1", "S1", "next_morning", 18 * H, 1, 10 * H, 0.0, 19.0),)}
    parts = PartsData(CAT, StockLevels({("C1", "CAM"): 1}), LaneParams(late=False), table, national=SHANGHAI)
    call = phone(req("M", 2, Mode.MAILIN, created_h=10, lon=119.97, lat=30.54))
    res = simulate(Dataset(NET, TECHS, (call,), "2026-03-02", parts=parts), SimParams(fieldwork=NOMINAL))
    assert row(res, "M")["courier_lane_cny"] == 31.0 and row(res, "M")["completion_s"] == D + 10 * H
    assert kpis(res.outcomes, res.workload)["cost_courier_per_job_cny"] == 31.0
    walk = simulate(Dataset(NET, TECHS, (req("W", 2, Mode.WALKIN, created_h=10),), "2026-03-02"),
                    SimParams(fieldwork=NOMINAL))
    assert row(walk, "W")["courier_legs"] == 2 and row(walk, "W")["courier_lane_legs"] == 0
    assert kpis(walk.outcomes, walk.workload)["cost_courier_per_job_cny"] == 30.0


def test_stock_moves_are_charged_at_their_lanes_prices_to_the_job_that_caused_them():
    """The mail-in of the test above fits C1's one camera: C1 reorders it from the national
    warehouse (its lane in the user's table: 23 CNY) and the faulty camera goes back to the
    warehouse (18 CNY). The job carries 41 CNY of part shipments, beside its 31 CNY of device
    couriers, and the cost per job counts both. A second such mail-in the same day rides the
    same two boxes (the same lanes and pickups): the two jobs' part shipments are 41 CNY."""
    table = {("S1", "C1"): (Lane("S1", "C1", "same_city", 17 * H, 0, 3 * H, 0.0, 12.0),),
             ("C1", "S1"): (Lane("C1", "S1", "next_morning", 18 * H, 1, 10 * H, 0.0, 19.0),),
             (NATIONAL, "C1"): (Lane(NATIONAL, "C1", "next_morning", 18 * H, 1, 10 * H, 0.0, 23.0),),
             ("C1", NATIONAL): (Lane("C1", NATIONAL, "standard", 18 * H, 2, 12 * H, 0.0, 18.0),)}
    parts = PartsData(CAT, StockLevels({("C1", "CAM"): 1, (NATIONAL, "CAM"): 1}), LaneParams(late=False), table,
                      national=SHANGHAI)
    call = phone(req("M", 2, Mode.MAILIN, created_h=10, lon=119.97, lat=30.54))
    res = simulate(Dataset(NET, TECHS, (call,), "2026-03-02", parts=parts), SimParams(fieldwork=NOMINAL))
    assert row(res, "M")["part_id"] == "CAM"
    assert row(res, "M")["part_ship_cny"] == 41.0
    k = kpis(res.outcomes, res.workload)
    assert k["cost_part_shipping_per_job_cny"] == 41.0
    rest = sum(k[f"cost_{c}_per_job_cny"] for c in ("technician", "travel", "overtime", "courier"))
    assert k["cost_per_job_cny"] == pytest.approx(rest + 41.0)
    two = PartsData(CAT, StockLevels({("C1", "CAM"): 2, (NATIONAL, "CAM"): 2}), LaneParams(late=False), table,
                    national=SHANGHAI)
    calls = (call, phone(req("N", 2, Mode.MAILIN, created_h=11, lon=119.97, lat=30.54)))
    both = simulate(Dataset(NET, TECHS, calls, "2026-03-02", parts=two), SimParams(fieldwork=NOMINAL))
    assert both.outcomes["part_id"].tolist() == ["CAM", "CAM"]
    assert both.outcomes["part_ship_cny"].sum() == 41.0
    assert kpis(both.outcomes, both.workload)["cost_part_shipping_per_job_cny"] == 20.5
    # Parts off: nothing to ship, the KPI is n/a and the total is the other four.
    walk = simulate(Dataset(NET, TECHS, (req("W", 2, Mode.WALKIN, created_h=10),), "2026-03-02"),
                    SimParams(fieldwork=NOMINAL))
    kw = kpis(walk.outcomes, walk.workload)
    assert "cost_part_shipping_per_job_cny" not in kw and kw["cost_per_job_cny"] is not None
