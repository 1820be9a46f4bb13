"""The old world (dispatch.oldworld): the cycle worked out by hand on one dealer and one lab,
censoring at the horizon, every call in the outcomes, and the calibration to Bird's 6 days.

The hand-built world: the dealer at Deqing's county seat, 45 km by road from the Hangzhou lab
(P1), so mail takes 1 day each way; it posts on Thursdays at 16:00; the post delivers Monday to
Saturday at 10:00; one lab technician works 09:00-17:00 Monday to Saturday and a repair takes the
rule book's bench time plus 20 min of handling; the lab posts at 17:00. Day 0 is Monday
2026-03-02. Unless a test says otherwise, no part is missing and the customer collects the phone
as soon as it is back.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dispatch.dataset import Dataset
from dispatch.errors import DispatchError, InputError
from dispatch.kpis import kpis
from dispatch.model import DAY_S, Mode, Tier
from dispatch.network import Network
from dispatch.oldworld import (
    OUTCOME_COLUMNS,
    TARGET_CYCLE_DAYS,
    TOLERANCE_DAYS,
    OldWorldParams,
    calibrate,
    county_seats,
    simulate_old_world,
)
from dispatch.reasons import Reason
from tests.builders import EPOCH, HANGZHOU_PEAK, H, centre, req, road_by_hand

SEAT = (119.97, 30.54)  # Deqing's seat: the dealer
SEATS = pd.DataFrame({"adcode": ["330521"], "name": ["德清县"], "province_adcode": ["330000"],
                      "seat_lon": [SEAT[0]], "seat_lat": [SEAT[1]]})
LAB = Network((centre("P1", Tier.PROVINCE, None, 120.15, 30.27, {1, 2, 3}, 8, 9, 21, 0, "330000"),))
HAND = OldWorldParams(twice_weekly_share=0.0, weekly_mail_days=((3,),), lab_technicians=1, parts_share=0.0,
                      pickup_mean_s=0)


def day(d: int, hour: float) -> int:
    return d * DAY_S + int(hour * H)


def run(calls, params: OldWorldParams = HAND, seats: pd.DataFrame = SEATS, network: Network = LAB):
    return simulate_old_world(Dataset(network, (), tuple(calls), EPOCH), params, seats=seats)


def at_seat(rid: str, level: int, created_h: float, mode: Mode = Mode.WALKIN):
    return req(rid, level, mode, created_h, lon=SEAT[0], lat=SEAT[1])


def test_the_cycle_by_hand_batch_day_transit_queue_and_return():
    res = run([
        at_seat("A", 1, 10, Mode.ONSITE),  # Mon 10:00
        at_seat("B", 3, 11, Mode.PICKUP),  # Mon 11:00, the same batch, after A on the bench
        at_seat("C", 2, 3 * 24 + 17),  # Thu 17:00: after the post's 16:00, waits a week
        at_seat("D", 1, 5 * 24 + 22),  # Sat 22:00: the dealer is shut, handed in Sun 09:00
    ])
    o = res.outcomes.set_index("request_id")
    assert res.dealers["transit_days"].tolist() == [1]
    # A: posted Thu 16:00, at the lab Fri 10:00, repaired 10:00-10:50 (30 + 20 min), posted back
    # Fri 17:00, at the dealer and collected Sat 10:00: five days.
    assert o.loc["A", "at_dealer_s"] == day(0, 10)
    assert o.loc["A", "mailed_s"] == day(3, 16)
    assert o.loc["A", "at_lab_s"] == day(4, 10)
    assert (o.loc["A", "bench_start_s"], o.loc["A", "repaired_s"]) == (day(4, 10), day(4, 10 + 50 / 60))
    assert o.loc["A", "mailed_back_s"] == day(4, 17)
    assert o.loc["A", "back_at_dealer_s"] == o.loc["A", "completion_s"] == day(5, 10)
    assert o.loc["A", "turnaround_s"] == 5 * DAY_S
    # B: the lab's one technician is busy with A until 10:50; 180 + 20 min to 14:10; same post.
    assert (o.loc["B", "bench_start_s"], o.loc["B", "repaired_s"]) == (day(4, 10 + 50 / 60), day(4, 14 + 10 / 60))
    assert o.loc["B", "completion_s"] == day(5, 10)
    # C: next Thursday's post (day 10), the lab on Friday day 11, 10:00-11:50, back Sat day 12.
    assert o.loc["C", "mailed_s"] == day(10, 16)
    assert (o.loc["C", "bench_start_s"], o.loc["C", "repaired_s"]) == (day(11, 10), day(11, 11 + 50 / 60))
    assert o.loc["C", "completion_s"] == day(12, 10)
    assert o.loc["C", "turnaround_s"] == day(12, 10) - day(3, 17)
    # D: handed in Sunday 09:00, the same batch as C, after C on the bench.
    assert o.loc["D", "at_dealer_s"] == day(6, 9)
    assert (o.loc["D", "bench_start_s"], o.loc["D", "repaired_s"]) == (day(11, 11 + 50 / 60), day(11, 12 + 40 / 60))
    assert o.loc["D", "completion_s"] == day(12, 10)
    # Every mode became a carry-in: nobody was dispatched; the lab (tier 1) repaired it all.
    assert set(o["visit_mode"]) == {"carry_in"} and o["dispatch_s"].isna().all()
    assert set(o["repair_tier"]) == {float(Tier.PROVINCE)} and set(o["centre_id"]) == {"P1"}
    assert res.summary["cycle_mean_days"] == pytest.approx(
        (5 + (5 - 1 / 24) + (8 + 17 / 24) + (6 + 12 / 24)) / 4)
    assert res.summary["censored"] == 0 and res.summary["over_6_days_share"] == 0.5


def test_the_old_worlds_cost_is_its_labs_paid_days_and_its_mail_legs():
    """The four calls above span Mon-Sat (days 0-5): the lab's one technician is paid 6 bench
    days of 8 h at the rule book's 47 CNY/h; each device rides two parcels (15 CNY each). Cost
    per completed call = (6 x 8 x 47 + 8 x 15) / 4; the bench work started in the span (A and B
    on Friday, 50 + 200 min) over his paid time is the lab's utilisation."""
    res = run([at_seat("A", 1, 10, Mode.ONSITE), at_seat("B", 3, 11, Mode.PICKUP), at_seat("C", 2, 3 * 24 + 17),
               at_seat("D", 1, 5 * 24 + 22)])
    assert res.outcomes["courier_legs"].tolist() == [2, 2, 2, 2]
    assert sorted(res.workload["day"]) == [0, 1, 2, 3, 4, 5] and set(res.workload["available_s"]) == {8 * H}
    k = kpis(res.outcomes, res.workload)
    assert k["cost_per_job_cny"] == pytest.approx((6 * 8 * 47 + 8 * 15) / 4)
    assert k["cost_courier_per_job_cny"] == pytest.approx(30) and k["cost_travel_per_job_cny"] == 0
    assert k["utilisation"] == pytest.approx(250 / (6 * 8 * 60))


