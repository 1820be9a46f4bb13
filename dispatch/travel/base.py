"""The travel interface: drive time and road distance between WGS84 points.

Every part of the planner (assignment, routing problems, live areas, simulation, coverage,
scenarios, service, dashboard) asks a ``Travel`` for its times, so that the flat formula, a
calibrated model, a routing engine, a map API or a precomputed matrix can stand behind it.
Times are integer seconds and distances integer metres, as the optimiser needs them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

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


@runtime_checkable
class Travel(Protocol):
    """Drive times (s) and road distances (m) between points, per speed class.

    ``depart_s`` is the departure as seconds after midnight, China time, of the day planned
    (``None``: a typical off-peak departure); models without a time profile ignore it.
    """

    @property
    def spec(self) -> str:
        """The text that rebuilds this model (``travel_from_spec``): recorded with plans and runs."""
        ...

    @property
    def speed_classes(self) -> tuple[str, ...]:
        ...

    def legs(self, lon_a, lat_a, lon_b, lat_b, speed_class: str = "car",
             depart_s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(travel_s, distance_m) from a to b, element by element with NumPy broadcasting."""
        ...

    def matrices(self, lon: np.ndarray, lat: np.ndarray, speed_classes: tuple[str, ...] | None = None,
                 depart_s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All pairs: (travel_s[class, i, j], distance_m[i, j]) between the given points."""
        ...

    def reach_m(self, travel_s: float, speed_class: str = "car") -> float:
        """No leg of at most ``travel_s`` covers more straight-line metres than this: a bound for
        pruning candidates (by a spatial index) before asking ``legs`` for exact times."""
        ...


def drive_s(travel: Travel, lon_a, lat_a, lon_b, lat_b, speed_class: str = "car",
            depart_s: int | None = None) -> np.ndarray:
    """Only the times of ``travel.legs``."""
    return travel.legs(lon_a, lat_a, lon_b, lat_b, speed_class, depart_s)[0]


def matrices_by_legs(travel: Travel, lon, lat, speed_classes: tuple[str, ...] | None = None,  # type: ignore[no-untyped-def]
                     depart_s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``matrices`` for a model whose legs carry all its logic: all pairs asked of ``legs``, per class."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    classes = speed_classes or travel.speed_classes
    out = [travel.legs(lon[:, None], lat[:, None], lon[None, :], lat[None, :], c, depart_s) for c in classes]
    return np.stack([t for t, _ in out]), out[0][1]


def legs_per_class(travel: Travel, lon_a, lat_a, lon_b, lat_b, classes: tuple[str, ...],  # type: ignore[no-untyped-def]
                   depart_s: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``travel.legs`` for each speed class of ``classes``, in one ask when the model prices all
    its classes together (``legs_classes``: the road model), else one ask per class."""
    together = getattr(travel, "legs_classes", None)
    if together is not None:
        return together(lon_a, lat_a, lon_b, lat_b, tuple(classes), depart_s)
    return [travel.legs(lon_a, lat_a, lon_b, lat_b, c, depart_s) for c in classes]


def legs_by_hour(travel: Travel, lon_a, lat_a, lon_b, lat_b, depart_s, speed_class="car",  # type: ignore[no-untyped-def]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``travel.legs`` with a departure per leg (``depart_s`` broadcast with the points; seconds,
    taken modulo a day) and, if an array, a speed class per leg. The legs are asked once per
    class and hour of departure, the resolution at which the package's models price a departure
    (the road model's rush profile, a provider's cache), each hour's at its start: at most 24
    asks a class, however many legs."""
    arrays = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (lon_a, lat_a, lon_b, lat_b)),
                                 np.asarray(depart_s, dtype=np.int64), np.asarray(speed_class))
    hour = (arrays[4] % 86_400) // 3600
    t = np.zeros(hour.shape, np.int64)
    d = np.zeros(hour.shape, np.int64)
    for cls in np.unique(arrays[5]).tolist():
        of_class = arrays[5] == cls
        for h in np.unique(hour[of_class]).tolist():
            at = of_class & (hour == h)
            t[at], d[at] = travel.legs(*(x[at] for x in arrays[:4]), str(cls), int(h) * 3600)
    return t, d
