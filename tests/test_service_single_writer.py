"""One live writer per store: a second service on the same store is refused, and a service that
lost its lease stops writing (the store's own lease is tested in tests/test_store_lease.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dispatch.service import LiveService, ServiceConfig, ServiceError, parse_tokens
from dispatch.service.clock import ManualClock
from dispatch.lease import LeaseHeld

HUZHOU = {"lon": 120.1, "lat": 30.9}


def _config(tmp_path: Path, **kw) -> ServiceConfig:  # type: ignore[no-untyped-def]
    return ServiceConfig(preset="tiny", db=f"sqlite:///{tmp_path / 's.sqlite'}",
                         tokens=parse_tokens("d-" + "q" * 30 + ":dispatcher"), **kw)


def test_a_second_server_on_the_same_store_is_refused_naming_the_first(tmp_path: Path) -> None:
    """Before the lease, two services on one store each booked the same technician at the same time."""
    first = LiveService(_config(tmp_path), clock=ManualClock(10 * 3600))
    try:
        with pytest.raises(LeaseHeld, match="another dispatch serve .* holds the live plan .* stop it or wait"):
            LiveService(_config(tmp_path), clock=ManualClock(10 * 3600))
        answer, _ = first.post_call({**HUZHOU, "id": "c-1"})
        assert answer["status"] == "planned"
    finally:
        first.close()
    second = LiveService(_config(tmp_path), clock=ManualClock(10 * 3600))  # released: starts at once
    try:
        assert set(second.calls) == {"c-1"}
    finally:
        second.close()


def test_a_read_only_copy_refuses_changes_and_forgets_them(tmp_path: Path) -> None:
    live = LiveService(_config(tmp_path), clock=ManualClock(10 * 3600))
    try:
        copy = LiveService(_config(tmp_path), clock=ManualClock(10 * 3600), writer=False)
        with pytest.raises(ServiceError) as e:
            copy.post_call({**HUZHOU, "id": "c-copy"})
        assert e.value.status == 503 and "lease" in str(e.value)
        assert "c-copy" not in copy.calls
        assert not any(ids for a in copy.areas.values() for ids in a.routes.values())
    finally:
        live.close()


def test_a_server_whose_lease_was_taken_over_stops_writing(tmp_path: Path) -> None:
    """A server paused past its lease (a long GC, a frozen VM) finds another holder: its next
    change is refused with 503, nothing is written and its memory is rebuilt from the log."""
    config = _config(tmp_path, lease_ttl_s=0.5)
    old = LiveService(config, clock=ManualClock(10 * 3600))
    old.keeper.stop(release=False)  # the heartbeat stops, as in a paused process
    new = LiveService(dataclasses.replace(config, lease_wait_s=5.0), clock=ManualClock(10 * 3600))
    try:
        with pytest.raises(ServiceError) as e:
            old.post_call({**HUZHOU, "id": "c-late"})
        assert e.value.status == 503 and "no longer holds" in str(e.value)
        assert "c-late" not in old.calls
        assert not any(ids for a in old.areas.values() for ids in a.routes.values())
        answer, _ = new.post_call({**HUZHOU, "id": "c-new"})
        assert answer["status"] == "planned"
        assert [e.key for e in new.store.service_entries(new.scope)] == ["c-new"]
    finally:
        new.close()


def test_an_expired_lease_nobody_took_is_renewed_by_the_next_write(tmp_path: Path) -> None:
    """A heartbeat paused past the lease (a database outage, a long pause) without a takeover:
    the next write renews the lease and is taken (it was refused for good before)."""
    import time

    svc = LiveService(_config(tmp_path, lease_ttl_s=0.3), clock=ManualClock(10 * 3600))
    try:
        svc.keeper.stop(release=False)
        time.sleep(0.5)
        answer, _ = svc.post_call({**HUZHOU, "id": "c-after"})
        assert answer["status"] == "planned" and svc.lost is None
    finally:
        svc.close()


def test_a_log_that_cannot_be_read_after_a_failed_write_stops_the_server_answering(tmp_path: Path,
                                                                                  monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A failed write rebuilds the areas from the log; if the log cannot be read either, the
    server answers 503 until restarted instead of serving emptied areas."""
    from sqlalchemy.exc import OperationalError

    svc = LiveService(_config(tmp_path), clock=ManualClock(10 * 3600))
    try:
        svc.post_call({**HUZHOU, "id": "c-0"})

        def down(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))

        monkeypatch.setattr(svc.store, "append_service_entry", down)
        monkeypatch.setattr(svc.store, "service_entries", down)
        with pytest.raises(OperationalError):
            svc.post_call({**HUZHOU, "id": "c-1"})
        with pytest.raises(ServiceError) as e:
            svc.post_call({**HUZHOU, "id": "c-2"})
        assert e.value.status == 503 and "restart" in str(e.value)
        assert svc.broken and "server closed the connection" in svc.broken
    finally:
        monkeypatch.undo()
        svc.close()
