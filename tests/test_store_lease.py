"""The single writer of a scope's live plan (issue 15, class 3): a lease in the store, on SQLite
and PostgreSQL alike (conftest's ``store_url``). A second server is refused with who, until when
and what to do; a crashed holder's lease ends (at once on this machine, else at its expiry);
an old holder can neither renew nor write after a takeover; concurrent takers get one winner."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from dispatch.lease import Lease, LeaseHeld, LeaseKeeper, LeaseLost
from dispatch.store import Store, service_lease, service_log

SCOPE = "net-0123456789:day0"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def stores(store_url: str) -> Iterator[list[Store]]:
    """Two stores on one database: two servers' views of it."""
    made = [Store(store_url), Store(store_url)]
    yield made
    for s in made:
        s.close()


def _log(store: Store, lease: Lease, key: str) -> int:
    return store.append_service_entry(SCOPE, "call", key, 36_000, {"k": key}, {"ok": True}, key, lease=lease)


def test_a_second_server_is_refused_naming_the_holder_its_expiry_and_what_to_do(stores: list[Store]) -> None:
    """Two stores on one database: the second acquire of a scope is refused with a message
    that names the holder (host:pid), when its lease expires and what to do; another scope is
    free, and the holder itself writes under its lease."""
    a, b = stores
    lease = a.acquire_lease(SCOPE, ttl_s=30)
    with pytest.raises(LeaseHeld) as refused:
        b.acquire_lease(SCOPE, ttl_s=30)
    host_pid = ":".join(lease.holder.split(":")[:2])
    assert re.fullmatch(
        rf"another dispatch serve \({re.escape(host_pid)}\) holds the live plan of scope {SCOPE} "
        r"until \d\d:\d\d:\d\d \S+ \(in (29|30) s.*\); stop it or wait for its lease to expire",
        str(refused.value)), str(refused.value)
    assert refused.value.holder == lease.holder and refused.value.expires_at == lease.expires_at
    assert b.acquire_lease("another-scope", ttl_s=30).generation == 1
    assert _log(a, lease, "c-1") > 0
    assert b.current_lease(SCOPE) == lease


def test_an_expired_lease_is_taken_over_and_the_old_holder_can_neither_renew_nor_write(stores: list[Store]) -> None:
    """A holder that stops its heartbeat loses the scope at expiry: the next server takes it
    (a higher generation), and the old holder's renew, guarded write and release all fail
    without writing anything."""
    a, b = stores
    old = a.acquire_lease(SCOPE, ttl_s=0.4)
    _log(a, old, "c-before")
    time.sleep(0.6)
    new = b.acquire_lease(SCOPE, ttl_s=30)
    assert new.generation == old.generation + 1
    with pytest.raises(LeaseLost, match=rf"no longer holds the live plan of scope {SCOPE}: it was taken over "
                                        rf"by {re.escape(new.holder)}"):
        a.renew_lease(old)
    with pytest.raises(LeaseLost, match="nothing was written"):
        _log(a, old, "c-after")
    assert a.release_lease(old) is False
    _log(b, new, "c-new")
    assert [e.key for e in a.service_entries(SCOPE)] == ["c-before", "c-new"]
    assert b.current_lease(SCOPE) == new


def test_an_expired_lease_nobody_took_refuses_writes_until_renewed(stores: list[Store]) -> None:
    """A lease past its expiry writes nothing (its heartbeat has failed); renewed while nobody
    took the scope, it is its holder's again; released, the next server starts at once."""
    a, b = stores
    lease = a.acquire_lease(SCOPE, ttl_s=0.3)
    time.sleep(0.5)
    with pytest.raises(LeaseLost, match="expired at .* without a heartbeat; nothing was written"):
        _log(a, lease, "c-late")
    renewed = a.renew_lease(lease)
    assert renewed.generation == lease.generation and renewed.expires_at > lease.expires_at
    _log(a, renewed, "c-renewed")
    assert [e.key for e in a.service_entries(SCOPE)] == ["c-renewed"]
    with pytest.raises(LeaseHeld):
        b.acquire_lease(SCOPE)
    assert a.release_lease(renewed) is True
    assert b.acquire_lease(SCOPE).generation == lease.generation + 1


