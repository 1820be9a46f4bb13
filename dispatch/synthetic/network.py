"""The generated network: provincial and city centres at the seats, county stations where they cover the counties and the demand."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd
import shapely

from dispatch.model import (
    LEVELS,
    Centre,
    Technician,
    Tier,
    TimeWindow,
)
from dispatch.network import Network, unit_vectors
from dispatch.synthetic.presets import Preset, restrict_network
from dispatch.travel import EARTH_RADIUS_M, Travel, drive_s, travel_from_spec


def seconds_of_hours(hours: float) -> int:
    return int(round(hours * 3600))


@dataclass(frozen=True)
class TierParams:
    """What a centre of one tier can do and how it is staffed."""

    levels: frozenset[int]
    # Bench hours per day of a centre staffed with ``technicians_min``; a busier centre (more
    # technicians, see the roster) has proportionally more bench hours.
    bench_hours_per_day: float
    open_h: float  # opening time, hours since midnight
    close_h: float
    courier_to_parent_h: float  # courier lead time to the parent centre, one way
    technicians_min: int
    technicians_max: int


DEFAULT_TIERS: Mapping[Tier, TierParams] = MappingProxyType(
    {
        # Provincial lab: board-level repairs; long hours; staffed 10-30.
        Tier.PROVINCE: TierParams(frozenset(LEVELS), 120.0, 9.0, 21.0, 0.0, 10, 30),
        # Prefecture-city centre: module swaps; overnight express to the province.
        Tier.CITY: TierParams(frozenset({1, 2}), 40.0, 9.0, 19.0, 14.0, 4, 10),
        # County station: simple repairs; a same-day shuttle to the city centre.
        Tier.COUNTY: TierParams(frozenset({1}), 10.0, 9.0, 18.0, 5.0, 1, 3),
    }
)


# The travel the generator places stations (``coverage_max_drive_h``) and sizes rosters by: the
# flat model its rules and their figures were set with, whatever the planner's default. A seed
# gives the same network and roster under every travel model, so the committed sample and every
# benchmark's dataset stay the same, and two models are compared on the same network.
GENERATOR_TRAVEL: Travel = travel_from_spec("flat")


@dataclass(frozen=True)
class NetworkParams:
    county_stations: int = 1600
    # No county seat farther than this drive (car) from a centre: the fewest stations that
    # ensure it are placed first, for coverage; the rest by demand. None: by demand only.
    # National day, seed 1, dispatched within the hour: demand only 97.9 %, 2 h 99.0 %, 1.5 h
    # 99.3 %, 1 h 99.7 %; but 1 h takes 31 of Zhejiang's 77 stations (and 80 technicians) for
    # remote counties, raising its travel per job by 30 %; 1.5 h takes 14.
    coverage_max_drive_h: float | None = 1.5
    tiers: Mapping[Tier, TierParams] = field(default_factory=lambda: DEFAULT_TIERS)


def generate_network(
    geo, weights: pd.DataFrame, params: NetworkParams = NetworkParams(), preset: Preset = Preset("national")
) -> Network:
    """Centres at real seats; stations chosen nationally, then restricted to the preset."""
    counties = geo.counties.merge(weights[["adcode", "weight"]], on="adcode", how="left")
    counties["weight"] = counties["weight"].fillna(0.0)
    prefectures = geo.prefectures
    provinces = geo.provinces
    tiers = params.tiers

    centres: list[Centre] = []

    def make(cid: str, name: str, tier: Tier, lon: float, lat: float, parent: str | None, **codes: str) -> Centre:
        t = tiers[tier]
        return Centre(
            id=cid,
            name=name,
            tier=tier,
            lon=round(float(lon), 6),
            lat=round(float(lat), 6),
            parent_id=parent,
            levels=t.levels,
            bench_hours_per_day=t.bench_hours_per_day,
            opening=TimeWindow(seconds_of_hours(t.open_h), seconds_of_hours(t.close_h)),
            courier_to_parent_s=0 if parent is None else seconds_of_hours(t.courier_to_parent_h),
            **codes,
        )

    for row in provinces.sort_values("adcode").itertuples():
        centres.append(
            make(f"P{row.adcode}", f"{row.name} provincial centre", Tier.PROVINCE,
                 row.seat_lon, row.seat_lat, None, province_adcode=row.adcode)
        )
    city_parent: dict[str, str] = {}  # prefecture-level code -> parent centre id for its stations
    for row in prefectures.sort_values("adcode").itertuples():
        if row.kind in ("province_administered", "special_area"):  # no city government
            city_parent[row.adcode] = f"P{row.province_adcode}"
            continue
        cid = f"C{row.adcode}"
        city_parent[row.adcode] = cid
        centres.append(
            make(cid, f"{row.name} city centre", Tier.CITY, row.seat_lon, row.seat_lat,
                 f"P{row.province_adcode}", province_adcode=row.province_adcode,
                 prefecture_adcode=row.adcode)
        )

    # Counties that already host a provincial or city centre (the seat lies in them) get no station.
    host_points = [(c.lon, c.lat) for c in centres]
    hx = np.array([p[0] for p in host_points])
    hy = np.array([p[1] for p in host_points])
    hosting = np.zeros(len(counties), dtype=bool)
    geoms = counties.geometry.values
    for i, g in enumerate(geoms):
        minx, miny, maxx, maxy = g.bounds
        near = (hx >= minx) & (hx <= maxx) & (hy >= miny) & (hy <= maxy)
        if near.any():
            hosting[i] = bool(shapely.contains_xy(g, hx[near], hy[near]).any())
    upper = (np.array([c.lon for c in centres]), np.array([c.lat for c in centres]))
    max_drive_s = None if params.coverage_max_drive_h is None else int(params.coverage_max_drive_h * 3600)
    chosen = _station_counties(counties[~hosting], counties, params.county_stations, upper, max_drive_s)
    for row in chosen.sort_values("adcode").itertuples():
        centres.append(
            make(f"S{row.adcode}", f"{row.name} county station", Tier.COUNTY,
                 row.seat_lon, row.seat_lat, city_parent[row.prefecture_adcode],
                 province_adcode=row.province_adcode, prefecture_adcode=row.prefecture_adcode,
                 county_adcode=row.adcode)
        )
    network = Network(tuple(centres))
    return restrict_network(network, preset)


def _station_counties(candidates: pd.DataFrame, counties: pd.DataFrame, n: int,
                      centres_lonlat: tuple[np.ndarray, np.ndarray] | None = None,
                      max_drive_s: int | None = None) -> pd.DataFrame:
    """The ``n`` county seats that get a station.

    With ``max_drive_s``, no county seat is left farther than that drive from a centre (the
    provincial and city centres at ``centres_lonlat``, or a station): the fewest stations that
    ensure it (greedy set cover) are placed for coverage, the others by demand
    (``_demand_stations``). Placed by demand alone, 11.6 % of the national day's travelling
    calls lay more than an hour's drive from any technician's centre (0.9 % more than 3 h), and
    they were 87 % of the calls not dispatched within the hour. The cover is computed against
    the demand stations (they cover most seats already), which give up as many places as the
    cover takes, until the two agree."""
    if max_drive_s is None or centres_lonlat is None:
        return _demand_stations(candidates, counties, n)
    n = min(n, len(candidates))
    index = _SeatReach(counties, max_drive_s)
    by_centres = index.covered_by(*centres_lonlat)
    reach = index.reach_of(candidates)
    reserved = 0
    while True:  # ``reserved`` grows every round, up to ``n``
        by_demand = _demand_stations(candidates, counties, n - reserved)
        covered = by_centres.copy()
        for i in by_demand.index:
            covered[reach[i]] = True
        cover = _greedy_cover({i: r for i, r in reach.items() if i not in by_demand.index}, covered,
                              counties["weight"].to_numpy(float), dict(zip(candidates.index, candidates["adcode"])))
        if len(cover) <= reserved or reserved == n:
            break
        reserved = min(n, len(cover))
    # A budget too small to cover every seat keeps the cover's first (most covering) picks.
    chosen = pd.concat([by_demand, candidates.loc[cover[: n - len(by_demand)]]])
    if len(chosen) < n:  # the cover needed fewer than reserved: the rest by demand weight
        rest = candidates.drop(chosen.index).sort_values(["weight", "adcode"], ascending=[False, True])
        chosen = pd.concat([chosen, rest.head(n - len(chosen))])
    return chosen


class _SeatReach:
    """Which county seats lie within a drive (car, the travel model) of given points."""

    def __init__(self, counties: pd.DataFrame, max_drive_s: int, travel: Travel = GENERATOR_TRAVEL) -> None:
        from scipy.spatial import cKDTree

        self.unit = unit_vectors
        self.lon, self.lat = counties["seat_lon"].to_numpy(float), counties["seat_lat"].to_numpy(float)
        self.tree = cKDTree(unit_vectors(self.lon, self.lat))
        self.max_drive_s, self.travel = max_drive_s, travel
        # The road metres the drive allows, as a chord on the unit sphere: a superset of the
        # seats in reach, trimmed by the exact drive times.
        arc = travel.reach_m(max_drive_s, "car") / EARTH_RADIUS_M
        self.chord = 2 * np.sin(min(arc, np.pi) / 2) + 1e-9

    def within(self, lon: np.ndarray, lat: np.ndarray) -> list[np.ndarray]:
        out = []
        for i, near in enumerate(self.tree.query_ball_point(self.unit(lon, lat), self.chord)):
            near = np.asarray(near, dtype=int)
            drive = drive_s(self.travel, lon[i], lat[i], self.lon[near], self.lat[near])
            out.append(near[drive <= self.max_drive_s])
        return out

    def covered_by(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        covered = np.zeros(len(self.lon), dtype=bool)
        for near in self.within(np.asarray(lon, float), np.asarray(lat, float)):
            covered[near] = True
        return covered

    def reach_of(self, seats: pd.DataFrame) -> dict:
        return dict(zip(seats.index, self.within(seats["seat_lon"].to_numpy(float), seats["seat_lat"].to_numpy(float))))


def _greedy_cover(reach: dict, covered: np.ndarray, weight: np.ndarray, code: dict) -> list:
    """Sites (keys of ``reach``) that cover every seat still uncovered that any of them reaches:
    each time the one reaching the most uncovered seats, then the most uncovered demand, then
    the lowest code. ``covered`` is updated."""

    def key(i) -> tuple[int, float, str]:
        r = reach[i][~covered[reach[i]]]
        return -len(r), -float(weight[r].sum()), str(code[i])

    # Lazy greedy: a site's gain only shrinks as others open, so a stale heap entry is re-scored
    # when it surfaces and opened only if it is still the best.
    heap = [(*key(i), i) for i in reach]
    heapq.heapify(heap)
    chosen = []
    while heap:
        *stale, i = heapq.heappop(heap)
        fresh = key(i)
        if fresh[0] == 0:
            continue
        if tuple(stale) != fresh:
            heapq.heappush(heap, (*fresh, i))
            continue
        chosen.append(i)
        covered[reach[i]] = True
    return chosen


def _demand_stations(candidates: pd.DataFrame, counties: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` county seats that get a station by demand: each prefecture gets a share of the stations
    in proportion to its demand (largest remainder; never more than it has counties without a
    centre), and within a prefecture the most demand-weighted counties get them.

    A national ranking alone would put every station in the dense east (with the population
    proxy, Heilongjiang got 3 stations for 121 counties and Xinjiang none), leaving whole
    provinces out of a technician's reach; Bird's county network spans every province."""
    room = candidates.groupby("prefecture_adcode").size()
    demand = counties.groupby("prefecture_adcode")["weight"].sum().reindex(room.index).fillna(0.0)
    n = min(n, int(room.sum()))
    # Hamilton's method with caps: a prefecture whose share exceeds its room is capped and the
    # others share what is left, until no share exceeds its room.
    capped = pd.Series(False, index=room.index)
    while True:
        free = ~capped
        share = (demand[free] / demand[free].sum() if demand[free].sum() > 0
                 else pd.Series(1.0 / free.sum(), index=free[free].index))  # no demand: evenly
        ideal = share * (n - room[capped].sum())
        over = ideal > room[free]
        if not over.any():
            break
        capped[over[over].index] = True
    quota = room.where(capped, 0).astype(int)
    quota[~capped] = np.floor(ideal).astype(int)
    remainder = (ideal - np.floor(ideal)).sort_values(ascending=False, kind="stable")
    quota[remainder.index[: n - int(quota.sum())]] += 1
    ranked = candidates.sort_values(["weight", "adcode"], ascending=[False, True])
    rank_in_pref = ranked.groupby("prefecture_adcode").cumcount()
    return ranked[rank_in_pref.to_numpy() < quota.reindex(ranked["prefecture_adcode"]).to_numpy()]


def bench_follows_staff(network: Network, techs: tuple[Technician, ...], tiers: Mapping[Tier, TierParams]) -> Network:
    staff: dict[str, int] = {}
    for t in techs:
        staff[t.home_centre_id] = staff.get(t.home_centre_id, 0) + 1
    return Network(tuple(
        replace(c, bench_hours_per_day=round(
            tiers[c.tier].bench_hours_per_day * max(staff.get(c.id, 0), 1) / tiers[c.tier].technicians_min, 1))
        for c in network))

