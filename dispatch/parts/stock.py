"""Stock: on hand per location (centres, vans, the national warehouse), parts held for jobs,
parts in transit, consumption, the faulty parts sent back, and one-for-one (base-stock)
replenishment.

Locations are centre ids, ``van:<technician id>`` and :data:`NATIONAL`. Each has a base-stock
level per part (``StockLevels``): whenever a unit leaves a location's inventory position (held
for a job, sent to another location), the location orders one from its supplier, so the
position (on hand + inbound - backorders) stays at the level. Suppliers: a van's is its home
centre (refilled the next morning), a centre's the national warehouse (by courier lane), the
national warehouse's the factory (``factory_lead_s``). A supplier without stock queues the order
(first come, first served) and serves it when a unit arrives.

Flows are counted so that, at any moment, every unit that entered the network (the opening
stock and the factory's deliveries) is used, on hand, held for a job or in transit
(:meth:`Ledger.balance`); each used part sends a faulty one back to the national warehouse
(returns: sent = in transit + received).

Every courier leg a unit rides is priced (``ship``'s third value: the simulation charges a lane's
price once per parcel) and charged to its cause: the job whose use of a unit set the one-for-one
chain off (its centre's reorder, the warehouse's reorder behind it) or the job a unit was sent
for (``shipping_cny``).
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from dispatch.model import DAY_S

NATIONAL = "NATIONAL"
VAN_PREFIX = "van:"
VAN_REFILL_S = 7 * 3600  # a van is refilled at its centre before the next morning's shift


def van(technician_id: str) -> str:
    return VAN_PREFIX + technician_id


def is_van(location: str) -> bool:
    return location.startswith(VAN_PREFIX)


@dataclass(frozen=True)
class StockLevels:
    """Base-stock level per (location, part); what a location starts with and keeps ordering up to."""

    levels: Mapping[tuple[str, str], int]
    factory_lead_s: int = 5 * DAY_S

    def level(self, location: str, part: str) -> int:
        return self.levels.get((location, part), 0)

    def parts_at(self, location: str) -> dict[str, int]:
        return {p: s for (loc, p), s in self.levels.items() if loc == location and s > 0}


@dataclass
class Transit:
    """A unit on its way to ``dest`` (for a job when ``job`` is set)."""

    id: int
    part: str
    origin: str
    dest: str
    arrive_s: int
    eta_s: int
    job: str = ""
    kind: str = "replenishment"  # replenishment | lateral | refill | factory
    cause: str = ""  # the job it is charged to (shipping_cny)


@dataclass
class Ledger:
    """The stock of a run (see the module docstring). ``ship(origin, dest, part, ready_s, key)``
    returns (arrival, promise, price in CNY) of one unit: the courier lanes, or a van refill."""

    levels: StockLevels
    supplier: Callable[[str], str]
    ship: Callable[[str, str, str, int, str], tuple[int, int, float]]
    notify: Callable[[Transit], None] = lambda tr: None  # a unit set off: its arrival is an event
    on_hand: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    held: dict[str, tuple[str, str]] = field(default_factory=dict)  # job -> (location, part)
    transit: dict[int, Transit] = field(default_factory=dict)
    backorders: dict[tuple[str, str], deque] = field(default_factory=lambda: defaultdict(deque))
    entered: int = 0  # opening stock + factory deliveries
    used: int = 0
    faulty_sent: int = 0
    faulty_received: int = 0
    faulty_in_transit: int = 0
    lateral: int = 0
    expedited: int = 0  # units sent to a waiting job (lateral or ordered for it)
    stockouts: int = 0  # a job found no free unit where it asked first
    shipping_cny: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # cause -> CNY
    _ids: Iterable[int] = field(default_factory=itertools.count)
    _to: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))  # transit by (dest, part)

    def __post_init__(self) -> None:
        for (loc, part), s in self.levels.levels.items():
            if s > 0:
                self.on_hand[loc, part] += s
                self.entered += s

    # -- queries ---------------------------------------------------------------------------

    def free(self, location: str, part: str) -> int:
        return self.on_hand.get((location, part), 0)

    def inbound(self, location: str, part: str) -> list[Transit]:
        """Units on their way to ``location`` for no job yet, soonest first."""
        ids = self._to.get((location, part), ())
        return sorted((t for i in ids if not (t := self.transit[i]).job), key=lambda t: (t.arrive_s, t.id))

    # -- moves -----------------------------------------------------------------------------

    def hold(self, job: str, location: str, part: str, now_s: int) -> None:
        """Hold one unit on hand at ``location`` for ``job``; the location reorders it."""
        self.on_hand[location, part] -= 1
        self.held[job] = (location, part)
        self.order(location, part, now_s, cause=job)

    def claim(self, job: str, t: Transit, location: str, now_s: int) -> None:
        """``job`` takes a unit already on its way to ``location`` (the location reorders it)."""
        t.job = job
        self.order(location, part=t.part, now_s=now_s, cause=job)

    def send(self, origin: str, dest: str, part: str, now_s: int, job: str = "", kind: str = "lateral",
             reorder: bool = True, cause: str = "") -> Transit:
        """One unit from ``origin``'s stock to ``dest`` (for ``job``; charged to ``cause``, by
        default the job); ``origin`` reorders it (``reorder=False``: a queued order served,
        reordered when it was queued)."""
        cause = cause or job
        self.on_hand[origin, part] -= 1
        tr = self._dispatch(origin, dest, part, now_s, job, kind, cause)
        if reorder:
            self.order(origin, part, now_s, cause=cause)
        if kind == "lateral":
            self.lateral += 1
        return tr

    def order(self, location: str, part: str, now_s: int, job: str = "", cause: str = "") -> Transit | None:
        """``location`` orders one unit from its supplier (for ``job``; charged to ``cause``, by
        default the job): sent now if the supplier has one, else queued there (None)."""
        cause = cause or job
        if location == NATIONAL:
            return self._factory(part, now_s, job)
        src = self.supplier(location)
        if self.free(src, part) > 0:
            return self.send(src, location, part, now_s, job, kind="refill" if is_van(location) else "replenishment",
                             cause=cause)
        self.backorders[src, part].append((location, job, cause))
        self.order(src, part, now_s, cause=cause)  # the supplier's position fell by the order it owes: it reorders
        return None

    def _factory(self, part: str, now_s: int, job: str) -> Transit:
        tr = Transit(next(self._ids), part, "factory", NATIONAL, now_s + self.levels.factory_lead_s,  # type: ignore[call-overload]
                     now_s + self.levels.factory_lead_s, job, "factory")
        self.transit[tr.id] = tr
        self._to[tr.dest, tr.part].add(tr.id)
        self.notify(tr)
        return tr

    def _dispatch(self, origin: str, dest: str, part: str, now_s: int, job: str, kind: str, cause: str) -> Transit:
        arrive, eta, cost_cny = self.ship(origin, dest, part, now_s, f"{kind}:{origin}:{dest}:{part}:{now_s}:{job}")
        self.shipping_cny[cause] += cost_cny
        tr = Transit(next(self._ids), part, origin, dest, arrive, eta, job, kind, cause)  # type: ignore[call-overload]
        self.transit[tr.id] = tr
        self._to[tr.dest, tr.part].add(tr.id)
        self.notify(tr)
        return tr

    def arrive(self, transit_id: int, now_s: int) -> Transit:
        """A unit reaches its destination: held for its job, else on hand (a factory delivery
        enters the network), then the location's queued orders are served."""
        tr = self.transit.pop(transit_id)
        self._to[tr.dest, tr.part].discard(transit_id)
        if tr.kind == "factory":
            self.entered += 1
        if tr.job:
            self.held[tr.job] = (tr.dest, tr.part)
            return tr
        self.on_hand[tr.dest, tr.part] += 1
        queue = self.backorders.get((tr.dest, tr.part))
        while queue and self.free(tr.dest, tr.part) > 0:
            dest, job, cause = queue.popleft()
            self.send(tr.dest, dest, tr.part, now_s, job, kind="refill" if is_van(dest) else "replenishment",
                      reorder=False, cause=cause)
        return tr

    def consume(self, job: str) -> tuple[str, str] | None:
        """The job's held unit is fitted: used, and its faulty part starts back (``faulty_back``)."""
        got = self.held.pop(job, None)
        if got is not None:
            self.used += 1
            self.faulty_sent += 1
            self.faulty_in_transit += 1
        return got

    def faulty_back(self) -> None:
        self.faulty_in_transit -= 1
        self.faulty_received += 1

    def release(self, job: str) -> None:
        """The job does not need its unit after all (no fault found, a refund, a loaner given
        back): on hand where it is held."""
        got = self.held.pop(job, None)
        if got is not None:
            self.on_hand[got] += 1

    def balance(self) -> dict[str, int]:
        """The conservation identity's terms: entered = used + on_hand + held + in_transit."""
        in_transit = sum(1 for t in self.transit.values() if t.kind != "factory")
        return {"entered": self.entered, "used": self.used, "on_hand": sum(self.on_hand.values()),
                "held": len(self.held), "in_transit": in_transit, "faulty_sent": self.faulty_sent,
                "faulty_in_transit": self.faulty_in_transit, "faulty_received": self.faulty_received}
