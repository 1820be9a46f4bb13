"""`dispatch bench scaleout`: a multi-day simulation split by province and a sweep of scenarios,
each through a local process pool and through a Dask cluster, in the same run.

The two executors run the same code (``dispatch.executor``: both are ``concurrent.futures``
executors; ``dispatch.simulate.split`` and ``dispatch.scenarios.compare`` submit to either). For
each workload and executor the run reports wall time, CPU (this process, plus the pool's worker
processes' as the system counts it, or the Dask workers' own CPU asked of them before and after),
and the Dask overhead against the pool (ratio and seconds, medians over ``repeat`` runs, the two
executors taking turns to go first); and it checks that both give identical results (the
simulation's merged outcomes and KPIs, the sweep's table). The simulation is also run unsplit in
this process once, to say what splitting by province changes in the KPIs.

Both executors are started once and warmed (each worker has imported the workloads' modules)
before anything is timed, and their start-ups are reported apart: a cluster given by address is
already up, and a pool's spawn is paid once per command. Without a scheduler address the bench
starts a ``distributed.LocalCluster`` of ``workers`` worker processes (one thread each).
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import pandas as pd

from dispatch.bench.common import Log, peak_rss_mib
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.executor import executor
from dispatch.kpis import kpis
from dispatch.model import Tier
from dispatch.scenarios import CompareOptions, Scenario, compare
from dispatch.simulate import SimParams, simulate
from dispatch.simulate.split import simulate_split
from dispatch.synthetic import generate
from dispatch.travel import DEFAULT_TRAVEL, Travel

BACKENDS = ("pool", "dask")
# What the split's KPIs are compared on against the unsplit run.
SPLIT_KPIS = ("requests", "dispatch_within_target_rate", "turnaround_mean_h", "turnaround_within_24h_share",
              "travel_km_per_job", "never_dispatched", "utilisation", "unassigned")


def _own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def worker_cpu_s() -> float:
    """This process's CPU seconds: run in each Dask worker (top-level, so that it pickles)."""
    return _own_cpu_s()


def warm_worker(pause_s: float = 0.0) -> int:
    """Which process this is. Sent to a worker, it makes it import this module and so everything
    the workloads run (a worker's first task would otherwise pay for it); the pause spreads a
    pool's warm-up tasks over all its workers."""
    time.sleep(pause_s)
    return os.getpid()


@contextmanager
def _dask_cluster(address: str | None, workers: int, log: Log) -> Iterator[tuple[str, bool]]:
    """(scheduler address, whether it is this process's own LocalCluster)."""
    if address:
        yield address, False
        return
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DispatchError("the scale-out bench needs Dask: pip install -e '.[dask]'") from exc
    log(f"starting a local Dask cluster of {workers} worker processes ...")
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address, True


class Executors:
    """The two executors of a run, started and warmed once (every worker has imported the
    workloads' modules), with the CPU their workers have used: the pool's from its processes
    (``psutil``: the children of this process that are not Dask's), Dask's asked of its workers
    (and of the scheduler when it is another process's; a local cluster's runs in this one)."""

    def __init__(self, stack: ExitStack, workers: int, scheduler: str | None, log: Log) -> None:
        import psutil  # late: Dask's dependency, needed by this bench only
        from distributed import Client  # late: the optional 'dask' extra (checked in _dask_cluster)

        t0 = time.perf_counter()
        address, self.local = stack.enter_context(_dask_cluster(scheduler, workers, log))
        self.client = Client(address, set_as_default=False)
        stack.callback(self.client.close)
        self.dask_pids = set(self.client.run(warm_worker).values()) if self.local else set()
        self.start_s = {"dask": round(time.perf_counter() - t0, 2)}
        log(f"starting a process pool of {workers} workers ...")
        t0 = time.perf_counter()
        self.pool = stack.enter_context(executor(workers=workers, read_env=False))
        list(self.pool.map(warm_worker, [0.5] * (2 * workers)))
        self.start_s["pool"] = round(time.perf_counter() - t0, 2)
        self.dask = stack.enter_context(executor(scheduler=address))
        self._me = psutil.Process()

    def of(self, backend: str) -> Executor:
        return self.pool if backend == "pool" else self.dask

    def worker_cpu_s(self, backend: str) -> float:
        if backend == "dask":
            out = sum(self.client.run(worker_cpu_s).values())
            return out if self.local else out + self.client.run_on_scheduler(worker_cpu_s)
        kids = [p for p in self._me.children(recursive=True) if p.pid not in self.dask_pids]
        return sum(t.user + t.system for t in (p.cpu_times() for p in kids))


