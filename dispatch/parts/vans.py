"""Van stock sized from each field technician's job mix (``dispatch stock size --vans``).

The rule, per van:

* **demand**: the on-site repairs (mode ``onsite``, level <= ``Rules.onsite_max_level``) of the
  dataset's calls, at the station nearest the call (as the centres' sizing places them,
  ``dispatch.parts.sizing.part_asks``), each part with its recipe probability; a 三包 refund or
  exchange consumes nothing on site. A station's on-site demand of a part is shared among its
  field technicians who can do the call (level, product line), evenly among those on shift: a
  technician with a weekly rest day is on shift 6 days in 7, so the demand of one of his shifts
  is the station's day's demand over the expected number of eligible technicians on shift
  (sum of 6/7 or 1). A call no technician of its station can do asks no van.
  With ``served`` (:func:`served_by`: who went to each call in a simulated run of the same
  calls) each call's parts are charged to the technician who went instead, over his shifts in
  the period (days x 6/7 or 1): the job mix as dispatching makes it, neighbours' and city
  technicians' calls included (in the Zhejiang week fewer than half the on-site calls are served
  from the call's own station); a call nobody went to falls back on the station's share. Measured
  out of sample (sized on seed 1's week, simulated on seed 2's, centres at the fill-90 % sizing),
  one simulated week's mix over-fits: 22.7 % of the on-site part needs came from the van against
  31.5 % with the station share (and 31.0 % with the default vans, which hold 915 k CNY against
  the station share's 605 k): ``dispatch stock size --vans`` uses the station share unless asked.
* **replenishment**: a van is refilled one-for-one at its centre before the next shift
  (``dispatch.parts.stock``: the unit a job took is reordered and arrives at 07:00), so a van
  starts every shift at its level S and meets a shift's demand D ~ Poisson(m), m the demand of
  ``refill_shifts`` shifts, up to S. Its fill for the part (the share of demands met from the van,
  type 2) is E[min(D, S)] / m = 1 - n(S) / m, n the Poisson loss function (stockpyl's, through
  ``sizing.ebo``).
* **levels**: marginal analysis per van, as for the centres: from an empty van, add the unit with
  the largest gain in expected demands met from the van, P(D >= S + 1), per CNY of the part's
  cost, until the van's demand-weighted fill reaches ``fill_target`` or the van holds
  ``max_units`` (its parts box). What the van does not meet falls back on its centre's shelf.

stockpyl's single-node models (newsvendor, (r, Q), (s, S)) size one item for a cost or a
service level; a van is a box shared by many parts with one fill target over them, so the
allocation across parts is ours and only the loss function is stockpyl's.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from dispatch.dataset import Dataset
from dispatch.model import FIELD_ROLE, WEEKDAYS, Mode, Technician
from dispatch.parts.sizing import calendar_days, ebo, part_asks
from dispatch.parts.stock import StockLevels, is_van, van
from dispatch.parts.world import intake_route
from dispatch.rules import DEFAULT_RULES, EXCHANGE, REFUND, Rules


@dataclass(frozen=True)
class VanParams:
    fill_target: float = 0.60  # a van's demand-weighted fill; the centre's shelf meets the rest
    max_units: int = 12  # units a van's parts box holds
    refill_shifts: int = 1  # shifts between refills (nightly at the centre: one)


@dataclass(frozen=True)
class VanSizing:
    levels: dict[tuple[str, str], int]  # (van:<technician>, part) -> level
    table: pd.DataFrame  # technician_id, centre_id, part, demand_per_shift, level, fill, value_cny
    vans: pd.DataFrame  # technician_id, centre_id, demand_per_shift, units, fill, value_cny
    fill: float  # demand-weighted over every van
    value_cny: float


def van_fill(level: int, mean: float) -> float:
    """Share of a refill interval's Poisson(``mean``) demands met from a van that starts it with
    ``level`` units: 1 - n(level) / mean."""
    return 1.0 - ebo(level, mean) / mean if mean > 0 else 1.0


def on_shift(t: Technician) -> float:
    """The share of days a technician is on shift (a weekly rest day: 6 in 7)."""
    return 1.0 if t.rest_weekday is None else (WEEKDAYS - 1) / WEEKDAYS


def can_do(t: Technician, level: int, product_line: str) -> bool:
    return t.max_level >= level and (not t.product_lines or product_line in t.product_lines)


def served_by(events: pd.DataFrame) -> dict[str, str]:
    """Request id -> the technician first dispatched to it, from a simulation's event log."""
    went = events[events["event"] == "dispatched"]
    return {str(k): str(v) for k, v in went.groupby("request_id")["where"].first().items()}


