"""`dispatch bench hindsight`: the online day against what was possible with every call known.

Online is the product's day plan (``dispatch.plan.make_plan``): each area's morning batch routed,
then every later call placed as it arrives by the one decision (and, if asked, the movable work
re-solved during the day). Offline solves each area's same day again with every call known from
the start: the same technicians, shifts, breaks, skills, overtime limits, windows, one-hour
deadlines and call times (nobody sets off toward a call before it exists; a call the online
waiting strategy held is offline released when it came in), by the exact ruin-and-recreate search
(``dispatch.routing.lns``) for a long CPU budget. By default (``offline_start="own"``) the search
starts from its own cheapest-insertion construction, so hindsight does not move with the online
policy it judges: before and after a policy change are measured against the same reference (an
area where the online plan is better is counted, not hidden). ``offline_start="online"`` starts
from the online routes and takes the better of it and the online plan (calls served, set off
within the hour, distance): a reference that moves with the policy. Online figures are the plan's own times; offline ones the exact timeline's; both
plans are checked by the independent checker on the same problem.

Population of every figure: the travelling calls (on-site and pickup) of the day's area
problems, i.e. what the online plan routed or left unassigned that day; a call left unserved
counts as a miss of the one-hour rate. An area's visit set is the online plan's at the end of
the day (a call a neighbouring area's technician took is in that area), so offline does not
redo the choice of area.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from typing import Any

from dispatch.bench.common import Log, cpu_s, cpu_split_s, peak_rss_mib
from dispatch.executor import executor
from dispatch.plan import PlanParams, make_plan
from dispatch.routing import RoutingParams, RoutingProblem, RoutingResult, check
from dispatch.routing.lns import improve, routes_result
from dispatch.synthetic import GeneratorParams, generate, with_calls_per_day

HOUR_S = 3600


@dataclass(frozen=True)
class Figures:
    visits: int
    served: int
    on_time: int  # served and set off toward by its dispatch deadline
    urgent: int
    urgent_on_time: int
    distance_m: int
    overtime_s: int
    technicians_used: int

    def as_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["one_hour_rate"] = self.on_time / self.visits if self.visits else float("nan")
        d["urgent_one_hour_rate"] = self.urgent_on_time / self.urgent if self.urgent else float("nan")
        d["travel_km"] = self.distance_m / 1000
        d["overtime_h"] = self.overtime_s / HOUR_S
        return d


def figures(problem: RoutingProblem, result: RoutingResult) -> Figures:
    """A plan's figures over every visit of ``problem`` (unserved ones count as misses)."""
    prio = {v.id: v.priority for v in problem.visits}
    stops = [s for r in result.routes for s in r.stops]
    on_time = [s for s in stops if s.dispatch_late_s == 0]
    return Figures(
        visits=len(problem.visits), served=len(stops), on_time=len(on_time),
        urgent=sum(1 for p in prio.values() if p == 3), urgent_on_time=sum(1 for s in on_time if prio[s.visit_id] == 3),
        distance_m=sum(r.distance_m for r in result.routes), overtime_s=sum(r.overtime_s for r in result.routes),
        technicians_used=len(result.routes))


def offline_params(seed: int) -> RoutingParams:
    """Hindsight's objective: the engine's (a drop by priority, a late departure, a second of
    travel, overtime at twice that)."""
    return RoutingParams(time_limit_s=0, seed=seed)


def solve_offline(key: str, problem: RoutingProblem, seconds: float, seed: int,
                  online: RoutingResult, start: str = "own") -> tuple[str, RoutingResult, float, str]:
    """Top-level for the process pool: one area's hindsight plan, its CPU seconds and where it
    came from. The exact ruin-and-recreate search (``dispatch.routing.lns``) starts from the
    online routes with every call known; every move is timed by the exact timeline (OR-Tools'
    model states a release and the departure deadline only loosely or slowly, and on a whole
    day of arriving calls its plans lose calls once timed exactly: 76 of 88 kept on a Zhejiang
    area). ``start="own"``: from its own construction (every call put at its cheapest place in
    call order), whatever the online plan did. ``start="online"``: from the online routes; the
    online plan is itself a plan with every call known, so hindsight is then the better of the
    two by (calls served, set off within the hour, distance)."""
    c0 = time.process_time()
    if start not in ("own", "online"):
        raise ValueError(f"offline start must be 'own' or 'online', got {start!r}")
    routes0 = {} if start == "own" else {r.technician_id: [s.visit_id for s in r.stops] for r in online.routes}
    routes, stats = improve(problem, routes0, offline_params(seed), seconds)
    offline = routes_result(problem, routes, stats=stats)
    if start == "own":
        return key, offline, time.process_time() - c0, "offline"
    best, source = min(((offline, "offline"), (online, "online")), key=lambda rs: _rank(problem, rs[0]))
    return key, best, time.process_time() - c0, source