def idle_cpu(ex: Executors, seconds: float = 10.0) -> dict[str, float]:
    """CPU seconds per second each executor burns doing nothing (Dask's heartbeats and system
    monitors run in the scheduler, the nannies and the workers): a cost that grows with wall time,
    whatever the tasks."""
    out = {}
    for backend in BACKENDS:
        own0, far0 = _own_cpu_s(), ex.worker_cpu_s(backend)
        time.sleep(seconds)
        out[backend] = round((_own_cpu_s() - own0 + ex.worker_cpu_s(backend) - far0) / seconds, 4)
    return out


def _measured(ex: Executors, backend: str, job: Callable[[Executor], Any]) -> tuple[Any, dict[str, float]]:
    """``job(executor)`` timed on the warm executor: wall, and CPU of this process and the workers."""
    own0, far0, t0 = _own_cpu_s(), ex.worker_cpu_s(backend), time.perf_counter()
    out = job(ex.of(backend))
    wall = time.perf_counter() - t0
    far, own = ex.worker_cpu_s(backend) - far0, _own_cpu_s() - own0
    return out, {"wall_s": round(wall, 2), "cpu_s": round(own + far, 2), "driver_cpu_s": round(own, 2),
                 "worker_cpu_s": round(far, 2)}


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}


def _overhead(times: dict[str, dict[str, float]]) -> dict[str, float]:
    pool, dask = times["pool"], times["dask"]
    return {"wall_ratio": round(dask["wall_s"] / pool["wall_s"], 3), "wall_s": round(dask["wall_s"] - pool["wall_s"], 2),
            "cpu_ratio": round(dask["cpu_s"] / pool["cpu_s"], 3) if pool["cpu_s"] else math.nan,
            "cpu_s": round(dask["cpu_s"] - pool["cpu_s"], 2)}


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b)
    except AssertionError:
        return False
    return True


def _same_kpis(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in
                                        ((a[k], b[k]) for k in a))


def _alternating(repeat: int) -> Iterator[tuple[int, str]]:
    """(repeat, backend): the backends take turns to go first, so neither always meets a warmer machine."""
    for r in range(repeat):
        for backend in (BACKENDS if r % 2 == 0 else BACKENDS[::-1]):
            yield r, backend


# --------------------------------------------------------------------------------------------
# The workloads


def sweep_scenarios(base: Dataset, count: int = 16) -> list[Scenario]:
    """``count`` what-ifs on ``base``, of every kind a sweep holds: bench hours, couriers and bench
    levels by tier, demand growth, the one-hour target, two more technicians at one of the busiest
    prefecture centres, and one of the busiest county stations closed or one technician fewer
    there; the busiest by the calls whose nearest centre they are."""
    net = base.network
    lon = np.array([r.lon for r in base.requests])
    lat = np.array([r.lat for r in base.requests])
    near = Counter(net.centres[int(j)].id for j in np.atleast_1d(net.nearest(lon, lat)[0])) if len(lon) else Counter()
    parents = Counter({net[c].parent_id: 0 for c in near if net[c].parent_id})
    for c, n in near.items():
        parents[net[c].parent_id] += n
    counties = [c for c, _ in sorted(near.items(), key=lambda x: (-x[1], x[0])) if net[c].tier == Tier.COUNTY]
    cities = [c for c, _ in sorted(parents.items(), key=lambda x: (-x[1], x[0])) if c and net[c].tier == Tier.CITY]
    provinces = sorted({c.province_adcode for c in net})
    kinds = [Scenario.from_dict(d) for d in (
        {"name": "bench tier 3 4h", "bench_hours": {"3": 4}},
        {"name": "bench tier 2 12h", "bench_hours": {"2": 12}},
        {"name": "bench tier 1 16h", "bench_hours": {"1": 16}},
        {"name": "courier tier 3 2h", "courier_h": {"3": 2}},
        {"name": "county benches to level 2", "capabilities": {"3": [1, 2]}},
        {"name": "demand +20%", "demand_growth": {p: 1.2 for p in provinces}},
        {"name": "demand +50%", "demand_growth": {p: 1.5 for p in provinces}},
        {"name": "target 45 min", "dispatch_target_min": 45},
        {"name": "target 90 min", "dispatch_target_min": 90},
    )]
    staffed = Counter(t.home_centre_id for t in base.technicians)
    station_changes = [sc for c in counties for sc in (
        Scenario.from_dict({"name": f"close {c}", "close": [c]}),
        *([Scenario.from_dict({"name": f"one fewer at {c}", "remove": [{"centre_id": c, "count": 1}]})]
          if staffed[c] > 1 else []))]
    adds = [Scenario.from_dict({"name": f"add 2 at {c}", "add": [{"centre_id": c, "count": 2}]}) for c in cities]
    out = (kinds + adds[:3] + station_changes + adds[3:])[:count]
    if len(out) < count:
        raise DispatchError(f"the base has room for {len(out)} distinct scenarios of this sweep, not {count}")
    return out


