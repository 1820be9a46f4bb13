"""County adapters: the existing stations as sites, and a location problem over China's counties."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dispatch.coverage.location import LocationProblem, seat_cost_s
from dispatch.errors import DispatchError
from dispatch.model import Tier
from dispatch.network import Network, unit_vectors
from dispatch.travel import DEFAULT_TRAVEL, EARTH_RADIUS_M, Travel


def existing_sites(network: Network, demand: pd.DataFrame, level: int = 1) -> dict[str, str]:
    """County adcode -> id of an existing centre able to repair ``level`` in that county.

    County stations carry their county's code. City and provincial centres sit at a seat that
    need not coincide with a county seat's coordinates, so a city centre takes the nearest seat
    among its own prefecture's counties, and a provincial centre the nearest seat of its
    province within 30 km (farther means the lab lies outside a one-prefecture area)."""
    from scipy.spatial import cKDTree

    codes = demand["adcode"].astype(str).to_numpy()
    pref = demand["prefecture_adcode"].astype(str).to_numpy() if "prefecture_adcode" in demand else None
    prov = demand["province_adcode"].astype(str).to_numpy()
    xyz = unit_vectors(demand["lon"].to_numpy(float), demand["lat"].to_numpy(float))
    known = set(codes)
    out: dict[str, str] = {}
    for c in sorted(network, key=lambda c: int(c.tier)):  # the higher tier names the site
        if not c.can_repair(level):
            continue
        code = c.county_adcode if c.county_adcode in known else None
        if code is None:
            if c.tier == Tier.CITY and pref is not None and c.prefecture_adcode:
                pool, limit_m = np.flatnonzero(pref == c.prefecture_adcode), np.inf
            else:
                pool, limit_m = np.flatnonzero(prov == c.province_adcode), 30_000.0
            if not len(pool):
                continue
            chord, j = cKDTree(xyz[pool]).query(unit_vectors(np.array([c.lon]), np.array([c.lat])), k=1)
            if float(np.atleast_1d(chord)[0]) * EARTH_RADIUS_M > limit_m:
                continue
            code = str(codes[pool[int(np.atleast_1d(j)[0])]])
        out.setdefault(code, c.id)
    return out


def county_location_problem(
    demand: pd.DataFrame, network: Network | None = None, level: int = 1, lock_existing: bool = False,
    lock_open: tuple[str, ...] = (), lock_closed: tuple[str, ...] = (),
    capacities: np.ndarray | None = None, travel: Travel = DEFAULT_TRAVEL,
) -> LocationProblem:
    """County seats as demand points and candidate sites. ``lock_open``/``lock_closed`` take
    county adcodes or ids of existing centres (resolved to their county)."""
    sites = tuple(demand["adcode"].astype(str))
    existing = existing_sites(network, demand, level) if network is not None else {}
    by_centre = {cid: code for code, cid in existing.items()}
    if network is not None:  # centres unable to repair ``level`` still name their county
        for code, cid in existing_sites(network, demand, 1).items():
            by_centre.setdefault(cid, code)
    valid = set(sites)

    def resolve(items: tuple[str, ...], what: str) -> list[str]:
        out = []
        for s in items:
            code = by_centre.get(s, s)
            if code not in valid:
                sample = ", ".join(sorted(valid)[:3])
                raise DispatchError(
                    f"{what}: {s!r} is neither a county adcode of this area nor an existing centre id; "
                    f"expected e.g. {sample} ({len(valid)} counties) or a centre id such as "
                    f"{', '.join(sorted(by_centre)[:3])}"
                )
            out.append(code)
        return out

    opened = resolve(lock_open, "lock open") + (sorted(existing) if lock_existing else [])
    closed = resolve(lock_closed, "lock closed")
    lon, lat = demand["lon"].to_numpy(float), demand["lat"].to_numpy(float)
    return LocationProblem.from_cost_matrix(
        seat_cost_s(lon, lat, lon, lat, travel), demand["weight"].to_numpy(float), sites, sites,
        locked_open=sorted(set(opened)), locked_closed=sorted(set(closed)), capacities=capacities,
    )

