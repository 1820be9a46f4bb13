"""Fault injection: the service killed at random points of a bounded load, a damaged database, a
full disk, concurrent writers, on SQLite and PostgreSQL. After each, every acknowledged call is
in the store exactly once and the checker finds nothing in the plan the log rebuilds.

The load runs on loopback only (the real server in a process of its own, ``dispatch.bench.serve``).
PostgreSQL cases run when ``DISPATCH_TEST_PG_URL`` is set (``.ci/run`` sets it)."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from dispatch.bench.serve import Server, call_bodies, verify
from dispatch.cli import main
from dispatch.service import LiveService, ServiceConfig, create_app, parse_tokens
from dispatch.service.clock import ManualClock

TOKEN = "d-" + "f" * 30
H = {"Authorization": f"Bearer {TOKEN}"}


def _post_until_acknowledged(url: str, body: dict, headers: dict, give_up_s: float = 300.0) -> dict:
    """What a call centre does: retry the same call (same id) until the service acknowledges it
    (generously: on a loaded 2-core machine three restarts can take a minute)."""
    deadline = time.monotonic() + give_up_s
    while True:
        try:
            r = httpx.post(url + "/calls", json=body, headers=headers, timeout=30)
            if r.status_code == 200:
                return r.json()
            assert r.status_code in (409, 503), r.text  # in flight elsewhere / store busy: retry
        except httpx.HTTPError:
            pass  # the server is down: retry
        if time.monotonic() > deadline:
            raise AssertionError(f"call {body['id']} was never acknowledged")
        time.sleep(0.2)


def test_random_kills_under_load_lose_nothing(store_url: str, tmp_path: Path) -> None:
    """80 calls from 6 clients while the server is SIGKILLed at three random moments (seeded) and
    restarted: every acknowledged call is stored once, with the answer the client got."""
    token = secrets.token_urlsafe(24)
    server = Server(store_url, "tiny", 1, 0, token, tmp_path / "server.log", clock_start_s=9 * 3600,
                    clock_speed=120)
    headers = {"Authorization": f"Bearer {token}"}
    bodies = call_bodies("tiny", 1, 80, "kill")
    rng = random.Random(15)
    kills = sorted(rng.uniform(0.5, 6.0) for _ in range(3))
    server.start()
    acked: dict[str, dict] = {}
    try:
        with ThreadPoolExecutor(6) as pool:
            futures = {b["id"]: pool.submit(_post_until_acknowledged, server.url, b, headers) for b in bodies}
            t0 = time.monotonic()
            for at in kills:
                time.sleep(max(0.0, at - (time.monotonic() - t0)))
                server.kill()
                server.start()
            acked = {k: f.result() for k, f in futures.items()}
    finally:
        server.stop()
    check = verify(store_url, "tiny", 1, 0, acked)
    assert check["ok"], check
    assert check["stored_calls"] == len(bodies) and check["duplicated"] == 0 and check["answer_changed"] == 0


def test_sigkill_and_restart_keeps_every_acknowledged_call_once(store_url: str, tmp_path: Path) -> None:
    """After SIGKILL and a restart, retries of acknowledged calls replay their first answer."""
    token = secrets.token_urlsafe(24)
    server = Server(store_url, "tiny", 1, 0, token, tmp_path / "server.log", clock_start_s=9 * 3600)
    server.start()
    acked = {}
    bodies = call_bodies("tiny", 1, 40, "crash")
    h = {"Authorization": f"Bearer {token}"}
    try:
        for b in bodies[:30]:
            r = httpx.post(server.url + "/calls", json=b, headers=h, timeout=30)
            assert r.status_code == 200, r.text
            acked[b["id"]] = r.json()
        server.kill()
        server.start()
        for b in bodies[25:]:  # five retries of acknowledged calls, ten new ones
            r = httpx.post(server.url + "/calls", json=b, headers=h, timeout=30)
            assert r.status_code == 200, r.text
            if b["id"] in acked:
                assert r.json()["replayed"] and r.json()["technician_id"] == acked[b["id"]]["technician_id"]
            acked[b["id"]] = r.json()
    finally:
        server.stop()
    check = verify(store_url, "tiny", 1, 0, acked)
    assert check["ok"], check
    assert check["stored_calls"] == 40 and check["duplicated"] == 0


def _service(db: str) -> tuple[LiveService, TestClient]:
    config = ServiceConfig(preset="tiny", db=db, tokens=parse_tokens(f"{TOKEN}:dispatcher"))
    svc = LiveService(config, clock=ManualClock(10 * 3600))
    return svc, TestClient(create_app(config, svc))


def test_concurrent_calls_never_share_a_slot_on_either_engine(store_url: str) -> None:
    """Sixteen concurrent calls: no overlapping work, and the log rebuilds the same plan."""
    svc, client = _service(store_url)
    try:
        def post(i: int) -> int:
            return client.post("/calls", json={"id": f"c-{i}", "lon": 120.1 + 0.01 * (i % 5), "lat": 30.9},
                               headers=H).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(post, range(16))) == {200}
        assert svc.violations() == {a: [] for a in svc.areas}
        again = LiveService(svc.config, clock=ManualClock(10 * 3600), writer=False)
        assert {a: x.routes for a, x in again.areas.items()} == {a: x.routes for a, x in svc.areas.items()}
        assert len(svc.store.service_entries(svc.scope, kind="call")) == 16
    finally:
        svc.close()


# ---- a damaged database ---------------------------------------------------------------------

def test_a_damaged_database_is_refused_in_one_sentence_and_left_as_it_was(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Pages overwritten behind SQLite's header: `dispatch serve` refuses to start (exit 3, one
    sentence naming the file), serves no plan rebuilt from half a log, and writes nothing."""
    path = tmp_path / "damaged.sqlite"
    svc, client = _service(f"sqlite:///{path}")
    for i in range(20):
        assert client.post("/calls", json={"id": f"c-{i}", "lon": 120.1, "lat": 30.9}, headers=H).status_code == 200
    svc.close()
    svc.store.engine.dispose()
    data = bytearray(path.read_bytes())
    page = 4096
    data[page:] = os.urandom(len(data) - page)  # the header page intact, every other page garbage
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    code = main(["serve", "--preset", "tiny", "--db", f"sqlite:///{path}", "--port", "1"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "Traceback" not in err and str(path) in err and len(err.strip().splitlines()) == 1, err
    assert path.read_bytes() == before


# ---- a full disk ----------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB file system (tmpfs) where the machine allows mounting one, else skipped: a simulated
    ENOSPC would test our mapping of the error, not SQLite's behaviour on a real full disk."""
    where = tmp_path / "small"
    where.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True)
    if got.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {got.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_answers_503_and_loses_nothing(small_disk: Path) -> None:
    """With the disk full, a call is refused with 503 and Retry-After (nothing acknowledged, the
    plan in memory unchanged); once space is freed, the same call is taken, once."""
    svc, client = _service(f"sqlite:///{small_disk / 'full.sqlite'}")
    try:
        acked: dict[str, dict] = {}
        for i in range(5):
            r = client.post("/calls", json={"id": f"ok-{i}", "lon": 120.1, "lat": 30.9}, headers=H)
            assert r.status_code == 200, r.text
            acked[f"ok-{i}"] = r.json()
        filler = small_disk / "filler"
        with open(filler, "wb") as f:  # fill what is left
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        refused = []
        for i in range(40):  # answers written until the database cannot grow
            r = client.post("/calls", json={"id": f"full-{i}", "lon": 120.1, "lat": 30.9,
                                            "product_line": "x" * 30}, headers=H)
            assert r.status_code in (200, 503), r.text
            if r.status_code == 503:
                assert r.headers["retry-after"] and r.json()["reason"] == "store_full", r.text
                refused.append(f"full-{i}")
            else:
                acked[f"full-{i}"] = r.json()
        assert refused, "the disk never filled"
        assert all(c not in svc.calls for c in refused)
        filler.unlink()
        for c in refused:
            r = client.post("/calls", json={"id": c, "lon": 120.1, "lat": 30.9, "product_line": "x" * 30}, headers=H)
            assert r.status_code == 200, r.text
            acked[c] = r.json()
        stored = [e.key for e in svc.store.service_entries(svc.scope, kind="call")]
        assert sorted(stored) == sorted(acked)  # every acknowledged call once, nothing else
        assert svc.violations() == {a: [] for a in svc.areas}
    finally:
        svc.close()


def test_a_server_killed_while_another_waits_hands_over_at_once(tmp_path: Path) -> None:
    """A second server started while the first runs is refused; once the first is SIGKILLed, the
    next start takes the lease at once (same machine) and rebuilds every acknowledged call."""
    db = f"sqlite:///{tmp_path / 'handover.sqlite'}"
    token = secrets.token_urlsafe(24)
    first = Server(db, "tiny", 1, 0, token, tmp_path / "first.log", clock_start_s=9 * 3600)
    first.start()
    headers = {"Authorization": f"Bearer {token}"}
    acked = {}
    try:
        for b in call_bodies("tiny", 1, 10, "hand"):
            acked[b["id"]] = _post_until_acknowledged(first.url, b, headers)
        code = main(["serve", "--preset", "tiny", "--db", db, "--port", "1"])
        assert code == 3
    finally:
        first.kill()
    second = Server(db, "tiny", 1, 0, token, tmp_path / "second.log", clock_start_s=9 * 3600)
    second.start()
    second.stop()
    check = verify(db, "tiny", 1, 0, acked)
    assert check["ok"] and check["stored_calls"] == 10, check