def _simulate_case(ds: Dataset, params: SimParams, travel: Travel, ex: Executors, repeat: int, unsplit: bool,
                   log: Log) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {b: [] for b in BACKENDS}
    results: dict[str, Any] = {}
    for r, backend in _alternating(repeat):
        log(f"simulation {r + 1}/{repeat} through the {backend} ...")
        res, t = _measured(ex, backend, lambda pool: simulate_split(ds, params, travel, pool=pool))
        runs[backend].append({**t, "calls_per_s": round(res.calls / t["wall_s"], 1)})
        results.setdefault(backend, res)
    k = {b: kpis(results[b].outcomes, results[b].workload) for b in BACKENDS}
    times = {b: _medians(runs[b]) for b in BACKENDS}
    doc: dict[str, Any] = {
        "calls": results["pool"].calls, "provinces": int(results["pool"].outcomes["province_adcode"].nunique()),
        "times": times, "runs": runs, "dask_overhead": _overhead(times),
        "identical": _same_kpis(k["pool"], k["dask"]) and all(
            _same(getattr(results["pool"], f), getattr(results["dask"], f)) for f in ("outcomes", "events", "workload")),
        "split_kpis": {key: k["pool"].get(key, math.nan) for key in SPLIT_KPIS},
    }
    if unsplit:
        log("simulation unsplit, in this process ...")
        own0, t0 = _own_cpu_s(), time.perf_counter()
        whole = simulate(ds, params, travel)
        wall = time.perf_counter() - t0
        kw = kpis(whole.outcomes, whole.workload)
        doc["unsplit"] = {"wall_s": round(wall, 2), "cpu_s": round(_own_cpu_s() - own0, 2),
                          "calls_per_s": round(whole.calls / wall, 1),
                          "kpis": {key: kw.get(key, math.nan) for key in SPLIT_KPIS}}
        doc["split_minus_unsplit"] = {key: doc["split_kpis"][key] - doc["unsplit"]["kpis"][key] for key in SPLIT_KPIS}
        doc["unsplit"]["calls_crossing_a_border"] = crossed_border(ds, whole.outcomes, whole.events)
    return doc


def crossed_border(ds: Dataset, outcomes: pd.DataFrame, events: pd.DataFrame) -> int:
    """Calls of a run visited by a technician of another province than their station's: what the
    split cannot do (its worlds hold one province each)."""
    home = {t.id: ds.network[t.home_centre_id].province_adcode for t in ds.technicians}
    visits = events.loc[events["event"] == "dispatched", ["request_id", "where"]]
    visitor = visits["where"].map(home)
    station = visits["request_id"].map(outcomes.set_index("request_id")["province_adcode"])
    return int(visits.loc[(visitor != station).to_numpy(), "request_id"].nunique())


def _sweep_case(base: Dataset, scenarios: list[Scenario], options: CompareOptions, ex: Executors, repeat: int,
                log: Log) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {b: [] for b in BACKENDS}
    tables: dict[str, pd.DataFrame] = {}
    for r, backend in _alternating(repeat):
        log(f"sweep of {len(scenarios)} scenarios {r + 1}/{repeat} through the {backend} ...")
        comp, t = _measured(ex, backend, lambda pool: compare(base, scenarios, options, pool=pool, parallel=True))
        runs[backend].append(t)
        tables.setdefault(backend, comp.table)
    times = {b: _medians(runs[b]) for b in BACKENDS}
    return {"scenarios": len(scenarios), "names": [s.name for s in scenarios], "plan": options.plan,
            "times": times, "runs": runs, "dask_overhead": _overhead(times),
            "identical": _same(tables["pool"], tables["dask"])}


