"""Stock sized for a within-24 h share (``dispatch stock size --target-24h``), and the loaners a
station needs for a swap threshold.

A fill rate is not what the customer feels: a part at first pick at a provincial lab still
leaves its phone days away. So the 24 h share a stock buys is estimated from a simulation of the
sizing's own calls (its forecast seed) with a starting stock, the calibration: per tier of the
centre that asked for the part, the share within 24 h of the calls that found it at first pick
(``p_hit``) and of those that waited for it (``p_miss``). With centre levels S each key k
(centre, part) meets its demand D_k at first pick with METRIC's fill f_k(S)
(``dispatch.parts.sizing``), so the calls needing a part are within 24 h with

    share_parts(S) = sum_k D_k [f_k(S) p_hit(t_k) + (1 - f_k(S)) p_miss(t_k)] / sum_k D_k

and the whole population with ``phi share_parts(S) + (1 - phi) share_other`` (phi: the share of
calls needing a part; ``share_other``: the simulated share of the others, which stock does not
move). Marginal analysis (``sizing.marginal``) adds the unit with the largest gain
D_k delta-f_k (p_hit - p_miss) per CNY until the estimate reaches the target, or comes within
0.1 pt of its ceiling (every part at first pick), past which stock buys nothing it can see. The estimate is analytic on a simulated
calibration; what a stock really buys is simulated on other seeds' calls (the command's
``--simulate``), never this estimate.

Loaners (备用机): a phone whose repair would keep its customer past ``Rules.swap_after_s`` gets
one where the station has it (``dispatch.parts.sim``). A station's level is the least with
P(loans out <= level - 1) >= ``fill``, the loans out being Poisson with mean (calls a day over the
threshold there) x (days a loan lasts: the call's turnaround less the threshold), both from the
calibration run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from dispatch.model import DAY_S
from dispatch.parts.catalogue import LOANER
from dispatch.parts.measure import FIRST_PICK
from dispatch.parts.sizing import Echelon, item_fill, marginal, smallest_level
from dispatch.parts.stock import StockLevels

WITHIN_S = 24 * 3600
CLOSE_TO_CEILING = 0.001  # an estimate this near the ceiling buys no more stock


@dataclass(frozen=True)
class Calibration:
    p_hit: dict[int, float]  # tier -> within-24 h share of first-pick calls
    p_miss: dict[int, float]  # tier -> ... of calls that waited for their part
    phi: float  # share of the calls (all, served or not) needing a part
    share_other: float  # within-24 h share of the calls needing none
    table: pd.DataFrame  # tier, calls, first_pick, p_hit, p_miss


def calibrate(outcomes: pd.DataFrame) -> Calibration:
    """The 24 h shares of a parts run's calls by tier and whether their part was at first pick.
    Every call counts (one not completed is not within 24 h)."""
    o = outcomes
    within = (o["completion_s"] - o["created_s"]).le(WITHIN_S).fillna(False)
    needs = o["part_id"].fillna("").astype(str) != ""
    hit = o["part_source"].isin(FIRST_PICK)
    rows, p_hit, p_miss = [], {}, {}
    overall_hit = float(within[needs & hit].mean()) if (needs & hit).any() else 0.0
    overall_miss = float(within[needs & ~hit].mean()) if (needs & ~hit).any() else 0.0
    for tier, g in o[needs].groupby("part_tier"):
        w = within[g.index]
        h = g["part_source"].isin(FIRST_PICK)
        p_hit[int(tier)] = float(w[h].mean()) if h.any() else overall_hit
        p_miss[int(tier)] = float(w[~h].mean()) if (~h).any() else overall_miss
        rows.append({"tier": int(tier), "calls": len(g), "first_pick": int(h.sum()),
                     "p_hit": p_hit[int(tier)], "p_miss": p_miss[int(tier)]})
    n = len(o)
    return Calibration(p_hit, p_miss, float(needs.sum()) / n if n else 0.0,
                       float(within[~needs].mean()) if (~needs).any() else 0.0,
                       pd.DataFrame(rows, columns=["tier", "calls", "first_pick", "p_hit", "p_miss"]))


@dataclass(frozen=True)
class Target24:
    level: dict[tuple[str, str], int]  # centre levels reaching the target, or the ceiling's
    estimate: float  # the estimated within-24 h share with them
    ceiling: float  # ... with every part at first pick
    reached: bool
    value_cny: float  # centre stock value at cost (the warehouse's is the sizing's, apart)
    path: pd.DataFrame  # value_cny, estimate: the curve the marginal analysis walks
    checkpoints: list[tuple[float, float, dict[tuple[str, str], int]]]  # (value, estimate, levels)


def size_for_24h(problem: Echelon, tiers: Mapping[str, int], cal: Calibration, target: float,
                 checkpoints: tuple[float, ...] = (), max_level: int = 50) -> Target24:
    """Centre levels for a within-24 h share of ``target`` (module docstring); ``tiers``: centre
    -> tier. ``checkpoints``: estimated shares at which to keep the levels (a curve's points)."""
    demand = problem.demand
    total = sum(demand.values())

    def lift(k: tuple[str, str]) -> float:
        t = tiers[k[0]]
        return max(cal.p_hit.get(t, 0.0) - cal.p_miss.get(t, 0.0), 0.0)

    def whole(parts_share: float) -> float:
        return cal.phi * parts_share + (1 - cal.phi) * cal.share_other

    base = sum(d * cal.p_miss.get(tiers[k[0]], 0.0) for k, d in demand.items())  # nothing at first pick
    met = sum(d * item_fill(0, problem.mean[k]) * lift(k) for k, d in demand.items())
    ceiling = whole((base + sum(d * lift(k) for k, d in demand.items())) / total) if total else math.nan
    value, level = 0.0, dict.fromkeys(demand, 0)
    path = [(0.0, whole((base + met) / total) if total else math.nan)]
    marks = sorted(checkpoints)
    kept: list[tuple[float, float, dict[tuple[str, str], int]]] = []
    reached = bool(total) and path[0][1] >= target
    if total and not reached:
        for k, got, now in marginal(problem, lift, max_level):
            met, value, level = met + got, value + problem.cost[k], now
            est = whole((base + met) / total)
            path.append((value, est))
            while marks and est >= marks[0]:
                kept.append((value, est, dict(now)))
                marks.pop(0)
            if est >= target:
                reached = True
                break
            if est >= ceiling - CLOSE_TO_CEILING:  # what is left to gain is noise: stop buying
                break
    est = path[-1][1]
    return Target24(dict(level), est, ceiling, reached, value, pd.DataFrame(path, columns=["value_cny", "estimate"]),
                    kept)


def loaner_levels(outcomes: pd.DataFrame, swap_after_s: int, fill: float = 0.9) -> StockLevels:
    """Loaners per station for swaps past ``swap_after_s`` (module docstring), from a run's
    outcomes (its calls' stations and turnarounds); phones only (calls with a part or a 三包 rule)."""
    o = outcomes[outcomes["completion_s"].notna()]
    phones = (o["part_id"].fillna("").astype(str) != "") | (o["sanbao_rule"].fillna("").astype(str) != "")
    o = o[phones]
    days = max(1, int(o["created_s"].floordiv(DAY_S).nunique()))
    long = o[(o["completion_s"] - o["created_s"]) > swap_after_s]
    levels: dict[tuple[str, str], int] = {}
    for station, g in long.groupby("centre_id"):
        loan_days = float((g["completion_s"] - g["created_s"] - swap_after_s).mean()) / DAY_S
        s = smallest_level(len(g) / days * max(loan_days, 0.1), fill)
        if s:
            levels[str(station), LOANER] = s
    return StockLevels(levels)
