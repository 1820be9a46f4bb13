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
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from dispatch.coverage import coverage_report, demand_for
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.kpis import kpis
from dispatch.model import LEVELS, WEEKDAYS, Centre, Technician, Tier, TimeWindow
from dispatch.network import Network
from dispatch.plan import PlanParams, make_plan
from dispatch.reasons import Reason
from dispatch.rules import DEFAULT_COST_RATES, DEFAULT_RULES, CostRates, Rules
from dispatch.synthetic import DEFAULT_TIERS
from dispatch.travel import DEFAULT_TRAVEL, travel_from_spec


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


def _valid_ids(value: str, known, what: str = "station") -> str:
    """'expected an existing <what> id such as ...' with the nearest spellings first."""
    import difflib

    ids = sorted(map(str, known))
    close = difflib.get_close_matches(str(value), ids, n=3, cutoff=0.6)
    same_kind = [i for i in ids if i[:1] == str(value)[:1]]  # S... for a county station, T... for a technician
    sample = close or same_kind[:3] or ids[:3]
    more = f" ({len(ids)} in all)" if len(ids) > len(sample) else ""
    return f"expected an existing {what} id such as {', '.join(sample)}{more}"


@dataclass(frozen=True)
class Applied:
    dataset: Dataset
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # The rule book the scenario plans under (the base's, with its target if it sets one).
    rules: Rules = DEFAULT_RULES

    @property
    def dispatch_target_s(self) -> int:
        return self.rules.dispatch_target_s


def apply(base: Dataset, scenario: Scenario, seed: int = 0, rules: Rules = DEFAULT_RULES) -> Applied:
    """The base with the scenario's changes; raises on changes that cannot apply."""
    warnings: list[str] = []
    centres = {c.id: c for c in base.network}
    techs = list(base.technicians)
    errors: list[str] = []

    for cid in scenario.close:
        if cid not in centres:
            errors.append(f"close: unknown station id {cid!r}; {_valid_ids(cid, centres)}")
    growth = dict(scenario.demand_growth)
    provinces = {c.province_adcode for c in base.network}
    for prov, f in growth.items():
        if prov not in provinces:
            errors.append(f"demand_growth: {prov!r} is not a province of this network; expected one of "
                          f"{', '.join(sorted(provinces))}")
        if not f >= 0:
            errors.append(f"demand_growth: factor {f} for {prov!r} is negative; expected >= 0")
    if scenario.dispatch_target_min is not None and not scenario.dispatch_target_min > 0:
        errors.append(f"dispatch_target_min: {scenario.dispatch_target_min} is not positive; expected minutes > 0")
    if errors:
        raise DispatchError("; ".join(errors))

    # Capabilities, bench hours and courier times by tier (or centre) first.
    caps = dict(scenario.capabilities)
    courier = dict(scenario.courier_h)
    bench = dict(scenario.bench_hours)
    for k in bench:
        if not (k in centres or k.isdigit() and int(k) in tuple(Tier)):
            errors.append(f"bench_hours: {k!r} is neither a tier (1, 2, 3) nor a centre id; {_valid_ids(k, centres)}")
        elif bench[k] < 0:
            errors.append(f"bench_hours: {k!r} = {bench[k]} is negative; expected hours >= 0")
    for tier, hours in courier.items():
        if tier not in (2, 3) or not hours >= 0:
            errors.append(f"courier_h: tier {tier} -> {hours}; expected tier 2 or 3 and hours >= 0")
    for tier, levels in caps.items():
        if tier not in tuple(Tier) or not levels or not set(levels) <= set(LEVELS):
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
        except (TypeError, ValueError) as exc:
            raise DispatchError(f"open: station spec {spec!r} is invalid ({exc}); expected tier 1-3 and "
                                "numeric lon/lat") from None

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
            errors.append(f"move: unknown technician id {tid!r}; {_valid_ids(tid, by_id, 'technician')}")
        elif cid not in centres:
            errors.append(f"move: technician {tid!r} to unknown centre {cid!r}; {_valid_ids(cid, centres)}")
        else:
            by_id[tid] = replace(by_id[tid], home_centre_id=cid)
    for spec in scenario.add:
        cid, count = spec.get("centre_id"), int(spec.get("count", 0))
        if cid not in centres:
            errors.append(f"add: unknown centre id {cid!r}; {_valid_ids(str(cid), centres)}")
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
            errors.append(f"remove: unknown centre id {cid!r}; {_valid_ids(str(cid), centres)}")
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
    for prov in sorted(provinces):
        levels = set().union(*[c.levels for c in network if c.province_adcode == prov] or [set()])
        missing = set(LEVELS) - levels
        if missing:
            warnings.append(f"province {prov} has no centre able to repair level(s) {sorted(missing)}")
    staffed = Counter(t.home_centre_id for t in techs_out)
    for c in network:
        if c.tier == Tier.COUNTY and not staffed.get(c.id):
            warnings.append(f"station {c.id} has no technician")
    if scenario.dispatch_target_min:
        rules = replace(rules, dispatch_target_s=int(scenario.dispatch_target_min * 60))
    ds = Dataset(network, techs_out, tuple(requests), base.epoch_date,
                 base.meta + (("scenario", scenario.name),))
    return Applied(ds, tuple(warnings), rules)