def test_the_lab_queue_spills_into_saturday_and_skips_sunday():
    # Five board-level repairs (200 min each) reach the lab on Friday; its day holds 480 min.
    res = run([at_seat(f"R{k}", 3, 10) for k in range(5)])
    o = res.outcomes.set_index("request_id")
    assert o["bench_start_s"].tolist() == [day(4, 10), day(4, 13 + 20 / 60),  # Fri: two, 16:40 + 200 min > 17:00
                                           day(5, 9), day(5, 12 + 20 / 60),  # Sat: two
                                           day(7, 9)]  # Sunday shut: Monday
    # Posted back the day each is done: Sat's post falls due on Sunday, delivered Monday.
    assert o["completion_s"].tolist() == [day(5, 10), day(5, 10), day(7, 10), day(7, 10), day(8, 10)]


def test_a_missing_part_holds_the_device_until_the_part_comes():
    res = run([at_seat("A", 1, 10)], replace(HAND, parts_share=1.0, parts_wait_days=(3, 3)))
    o = res.outcomes.iloc[0]
    # At the lab Fri 10:00; the part comes with Monday's post (Fri + 3 days), repaired 10:00-10:50,
    # posted Mon 17:00, back Tuesday 10:00: eight days.
    assert o["parts_wait_s"] == 3 * DAY_S
    assert (o["bench_start_s"], o["completion_s"]) == (day(7, 10), day(8, 10))


def test_the_customers_trip_to_the_dealer_and_its_hours():
    # 0.09 degrees due north of the seat, by the road model's formula at the scooter class:
    # 10,007.6 m by great circle x 1.3088 (the detour at 10 km) = 13,098 m; 3 km at 16, 9 at 22
    # and 1.098 at 25 km/h = 0.64051 h = 2,306 s rounded up, + 300 s of access = 2,606 s. Deqing
    # lies in no big city's rush-hour circle: the same at every hour.
    north = SEAT[1] + 0.09
    trip_s, _ = road_by_hand(SEAT[0], SEAT[1], SEAT[0], north, "scooter", depart_h=12)
    assert trip_s == 2606 == road_by_hand(SEAT[0], SEAT[1], SEAT[0], north, "scooter")[0]
    res = run([req("early", 1, Mode.WALKIN, 8, lon=SEAT[0], lat=north),  # there 08:44: waits to 09:00
               req("noon", 1, Mode.WALKIN, 12, lon=SEAT[0], lat=north),
               req("late", 1, Mode.WALKIN, 19.5, lon=SEAT[0], lat=north)])  # 20:14: shut, next morning
    o = res.outcomes.set_index("request_id")["at_dealer_s"]
    assert o.tolist() == [day(0, 9), day(0, 12) + trip_s, day(1, 9)]


