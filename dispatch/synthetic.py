"""Seeded generators: a Bird-style national network on real geography, a roster, and calls.

Every number that shapes the output is a documented parameter in a frozen dataclass; the same
seed and parameters give byte-identical files. Presets:

* ``national``: a tier-1 centre at each of the 31 provincial capitals, a tier-2 centre at every
  prefecture-level seat (prefectures and the 4 municipalities), and 1,600 tier-3 county stations
  at county seats that do not already host a centre: first the fewest that leave no county seat
  beyond ``coverage_max_drive_h`` of a centre, the rest at the most demand-weighted seats,
  shared out among prefectures in proportion to their demand (see ``_station_counties``).
* ``province:<name>`` (aliases such as ``zhejiang``): the national network restricted to one
  province, with calls scaled to the province's share of demand.
* ``tiny``: one prefecture (Huzhou, Zhejiang) with its provincial parent; for tests and demos.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd
import shapely

from dispatch.errors import DispatchError, InputError
from dispatch.model import (
    DAY_S,
    Centre,
    Dataset,
    Mode,
    Priority,
    Request,
    Technician,
    Tier,
    TimeWindow,
)
from dispatch.network import Network
from dispatch.travel import DEFAULT_TRAVEL, EARTH_RADIUS_M, HaversineTravel

Progress = Callable[[str, int, int], None]


def _hm(hours: float) -> int:
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
        Tier.PROVINCE: TierParams(frozenset({1, 2, 3}), 120.0, 9.0, 21.0, 0.0, 10, 30),
        # Prefecture-city centre: module swaps; overnight express to the province.
        Tier.CITY: TierParams(frozenset({1, 2}), 40.0, 9.0, 19.0, 14.0, 4, 10),
        # County station: simple repairs; a same-day shuttle to the city centre.
        Tier.COUNTY: TierParams(frozenset({1}), 10.0, 9.0, 18.0, 5.0, 1, 3),
    }
)


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


@dataclass(frozen=True)
class RosterParams:
    """Technicians per centre scale with the demand of the centre's area, within the tier's range."""

    shift_early_h: tuple[float, float] = (8.0, 17.0)
    shift_late_h: tuple[float, float] = (11.0, 20.0)
    late_shift_share: float = 0.3  # at city and provincial centres
    county_shift_h: tuple[float, float] = (9.0, 18.0)  # county technicians work the station's hours
    break_min: int = 45
    break_earliest_after_start_h: float = 3.5
    break_latest_after_start_h: float = 5.5
    scooter_share_city: float = 0.5  # e-scooters are common in city centres
    phone_only_share: float = 0.2  # technicians trained on phones only
    county_level2_share: float = 0.3  # county technicians who can also do module swaps on site


@dataclass(frozen=True)
class CallParams:
    """A day of calls: Poisson count per day, hourly arrival profile, mixes and durations."""

    calls_per_day_national: float = 30_000.0
    # Share of a day's calls arriving in each hour (CST); normalised. Peaks mid-morning and
    # mid-afternoon; a trickle at night (after-hours calls wait for opening).
    hourly_profile: tuple[float, ...] = (
        0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 2.0, 4.5, 7.5, 9.0, 8.5,
        6.5, 7.0, 8.5, 8.5, 7.5, 6.5, 5.0, 4.0, 2.5, 1.5, 0.8, 0.4,
    )
    level_mix: tuple[float, float, float] = (0.62, 0.28, 0.10)
    mode_mix: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"onsite": 0.25, "pickup": 0.35, "walkin": 0.40})
    )
    priority_mix: tuple[float, float, float] = (0.80, 0.15, 0.05)  # normal, high, urgent
    onsite_max_level: int = 2  # board-level work never happens at the customer
    product_mix: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"phone": 0.85, "tablet": 0.10, "wearable": 0.05})
    )
    onsite_service_min: tuple[float, float] = (30.0, 75.0)  # median by level 1, 2
    pickup_service_min: float = 10.0  # hand-over at the door
    window_h: Mapping[Priority, float] = field(
        default_factory=lambda: MappingProxyType(
            {Priority.NORMAL: 4.0, Priority.HIGH: 3.0, Priority.URGENT: 2.0}
        )
    )
    customer_open_h: tuple[float, float] = (8.0, 21.0)  # customers accept visits in these hours
    # A call after this hour is booked for the next morning: too late to be visited today.
    same_day_cutoff_h: float = 16.0
    near_seat_share: float = 0.7  # share of calls clustered around the county seat (urban core)
    spread_factor: float = 3.0  # the other calls: around the seat, this many times further out
    max_sigma_km: float = 12.0  # cap on the urban core's spread (1 sigma) in vast counties


@dataclass(frozen=True)
class Preset:
    name: str
    province_adcode: str | None = None  # restrict to this province
    prefecture_adcode: str | None = None  # restrict to this prefecture (plus its province centre)


PROVINCE_ALIASES = MappingProxyType(
    {"zhejiang": "330000", "guangdong": "440000", "sichuan": "510000", "beijing": "110000"}
)


def parse_preset(name: str) -> Preset:
    key = name.strip().lower()
    if key == "national":
        return Preset("national")
    if key == "tiny":
        return Preset("tiny", province_adcode="330000", prefecture_adcode="330500")
    if key in PROVINCE_ALIASES:
        return Preset(key, province_adcode=PROVINCE_ALIASES[key])
    if key.startswith("province:"):
        code = key.split(":", 1)[1]
        if code.isdigit() and len(code) == 6 and code.endswith("0000"):
            return Preset(key, province_adcode=code)
        return Preset(key, province_adcode=_province_code_from_name(code))
    raise InputError(
        f"unknown preset {name!r}; expected 'national', 'tiny', one of "
        f"{sorted(PROVINCE_ALIASES)} or 'province:<adcode or pinyin>' (e.g. province:330000)"
    )


def _province_code_from_name(name: str) -> str:
    from dispatch.geodata import load_geography

    prov = load_geography().provinces
    hit = prov[(prov["pinyin"].str.lower() == name) | (prov["name"] == name)]
    if len(hit) != 1:
        raise InputError(
            f"unknown province {name!r}; expected a pinyin name such as "
            f"{', '.join(sorted(prov['pinyin'].str.lower())[:6])}, ... or a 6-digit adcode"
        )
    return str(hit["adcode"].iloc[0])


# --------------------------------------------------------------------------------------------
# Network


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
            opening=TimeWindow(_hm(t.open_h), _hm(t.close_h)),
            courier_to_parent_s=0 if parent is None else _hm(t.courier_to_parent_h),
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

    def __init__(self, counties: pd.DataFrame, max_drive_s: int, travel: HaversineTravel = DEFAULT_TRAVEL) -> None:
        from scipy.spatial import cKDTree

        from dispatch.network import _unit_vectors

        self.unit = _unit_vectors
        self.lon, self.lat = counties["seat_lon"].to_numpy(float), counties["seat_lat"].to_numpy(float)
        self.tree = cKDTree(_unit_vectors(self.lon, self.lat))
        self.max_drive_s, self.travel = max_drive_s, travel
        # The road metres the drive allows, as a chord on the unit sphere: a superset of the
        # seats in reach, trimmed by the exact drive times.
        speed_ms = travel.speeds_kmh["car"] / 3.6
        arc = max(0.0, (max_drive_s - travel.access_overhead_s) * speed_ms / travel.detour) / EARTH_RADIUS_M
        self.chord = 2 * np.sin(min(arc, np.pi) / 2) + 1e-9

    def within(self, lon: np.ndarray, lat: np.ndarray) -> list[np.ndarray]:
        out = []
        for i, near in enumerate(self.tree.query_ball_point(self.unit(lon, lat), self.chord)):
            near = np.asarray(near, dtype=int)
            drive = self.travel.time_s_from_distance(
                self.travel.distance_m(lon[i], lat[i], self.lon[near], self.lat[near]))
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


def _bench_follows_staff(network: Network, techs: tuple[Technician, ...], tiers: Mapping[Tier, TierParams]) -> Network:
    staff: dict[str, int] = {}
    for t in techs:
        staff[t.home_centre_id] = staff.get(t.home_centre_id, 0) + 1
    return Network(tuple(
        replace(c, bench_hours_per_day=round(
            tiers[c.tier].bench_hours_per_day * max(staff.get(c.id, 0), 1) / tiers[c.tier].technicians_min, 1))
        for c in network))


def restrict_network(network: Network, preset: Preset) -> Network:
    if preset.province_adcode is None:
        return network
    keep = [c for c in network if c.province_adcode == preset.province_adcode]
    if preset.prefecture_adcode is not None:
        keep = [
            c for c in keep
            if c.tier == Tier.PROVINCE or c.prefecture_adcode == preset.prefecture_adcode
        ]
    return Network(tuple(keep))


# --------------------------------------------------------------------------------------------
# Roster


def _area_demand(network: Network, counties: pd.DataFrame) -> dict[str, float]:
    """Demand weight of the area a centre is sized for: its county, prefecture or province."""
    by_county = dict(zip(counties["adcode"], counties["weight"]))
    by_pref = counties.groupby("prefecture_adcode")["weight"].sum().to_dict()
    by_prov = counties.groupby("province_adcode")["weight"].sum().to_dict()
    out = {}
    for c in network:
        if c.tier == Tier.COUNTY:
            out[c.id] = by_county.get(c.county_adcode, 0.0)
        elif c.tier == Tier.CITY:
            out[c.id] = by_pref.get(c.prefecture_adcode, 0.0)
        else:
            out[c.id] = by_prov.get(c.province_adcode, 0.0)
    return out


def generate_roster(
    network: Network,
    counties_with_weight: pd.DataFrame,
    rng: np.random.Generator,
    tiers: Mapping[Tier, TierParams] = DEFAULT_TIERS,
    params: RosterParams = RosterParams(),
) -> tuple[Technician, ...]:
    demand = _area_demand(network, counties_with_weight)
    max_by_tier = {
        t: max((demand[c.id] for c in network if c.tier == t), default=0.0) or 1.0 for t in Tier
    }
    techs: list[Technician] = []
    for c in network:
        tp = tiers[c.tier]
        share = np.sqrt(demand[c.id] / max_by_tier[c.tier])
        n = tp.technicians_min + int(round((tp.technicians_max - tp.technicians_min) * share))
        for k in range(n):
            late = c.tier != Tier.COUNTY and rng.random() < params.late_shift_share
            start_h, end_h = params.shift_late_h if late else params.shift_early_h
            if c.tier == Tier.COUNTY:
                start_h, end_h = params.county_shift_h
            start_s, end_s = _hm(start_h), _hm(end_h)
            if c.tier == Tier.COUNTY:
                max_level = 2 if rng.random() < params.county_level2_share else 1
            else:
                max_level = max(c.levels)
            phone_only = rng.random() < params.phone_only_share
            scooter = c.tier != Tier.COUNTY and rng.random() < params.scooter_share_city
            techs.append(
                Technician(
                    id=f"T{c.id}-{k + 1:02d}",
                    home_centre_id=c.id,
                    max_level=max_level,
                    shift=TimeWindow(start_s, end_s),
                    break_window=TimeWindow(
                        start_s + _hm(params.break_earliest_after_start_h),
                        start_s + _hm(params.break_latest_after_start_h),
                    ),
                    break_s=params.break_min * 60,
                    product_lines=frozenset({"phone"}) if phone_only else frozenset(),
                    speed_class="scooter" if scooter else "car",
                    name=f"{c.name.split(' ')[0]} technician {k + 1}",
                )
            )
    return tuple(techs)


# --------------------------------------------------------------------------------------------
# Calls


def _points_in_county(
    geom, seat_lon: float, seat_lat: float, area_km2: float, n: int, near_share: float,
    rng: np.random.Generator, spread_factor: float = 3.0, max_sigma_km: float = 12.0,
) -> tuple[np.ndarray, np.ndarray]:
    """n points inside the polygon: a share in the urban core around the seat, the rest spread
    wider over the towns around it (``spread_factor`` times further). People do not live
    uniformly over a county: in the vast western counties a uniform point lands in desert or
    mountains hundreds of kilometres from anyone, so the spread is capped (``max_sigma_km``)."""
    sigma_km = float(np.clip(0.15 * np.sqrt(max(area_km2, 1.0)), 1.0, max_sigma_km))
    sigma_lat = sigma_km / 111.0
    sigma_lon = sigma_lat / max(np.cos(np.radians(seat_lat)), 0.2)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    for _ in range(200):
        m = max(8, 2 * (n - have))
        near = rng.random(m) < near_share
        spread = np.where(near, 1.0, spread_factor)
        x = rng.normal(seat_lon, sigma_lon * spread, m)
        y = rng.normal(seat_lat, sigma_lat * spread, m)
        inside = shapely.contains_xy(geom, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        have += int(inside.sum())
        if have >= n:
            break
    x = np.concatenate(xs)[:n]
    y = np.concatenate(ys)[:n]
    if len(x) < n:  # a sliver polygon: fall back to the seat itself, which is inside by contract
        x = np.concatenate([x, np.full(n - len(x), seat_lon)])
        y = np.concatenate([y, np.full(n - len(y), seat_lat)])
    return x, y


def _choice(rng: np.random.Generator, options: list, probs, size: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return rng.choice(np.asarray(options, dtype=object), size=size, p=p / p.sum())


def generate_calls(
    counties_with_weight: pd.DataFrame,
    days: int,
    calls_per_day: float,
    rng: np.random.Generator,
    params: CallParams = CallParams(),
    progress: Progress | None = None,
) -> tuple[Request, ...]:
    """Poisson number of calls per day, split over counties by weight, hours by the profile."""
    counties = counties_with_weight[counties_with_weight["weight"] > 0].sort_values("adcode")
    w = counties["weight"].to_numpy(dtype=float)
    w = w / w.sum()
    profile = np.asarray(params.hourly_profile, dtype=float)
    profile = profile / profile.sum()
    geoms = counties.geometry.values
    requests: list[Request] = []
    open_s, close_s = (_hm(h) for h in params.customer_open_h)
    cutoff_s = _hm(params.same_day_cutoff_h)
    for day in range(days):
        n_day = int(rng.poisson(calls_per_day))
        per_county = rng.multinomial(n_day, w)
        lon = np.empty(n_day)
        lat = np.empty(n_day)
        codes = np.empty(n_day, dtype=object)
        pos = 0
        for i in np.flatnonzero(per_county):
            k = int(per_county[i])
            row = counties.iloc[i]
            x, y = _points_in_county(
                geoms[i], row.seat_lon, row.seat_lat, row.area_km2, k, params.near_seat_share, rng,
                params.spread_factor, params.max_sigma_km,
            )
            lon[pos:pos + k], lat[pos:pos + k], codes[pos:pos + k] = x, y, row.adcode
            pos += k
            if progress is not None and i % 200 == 0:
                progress(f"calls day {day + 1}/{days}", pos, n_day)
        hours = rng.choice(24, size=n_day, p=profile)
        created = day * DAY_S + hours * 3600 + rng.integers(0, 3600, size=n_day)
        levels = rng.choice([1, 2, 3], size=n_day, p=np.asarray(params.level_mix) / sum(params.level_mix))
        modes = _choice(rng, list(params.mode_mix), list(params.mode_mix.values()), n_day)
        prios = rng.choice([1, 2, 3], size=n_day, p=np.asarray(params.priority_mix) / sum(params.priority_mix))
        products = _choice(rng, list(params.product_mix), list(params.product_mix.values()), n_day)
        jitter = rng.lognormal(0.0, 0.25, size=n_day)
        order = np.argsort(created, kind="stable")
        for j_out, j in enumerate(order):
            level = int(levels[j])
            mode = Mode(modes[j])
            if mode == Mode.ONSITE and level > params.onsite_max_level:
                mode = Mode.PICKUP
            prio = Priority(int(prios[j]))
            c = int(created[j])
            # The customer accepts visits from the call for a few hours; a call before customers' hours
            # or after the same-day cut-off is booked for the next morning.
            day_start = (c // DAY_S) * DAY_S
            start = c
            if c - day_start < open_s:
                start = day_start + open_s
            elif c - day_start >= min(close_s, cutoff_s):
                start = day_start + DAY_S + open_s
            end = start + _hm(params.window_h[prio])
            if mode == Mode.ONSITE:
                service = params.onsite_service_min[min(level, 2) - 1] * jitter[j]
            elif mode == Mode.PICKUP:
                service = params.pickup_service_min * jitter[j]
            else:
                service = 0.0
            requests.append(
                Request(
                    id=f"R{day + 1:02d}-{j_out + 1:06d}",
                    created_s=c,
                    lon=round(float(lon[j]), 6),
                    lat=round(float(lat[j]), 6),
                    level=level,
                    mode=mode,
                    priority=prio,
                    window=TimeWindow(start, end),
                    service_s=int(round(service)) * 60,  # whole minutes
                    product_line=str(products[j]),
                    county_adcode=str(codes[j]),
                )
            )
    return tuple(requests)


# --------------------------------------------------------------------------------------------
# Everything together


@dataclass(frozen=True)
class GeneratorParams:
    network: NetworkParams = NetworkParams()
    roster: RosterParams = RosterParams()
    calls: CallParams = CallParams()
    start_date: str = "2026-03-02"  # a Monday; fixed so that output does not depend on today


def generate(
    preset: str | Preset = "national",
    days: int = 1,
    seed: int = 1,
    params: GeneratorParams = GeneratorParams(),
    population: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Network, roster and ``days`` days of calls for a preset; deterministic given the seed."""
    from dispatch.geodata import county_demand_weights, load_geography

    if days < 0:
        raise DispatchError(f"days must be >= 0, got {days}")
    dt.date.fromisoformat(params.start_date)
    preset = parse_preset(preset) if isinstance(preset, str) else preset
    report = progress or (lambda stage, done, total: None)
    report("geography", 0, 1)
    geo = load_geography()
    weights = county_demand_weights(geo, population)
    report("geography", 1, 1)
    report("network", 0, 1)
    network = generate_network(geo, weights, params.network, preset)
    report("network", 1, 1)
    counties = geo.counties.merge(weights[["adcode", "weight"]], on="adcode", how="left")
    counties["weight"] = counties["weight"].fillna(0.0)
    national_total = float(counties["weight"].sum())
    if preset.prefecture_adcode is not None:
        counties = counties[counties["prefecture_adcode"] == preset.prefecture_adcode]
    elif preset.province_adcode is not None:
        counties = counties[counties["province_adcode"] == preset.province_adcode]
    counties = counties.copy()
    share = float(counties["weight"].sum()) / national_total
    # Separate streams so that changing the number of days does not change the roster.
    roster_rng, calls_rng = (np.random.default_rng([seed, k]) for k in (1, 2))
    report("roster", 0, 1)
    techs = generate_roster(network, counties, roster_rng, params.network.tiers, params.roster)
    network = _bench_follows_staff(network, techs, params.network.tiers)
    report("roster", 1, 1)
    requests = generate_calls(
        counties, days, params.calls.calls_per_day_national * share, calls_rng, params.calls, progress
    )
    meta = (
        ("preset", preset.name),
        ("seed", str(seed)),
        ("days", str(days)),
        ("generator", "dispatch.synthetic"),
        ("demand", str(weights["source"].iloc[0]) if "source" in weights else "unknown"),
    )
    return Dataset(network, techs, requests, params.start_date, meta)


def with_calls_per_day(params: GeneratorParams, calls_per_day_national: float) -> GeneratorParams:
    return replace(params, calls=replace(params.calls, calls_per_day_national=calls_per_day_national))
