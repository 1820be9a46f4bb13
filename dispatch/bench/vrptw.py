"""`dispatch bench vrptw`: the routing engine on the Solomon / Gehring-Homberger VRPTW instances.

Convention (see the benchmark folder's README): Euclidean distances in double precision, travel
time = distance, time windows on the start of service, hierarchical objective (vehicles first,
then distance), compared with ``bks.csv`` of the same convention.

The engine works in integers, so coordinates are scaled by ``SCALE``: travel TIMES are rounded UP
(a route that is feasible with the rounded-up times is feasible in double precision), distances
(the arc cost) are rounded to nearest. Every result is then re-evaluated in double precision from
the instance file (distance, windows, capacity) and also passed through the independent checker
on the integer problem. The JSON output holds the routes as customer numbers of the file (depot
excluded) so anyone can re-check them.
"""

from __future__ import annotations

import csv
import fnmatch
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.bench.common import cpu_s
from dispatch.errors import BenchmarkDataError
from dispatch.routing import (
    BreakRule,
    RoutingParams,
    RoutingProblem,
    RoutingTechnician,
    RoutingVisit,
    solve,
)
from dispatch.routing.checker import check

SCALE = 1000  # 1/1000 of a Solomon time/distance unit
# Fixed cost per vehicle, in 1/SCALE distance units: above any total distance (Solomon < 4e6,
# 400 customers < 4e7), so one vehicle less always wins.
FIXED_COST = 10**9
DROP_PENALTY = 10**13  # per customer: above any fleet's fixed cost (< 1e11 for 400 customers)

SETS = {"solomon": ("solomon", "*.txt"), "homberger-200": ("homberger", "*_2_*.txt"),
        "homberger-400": ("homberger", "*_4_*.txt")}


@dataclass(frozen=True)
class Instance:
    name: str
    path: Path
    vehicles: int
    capacity: int
    x: np.ndarray  # float, index 0 = depot
    y: np.ndarray
    demand: np.ndarray  # int
    ready: np.ndarray  # int (Solomon times are integers)
    due: np.ndarray
    service: np.ndarray

    @property
    def customers(self) -> int:
        return len(self.x) - 1

    def euclid(self) -> np.ndarray:
        return np.hypot(self.x[:, None] - self.x[None, :], self.y[:, None] - self.y[None, :])


