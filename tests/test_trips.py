"""Overnight trips (issue 19): a remote county's calls, out of every technician's same-day reach,
are planned as one two-day trip with a night away, checked by the independent checker."""

from __future__ import annotations

from dispatch.dataset import Dataset
from dispatch.model import DAY_S, Mode, Tier
from dispatch.network import Network
from dispatch.plan import PlanParams, make_plan
from dispatch.plan.rolling import make_rolling_plan
from dispatch.plan.trips import back_home, plan_trips
from dispatch.reasons import Reason
from dispatch.rules import DEFAULT_COST_RATES, DEFAULT_RULES
from dispatch.travel import DEFAULT_TRAVEL, drive_s, travel_from_spec
from tests.builders import centre, req, tech

H = 3600
# Lhasa: the regional lab and a county station; three calls around Gyantse and Shigatse, 5.5 to
# 6.5 h's drive away (the flat model's mountain roads), 90 minutes of work each; and one in Ngari,
# beyond any trip.
LHASA = (91.13, 29.65)
CALLS = {"R1": (89.6, 28.9), "R2": (89.3, 29.2), "R3": (89.1, 29.3)}
NGARI = (80.10, 32.50)


def remote_dataset() -> Dataset:
    net = Network((centre("P54", Tier.PROVINCE, None, *LHASA, {1, 2, 3}, 8, 9, 18, 0, "540000", "540100"),
                   centre("S54", Tier.COUNTY, "P54", *LHASA, {1}, 4, 9, 18, 2, "540000", "540100", "540102")))
    techs = (tech("T1", "S54", 2, shift_h=(8, 18)), tech("T2", "S54", 1, shift_h=(8, 18)))
    calls = tuple(req(rid, 1, Mode.ONSITE, 9, lon, lat, county="540225", window_h=10, service_min=90)
                  for rid, (lon, lat) in CALLS.items())
    calls += (req("R4", 1, Mode.ONSITE, 9, *NGARI, county="542521", window_h=10),
              req("R5", 2, Mode.PICKUP, 9, 89.31, 29.21, county="540225", window_h=10, service_min=10))
    return Dataset(net, techs, calls, "2026-03-02")


