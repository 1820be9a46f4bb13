"""The naive baseline on the hand-built chain of test_assignment, times computed by hand."""

from __future__ import annotations

import math

from dispatch.baseline import TechState, baseline_plan, send_nearest_free
from dispatch.kpis import kpis
from dispatch.model import Mode
from dispatch.dataset import Dataset
from dispatch.travel import DEFAULT_TRAVEL
from tests.builders import HANGZHOU_PEAK, NETWORK, TECHS, req, road_by_hand

H = 3600


def test_walkins_follow_fixed_escalation_and_the_daily_courier():
    """The baseline repairs level 1 at the nearest station and sends level 2 to the province by the 18:00 courier."""
    ds = Dataset(NETWORK, TECHS, (req("A", 1, Mode.WALKIN), req("B", 2, Mode.WALKIN)), "2026-03-02")
    out, _ = baseline_plan(ds)
    got = out.set_index("request_id")
    # A: level 1 at the nearest centre S1, bench 10:00-10:30, +4 h return.
    assert got.loc["A", "completion_s"] == 10.5 * H + 4 * H and got.loc["A", "repair_tier"] == 3
    # B: level 2 goes to the province whatever the city could do: the courier leaves at 18:00,
    # 5 h + 14 h up -> P1 at 13:00 on day 1, bench 90 min -> 14:30; the courier leaves at 18:00,
    # 19 h down -> 13:00 on day 2, +4 h return = 17:00 on day 2.
    assert got.loc["B", "repair_tier"] == 1
    assert got.loc["B", "completion_s"] == 2 * 24 * H + 17 * H


def test_nearest_free_technician_in_call_order_with_hand_computed_dispatch():
    """The baseline sends the nearest free capable technician in call order, who sets off at once,
    each drive priced by the road model at the hour he sets off."""
    # Two on-site calls at 10:00 and 10:05 next to S1. T1 (S1) is nearest and free for the first;
    # for the second T1 is busy, so the nearest free capable technician goes: T3 from P1 (34 km
    # away) rather than T2 from C1 (39 km).
    a = req("A", 1, Mode.ONSITE, created_h=10)
    b = req("B", 1, Mode.ONSITE, created_h=10 + 5 / 60)
    ds = Dataset(NETWORK, TECHS, (a, b), "2026-03-02")
    out, work = baseline_plan(ds)
    got = out.set_index("request_id")
    s1, p1 = NETWORK["S1"], NETWORK["P1"]
    # S1 -> A by the road model's formula: 146 m crow-flies x 1.447 = 212 m at 22 km/h = 35 s,
    # + 300 s of access = 335 s (Deqing has no rush hour).
    trip_a, _ = road_by_hand(s1.lon, s1.lat, a.lon, a.lat, depart_h=10)
    assert trip_a == 335
    # P1 -> B at 10:05: 34.68 km crow-flies x 1.1887 = 41,226 m; 3 km at 22, 9 at 40, 28 at 70 and
    # 1.23 at 100 km/h = 0.77362 h. P1 lies in Hangzhou's rush-hour circle (x 1.35), B does not: the
    # mean 1.175, at 10:00 a fifth of the peak, x 1.035 on the first 20 km (0.47565 h): + 0.01665 h.
    # 0.79027 h = 2,845 s rounded up, + 300 = 3,145 s (59 s more than off-peak).
    trip_b, dist_b = road_by_hand(p1.lon, p1.lat, b.lon, b.lat, depart_h=10, peaks=(HANGZHOU_PEAK, 1.0))
    assert (trip_b, dist_b) == (3145, 41226) and trip_b - road_by_hand(p1.lon, p1.lat, b.lon, b.lat)[0] == 59
    assert got.loc["A", "dispatch_s"] == 10 * H
    assert got.loc["A", "completion_s"] == 10 * H + trip_a + 1800
    assert got.loc["B", "dispatch_s"] == b.created_s  # T3 is free at once
    assert got.loc["B", "completion_s"] == b.created_s + trip_b + 1800
    assert got.loc["B", "centre_id"] == "P1"
    wl = work.set_index("technician_id")
    assert (wl.loc["T1", "jobs"], wl.loc["T2", "jobs"], wl.loc["T3", "jobs"]) == (1, 0, 1)
    assert wl.loc["T3", "distance_m"] == 2 * dist_b  # there and back home
    k = kpis(out, work)
    assert k["dispatch_within_target_rate"] == 1.0
    assert math.isclose(k["time_to_dispatch_p50_min"], 0.0)


def test_nobody_able_is_listed_with_a_reason_not_dropped():
    """A call no technician is able to serve is listed as no_free_technician with no completion, not dropped."""
    # A level-2 on-site call for a tablet: T1 is level 1, T2 and T3 only do phones.
    r = req("X", 2, Mode.ONSITE, product="tablet")
    out, _ = baseline_plan(Dataset(NETWORK, TECHS, (r,), "2026-03-02"))
    assert out.set_index("request_id").loc["X", "unassigned_reason"] == "no_free_technician"
    assert math.isnan(out.set_index("request_id").loc["X", "completion_s"])


def test_the_whiteboard_sends_nobody_he_cannot_be_home_from_within_the_overtime_allowed():
    """A call 1.45 h' drive from Deqing (30 min of work). Called at 13:00, T1 is home within his
    shift. Called so late that the work still ends by 17:00 but the drive home ends more than
    the 1 h allowed past it, the simulation's dispatcher (home known, allowance given) does not
    send him, as the optimiser's routes would not; the day-plan baseline, which only asks the
    work to end in the shift, still does."""
    s1 = NETWORK["S1"]
    far = dict(lon=s1.lon + 0.9, lat=s1.lat)
    # By the road model's formula: 86.19 km crow-flies x 1.1609 = 100.06 km; 3 km at 22, 9 at 40,
    # 28 at 70 and 60.06 at 100 km/h = 1.36199 h = 4,904 s rounded up, + 300 = 5,204 s; no rush
    # hour at either end (neither lies in a big city's circle).
    trip, _ = road_by_hand(s1.lon, s1.lat, far["lon"], far["lat"], depart_h=13)
    assert trip == 5204

    def state(allowance):  # type: ignore[no-untyped-def]
        return TechState(TECHS[0], 8 * 3600, s1.lon, s1.lat, 17 * 3600, None, None, max_overtime_s=allowance,
                         home=None if allowance is None else (s1.lon, s1.lat))

    early = req("E", 1, Mode.ONSITE, created_h=13, **far)
    late = req("L", 1, Mode.ONSITE, created_h=(17 * 3600 - 1800 - trip - 600) / 3600, **far)  # ends 16:50
    assert 13 * 3600 + 2 * trip + 1800 <= 17 * 3600  # E: home within the shift
    assert send_nearest_free([state(3600)], early, early.created_s, DEFAULT_TRAVEL) is not None
    assert late.created_s + trip + 1800 <= 17 * 3600 < late.created_s + 2 * trip + 1800 - 3600
    assert send_nearest_free([state(3600)], late, late.created_s, DEFAULT_TRAVEL) is None
    assert send_nearest_free([state(None)], late, late.created_s, DEFAULT_TRAVEL) is not None
