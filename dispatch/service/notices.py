"""ETA notices: a customer with a booked window is told when the expected arrival moves by more
than ``Rules.eta_notice_threshold_s`` or the window will be missed.

* :class:`NoticeTracker` watches the booked jobs and what each customer was last told; after
  every change of the live plan (a call, a field report, a drop-out) the service asks it for
  the notices the change causes in the areas it touched, and writes them to the store's outbox
  in the same transaction as the change's log entry (``Store.append_service_entry(notices=)``):
  a change is never acknowledged without its notices, nor a notice kept for a change that was
  not. After a restart, what was told is read back from the outbox.
* :class:`NoticeSender` delivers the outbox to a webhook URL (a POST of JSON, the notice id also
  in the ``Idempotency-Key`` header): at least once, with exponential back-off between failed
  attempts; a server killed between the change and the delivery (or after the receiver took it
  but before it was marked) sends it again after the restart, so the receiver drops repeats by
  notice id.

Reasons: ``eta_moved`` (the arrival moved by more than the threshold), ``window_missed`` (the
plan now starts the work after the window's end: an overrun before it, say), ``unassigned``
(nobody is planned to come any more: a drop-out nobody could take over; the detail says why).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dispatch.live.area import LiveArea
from dispatch.live.calls import JobState
from dispatch.store import Store

log = logging.getLogger("uvicorn.error")  # the server's error log, as the app's

ETA_MOVED, WINDOW_MISSED, UNASSIGNED = "eta_moved", "window_missed", "unassigned"


@dataclass
class Watched:
    job_id: str
    customer_id: str
    area: str
    window_end_s: int
    told_eta_s: int | None  # the arrival the customer was last given (None: told nobody comes)
    told: str = "booked"  # the last notice's reason (or the booking)


class NoticeTracker:
    def __init__(self, threshold_s: int) -> None:
        self.threshold_s = threshold_s
        self.watched: dict[str, Watched] = {}

    def watch(self, job_id: str, customer_id: str, area: str, window_end_s: int, eta_s: int) -> None:
        self.watched[job_id] = Watched(job_id, customer_id, area, window_end_s, eta_s)

    def told(self, notice: dict[str, Any]) -> None:
        """A notice was committed: it is what the customer knows from now on."""
        w = self.watched.get(notice["job_id"])
        if w is not None:
            w.told_eta_s, w.told = notice["new_eta_s"], notice["reason"]

    def changes(self, areas: list[str], area_of_job: Callable[[str, str], LiveArea], at_s: int) -> list[dict[str, Any]]:
        """The notices the plan as it stands now owes the watched customers in ``areas``."""
        out = []
        for w in self.watched.values():
            if w.area not in areas:
                continue
            live = area_of_job(w.job_id, w.area)
            state = live.state(w.job_id)
            if state in (JobState.ON_SITE, JobState.DONE, JobState.CANCELLED):
                continue  # he is there (or was), or the customer called it off
            detail = ""
            if state == JobState.UNASSIGNED:
                reason, new = UNASSIGNED, None
                detail = live.unassigned[w.job_id].reason
            else:
                tid = next(t for t, ids in live.routes.items() if w.job_id in ids)
                stop = next(s for s in live.schedule(tid).stops if s.visit_id == w.job_id)
                new = stop.arrival_s
                moved = w.told_eta_s is None or abs(new - w.told_eta_s) > self.threshold_s
                reason = WINDOW_MISSED if stop.start_s > w.window_end_s else ETA_MOVED if moved else ""
                if reason == WINDOW_MISSED and w.told == WINDOW_MISSED and not moved:
                    reason = ""  # already told, and no further move worth telling
            if not reason or (reason == UNASSIGNED and w.told == UNASSIGNED):
                continue
            out.append({"notice_id": f"n-{uuid.uuid4().hex[:24]}", "job_id": w.job_id, "customer_id": w.customer_id,
                        "old_eta_s": w.told_eta_s, "new_eta_s": new, "reason": reason, "detail": detail,
                        "at_s": at_s})
        return out


class NoticeSender:
    """Delivers a scope's outbox to ``url`` from a thread of its own until :meth:`stop`."""

    def __init__(self, store: Store, scope: str, url: str, iso: Callable[[int | None], str | None],
                 backoff_s: float = 1.0, max_backoff_s: float = 300.0, timeout_s: float = 5.0,
                 poll_s: float = 0.5) -> None:
        self.store, self.scope, self.url, self.iso = store, scope, url, iso
        self.backoff_s, self.max_backoff_s, self.timeout_s, self.poll_s = backoff_s, max_backoff_s, timeout_s, poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> NoticeSender:
        self._thread = threading.Thread(target=self._run, name="notice-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout_s + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception as exc:  # noqa: BLE001 - a store outage: the next round tries again
                log.warning("notice delivery: %s: %s", type(exc).__name__, str(exc)[:200])
            self._stop.wait(self.poll_s)

    def deliver_due(self) -> int:
        """One round: every notice due now is posted once; returns how many were delivered."""
        delivered = 0
        for n in self.store.notices(self.scope, due_at=dt.datetime.now(dt.UTC), limit=100):
            if self._stop.is_set():
                break
            error = self._post(n)
            wait_s = min(self.max_backoff_s, self.backoff_s * 2 ** n["attempts"])
            self.store.notice_attempted(n["notice_id"], error is None,
                                        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait_s), error)
            delivered += error is None
        return delivered

    def body(self, n: dict[str, Any]) -> dict[str, Any]:
        """What the receiver gets: the notice as ``GET /notices`` lists it, less the delivery's state."""
        row = notice_rows([n], self.iso)[0]
        return {k: v for k, v in row.items() if k not in ("attempts", "delivered", "delivered_at", "last_error")}

    def _post(self, n: dict[str, Any]) -> str | None:
        """None when the receiver took it (2xx), else what went wrong."""
        req = urllib.request.Request(self.url, data=json.dumps(self.body(n)).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Idempotency-Key": n["notice_id"]})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:  # the configured webhook
                return None if 200 <= r.status < 300 else f"HTTP {r.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"


def notice_rows(rows: list[dict[str, Any]], iso: Callable[[int | None], str | None]) -> list[dict[str, Any]]:
    """The outbox as ``GET /notices`` lists it (times ISO 8601, China Standard Time)."""
    return [{"notice_id": n["notice_id"], "customer_id": n["customer_id"], "job_id": n["job_id"],
             "old_eta": iso(n["old_eta_s"]), "new_eta": iso(n["new_eta_s"]), "old_eta_s": n["old_eta_s"],
             "new_eta_s": n["new_eta_s"], "reason": n["reason"], "detail": n["detail"], "at": iso(n["at_s"]),
             "attempts": n["attempts"], "delivered": n["delivered_at"] is not None,
             "delivered_at": None if n["delivered_at"] is None else n["delivered_at"].isoformat(),
             "last_error": n["last_error"]} for n in rows]