# --------------------------------------------------------------------------------------------
# Comparison: the same engine, the same seeded demand, base and scenarios side by side


@dataclass(frozen=True)
class CostParams:
    """A rough running cost per day (CNY) so scenarios can be ranked on money as well as service.
    Technicians and kilometres at the rule book's rates (``rates``, ``dispatch.rules.CostRates``:
    one place, the same as the KPIs' cost per job): each technician's paid (net shift) hours on
    the days he works, averaged over the week (six days in seven with a weekly rest day), and the
    kilometres a plan drives (plans only). A station's fixed cost per day by tier (rent, bench
    equipment, stock) is this table's own assumption, not accounting."""

    rates: CostRates = DEFAULT_COST_RATES
    centre_day: tuple[float, float, float] = (5000.0, 1500.0, 300.0)  # tier 1, 2, 3

    def technician_day(self, t: Technician) -> float:
        """What a technician costs on an average day of the week."""
        at_work = (WEEKDAYS - 1) / WEEKDAYS if t.rest_weekday is not None else 1.0
        return (t.shift.duration_s - t.break_s) / 3600 * self.rates.technician_cny_per_h * at_work


@dataclass(frozen=True)
class CompareOptions:
    minutes: float = 60.0
    plan: bool = False  # also plan a day (slow: one routing solve per prefecture)
    day: int = 0
    seed: int = 0
    routing_max_s: float | None = None  # cap on routing seconds per area (plans only)
    cost: CostParams = CostParams()
    population: pd.DataFrame | None = field(default=None, compare=False, hash=False)
    travel: str | None = None  # a dispatch.travel spec (picklable for the sweep's workers); None: DEFAULT_TRAVEL
    # Plans routed to a local optimum, no time budget deciding (PlanParams.deterministic): the same
    # KPIs from any executor and load, as `dispatch bench scaleout` checks.
    deterministic: bool = False


@dataclass(frozen=True)
class Evaluation:
    name: str
    kpis: dict[str, float]
    warnings: tuple[str, ...]
    request_ids: tuple[str, ...]  # the plan's requests (empty without --plan): same demand check


