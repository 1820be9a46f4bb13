"""The areas whose technicians may take a call at a point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.network import CentreIndex
from dispatch.travel import DEFAULT_TRAVEL, Travel, drive_s


@dataclass(frozen=True)
class AreaFinder:
    """The areas whose technicians may take a call at a point: the areas of the nearest staffed
    centres, nearest first, up to ``limit`` areas, within ``max_visit_travel_s`` of driving."""

    staffed: CentreIndex | None  # centres with at least one technician
    area_of_centre: Mapping[str, str]
    travel: Travel = DEFAULT_TRAVEL
    max_visit_travel_s: int = 3 * 3600
    limit: int = 3

    def __call__(self, lon: float, lat: float) -> list[str]:
        if self.staffed is None:
            return []
        k = min(4 * self.limit, len(self.staffed))
        idx, _ = self.staffed.nearest(np.array([lon]), np.array([lat]), k=k)
        near = np.atleast_1d(idx).ravel().tolist()
        lon_c, lat_c = self._points
        drive = drive_s(self.travel, lon_c[near], lat_c[near], lon, lat)
        return self._areas(near, drive.tolist())

    def many(self, lon: Sequence[float], lat: Sequence[float]) -> list[list[str]]:
        """``self(lon[i], lat[i])`` for every point, in one nearest-centre query and one ask of the
        travel model for all of them (a model pays per ask: a simulation asks its calls' together)."""
        lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        if self.staffed is None or not len(lon_a):
            return [[] for _ in range(len(lon_a))]
        k = min(4 * self.limit, len(self.staffed))
        idx, _ = self.staffed.nearest(lon_a, lat_a, k=k)
        idx = np.asarray(idx).reshape(len(lon_a), -1)
        lon_c, lat_c = self._points
        drive = drive_s(self.travel, lon_c[idx], lat_c[idx], lon_a[:, None], lat_a[:, None])
        return [self._areas(near, row) for near, row in zip(idx.tolist(), drive.tolist())]

    @property
    def _points(self) -> tuple[np.ndarray, np.ndarray]:
        got = self.__dict__.get("_lonlat")
        if got is None:  # the staffed centres' points, as arrays (once: the finder is frozen)
            assert self.staffed is not None
            got = (np.array([c.lon for c in self.staffed.centres]), np.array([c.lat for c in self.staffed.centres]))
            object.__setattr__(self, "_lonlat", got)
        return got

    def _areas(self, near: list[int], drive: list[int]) -> list[str]:
        """The areas of the centres ``near`` (nearest first) reached within the limit, ``drive`` away."""
        out: list[str] = []
        for j, t in zip(near, drive):
            if t > self.max_visit_travel_s:
                break
            a = self.area_of_centre[self.staffed.centres[j].id]  # type: ignore[union-attr]
            if a not in out:
                out.append(a)
            if len(out) == self.limit:
                break
        return out