def called_at(problem: RoutingProblem, plan: Any) -> RoutingProblem:
    """``problem`` with every visit released when its call's clock started (the plan's
    outcomes), not when the online waiting strategy planned to set off toward it: hindsight
    is not held back by the policy it judges."""
    clock = dict(zip(plan.outcomes["request_id"], plan.outcomes["clock_start_s"]))
    return replace(problem, visits=tuple(
        replace(v, release_s=min(v.release_s, int(clock[v.id]))) if v.id in clock else v for v in problem.visits))


def _rank(problem: RoutingProblem, result: RoutingResult) -> tuple[int, int, int]:
    f = figures(problem, result)
    return (-f.served, -f.on_time, f.distance_m)


def losses(problem: RoutingProblem, online: RoutingResult, offline: RoutingResult, day_start_s: int) -> dict[str, Any]:
    """Where online loses: the calls late (or unserved) online that hindsight sets off for in
    time, by the hour the call came in, by priority, and by whether the morning batch had them."""
    late_on = {s.visit_id for r in online.routes for s in r.stops if s.dispatch_late_s > 0}
    late_on |= {u.visit_id for u in online.unassigned}
    on_off = {s.visit_id for r in offline.routes for s in r.stops if s.dispatch_late_s == 0}
    on_on = {s.visit_id for r in online.routes for s in r.stops if s.dispatch_late_s == 0}
    visits = {v.id: v for v in problem.visits}
    lost = sorted(late_on & on_off)
    gained = sorted(on_on - on_off)
    by_hour: dict[int, int] = {}
    by_priority: dict[int, int] = {}
    morning = 0
    for vid in lost:
        v = visits[vid]
        by_hour[v.release_s // HOUR_S % 24] = by_hour.get(v.release_s // HOUR_S % 24, 0) + 1
        by_priority[v.priority] = by_priority.get(v.priority, 0) + 1
        morning += v.release_s <= day_start_s
    return {"lost": lost, "gained": gained, "by_hour": by_hour, "by_priority": by_priority, "morning_batch": morning}


def travel_split(problem: RoutingProblem, result: RoutingResult, day_start_s: int) -> dict[str, int]:
    """Where a plan's driving goes, in metres: out from home to the first call, between calls,
    and back home; and its routes, with those whose first call came in after the day's start
    (a technician sent out for a later call) and their metres out and back."""
    release = {v.id: v.release_s for v in problem.visits}
    out = between = back = late_routes = late_home = 0
    for r in result.routes:
        legs = [s.distance_m for s in r.stops]
        home = legs[0] + r.distance_m - sum(legs)
        out, between, back = out + legs[0], between + sum(legs[1:]), back + r.distance_m - sum(legs)
        if release[r.stops[0].visit_id] > day_start_s:
            late_routes, late_home = late_routes + 1, late_home + home
    return {"out_m": out, "between_m": between, "back_m": back, "routes": len(result.routes),
            "routes_for_later_calls": late_routes, "later_routes_home_m": late_home}


def marginal_by_hour(problem: RoutingProblem, result: RoutingResult) -> dict[int, int]:
    """Each served call's marginal metres in its route (the legs to and from it less the leg
    that would join its neighbours, home at either end), summed by the hour the call came in:
    which calls a plan pays most driving for."""
    techs = {k.id: k for k in problem.technicians}
    node = {v.id: v.node for v in problem.visits}
    hour = {v.id: v.release_s // HOUR_S % 24 for v in problem.visits}
    d = problem.distance_m
    out: dict[int, int] = {}
    for r in result.routes:
        k = techs[r.technician_id]
        nodes = [k.start_node] + [node[s.visit_id] for s in r.stops] + [k.end_node]
        for i, s in enumerate(r.stops, start=1):
            a, b, c = nodes[i - 1], nodes[i], nodes[i + 1]
            out[hour[s.visit_id]] = out.get(hour[s.visit_id], 0) + int(d[a, b] + d[b, c] - d[a, c])
    return out


def run_hindsight(preset: str, seed: int, time_limit_s: float, calls_per_day: float | None = None,
                  areas: int | None = None, workers: int | None = None, reoptimise_every_s: int | None = None,
                  progress: Log | None = None, reoptimise_engine: str = "ortools",
                  warm_start: str = "pyvrp", count_return: bool = False, hold_s: int = 0,
                  reoptimise_time_limit_s: float | None = None, leave_home_s: int | None = None,
                  offline_start: str = "own", reference: str | None = None,
                  reoptimise_steps_per_visit: int | None = None) -> dict[str, Any]:
    """Plan the day online, solve every area offline, and compare (see the module docstring).
    ``areas`` keeps the largest N areas only (by calls); ``time_limit_s`` is per area, CPU.
    ``hold_s``: the waiting strategy (``Rules.replan_hold_s``); ``reoptimise_time_limit_s``: each
    area's re-solve budget (default: the plan's); ``leave_home_s``: the cost of sending out a
    technician not yet out (``Rules.leave_home_s``; None: the rule book's); ``offline_start``: see the module docstring.
    ``reference``: a JSON file of hindsight routes per area: an area whose calls are the same as
    when it was saved is not solved again (one reference shared by the policies compared; the
    search's CPU budget makes two solves of one area differ); the file is then updated."""
    log = progress or (lambda line: None)
    gen = GeneratorParams() if calls_per_day is None else with_calls_per_day(GeneratorParams(), calls_per_day)
    ds = generate(preset, days=1, seed=seed, params=gen)
    # The online plan's solves on the CPU clock: the same effort whatever the machine's load.
    params = PlanParams(seed=seed, reoptimise_every_s=reoptimise_every_s, reoptimise_engine=reoptimise_engine,
                        routing_warm_start=warm_start, insertion_counts_return=count_return, routing_clock="cpu")
    rules = replace(params.rules, replan_hold_s=hold_s)
    params = replace(params, rules=rules if leave_home_s is None else replace(rules, leave_home_s=leave_home_s))
    if reoptimise_time_limit_s is not None:
        params = replace(params, reoptimise_time_limit_s=reoptimise_time_limit_s)
    if reoptimise_steps_per_visit is not None:
        params = replace(params, reoptimise_steps_per_visit=reoptimise_steps_per_visit)
    w0, c0, own0 = time.perf_counter(), cpu_s(), cpu_split_s()[0]
    with executor(workers) as pool:
        plan = make_plan(ds, params, pool=pool)
        online_wall = time.perf_counter() - w0
        # The policy's own cost: insertion and re-solves run in this process (the morning
        # batch in the pool's workers, the same whatever the policy).
        online_cpu = cpu_split_s()[0] - own0
        problems = {k: called_at(p, plan) for k, p in plan.area_problems.items() if p.visits and p.technicians}
        keys = sorted(problems, key=lambda k: -len(problems[k].visits))[:areas]
        log(f"online plan: {sum(len(problems[k].visits) for k in keys)} calls in {len(keys)} areas, "
            f"{online_wall:.1f} s wall; offline {time_limit_s:g} CPU s per area")
        saved = load_reference(reference, time_limit_s, seed, offline_start)
        offline, sources = {}, {}
        for k in keys:
            ids = visit_key(problems[k])
            for got in saved.get(k, ()):
                if got["visits"] == ids:
                    offline[k], sources[k] = (routes_result(problems[k], got["routes"]), got["cpu_s"]), got["source"]
        futures = [pool.submit(solve_offline, k, problems[k], time_limit_s, seed, plan.area_results[k],
                               offline_start) for k in keys if k not in offline]
        if reference:
            log(f"reference {reference}: {len(offline)} areas kept, {len(futures)} to solve")
        for n, fut in enumerate(futures):
            k, res, spent, sources[k] = fut.result()
            offline[k] = (res, spent)
            log(f"[{n + 1}/{len(keys)}] area {k}: {len(problems[k].visits)} calls, offline {spent:.1f} CPU s"
                f"{' (online plan kept: the search found nothing better)' if sources[k] == 'online' else ''}")
    if reference:
        save_reference(reference, time_limit_s, seed, offline_start, saved, problems, offline, sources)
    day_start = min((v.release_s for k in keys for v in problems[k].visits), default=0)
    rows: list[dict[str, Any]] = []
    lost_all: list[str] = []
    violations: list[str] = []
    by_hour: dict[int, int] = {}
    by_priority: dict[int, int] = {}
    gained = morning = 0
    split: dict[str, dict[str, int]] = {"online": {}, "offline": {}}
    marginal: dict[str, dict[int, int]] = {"online": {}, "offline": {}}
    for k in keys:
        p, on, (off, spent) = problems[k], plan.area_results[k], offline[k]
        violations += [f"area {k} (offline): {v}" for v in check(p, off)]
        fo, ff = figures(p, on), figures(p, off)
        loss = losses(p, on, off, day_start)
        lost_all += loss["lost"]
        gained += len(loss["gained"])
        morning += loss["morning_batch"]
        for h, n in loss["by_hour"].items():
            by_hour[h] = by_hour.get(h, 0) + n
        for pr, n in loss["by_priority"].items():
            by_priority[pr] = by_priority.get(pr, 0) + n
        for side, res in (("online", on), ("offline", off)):
            for name, m in travel_split(p, res, day_start).items():
                split[side][name] = split[side].get(name, 0) + m
            for h, m in marginal_by_hour(p, res).items():
                marginal[side][h] = marginal[side].get(h, 0) + m
        rows.append({"area": k, "technicians": len(p.technicians), "calls": len(p.visits),
                     "online": fo.as_dict(), "offline": ff.as_dict(), "offline_cpu_s": round(spent, 2),
                     "offline_source": sources[k], "lost_calls": len(loss["lost"])})
    online_total = _total([r["online"] for r in rows])
    offline_total = _total([r["offline"] for r in rows])
    return {
        "benchmark": "hindsight", "preset": preset, "seed": seed, "calls": len(ds.requests),
        "areas": len(keys), "time_limit_s": time_limit_s, "reoptimise_every_s": reoptimise_every_s,
        "reoptimise_engine": reoptimise_engine, "reoptimise_time_limit_s": params.reoptimise_time_limit_s,
        "reoptimise_steps_per_visit": params.reoptimise_steps_per_visit,
        "warm_start": warm_start, "count_return": count_return, "hold_s": hold_s, "leave_home_s": params.rules.leave_home_s,
        "offline_start": offline_start,
        "online": online_total, "offline": offline_total, "ratios": ratios(online_total, offline_total),
        "where_online_loses": {"calls": len(lost_all), "offline_late_where_online_on_time": gained,
                               "morning_batch": morning, "later_calls": len(lost_all) - morning,
                               "by_hour": dict(sorted(by_hour.items())), "by_priority": dict(sorted(by_priority.items())),
                               "examples": lost_all[:10],
                               "travel_split_m": split,
                               "marginal_km_by_hour": {h: [round(marginal["online"].get(h, 0) / 1000, 1),
                                                           round(marginal["offline"].get(h, 0) / 1000, 1)]
                                                       for h in sorted(set(marginal["online"]) | set(marginal["offline"]))}},
        "areas_where_online_kept": sum(1 for k in keys if sources[k] == "online"),
        "areas_where_online_better": sum(1 for r in rows if (-r["online"]["served"], -r["online"]["on_time"],
                                                             r["online"]["distance_m"]) < (
            -r["offline"]["served"], -r["offline"]["on_time"], r["offline"]["distance_m"])),
        "offline_checker_violations": violations[:20], "offline_violation_count": len(violations),
        "online_checker_violations": int(plan.routing_stats["violations"].sum()) if len(plan.routing_stats) else 0,
        "online_wall_s": round(online_wall, 1), "online_own_cpu_s": round(online_cpu, 1), "wall_s": round(time.perf_counter() - w0, 1),
        "cpu_s": round(cpu_s() - c0, 1), "peak_rss_mib": round(peak_rss_mib(), 1), "rows": rows,
    }


def load_reference(path: str | None, time_limit_s: float, seed: int, start: str) -> dict[str, Any]:
    """The saved hindsight routes per area (empty without a file, or one of other conditions)."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        doc = json.load(f)
    if (doc.get("time_limit_s"), doc.get("seed"), doc.get("offline_start")) != (time_limit_s, seed, start):
        raise ValueError(f"reference {path} is for offline {doc.get('time_limit_s')} s, seed {doc.get('seed')}, "
                         f"start {doc.get('offline_start')}; asked {time_limit_s} s, seed {seed}, start {start}")
    return doc["areas"]


def visit_key(problem: RoutingProblem) -> str:
    """What makes an area's hindsight problem the same one: its visits (ids and every field but
    the node, whose number depends on the order the calls reached the area; a call collected
    for the bench online is another visit) and its technicians."""
    visits = sorted((v.id, v.service_s, v.window_start_s, v.window_end_s, v.required_level, v.required_skill,
                     v.priority, v.release_s, v.dispatch_deadline_s) for v in problem.visits)
    techs = sorted(k.id for k in problem.technicians)
    return hashlib.sha256(repr((visits, techs)).encode()).hexdigest()


def save_reference(path: str, time_limit_s: float, seed: int, start: str, saved: dict[str, Any],
                   problems: dict[str, RoutingProblem], offline: dict[str, tuple[RoutingResult, float]],
                   sources: dict[str, str]) -> None:
    areas = {k: list(v) for k, v in saved.items()}  # per area, one entry per set of calls seen
    for k, (res, spent) in offline.items():
        ids = visit_key(problems[k])
        if not any(e["visits"] == ids for e in areas.get(k, ())):
            areas.setdefault(k, []).append({"visits": ids, "cpu_s": spent, "source": sources[k], "routes": {
                r.technician_id: [s.visit_id for s in r.stops] for r in res.routes}})
    with open(path, "w") as f:
        json.dump({"time_limit_s": time_limit_s, "seed": seed, "offline_start": start, "areas": areas}, f)


def _total(figs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("visits", "served", "on_time", "urgent", "urgent_on_time", "distance_m", "overtime_s", "technicians_used")
    t = Figures(**{k: int(sum(f[k] for f in figs)) for k in keys})
    return t.as_dict()


def ratios(online: dict[str, Any], offline: dict[str, Any]) -> dict[str, float]:
    """Online over offline: travel km, overtime hours, one-hour rate (and calls served)."""
    def ratio(a: float, b: float) -> float:
        return float(a / b) if b else (1.0 if a == b else float("inf"))

    return {"travel_km": ratio(online["travel_km"], offline["travel_km"]),
            "overtime_h": ratio(online["overtime_h"], offline["overtime_h"]),
            "one_hour_rate": ratio(online["one_hour_rate"], offline["one_hour_rate"]),
            "served": ratio(online["served"], offline["served"])}


def format_report(doc: dict[str, Any]) -> str:
    on, off, r, w = doc["online"], doc["offline"], doc["ratios"], doc["where_online_loses"]
    reopt = doc["reoptimise_every_s"]
    policy = f"every {reopt} s by {doc['reoptimise_engine']}" if reopt else "off"
    if reopt and doc.get("reoptimise_time_limit_s") is not None:
        policy += f", {doc['reoptimise_time_limit_s']:g} CPU s per area"
    if reopt and doc.get("reoptimise_steps_per_visit"):
        policy += f" or {doc['reoptimise_steps_per_visit']} steps per movable call"
    lines = [
        (f"\n{doc['preset']} seed {doc['seed']}: {on['visits']} travelling calls in {doc['areas']} areas; "
         f"online = the day plan (re-optimise {policy}, batch start {doc['warm_start']}"
         f"{', insertion counting the way home' if doc.get('count_return') else ''}"
         f"{', non-urgent calls held %d s' % doc['hold_s'] if doc.get('hold_s') else ''}"
         f"{', leaving home weighs %d s' % doc['leave_home_s'] if doc.get('leave_home_s') else ''}), "
         f"offline = every call known, {doc['time_limit_s']:g} CPU s per area, from "
         f"{'its own construction' if doc.get('offline_start', 'own') == 'own' else 'the online routes'}"),
        f"{'':<22}{'online':>12}{'offline':>12}{'ratio':>8}",
        f"{'travel km':<22}{on['travel_km']:>12.1f}{off['travel_km']:>12.1f}{r['travel_km']:>8.3f}",
        f"{'overtime h':<22}{on['overtime_h']:>12.1f}{off['overtime_h']:>12.1f}{r['overtime_h']:>8.3f}",
        f"{'one-hour rate':<22}{on['one_hour_rate']:>12.2%}{off['one_hour_rate']:>12.2%}{r['one_hour_rate']:>8.3f}",
        f"{'urgent one-hour rate':<22}{on['urgent_one_hour_rate']:>12.2%}{off['urgent_one_hour_rate']:>12.2%}",
        f"{'calls served':<22}{on['served']:>12d}{off['served']:>12d}{r['served']:>8.3f}",
        f"{'technicians used':<22}{on['technicians_used']:>12d}{off['technicians_used']:>12d}",
        (f"where online loses: {w['calls']} calls late or unserved online that hindsight sets off for in time "
         f"({w['morning_batch']} known at the day's start, {w['later_calls']} arriving later; "
         f"{w['offline_late_where_online_on_time']} the other way round)"),
        "  by hour of the call: " + ", ".join(f"{h:02d}h {n}" for h, n in w["by_hour"].items()),
        "  by priority: " + ", ".join(f"{p} {n}" for p, n in w["by_priority"].items()),
        *travel_lines(w),
        "  travel, online over offline, the worst areas: " + ", ".join(
            f"{a} {r:.2f} ({n} calls lost)" for a, r, n in worst_areas(doc)),
        (f"areas where the online plan beats hindsight: {doc.get('areas_where_online_better', 0)}; "
         f"checker: online {doc['online_checker_violations']} violations, offline {doc['offline_violation_count']}; "
         f"wall {doc['wall_s']:.0f} s (online plan {doc['online_wall_s']:.0f} s, "
         f"{doc.get('online_own_cpu_s', float('nan')):.1f} CPU s outside the morning batch), cpu {doc['cpu_s']:.0f} s, "
         f"peak {doc['peak_rss_mib']:.0f} MiB"),
    ]
    return "\n".join(lines)


def travel_lines(w: dict[str, Any]) -> list[str]:
    """The report's lines on where the driving goes (``travel_split``, ``marginal_by_hour``)."""
    split = w.get("travel_split_m")
    if not split:
        return []
    on, off = split["online"], split["offline"]
    lines = [(f"  driving, online / offline km: out from home {on.get('out_m', 0) / 1000:.0f} / "
             f"{off.get('out_m', 0) / 1000:.0f}, between calls {on.get('between_m', 0) / 1000:.0f} / "
             f"{off.get('between_m', 0) / 1000:.0f}, back home {on.get('back_m', 0) / 1000:.0f} / "
             f"{off.get('back_m', 0) / 1000:.0f}; routes {on.get('routes', 0)} / {off.get('routes', 0)}, of which "
             f"first sent out for a later call {on.get('routes_for_later_calls', 0)} / "
             f"{off.get('routes_for_later_calls', 0)} ({on.get('later_routes_home_m', 0) / 1000:.0f} / "
             f"{off.get('later_routes_home_m', 0) / 1000:.0f} km out and back)")]
    lines.append("  each call's marginal km by the hour it came in, online / offline: " + ", ".join(
        f"{int(h):02d}h {a:.0f}/{b:.0f}" for h, (a, b) in w["marginal_km_by_hour"].items()))
    return lines


def worst_areas(doc: dict[str, Any], n: int = 5) -> list[tuple[str, float, int]]:
    """The areas where online drives most over hindsight: (area, km ratio, calls lost)."""
    rows = [(r["area"], r["online"]["travel_km"] / max(r["offline"]["travel_km"], 1e-9), r["lost_calls"])
            for r in doc["rows"]]
    return sorted(rows, key=lambda t: -t[1])[:n]


__all__ = ["called_at", "figures", "format_report", "offline_params", "ratios", "run_hindsight", "solve_offline",
           "worst_areas"]
