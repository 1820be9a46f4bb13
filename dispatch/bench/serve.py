"""`dispatch bench serve`: the call-intake service under load on loopback, and after a crash.

The server runs in a process of its own (the service that `dispatch serve` runs, started with the
spawn method) on a free loopback port with a throw-away token and database. A bounded open-loop generator posts calls over a province at a
fixed rate (calls taken from the synthetic generator, each with a unique id and an ``at`` that
walks through the working day, so the live plan fills as a real day would), from a bounded
thread pool: at most ``--inflight`` requests are open at once and the run stops after
``--seconds``. It reports decision latency p50/p95/p99 (request sent -> decision received) and
errors. With ``--crash-at S`` the server is killed with SIGKILL S seconds in, restarted on the
same database, and requests that failed meanwhile are retried with the same call id (the
idempotency key). Afterwards, the live state is rebuilt from the store in this process (as a
restart would) and checked: every acknowledged call is in the store exactly once with the
technician it was answered, and the checker finds no violation in any area.

Verdict. The run passes only when the decision latency p95 is within its target
(:data:`P95_TARGET_MS`), no request failed, and the store check finds nothing missing,
duplicated or changed and no checker violation; otherwise each reason is a "FAIL: ..." line.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import secrets
import socket
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from dispatch.bench.common import machine_info
from dispatch.errors import DispatchError
from dispatch.service import LiveService, ServiceConfig, parse_tokens, run
from dispatch.synthetic import generate

P95_TARGET_MS = 300.0  # decision latency p95 the service promises at 100 calls/s on loopback


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(settings: dict[str, Any], port: int, log: Path) -> None:
    """The server process: its output to ``log``, then the service until it is stopped (the
    settings travel as the CLI's options would)."""
    with open(log, "ab") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    run(ServiceConfig(**settings), "127.0.0.1", port)


class Server:
    """The call-intake service in a process of its own on loopback; start, kill -9, start again."""

    def __init__(self, db: str, preset: str, seed: int, day: int, token: str, log: Path,
                 rate_limit: float = 100_000.0, clock_start_s: int | None = None, clock_speed: float = 1.0) -> None:
        """``clock_start_s``: the server's clock starts at that time of the served day when the
        server is first started and runs ``clock_speed`` times real time, across restarts (as
        ``dispatch serve --clock-start --clock-speed``); None: China's time of day."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # As `dispatch serve --rate-limit R` configures it; only the token's digest leaves this process.
        self.settings = {"preset": preset, "seed": seed, "day": day, "db": db,
                         "tokens": parse_tokens(f"{token}:dispatcher", "the benchmark's token"),
                         "rate_per_s": rate_limit, "burst": max(1, int(2 * rate_limit)),
                         "clock_start_s": clock_start_s, "clock_speed": clock_speed}
        self.log = log
        self.proc: multiprocessing.process.BaseProcess | None = None

    def start(self, timeout_s: float = 120.0) -> float:
        t0 = time.perf_counter()
        # The clock's anchor is the first start, so a restart continues the same day's clock.
        self.settings.setdefault("clock_anchor_unix", time.time())
        self.proc = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(self.settings, self.port, self.log), name=f"dispatch-serve-{self.port}")
        self.proc.start()
        while time.perf_counter() - t0 < timeout_s:
            if not self.proc.is_alive():
                raise DispatchError(f"the server exited with code {self.proc.exitcode}; see {self.log}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise DispatchError(f"the server did not answer /health within {timeout_s:.0f} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what the store holds is all that survives."""
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
            self.proc.join()

    def stop(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(10)
            self.kill()


def call_bodies(preset: str, seed: int, n: int, run_id: str) -> list[dict[str, Any]]:
    """``n`` calls over the province, each with its own id. They carry no ``at``: a call is made
    when it is posted, on the server's clock (``Server(clock_speed=...)`` runs a day fast)."""
    reqs = list(generate(preset, days=1, seed=seed).requests)
    return [{"id": f"{run_id}-{i:06d}", "lon": r.lon, "lat": r.lat, "level": r.level, "mode": r.mode.value,
             "priority": int(r.priority), "service_min": r.service_s // 60}
            for i, r in ((i, reqs[i % len(reqs)]) for i in range(n))]


def run_load(server: Server, token: str, bodies: list[dict[str, Any]], rate: float, seconds: float,
             crash_at: float | None, inflight: int = 64, retry_s: float = 120.0) -> dict[str, Any]:
    """Post ``bodies`` at ``rate`` per second; optionally kill and restart the server."""
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=server.url, headers=headers, timeout=30.0,
                          limits=httpx.Limits(max_connections=inflight, max_keepalive_connections=inflight))
    acked: dict[str, dict[str, Any]] = {}
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    retried = [0]
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(inflight)
    crash: dict[str, float | None] = {"at": None, "restart_s": None}
    server_up = threading.Event()
    server_up.set()

    def post(body: dict[str, Any]) -> None:
        deadline = time.perf_counter() + retry_s
        tries = 0
        try:
            while True:
                server_up.wait(retry_s)
                t0 = time.perf_counter()
                try:
                    r = client.post("/calls", json=body)
                except httpx.TransportError:
                    # The server is gone (the crash): try again, same id, once it is back.
                    tries += 1
                    if time.perf_counter() > deadline or crash_at is None:
                        with lock:
                            errors["connection"] += 1
                        return
                    time.sleep(0.2)
                    continue
                dt_s = time.perf_counter() - t0
                with lock:
                    if r.status_code == 200:
                        acked[body["id"]] = r.json()
                        latencies.append(dt_s)
                        retried[0] += tries > 0
                    else:
                        errors[str(r.status_code)] += 1
                return
        finally:
            slots.release()

    pool = ThreadPoolExecutor(max_workers=inflight)
    n = min(len(bodies), int(rate * seconds))
    throttled = 0
    t_start = time.perf_counter()
    for i in range(n):
        target = t_start + i / rate
        now = time.perf_counter()
        if target > now:
            time.sleep(target - now)
        if crash_at is not None and crash["at"] is None and time.perf_counter() - t_start >= crash_at:
            crash["at"] = round(time.perf_counter() - t_start, 2)
            server_up.clear()
            server.kill()

            def restart() -> None:
                crash["restart_s"] = round(server.start(), 2)
                server_up.set()

            threading.Thread(target=restart, daemon=True).start()
        if not slots.acquire(blocking=False):
            throttled += 1  # the bound: wait for a free slot rather than pile requests up
            slots.acquire()
        pool.submit(post, bodies[i])
    pool.shutdown(wait=True)
    wall = time.perf_counter() - t_start
    client.close()
    lat = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "sent": n, "acknowledged": len(acked), "errors": dict(errors), "throttled": throttled,
        "retried_after_crash": retried[0], "wall_s": round(wall, 2), "achieved_rate": round(n / wall, 1),
        "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1), "p95": round(float(np.percentile(lat, 95)), 1),
                       "p99": round(float(np.percentile(lat, 99)), 1), "max": round(float(np.max(lat)), 1)},
        "crash": crash if crash_at is not None else None, "_acked": acked,
    }


