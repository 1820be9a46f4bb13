"""Departure times reach the travel model: a plan's legs in Hangzhou's morning peak take the
rush-hour time, a call inserted in the evening peak is driven to at the peak's pace, and the
simulation's baseline prices each trip at the hour its technician sets off."""

from __future__ import annotations

import numpy as np

from dispatch.baseline import BaselineParams, baseline_plan
from dispatch.dataset import Dataset
from dispatch.live import LiveArea
from dispatch.model import Mode, Tier
from dispatch.network import Network
from dispatch.plan import PlanParams, make_plan
from dispatch.routing import RoutingProblem, RoutingTechnician
from dispatch.travel import travel_from_spec
from tests.builders import ALL, EPOCH, H, centre, new_call, req, tech

ROAD = travel_from_spec("road")
LAB = (120.15, 30.27)  # the Hangzhou lab: inside Hangzhou's rush-hour radius
CUSTOMER = (120.19, 30.30)  # about 5 km north-east, in town


def _hangzhou(shift_h: tuple[float, float]) -> Dataset:
    net = Network((centre("P1", tier=Tier.PROVINCE, parent=None, lon=LAB[0], lat=LAB[1], levels={1, 2, 3}, open_h=8,
                          close_h=20, courier_h=0, province="330000", prefecture="330100"),))
    call = req("R1", 1, Mode.ONSITE, created_h=shift_h[0] - 0.5, lon=CUSTOMER[0], lat=CUSTOMER[1],
               window_h=8, county="330106")
    return Dataset(net, (tech("T1", "P1", 3, shift_h=shift_h),), (call,), EPOCH)


def _leg(depart_s: int | None) -> int:
    return int(ROAD.legs(*LAB, *CUSTOMER, "car", depart_s)[0])


def test_a_leg_set_off_in_the_morning_peak_takes_the_rush_hour_time():
    """Shift at 08:00 (the peak's full share): the plan's drive is the model's at 08:00, longer
    than off-peak; a shift at 11:00 drives at 11:00's pace, between the two."""
    peak, calm = _leg(8 * H), _leg(None)
    assert peak > calm * 1.15  # the town leg at Hangzhou's peak multiplier (1.35)
    for shift, want in (((8, 17), peak), ((11, 20), _leg(11 * H))):
        plan = make_plan(_hangzhou(shift), PlanParams(seed=1, deterministic=True), travel=ROAD)
        stop = plan.stops.set_index("request_id").loc["R1"]
        assert int(stop["travel_s"]) == want
    assert calm < _leg(11 * H) < peak


def test_a_call_taken_in_the_evening_peak_is_driven_to_at_the_peaks_pace():
    """The legs to and from an inserted call are priced at its time (not before the first shift):
    the ETA of a call at 17:30 includes the evening rush, one at 13:00 only midday traffic."""
    lon, lat = np.array([LAB[0]]), np.array([LAB[1]])
    tt, dd = ROAD.matrices(lon, lat, depart_s=8 * H)
    techs = (RoutingTechnician("T1", 0, 0, 8 * H, 22 * H, 1, ALL, None, 0),)
    for at_s in (13 * H, 17 * H + 1800):
        area = LiveArea(RoutingProblem(tt, dd, techs, (), ("P1",)), {}, at_s, ROAD, lon, lat)
        got = area.insert(new_call("X", *CUSTOMER, at_s))
        assert got.technician_id == "T1"
        assert got.eta_s - got.departure_s == _leg(at_s)
    assert _leg(17 * H + 1800) > _leg(13 * H)
    # A call in the night is driven to when the first shift starts, not at 02:00's empty roads.
    area = LiveArea(RoutingProblem(tt, dd, techs, (), ("P1",)), {}, 2 * H, ROAD, lon, lat)
    area.insert(new_call("N", *CUSTOMER, 2 * H, window_h=12))
    assert int(area.problem.travel_s[0, 0, 1]) == _leg(8 * H)


def test_the_baseline_drives_at_the_hour_it_sets_off():
    """The same-physics baseline's trip from the lab at 08:00 takes the peak time."""
    out, work = baseline_plan(_hangzhou((8, 17)), BaselineParams(), ROAD)
    row = out.set_index("request_id").loc["R1"]
    assert int(row["dispatch_s"]) == 8 * H
    assert int(work.set_index("technician_id").loc["T1", "travel_s"]) == _leg(8 * H) + int(
        ROAD.legs(*CUSTOMER, *LAB, "car", int(row["completion_s"]))[0])