def evaluate(base: Dataset, scenario: Scenario | None, options: CompareOptions = CompareOptions(),
             pool: Executor | None = None, base_request_ids: Sequence[str] | None = None) -> Evaluation:
    """Coverage (and optionally a day plan) of the base or of one scenario applied to it.

    ``base_request_ids``: the requests the base plan answered for on the day. The plan picks a
    day's calls by the opening hours of the nearest centre, so closing a station can move an
    evening call to tomorrow; such a call is put back into the scenario's outcomes as not served
    ("next_day") so base and scenario KPIs are computed over the same calls.

    A top-level function of picklable arguments, so a sweep can send it to a process pool or Dask."""
    if scenario is None:
        applied = Applied(base)
        name = "base"
    else:
        applied = apply(base, scenario, seed=options.seed)
        name = scenario.name
    ds = applied.dataset
    net = ds.network
    growth = dict(scenario.demand_growth) if scenario is not None else None
    demand = demand_for(net, options.population, growth)
    travel = DEFAULT_TRAVEL if options.travel is None else travel_from_spec(options.travel)
    rep = coverage_report(net, demand, options.minutes, travel)
    nat = rep.table.loc["national"]
    m = int(options.minutes)
    w = demand["weight"].to_numpy(float)
    out: dict[str, float] = {}
    for level in LEVELS:
        out[f"coverage_level{level}_{m}min"] = float(nat[f"level{level}_within_{m}min"])
    for tier in Tier:
        out[f"coverage_tier{tier}_{m}min"] = float(nat[f"tier{tier}_within_{m}min"])
    for level in (2, 3):
        ta = rep.counties[f"level{level}_turnaround_h"].to_numpy(float)
        ok = np.isfinite(ta)
        out[f"est_turnaround_level{level}_h"] = float(np.average(ta[ok], weights=w[ok])) if ok.any() and w[ok].sum() else math.nan
    tiers = net.counts_by_tier()
    out["centres"] = float(len(net))
    for tier in Tier:
        out[f"centres_tier{tier}"] = float(tiers[Tier(tier)])
    out["technicians"] = float(len(ds.technicians))
    cost = options.cost
    out["cost_per_day"] = (sum(cost.technician_day(t) for t in ds.technicians)
                           + sum(tiers[Tier(t)] * cost.centre_day[t - 1] for t in Tier))
    request_ids: tuple[str, ...] = ()
    if options.plan:
        params = PlanParams(day=options.day, seed=options.seed, rules=applied.rules, deterministic=options.deterministic)
        if options.routing_max_s is not None:
            params = replace(params, routing_max_s=options.routing_max_s,
                             routing_min_s=min(params.routing_min_s, options.routing_max_s))
        if base_request_ids is not None:
            # Keep exactly the base's calls (and their demand-growth copies, "<id>-g<k>").
            keep = set(base_request_ids)
            ds = replace(ds, requests=tuple(r for r in ds.requests if re.sub(r"-g\d+$", "", r.id) in keep))
        result = make_plan(ds, params, pool=pool, travel=travel)
        outcomes = _same_calls(result.outcomes, ds, base_request_ids)
        k = kpis(outcomes, result.workload, applied.rules.dispatch_target_s)
        out.update({f"plan_{key}": float(v) for key, v in k.items()})
        km = float(result.workload["distance_m"].sum()) / 1000 if len(result.workload) else 0.0
        out["cost_per_day"] += km * cost.rates.vehicle_cny_per_km
        # The what-if in money as well as hours: the plan's served calls' hours of turnaround at
        # the rule book's yuan value of an hour (CostRates.turnaround_cny_per_h), and with the cost.
        hours = k["served"] * k["turnaround_mean_h"] if k["served"] else 0.0
        out["turnaround_value_cny"] = hours * cost.rates.turnaround_cny_per_h
        out["cost_and_turnaround_cny"] = out["cost_per_day"] + out["turnaround_value_cny"]
        request_ids = tuple(sorted(outcomes["request_id"].astype(str)))
    return Evaluation(name, out, applied.warnings, request_ids)