def van_demand(dataset: Dataset, rules: Rules = DEFAULT_RULES,
               served: Mapping[str, str] | None = None) -> dict[tuple[str, str], float]:
    """Expected part demands per shift of each field technician's van (module docstring)."""
    crew: dict[str, list[Technician]] = defaultdict(list)
    field = {}
    for t in dataset.technicians:
        if t.role == FIELD_ROLE:
            crew[t.home_centre_id].append(t)
            field[t.id] = t
    days = calendar_days(dataset)
    out: dict[tuple[str, str], float] = defaultdict(float)
    for r, station, _, part, p in part_asks(dataset, rules):
        if r.mode != Mode.ONSITE or r.level > rules.onsite_max_level \
                or intake_route(r, rules)[0] in (EXCHANGE, REFUND):
            continue
        went = field.get((served or {}).get(r.id, ""))
        if went is not None:
            out[went.id, part] += p / (days * on_shift(went))
            continue
        who = [t for t in crew.get(station.id, ()) if can_do(t, r.level, r.product_line)]
        shifts = sum(on_shift(t) for t in who)
        for t in who:
            out[t.id, part] += p / days / shifts
    return dict(out)


def load_van(mean: dict[str, float], cost: dict[str, float], params: VanParams) -> dict[str, int]:
    """One van's levels (module docstring): ``mean``, each part's demand over a refill interval."""
    level = dict.fromkeys(mean, 0)
    total, met, units = sum(mean.values()), 0.0, 0

    def gain(p: str) -> float:  # P(D >= S + 1) = E[min(D, S + 1)] - E[min(D, S)]
        return (van_fill(level[p] + 1, mean[p]) - van_fill(level[p], mean[p])) * mean[p]

    heap = [(-gain(p) / cost[p], p) for p in mean]
    heapq.heapify(heap)
    while heap and met < params.fill_target * total and units < params.max_units:
        _, p = heapq.heappop(heap)
        met += gain(p)
        level[p] += 1
        units += 1
        heapq.heappush(heap, (-gain(p) / cost[p], p))
    return level


def size_vans(dataset: Dataset, params: VanParams = VanParams(), rules: Rules = DEFAULT_RULES,
              served: Mapping[str, str] | None = None) -> VanSizing:
    """Each field technician's van levels for ``params.fill_target`` (module docstring)."""
    cat = dataset.parts.catalogue  # type: ignore[union-attr]  # part_asks raises without parts
    demand = van_demand(dataset, rules, served)
    home = {t.id: t.home_centre_id for t in dataset.technicians}
    by_van: dict[str, list[str]] = defaultdict(list)
    for tid, part in sorted(demand):
        by_van[tid].append(part)
    levels: dict[tuple[str, str], int] = {}
    rows, vans = [], []
    for tid, parts in by_van.items():
        mean = {p: demand[tid, p] * params.refill_shifts for p in parts}
        total = sum(mean.values())
        level = load_van(mean, {p: cat.part(p).cost_cny for p in parts}, params)
        met = sum(van_fill(level[p], mean[p]) * mean[p] for p in parts)  # sum of E[min(D, S)]
        units = sum(level.values())
        value = 0.0
        for p in parts:
            cost = level[p] * cat.part(p).cost_cny
            value += cost
            rows.append({"technician_id": tid, "centre_id": home[tid], "part": p,
                         "demand_per_shift": demand[tid, p], "level": level[p],
                         "fill": van_fill(level[p], mean[p]), "value_cny": cost})
            if level[p]:
                levels[van(tid), p] = level[p]
        vans.append({"technician_id": tid, "centre_id": home[tid], "demand_per_shift": total / params.refill_shifts,
                     "units": units, "fill": met / total if total else 1.0, "value_cny": value})
    table = pd.DataFrame(rows, columns=["technician_id", "centre_id", "part", "demand_per_shift", "level", "fill",
                                        "value_cny"])
    per_van = pd.DataFrame(vans, columns=["technician_id", "centre_id", "demand_per_shift", "units", "fill",
                                          "value_cny"])
    weight = per_van["demand_per_shift"]
    fill = float((per_van["fill"] * weight).sum() / weight.sum()) if len(per_van) and weight.sum() else float("nan")
    return VanSizing(levels, table, per_van, fill, float(table["value_cny"].sum()))


def with_vans(levels: StockLevels, vans: dict[tuple[str, str], int]) -> StockLevels:
    """``levels`` with every van's stock replaced by ``vans`` (the centres' and warehouse's kept)."""
    kept = {k: s for k, s in levels.levels.items() if not is_van(k[0])}
    return StockLevels({**kept, **vans}, levels.factory_lead_s)
