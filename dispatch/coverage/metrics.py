"""Coverage metrics: travel from demand to the nearest centre able to repair a level, shares within a budget, escalation turnaround."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dispatch.geodata import county_demand_weights, load_geography
from dispatch.model import LEVELS, Tier
from dispatch.network import CentreIndex, Network
from dispatch.travel import DEFAULT_TRAVEL, Travel


def nearest_travel_s(
    network: Network, lon: np.ndarray, lat: np.ndarray, centre_mask: np.ndarray,
    travel: Travel = DEFAULT_TRAVEL, speed_class: str = "car",
) -> tuple[np.ndarray, np.ndarray]:
    """Travel time (s) from each point to the nearest centre where ``centre_mask`` is true,
    and that centre's position in ``network.centres``; inf / -1 when there is none."""
    idx_all = np.flatnonzero(centre_mask)
    n = len(lon)
    if len(idx_all) == 0:
        return np.full(n, np.inf), np.full(n, -1)
    index = CentreIndex(tuple(network.centres[i] for i in idx_all))
    t, j = index.fastest(lon, lat, travel, speed_class)
    return t.astype(float), idx_all[j]


def coverage_table(
    network: Network, demand: pd.DataFrame, minutes: float = 60.0,
    travel: Travel = DEFAULT_TRAVEL,
) -> pd.DataFrame:
    """Share of demand within ``minutes`` of a centre able to repair each level, and of a centre
    of each tier; per province and nationally. ``demand``: lon, lat, weight, province_adcode."""
    limit_s = minutes * 60
    lon, lat = demand["lon"].to_numpy(float), demand["lat"].to_numpy(float)
    w = demand["weight"].to_numpy(float)
    cols: dict[str, np.ndarray] = {}
    for level in LEVELS:
        mask = np.array([c.can_repair(level) for c in network])
        t, _ = nearest_travel_s(network, lon, lat, mask, travel)
        cols[f"level{level}"] = t <= limit_s
    for tier in Tier:
        mask = np.array([c.tier == tier for c in network])
        t, _ = nearest_travel_s(network, lon, lat, mask, travel)
        cols[f"tier{int(tier)}"] = t <= limit_s
    frame = pd.DataFrame({k: v * w for k, v in cols.items()})
    frame["weight"] = w
    frame["province_adcode"] = demand["province_adcode"].to_numpy()
    sums = frame.groupby("province_adcode").sum()
    national = frame.drop(columns="province_adcode").sum().to_frame("national").T
    out = pd.concat([sums, national])
    for k in cols:
        out[k] = out[k] / out["weight"]
    return out.rename(columns={k: f"{k}_within_{int(minutes)}min" for k in cols})


def travel_time_distribution(
    network: Network, demand: pd.DataFrame, level: int, travel: Travel = DEFAULT_TRAVEL,
    bins_min: tuple[float, ...] = (15, 30, 45, 60, 90, 120, 180, 240, np.inf),
) -> pd.DataFrame:
    """Demand-weighted histogram of travel time to the nearest centre able to repair ``level``."""
    mask = np.array([c.can_repair(level) for c in network])
    t, _ = nearest_travel_s(network, demand["lon"].to_numpy(float), demand["lat"].to_numpy(float), mask, travel)
    w = demand["weight"].to_numpy(float)
    edges = np.concatenate([[0.0], np.asarray(bins_min, float)]) * 60
    hist, _ = np.histogram(np.minimum(t, 1e12), bins=edges, weights=w)
    lows = (0.0, *bins_min[:-1])
    labels = [f"{int(lo)}-{int(b)} min" if np.isfinite(b) else f"> {int(lo)} min" for lo, b in zip(lows, bins_min)]
    return pd.DataFrame({"bin": labels, "share": hist / w.sum()})


def escalation_turnaround_h(
    network: Network, demand: pd.DataFrame, level: int, bench_h: float, return_h: float = 4.0,
    travel: Travel = DEFAULT_TRAVEL,
) -> np.ndarray:
    """Courier-adjusted turnaround (hours) per demand point for a device brought to the nearest
    centre and escalated up its chain to the first centre able to repair ``level``: courier both
    ways + bench time + the return; ignores opening hours and queues (a planning estimate).

    The escalation cost is computed once per centre (a walk up a chain of at most three tiers),
    then gathered per demand point, so the work is O(centres + points), not a loop over points."""
    lon, lat = demand["lon"].to_numpy(float), demand["lat"].to_numpy(float)
    t, idx = nearest_travel_s(network, lon, lat, np.ones(len(network), bool), travel)
    per_centre = np.full(len(network), np.inf)
    for k, c in enumerate(network.centres):
        courier_s = 0
        for anc in network.chain(c.id):
            if anc.can_repair(level):
                per_centre[k] = 2 * courier_s / 3600 + bench_h + return_h
                break
            courier_s += anc.courier_to_parent_s
    out = np.full(len(lon), np.inf)
    ok = idx >= 0
    out[ok] = per_centre[idx[ok]] + t[ok] / 3600
    return out