def _same_calls(outcomes: pd.DataFrame, ds: Dataset, base_ids: Sequence[str] | None) -> pd.DataFrame:
    if base_ids is None:
        return outcomes
    missing = sorted(set(base_ids) - set(outcomes["request_id"].astype(str)))
    if not missing:
        return outcomes
    req = {r.id: r for r in ds.requests}
    rows = [{"request_id": rid, "mode": req[rid].mode.value, "level": req[rid].level,
             "priority": int(req[rid].priority), "province_adcode": req[rid].county_adcode[:2] + "0000",
             "centre_id": "", "created_s": req[rid].created_s, "clock_start_s": req[rid].created_s,
             "dispatch_s": np.nan, "completion_s": np.nan, "repair_tier": np.nan,
             "repair_centre_id": None, "est_turnaround_s": np.nan, "unassigned_reason": Reason.NEXT_DAY}
            for rid in missing if rid in req]
    return pd.concat([outcomes, pd.DataFrame(rows)], ignore_index=True)


def _evaluate_job(base: Dataset, scenario: Scenario | None, options: CompareOptions,
                  base_request_ids: tuple[str, ...] | None) -> Evaluation:
    return evaluate(base, scenario, options, pool=None, base_request_ids=base_request_ids)


@dataclass(frozen=True)
class Comparison:
    """KPIs of each run in columns (base first), and each scenario's delta to the base."""

    table: pd.DataFrame  # index: KPI; columns: run names, then "Δ <name>" for each scenario
    evaluations: tuple[Evaluation, ...]

    @property
    def warnings(self) -> dict[str, tuple[str, ...]]:
        return {e.name: e.warnings for e in self.evaluations}


def compare(base: Dataset, scenarios: Sequence[Scenario], options: CompareOptions = CompareOptions(),
            pool: Executor | None = None, parallel: bool = False,
            progress: Callable[[str, int, int], None] | None = None) -> Comparison:
    """Evaluate the base and every scenario on the same seeded demand.

    ``parallel``: each run is one task in ``pool`` (a sweep); otherwise runs go one after the
    other and ``pool`` parallelises each plan's routing."""
    names = [sc.name for sc in scenarios]
    dupes = sorted({n for n in names if names.count(n) > 1} | ({"base"} & set(names)))
    if dupes:
        raise DispatchError(f"scenario names must be unique and not 'base'; repeated: {dupes}")
    report = progress or (lambda stage, done, total: None)
    runs: list[Scenario | None] = [None, *scenarios]
    results: dict[int, Evaluation] = {}
    report("scenarios", 0, len(runs))
    # The base runs first: its day's calls are the demand every scenario is measured on.
    results[0] = evaluate(base, None, options, None if parallel else pool)
    ids = results[0].request_ids if options.plan else None
    report("scenarios", 1, len(runs))
    if parallel and pool is not None:
        futures = {pool.submit(_evaluate_job, base, sc, options, ids): k for k, sc in enumerate(runs) if k}
        for n, fut in enumerate(as_completed(futures)):
            results[futures[fut]] = fut.result()
            report("scenarios", n + 2, len(runs))
    else:
        for k, sc in enumerate(runs[1:], start=1):
            results[k] = evaluate(base, sc, options, pool, ids)
            report("scenarios", k + 1, len(runs))
    evals = tuple(results[k] for k in range(len(runs)))
    table = pd.DataFrame({e.name: pd.Series(e.kpis) for e in evals})
    for e in evals[1:]:
        table[f"Δ {e.name}"] = table[e.name] - table["base"]
    return Comparison(table, evals)


def read_sweep(path: str) -> tuple[dict[str, Any], list[Scenario]]:
    """A sweep file: ``{"base": {"preset": ..., "seed": ...}, "scenarios": [{...}, ...]}`` or
    just a list of scenario documents."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DispatchError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if isinstance(doc, list):
        doc = {"scenarios": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("scenarios"), list) or not doc["scenarios"]:
        raise DispatchError(f"{path}: expected a list of scenarios or {{'base': {{...}}, 'scenarios': [...]}}")
    out = []
    for k, item in enumerate(doc["scenarios"]):
        try:
            out.append(Scenario.from_dict(item))
        except DispatchError as exc:
            raise DispatchError(f"{path}: scenario #{k + 1}: {exc}") from None
    return dict(doc.get("base") or {}), out
