"""Calibration: known parameters recovered from noisy trips with outliers; bad trip files named."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dispatch.travel.calibrate import TripsError, calibrate, predict_s, read_trips
from dispatch.travel.road import RoadTravel
from dispatch.travel.roadparams import RoadParams

TRUE = replace(RoadParams(), overhead_s=480, detour_long=1.25,
               speeds_kmh={"car": (18.0, 32.0, 60.0, 85.0), "scooter": (16.0, 22.0, 25.0, 25.0)})


def _trips(tmp_path, n=400, seed=7, outliers=0.05, odometer=True):
    """Trips on the Jiangsu-Anhui plain (no terrain factor, few islands) drawn from TRUE with 8 %
    lognormal noise, and ``outliers`` of them 3x too long or too short (bad GPS logs)."""
    rng = np.random.default_rng(seed)
    lon_a, lat_a = rng.uniform(116.5, 120.0, n), rng.uniform(31.5, 34.0, n)
    reach_km = np.exp(rng.uniform(np.log(0.3), np.log(250), n))  # short town hops to long legs
    angle = rng.uniform(0, 2 * np.pi, n)
    lon_b = lon_a + reach_km * np.cos(angle) / 95
    lat_b = lat_a + reach_km * np.sin(angle) / 111
    depart = pd.Timestamp("2026-03-02T06:00:00+08:00") + pd.to_timedelta(rng.integers(0, 14 * 3600, n), unit="s")
    frame = pd.DataFrame({"from_lon": lon_a, "from_lat": lat_a, "to_lon": lon_b, "to_lat": lat_b,
                          "depart_at": [d.isoformat() for d in depart], "duration_s": 1.0})
    trips = read_trips(_write(frame, tmp_path))
    t = predict_s(RoadTravel(TRUE), trips) * np.exp(rng.normal(0, 0.08, n))
    bad = rng.random(n) < outliers
    t[bad] *= rng.choice([3.0, 1 / 3], bad.sum())
    frame["duration_s"] = np.round(t)
    if odometer:
        frame["distance_m"] = RoadTravel(TRUE).legs(lon_a, lat_a, lon_b, lat_b)[1] * np.exp(rng.normal(0, 0.03, n))
    return read_trips(_write(frame, tmp_path))


def _write(frame, tmp_path):
    path = tmp_path / "trips.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_calibration_recovers_known_parameters_despite_outliers(tmp_path):
    """Trips drawn from a known model (not the default) with noise and 5 % wild outliers: the fit
    finds its band speeds within 10 %, its overhead within 2 minutes and its detour within 0.05,
    and cuts the median error."""
    trips = _trips(tmp_path)
    cal = calibrate(trips)
    car = np.array(cal.params.speeds_kmh["car"])
    assert np.all(np.abs(car / np.array(TRUE.speeds_kmh["car"]) - 1) < 0.1), car
    assert abs(cal.params.overhead_s - TRUE.overhead_s) < 120
    assert abs(cal.params.detour_long - TRUE.detour_long) < 0.05
    assert abs(cal.params.detour_short - TRUE.detour_short) < 0.05
    assert cal.after["mdape"] < 0.08 < cal.before["mdape"]
    assert cal.after["p90_ape"] < cal.before["p90_ape"]
    assert cal.fitted[-1] == "speeds_kmh.car"  # too few scooter trips: their speeds are kept


def test_calibration_without_odometer_still_lowers_the_error(tmp_path):
    cal = calibrate(_trips(tmp_path, n=200, seed=3, odometer=False))
    assert cal.after["mdape"] < 0.5 * cal.before["mdape"]


@pytest.mark.parametrize("column, value, message", [
    ("depart_at", "2026-03-02 08:00", "row 3, column depart_at: '2026-03-02 08:00'; expected ISO 8601 with its offset"),
    ("duration_s", "-5", "row 3, column duration_s: '-5'"),
    ("from_lat", "north", "row 3, column from_lat: 'north'"),
])
def test_a_bad_trip_is_named_by_row_column_and_value(tmp_path, column, value, message):
    frame = pd.DataFrame({"from_lon": [120.0, 120.1], "from_lat": [30.0, 30.1], "to_lon": [120.2, 120.3],
                          "to_lat": [30.2, 30.3], "depart_at": ["2026-03-02T08:00:00+08:00"] * 2,
                          "duration_s": [1200, 1300]}).astype(object)
    frame.loc[1, column] = value
    with pytest.raises(TripsError, match=message):
        read_trips(_write(frame, tmp_path))