# Bench hours per repair level for the turnaround estimate (design: ~30 / 90 / 180 minutes).
DEFAULT_BENCH_H = {1: 0.5, 2: 1.5, 3: 3.0}


def demand_for(network: Network, population: pd.DataFrame | None = None,
               growth: dict[str, float] | None = None) -> pd.DataFrame:
    """County demand (seat lon/lat, weight) over the area the network serves.

    The area is the network's provinces, or its one prefecture when every city/county centre
    lies in a single prefecture of a single province (the ``tiny`` preset); ``growth`` scales
    the weight per province adcode (a scenario's demand growth)."""
    geo = load_geography()
    w = county_demand_weights(geo, population)
    counties = geo.counties.merge(w[["adcode", "weight"]], on="adcode", how="left").fillna({"weight": 0.0})
    provinces = {c.province_adcode for c in network if c.province_adcode}
    prefectures = {c.prefecture_adcode for c in network if c.tier != Tier.PROVINCE and c.prefecture_adcode}
    if len(provinces) == 1 and len(prefectures) == 1:
        counties = counties[counties["prefecture_adcode"].isin(prefectures)]
    else:
        counties = counties[counties["province_adcode"].isin(provinces)]
    out = pd.DataFrame({
        "adcode": counties["adcode"].to_numpy(), "name": counties["name"].to_numpy(),
        "lon": counties["seat_lon"].to_numpy(float), "lat": counties["seat_lat"].to_numpy(float),
        "weight": counties["weight"].to_numpy(float),
        "province_adcode": counties["province_adcode"].to_numpy(),
        "prefecture_adcode": counties["prefecture_adcode"].to_numpy(),
    })
    if growth:
        out["weight"] = out["weight"] * out["province_adcode"].map(growth).fillna(1.0)
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class CoverageReport:
    """Everything ``dispatch coverage`` shows: shares per province/level/tier, the travel-time
    distribution per level, and a per-county frame (nearest capable centre, minutes, covered,
    escalation turnaround) that the GeoJSON export and the dashboard map draw."""

    minutes: float
    table: pd.DataFrame  # index: province adcode + "national"
    distribution: pd.DataFrame  # bin x level share
    counties: pd.DataFrame  # one row per demand point
    timings_s: dict[str, float]


def coverage_report(network: Network, demand: pd.DataFrame, minutes: float = 60.0,
                    travel: Travel = DEFAULT_TRAVEL,
                    bench_h: dict[int, float] | None = None) -> CoverageReport:
    bench = {**DEFAULT_BENCH_H, **(bench_h or {})}
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    table = coverage_table(network, demand, minutes, travel)
    timings["table"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dist = None
    for level in LEVELS:
        d = travel_time_distribution(network, demand, level, travel).rename(columns={"share": f"level{level}"})
        dist = d if dist is None else dist.merge(d, on="bin")
    timings["distribution"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lon, lat = demand["lon"].to_numpy(float), demand["lat"].to_numpy(float)
    per = demand[[c for c in ("adcode", "name", "province_adcode", "weight") if c in demand]].copy()
    ids = np.array([c.id for c in network.centres] + [""])
    for level in LEVELS:
        mask = np.array([c.can_repair(level) for c in network])
        t, idx = nearest_travel_s(network, lon, lat, mask, travel)
        per[f"level{level}_centre"] = ids[idx]  # idx -1 -> "" (no capable centre)
        per[f"level{level}_min"] = np.round(t / 60, 1)
        per[f"level{level}_covered"] = t <= minutes * 60
    for level in (2, 3):
        per[f"level{level}_turnaround_h"] = np.round(
            escalation_turnaround_h(network, demand, level, bench[level], travel=travel), 2)
    timings["counties"] = time.perf_counter() - t0
    return CoverageReport(minutes, table, dist, per, timings)

