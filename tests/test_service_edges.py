"""The service's edges (issue 15, class 11): a locked or unreachable store, a chunked body over
the limit, slow clients, failed authentication per address; on the app and on the real server
(uvicorn on loopback)."""

from __future__ import annotations

import json
import secrets
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient

from dispatch.bench.serve import Server, call_bodies
from dispatch.errors import DispatchError
from dispatch.service import LiveService, ServiceConfig, create_app, parse_tokens
from dispatch.service.app import store_unavailable
from dispatch.service.security import (
    AUTH_FAILURES,
    AUTH_WINDOW_S,
    BODY_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    AuthThrottle,
)

DISPATCHER = "d-" + "x" * 30
VIEWER = "v-" + "y" * 30
D = {"Authorization": f"Bearer {DISPATCHER}"}
V = {"Authorization": f"Bearer {VIEWER}"}
WRONG = {"Authorization": "Bearer " + "w" * 30}
TOKEN = secrets.token_urlsafe(24)  # the real server's dispatcher
SLACK_S = 3.0  # a cut-off may come this much after its timeout


def _config(db: str, **kw: Any) -> ServiceConfig:
    return ServiceConfig(preset="tiny", db=db, tokens=parse_tokens(f"{DISPATCHER}:dispatcher,{VIEWER}:viewer"), **kw)


# ---- a store that is locked, busy or unreachable: 503 with Retry-After -------------------------

def test_a_locked_sqlite_store_answers_503_json_with_retry_after_and_the_retry_is_taken(tmp_path: Path) -> None:
    """A write while another connection holds SQLite's write lock answers 503 (JSON, Retry-After)
    once the busy timeout passes, not a plain-text 500; the retry with the same id is taken once."""
    path = tmp_path / "locked.sqlite"
    svc = LiveService(_config(f"sqlite:///{path}"))
    c = TestClient(create_app(_config(f"sqlite:///{path}"), svc))
    body = call_bodies("tiny", 1, 1, "locked")[0]
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        r = c.post("/calls", json=body, headers=D)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["retry-after"] == "1"
    doc = r.json()
    assert doc["reason"] == "store_busy" and doc["retry_after_s"] == 1 and "same call id" in doc["detail"]
    r = c.post("/calls", json=body, headers=D)
    assert r.status_code == 200 and r.json()["replayed"] is False, r.text
    assert [e.key for e in svc.store.service_entries(svc.scope, kind="call")] == [body["id"]]


def _wrapped(orig: BaseException) -> sqlalchemy.exc.DBAPIError:
    """``orig`` as SQLAlchemy raises it from a statement."""
    return sqlalchemy.exc.DBAPIError.instance("INSERT INTO service_log ...", {}, orig, Exception)  # type: ignore[arg-type,return-value]


def _pg(name: str, message: str = "") -> BaseException:
    errors = pytest.importorskip("psycopg.errors")
    return getattr(errors, name)(message)


def _wrapped_in_ours(orig: BaseException) -> DispatchError:
    try:
        raise DispatchError("cannot write the service log") from _wrapped(orig)
    except DispatchError as exc:
        return exc


