"""The flat travel model: great-circle (haversine) distance times a detour factor, driven at the average
speed of the technician's speed class plus a fixed access overhead (parking, lifts, finding the
door) per trip, the same formula everywhere in China. It needs no road data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from dispatch.travel.base import haversine_m

DEFAULT_SPEEDS_KMH: Mapping[str, float] = MappingProxyType({"car": 40.0, "scooter": 25.0})


@dataclass(frozen=True)
class FlatTravel:
    """Road distance = haversine × ``detour``; time = overhead + distance / speed of the class.

    ``detour`` 1.3 is the usual road-to-crow-flies ratio for Chinese road networks at county scale;
    speeds are door-to-door averages including urban congestion, in km/h. The same speed for a
    500 m hop and a 300 km expressway leg, and roads across the sea: the planner's first model,
    kept as a reference and for users who want its simplicity.
    """

    detour: float = 1.3
    speeds_kmh: Mapping[str, float] = field(default_factory=lambda: DEFAULT_SPEEDS_KMH)
    access_overhead_s: int = 300  # per trip between two distinct places
    depart_resolution_s = 86_400  # no time profile: every departure gives the same legs

    def __post_init__(self) -> None:
        if not self.detour >= 1.0:
            raise ValueError(f"detour must be >= 1.0, got {self.detour!r}")
        for name, speed in self.speeds_kmh.items():
            if not speed > 0:
                raise ValueError(f"speed of class {name!r} must be > 0 km/h, got {speed!r}")

    @property
    def spec(self) -> str:
        speeds = ",".join(f"{k}={v:g}" for k, v in self.speeds_kmh.items())
        return f"flat:detour={self.detour:g},overhead_s={self.access_overhead_s},{speeds}"

    @property
    def speed_classes(self) -> tuple[str, ...]:
        return tuple(self.speeds_kmh)

    def _speed_ms(self, speed_class: str) -> float:
        if speed_class not in self.speeds_kmh:
            raise ValueError(
                f"unknown speed class {speed_class!r}; expected one of {sorted(self.speeds_kmh)}"
            )
        return self.speeds_kmh[speed_class] / 3.6

    def _distance_m(self, lon_a, lat_a, lon_b, lat_b) -> np.ndarray:
        return np.rint(haversine_m(lon_a, lat_a, lon_b, lat_b) * self.detour).astype(np.int64)

    def _time_s(self, distance_m: np.ndarray, speed_class: str) -> np.ndarray:
        d = np.asarray(distance_m)
        # Round up so that a schedule feasible in whole seconds is feasible in reality too.
        t = np.ceil(d / self._speed_ms(speed_class)).astype(np.int64) + self.access_overhead_s
        return np.where(d > 0, t, 0)

    def legs(self, lon_a, lat_a, lon_b, lat_b, speed_class: str = "car",
             depart_s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        dist = self._distance_m(lon_a, lat_a, lon_b, lat_b)
        return self._time_s(dist, speed_class), dist

    def matrices(self, lon: np.ndarray, lat: np.ndarray, speed_classes: tuple[str, ...] | None = None,
                 depart_s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        dist = self._distance_m(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
        classes = speed_classes or self.speed_classes
        travel = np.stack([self._time_s(dist, c) for c in classes])
        return travel, dist

    def reach_m(self, travel_s: float, speed_class: str = "car") -> float:
        return max(0.0, (travel_s - self.access_overhead_s) * self._speed_ms(speed_class) / self.detour)
