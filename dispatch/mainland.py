"""Is a point in mainland China? The provinces' real boundary, not a bounding box, with a
sentence that says where a refused point lies; the file validator (``dispatch.io``) and the
service's schemas (``dispatch.service.schemas``) both use it.

The boundary is the union of the 31 provinces' polygons (``dispatch.geodata``) grown by
``BOUNDARY_TOLERANCE_DEG`` (about 3 km), so the islands and reefs of Zhoushan, Hainan and Sansha
and points rounded onto the coastline pass, while Hanoi, Ulaanbaatar, Seoul or Pyongyang do not.
Taiwan, Hong Kong and Macau are outside the mainland network and named as such. The test is
vectorised over a prepared polygon: a few milliseconds for 30,000 points once it is loaded
(itself milliseconds, from a cached WKB file).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import shapely

from dispatch.geodata import (
    BOUNDARY_TOLERANCE_DEG,
    excluded_regions,
    load_geography,
    mainland_boundary,
)

__all__ = ["BOUNDARY_TOLERANCE_DEG", "inside_mainland", "mainland_problem", "outside_mainland_message",
           "outside_messages", "where_outside"]

# Beyond this many points outside the mainland (a whole file in another datum or projection,
# say), the messages stop naming the nearest county: finding it costs a little per point.
WHERE_LIMIT = 2000


def inside_mainland(lon: Any, lat: Any) -> np.ndarray:
    """Whether each WGS84 point lies in mainland China, its islands included (the 31 provinces'
    polygons grown by ``geodata.BOUNDARY_TOLERANCE_DEG``, about 3 km); vectorised, a few
    milliseconds for 30,000 points once the prepared boundary is loaded."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    return np.asarray(shapely.contains_xy(mainland_boundary(), x, y), dtype=bool)


@lru_cache(maxsize=1)
def _county_index() -> tuple[Any, Any, list[str]]:
    geo = load_geography()
    counties = geo.counties
    prov_names = dict(zip(geo.provinces["adcode"], geo.provinces["name"]))
    geoms = counties.geometry.values
    labels = [f"{n}, {prov_names.get(p, p)}" for n, p in zip(counties["name"], counties["province_adcode"])]
    return shapely.STRtree(geoms), geoms, labels


def _haversine_km(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def where_outside(lon: Any, lat: Any) -> list[str]:
    """For points outside the mainland: where they are, as far as the geography knows ('in Hong
    Kong; nearest mainland county: 福田区, 广东省, 4 km'), for messages."""
    x = np.atleast_1d(np.asarray(lon, dtype=float))
    y = np.atleast_1d(np.asarray(lat, dtype=float))
    if len(x) == 0:
        return []
    tree, geoms, labels = _county_index()
    points = shapely.points(x, y)
    pairs = tree.query_nearest(points, all_matches=False)
    nearest = np.empty(len(x), dtype=int)
    nearest[pairs[0]] = pairs[1]
    ends = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(points, geoms[nearest]), 1))
    km = _haversine_km(x, y, ends[:, 0], ends[:, 1])
    regions = excluded_regions()
    inside_region: list[str | None] = [None] * len(x)
    for name, geom in zip(regions["name"], regions.geometry.values):
        for j in np.flatnonzero(shapely.contains_xy(geom, x, y)).tolist():
            inside_region[j] = str(name)
    out = []
    for j, region in enumerate(inside_region):
        near = f"nearest mainland county: {labels[nearest[j]]}, {km[j]:,.0f} km away"
        out.append(f"in {region}; {near}" if region else near)
    return out


def outside_mainland_message(lon: float, lat: float, where: str | None = None) -> str:
    """The sentence for a point outside mainland China (files and the service alike)."""
    where = where if where is not None else where_outside([lon], [lat])[0]
    return (f"the point (lon {lon}, lat {lat}) lies outside mainland China ({where}); expected a WGS84 "
            "point on the mainland or its islands")


def mainland_problem(lon: float, lat: float) -> str | None:
    """The sentence for one point outside mainland China, None inside (the service's check)."""
    if bool(inside_mainland([lon], [lat])[0]):
        return None
    return outside_mainland_message(lon, lat)


def outside_messages(lon: Any, lat: Any) -> dict[int, str]:
    """Index -> the sentence, for each point outside the mainland (one vectorised test)."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    if len(x) == 0:
        return {}
    out = np.flatnonzero(~inside_mainland(x, y))
    if len(out) == 0:
        return {}
    n = min(len(out), WHERE_LIMIT)
    km = f"more than {BOUNDARY_TOLERANCE_DEG * 111:.0f} km beyond its boundary"
    where = where_outside(x[out[:n]], y[out[:n]]) + [km] * (len(out) - n)
    return {int(k): outside_mainland_message(float(x[k]), float(y[k]), where[j]) for j, k in enumerate(out)}