def test_the_customers_trip_in_a_big_city_takes_the_rush_hour_of_his_call():
    """The trip is priced at the call's hour: the same 13,098 m in Hangzhou (both ends in its
    rush-hour circle, x 1.35 at the peak, all of it town driving) takes 0.64051 h x 1.35 =
    0.86469 h -> 3,413 s at 17:00 (the full evening peak), x (1 + 0.35 x 0.2) -> 2,768 s at 13:00."""
    seat = (120.17, 30.25)
    seats = SEATS.assign(adcode="330102", name="上城区", seat_lon=seat[0], seat_lat=seat[1])
    north = seat[1] + 0.09
    peak = road_by_hand(seat[0], north, *seat, "scooter", depart_h=17, peaks=(HANGZHOU_PEAK, HANGZHOU_PEAK))[0]
    midday = road_by_hand(seat[0], north, *seat, "scooter", depart_h=13, peaks=(HANGZHOU_PEAK, HANGZHOU_PEAK))[0]
    assert (peak, midday) == (3413, 2768)
    res = run([req("peak", 1, Mode.WALKIN, 17, lon=seat[0], lat=north, county="330102"),
               req("midday", 1, Mode.WALKIN, 13, lon=seat[0], lat=north, county="330102")], seats=seats)
    o = res.outcomes.set_index("request_id")["at_dealer_s"]
    assert o.tolist() == [day(0, 17) + peak, day(0, 13) + midday]


def test_the_customer_collects_in_the_dealers_hours():
    calls = [at_seat(f"R{k}", 1, 10 + k % 8) for k in range(40)]
    res = run(calls, replace(HAND, lab_technicians=10, pickup_mean_s=18 * H, seed=3))
    o = res.outcomes
    wait = o["completion_s"] - o["back_at_dealer_s"]
    tod = o["completion_s"] % DAY_S
    assert (wait >= 0).all() and wait.max() > 0
    assert ((tod >= 9 * H) & (tod < 20 * H)).all()


def test_mail_transit_by_distance_band_and_province():
    seats = pd.DataFrame({
        "adcode": ["330521", "330327", "340102"], "name": ["德清县", "苍南县", "合肥 瑶海区"],
        "province_adcode": ["330000", "330000", "340000"],
        "seat_lon": [119.97, 120.43, 117.31], "seat_lat": [30.54, 27.52, 31.86]})
    calls = [req("deqing", 1, Mode.WALKIN, 10, lon=119.97, lat=30.54, county="330521"),
             req("cangnan", 1, Mode.WALKIN, 10, lon=120.43, lat=27.52, county="330327"),
             req("hefei", 1, Mode.WALKIN, 10, lon=117.31, lat=31.86, county="340102")]
    res = run(calls, seats=seats)
    d = res.dealers.set_index("county_adcode")
    # Deqing 45 km: 1 day. Cangnan, in the same province but 360 km away: 2 days. Hefei has no lab of
    # its own in this network: the nearest (Hangzhou, another province, 440 km) and 2 days.
    assert d.loc["330521", "lab_distance_m"] < 300_000 < d.loc["330327", "lab_distance_m"]
    assert d["transit_days"].to_dict() == {"330521": 1, "330327": 2, "340102": 2}
    assert set(d["lab_id"]) == {"P1"}
    o = res.outcomes.set_index("request_id")
    assert o.loc["cangnan", "at_lab_s"] == day(5, 10)  # Thu 16:00 + 2 days
    assert o.loc["hefei", "province_adcode"] == "340000"


def test_a_call_without_a_known_county_goes_to_the_nearest_seat():
    res = run([req("x", 1, Mode.WALKIN, 10, lon=SEAT[0] + 0.01, lat=SEAT[1], county="")])
    assert res.outcomes["dealer_id"].tolist() == ["dealer-330521"]