def run_scaleout(preset: str = "national", days: int = 7, seed: int = 1, workers: int = 2,
                 scheduler: str | None = None, repeat: int = 1, sweep_preset: str = "zhejiang",
                 scenarios: int = 16, sweep_plan: bool = True, unsplit: bool = True,
                 policy: str = "optimiser", travel: Travel = DEFAULT_TRAVEL, progress: Log | None = None,
                 simulation: bool = True, sweep: bool = True) -> dict[str, Any]:
    """The JSON document: the simulation and the sweep through both executors (module docstring)."""
    log = progress or (lambda line: None)
    doc: dict[str, Any] = {"benchmark": "scaleout", "workers": workers, "seed": seed, "repeat": repeat,
                           "policy": policy, "travel": travel.spec, "scheduler": scheduler or "local cluster"}
    with ExitStack() as stack:
        ex = Executors(stack, workers, scheduler, log)
        doc["start_s"] = ex.start_s
        log("idle executors' CPU ...")
        doc["idle_cpu_s_per_s"] = idle_cpu(ex)
        if simulation:
            log(f"generating {preset} for {days} day(s) ...")
            t0 = time.perf_counter()
            ds = generate(preset, days=days, seed=seed)
            doc["simulation"] = {"preset": preset, "days": days, "generate_s": round(time.perf_counter() - t0, 2),
                                 **_simulate_case(ds, SimParams(policy=policy, seed=seed), travel, ex, repeat,
                                                  unsplit, log)}
        if sweep:
            base = generate(sweep_preset, days=1, seed=seed)
            opts = CompareOptions(plan=sweep_plan, seed=seed, deterministic=True, travel=travel.spec)
            doc["sweep"] = {"preset": sweep_preset,
                            **_sweep_case(base, sweep_scenarios(base, scenarios), opts, ex, repeat, log)}
    doc["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return doc


# --------------------------------------------------------------------------------------------
# The table


def _times_lines(case: dict[str, Any], calls: int | None) -> list[str]:
    lines = [f"  {'executor':<9} {'wall s':>8} {'CPU s':>8} {'driver':>8} {'workers':>8}"
             + (f" {'calls/s':>8}" if calls else "")]
    for b in BACKENDS:
        t = case["times"][b]
        lines.append(f"  {b:<9} {t['wall_s']:>8.1f} {t['cpu_s']:>8.1f} {t['driver_cpu_s']:>8.1f} {t['worker_cpu_s']:>8.1f}"
                     + (f" {t['calls_per_s']:>8.1f}" if calls else ""))
    o = case["dask_overhead"]
    lines.append(f"  Dask overhead: wall x{o['wall_ratio']:.3f} ({o['wall_s']:+.1f} s), CPU x{o['cpu_ratio']:.3f} "
                 f"({o['cpu_s']:+.1f} s); identical results: {'yes' if case['identical'] else 'NO'}")
    return lines


def format_report(doc: dict[str, Any]) -> str:
    st = doc["start_s"]
    lines = [f"Scale-out: process pool of {doc['workers']} workers against Dask ({doc['scheduler']}); "
             f"started and warmed once: pool {st['pool']:.1f} s, Dask {st['dask']:.1f} s (not in the figures below); "
             f"medians of {doc['repeat']} run(s) each; CPU: this process plus the workers; idle, CPU s per s: "
             f"pool {doc['idle_cpu_s_per_s']['pool']:.3f}, Dask {doc['idle_cpu_s_per_s']['dask']:.3f}"]
    if "simulation" in doc:
        s = doc["simulation"]
        lines.append(f"Simulation split by province: {s['preset']}, {s['days']} day(s), {s['calls']} calls, "
                     f"{s['provinces']} provinces, policy {doc['policy']}")
        lines += _times_lines(s, s["calls"])
        if "unsplit" in s:
            u = s["unsplit"]
            lines.append(f"  unsplit, one process: {u['wall_s']:.1f} s wall, {u['cpu_s']:.1f} s CPU, "
                         f"{u['calls_per_s']:.1f} calls/s; {u['calls_crossing_a_border']} calls visited from "
                         "another province (the split keeps each in its own)")
            lines.append(f"  {'KPI':<30} {'split':>10} {'unsplit':>10} {'split - unsplit':>16}")
            for key in SPLIT_KPIS:
                a, b = s["split_kpis"][key], u["kpis"][key]
                lines.append(f"  {key:<30} {a:>10.4f} {b:>10.4f} {a - b:>+16.4f}")
    if "sweep" in doc:
        w = doc["sweep"]
        lines.append(f"Sweep: {w['scenarios']} scenarios on {w['preset']} "
                     f"({'coverage and a deterministic day plan' if w['plan'] else 'coverage'} each)")
        lines += _times_lines(w, None)
    return "\n".join(lines)
