"""The offline travel model: great-circle distance, integer matrices, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.travel import HaversineTravel, haversine_m


def test_haversine_known_distance():
    """Beijing to Shanghai is about 1,067 km great circle."""
    # Beijing (116.4074, 39.9042) to Shanghai (121.4737, 31.2304): about 1,067 km great circle.
    d = haversine_m(116.4074, 39.9042, 121.4737, 31.2304)
    assert d == pytest.approx(1_067_000, rel=0.005)


def test_matrix_is_integer_symmetric_and_zero_diagonal():
    """Travel matrices are integer seconds and metres, symmetric with a zero diagonal, by hand-computed detour and speed."""
    model = HaversineTravel(detour=1.3, speeds_kmh={"car": 36.0}, access_overhead_s=300)
    lon = np.array([120.0, 120.1, 120.0])
    lat = np.array([30.0, 30.0, 30.1])
    travel, dist = model.matrices(lon, lat)
    assert travel.dtype == np.int64 and dist.dtype == np.int64
    assert (np.diag(dist) == 0).all() and (np.diag(travel[0]) == 0).all()
    assert (dist == dist.T).all()
    # 0.1 deg latitude = 11,119 m great circle; x1.3 = 14,455 m; at 10 m/s = 1,446 s (+300 overhead)
    assert dist[0, 2] == 14_455
    assert travel[0, 0, 2] == 1_446 + 300


def test_unknown_speed_class_is_a_clear_error():
    """An unknown speed class is a clear error naming it."""
    with pytest.raises(ValueError, match="unknown speed class 'boat'"):
        HaversineTravel().time_s_from_distance(np.array([1000]), "boat")