def _num(path: Path, line_no: int, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BenchmarkDataError(f"{path}, line {line_no}: {text!r} is not a number") from None


def read_instance(path: str | Path) -> Instance:
    """Read a Solomon-format file; errors name the file, line and value."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise BenchmarkDataError(f"{path}: cannot read ({exc})") from None
    name = next((ln.strip() for ln in lines if ln.strip()), path.stem)
    veh = cap = None
    rows: list[list[float]] = []
    section = None
    for no, raw in enumerate(lines, start=1):
        ln = raw.strip()
        up = ln.upper()
        if up.startswith("VEHICLE"):
            section = "vehicle"
            continue
        if up.startswith("CUSTOMER"):
            section = "customer"
            continue
        if not ln or not re.match(r"^[-+0-9.]", ln):
            continue
        parts = ln.split()
        if section == "vehicle" and veh is None:
            if len(parts) != 2:
                raise BenchmarkDataError(f"{path}, line {no}: expected 'NUMBER CAPACITY', got {ln!r}")
            veh, cap = int(_num(path, no, parts[0])), int(_num(path, no, parts[1]))
        elif section == "customer":
            if len(parts) != 7:
                raise BenchmarkDataError(f"{path}, line {no}: expected 7 numbers (id x y demand ready due "
                                         f"service), got {len(parts)}: {ln!r}")
            vals = [_num(path, no, p) for p in parts]
            if int(vals[0]) != len(rows):
                raise BenchmarkDataError(f"{path}, line {no}: customer number {parts[0]}, expected {len(rows)}")
            if vals[4] > vals[5]:
                raise BenchmarkDataError(f"{path}, line {no}: ready time {parts[4]} after due date {parts[5]}")
            rows.append(vals)
    if veh is None or cap is None:
        raise BenchmarkDataError(f"{path}: no VEHICLE section with 'NUMBER CAPACITY'")
    if len(rows) < 2:
        raise BenchmarkDataError(f"{path}: needs a depot row and at least one customer, found {len(rows)} rows")
    a = np.array(rows)
    ints = a[:, 3:].round().astype(np.int64)
    return Instance(name, path, veh, cap, a[:, 1], a[:, 2], ints[:, 0], ints[:, 1], ints[:, 2], ints[:, 3])


# The field-service variant (``--breaks``): every vehicle takes a break of this share of the
# horizon, starting within this window (shares of the horizon): what PyVRP cannot express, so the
# day plan's engine runs PyVRP on the relaxation and OR-Tools keeps the break.
BREAK_SHARE = 0.05
BREAK_WINDOW = (0.4, 0.5)


def to_problem(inst: Instance, fixed_cost: int | None = None, breaks: bool = False) -> RoutingProblem:
    """The instance as a RoutingProblem in integer 1/SCALE units (times rounded up); with
    ``breaks``, every vehicle takes the break above."""
    e = inst.euclid() * SCALE
    # The tiny epsilon keeps exact integers (e.g. 5.000000000001 from float noise) from rounding up.
    travel = np.ceil(e - 1e-6).astype(np.int64)
    dist = np.rint(e).astype(np.int64)
    horizon = int(inst.due[0]) * SCALE
    if fixed_cost is None:
        fixed_cost = FIXED_COST
    day0 = int(inst.ready[0]) * SCALE
    brk = BreakRule(day0 + int(BREAK_WINDOW[0] * (horizon - day0)), day0 + int(BREAK_WINDOW[1] * (horizon - day0)),
                    int(BREAK_SHARE * (horizon - day0))) if breaks else None
    techs = tuple(
        RoutingTechnician(id=f"veh{i + 1}", start_node=0, end_node=0, shift_start_s=int(inst.ready[0]) * SCALE,
                          shift_end_s=horizon, max_level=1, skills=frozenset({"*"}), break_window=brk,
                          speed_class=0, capacity=inst.capacity, fixed_cost=fixed_cost)
        for i in range(inst.vehicles))
    visits = tuple(
        RoutingVisit(id=str(c), node=c, service_s=int(inst.service[c]) * SCALE,
                     window_start_s=int(inst.ready[c]) * SCALE, window_end_s=int(inst.due[c]) * SCALE,
                     required_level=1, required_skill=None, priority=1, dispatch_deadline_s=None,
                     demand=int(inst.demand[c]))
        for c in range(1, len(inst.x)))
    names = ("depot",) + tuple(str(c) for c in range(1, len(inst.x)))
    return RoutingProblem(travel[None, :, :], dist, techs, visits, names)


def double_check(inst: Instance, routes: list[list[int]]) -> tuple[float, list[str]]:
    """Total distance in double precision and every violation, straight from the instance."""
    e = inst.euclid()
    issues: list[str] = []
    seen: dict[int, int] = {}
    total = 0.0
    for r in routes:
        t, load, prev = float(inst.ready[0]), 0, 0
        for c in r:
            seen[c] = seen.get(c, 0) + 1
            t = max(t + inst.service[prev] + e[prev, c], float(inst.ready[c]))
            if t > inst.due[c] + 1e-9:
                issues.append(f"customer {c} starts at {t:.4f} after its due date {inst.due[c]}")
            load += int(inst.demand[c])
            total += e[prev, c]
            prev = c
        total += e[prev, 0]
        if r and t + inst.service[prev] + e[prev, 0] > inst.due[0] + 1e-9:
            issues.append(f"route {r[:3]}... returns after the depot closes")
        if load > inst.capacity:
            issues.append(f"route {r[:3]}... load {load} > capacity {inst.capacity}")
    for c in range(1, len(inst.x)):
        if seen.get(c, 0) != 1:
            issues.append(f"customer {c} visited {seen.get(c, 0)} times")
    if len([r for r in routes if r]) > inst.vehicles:
        issues.append(f"{len(routes)} routes for a fleet of {inst.vehicles}")
    return total, issues


def read_bks(path: Path) -> dict[str, tuple[int, float]]:
    if not path.is_file():
        return {}
    out = {}
    with path.open() as fh:
        for no, row in enumerate(csv.DictReader(fh), start=2):
            try:
                out[row["instance"].upper()] = (int(row["vehicles"]), float(row["distance"]))
            except (KeyError, ValueError, TypeError):
                raise BenchmarkDataError(f"{path}, row {no}: needs instance, vehicles, distance; got {row}") from None
    return out


def instance_class(name: str) -> str:
    """C1, C2, R1, R2, RC1, RC2 from C101 / RC2_4_1 style names; otherwise the letters."""
    m = re.match(r"^(RC|R|C)(\d)", name.upper())
    return f"{m.group(1)}{m.group(2)}" if m else re.sub(r"\d.*$", "", name.upper()) or name


def default_benchmarks_dir() -> Path:
    env = os.environ.get("DISPATCH_SHARED_DIR")
    if env:
        return Path(env) / "benchmarks" / "vrptw"
    return Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "vrptw"


def select_files(set_name: str, benchmarks_dir: Path, instances: str | None) -> tuple[list[Path], Path]:
    if set_name in SETS:
        sub, pattern = SETS[set_name]
        folder = benchmarks_dir / sub
    else:
        folder, pattern = Path(set_name), "*.txt"
    if not folder.is_dir():
        raise BenchmarkDataError(f"benchmark folder {folder} not found (use --benchmarks-dir or DISPATCH_SHARED_DIR)")
    files = sorted(folder.glob(pattern), key=lambda p: _natural(p.stem))
    if instances:
        pats = [p.strip().upper() for p in instances.split(",") if p.strip()]
        files = [f for f in files if any(fnmatch.fnmatch(f.stem.upper(), p) for p in pats)]
    if not files:
        raise BenchmarkDataError(f"no instance in {folder} matches {instances or pattern!r}")
    return files, folder / "bks.csv"


def _natural(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s.upper())]


def run_instance(inst: Instance, params: RoutingParams, bks: tuple[int, float] | None,
                 breaks: bool = False) -> dict[str, Any]:
    """Solve one instance, check it twice (integer checker, double precision), return a row."""
    problem = to_problem(inst, breaks=breaks)
    c0, w0 = cpu_s(), time.perf_counter()
    result = solve(problem, params)
    cpu, wall = cpu_s() - c0, time.perf_counter() - w0
    violations = check(problem, result)
    routes = [[int(s.visit_id) for s in r.stops] for r in result.routes if r.stops]
    distance, issues = double_check(inst, routes)
    feasible = not violations and not issues and not result.unassigned
    row = {
        "instance": inst.name, "class": instance_class(inst.name), "customers": inst.customers,
        "vehicles": len(routes), "distance": round(distance, 4), "feasible": feasible,
        "unserved": len(result.unassigned), "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
        "engine": result.engine,
        "bks_vehicles": bks[0] if bks else None, "bks_distance": bks[1] if bks else None,
        "gap_%": round(100 * (distance - bks[1]) / bks[1], 3) if bks else None,
        "excess_vehicles": len(routes) - bks[0] if bks else None,
        "violations": (violations + issues)[:20], "routes": routes,
    }
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["feasible"]]
    with_bks = [r for r in ok if r["bks_distance"] is not None]
    at = [r["gap_%"] for r in with_bks if r["excess_vehicles"] <= 0]
    by_class: dict[str, list[float]] = {}
    for r in with_bks:
        by_class.setdefault(r["class"], []).append(r["gap_%"])
    return {
        "instances": len(rows), "solved": len(ok),
        "excess_vehicles": sum(r["excess_vehicles"] for r in with_bks),
        "bks_vehicle_count_reached": sum(1 for r in with_bks if r["excess_vehicles"] <= 0),
        "mean_gap_%": round(float(np.mean([r["gap_%"] for r in with_bks])), 3) if with_bks else None,
        # The gap where the BKS fleet was matched: the distance race on equal terms.
        "mean_gap_at_bks_fleet_%": round(float(np.mean(at)), 3) if at else None,
        "mean_gap_by_class_%": {k: round(float(np.mean(v)), 3) for k, v in sorted(by_class.items())},
        "cpu_s": round(sum(r["cpu_s"] for r in rows), 1), "wall_s": round(sum(r["wall_s"] for r in rows), 1),
    }


# The engines the benchmark knows, as RoutingParams settings. "ortools" is the engine the day
# plan routes with (OR-Tools searching from PyVRP's routes, every field constraint expressible);
# "ortools-cold" is OR-Tools alone from its own first solution (the engine before the PyVRP
# phase); "pyvrp" is PyVRP alone, for plain VRPTW only; "auto" picks PyVRP where it can.
ENGINES: dict[str, dict[str, Any]] = {
    "ortools": {"engine": "ortools", "warm_start": "pyvrp"},
    "ortools-cold": {"engine": "ortools", "warm_start": "none"},
    "pyvrp": {"engine": "pyvrp"},
    "auto": {"engine": "auto"},
}
DAY_PLAN_ENGINE = "ortools"


def parse_engines(text: str) -> list[str]:
    """Comma-separated engine names (``all``: every one), checked against ``ENGINES``."""
    names = list(ENGINES) if text.strip() == "all" else [e.strip() for e in text.split(",") if e.strip()]
    bad = [e for e in names if e not in ENGINES]
    if bad or not names:
        raise BenchmarkDataError(f"unknown engine(s) {', '.join(bad) or repr(text)}; expected a comma-separated "
                                 f"list of {', '.join(ENGINES)} (or all)")
    return list(dict.fromkeys(names))


def run_benchmark(set_name: str, time_limit: float, instances: str | None = None,
                  benchmarks_dir: Path | None = None, engine: str = DAY_PLAN_ENGINE, workers: int = 1,
                  seed: int = 0, progress: Callable[[int, int, dict[str, Any]], None] | None = None,
                  route_elimination: float = 0.3, breaks: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Solve and check every selected instance with one engine of ``ENGINES``; the rows and their
    summary. ``progress`` gets (instances done, instances in all, the row just solved). With
    ``breaks`` the field-service variant (every vehicle breaks; the gap is then to the plain
    instance's best known, a bound the variant cannot reach)."""
    files, bks_path = select_files(set_name, benchmarks_dir or default_benchmarks_dir(), instances)
    bks = read_bks(bks_path)
    if engine not in ENGINES:
        parse_engines(engine)  # raises, naming the engines there are
    params = RoutingParams(time_limit_s=time_limit, seed=seed, workers=workers, arc_cost="distance",
                           drop_penalty_unit=DROP_PENALTY, route_elimination=route_elimination, clock="cpu",
                           **ENGINES[engine])
    rows = []
    for n, f in enumerate(files):
        inst = read_instance(f)
        row = run_instance(inst, params, bks.get(inst.name.upper()) or bks.get(f.stem.upper()), breaks)
        row["engine"] = engine
        rows.append(row)
        if progress:
            progress(n + 1, len(files), row)
    return rows, summarise(rows)


def format_side_by_side(summaries: dict[str, dict[str, Any]]) -> str:
    """One line per engine: the figures the benchmark is judged by, in one table."""
    head = ["engine", "solved", "excess_veh", "bks_fleet_on", "mean_gap_%", "gap_at_bks_fleet_%", "cpu_s"]
    cells = [head] + [[e, f"{s['solved']}/{s['instances']}", f"{s['excess_vehicles']:+d}",
                       str(s["bks_vehicle_count_reached"]), str(s["mean_gap_%"]), str(s["mean_gap_at_bks_fleet_%"]),
                       str(s["cpu_s"])] for e, s in summaries.items()]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells)