def verify(db: str, preset: str, seed: int, day: int, acked: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Rebuild the live state from the store (as a restart does) and check it."""
    t0 = time.perf_counter()
    svc = LiveService(ServiceConfig(preset=preset, seed=seed, day=day, db=db), writer=False)
    rebuild_s = time.perf_counter() - t0
    stored = svc.store.service_entries(svc.scope, kind="call")
    counts = Counter(e.key for e in stored)
    by_id = {e.key: e for e in stored}
    missing = [k for k in acked if k not in counts]
    duplicated = [k for k, c in counts.items() if c > 1]
    changed = [k for k, a in acked.items() if k in by_id
               and by_id[k].answer.get("technician_id") != a.get("technician_id")]
    violations = svc.violations()
    statuses = Counter(e.answer.get("status") for e in stored)
    return {"stored_calls": len(stored), "acknowledged_missing": len(missing), "duplicated": len(duplicated),
            "answer_changed": len(changed), "violations": sum(len(v) for v in violations.values()),
            "violation_examples": [x for v in violations.values() for x in v][:5],
            "rebuild_s": round(rebuild_s, 2), "decisions": dict(statuses),
            "ok": not missing and not duplicated and not changed and not any(violations.values())}


def run_bench(rate: float, seconds: float, crash_at: float | None, preset: str, seed: int, day: int,
              inflight: int, workdir: str | None = None, p95_target_ms: float = P95_TARGET_MS,
              db: str | None = None) -> dict[str, Any]:
    """Start the server, load it (and crash it), stop it, check the store; the JSON document,
    with its verdict (``verdict``: ok and the failures)."""
    folder = Path(workdir or tempfile.mkdtemp(prefix="dispatch-bench-serve-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = db or f"sqlite:///{folder / 'serve.sqlite'}"  # an empty store of its own unless one is given
    token = secrets.token_urlsafe(24)  # lives only in this process and the server's environment
    run_id = f"b{int(time.time())}"
    bodies = call_bodies(preset, seed, int(rate * seconds), run_id)
    # The run is a working day played fast: the server's clock goes from 08:00 to 17:00 over it.
    server = Server(db, preset, seed, day, token, folder / "server.log", clock_start_s=8 * 3600,
                    clock_speed=9 * 3600 / seconds)
    startup = server.start()
    try:
        load = run_load(server, token, bodies, rate, seconds, crash_at, inflight)
    finally:
        server.stop()
    acked = load.pop("_acked")
    check = verify(db, preset, seed, day, acked)
    res = {"preset": preset, "rate": rate, "seconds": seconds, "startup_s": round(startup, 2),
           "p95_target_ms": p95_target_ms, "load": load, "check": check, "workdir": str(folder)}
    failures = verdict(res)
    return {**res, "verdict": {"ok": not failures, "failures": failures}}


def verdict(res: dict[str, Any]) -> list[str]:
    """Why a run fails, one "FAIL: ..." sentence per reason; empty when it passes. The latency
    target is the document's ``p95_target_ms`` (:data:`P95_TARGET_MS` when absent)."""
    ld, ck = res["load"], res["check"]
    target = float(res.get("p95_target_ms", P95_TARGET_MS))
    out = []
    p95 = float(ld["latency_ms"]["p95"])
    if not ld["acknowledged"] or not math.isfinite(p95):
        out.append("FAIL: no call was acknowledged, so there is no latency to measure")
    elif p95 > target:
        out.append(f"FAIL: p95 latency {p95:g} ms over the {target:g} ms target")
    if ld["errors"]:
        out.append(f"FAIL: {sum(ld['errors'].values())} requests failed ("
                   + ", ".join(f"{k}: {v}" for k, v in sorted(ld["errors"].items())) + ")")
    for key, what in (("acknowledged_missing", "acknowledged calls missing from the store"),
                      ("duplicated", "calls stored more than once"),
                      ("answer_changed", "acknowledged calls stored with another technician"),
                      ("violations", "checker violations")):
        if ck[key]:
            out.append(f"FAIL: {ck[key]} {what}")
    if not ck["ok"] and not out:
        out.append("FAIL: the store check failed")
    return out


def describe_run(rate: float, seconds: float, crash_at: float | None, preset: str) -> str:
    """The line announcing a run, before it starts."""
    return (f"serving {preset} on loopback; {rate:g} calls/s for {seconds:g} s"
            + (f", SIGKILL at {crash_at:g} s" if crash_at else "") + f" ({machine_info()['cpus']} CPUs)")


def format_result(res: dict[str, Any]) -> str:
    """``run_bench``'s document as `dispatch bench serve` prints it, ending in OK or its
    "FAIL: ..." lines."""
    ld, ck = res["load"], res["check"]
    lines = [(f"sent {ld['sent']} at {ld['achieved_rate']}/s, acknowledged {ld['acknowledged']}, "
              f"errors {ld['errors'] or 0}, throttled {ld['throttled']}, retried after crash {ld['retried_after_crash']}"),
             "latency ms: " + ", ".join(f"{k} {v}" for k, v in ld["latency_ms"].items())
             + f" (p95 target {float(res.get('p95_target_ms', P95_TARGET_MS)):g})"]
    if ld["crash"]:
        lines.append(f"crash at {ld['crash']['at']} s, restarted in {ld['crash']['restart_s']} s")
    lines.append(f"store: {ck['stored_calls']} calls, missing {ck['acknowledged_missing']}, duplicated {ck['duplicated']}, "
                 f"answer changed {ck['answer_changed']}; checker violations {ck['violations']}; "
                 f"rebuild {ck['rebuild_s']} s; decisions {ck['decisions']}")
    failures = verdict(res)
    lines += failures or ["OK"]
    return "\n".join(lines)
