"""Where the land is, for the road model: which land mass a point stands on, and which
prefecture-level unit (for the terrain factor).

The land grid rasterises the 31 provinces' polygons (``dispatch.geodata``, unbuffered: the
mainland boundary's 3 km tolerance would join Zhoushan to Ningbo) on a regular lon/lat grid,
draws the fixed links (bridges and tunnels) of ``RoadParams.fixed_links`` as land, and labels the
connected land masses (``scipy.ndimage.label``, 8-connected). Every sea cell carries the label
of its nearest land cell, so a point on the coast or on an islet smaller than a cell belongs to
the land beside it. Two points on different land masses have no road between them: their leg
crosses water, and takes a ferry where one is modelled.

Both grids are built once (a few seconds) and cached as uncompressed ``.npy`` files beside the geography tables
(``dispatch.geodata.cache_dir``), keyed by the geography packages' versions, the resolution and
the fixed links, so a later process loads them in milliseconds; inside a process they are
memoised. Lookups are vectorised (integer indexing).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dispatch.geodata import cache_dir, geography_cache_key, load_geography
from dispatch.travel.base import haversine_m

# The grid covers the mainland and its islands down to the Nansha islands.
LON0, LAT0, LON1, LAT1 = 73.4, 3.4, 135.2, 53.7
LAND_SCHEMA = 1  # bump when the grids change meaning
REGION_RES_DEG = 0.05  # the prefecture grid: terrain needs no finer


def grid_cells(lon, lat, res: float, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """(row, col) of each point's cell on a grid of ``res`` degrees from (LON0, LAT0), held to the grid
    (ufuncs rather than np.clip: this runs for every leg the live plan inserts)."""
    r = ((np.asarray(lat, dtype=float) - LAT0) * (1.0 / res)).astype(np.intp)
    c = ((np.asarray(lon, dtype=float) - LON0) * (1.0 / res)).astype(np.intp)
    return (np.minimum(np.maximum(r, 0), shape[0] - 1), np.minimum(np.maximum(c, 0), shape[1] - 1))


@dataclass(frozen=True)
class LandGrid:
    """Land-mass labels on a grid (``label[row, col]``, row = latitude): 0 is never used (every
    cell carries its nearest land's label)."""

    res_deg: float
    label: np.ndarray  # int32 [rows, cols]
    mainland: int  # the label of the largest land mass

    def cell(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        return grid_cells(lon, lat, self.res_deg, self.label.shape)

    def mass(self, lon, lat) -> np.ndarray:  # type: ignore[no-untyped-def]
        """The land mass of each point (int32, broadcast shape of the arguments)."""
        r, c = self.cell(lon, lat)
        return self.label[r, c]


@dataclass(frozen=True)
class RegionGrid:
    """The index (into ``adcodes``) of the prefecture-level unit of each cell, -1 at sea."""

    adcodes: tuple[str, ...]
    index: np.ndarray  # int16 [rows, cols]

    def cell(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        return grid_cells(lon, lat, REGION_RES_DEG, self.index.shape)

    def lookup(self, lon, lat) -> np.ndarray:  # type: ignore[no-untyped-def]
        return self.index[self.cell(lon, lat)]


def _centres(res: float) -> tuple[np.ndarray, np.ndarray]:
    lon = LON0 + res * (np.arange(int(np.ceil((LON1 - LON0) / res))) + 0.5)
    lat = LAT0 + res * (np.arange(int(np.ceil((LAT1 - LAT0) / res))) + 0.5)
    return lon, lat


def _cache_file(name: str, payload: object):  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / geography_cache_key() / f"{name}-v{LAND_SCHEMA}-{digest}"


def _save(path, **arrays) -> None:  # type: ignore[no-untyped-def]
    """One uncompressed .npy per array in the folder ``path`` (no decompression of 30 MB in
    every process that plans)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        for name, arr in arrays.items():
            fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
            os.replace(tmp, path / f"{name}.npy")  # a concurrent reader never sees half a file
    except OSError:
        pass  # a read-only cache only costs the rebuild next time


def _load(path, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:  # type: ignore[no-untyped-def]
    try:
        # Read whole (tens of milliseconds): a memory map's indexing costs more on every leg.
        return {n: np.load(path / f"{n}.npy", allow_pickle=False) for n in names}
    except (OSError, ValueError):  # missing or damaged: rebuilt, never trusted
        return None


def _draw_links(land: np.ndarray, res: float, links: tuple[tuple[tuple[float, float], ...], ...]) -> None:
    """Mark the cells along each fixed link's polyline as land (sampled at a quarter cell)."""
    rows, cols = land.shape
    for line in links:
        for (lon_a, lat_a), (lon_b, lat_b) in itertools.pairwise(line):
            n = int(np.ceil(max(abs(lon_b - lon_a), abs(lat_b - lat_a)) / (res / 4))) + 1
            t = np.linspace(0.0, 1.0, n)
            r = np.clip(((lat_a + t * (lat_b - lat_a) - LAT0) / res).astype(int), 0, rows - 1)
            c = np.clip(((lon_a + t * (lon_b - lon_a) - LON0) / res).astype(int), 0, cols - 1)
            land[r, c] = True


def _build_land(res: float, links: tuple[tuple[tuple[float, float], ...], ...]) -> np.ndarray:
    import shapely
    from scipy import ndimage

    union = shapely.union_all(load_geography().provinces.geometry.values)
    shapely.prepare(union)
    lon, lat = _centres(res)
    land = np.zeros((len(lat), len(lon)), dtype=bool)
    # Only the rows and columns inside the land's bounding box are tested: the grid reaches far south.
    x0, y0, x1, y1 = union.bounds
    rs = np.flatnonzero((lat >= y0 - res) & (lat <= y1 + res))
    cs = np.flatnonzero((lon >= x0 - res) & (lon <= x1 + res))
    gx, gy = np.meshgrid(lon[cs], lat[rs])
    land[np.ix_(rs, cs)] = shapely.contains_xy(union, gx.ravel(), gy.ravel()).reshape(gx.shape)
    _draw_links(land, res, links)
    labels, _ = ndimage.label(land, structure=np.ones((3, 3), dtype=bool))
    # Each sea cell takes the label of its nearest land cell.
    _, (ir, ic) = ndimage.distance_transform_edt(~land, return_indices=True)
    return labels[ir, ic].astype(np.int32)


@lru_cache(maxsize=4)
def land_grid(res_deg: float, links: tuple[tuple[tuple[float, float], ...], ...]) -> LandGrid:
    """The land grid at ``res_deg`` with ``links`` drawn as land (cached on disk and in memory)."""
    path = _cache_file("land", {"res": res_deg, "links": links})
    got = _load(path, ("label",))
    if got is None:
        got = {"label": _build_land(res_deg, links)}
        _save(path, **got)
    label = got["label"]
    counts = np.bincount(label.ravel())
    return LandGrid(res_deg, label, int(np.argmax(counts)))


@lru_cache(maxsize=8)
def peak_grid(cities: tuple[tuple[str, float, float, float, float], ...]):  # type: ignore[no-untyped-def]
    """The rush-hour peak multiplier of each region-grid cell: the largest of the cities whose
    radius (great circle) covers the cell's centre, 1 elsewhere (built in milliseconds)."""
    lon, lat = _centres(REGION_RES_DEG)
    grid = np.ones((len(lat), len(lon)))  # float64: read on every leg, no conversion there
    for _, x, y, radius_km, peak in cities:
        dlat = radius_km / 111.0 + REGION_RES_DEG
        dlon = dlat / max(np.cos(np.radians(y)), 0.1)
        rs = np.flatnonzero(np.abs(lat - y) <= dlat)
        cs = np.flatnonzero(np.abs(lon - x) <= dlon)
        if not len(rs) or not len(cs):
            continue
        gx, gy = np.meshgrid(lon[cs], lat[rs])
        inside = haversine_m(gx, gy, x, y) <= 1000 * radius_km
        sub = grid[np.ix_(rs, cs)]
        grid[np.ix_(rs, cs)] = np.where(inside, np.maximum(sub, peak), sub)
    return grid


@lru_cache(maxsize=1)
def region_grid() -> RegionGrid:
    """The prefecture-level unit of each 0.05-degree cell (cached on disk and in memory)."""
    path = _cache_file("regions", {"res": REGION_RES_DEG})
    got = _load(path, ("index", "adcodes"))
    if got is None:
        import shapely

        pref = load_geography().prefectures
        lon, lat = _centres(REGION_RES_DEG)
        index = np.full((len(lat), len(lon)), -1, dtype=np.int16)
        # Each unit tests only the cells of its bounding box: seconds, not the whole grid per unit.
        for i, geom in enumerate(pref.geometry.values):
            x0, y0, x1, y1 = geom.bounds
            rs = np.flatnonzero((lat >= y0) & (lat <= y1))
            cs = np.flatnonzero((lon >= x0) & (lon <= x1))
            if not len(rs) or not len(cs):
                continue
            shapely.prepare(geom)
            gx, gy = np.meshgrid(lon[cs], lat[rs])
            inside = shapely.contains_xy(geom, gx.ravel(), gy.ravel()).reshape(gx.shape)
            sub = index[np.ix_(rs, cs)]
            sub[inside] = i
            index[np.ix_(rs, cs)] = sub
        got = {"index": index, "adcodes": np.array(pref["adcode"].astype(str).tolist())}
        _save(path, **got)
    return RegionGrid(tuple(str(a) for a in got["adcodes"]), got["index"])
