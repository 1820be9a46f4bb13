"""ETA notices (issue 19): a booked customer is told when the arrival moves by more than the
threshold, the window will be missed or nobody comes; the notice is in the outbox with its
change or not at all (SQLite and PostgreSQL), and reaches the webhook exactly once for the
receiver even when the server is killed between the change and the delivery."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from dispatch.bench.serve import Server
from dispatch.live import NewCall
from dispatch.service.notices import (
    ETA_MOVED,
    UNASSIGNED,
    WINDOW_MISSED,
    NoticeSender,
    NoticeTracker,
)
from dispatch.store import DuplicateEntryError, Store
from tests.builders import live_area

H = 3600


def _tracked(threshold_s: int = 1800):  # type: ignore[no-untyped-def]
    """T1 and T2 near Huzhou; job b (booked 10-14) with T1 after job a; the tracker watching b."""
    area = live_area(2, break_rule=False)
    area.insert(NewCall("a", 120.12, 30.88, 1800, 8 * H, 9 * H, 1, None, 1, release_s=8 * H), policy="travel")
    tid = next(t for t, ids in area.routes.items() if "a" in ids)
    area.insert_with(NewCall("b", 120.13, 30.89, 1800, 9 * H, 10 * H, 1, None, 1, release_s=8 * H), tid, "travel")
    stop = next(s for s in area.schedule(tid).stops if s.visit_id == "b")
    tracker = NoticeTracker(threshold_s)
    tracker.watch("b", "cust-b", "A", 10 * H, stop.arrival_s)
    return area, tracker, tid, stop


def test_a_small_move_says_nothing_an_overrun_past_the_window_says_so() -> None:
    area, tracker, tid, stop = _tracked()
    assert tracker.changes(["A"], lambda j, a: area, 8 * H) == []  # nothing moved
    assert tracker.changes(["B"], lambda j, a: area, 8 * H) == []  # another area's change
    area.advance(8 * H + 60)  # a is under way
    a_stop = next(s for s in area.schedule(tid).stops if s.visit_id == "a")
    area.report("a", "on_site", a_stop.arrival_s)
    # Still at job a 20 minutes past its planned end: b moves by less than the threshold.
    area.report("a", "overrun", a_stop.end_s + 20 * 60)
    assert tracker.changes(["A"], lambda j, a: area, a_stop.end_s + 20 * 60) == []
    # Two hours past it: b can only start after its window (10:00) ends.
    late = a_stop.end_s + 2 * H
    area.report("a", "overrun", late)
    [n] = tracker.changes(["A"], lambda j, a: area, late)
    assert n["reason"] == WINDOW_MISSED and n["customer_id"] == "cust-b" and n["old_eta_s"] == stop.arrival_s
    assert n["new_eta_s"] > stop.arrival_s + 1800
    tracker.told(n)
    assert tracker.changes(["A"], lambda j, a: area, late) == []  # told once, not at every change


def test_a_drop_out_nobody_can_cover_tells_the_customer_nobody_comes() -> None:
    area, tracker, tid, _ = _tracked()
    other = next(t for t in area.routes if t != tid)
    area.drop_out(other, 8 * H)
    area.drop_out(tid, 8 * H)
    [n] = tracker.changes(["A"], lambda j, a: area, 8 * H)
    assert n["reason"] == UNASSIGNED and n["new_eta_s"] is None and n["detail"]


def test_the_threshold_is_the_rule_books() -> None:
    area, tracker, tid, stop = _tracked(threshold_s=0)
    area.insert_with(NewCall("c", 120.125, 30.885, 900, 8 * H, 10 * H, 1, None, 1, release_s=8 * H), tid, "travel")
    moved = next(s for s in area.schedule(tid).stops if s.visit_id == "b").arrival_s != stop.arrival_s
    found = tracker.changes(["A"], lambda j, a: area, 8 * H)
    assert [n["reason"] for n in found] == ([ETA_MOVED] if moved else [])


def _notice(nid: str) -> dict:
    return {"notice_id": nid, "job_id": "b", "customer_id": "cust-b", "old_eta_s": 36_000, "new_eta_s": 40_000,
            "reason": ETA_MOVED, "detail": "", "at_s": 30_000}


def test_a_notice_is_written_with_its_change_or_not_at_all(store_url: str) -> None:
    store = Store(store_url)
    try:
        store.append_service_entry("s", "call", "k1", 0, {}, {}, idem="k1", notices=[_notice("n-1")])
        with pytest.raises(DuplicateEntryError):  # the change fails: its notice is not kept either
            store.append_service_entry("s", "call", "k1", 0, {}, {}, idem="k1", notices=[_notice("n-2")])
        assert [n["notice_id"] for n in store.notices("s")] == ["n-1"]
        assert store.notices("s", due_at=dt.datetime.now(dt.UTC))[0]["attempts"] == 0
        store.notice_attempted("n-1", False, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), "HTTP 503")
        assert store.notices("s", due_at=dt.datetime.now(dt.UTC)) == []  # backing off
        store.notice_attempted("n-1", True)
        [n] = store.notices("s")
        assert n["attempts"] == 2 and n["delivered_at"] is not None and store.notices("s", pending_only=True) == []
    finally:
        store.close()


class Receiver:
    """A webhook on loopback that keeps every notice id it got and processes each id once.
    ``mode``: ``refuse`` (503), ``slow`` (takes it, answers after ``slow_s``), ``ok``."""

    def __init__(self) -> None:
        self.mode, self.slow_s = "ok", 4.0
        self.received: list[str] = []
        self.processed: Counter[str] = Counter()
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                nid = body["notice_id"]
                assert self.headers["Idempotency-Key"] == nid
                outer.received.append(nid)
                outer.got.set()
                if outer.mode == "refuse":
                    self.send_response(503)
                    self.end_headers()
                    return
                if nid not in outer.processed:  # the dedup: a repeat is acknowledged, not processed
                    outer.processed[nid] += 1
                if outer.mode == "slow":
                    time.sleep(outer.slow_s)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notices"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_failed_deliveries_back_off_exponentially(tmp_path: Path, receiver: Receiver) -> None:
    store = Store(f"sqlite:///{tmp_path / 'n.sqlite'}")
    store.append_service_entry("s", "call", "k1", 0, {}, {}, idem="k1", notices=[_notice("n-1")])
    receiver.mode = "refuse"
    sender = NoticeSender(store, "s", receiver.url, lambda t: None if t is None else str(t), backoff_s=0.3)
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        while not sender.deliver_due():
            if store.notices("s")[0]["attempts"] > len(times):
                break
            time.sleep(0.02)
        times.append(time.monotonic())
        receiver.mode = "refuse" if len(times) < 2 else "ok"
        assert time.monotonic() - t0 < 5
    [n] = store.notices("s")
    assert n["delivered_at"] is not None and n["attempts"] == 3 and receiver.processed["n-1"] == 1
    # Waits of 0.3 s then 0.6 s between the attempts (doubling), give or take the polling.
    assert 0.25 <= times[1] - times[0] < 0.5 and 0.55 <= times[2] - times[1] < 0.9
    store.close()


def _notices(server: Server, h: dict) -> list[dict]:
    return httpx.get(server.url + "/notices", headers=h, timeout=30).json()["notices"]


def test_a_notice_survives_kills_between_change_and_delivery_and_arrives_once(tmp_path: Path,
                                                                           receiver: Receiver) -> None:
    """The server is killed while the webhook refuses the notice, and again while the webhook is
    taking it (before the server could mark it delivered); after the restarts the receiver has
    processed it exactly once, having been sent it at least twice. (SQLite: the outbox's
    transaction is tested on both engines above; three server starts are enough for one.)"""
    store_url = f"sqlite:///{tmp_path / 'kill.sqlite'}"
    token = secrets.token_urlsafe(24)
    h = {"Authorization": f"Bearer {token}"}
    server = Server(store_url, "tiny", 1, 0, token, tmp_path / "server.log", clock_start_s=9 * H)
    server.settings |= {"webhook_url": receiver.url, "notice_backoff_s": 0.2}
    receiver.mode = "refuse"
    server.start()
    try:
        book = {"id": "b1", "lon": 120.1, "lat": 30.9, "booked": True, "customer_id": "cust-1",
                "window_start": "2026-03-02T10:00:00", "window_end": "2026-03-02T14:00:00"}
        r = httpx.post(server.url + "/calls", json=book, headers=h, timeout=30)
        assert r.status_code == 200 and r.json()["booked"], r.text
        # Drop out whoever has the job until the customer must be told (a move > 30 min, or nobody).
        for _ in range(14):
            tech = next(s["technician_id"] for route in httpx.get(
                server.url + "/plan", params={"area": r.json()["area"]}, headers=h, timeout=30).json()["routes"]
                for s in [route] if any(x["job_id"] == "b1" for x in route["stops"]))
            assert httpx.post(server.url + f"/technicians/{tech}/unavailable", json={}, headers=h,
                              timeout=30).status_code == 200
            if _notices(server, h):
                break
        [notice] = _notices(server, h)[:1]
        assert notice["customer_id"] == "cust-1" and notice["job_id"] == "b1" and not notice["delivered"]
        assert receiver.got.wait(30)  # tried, refused
        server.kill()  # 1: between the change and its delivery
        receiver.got.clear()
        receiver.mode = "slow"
        server.start()
        assert receiver.got.wait(30)
        server.kill()  # 2: the receiver has it, the server never heard back
        assert not any(n["delivered"] for n in _notices_from_store(store_url))
        receiver.mode = "ok"
        server.start()
        deadline = time.monotonic() + 60
        while not all(n["delivered"] for n in _notices(server, h)):
            assert time.monotonic() < deadline, _notices(server, h)
            time.sleep(0.2)
    finally:
        server.stop()
    ids = {n["notice_id"] for n in _notices_from_store(store_url)}
    assert notice["notice_id"] in ids
    assert all(receiver.processed[i] == 1 for i in ids)  # exactly once, for the receiver
    assert receiver.received.count(notice["notice_id"]) >= 3  # refused, taken unheard, taken


def _notices_from_store(url: str) -> list[dict]:
    store = Store(url)
    try:
        return [{**n, "delivered": n["delivered_at"] is not None} for s in _scopes(store) for n in store.notices(s)]
    finally:
        store.close()


def _scopes(store: Store) -> list[str]:
    from sqlalchemy import select  # only this check lists the scopes

    from dispatch.store import notice_outbox

    with store.engine.connect() as conn:
        return sorted({r[0] for r in conn.execute(select(notice_outbox.c.scope)).all()})
