"""The road model: distance bands, terrain, rush hour, islands and ferries, against known trips and by hand."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import numpy as np
import pytest

from dispatch.assignment import AssignmentParams, assign
from dispatch.dataset import Dataset
from dispatch.model import Mode, Tier
from dispatch.network import Network
from dispatch.reasons import Reason
from dispatch.travel import TravelSpecError, haversine_m, travel_from_spec
from dispatch.travel.road import band_hours
from dispatch.travel.roadparams import RoadParams, write_params
from tests.builders import EPOCH, centre, req, tech

H = 3600
NANJING, SUZHOU = (118.7969, 32.0603), (120.5853, 31.2989)
ZHOUSHAN, SHENGSI = (122.207, 29.985), (122.451, 30.725)  # Dinghai; Caiyuan on Sijiao island
ROAD = travel_from_spec("road")
FLAT = travel_from_spec("flat")


def leg(model, a, b, cls="car", depart_s=None):
    t, d = model.legs(a[0], a[1], b[0], b[1], cls, depart_s)
    return int(t), int(d)


def test_band_hours_by_hand():
    """3 km at 20 km/h then 7 km at 70 km/h: 0.15 + 0.1 h."""
    assert band_hours(np.array([10.0]), (3.0,), (20.0, 70.0))[0] == pytest.approx(0.25)
    assert band_hours(np.array([0.0, 2.0]), (3.0,), (20.0, 70.0)).tolist() == pytest.approx([0.0, 0.1])


def test_nanjing_to_suzhou_takes_about_two_and_a_half_hours():
    """The issue's sanity target: about 2.5 h by expressway (the flat model said over 6 h)."""
    t, d = leg(ROAD, NANJING, SUZHOU)
    assert 2.3 * H <= t <= 2.8 * H
    assert 200_000 <= d <= 240_000  # 220 km by the G42
    assert leg(FLAT, NANJING, SUZHOU)[0] > 6 * H


def test_short_town_trips_are_slower_than_long_legs():
    """Average speed grows with distance: a 3 km hop is driven far slower than a 150 km leg."""
    t_short, d_short = leg(ROAD, (120.15, 30.27), (120.18, 30.27))
    t_long, d_long = leg(ROAD, (120.15, 30.27), (121.5, 30.6))
    assert d_short / (t_short - 300) < 0.5 * d_long / (t_long - 300)


def test_zhoushan_to_shengsi_is_a_ferry():
    """Shengsi's Sijiao island has no road to Zhoushan: the leg includes a modelled crossing, so it
    takes longer than driving the same line, and with no ferry modelled it is unreachable."""
    t, _ = leg(ROAD, ZHOUSHAN, SHENGSI)
    driven, _ = leg(travel_from_spec("road:water=off"), ZHOUSHAN, SHENGSI)
    crossings = [f[3] + f[4] for f in ROAD.params.ferries if "Sijiao" in f[0]]
    assert t >= min(crossings) and t > driven
    assert t < 6 * H
    no_ferry = travel_from_spec("road")
    no_ferry = type(no_ferry)(replace(no_ferry.params, ferries=()), "road:test")
    assert leg(no_ferry, ZHOUSHAN, SHENGSI)[0] == no_ferry.params.unreachable_s
    # Zhoushan island itself is joined to Ningbo by the bridges: no ferry, an ordinary drive.
    assert leg(ROAD, ZHOUSHAN, (121.55, 29.87))[0] < 1.5 * H


def test_hainan_is_reached_across_the_qiongzhou_strait():
    """Haikou from Zhanjiang: the drive to Hai'an, the crossing and its wait, the drive on."""
    t, _ = leg(ROAD, (110.36, 21.27), (110.33, 20.03))
    crossing = next(f[3] + f[4] for f in ROAD.params.ferries if "Qiongzhou" in f[0])
    assert crossing + 1 * H < t < crossing + 4 * H
    # Symmetric enough: the way back takes the same ferry.
    assert abs(leg(ROAD, (110.33, 20.03), (110.36, 21.27))[0] - t) < 600


def test_an_island_without_ferry_is_out_of_reach_for_the_planner():
    """A customer across water no ferry is modelled for is never assigned: the assignment reports
    no technician in reach (the leg's 30 days exceed every maximum drive)."""
    no_ferry = type(ROAD)(replace(ROAD.params, ferries=()), "road:test")
    net = (centre("S1", Tier.PROVINCE, None, ZHOUSHAN[0], ZHOUSHAN[1], (1, 2, 3)),)

    ds = Dataset(Network(net), (tech("T1", "S1", 3),),
                 (req("ISLAND", 1, Mode.ONSITE, lon=SHENGSI[0], lat=SHENGSI[1], county="330922"),
                  req("NEAR", 1, Mode.ONSITE, lon=122.10, lat=30.00, county="330902")), EPOCH)
    res = assign(ds, AssignmentParams(), no_ferry)
    reasons = {u.request_id: u.reason_code for u in res.unassigned}
    assert reasons == {"ISLAND": Reason.NO_TECHNICIAN_IN_REACH}
    assert {a.request_id for a in res.assigned} == {"NEAR"}