def test_remote_calls_become_one_checked_two_day_trip() -> None:
    ds = remote_dataset()
    for point in CALLS.values():  # out of same-day reach: the premise
        assert drive_s(DEFAULT_TRAVEL, *LHASA, *point) > DEFAULT_RULES.max_visit_travel_s
    plan = make_plan(ds, PlanParams(day=0, seed=1, deterministic=True))
    unreached = list(plan.unassigned.loc[plan.unassigned["reason_code"] == Reason.NO_TECHNICIAN_IN_REACH,
                                         "request_id"])
    assert sorted(unreached) == ["R1", "R2", "R3", "R4", "R5"]
    busy = set(plan.routes["technician_id"]) if len(plan.routes) else set()
    trips = plan_trips(ds, unreached, 0, busy, seed=1)
    assert trips.violations == ()  # the checker knows the rule: the night's rest is the trip's break
    assert trips.served == {"R1", "R2", "R3", "R5"} and "beyond a trip" in trips.unserved["R4"]
    [trip] = [t for t in trips.trips if t.stops]  # batched: one technician, one trip
    assert trip.nights_away == 1 and trip.day == 0
    # Work on both days, never between the evening rest and 08:00; back by the second day's end.
    days = {s.start_s // DAY_S for s in trip.stops}
    assert days == {0, 1}
    for s in trip.stops:
        assert s.departure_s >= 9 * H  # the calls came at 09:00
        tod = s.start_s % DAY_S
        assert 8 * H <= tod <= 21 * H and s.start_s >= s.arrival_s >= s.departure_s
    assert trip.end_s <= DAY_S + 18 * H
    hotel = DEFAULT_COST_RATES.hotel_cny_per_night
    km = DEFAULT_COST_RATES.vehicle_cny_per_km * trip.distance_m / 1000
    paid_h = (trip.end_s - trip.start_s - DEFAULT_RULES.trip_rest_s) / H
    assert trip.cost_cny == round(hotel + km + DEFAULT_COST_RATES.technician_cny_per_h * paid_h, 2)


def test_a_rolling_plan_sends_the_trip_and_keeps_its_technician_off_the_next_day() -> None:
    rolling = make_rolling_plan(remote_dataset(), PlanParams(day=0, seed=1, deterministic=True), 2,
                                overnight_trips=True)
    trips = rolling.trips
    assert set(trips["request_id"]) == {"R1", "R2", "R3", "R5"} and rolling.kpis["trips"] == 1
    assert rolling.kpis["trip_nights_away"] == 1 and rolling.kpis["trip_cost_cny"] > 0
    away = set(trips["technician_id"])
    assert not away & set(rolling.plans[1].workload["technician_id"])  # on the road, not on day 1's roster
    o = rolling.outcomes.set_index("request_id")
    assert (o.loc[["R1", "R2", "R3"], "unassigned_reason"] == "").all()
    assert o.loc["R4", "unassigned_reason"] == Reason.NO_TECHNICIAN_IN_REACH
    served = o.loc[["R1", "R2", "R3", "R5"]]
    assert (served["dispatch_s"] >= served["created_s"]).all()  # nobody set off before the call
    assert (served["arrival_s"] - served["created_s"] > DEFAULT_RULES.max_visit_travel_s).all()
    # The level-2 device rides home at the trip's end and climbs to the Lhasa lab's bench.
    collected_s = int(trips.loc[trips["request_id"] == "R5", "end_s"].iloc[0])
    assert o.loc["R5", "repair_centre_id"] == "P54" and o.loc["R5", "completion_s"] > collected_s + 6 * H


def test_a_technician_with_a_route_that_day_sets_off_on_the_trip_when_it_is_back() -> None:
    """Lhasa's only technician, T1, has a local call on day 0 (09:00, 1 km from the station). The
    trip no longer needs a technician with no route: T1 sets off when his route is back at the
    station, serves the remote calls over the two days with the night away, and both the day's
    route and the trip pass the checker; without routed technicians nobody goes."""
    base = remote_dataset()
    local = req("L1", 1, Mode.ONSITE, 9, LHASA[0] + 0.01, LHASA[1], county="540102", window_h=4, service_min=60)
    ds = Dataset(base.network, base.technicians[:1], (local, *base.requests), base.epoch_date)
    # The times reasoned below are the flat model's (the case was built on it): the rule under test,
    # a trip only once the day's route is back, does not depend on the model, so it runs on flat.
    flat = travel_from_spec("flat")
    plan = make_plan(ds, PlanParams(day=0, seed=1, deterministic=True), travel=flat)
    assert (plan.routing_stats["violations"] == 0).all()
    [route] = plan.routes.itertuples()
    assert route.technician_id == "T1" and route.jobs == 1
    far = ["R1", "R2", "R3", "R4", "R5"]
    without = plan_trips(ds, far, 0, busy={"T1"}, seed=1, travel=flat)
    assert without.served == set() and "no technician on duty both days" in without.unserved["R1"]
    trips = plan_trips(ds, far, 0, busy_until=back_home(plan.routes), seed=1, travel=flat)
    assert trips.violations == ()
    [trip] = [t for t in trips.trips if t.stops]
    assert trip.technician_id == "T1" and trip.start_s >= route.end_s
    assert min(s.departure_s for s in trip.stops) >= route.end_s  # never while the day's route runs
    # Free from 09:00 the trip served all four and was home at 17:21 on day 1 (the first test);
    # setting off at 10:14 leaves no room for a third 90-minute repair by his 18:00 end.
    assert trips.served == {"R1", "R2", "R5"} and trip.nights_away == 1
    assert "has no room for it" in trips.unserved["R3"]
