"""Stock sizing (``dispatch stock size``): base-stock levels per part and centre that reach a
fill-rate target at the least holding cost, over the two-echelon network (centres replenished
one-for-one from the national warehouse, the warehouse from the factory).

The model is Sherbrooke's METRIC with marginal analysis:

* demand of a part at a centre is Poisson with the rate the dataset's calls imply (each call's
  device model and level through the recipes, at the centre where the job asks for the part:
  the nearest centre for an on-site repair, else the lowest centre of its escalation chain that
  can repair the level; a 三包 exchange asks for the handset at its station);
* the national warehouse, facing the sum of the centres' demand over the factory's lead time,
  gets the least level with its own fill rate >= ``national_fill``; its expected backorders
  EBO0 (Poisson loss function) delay each of its shipments by EBO0 / demand (Little's law);
* a centre's lead time is its lane from the warehouse (next-morning or standard, a parcel ready
  at noon) plus that delay; its item fill rate with level S is P(D_L <= S - 1) (one-for-one);
* marginal analysis: starting from nothing, add the unit with the largest gain in
  demand-weighted fill per CNY of holding cost until the network's fill reaches the target.

``stockpyl`` gives the textbook single-node pieces (its Poisson loss function is the EBO here);
the two-echelon METRIC coupling, the lane lead times and the marginal allocation across parts
and centres are ours: stockpyl's multi-echelon models (GSM, SSM serial) are for guaranteed-service
or serial chains, not a distribution network of repairables with fill-rate targets. Vans and
loaners keep the levels they have.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import poisson

from dispatch.dataset import Dataset
from dispatch.model import DAY_S, Centre, Mode, Request
from dispatch.parts.catalogue import LOANER
from dispatch.parts.lanes import Lanes, points_of
from dispatch.parts.stock import NATIONAL, StockLevels, is_van
from dispatch.parts.world import intake_route
from dispatch.rules import DEFAULT_RULES, EXCHANGE, Rules
from dispatch.travel import DEFAULT_TRAVEL, Travel


@dataclass(frozen=True)
class SizingParams:
    fill_target: float = 0.90  # demand-weighted first-pick fill over every centre and part
    national_fill: float = 0.95
    holding_rate_per_year: float = 0.25  # of a part's cost: capital, obsolescence, space
    max_level: int = 50  # per centre and part: a guard


@dataclass(frozen=True)
class Sizing:
    levels: StockLevels
    table: pd.DataFrame  # location, part, demand_per_day, lead_days, level, fill, ebo, value_cny
    fill: float  # the network's demand-weighted fill
    value_cny: float  # stock value at cost, centres and warehouse
    holding_cny_per_year: float


def ebo(level: int, mean: float) -> float:
    """Expected backorders of a one-for-one location at ``level`` with Poisson(``mean``) lead-time
    demand: the Poisson loss function n(S) (stockpyl)."""
    # stockpyl takes 1.7 s to import: only a sizing needs it.
    from stockpyl.loss_functions import poisson_loss

    return float(poisson_loss(int(level), float(mean))[0])


def item_fill(level: int, mean: float) -> float:
    """P(lead-time demand <= level - 1): the share of demands met from the shelf."""
    return float(poisson.cdf(level - 1, mean)) if level > 0 else 0.0


def smallest_level(mean: float, fill: float, cap: int = 10_000) -> int:
    """The least base-stock level with item fill >= ``fill`` (a single echelon)."""
    s = 0
    while item_fill(s, mean) < fill and s < cap:
        s += 1
    return s


def part_asks(dataset: Dataset, rules: Rules = DEFAULT_RULES) -> Iterator[tuple[Request, Centre, Centre, str, float]]:
    """Every expected part ask of the dataset's calls (module docstring): (call, its station,
    the centre where the job asks for the part, the part, the probability it is needed)."""
    parts = dataset.parts
    if parts is None:
        raise ValueError("the dataset has no parts")
    net, cat = dataset.network, parts.catalogue
    reqs = [r for r in dataset.requests if r.device_model]
    if not reqs:
        return
    near = np.atleast_1d(net.nearest(np.array([r.lon for r in reqs]), np.array([r.lat for r in reqs]))[0])
    for r, j in zip(reqs, near):
        station = net.centres[int(j)]
        if intake_route(r, rules)[0] == EXCHANGE:
            handset = cat.handset(r.device_model)
            if handset:
                yield r, station, station, handset, 1.0
            continue
        if r.mode == Mode.ONSITE and r.level <= rules.onsite_max_level:
            where = station
        else:
            where = next((c for c in net.chain(station.id) if c.can_repair(r.level)), station)
        for rec in cat.recipes_for(r.device_model, r.level):
            yield r, station, where, rec.part_id, rec.p


def calendar_days(dataset: Dataset) -> int:
    """The days the dataset's calls span (at least 1): what a day's demand is averaged over."""
    return max(1, len({r.created_s // DAY_S for r in dataset.requests}))


def demand_per_day(dataset: Dataset, rules: Rules = DEFAULT_RULES) -> dict[tuple[str, str], float]:
    """Expected parts a day of the dataset's calls asks for, per (centre, part) (module docstring)."""
    days = calendar_days(dataset)
    out: dict[tuple[str, str], float] = defaultdict(float)
    for _, _, where, part, p in part_asks(dataset, rules):
        out[where.id, part] += p / days
    return dict(out)