def test_concurrent_acquires_from_threads_have_exactly_one_winner(store_url: str) -> None:
    """Eight servers (each its own store and connections) take a new scope at the same moment:
    one wins, seven are refused; again when that lease has expired (the takeover race)."""
    takers = [Store(store_url) for _ in range(8)]
    try:
        for ttl_s in (0.5, 30):  # the first round's lease expires before the second round
            barrier = threading.Barrier(len(takers))
            won: list[object] = []
            refused: list[LeaseHeld] = []
            errors: list[BaseException] = []

            def take(store: Store, ttl_s: float = ttl_s, barrier: threading.Barrier = barrier,
                     won: list[object] = won, refused: list[LeaseHeld] = refused,
                     errors: list[BaseException] = errors) -> None:
                barrier.wait()
                try:
                    won.append(store.acquire_lease(SCOPE, ttl_s=ttl_s))
                except LeaseHeld as exc:
                    refused.append(exc)
                except BaseException as exc:  # noqa: BLE001 - any other outcome fails the test below
                    errors.append(exc)

            threads = [threading.Thread(target=take, args=(s,)) for s in takers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            assert len(won) == 1 and len(refused) == len(takers) - 1, (won, refused)
            time.sleep(0.7)
    finally:
        for s in takers:
            s.close()


HOLDER_SCRIPT = """
import sys, time
from dispatch.store import Store
lease = Store(sys.argv[1]).acquire_lease(sys.argv[2], ttl_s=float(sys.argv[3]))
print(lease.holder, flush=True)
time.sleep(600)
"""


def _start_holder(url: str, ttl_s: float) -> tuple[subprocess.Popen[str], str]:
    """A server process that takes the scope and then hangs on to it; its holder id."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER_SCRIPT, url, SCOPE, str(ttl_s)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def test_a_holder_killed_on_this_machine_is_taken_over_at_once(store_url: str) -> None:
    """SIGKILL the holder (no release, no clean-up): on the same machine its lease is known
    dead at once (even as a zombie its parent has not reaped yet), not after its 60 s; while it
    lived, it was refused."""
    store = Store(store_url)
    proc, holder = _start_holder(store_url, 60)
    try:
        with pytest.raises(LeaseHeld, match=re.escape(":".join(holder.split(":")[:2]))):
            store.acquire_lease(SCOPE)
        os.kill(proc.pid, signal.SIGKILL)
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped: a zombie
        t0 = time.monotonic()
        lease = store.acquire_lease(SCOPE, ttl_s=30)
        assert lease.generation == 2 and time.monotonic() - t0 < 5
    finally:
        proc.kill()
        proc.wait()
        store.close()


def test_a_dead_holder_elsewhere_keeps_the_scope_until_its_lease_expires(store_url: str) -> None:
    """A holder that died on another machine cannot be seen dead: its scope stays refused
    until its lease expires, and a server that waits takes it then."""
    store = Store(store_url)
    proc, holder = _start_holder(store_url, 1.5)
    proc.kill()
    proc.wait()
    with store.engine.begin() as conn:  # as a row written by a server on another host
        conn.execute(update(service_lease).where(service_lease.c.scope == SCOPE).values(node="elsewhere/boot/1"))
    try:
        with pytest.raises(LeaseHeld):
            store.acquire_lease(SCOPE)
        lease = store.acquire_lease(SCOPE, wait_s=10)
        assert lease.generation == 2 and lease.holder != holder
    finally:
        store.close()


def test_a_takeover_waits_for_a_guarded_write_in_flight(stores: list[Store]) -> None:
    """A write checked under a live lease and still running when the lease expires commits
    before any takeover: the next holder, replaying the log right after taking the scope,
    finds the entry (a takeover between check and commit would miss it)."""
    a, b = stores
    lease = a.acquire_lease(SCOPE, ttl_s=0.3)
    seen: list[list[str]] = []

    def take_over() -> None:
        b.acquire_lease(SCOPE, ttl_s=30, wait_s=10)
        seen.append([e.key for e in b.service_entries(SCOPE)])

    with a.leased(lease) as conn:
        taker = threading.Thread(target=take_over)
        time.sleep(0.4)  # the lease has expired: the taker may take the scope, but not yet
        taker.start()
        time.sleep(0.6)
        conn.execute(insert(service_log).values(scope=SCOPE, kind="call", key="c-slow", idem="c-slow", at_s=0,
                                                created_at=lease.acquired_at, payload_json="{}", answer_json="{}"))
    taker.join(30)
    assert seen == [["c-slow"]]


def test_the_heartbeat_keeps_the_lease_and_reports_its_loss(stores: list[Store]) -> None:
    """A heartbeat renewing every third of the ttl keeps the scope well past one ttl; one that
    stalls past the expiry loses it to the next server and says so; a stopped heartbeat
    releases the scope for the next server at once."""
    a, b = stores
    keeper = LeaseKeeper(a, a.acquire_lease(SCOPE, ttl_s=0.6)).start()
    time.sleep(1.5)
    with pytest.raises(LeaseHeld):
        b.acquire_lease(SCOPE)
    keeper.stop()
    assert keeper.lost is None and keeper.error is None
    lost: list[LeaseLost] = []
    stalled = LeaseKeeper(b, b.acquire_lease(SCOPE, ttl_s=0.3), on_lost=lost.append, every_s=1.0).start()
    time.sleep(0.5)
    taker = a.acquire_lease(SCOPE, ttl_s=30)
    time.sleep(1.0)
    assert len(lost) == 1 and stalled.lost is lost[0] and taker.holder in str(lost[0])
    stalled.stop()
    assert a.current_lease(SCOPE) == taker


def test_servers_started_together_on_a_new_database_all_open_it(store_url: str) -> None:
    """Eight stores opened at once on an empty database each find the tables made (the
    second to create them waits for the first instead of failing)."""
    barrier = threading.Barrier(8)
    opened: list[Store] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            opened.append(Store(store_url))
        except BaseException as exc:  # noqa: BLE001 - any failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(s.service_entries(SCOPE) == [] and s.list().empty for s in opened)
    for s in opened:
        s.close()
