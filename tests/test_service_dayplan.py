"""A day plan as the service's base (``POST /plan``), pins and their undo, and the log as a board
reads it (``GET /events``): checked, logged, refused with a reason, replayed after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dashboard.console import plan_body
from dispatch.dataset import Dataset
from dispatch.model import DAY_S, Mode, Tier
from dispatch.network import Network
from dispatch.plan import PlanParams, make_plan
from dispatch.service import LiveService, ServiceConfig, create_app, token_digest
from dispatch.service.clock import ClockRule, ManualClock
from dispatch.tables import write_dataset
from tests.builders import EPOCH, NETWORK, H, centre, req, tech

# Deqing and Huzhou (one area), and Urumqi's centre far away (another area).
FAR = centre("P65", Tier.PROVINCE, None, 87.62, 43.83, {1, 2, 3}, 8, 9, 18, 0, "650000", "650100")
WORLD = Network((*NETWORK.centres, FAR))
TECHS = (tech("T1", "S1", 1), tech("T2", "C1", 2), tech("T9", "P65", 3))
CALLS = tuple(req(f"R{i}", 1, Mode.ONSITE, created_h=8 + i, lon=119.97 + 0.01 * i, lat=30.54, service_min=40)
              for i in range(4))
D, V = {"Authorization": "Bearer dispatcher-token-0123"}, {"Authorization": "Bearer viewer-token-012345"}


@pytest.fixture(scope="module")
def body():
    ds = Dataset(WORLD, TECHS, CALLS, EPOCH)
    return plan_body(make_plan(ds, PlanParams(deterministic=True)), ds, "board:test")


def _serve(tmp: Path, writer: bool = True) -> tuple[LiveService, TestClient]:
    if not (tmp / "data").exists():
        write_dataset(Dataset(WORLD, TECHS, (), EPOCH), tmp / "data")
    config = ServiceConfig(source=str(tmp / "data"), db=f"sqlite:///{tmp / 's.sqlite'}",
                           tokens=((token_digest(D["Authorization"][7:]), "dispatcher"),
                                   (token_digest(V["Authorization"][7:]), "viewer")),
                           clock_rule=ClockRule(DAY_S, DAY_S))
    svc = LiveService(config, clock=ManualClock(8 * H), writer=writer)
    return svc, TestClient(create_app(config, svc))


def _routes(c: TestClient, area: str) -> dict[str, list[str]]:
    p = c.get("/plan", params={"area": area}, headers=V).json()
    return {r["technician_id"]: [s["job_id"] for s in r["stops"]] for r in p["routes"]}


def test_a_posted_plan_is_the_days_base_and_is_replayed(tmp_path, body):
    svc, c = _serve(tmp_path)
    try:
        assert c.post("/plan", json=body, headers=V).status_code == 403
        r = c.post("/plan", json=body, headers=D)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["calls"] == 4 and got["routed"] == 4 and got["not_kept"] == [] and got["kept_live"] == []
        area = got["areas"][0]
        planned = {k: [x["id"] for x in v] for k, v in body["routes"].items() if v}
        assert {k: v for k, v in _routes(c, area).items() if v} == planned
        stop = c.get("/plan", params={"area": area}, headers=V).json()["routes"][0]["stops"][0]
        assert stop["lon"] and stop["window_end_s"] >= stop["window_start_s"] and stop["end_s"] > stop["start_s"]
        # A plan's job is a job of the service: a field report on it is taken.
        job = stop["job_id"]
        r = c.post(f"/jobs/{job}/status", json={"status": "dispatched", "at": stop["departure"]}, headers=D)
        assert r.status_code == 200, r.text
        log = c.get("/events", headers=V).json()
        assert log["plans"] == ["board:test"] and [e["kind"] for e in log["events"]] == ["plan", "status"]
        assert log["areas"][area] and log["head"] == log["events"][-1]["seq"]
        # The area has a change now: a new plan leaves it on the plan it holds.
        again = c.post("/plan", json={**body, "key": "board:test#2"}, headers=D).json()
        assert again["kept_live"] == [area] and area not in again["areas"]  # Urumqi's day takes it
        ours = {k: v for k, v in body["routes"].items() if k != "T9"}
        refused = c.post("/plan", json={**body, "key": "board:test#3", "routes": ours}, headers=D)
        assert refused.status_code == 409 and "already has changes" in refused.json()["detail"]
        before = {a: x.routes for a, x in svc.areas.items()}
    finally:
        svc.close()
    svc2, _ = _serve(tmp_path, writer=False)  # the log rebuilds the same plan
    assert {a: x.routes for a, x in svc2.areas.items()} == before
    assert not any(svc2.violations().values())


@pytest.mark.parametrize("change, field", [
    (lambda b: {**b, "routes": {"NOBODY": []}}, "routes"),
    (lambda b: {**b, "unassigned": [next(x for v in b["routes"].values() for x in v)]}, "routes"),
    (lambda b: {**b, "unassigned": [{**next(x for v in b["routes"].values() for x in v), "id": "W1",
                                     "window_start_s": 5 * H, "window_end_s": 4 * H}]}, "window_end_s"),
])
def test_a_bad_plan_is_refused_with_the_field(tmp_path, body, change, field):
    svc, c = _serve(tmp_path)
    try:
        r = c.post("/plan", json=change(body), headers=D)
        assert r.status_code == 422 and field in r.text, r.text
        assert c.get("/events", headers=V).json()["events"] == []
    finally:
        svc.close()


def test_pins_are_kept_or_refused_and_undone_one_by_one(tmp_path, body):
    svc, c = _serve(tmp_path)
    try:
        area = c.post("/plan", json=body, headers=D).json()["areas"][0]
        before = _routes(c, area)
        holder, jobs = next((k, v) for k, v in before.items() if v)
        job, other = jobs[-1], next(k for k in ("T1", "T2") if k != holder)
        assert c.post("/jobs/R0/pin", json={"technician_id": "T9"}, headers=D).status_code == 409  # another area
        assert c.post("/jobs/NOPE/pin", json={"technician_id": "T1"}, headers=D).status_code == 404
        r = c.post(f"/jobs/{job}/pin", json={"technician_id": other, "at": "2026-03-02T08:30:00"}, headers=D)
        if r.status_code == 409:  # he cannot keep it: nothing changed, said why
            assert "stays with" in r.json()["detail"] and _routes(c, area) == before
            pytest.fail("the hand-built day has room to move the last job: " + r.text)
        assert r.status_code == 200, r.text
        assert r.json()["from_technician"] == holder and job in _routes(c, area)[other]
        seq = c.get("/events", headers=V).json()["head"]
        call = c.post("/calls", json={"id": "U1", "lon": 119.98, "lat": 30.55, "at": "2026-03-02T09:00:00"},
                      headers=D)
        assert call.status_code == 200
        call_seq = c.get("/events", headers=V).json()["head"]
        assert c.post(f"/events/{call_seq}/undo", headers=D).status_code == 409  # a call is not undone
        assert c.post(f"/events/{seq}/undo", headers=D).status_code == 200
        after = _routes(c, area)
        assert job in after[holder] and job not in after[other]
        assert c.post(f"/events/{seq}/undo", headers=D).status_code == 404
        log = c.get("/events", headers=V).json()["events"]
        assert [(e["kind"], e["undone"]) for e in log] == [("plan", False), ("pin", True), ("call", False),
                                                          ("undo", False)]
        kept = {a: x.routes for a, x in svc.areas.items()}
    finally:
        svc.close()
    svc2, _ = _serve(tmp_path, writer=False)
    assert {a: x.routes for a, x in svc2.areas.items()} == kept


def test_a_move_to_a_technician_and_time_is_kept_checked_replayed_or_refused(tmp_path, body):
    """``POST /jobs/{id}/move``: the job to the other technician an hour before its window
    closes (its start then or later, the routes pass the checker, the log replays it); a move that cannot be kept is 409
    with the reason and leaves the plan and the log as they were."""
    svc, c = _serve(tmp_path)
    try:
        area = c.post("/plan", json=body, headers=D).json()["areas"][0]
        before = _routes(c, area)
        holder, jobs = next((k, v) for k, v in before.items() if v)
        job, other = jobs[0], next(k for k in ("T1", "T2") if k != holder)
        head = c.get("/events", headers=V).json()["head"]
        late = c.post(f"/jobs/{job}/move", json={"technician_id": other, "start": "2026-03-02T23:30:00",
                                                  "at": "2026-03-02T08:05:00"}, headers=D)
        assert late.status_code == 409, late.text
        assert "after the customer's window closes" in late.json()["detail"] and f"stays with {holder}" in late.json()["detail"]
        assert _routes(c, area) == before and c.get("/events", headers=V).json()["head"] == head
        bad = c.post(f"/jobs/{job}/move", json={"technician_id": other, "start": "2026-03-05T10:00:00"}, headers=D)
        assert bad.status_code == 422 and "served day" in bad.text
        # An hour before the customer's window closes: later than the job starts today.
        window_end = next(s for r_ in c.get("/plan", params={"area": area}, headers=V).json()["routes"]
                          for s in r_["stops"] if s["job_id"] == job)["window_end_s"]
        start = window_end - H
        r = c.post(f"/jobs/{job}/move", json={"technician_id": other, "at": "2026-03-02T08:05:00",
                                              "start": f"2026-03-02T{start // H:02d}:{start % H // 60:02d}:00"},
                   headers=D)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["from_technician"] == holder and got["technician_id"] == other
        assert got["not_before_s"] == start and got["start_s"] >= start
        after = _routes(c, area)
        assert job in after[other] and job not in after[holder]
        stop = next(s for r_ in c.get("/plan", params={"area": area}, headers=V).json()["routes"]
                    for s in r_["stops"] if s["job_id"] == job)
        assert stop["start_s"] == got["start_s"] >= got["not_before_s"]
        assert not any(svc.violations().values()), svc.violations()
        log = c.get("/events", headers=V).json()["events"]
        assert log[-1]["kind"] == "move" and log[-1]["technician_id"] == other
        kept = {a: x.routes for a, x in svc.areas.items()}
    finally:
        svc.close()
    svc2, c2 = _serve(tmp_path)  # the log replays the move
    try:
        assert {a: x.routes for a, x in svc2.areas.items()} == kept and not any(svc2.violations().values())
        seq = c2.get("/events", headers=V).json()["head"]
        assert c2.post(f"/events/{seq}/undo", headers=D).status_code == 200  # undone as a pin is
        assert job in _routes(c2, area)[holder]
    finally:
        svc2.close()
