"""The areas whose technicians may take a call at a point."""

from __future__ import annotations

from collections.abc import Mapping
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
        out: list[str] = []
        near = [self.staffed.centres[int(j)] for j in np.atleast_1d(idx).ravel()]
        drive = drive_s(self.travel, np.array([c.lon for c in near]), np.array([c.lat for c in near]), lon, lat)
        for c, t in zip(near, drive.tolist()):
            if t > self.max_visit_travel_s:
                break
            a = self.area_of_centre[c.id]
            if a not in out:
                out.append(a)
            if len(out) == self.limit:
                break
        return out

