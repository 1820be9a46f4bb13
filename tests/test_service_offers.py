"""The service's offers (dispatch.service.offers): a contracted station accepts or refuses; a
refusal re-offers the call with the deadline kept; the log replays both after a restart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

from fastapi.testclient import TestClient

from dispatch.contracts import Contract, ContractBook, OfferRates, contracts_frame
from dispatch.exports import csv_text
from dispatch.service import LiveService, ServiceConfig, create_app, parse_tokens
from dispatch.service.clock import CST
from dispatch.service.offers import OfferTimer
from dispatch.synthetic import generate
from dispatch.tables import write_dataset

TOKEN = "d-" + "z" * 30
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY = "2026-03-02"


class Clock:
    now = 10 * 3600

    def now_s(self) -> int:
        return self.now


def _at(clock: Clock, hm: str) -> str:
    t = dt.datetime.fromisoformat(f"{DAY}T{hm}:00").replace(tzinfo=CST)
    clock.now = int((t - dt.datetime.fromisoformat(DAY).replace(tzinfo=CST)).total_seconds())
    return f"{DAY}T{hm}:00"


def _contracted_service(tmp_path: Path, offers: OfferRates | None = None) -> tuple[ServiceConfig, Clock]:
    """A tiny dataset whose every centre is contracted (any tier may be), open all day and taking
    any job anywhere, so whoever wins a call is an offer; the service's config and clock."""
    ds = generate("tiny", days=1, seed=1)
    folder = tmp_path / "ds"
    write_dataset(ds, folder)
    rates = {} if offers is None else {"offers": offers}
    book = ContractBook({c.id: Contract(c.id, frozenset(c.levels), daily_jobs=100, roam="any",
                                        opening=dataclasses.replace(c.opening, start_s=0, end_s=86_400), **rates)
                         for c in ds.network})
    (folder / "contracts.csv").write_text(csv_text(contracts_frame(book)), encoding="utf-8")
    config = ServiceConfig(source=str(folder), db=f"sqlite:///{tmp_path / 's.sqlite'}",
                           tokens=parse_tokens(f"{TOKEN}:dispatcher"))
    return config, Clock()


def test_refusal_reoffers_keeping_the_deadline_and_replays(tmp_path: Path) -> None:
    config, clock = _contracted_service(tmp_path, OfferRates(timeout_s=15 * 60))
    svc = LiveService(config, clock=clock)
    client = TestClient(create_app(config, svc))
    r = client.post("/calls", json={"lon": 120.1, "lat": 30.9, "at": _at(clock, "10:00"), "id": "K1"}, headers=AUTH)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "offered" and first["offer"]["offer_id"] == "K1"
    station1 = first["offer"]["station_id"]
    assert [o["offer_id"] for o in client.get("/offers", headers=AUTH).json()] == ["K1"]

    r = client.post("/offers/K1/refuse", json={"at": _at(clock, "10:07")}, headers=AUTH)
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["previous_station_id"] == station1 and second["previous"] == "refused"
    assert second["status"] == "offered"  # every centre is contracted: the next best is a station too
    if second["status"] == "offered":
        assert second["offer"]["station_id"] != station1
        plan = client.get("/plan", params={"area": second["area"]}, headers=AUTH).json()
        assert {"job_id": "K1", "reason_code": "offered"}.items() <= next(
            u for u in plan["unassigned"] if u["job_id"] == "K1").items()  # nobody goes before the answer
        r = client.post("/offers/K1/accept", json={"at": _at(clock, "10:10")}, headers=AUTH)
        assert r.status_code == 200 and r.json()["status"] == "planned", r.text
        second = r.json()
        plan = client.get("/plan", params={"area": second["area"]}, headers=AUTH).json()
        stop = next(s for rt in plan["routes"] for s in rt["stops"] if s["job_id"] == "K1")
        assert stop["departure"] >= f"{DAY}T10:10:00+08:00"
        # The one-hour clock still runs from 10:00: lateness counts against the call's deadline.
        late = (dt.datetime.fromisoformat(stop["departure"]) - dt.datetime.fromisoformat(first["dispatch_deadline"]))
        assert stop["late_s"] == max(0, int(late.total_seconds()))
    assert client.post("/offers/K1/accept", json={"at": _at(clock, "10:11")}, headers=AUTH).status_code == 409
    tech = second.get("technician_id")
    svc.close()

    again = LiveService(config, clock=clock)  # a restart replays the log: the same plan
    try:
        assert again.offers.listing() == []
        held = {s.visit_id: r.technician_id for a in again.areas.values() for r in a.result().routes for s in r.stops}
        assert held.get("K1") == tech
    finally:
        again.close()