def test_mountains_and_plateau_are_slower_than_the_plains():
    """The same 100 km straight line takes longer in Tibet and western Sichuan than on the
    Jiangsu plain, by the terrain factors."""
    plain, _ = leg(ROAD, (119.0, 33.0), (120.07, 33.0))
    tibet, _ = leg(ROAD, (91.0, 29.6), (92.03, 29.6))
    ganzi, _ = leg(ROAD, (100.0, 31.0), (101.05, 31.0))
    assert tibet > 1.4 * (plain - 300) and ganzi > 1.4 * (plain - 300)
    # Chengdu's plain is not western Sichuan.
    chengdu, _ = leg(ROAD, (103.5, 30.7), (104.55, 30.7))
    assert chengdu < 1.1 * plain


def test_rush_hour_slows_town_legs_in_big_cities_only():
    """At 08:00 a Beijing trip takes longer than at 14:00 or with no departure; a rural leg does not."""
    a, b = (116.35, 39.90), (116.45, 39.95)
    off = leg(ROAD, a, b)[0]
    assert leg(ROAD, a, b, depart_s=8 * H)[0] > 1.3 * (off - 300)
    assert leg(ROAD, a, b, depart_s=14 * H)[0] < leg(ROAD, a, b, depart_s=8 * H)[0]
    rural = ((100.0, 40.0), (100.1, 40.05))
    assert leg(ROAD, *rural, depart_s=8 * H) == leg(ROAD, *rural)


def test_matrices_agree_with_legs_and_reach_bounds_every_leg():
    """Matrices are the legs, integer, zero on the diagonal; reach_m bounds every leg's crow-flies
    metres, island legs included."""
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(121.5, 122.6, 40), [SHENGSI[0]]])
    lat = np.concatenate([rng.uniform(29.6, 30.8, 40), [SHENGSI[1]]])
    t, d = ROAD.matrices(lon, lat)
    assert t.dtype == np.int64 and d.dtype == np.int64 and t.shape == (2, 41, 41)
    assert (np.diag(t[0]) == 0).all()
    lt, ld = ROAD.legs(lon[3], lat[3], lon, lat, "scooter")
    assert (lt == t[1, 3]).all() and (ld == d[3]).all()
    crow = haversine_m(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    for limit in (1800, 3600, 4 * H):
        for c, cls in enumerate(ROAD.speed_classes):
            assert crow[t[c] <= limit].max() <= ROAD.reach_m(limit, cls) + 1


def test_params_file_replaces_any_value_and_the_model_pickles(tmp_path):
    """--travel PARAMS.json: a file of parameters (any subset) is the road model with them; a bad key
    names the file and the valid keys; the model survives pickling (process pools)."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"overhead_s": 600}))
    model = travel_from_spec(str(path))
    assert model.spec == f"road:params={path}"
    assert leg(model, NANJING, SUZHOU)[0] == leg(ROAD, NANJING, SUZHOU)[0] + 300
    write_params(RoadParams(), tmp_path / "all.json")
    assert travel_from_spec(str(tmp_path / "all.json")) == ROAD
    path.write_text(json.dumps({"overhed_s": 600}))
    with pytest.raises(TravelSpecError, match="unknown key.*overhed_s.*valid keys"):
        travel_from_spec(str(path))
    path.write_text(json.dumps({"speeds_kmh": {"car": [10, 20]}}))
    with pytest.raises(TravelSpecError, match=r"speeds_kmh.car.*4 positive speeds"):
        travel_from_spec(str(path))
    clone = pickle.loads(pickle.dumps(ROAD))
    assert clone == ROAD and leg(clone, NANJING, SUZHOU) == leg(ROAD, NANJING, SUZHOU)


def test_road_spec_options():
    """road:key=value overrides a scalar; an unknown option is named."""
    assert leg(travel_from_spec("road:overhead_s=0"), NANJING, SUZHOU)[0] == leg(ROAD, NANJING, SUZHOU)[0] - 300
    with pytest.raises(TravelSpecError, match="unknown option 'speed'"):
        travel_from_spec("road:speed=3")
