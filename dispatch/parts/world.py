"""A dataset's parts: the catalogue, the base-stock levels and the courier lanes' table, and the
device each call carries (``equip``: drawn where the calls do not say).

``default_parts`` builds the documented default for a dataset that has none (``--parts``):

* stock (base-stock levels; design.md: county stations hold fast movers, city centres modules,
  provincial centres boards, the national warehouse everything): a county station the screen
  and battery of the models with >= 8 % of the installed base (1 each); a city centre the
  screens and batteries of every model (2, the four best-sellers 3) and ports and cameras of the
  six best-sellers (1), 2 loaners; a provincial centre every level 1-2 part (2, best-sellers 4),
  mainboards (1) and handsets of the six best-sellers (2), 4 loaners; each field technician's
  van the battery and screen of the three best-sellers (1); the national warehouse
  (Dongguan, where the makers' central warehouses are) 30 days of the dataset's expected demand
  of every part (handsets: the 三包 exchanges), at least 5.
* devices: a phone call's model drawn by market share; its age since purchase exponential with
  a 14-month mean (2 % within 7 days, 3 % within 15); water damage 3 %, drop damage 5 % of calls;
  two failed repairs before 1.5 % of in-warranty calls. Tablets and wearables carry no model
  (the catalogue is phones): they need no part. Reasoned estimates, not a maker's data.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from dispatch.model import DAY_S, Request, Technician, Tier
from dispatch.network import Network
from dispatch.parts.catalogue import HANDSET, LOANER, Catalogue, generate_catalogue, uniform
from dispatch.parts.lanes import Lane, LaneParams
from dispatch.parts.stock import NATIONAL, StockLevels, van
from dispatch.rules import DEFAULT_RULES, EXCHANGE, Rules

NATIONAL_POINT = (113.75, 23.02, "441900")  # Dongguan
PHONE = "phone"


@dataclass(frozen=True)
class PartsData:
    catalogue: Catalogue
    levels: StockLevels
    lane_params: LaneParams = field(default_factory=LaneParams)
    lane_table: Mapping[tuple[str, str], tuple[Lane, ...]] | None = None
    national: tuple[float, float, str] = NATIONAL_POINT


def _ranked(catalogue: Catalogue) -> list[str]:
    return [m.id for m in sorted(catalogue.models, key=lambda m: -m.share)]


def intake_route(r: Request, rules: Rules = DEFAULT_RULES) -> tuple[str, str]:
    """What the 三包 rules (``Rules.sanbao``) decide for a call at intake, and the rule's name."""
    age = None if r.purchase_s is None else (r.created_s - r.purchase_s) / DAY_S
    return rules.sanbao.route(age, r.damage, r.failed_repairs)


def expected_demand(catalogue: Catalogue, requests: tuple[Request, ...], days: int,
                    rules: Rules = DEFAULT_RULES) -> dict[str, float]:
    """Parts a day of these calls is expected to consume: by their models and levels' recipes,
    and a handset for each call the 三包 rules exchange."""
    out: dict[str, float] = defaultdict(float)
    for r in requests:
        handset = catalogue.handset(r.device_model) if r.device_model else None
        if handset and intake_route(r, rules)[0] == EXCHANGE:
            out[handset] += 1 / max(days, 1)
            continue
        for rec in catalogue.recipes_for(r.device_model, r.level):
            out[rec.part_id] += rec.p / max(days, 1)
    return out


def default_levels(catalogue: Catalogue, network: Network, technicians: tuple[Technician, ...],
                   requests: tuple[Request, ...]) -> StockLevels:
    """The default stock (module docstring)."""
    ranked = _ranked(catalogue)
    shares = {m.id: m.share for m in catalogue.models}
    kind = {p.id: (p.kind, p.model_id, p.level) for p in catalogue.parts}
    levels: dict[tuple[str, str], int] = {}
    for pid, (k, mid, level) in kind.items():
        top4, top6 = mid in ranked[:4], mid in ranked[:6]
        for c in network:
            s = 0
            if c.tier == Tier.COUNTY:
                s = int(k in ("screen", "battery") and shares.get(mid, 0) >= 0.08)
            elif c.tier == Tier.CITY:
                s = (3 if top4 else 2) if k in ("screen", "battery") else int(k in ("port", "camera") and top6)
                s = 2 if pid == LOANER else s
            else:
                s = (4 if top4 else 2) if level in (1, 2) else 1 if k == "mainboard" else 0
                s = 2 if k == HANDSET and top6 else 4 if pid == LOANER else s
            if s:
                levels[c.id, pid] = s
    for t in technicians:
        if t.role == "field":
            for mid in ranked[:3]:
                for k in ("battery", "screen"):
                    levels[van(t.id), f"{mid}-{k.upper()}"] = 1
    days = max(1, len({r.created_s // DAY_S for r in requests}))
    demand = expected_demand(catalogue, requests, days)
    for p in catalogue.parts:
        levels[NATIONAL, p.id] = max(5, math.ceil(30 * demand.get(p.id, 0.0)))
    return StockLevels(levels)


def equip(requests: tuple[Request, ...], catalogue: Catalogue, seed: int) -> tuple[Request, ...]:
    """Every phone call with a device model and, where unknown, a purchase date, damage and
    failed repairs drawn once per call (module docstring); calls that say keep what they say."""
    models = [m.id for m in catalogue.models]
    cum, acc = [], 0.0
    total = sum(m.share for m in catalogue.models)
    for m in catalogue.models:
        acc += m.share / total
        cum.append(acc)
    out = []
    for r in requests:
        if r.device_model or (r.product_line and r.product_line != PHONE):
            out.append(r)
            continue
        u = [uniform(seed, "device", r.id, k) for k in ("model", "age", "damage", "failed")]
        model = models[min(next((i for i, c in enumerate(cum) if u[0] < c), len(models) - 1), len(models) - 1)]
        age_s = int(-math.log(1.0 - u[1]) * 14 * 30.4 * DAY_S)
        damage = "water" if u[2] < 0.03 else "drop" if u[2] < 0.08 else ""
        in_warranty = age_s <= 365 * DAY_S
        out.append(replace(r, device_model=model, purchase_s=r.purchase_s if r.purchase_s is not None else r.created_s - age_s,
                           damage=r.damage or damage,
                           failed_repairs=r.failed_repairs or (2 if in_warranty and u[3] < 0.015 else 0)))
    return tuple(out)


def default_parts(network: Network, technicians: tuple[Technician, ...], requests: tuple[Request, ...],
                  seed: int = 0) -> tuple[PartsData, tuple[Request, ...]]:
    """The documented default parts for a dataset without its own, and its calls equipped."""
    catalogue = generate_catalogue()
    equipped = equip(requests, catalogue, seed)
    return PartsData(catalogue, default_levels(catalogue, network, technicians, equipped)), equipped
