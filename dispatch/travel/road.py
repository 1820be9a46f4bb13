"""The road model: the planner's offline default travel.

A leg's road distance is its great-circle distance times a detour that falls with length (a
short hop winds through streets, a long leg runs on trunk roads) and grows in mountains. Its
drive time runs that distance through speed bands (slow for the first town km, fast on the
expressway beyond 40 km), is multiplied by the terrain factor of the units its ends lie in
(Tibet, Qinghai, western Sichuan, Yunnan, Guizhou...), and in the largest cities by the rush-hour
multiplier of the departure hour on the leg's town part; a fixed overhead per trip comes on top.
Two points on different land masses (``dispatch.travel.land``) have no road between them: the leg
drives to a ferry port, crosses (chaining ferries and roads on the islands between if needed),
and drives on; with no modelled ferry the leg takes ``unreachable_s`` (30 days), which every
maximum drive and routing horizon refuses, so the planner reports such a call out of reach.

Every number is a ``RoadParams`` field (``dispatch.travel.roadparams``: values and sources),
replaceable by a JSON file (``--travel PARAMS.json``) or by ``road:key=value`` in the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from dispatch.travel.base import haversine_m
from dispatch.travel.land import (
    LAT0,
    LON0,
    REGION_RES_DEG,
    LandGrid,
    grid_cells,
    land_grid,
    peak_grid,
    region_grid,
)
from dispatch.travel.roadparams import RoadParams


@lru_cache(maxsize=64)
def _band_table(ends_km: tuple[float, ...], speeds_kmh: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    # The hours at each band's end, and far beyond the last so that np.interp runs on in it.
    edges = np.array((0.0, *ends_km, 1e6 + ends_km[-1]))
    return edges, np.concatenate([[0.0], np.cumsum(np.diff(edges) / np.asarray(speeds_kmh, dtype=float))])


def band_hours(road_km: np.ndarray, ends_km: tuple[float, ...], speeds_kmh: tuple[float, ...]) -> np.ndarray:
    """Hours to drive ``road_km`` through the speed bands (piecewise linear in the distance)."""
    edges, cum = _band_table(tuple(ends_km), tuple(speeds_kmh))
    return np.interp(np.asarray(road_km, dtype=float), edges, cum)


def band_lengths(road_km: np.ndarray, ends_km: tuple[float, ...]) -> np.ndarray:
    """Road km driven in each band ([..., bands]): drive hours are these times the paces (h/km)."""
    edges = np.array((0.0, *ends_km))
    widths = np.diff(np.append(edges, np.inf))
    return np.clip(np.asarray(road_km, dtype=float)[..., None] - edges, 0.0, widths)


@lru_cache(maxsize=8)
def terrain_tables(terrain: tuple[tuple[str, str, float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Time and detour factor per prefecture-level unit of the region grid (index -1: at sea),
    once per process and terrain table (an unpickled model in a worker finds them built)."""
    codes = np.array(region_grid().adcodes)
    time_f = np.ones(len(codes) + 1)
    detour_f = np.ones(len(codes) + 1)
    # Shorter prefixes first, so the longest matching one wins (western Sichuan within Sichuan).
    for prefix, _, t, d in sorted(terrain, key=lambda row: len(row[0])):
        hit = np.flatnonzero(np.char.startswith(codes, prefix))
        time_f[hit], detour_f[hit] = t, d
    return time_f, detour_f