COLUMNS = ["instance", "engine", "vehicles", "distance", "bks_vehicles", "bks_distance", "gap_%", "excess_vehicles",
           "cpu_s", "wall_s", "feasible"]


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows' COLUMNS as a right-aligned text table."""
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)

    cells = [COLUMNS] + [[fmt(r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells)


def format_progress(done: int, total: int, row: dict[str, Any]) -> str:
    """One line per instance solved: vehicles (vs the BKS fleet), distance, gap, times."""
    gap = "n/a" if row["gap_%"] is None else f"{row['gap_%']:+.2f}%"
    exc = "" if row["excess_vehicles"] is None else f" ({row['excess_vehicles']:+d})"
    flag = "" if row["feasible"] else "  INFEASIBLE: " + "; ".join(row["violations"][:2])
    return (f"[{done}/{total}] {row['instance']} [{row['engine']}]: {row['vehicles']} veh{exc}, {row['distance']:.2f} "
            f"gap {gap}, cpu {row['cpu_s']:.1f}s wall {row['wall_s']:.1f}s{flag}")


def format_summary(set_name: str, time_limit: float, engine: str, summary: dict[str, Any]) -> str:
    """The SUMMARY line and the mean gap by instance class."""
    return (
        f"SUMMARY {set_name} @ {time_limit:g}s [{engine}]: solved {summary['solved']}/{summary['instances']}, "
        f"excess vehicles {summary['excess_vehicles']:+d}, BKS vehicle count on {summary['bks_vehicle_count_reached']}, "
        f"mean gap {summary['mean_gap_%']}% ({summary['mean_gap_at_bks_fleet_%']}% where the BKS fleet is matched), "
        f"CPU {summary['cpu_s']} s, wall {summary['wall_s']} s\n"
        "mean gap by class: " + ", ".join(f"{k} {v:.2f}%" for k, v in summary["mean_gap_by_class_%"].items()))


__all__ = [
    "ENGINES",
    "double_check",
    "format_progress",
    "format_side_by_side",
    "format_summary",
    "format_table",
    "parse_engines",
    "read_instance",
    "run_benchmark",
    "to_problem",
]