@pytest.mark.parametrize(("make", "kind"), [
    (lambda: _wrapped(sqlite3.OperationalError("database is locked")), "busy"),
    (lambda: _wrapped(sqlite3.OperationalError("database table is locked")), "busy"),
    (lambda: _wrapped(_pg("SerializationFailure", "could not serialize access")), "busy"),
    (lambda: _wrapped(_pg("DeadlockDetected", "deadlock detected")), "busy"),
    (lambda: _wrapped(_pg("LockNotAvailable", "could not obtain lock")), "busy"),
    (lambda: sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"), "busy"),
    (lambda: _wrapped(_pg("AdminShutdown", "terminating connection due to administrator command")), "unavailable"),
    (lambda: _wrapped(_pg("TooManyConnections", "sorry, too many clients already")), "unavailable"),
    (lambda: _wrapped(pytest.importorskip("psycopg").OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused')),
     "unavailable"),
    (lambda: _wrapped_in_ours(sqlite3.OperationalError("database is locked")), "busy"),
])
def test_store_failures_that_a_retry_can_cure_are_told_apart(make: Any, kind: str) -> None:
    """Locked, busy, serialisation and connection failures on SQLite and PostgreSQL (also inside
    one of our errors) are "retry later"; the kind sets the Retry-After."""
    found = store_unavailable(make())
    assert found is not None and found[0] == kind, found


@pytest.mark.parametrize("make", [
    lambda: _wrapped(sqlite3.OperationalError("no such table: service_log")),
    lambda: _wrapped(sqlite3.IntegrityError("UNIQUE constraint failed")),
    lambda: RuntimeError("database is locked, says a message that is not the store's"),
    lambda: DispatchError("a plain refusal"),
])
def test_other_errors_are_not_store_unavailable(make: Any) -> None:
    assert store_unavailable(make()) is None


class _Raising:
    """A live service whose reads raise ``exc``."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def kpis(self) -> dict:
        raise self.exc


@pytest.mark.parametrize(("make", "status"), [
    (lambda: _wrapped(sqlite3.OperationalError("database is locked")), 503),
    (lambda: _wrapped(pytest.importorskip("psycopg").OperationalError(
        'connection to server at "10.1.2.3", port 5432 failed: Connection refused')), 503),
    (lambda: RuntimeError("secret internals at /srv/dispatch/x.py, line 3"), 500),
    (lambda: _wrapped(sqlite3.IntegrityError("secret internals: UNIQUE constraint failed")), 500),
])
def test_server_errors_answer_json_without_internals(make: Any, status: int) -> None:
    """A store that is busy or unreachable: 503 with Retry-After; anything else: a JSON 500. Neither
    carries a traceback, the exception's text or the database's address."""
    c = TestClient(create_app(_config("sqlite://"), _Raising(make())), raise_server_exceptions=False)  # type: ignore[arg-type]
    r = c.get("/kpis", headers=V)
    assert r.status_code == status and r.headers["content-type"] == "application/json", r.text
    assert r.json()["detail"] and r.json()["reason"] in {"store_busy", "store_unavailable", "internal_error"}
    assert ("retry-after" in r.headers) == (status == 503)
    assert not any(s in r.text for s in ("Traceback", "secret", "/srv", "10.1.2.3", "UNIQUE", "Error"))


# ---- a chunked body over the limit: 413 as documented ------------------------------------------

def _huge_chunks() -> Any:
    yield b'{"id": "' + b"a" * 40_000
    yield b"a" * 40_000 + b'"}'


def test_a_chunked_body_over_the_limit_is_413_counted_as_it_streams(tmp_path: Path) -> None:
    """A body without a Content-Length is counted as it streams: 413 (JSON), not 400; one under the limit is taken."""
    db = f"sqlite:///{tmp_path / 'chunked.sqlite'}"
    c = TestClient(create_app(_config(db), LiveService(_config(db))))
    r = c.post("/calls", content=_huge_chunks(), headers={**D, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json() == {"detail": "request body over 65536 bytes"}, r.text
    body = json.dumps(call_bodies("tiny", 1, 1, "chunked")[0]).encode()
    r = c.post("/calls", content=iter([body[:20], body[20:]]), headers={**D, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


# ---- failed authentication, throttled per client address ---------------------------------------

def test_failed_authentication_is_throttled_per_address_and_accepted_tokens_pass(tmp_path: Path) -> None:
    """After AUTH_FAILURES failed authentications from one address, its next attempts get 429 with
    Retry-After, an unknown token or none; a token already accepted from it still works; another
    address has its own budget."""
    db = f"sqlite:///{tmp_path / 'auth.sqlite'}"
    app = create_app(_config(db), LiveService(_config(db)))
    here, there = TestClient(app, client=("10.0.0.1", 40000)), TestClient(app, client=("10.0.0.2", 40000))
    assert here.get("/kpis", headers=D).status_code == 200  # accepted from here before the storm
    codes = [here.get("/kpis", headers=WRONG).status_code for _ in range(AUTH_FAILURES)]
    assert codes == [401] * AUTH_FAILURES
    r = here.get("/kpis", headers={"Authorization": "Bearer " + secrets.token_urlsafe(24)})
    assert r.status_code == 429 and r.headers["content-type"] == "application/json", r.text
    assert 1 <= int(r.headers["retry-after"]) <= AUTH_WINDOW_S / AUTH_FAILURES
    assert "failed authentications" in r.json()["detail"]
    assert here.get("/kpis").status_code == 429  # no token at all
    assert here.get("/kpis", headers=V).status_code == 429  # never accepted from here: not even compared
    assert here.get("/kpis", headers=D).status_code == 200  # accepted from here before
    assert there.get("/kpis", headers=WRONG).status_code == 401
    assert there.get("/kpis", headers=V).status_code == 200
    assert here.get("/health").status_code == 200  # no token, no throttle


def test_the_auth_throttle_refills_over_its_window() -> None:
    """AUTH_FAILURES at once, then one more every window / AUTH_FAILURES seconds."""
    now = [0.0]
    t = AuthThrottle(clock=lambda: now[0])
    step = AUTH_WINDOW_S / AUTH_FAILURES
    for _ in range(AUTH_FAILURES):
        assert t.wait("a", None) == 0.0
        t.failed("a")
    assert t.wait("a", None) == pytest.approx(step)
    now[0] += step / 2
    assert t.wait("a", None) == pytest.approx(step / 2)
    now[0] += step / 2
    assert t.wait("a", None) == 0.0
    t.failed("a")
    assert t.wait("a", None) > 0 and t.wait("b", None) == 0.0
    now[0] += AUTH_WINDOW_S
    assert all(t.wait("a", None) == 0.0 for _ in range(3))


def test_the_auth_throttle_forgets_the_oldest_addresses_first() -> None:
    t = AuthThrottle(failures=1, max_entries=2)
    for a in ("a", "b", "c"):
        t.failed(a)
    assert t.wait("a", None) == 0.0 and t.wait("b", None) > 0 and t.wait("c", None) > 0


# ---- the real server: slow clients are cut off ------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("edges-server")
    s = Server(f"sqlite:///{folder / 'edges.sqlite'}", "tiny", 1, 0, TOKEN, folder / "server.log")
    s.start()
    yield s
    s.stop()


def _read_until_closed(sock: socket.socket, limit_s: float) -> bytes:
    sock.settimeout(limit_s)
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return out
        if not chunk:
            return out
        out += chunk


def _dribble(port: int, head: bytes, dribble: bytes, every_s: float, limit_s: float) -> tuple[float, bytes]:
    """Send ``head`` at once, then ``dribble`` a byte every ``every_s``; (seconds until the server
    answered or closed, what it sent), or (inf, ...) if it still held on after ``limit_s``."""
    sock = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    try:
        if head:
            sock.sendall(head)
        sock.settimeout(every_s)
        got = b""
        for byte in dribble:
            if time.monotonic() - t0 > limit_s:
                return float("inf"), got
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    return time.monotonic() - t0, got
                got += chunk
                return time.monotonic() - t0, got + _read_until_closed(sock, 2.0)
            except TimeoutError:
                pass
            try:
                sock.send(bytes([byte]))
            except OSError:
                return time.monotonic() - t0, got
        return float("inf"), got
    finally:
        sock.close()


def test_slow_clients_are_cut_off_on_the_real_server(server: Any) -> None:
    """On uvicorn: headers sent a byte at a time, a body sent a byte at a time, and a connection
    that sends nothing are each cut off within their timeout (+ slack), the first two with a JSON
    408; a normal client on a keep-alive connection is served as before."""
    limit = max(HEADER_TIMEOUT_S, BODY_TIMEOUT_S) + SLACK_S + 2
    results: dict[str, tuple[float, bytes]] = {}
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
    runs = {
        "headers": (b"GET /kpis HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 400, 0.5, limit),
        "body": (b"POST /calls HTTP/1.1\r\nHost: x\r\n" + auth
                 + b"Content-Type: application/json\r\nContent-Length: 400\r\n\r\n", b'{"id": "' + b"b" * 390, 0.5, limit),
        "idle": (b"", b"\0" * 1000, 0.5, limit),  # never sends: the dribble is only the clock
    }

    def go(name: str) -> None:
        head, dribble, every, lim = runs[name]
        if name == "idle":
            sock = socket.create_connection(("127.0.0.1", server.port))
            t0 = time.monotonic()
            got = _read_until_closed(sock, lim)
            results[name] = (time.monotonic() - t0 if time.monotonic() - t0 < lim else float("inf"), got)
            sock.close()
            return
        results[name] = _dribble(server.port, head, dribble, every, lim)

    threads = [threading.Thread(target=go, args=(n,)) for n in runs]
    for th in threads:
        th.start()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as c:
        assert [c.get("/kpis").status_code for _ in range(3)] == [200, 200, 200]
    for th in threads:
        th.join()
    for name, timeout in (("headers", HEADER_TIMEOUT_S), ("body", BODY_TIMEOUT_S), ("idle", HEADER_TIMEOUT_S)):
        took, got = results[name]
        assert took <= timeout + SLACK_S, f"{name}: still connected after {took:.1f} s (timeout {timeout:g} s)"
        assert took >= timeout - 1, f"{name}: cut off after {took:.1f} s, before its timeout {timeout:g} s"
        if name == "idle":
            assert got == b""
        else:
            assert got.startswith(b"HTTP/1.1 408 "), (name, got[:200])
            assert b"content-type: application/json" in got.lower()
            assert b"did not arrive within" in got


def test_a_chunked_body_over_the_limit_is_413_on_the_real_server(server: Any) -> None:
    """On uvicorn, a chunked upload past 64 KiB is answered 413 (JSON) and the connection closed."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(b"POST /calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                     + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"a" * 16_384
        for _ in range(5):  # 80 KiB
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        got = _read_until_closed(sock, 10.0)
    finally:
        sock.close()
    assert got.startswith(b"HTTP/1.1 413 "), got[:300]
    assert got.endswith(b'{"detail": "request body over 65536 bytes"}') and b"connection: close" in got.lower()