def test_lapsed_offer_cannot_be_accepted(tmp_path: Path) -> None:
    config, clock = _contracted_service(tmp_path)
    svc = LiveService(config, clock=clock)
    try:
        client = TestClient(create_app(config, svc))
        first = client.post("/calls", json={"lon": 120.1, "lat": 30.9, "at": _at(clock, "10:00"), "id": "K2"},
                            headers=AUTH).json()
        assert first["status"] == "offered"
        r = client.post("/offers/K2/accept", json={"at": _at(clock, "10:20")}, headers=AUTH)  # timeout 15 min
        assert r.status_code == 409 and "lapsed" in r.json()["detail"]
        assert client.post("/offers/NOPE/accept", json={}, headers=AUTH).status_code == 404
    finally:
        svc.close()


def test_an_unanswered_offer_lapses_on_the_servers_clock_and_is_reoffered(tmp_path: Path) -> None:
    """Nobody answers K3's offer: once the server's clock passes its 15-minute deadline, GET
    /offers (and the server's timer) re-offers it without the station, logged; a restart replays
    the same ledger."""
    config, clock = _contracted_service(tmp_path, OfferRates(timeout_s=15 * 60))
    svc = LiveService(config, clock=clock)
    try:
        client = TestClient(create_app(config, svc))
        first = client.post("/calls", json={"lon": 120.1, "lat": 30.9, "at": _at(clock, "10:00"), "id": "K3"},
                            headers=AUTH).json()
        assert first["status"] == "offered"
        station1 = first["offer"]["station_id"]
        _at(clock, "10:14")  # not yet due
        assert [(o["offer_id"], o["station_id"]) for o in client.get("/offers", headers=AUTH).json()] == [("K3", station1)]
        _at(clock, "10:16")  # past its deadline, 10:15
        listed = client.get("/offers", headers=AUTH).json()
        assert all(o["station_id"] != station1 for o in listed)  # struck off for this call
        again = listed[0]  # every centre is contracted: the next best is a station too
        assert again["offer_id"] == "K3" and again["offered"] == f"{DAY}T10:16:00+08:00"
        assert again["expires"] == f"{DAY}T10:31:00+08:00"
        kinds = [(e.kind, e.payload.get("action")) for e in svc.store.service_entries(svc.scope)]
        assert kinds.count(("offer", "lapse")) == 1
        # The second station refuses in turn: its answer is logged beside the lapse.
        assert client.post("/offers/K3/refuse", json={"at": _at(clock, "10:17")}, headers=AUTH).status_code == 200
        ledger = (svc.offers.listing(), svc.offers.refused)
    finally:
        svc.close()
    replayed = LiveService(config, clock=clock, writer=False)
    try:
        assert (replayed.offers.open.keys() == {o["offer_id"] for o in ledger[0]}
                and replayed.offers.refused == ledger[1] and station1 in ledger[1]["K3"])
    finally:
        replayed.close()


def test_the_offer_timer_lapses_due_offers_by_itself(tmp_path: Path) -> None:
    config, clock = _contracted_service(tmp_path)
    svc = LiveService(config, clock=clock)
    timer = OfferTimer(svc.offers, every_s=0.05).start()
    try:
        client = TestClient(create_app(config, svc))
        first = client.post("/calls", json={"lon": 120.1, "lat": 30.9, "at": _at(clock, "10:00"), "id": "K4"},
                            headers=AUTH).json()
        assert first["status"] == "offered"
        _at(clock, "10:30")
        for _ in range(100):
            if first["offer"]["station_id"] in svc.offers.refused.get("K4", []):
                break
            time.sleep(0.05)
        assert first["offer"]["station_id"] in svc.offers.refused["K4"]
        assert timer.error is None
    finally:
        timer.stop()
        svc.close()