def test_calls_open_at_the_horizon_are_censored_not_dropped():
    # The last call day is day 3, so the horizon is the start of day 3 + 1 + 7 = 11. C's device is
    # posted on day 10 and reaches the lab on day 11 10:00: past it.
    res = run([at_seat("A", 1, 10), at_seat("C", 2, 3 * 24 + 17)], replace(HAND, drain_days=7))
    o = res.outcomes.set_index("request_id")
    assert res.horizon_s == 11 * DAY_S
    assert o.loc["A", "completion_s"] == day(5, 10) and o.loc["A", "unassigned_reason"] == ""
    assert o.loc["C", "mailed_s"] == day(10, 16)
    assert np.isnan(o.loc["C", "at_lab_s"]) and np.isnan(o.loc["C", "completion_s"])
    assert o.loc["C", "unassigned_reason"] == Reason.OPEN_AT_HORIZON
    s = res.summary
    assert (s["requests"], s["completed"], s["censored"], s["never_at_dealer"]) == (2, 1, 1, 0)
    assert s["cycle_mean_days"] == 5.0  # over the completed call; the censored one is counted apart
    assert s["over_6_days_share"] == 0.5 and s["within_48h_share"] == 0.0


def test_a_customer_with_no_way_to_the_dealer_never_reaches_it_and_is_censored():
    """An islet east of Daishan (Zhoushan) with no bridge and no modelled ferry: the road model
    gives the leg its unreachable 30 days, past any horizon; the call is censored, not dropped,
    and counted as never at its dealer."""
    res = run([at_seat("A", 1, 10), req("isle", 1, Mode.WALKIN, 10, lon=122.2635, lat=30.2701)])
    o = res.outcomes.set_index("request_id")
    assert np.isnan(o.loc["isle", "at_dealer_s"]) and o.loc["isle", "unassigned_reason"] == Reason.OPEN_AT_HORIZON
    assert (res.summary["censored"], res.summary["never_at_dealer"]) == (1, 1)


def test_the_lab_is_sized_to_its_intake_at_the_stated_utilisation():
    # 10 simple repairs (50 min each) over one call day (a Monday, a working day): 500 min of
    # bench against 480 min x 0.85 per technician -> 2 technicians.
    res = run([at_seat(f"R{k}", 1, 10) for k in range(10)], replace(HAND, lab_technicians="workload"))
    assert res.labs.to_dict("records") == [{"lab_id": "P1", "technicians": 2, "devices": 10,
                                            "bench_h": pytest.approx(500 / 60)}]


def test_parameters_are_checked():
    for bad in ({"twice_weekly_share": 1.5}, {"drain_days": 3}, {"lab_technicians": "many"},
                {"within_province_days": ((500_000, 1), (100_000, 2))}, {"lab_bench_s": (17 * H, 9 * H)}):
        with pytest.raises(DispatchError):
            OldWorldParams(**bad)
    with pytest.raises(InputError, match="tier-1"):  # no provincial lab to mail to
        run([at_seat("A", 1, 10)], network=Network(()))


@pytest.fixture(scope="module")
def seats() -> pd.DataFrame:
    return county_seats()


@pytest.mark.slow
def test_every_call_is_in_the_outcomes_and_the_kpis_read_them(seats):
    from dispatch.synthetic import generate

    ds = generate("zhejiang", days=3, seed=7)
    res = simulate_old_world(ds, OldWorldParams(seed=7), seats=seats)
    o = res.outcomes
    assert list(o.columns) == list(OUTCOME_COLUMNS)
    assert len(o) == len(ds.requests) and set(o["request_id"]) == {r.id for r in ds.requests}
    assert o["request_id"].is_unique and res.summary["censored"] == o["completion_s"].isna().sum()
    # The stages follow each other.
    stages = o[["created_s", "at_dealer_s", "mailed_s", "at_lab_s", "bench_start_s", "repaired_s",
                "mailed_back_s", "back_at_dealer_s", "completion_s"]].dropna().to_numpy()
    assert (np.diff(stages, axis=1) >= 0).all()
    k = kpis(o)
    assert k["requests"] == len(ds.requests) and k["dispatch_within_target_rate"] == 0.0
    assert k["turnaround_mean_h"] / 24 == pytest.approx(res.summary["cycle_mean_days"])
    again = simulate_old_world(ds, OldWorldParams(seed=7), seats=seats)
    pd.testing.assert_frame_equal(o, again.outcomes)  # seeded: the same run twice


@pytest.mark.slow
def test_the_calibration_gives_birds_six_days_on_zhejiang(seats):
    cal = calibrate(presets=("zhejiang",), seeds=(1, 2, 3), days=14, seats=seats)
    median = float(cal.medians["cycle_mean_days"].iloc[0])
    assert abs(median - TARGET_CYCLE_DAYS) <= TOLERANCE_DAYS and cal.within_target
    # The chain censors nobody: the only calls open at the horizon are those that never reached
    # their dealer, island customers the road model gives no ferry (8-14 of about 19,300 a run).
    assert len(cal.runs) == 3 and (cal.runs["censored"] == cal.runs["never_at_dealer"]).all()
    # No seed is far off either: the figure is the model's, not one draw's.
    assert (abs(cal.runs["cycle_mean_days"] - TARGET_CYCLE_DAYS) <= TOLERANCE_DAYS).all()
