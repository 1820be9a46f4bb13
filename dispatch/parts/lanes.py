"""Courier lanes: origin x destination x service, with cut-offs, lead times, prices and remote surcharges.

A parcel ready at ``ready_s`` rides the fastest service its lane offers: it is picked up at the
lane's cut-off of the day (the next day's once the cut-off has passed: ``ship``), and delivered
``transit_days`` later at the service's delivery time (same-day services: ``transit_s`` after the
pickup). Which services a lane offers follows the road distance between its ends, asked of the
travel interface (``Travel.legs``), and the remoteness of the provinces it joins.

Default services (reasoned from SF Express / JD Logistics public products, 2024; contract
figures differ, and the user's own table replaces them, ``dispatch.parts.io``):

| service | road distance | cut-off | delivered | late (a day) | price |
|---|---|---|---|---|---|
| same_city (同城急送) | <= 60 km | 17:00 | 3 h after pickup | 2 % | 25 CNY |
| same_day (当日达) | <= 300 km | 11:00 | 9 h after pickup | 5 % | 30 CNY |
| next_morning (次晨达) | <= 1,500 km | 18:00 | 10:30 the next day | 8 % | 23 CNY |
| standard (标快) | any | 18:00 | 12:00, 1 day per 1,200 km (at least 2) | 12 % | 18 CNY |

Remote provinces (偏远地区: Tibet 54 and Xinjiang 65 two days more, Qinghai 63, Inner Mongolia 15,
Gansu 62, Ningxia 64 and Hainan 46 one day more) add their days to next-morning and standard
lanes that start or end there, and a surcharge of 10 CNY per day; same-city lanes do not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from dispatch.model import DAY_S, Centre
from dispatch.parts.catalogue import uniform
from dispatch.parts.stock import NATIONAL
from dispatch.travel import DEFAULT_TRAVEL, Travel

PICKUPS_FROM_S = 9 * 3600  # couriers collect from 09:00
SERVICES = ("same_city", "same_day", "next_morning", "standard")


@dataclass(frozen=True)
class Service:
    name: str
    max_distance_m: float  # offered on lanes up to this road distance
    cutoff_s: int  # clock: parcels ready by then leave today
    transit_days: int  # 0: delivered transit_s after pickup, the same day
    delivery_s: int  # clock of delivery (transit_days > 0) or seconds after pickup (0)
    late_p: float  # probability the parcel comes a day late
    price_cny: float
    per_1200km: bool = False  # a day per 1,200 km, at least transit_days (standard)
    remote: bool = True  # remote provinces add their days


DEFAULT_SERVICES: tuple[Service, ...] = (
    Service("same_city", 60_000, 17 * 3600, 0, 3 * 3600, 0.02, 25.0, remote=False),
    Service("same_day", 300_000, 11 * 3600, 0, 9 * 3600, 0.05, 30.0),
    Service("next_morning", 1_500_000, 18 * 3600, 1, 10 * 3600 + 1800, 0.08, 23.0),
    Service("standard", math.inf, 18 * 3600, 2, 12 * 3600, 0.12, 18.0, per_1200km=True),
)
REMOTE_DAYS: Mapping[str, int] = MappingProxyType({"54": 2, "65": 2, "63": 1, "15": 1, "62": 1, "64": 1, "46": 1})


@dataclass(frozen=True)
class LaneParams:
    services: tuple[Service, ...] = DEFAULT_SERVICES
    remote_days: Mapping[str, int] = field(default_factory=lambda: REMOTE_DAYS)
    remote_surcharge_cny_per_day: float = 10.0
    late: bool = True  # draw late parcels (off: every parcel on its nominal time, for promises and tests)


@dataclass(frozen=True)
class Lane:
    origin: str
    dest: str
    service: str
    cutoff_s: int
    transit_days: int
    delivery_s: int
    late_p: float
    price_cny: float

    def nominal(self, ready_s: int) -> tuple[int, int]:
        """(pickup, delivery) of a parcel ready at ``ready_s``, on time. A same-day service picks up
        from 09:00 until its cut-off; a longer one at its cut-off."""
        day, clock = divmod(ready_s, DAY_S)
        if clock > self.cutoff_s:  # the cut-off has passed: tomorrow's pickup
            day, clock = day + 1, 0
        if self.transit_days == 0:
            pickup = day * DAY_S + max(clock, PICKUPS_FROM_S)
            return pickup, pickup + self.delivery_s
        return day * DAY_S + self.cutoff_s, (day + self.transit_days) * DAY_S + self.delivery_s


@dataclass(frozen=True)
class Shipment:
    lane: Lane
    pickup_s: int
    eta_s: int  # the promise (nominal delivery)
    arrive_s: int  # when it really comes (a late parcel: a day after the promise)


class Lanes:
    """Every lane between the located ``points`` (id -> (lon, lat, province adcode)): the user's
    ``table`` (origin, dest, service) where it has the pair, else generated from the road
    distance (asked of ``travel``, once per pair) and the provinces' remoteness."""

    def __init__(self, points: Mapping[str, tuple[float, float, str]], travel: Travel = DEFAULT_TRAVEL,
                 params: LaneParams = LaneParams(), table: Mapping[tuple[str, str], tuple[Lane, ...]] | None = None,
                 seed: int = 0) -> None:
        self.points, self.travel, self.p, self.seed = points, travel, params, seed
        self.table = dict(table or {})
        self._cache: dict[tuple[str, str], tuple[Lane, ...]] = {}
        # Per lane pair, its services' (cut-off, transit days, delivery) for ``eta_s``.
        self._timing: dict[tuple[str, str], tuple[tuple[int, int, int], ...]] = {}
        self._distance: dict[tuple[str, str], float] = {}  # road metres asked ahead (``prefetch``)

    def distance_m(self, origin: str, dest: str) -> float:
        a, b = self.points[origin], self.points[dest]
        if origin == dest:
            return 0.0
        return float(np.asarray(self.travel.legs(a[0], a[1], b[0], b[1])[1]).item())

    def lanes(self, origin: str, dest: str) -> tuple[Lane, ...]:
        key = (origin, dest)
        if key in self.table:
            return self.table[key]
        if key not in self._cache:
            self._cache[key] = self._generate(origin, dest)
        return self._cache[key]

    def prefetch(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Ask the road distances of the lanes ``pairs`` may generate now, in one ask of the
        travel model (a model pays per ask: the promise's thousands of pairs, one by one, cost
        more than all of them at once); each leg is the same as asked alone."""
        todo = list(dict.fromkeys(k for k in pairs if k not in self.table and k not in self._distance and k[0] != k[1]))
        if not todo:
            return
        a = np.array([self.points[o][:2] for o, _ in todo], dtype=float)
        b = np.array([self.points[d][:2] for _, d in todo], dtype=float)
        metres = np.asarray(self.travel.legs(a[:, 0], a[:, 1], b[:, 0], b[:, 1])[1])
        self._distance.update(zip(todo, map(float, metres.tolist())))

    def _generate(self, origin: str, dest: str) -> tuple[Lane, ...]:
        d = self._distance.get((origin, dest))
        d = self.distance_m(origin, dest) if d is None else d
        provinces = {self.points[origin][2][:2], self.points[dest][2][:2]}
        extra = max((self.p.remote_days.get(pr, 0) for pr in provinces), default=0)
        out = []
        for s in self.p.services:
            if d > s.max_distance_m:
                continue
            days = max(s.transit_days, math.ceil(d / 1_200_000)) if s.per_1200km else s.transit_days
            add = extra if s.remote and days > 0 else 0
            if s.remote and extra and days == 0:
                continue  # no same-day service into or out of a remote province
            out.append(Lane(origin, dest, s.name, s.cutoff_s, days + add, s.delivery_s, s.late_p,
                            s.price_cny + add * self.p.remote_surcharge_cny_per_day))
        return tuple(out)

    def eta_s(self, origin: str, dest: str, ready_s: int) -> int:
        """``ship(origin, dest, ready_s).eta_s`` (the promise of an on-time parcel), worked out
        without a shipment: the plan's assignment asks it half a million times a national day."""
        timing = self._timing.get((origin, dest))
        if timing is None:
            lanes = self.lanes(origin, dest)
            if not lanes:
                raise KeyError(f"no courier lane from {origin} to {dest}")
            timing = self._timing[origin, dest] = tuple((ln.cutoff_s, ln.transit_days, ln.delivery_s) for ln in lanes)
        today, clock = divmod(ready_s, DAY_S)
        best = None
        for cutoff_s, transit_days, delivery_s in timing:  # Lane.nominal, inlined
            if clock > cutoff_s:  # tomorrow's pickup
                eta = (today + 1 + transit_days) * DAY_S + (PICKUPS_FROM_S if transit_days == 0 else 0) + delivery_s
            elif transit_days == 0:
                eta = today * DAY_S + max(clock, PICKUPS_FROM_S) + delivery_s
            else:
                eta = (today + transit_days) * DAY_S + delivery_s
            if best is None or eta < best:
                best = eta
        return best  # type: ignore[return-value]  # a lane pair has at least one service

    def ship(self, origin: str, dest: str, ready_s: int, key: str = "") -> Shipment:
        """The fastest service of the lane for a parcel ready at ``ready_s`` (ties: the cheaper);
        ``key`` names the parcel for its lateness draw (empty: on time)."""
        lanes = self.lanes(origin, dest)
        if not lanes:
            raise KeyError(f"no courier lane from {origin} to {dest}")
        best = min(lanes, key=lambda ln: (ln.nominal(ready_s)[1], ln.price_cny))
        pickup, eta = best.nominal(ready_s)
        late = self.p.late and key != "" and uniform(self.seed, "lane", key) < best.late_p
        return Shipment(best, pickup, eta, eta + (DAY_S if late else 0))


class DeviceLegs:
    """Devices up and down the escalation chain by courier lane (parts on, in place of the
    per-tier shuttle): each hop rides the fastest service of its lane, picked up at the lane's
    cut-off (a device ready after it leaves the next day). ``key`` names the device for the
    lateness draws (empty: on time, for promises)."""

    def __init__(self, lanes: Lanes) -> None:
        self.lanes = lanes

    def ride(self, hops: Iterable[tuple[str, str, str]], ready_s: int, key: str = "") -> tuple[int, float]:
        """(arrival, price paid) of a parcel riding ``hops`` (origin, destination, the hop's name
        in its lateness key) in turn, each on the fastest service of its lane."""
        t, cny = ready_s, 0.0
        for origin, dest, name in hops:
            s = self.lanes.ship(origin, dest, t, key and f"{key}:{name}")
            t, cny = s.arrive_s, cny + s.lane.price_cny
        return t, cny

    def up_priced(self, chain: Sequence[Centre], hops: int, ready_s: int, key: str = "") -> tuple[int, float]:
        return self.ride(((chain[i].id, chain[i + 1].id, f"up{i}") for i in range(hops)), ready_s, key)

    def down_priced(self, chain: Sequence[Centre], hops: int, ready_s: int, key: str = "") -> tuple[int, float]:
        return self.ride(((chain[i + 1].id, chain[i].id, f"down{i}") for i in reversed(range(hops))), ready_s, key)

    def direct_priced(self, origin_id: str, dest_id: str, ready_s: int, key: str = "") -> tuple[int, float]:
        """A parcel straight from ``origin_id``'s area to ``dest_id`` (a mail-in, 寄修)."""
        return self.ride(((origin_id, dest_id, "direct"),), ready_s, key)

    def up(self, chain: Sequence[Centre], hops: int, ready_s: int, key: str = "") -> int:
        if not key:  # on time: the promises' fast path
            for i in range(hops):
                ready_s = self.lanes.eta_s(chain[i].id, chain[i + 1].id, ready_s)
            return ready_s
        return self.up_priced(chain, hops, ready_s, key)[0]

    def down(self, chain: Sequence[Centre], hops: int, ready_s: int, key: str = "") -> int:
        if not key:
            for i in reversed(range(hops)):
                ready_s = self.lanes.eta_s(chain[i + 1].id, chain[i].id, ready_s)
            return ready_s
        return self.down_priced(chain, hops, ready_s, key)[0]

    def direct(self, origin_id: str, dest_id: str, ready_s: int, key: str = "") -> int:
        return self.direct_priced(origin_id, dest_id, ready_s, key)[0]

    def price_cny(self, chain: Sequence[Centre], hops: int, ready_s: int) -> float:
        """Both ways, at the lanes' prices (the fastest service each hop)."""
        total, t = 0.0, ready_s
        for i in range(hops):
            s = self.lanes.ship(chain[i].id, chain[i + 1].id, t)
            total, t = total + s.lane.price_cny, s.eta_s
        for i in reversed(range(hops)):
            s = self.lanes.ship(chain[i + 1].id, chain[i].id, t)
            total, t = total + s.lane.price_cny, s.eta_s
        return total


def lateral_neighbours(centres: Sequence[Centre], travel: Travel, k: int = 8) -> dict[str, list[str]]:
    """Per centre, the ``k`` other centres of its province nearest by road: where a lateral
    transfer may come from (one ``Travel.matrices`` per province)."""
    groups: dict[str, list[Centre]] = {}
    for c in centres:
        groups.setdefault(c.province_adcode, []).append(c)
    out: dict[str, list[str]] = {}
    for group in groups.values():
        _, metres = travel.matrices(np.array([c.lon for c in group]), np.array([c.lat for c in group]))
        for i, c in enumerate(group):
            out[c.id] = [group[j].id for j in np.argsort(metres[i], kind="stable") if j != i][:k]
    return out


def points_of(centres: Sequence[Centre], national: tuple[float, float, str]) -> dict[str, tuple[float, float, str]]:
    """Every lane end: the centres and the national warehouse (id -> lon, lat, province)."""
    return {**{c.id: (c.lon, c.lat, c.province_adcode) for c in centres}, NATIONAL: national}


def with_services(params: LaneParams, **changes: Service) -> LaneParams:
    """``params`` with services replaced by name (a what-if: a faster standard lane)."""
    services = tuple(changes.get(s.name, s) for s in params.services)
    return replace(params, services=services)
