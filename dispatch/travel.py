"""Travel models: road distance and time between WGS84 points, as integer metres and seconds.

The default is great-circle (haversine) distance times a detour factor, driven at the average
speed of the technician's speed class plus a fixed access overhead (parking, lifts, finding the
door) per trip. It needs no road data, so it works on any machine; a road-network model can be
plugged in later behind the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(
    lon_a: np.ndarray, lat_a: np.ndarray, lon_b: np.ndarray, lat_b: np.ndarray
) -> np.ndarray:
    """Great-circle distance in metres; arguments broadcast like NumPy arrays."""
    lon_a, lat_a, lon_b, lat_b = (np.radians(np.asarray(x, dtype=float)) for x in (lon_a, lat_a, lon_b, lat_b))
    dlat = lat_b - lat_a
    dlon = lon_b - lon_a
    h = np.sin(dlat / 2) ** 2 + np.cos(lat_a) * np.cos(lat_b) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


DEFAULT_SPEEDS_KMH: Mapping[str, float] = MappingProxyType({"car": 40.0, "scooter": 25.0})


@dataclass(frozen=True)
class HaversineTravel:
    """Road distance = haversine × ``detour``; time = overhead + distance / speed of the class.

    ``detour`` 1.3 is the usual road-to-crow-flies ratio for Chinese road networks at county scale;
    speeds are door-to-door averages including urban congestion, in km/h.
    """

    detour: float = 1.3
    speeds_kmh: Mapping[str, float] = field(default_factory=lambda: DEFAULT_SPEEDS_KMH)
    access_overhead_s: int = 300  # per trip between two distinct places

    def __post_init__(self) -> None:
        if not self.detour >= 1.0:
            raise ValueError(f"detour must be >= 1.0, got {self.detour!r}")
        for name, speed in self.speeds_kmh.items():
            if not speed > 0:
                raise ValueError(f"speed of class {name!r} must be > 0 km/h, got {speed!r}")

    @property
    def speed_classes(self) -> tuple[str, ...]:
        return tuple(self.speeds_kmh)

    def distance_m(self, lon_a, lat_a, lon_b, lat_b) -> np.ndarray:
        return np.rint(haversine_m(lon_a, lat_a, lon_b, lat_b) * self.detour).astype(np.int64)

    def time_s_from_distance(self, distance_m: np.ndarray, speed_class: str = "car") -> np.ndarray:
        if speed_class not in self.speeds_kmh:
            raise ValueError(
                f"unknown speed class {speed_class!r}; expected one of {sorted(self.speeds_kmh)}"
            )
        speed_ms = self.speeds_kmh[speed_class] / 3.6
        d = np.asarray(distance_m)
        # Round up so that a schedule feasible in whole seconds is feasible in reality too.
        t = np.ceil(d / speed_ms).astype(np.int64) + self.access_overhead_s
        return np.where(d > 0, t, 0)

    def matrices(
        self, lon: np.ndarray, lat: np.ndarray, speed_classes: tuple[str, ...] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """All-pairs (travel_s[class, i, j], distance_m[i, j]) between the given points."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        dist = self.distance_m(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
        classes = speed_classes or self.speed_classes
        travel = np.stack([self.time_s_from_distance(dist, c) for c in classes])
        return travel, dist


DEFAULT_TRAVEL = HaversineTravel()
