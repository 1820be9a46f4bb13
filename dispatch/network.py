"""The centre hierarchy: parents, children, escalation chains, capable and nearby centres."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dispatch.errors import ModelError
from dispatch.model import Centre, Tier
from dispatch.travel import EARTH_RADIUS_M, Travel, drive_s


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    return np.column_stack(
        [np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)]
    )


class _Nearest:
    """Nearest-centre queries over ``self.centres`` (great circle, k-d tree on unit vectors)."""

    centres: tuple[Centre, ...]

    def __len__(self) -> int:
        return len(self.centres)

    @cached_property
    def _index(self):  # type: ignore[no-untyped-def]
        from scipy.spatial import cKDTree

        lon = np.array([c.lon for c in self.centres])
        lat = np.array([c.lat for c in self.centres])
        return cKDTree(unit_vectors(lon, lat))

    def nearest(
        self, lon: np.ndarray, lat: np.ndarray, k: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """k nearest centres (by great circle) to each point: (centre positions, distance_m)."""
        k = min(k, len(self.centres))
        chord, idx = self._index.query(unit_vectors(np.asarray(lon), np.asarray(lat)), k=k)
        dist_m = 2 * EARTH_RADIUS_M * np.arcsin(np.clip(chord / 2, 0, 1))
        return idx, dist_m

    def fastest(self, lon: np.ndarray, lat: np.ndarray, travel: Travel, speed_class: str = "car",
                k: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """The quickest centre to reach from each point, among its ``k`` nearest by great circle
        (a road model can make the second-nearest the quicker one): (travel_s, centre positions)."""
        lon, lat = np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float))
        idx, _ = self.nearest(lon, lat, k=k)
        idx = np.asarray(idx).reshape(len(lon), -1)
        clon = np.array([c.lon for c in self.centres])[idx]
        clat = np.array([c.lat for c in self.centres])[idx]
        t = drive_s(travel, clon, clat, lon[:, None], lat[:, None], speed_class)
        best = np.argmin(t, axis=1)
        rows = np.arange(len(lon))
        return t[rows, best], idx[rows, best]


@dataclass(frozen=True)
class CentreIndex(_Nearest):
    """Nearest-centre queries over any subset of centres (e.g. those with technicians), whose
    parents need not be in it."""

    centres: tuple[Centre, ...]


@dataclass(frozen=True)
class Network(_Nearest):
    """An immutable, validated set of centres forming a forest rooted at tier-1 centres."""

    centres: tuple[Centre, ...]

    def __post_init__(self) -> None:
        problems = hierarchy_problems(self.centres)
        if problems:
            raise ModelError("Network", problems[0][0], problems[0][1], problems[0][2])

    def __iter__(self) -> Iterator[Centre]:
        return iter(self.centres)

    @cached_property
    def by_id(self) -> dict[str, Centre]:
        return {c.id: c for c in self.centres}

    def __getitem__(self, centre_id: str) -> Centre:
        return self.by_id[centre_id]

    def chain(self, centre_id: str) -> tuple[Centre, ...]:
        """The centre and its ancestors up to tier 1: the escalation path."""
        out = [self[centre_id]]
        while out[-1].parent_id is not None:
            out.append(self[out[-1].parent_id])
        return tuple(out)

    def by_tier(self, tier: Tier) -> tuple[Centre, ...]:
        return tuple(c for c in self.centres if c.tier == tier)

    def counts_by_tier(self) -> dict[Tier, int]:
        return {t: sum(1 for c in self.centres if c.tier == t) for t in Tier}


def hierarchy_problems(centres: Iterable[Centre]) -> list[tuple[str, object, str]]:
    """(field, value, expected) for every hierarchy problem: duplicates, unknown parents,
    parents of the same or a lower tier, cycles."""
    centres = list(centres)
    problems: list[tuple[str, object, str]] = []
    by_id: dict[str, Centre] = {}
    for c in centres:
        if c.id in by_id:
            problems.append(("id", c.id, "a unique centre id (this one appears more than once)"))
        by_id[c.id] = c
    for c in centres:
        if c.parent_id is None:
            continue
        parent = by_id.get(c.parent_id)
        if parent is None:
            problems.append(
                ("parent_id", c.parent_id, f"the id of an existing centre (centre {c.id!r})")
            )
        elif parent.tier >= c.tier:
            problems.append(
                (
                    "parent_id",
                    c.parent_id,
                    f"a centre of a higher tier than {c.id!r} (tier {int(c.tier)}); "
                    f"{parent.id!r} is tier {int(parent.tier)}",
                )
            )
    # Cycles: with strictly decreasing tiers they cannot happen, but a bad file may break tiers too.
    for c in centres:
        seen = {c.id}
        cur = c
        while cur.parent_id is not None and cur.parent_id in by_id:
            cur = by_id[cur.parent_id]
            if cur.id in seen:
                problems.append(("parent_id", c.parent_id, f"no cycle (centre {c.id!r} is its own ancestor)"))
                break
            seen.add(cur.id)
    return problems

def area_of_centre(net: Network) -> dict[str, str]:
    """Centre id -> routing area (a prefecture adcode). The provincial centre's technicians work
    in the capital's area."""
    capital_of = {p.parent_id: p.prefecture_adcode for p in net
                  if p.tier == Tier.CITY and p.parent_id is not None
                  and (p.lon, p.lat) == (net[p.parent_id].lon, net[p.parent_id].lat)}
    return {c.id: (capital_of.get(c.id, c.province_adcode) if c.tier == Tier.PROVINCE
                   else c.prefecture_adcode or c.county_adcode) for c in net}