@dataclass(frozen=True, eq=False)
class RoadTravel:
    """The road model with parameters ``params``; ``source`` is the spec text it was built from."""

    params: RoadParams = field(default_factory=RoadParams)
    source: str = "road"
    # A departure is priced by its hour (the rush profile): any second of an hour gives the same legs.
    depart_resolution_s = 3600

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RoadTravel) and other.params.key() == self.params.key()

    def __hash__(self) -> int:
        return hash(self.params.key())

    def __getstate__(self) -> dict[str, object]:
        # The grids and tables are rebuilt (from the disk cache) where the model is unpickled.
        return {"params": self.params, "source": self.source}

    def __setstate__(self, state: dict[str, object]) -> None:
        object.__setattr__(self, "params", state["params"])
        object.__setattr__(self, "source", state["source"])

    # -- the protocol ------------------------------------------------------------------------

    @property
    def spec(self) -> str:
        return self.source

    @property
    def speed_classes(self) -> tuple[str, ...]:
        return tuple(self.params.speeds_kmh)

    def legs(self, lon_a, lat_a, lon_b, lat_b, speed_class: str = "car",  # type: ignore[no-untyped-def]
             depart_s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        times, dist = self._legs(lon_a, lat_a, lon_b, lat_b, (speed_class,), depart_s)
        return times[0], dist

    def legs_classes(self, lon_a, lat_a, lon_b, lat_b, classes: tuple[str, ...],  # type: ignore[no-untyped-def]
                     depart_s: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """``legs`` for each speed class of ``classes``, the ends' factors and road distances
        worked out once for all of them (a live insertion asks every class of the same legs)."""
        return self._legs_each(lon_a, lat_a, lon_b, lat_b, tuple(classes), depart_s)

    def matrices(self, lon, lat, speed_classes=None, depart_s=None):  # type: ignore[no-untyped-def]
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        classes = tuple(speed_classes or self.speed_classes)
        times, dist = self._legs(lon[:, None], lat[:, None], lon[None, :], lat[None, :], classes, depart_s)
        return np.stack(times), dist

    def _legs(self, lon_a, lat_a, lon_b, lat_b, classes, depart_s):  # type: ignore[no-untyped-def]
        """(times per class, the last class's distances): a ferry route's distance may differ by class."""
        each = self._legs_each(lon_a, lat_a, lon_b, lat_b, classes, depart_s)
        return [t for t, _ in each], each[-1][1]

    def _legs_each(self, lon_a, lat_a, lon_b, lat_b, classes, depart_s):  # type: ignore[no-untyped-def]
        for c in classes:
            self._check_class(c)
        lon_a, lat_a, lon_b, lat_b = (np.asarray(x, dtype=float) for x in (lon_a, lat_a, lon_b, lat_b))
        shape = np.broadcast_shapes(lon_a.shape, lat_a.shape, lon_b.shape, lat_b.shape)
        if not shape:  # one leg: computed as an array of one, returned as NumPy scalars
            each = self._legs_each(lon_a[None], lat_a[None], lon_b[None], lat_b[None], classes, depart_s)
            return [(t[0], d[0]) for t, d in each]
        # Each end's factors are looked up once per point; NumPy broadcasts them to the legs.
        if lon_a.shape != lat_a.shape:
            lon_a, lat_a = np.broadcast_arrays(lon_a, lat_a)
        if lon_b.shape != lat_b.shape:
            lon_b, lat_b = np.broadcast_arrays(lon_b, lat_b)
        a, b = self.end_factors(lon_a, lat_a), self.end_factors(lon_b, lat_b)
        road_m = self.road_m(lon_a, lat_a, lon_b, lat_b, a, b)
        dist = np.rint(road_m).astype(np.int64)
        out = []
        for c in classes:
            t = self._time_s(road_m, a, b, c, depart_s, dist)
            d = dist
            if self.params.water:
                t, d = self._water(lon_a, lat_a, lon_b, lat_b, a, b, t, dist, c, depart_s)
            out.append((t, d))
        return out

    def reach_m(self, travel_s: float, speed_class: str = "car") -> float:
        """The inverse of the fastest a leg can be (no terrain, no rush hour, the shortest
        detour), read off a fine table and rounded up to its next entry: an upper bound."""
        self._check_class(speed_class)
        crow_m, fastest_s = self._fastest(speed_class)
        i = int(np.searchsorted(fastest_s, travel_s, side="right"))
        return float(crow_m[min(i, len(crow_m) - 1)])

    # -- the parts -----------------------------------------------------------------------------

    def _check_class(self, speed_class: str) -> None:
        if speed_class not in self.params.speeds_kmh:
            raise ValueError(
                f"unknown speed class {speed_class!r}; expected one of {sorted(self.params.speeds_kmh)}")

    def detour(self, crow_m: np.ndarray) -> np.ndarray:
        p = self.params
        return p.detour_long + (p.detour_short - p.detour_long) * np.exp(-np.asarray(crow_m) / (1000 * p.detour_scale_km))

    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """(time factor, detour factor) per unit, the peak grid (None: no rush hour) and the region
        grid's index, held by the model: the module caches key on the whole parameter tables,
        which hashing on every leg of a live insertion would cost more than the lookup itself."""
        time_f, detour_f = terrain_tables(self.params.terrain)
        return time_f, detour_f, peak_grid(self.params.cities) if self.params.cities else None, region_grid().index

    @cached_property
    def _land(self) -> LandGrid:
        return land_grid(self.params.land_res_deg, tuple(line for _, line in self.params.fixed_links))

    def end_factors(self, lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
        """What the model needs of each end: terrain factors, the rush-hour peak, the land mass.
        The last few arrays' factors are remembered (read-only), by their coordinates: a live
        insertion asks the same area's points once per speed class."""
        if np.ndim(lon) == 0 and np.ndim(lat) == 0:  # one point (a live insertion): no array machinery
            return self._point_factors(float(lon), float(lat))
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        if lon.size > 20_000:  # a bulk ask (a matrix, a province's calls): computed, not kept
            return self._array_factors(lon, lat)
        key = (lon.shape, lon.tobytes(), lat.tobytes())
        memo = self.__dict__.setdefault("_ends_memo", {})
        got = memo.get(key)
        if got is None:
            got = self._array_factors(lon, lat)
            for v in got.values():
                v.setflags(write=False)
            if len(memo) >= 8:  # a handful: consecutive asks repeat, older ones rarely return
                memo.clear()
            memo[key] = got
        return got

    def _array_factors(self, lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
        time_f, detour_f, peak, index = self._tables
        cell = grid_cells(lon, lat, REGION_RES_DEG, index.shape)
        idx = index[cell]
        out = {"time": time_f[idx], "detour": detour_f[idx], "peak": peak[cell] if peak is not None else np.ones(np.shape(lon))}
        if self.params.water:
            out["mass"] = self._land.mass(lon, lat)
        return out

    def _point_factors(self, lon: float, lat: float) -> dict[str, np.ndarray]:
        time_f, detour_f, peak, index = self._tables
        rows, cols = index.shape
        r = min(max(int((lat - LAT0) / REGION_RES_DEG), 0), rows - 1)
        c = min(max(int((lon - LON0) / REGION_RES_DEG), 0), cols - 1)
        idx = index[r, c]
        out = {"time": np.float64(time_f[idx]), "detour": np.float64(detour_f[idx]),
               "peak": np.float64(peak[r, c] if peak is not None else 1.0)}
        if self.params.water:
            land = self._land
            lr, lc = land.label.shape
            out["mass"] = land.label[min(max(int((lat - LAT0) / land.res_deg), 0), lr - 1),
                                     min(max(int((lon - LON0) / land.res_deg), 0), lc - 1)]
        return out

    def road_m(self, lon_a, lat_a, lon_b, lat_b, a, b) -> np.ndarray:  # type: ignore[no-untyped-def]
        crow = haversine_m(lon_a, lat_a, lon_b, lat_b)
        return crow * self.detour(crow) * ((a["detour"] + b["detour"]) / 2)

    def _time_s(self, road_m, a, b, speed_class, depart_s, dist=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        p = self.params
        speeds = p.speeds_kmh[speed_class]
        km = road_m / 1000
        hours = band_hours(km, p.band_ends_km, speeds)
        if depart_s is not None and p.cities:
            share = p.rush_profile[int(depart_s // 3600) % 24]
            if share > 0:
                peak = 1 + ((a["peak"] + b["peak"]) / 2 - 1) * share
                town = band_hours(np.minimum(km, p.rush_km), p.band_ends_km, speeds)
                hours = hours + town * (peak - 1)
        hours = hours * ((a["time"] + b["time"]) / 2)
        # Round up so that a schedule feasible in whole seconds is feasible in reality too.
        t = np.ceil(hours * 3600).astype(np.int64) + p.overhead_s
        return np.where((np.rint(road_m) if dist is None else dist) > 0, t, 0)

    def _road(self, lon_a, lat_a, lon_b, lat_b, a, b, speed_class, depart_s):  # type: ignore[no-untyped-def]
        road_m = self.road_m(lon_a, lat_a, lon_b, lat_b, a, b)
        return self._time_s(road_m, a, b, speed_class, depart_s), np.rint(road_m).astype(np.int64)

    @cached_property
    def _ports(self) -> dict[str, object]:
        """The ferry ports (two per ferry), their land masses, and per speed class the best
        port-to-port time and distance over ferries and the roads between them (Floyd-Warshall)."""
        p = self.params
        lon = np.array([f[k][0] for f in p.ferries for k in (1, 2)], dtype=float)
        lat = np.array([f[k][1] for f in p.ferries for k in (1, 2)], dtype=float)
        mass = self._land.mass(lon, lat)
        n = len(lon)
        tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for cls in p.speeds_kmh:
            ends = self.end_factors(lon, lat)
            t, d = self._road(lon[:, None], lat[:, None], lon[None, :], lat[None, :],
                              {k: v[:, None] for k, v in ends.items()}, {k: v[None, :] for k, v in ends.items()},
                              cls, None)
            t = np.where(mass[:, None] == mass[None, :], t, np.inf).astype(float)
            d = d.astype(float)
            for i, f in enumerate(p.ferries):
                x, y = 2 * i, 2 * i + 1
                crossing = float(f[3] + f[4])
                span = float(haversine_m(lon[x], lat[x], lon[y], lat[y]))
                for u, v in ((x, y), (y, x)):
                    if crossing < t[u, v]:
                        t[u, v], d[u, v] = crossing, span
            for k in range(n):
                via = t[:, k, None] + t[None, k, :]
                better = via < t
                t = np.where(better, via, t)
                d = np.where(better, d[:, k, None] + d[None, k, :], d)
            tables[cls] = (t, d)
        return {"lon": lon, "lat": lat, "mass": mass, "tables": tables}

    def _water(self, lon_a, lat_a, lon_b, lat_b, a, b, t, d, speed_class, depart_s):  # type: ignore[no-untyped-def]
        p = self.params
        cross = a["mass"] != b["mass"]
        if not cross.any():
            return t, d
        shape = cross.shape
        t = np.array(np.broadcast_to(t, shape))
        d = np.array(np.broadcast_to(d, shape))
        m = np.flatnonzero(cross)
        at = np.unravel_index(m, shape)

        def pick(x: np.ndarray) -> np.ndarray:  # the crossing legs' values of a broadcast operand
            return np.broadcast_to(x, shape)[at]

        ports = self._ports
        big = float(p.unreachable_s)
        if len(ports["lon"]):
            plon, plat, pmass = ports["lon"], ports["lat"], ports["mass"]
            pt, pd_ = ports["tables"][speed_class]
            pe = self.end_factors(plon, plat)
            ea = {k: pick(v)[:, None] for k, v in a.items()}
            eb = {k: pick(v)[:, None] for k, v in b.items()}
            pr = {k: v[None, :] for k, v in pe.items()}
            xa, ya, xb, yb = (pick(x)[:, None] for x in (lon_a, lat_a, lon_b, lat_b))
            # Drive to each port on a's land mass, from each port on b's; an end shared by every
            # crossing leg (one technician, or one customer, against many) is priced once.
            ta, da = self._to_ports(xa, ya, ea, plon, plat, pr, pmass, speed_class, depart_s, outbound=True)
            tb, db = self._to_ports(xb, yb, eb, plon, plat, pr, pmass, speed_class, depart_s, outbound=False)
            # Best over the port pairs (u, v) of: to u, u to v, v to b (the first best in (u, v) order).
            total = ta[:, :, None] + (pt[None, :, :] + tb[:, None, :])
            best = total.reshape(len(m), -1).argmin(axis=1)
            u, v = np.divmod(best, pt.shape[1])
            rows = np.arange(len(m))
            time = total[rows, u, v]
            dist = np.where(np.isfinite(time), da[rows, u] + pd_[u, v] + db[rows, v], 0.0)
        else:
            time = np.full(len(m), np.inf)
            dist = np.zeros(len(m))
        ok = np.isfinite(time) & (time < big)
        t[at] = np.where(ok, np.ceil(np.where(ok, time, 0)), big).astype(np.int64)
        d[at] = np.where(ok, np.rint(dist), d[at]).astype(np.int64)
        return t, d

    def _to_ports(self, x, y, e, plon, plat, pr, pmass, speed_class, depart_s, outbound):  # type: ignore[no-untyped-def]
        """(time, distance) of the drives between each crossing leg's end (rows) and each port
        (columns), inf where the port is on another land mass: from the end if ``outbound``, else
        to it. Rows that are all one point are computed once and broadcast."""
        n = len(x)
        if n > 1 and (x == x[0]).all() and (y == y[0]).all():
            t, d = self._to_ports(x[:1], y[:1], {k: v[:1] for k, v in e.items()}, plon, plat, pr, pmass,
                                  speed_class, depart_s, outbound)
            return np.broadcast_to(t, (n, t.shape[1])), np.broadcast_to(d, (n, d.shape[1]))
        ends = (x, y, plon[None, :], plat[None, :], e, pr) if outbound else (plon[None, :], plat[None, :], x, y, pr, e)
        t, d = self._road(*ends, speed_class, depart_s)
        return np.where(pmass[None, :] == e["mass"], t, np.inf), d

    def _fastest(self, speed_class: str) -> tuple[np.ndarray, np.ndarray]:
        cache = self.__dict__.setdefault("_fastest_cache", {})
        if speed_class not in cache:
            p = self.params
            crow = np.concatenate([np.arange(0, 20_000, 10.0), np.arange(20_000, 5_000_000, 500.0)])
            # Terrain factors are >= 1 and rush hour only slows: the plain detour is the shortest.
            road_km = crow * self.detour(crow) / 1000
            fastest = band_hours(road_km, p.band_ends_km, p.speeds_kmh[speed_class]) * 3600 + p.overhead_s
            cache[speed_class] = (crow, np.maximum.accumulate(fastest))
        return cache[speed_class]