@dataclass(frozen=True)
class Echelon:
    """The two-echelon problem a sizing solves: per (centre, part) key its demand per day, its
    lead-time demand mean (lane + the warehouse's delay) and unit cost; the warehouse's levels."""

    demand: dict[tuple[str, str], float]
    mean: dict[tuple[str, str], float]
    lead_days: dict[tuple[str, str], float]
    cost: dict[tuple[str, str], float]
    national: dict[str, int]
    national_demand: dict[str, float]
    factory_days: float


def echelon(dataset: Dataset, params: SizingParams = SizingParams(), travel: Travel = DEFAULT_TRAVEL,
            rules: Rules = DEFAULT_RULES) -> Echelon:
    """The sizing problem of ``dataset`` (module docstring): demand, lead times and the warehouse."""
    parts = dataset.parts
    if parts is None:
        raise ValueError("the dataset has no parts")
    cat, net = parts.catalogue, dataset.network
    demand = demand_per_day(dataset, rules)
    factory_days = parts.levels.factory_lead_s / DAY_S
    by_part: dict[str, float] = defaultdict(float)
    for (_, p), lam in demand.items():
        by_part[p] += lam
    national = {p: smallest_level(lam * factory_days, params.national_fill) for p, lam in by_part.items()}
    delay = {p: ebo(national[p], by_part[p] * factory_days) / by_part[p] for p in by_part if by_part[p] > 0}
    lanes = Lanes(points_of(tuple(net), parts.national), travel, parts.lane_params, parts.lane_table)
    lead = {}
    for cid in {c for c, _ in demand}:
        s = lanes.ship(NATIONAL, cid, 12 * 3600)
        lead[cid] = (s.eta_s - 12 * 3600) / DAY_S
    keys = sorted(demand)
    lead_days = {k: lead[k[0]] + delay.get(k[1], 0.0) for k in keys}
    return Echelon({k: demand[k] for k in keys}, {k: demand[k] * lead_days[k] for k in keys}, lead_days,
                   {k: cat.part(k[1]).cost_cny for k in keys}, national, dict(by_part), factory_days)


def marginal(problem: Echelon, weight: Callable[[tuple[str, str]], float], max_level: int = 50
             ) -> Iterator[tuple[tuple[str, str], float, dict[tuple[str, str], int]]]:
    """Marginal analysis: units one at a time, each where ``demand x weight x fill gained`` per CNY
    is largest (``weight``: what a filled demand is worth there; 1 for the fill rate). Yields
    (the key given a unit, what the unit gained, the levels so far, a live dict) until no unit gains."""
    level = dict.fromkeys(problem.demand, 0)

    def gain(k: tuple[str, str]) -> float:
        s, m = level[k], problem.mean[k]
        return problem.demand[k] * weight(k) * (item_fill(s + 1, m) - item_fill(s, m))

    heap = [(-gain(k) / max(problem.cost[k], 1e-9), k) for k in problem.demand]
    heapq.heapify(heap)
    while heap:
        g, k = heapq.heappop(heap)
        if level[k] >= max_level or -g <= 1e-15:
            continue
        got = gain(k)
        level[k] += 1
        heapq.heappush(heap, (-gain(k) / max(problem.cost[k], 1e-9), k))
        yield k, got, level


def levels_with(dataset: Dataset, problem: Echelon, level: Mapping[tuple[str, str], int]) -> StockLevels:
    """Centre levels ``level`` with the warehouse's, vans and loaners as the dataset has them."""
    parts = dataset.parts
    assert parts is not None
    levels = {(loc, p): s for (loc, p), s in parts.levels.levels.items() if is_van(loc) or p == LOANER}
    levels.update({k: s for k, s in level.items() if s > 0})
    levels.update({(NATIONAL, p): max(s, 1) for p, s in problem.national.items()})
    return StockLevels(levels, parts.levels.factory_lead_s)


def size(dataset: Dataset, params: SizingParams = SizingParams(), travel: Travel = DEFAULT_TRAVEL,
         rules: Rules = DEFAULT_RULES) -> Sizing:
    """Base-stock levels for ``params.fill_target`` at the least holding cost (module docstring)."""
    problem = echelon(dataset, params, travel, rules)
    cat = dataset.parts.catalogue  # type: ignore[union-attr]
    demand, mean, keys = problem.demand, problem.mean, sorted(problem.demand)
    total = sum(demand.values())
    level: dict[tuple[str, str], int] = dict.fromkeys(keys, 0)
    met = 0.0  # demand-weighted fill so far, sum of lambda * fill
    if total and params.fill_target > 0:
        for _, got, now in marginal(problem, lambda k: 1.0, params.max_level):
            met, level = met + got, now
            if met / total >= params.fill_target:
                break
    factory_days = problem.factory_days
    rows = [{"location": k[0], "part": k[1], "demand_per_day": demand[k], "lead_days": problem.lead_days[k],
             "level": level[k], "fill": item_fill(level[k], mean[k]), "ebo": ebo(level[k], mean[k]),
             "value_cny": level[k] * problem.cost[k]} for k in keys]
    rows += [{"location": NATIONAL, "part": p, "demand_per_day": lam, "lead_days": factory_days,
              "level": problem.national[p], "fill": item_fill(problem.national[p], lam * factory_days),
              "ebo": ebo(problem.national[p], lam * factory_days),
              "value_cny": problem.national[p] * cat.part(p).cost_cny} for p, lam in problem.national_demand.items()]
    table = pd.DataFrame(rows, columns=["location", "part", "demand_per_day", "lead_days", "level", "fill", "ebo",
                                        "value_cny"])
    value = float(table["value_cny"].sum())
    return Sizing(levels_with(dataset, problem, level), table,
                  met / total if total else math.nan, value, value * params.holding_rate_per_year)
