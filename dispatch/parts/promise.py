"""The parts in the day plan's assignment: when a repair's part can be at a centre, as a promise
from the stock the day starts with (no simulation: the plan's estimate).

Each call's part (the recipes' draw, seeded by the assignment's seed) is looked for, for each of
its options, where the job would ask for it: the visiting centre's shelf or its technicians' vans
for an on-site repair, the repairing centre's shelf for a bench. Found: no wait. Else the earliest
of a lateral transfer from the province's nearest centres holding it and an order from the
national warehouse (their lanes' ETAs; the factory's lead time when the warehouse has none): the
option's repair starts then, and its rule says ``waiting_for_part`` with the part, its source and
ETA. Calls take their unit in the order they come (the option with the least estimated
turnaround), so a shelf with one screen promises it once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from dispatch.dataset import Dataset
from dispatch.model import DAY_S, Centre, Request
from dispatch.parts.lanes import DeviceLegs, Lanes, lateral_neighbours, points_of
from dispatch.parts.stock import NATIONAL, is_van
from dispatch.travel import Travel

LATERAL_FROM = 8


class Promise:
    def __init__(self, dataset: Dataset, travel: Travel, seed: int = 0) -> None:
        parts = dataset.parts
        assert parts is not None
        self.cat, self.seed, self.factory_s = parts.catalogue, seed, parts.levels.factory_lead_s
        home = {t.id: t.home_centre_id for t in dataset.technicians}
        self.shelf: dict[tuple[str, str], int] = defaultdict(int)
        self.vans: dict[tuple[str, str], int] = defaultdict(int)  # per centre: its technicians' vans
        for (loc, part), s in parts.levels.levels.items():
            if is_van(loc):
                if loc[4:] in home:
                    self.vans[home[loc[4:]], part] += s
            else:
                self.shelf[loc, part] += s
        self.lanes = Lanes(points_of(tuple(dataset.network), parts.national), travel, parts.lane_params,
                           parts.lane_table)
        self.near = lateral_neighbours(tuple(dataset.network), travel, LATERAL_FROM)
        # The lanes a promise may ride: up and down each chain, laterals, the national warehouse.
        self.lanes.prefetch([*chain_pairs(dataset.network), *((NATIONAL, c.id) for c in dataset.network),
                             *((o, c.id) for c in dataset.network for o in self.near.get(c.id, ()))])
        self.legs = DeviceLegs(self.lanes)  # devices up and down the chain by lane (as in the simulation)
        self._need: dict[tuple[str, str | None, int], str | None] = {}

    def need(self, r: Request) -> str | None:
        # Drawn once per call (a hash), though asked for each of its options.
        key = (r.id, r.device_model, r.level)
        if key not in self._need:
            self._need[key] = self.cat.need(self.seed, r.id, r.device_model, r.level) if r.device_model else None
        return self._need[key]

    def ready(self, r: Request, centre: Centre, t: int, on_site: bool = False) -> tuple[int, str]:
        """(when the part can be at ``centre`` for a job asking at ``t``, what the rule says)."""
        eta, why, _ = self.source(r, centre, t, on_site)
        return eta, why

    def source(self, r: Request, centre: Centre, t: int, on_site: bool = False
               ) -> tuple[int, str, tuple[str, str, str] | None]:
        """As :meth:`ready`, and the unit it would take: (``shelf`` or ``vans``, location, part);
        None when no part is needed or none is in stock (the factory's)."""
        part = self.need(r)
        if part is None:
            return t, "", None
        if self.shelf[centre.id, part] > 0:
            return t, "", ("shelf", centre.id, part)
        if on_site and self.vans[centre.id, part] > 0:
            return t, "", ("vans", centre.id, part)
        # The nearest holder only: lanes are banded by road distance, so no farther one is sooner.
        holder = next((o for o in self.near.get(centre.id, ()) if self.shelf[o, part] > 0), None)
        options = [] if holder is None else [(self.lanes.eta_s(holder, centre.id, t), f"lateral from {holder}",
                                              ("shelf", holder, part))]
        stocked = self.shelf[NATIONAL, part] > 0
        at = t if stocked else t + self.factory_s
        options.append((self.lanes.eta_s(NATIONAL, centre.id, at), "order from the national warehouse",
                        ("shelf", NATIONAL, part) if stocked else None))
        eta, how, unit = min(options, key=lambda o: (o[0], o[1]))
        d, s = divmod(eta, DAY_S)
        return eta, f"; waiting_for_part {part} by {how}, ETA day {d} {s // 3600:02d}:{s % 3600 // 60:02d}", unit

    def hold(self, unit: tuple[str, str, str] | None, back: bool = False) -> None:
        """Take the unit (``back``: return it) in the promise's stock."""
        if unit is not None:
            kind, where, part = unit
            (self.vans if kind == "vans" else self.shelf)[where, part] += 1 if back else -1

    def take(self, r: Request, centre_id: str | None, on_site: bool) -> None:
        """The call's chosen option uses the centre's unit (a van's first for on-site work)."""
        part = self.need(r)
        if part is None or centre_id is None:
            return
        for stock in ((self.vans, self.shelf) if on_site else (self.shelf,)):
            if stock[centre_id, part] > 0:
                stock[centre_id, part] -= 1
                return


def device_legs_for(dataset: Dataset, travel: Travel) -> DeviceLegs | None:
    """The device legs by lane of a dataset with parts; None without (the per-tier lead times)."""
    parts = dataset.parts
    if parts is None:
        return None
    lanes = Lanes(points_of(tuple(dataset.network), parts.national), travel, parts.lane_params, parts.lane_table)
    lanes.prefetch(chain_pairs(dataset.network))
    return DeviceLegs(lanes)


def chain_pairs(network: Iterable[Centre]) -> list[tuple[str, str]]:
    """Every lane a device may ride up or down an escalation chain: each centre and its parent, both ways."""
    return [pair for c in network if c.parent_id is not None for pair in ((c.id, c.parent_id), (c.parent_id, c.id))]


def promise_for(dataset: Dataset, travel: Travel, seed: int = 0) -> Promise | None:
    """The dataset's parts promise; None when it has no parts (the assignment as before)."""
    return None if dataset.parts is None else Promise(dataset, travel, seed)
