"""What-if scenarios: named sets of changes to a base network and roster, applied purely.

A scenario never mutates its base: ``apply`` returns a new ``Dataset`` plus warnings. Changes:

* ``close``: station ids to close; their technicians move to the parent centre and their child
  stations are re-attached to the parent (both reported as warnings);
* ``open``: new stations ``{id, tier, lon, lat, parent_id[, name, levels, bench_hours_per_day]}``
  (defaults from the tier's parameters);
* ``move``: ``{technician_id: centre_id}``;
* ``add``: ``[{centre_id, count[, max_level]}]`` technicians cloned from the centre's staff;
* ``remove``: ``[{centre_id, count}]``;
* ``capabilities``: ``{tier: [levels]}``; ``bench_hours``: ``{tier or centre id: hours}``;
  ``courier_h``: ``{tier: hours}``; ``demand_growth``: ``{province adcode: factor}``;
  ``dispatch_target_min``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dispatch.errors import DispatchError
from dispatch.model import Centre, Dataset, Technician, Tier, TimeWindow
from dispatch.network import Network
from dispatch.synthetic import DEFAULT_TIERS


@dataclass(frozen=True)
class Scenario:
    name: str
    close: tuple[str, ...] = ()
    open: tuple[dict[str, Any], ...] = ()
    move: tuple[tuple[str, str], ...] = ()
    add: tuple[dict[str, Any], ...] = ()
    remove: tuple[dict[str, Any], ...] = ()
    capabilities: tuple[tuple[int, tuple[int, ...]], ...] = ()
    bench_hours: tuple[tuple[str, float], ...] = ()
    courier_h: tuple[tuple[int, float], ...] = ()
    demand_growth: tuple[tuple[str, float], ...] = ()
    dispatch_target_min: int | None = None
    description: str = ""

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Scenario:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise DispatchError(f"scenario: unknown change(s) {unknown}; expected some of {sorted(known)}")
        if not doc.get("name"):
            raise DispatchError("scenario: 'name' is required")

        def pairs(v, key=str, val=lambda x: x):
            return tuple((key(k), val(x)) for k, x in (v or {}).items())

        return cls(
            name=str(doc["name"]),
            close=tuple(doc.get("close", ())),
            open=tuple(doc.get("open", ())),
            move=pairs(doc.get("move")),
            add=tuple(doc.get("add", ())),
            remove=tuple(doc.get("remove", ())),
            capabilities=pairs(doc.get("capabilities"), int, lambda x: tuple(int(v) for v in x)),
            bench_hours=pairs(doc.get("bench_hours"), str, float),
            courier_h=pairs(doc.get("courier_h"), int, float),
            demand_growth=pairs(doc.get("demand_growth"), str, float),
            dispatch_target_min=doc.get("dispatch_target_min"),
            description=str(doc.get("description", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "close": list(self.close),
            "open": list(self.open), "move": dict(self.move), "add": list(self.add), "remove": list(self.remove),
            "capabilities": {str(k): list(v) for k, v in self.capabilities},
            "bench_hours": dict(self.bench_hours), "courier_h": {str(k): v for k, v in self.courier_h},
            "demand_growth": dict(self.demand_growth), "dispatch_target_min": self.dispatch_target_min,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Applied:
    dataset: Dataset
    warnings: tuple[str, ...] = field(default_factory=tuple)
    dispatch_target_s: int = 3600


def apply(base: Dataset, scenario: Scenario, seed: int = 0) -> Applied:
    """The base with the scenario's changes; raises on changes that cannot apply."""
    warnings: list[str] = []
    centres = {c.id: c for c in base.network}
    techs = list(base.technicians)
    errors: list[str] = []

    for cid in scenario.close:
        if cid not in centres:
            errors.append(f"close: unknown station id {cid!r}")
    if errors:
        raise DispatchError("; ".join(errors))

    # Capabilities, bench hours and courier times by tier (or centre) first.
    caps = dict(scenario.capabilities)
    courier = dict(scenario.courier_h)
    bench = dict(scenario.bench_hours)
    for k in bench:
        if not (k in centres or k.isdigit() and int(k) in (1, 2, 3)):
            errors.append(f"bench_hours: {k!r} is neither a tier (1, 2, 3) nor a centre id")
        elif bench[k] < 0:
            errors.append(f"bench_hours: {k!r} = {bench[k]} is negative; expected hours >= 0")
    for tier, levels in caps.items():
        if tier not in (1, 2, 3) or not levels or not set(levels) <= {1, 2, 3}:
            errors.append(f"capabilities: tier {tier} -> {list(levels)}; expected tier 1-3 and levels among 1, 2, 3")
    if errors:
        raise DispatchError("; ".join(errors))
    for cid, c in list(centres.items()):
        changes: dict[str, Any] = {}
        if int(c.tier) in caps:
            changes["levels"] = frozenset(caps[int(c.tier)])
        if str(int(c.tier)) in bench:
            changes["bench_hours_per_day"] = bench[str(int(c.tier))]
        if cid in bench:
            changes["bench_hours_per_day"] = bench[cid]
        if int(c.tier) in courier and c.parent_id is not None:
            changes["courier_to_parent_s"] = int(round(courier[int(c.tier)] * 3600))
        if changes:
            centres[cid] = replace(c, **changes)

    # Open new stations.
    for spec in scenario.open:
        try:
            tier = Tier(int(spec["tier"]))
            tp = DEFAULT_TIERS[tier]
            cid = str(spec["id"])
            if cid in centres:
                raise DispatchError(f"open: station id {cid!r} already exists")
            parent = spec.get("parent_id")
            if parent is not None and parent not in centres:
                raise DispatchError(f"open: station {cid!r} has unknown parent_id {parent!r}")
            pc = centres[parent] if parent else None
            centres[cid] = Centre(
                id=cid, name=str(spec.get("name", cid)), tier=tier, lon=float(spec["lon"]), lat=float(spec["lat"]),
                parent_id=parent, levels=frozenset(spec.get("levels", caps.get(int(tier), tp.levels))),
                bench_hours_per_day=float(spec.get("bench_hours_per_day", tp.bench_hours_per_day)),
                opening=TimeWindow(int(tp.open_h * 3600), int(tp.close_h * 3600)),
                courier_to_parent_s=0 if parent is None else int(round(courier.get(int(tier), tp.courier_to_parent_h) * 3600)),
                province_adcode=str(spec.get("province_adcode", pc.province_adcode if pc else "")),
                prefecture_adcode=str(spec.get("prefecture_adcode", pc.prefecture_adcode if pc and pc.tier != Tier.PROVINCE else "")),
                county_adcode=str(spec.get("county_adcode", "")),
            )
        except KeyError as exc:
            raise DispatchError(f"open: station spec {spec!r} lacks {exc.args[0]!r}") from None

    # Close stations: staff to the parent, children re-attached to the parent.
    for cid in scenario.close:
        c = centres.pop(cid)
        if c.parent_id is None:
            raise DispatchError(f"close: {cid!r} is a tier-1 centre; close its children or move its staff instead")
        moved = [t for t in techs if t.home_centre_id == cid]
        techs = [replace(t, home_centre_id=c.parent_id) if t.home_centre_id == cid else t for t in techs]
        kids = [k.id for k in centres.values() if k.parent_id == cid]
        for k in kids:
            centres[k] = replace(centres[k], parent_id=c.parent_id)
        if moved:
            warnings.append(f"closing {cid}: its {len(moved)} technician(s) move to {c.parent_id}")
        if kids:
            warnings.append(f"closing {cid}: {len(kids)} station(s) now report to {c.parent_id}")

    # Technicians: move, add, remove.
    by_id = {t.id: t for t in techs}
    for tid, cid in scenario.move:
        if tid not in by_id:
            errors.append(f"move: unknown technician id {tid!r}")
        elif cid not in centres:
            errors.append(f"move: technician {tid!r} to unknown centre {cid!r}")
        else:
            by_id[tid] = replace(by_id[tid], home_centre_id=cid)
    for spec in scenario.add:
        cid, count = spec.get("centre_id"), int(spec.get("count", 0))
        if cid not in centres:
            errors.append(f"add: unknown centre id {cid!r}")
            continue
        if count < 0:
            errors.append(f"add: count {count} for {cid!r} is negative; use 'remove' to take technicians away")
            continue
        template = next((t for t in by_id.values() if t.home_centre_id == cid), None)
        for k in range(count):
            tid = f"T{cid}-add{k + 1:02d}"
            if template is None:
                new = Technician(tid, cid, int(spec.get("max_level", max(centres[cid].levels) if centres[cid].tier != Tier.COUNTY else 1)),
                                 TimeWindow(8 * 3600, 17 * 3600), TimeWindow(11 * 3600 + 1800, 13 * 3600 + 1800), 2700)
            else:
                new = replace(template, id=tid, name=f"added technician {k + 1}",
                              max_level=int(spec.get("max_level", template.max_level)))
            by_id[tid] = new
    for spec in scenario.remove:
        cid, count = spec.get("centre_id"), int(spec.get("count", 0))
        if cid not in centres:
            errors.append(f"remove: unknown centre id {cid!r}")
            continue
        if count < 0:
            errors.append(f"remove: count {count} for {cid!r} is negative; expected >= 0")
            continue
        staff = sorted(t.id for t in by_id.values() if t.home_centre_id == cid)
        if count > len(staff):
            warnings.append(f"remove: {cid} has only {len(staff)} technician(s); all removed")
        for tid in staff[len(staff) - min(count, len(staff)):]:
            del by_id[tid]
    if errors:
        raise DispatchError("; ".join(errors))

    network = Network(tuple(centres.values()))
    techs_out = tuple(by_id.values())

    # Demand growth: thin or duplicate calls by province (seeded, so comparisons are fair).
    requests = list(base.requests)
    growth = dict(scenario.demand_growth)
    if growth:
        rng = np.random.default_rng([seed, 99])
        out = []
        for r in requests:
            f = growth.get(r.county_adcode[:2] + "0000", 1.0)
            if f < 0:
                raise DispatchError(f"demand_growth: factor {f} is negative; expected >= 0")
            copies = int(f) + (1 if rng.random() < f - int(f) else 0)
            out += [r] + [replace(r, id=f"{r.id}-g{k}") for k in range(1, copies)] if copies else []
        requests = out

    # Warn when a province is left without a centre able to repair some level.
    provinces = {c.province_adcode for c in base.network}
    for prov in sorted(provinces):
        levels = set().union(*[c.levels for c in network if c.province_adcode == prov] or [set()])
        missing = {1, 2, 3} - levels
        if missing:
            warnings.append(f"province {prov} has no centre able to repair level(s) {sorted(missing)}")
    staffed = Counter(t.home_centre_id for t in techs_out)
    for c in network:
        if c.tier == Tier.COUNTY and not staffed.get(c.id):
            warnings.append(f"station {c.id} has no technician")
    target = int(scenario.dispatch_target_min * 60) if scenario.dispatch_target_min else 3600
    ds = Dataset(network, techs_out, tuple(requests), base.epoch_date,
                 base.meta + (("scenario", scenario.name),))
    return Applied(ds, tuple(warnings), target)
