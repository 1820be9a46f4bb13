"""The call-intake service: API contract, auth and limits, idempotency, durability, fuzz, crash."""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dispatch.errors import DispatchError
from dispatch.live import JobState
from dispatch.service import LiveService, ServiceConfig, create_app, parse_tokens, token_digest
from dispatch.service.clock import CST

import datetime as dt

DISPATCHER = "d-" + "x" * 30
VIEWER = "v-" + "y" * 30
D = {"Authorization": f"Bearer {DISPATCHER}"}
V = {"Authorization": f"Bearer {VIEWER}"}
DAY = "2026-03-02"  # the tiny preset's epoch date
HUZHOU = {"lon": 120.1, "lat": 30.9}


def _config(db: str, **kw) -> ServiceConfig:  # type: ignore[no-untyped-def]
    return ServiceConfig(preset="tiny", db=db, tokens=parse_tokens(f"{DISPATCHER}:dispatcher,{VIEWER}:viewer"), **kw)


class ClientsClock:
    """The server's clock in these tests: each request below sets it to the time it sends, as a
    call centre whose clock agrees with the server's (the clock rule has its own tests)."""

    now = 10 * 3600

    def now_s(self) -> int:
        return self.now


CLOCK = ClientsClock()


def _service(db: str, writer: bool = True, **kw) -> LiveService:  # type: ignore[no-untyped-def]
    return LiveService(_config(db, **kw), clock=CLOCK, writer=writer)


def _sent(body: dict) -> dict:
    """Set the server's clock to the body's ``at`` (a time on the tiny preset's day 0)."""
    if body.get("at"):
        t = dt.datetime.fromisoformat(body["at"])
        t = t if t.tzinfo else t.replace(tzinfo=CST)
        CLOCK.now = int((t - dt.datetime.fromisoformat(DAY).replace(tzinfo=CST)).total_seconds())
    return body


def _post(client: TestClient, path: str, body: dict):  # type: ignore[no-untyped-def]
    return client.post(path, json=_sent(body), headers=D)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('service') / 'service.sqlite'}"


@pytest.fixture(scope="module")
def service(db: str) -> LiveService:
    return _service(db)


@pytest.fixture(scope="module")
def client(service: LiveService, db: str) -> TestClient:
    return TestClient(create_app(_config(db), service))


def _call(client: TestClient, **body) -> dict:  # type: ignore[no-untyped-def]
    r = _post(client, "/calls", {**HUZHOU, "at": f"{DAY}T10:00:00", **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_openapi_document_in_the_repo_is_the_apps(client: TestClient) -> None:
    """docs/openapi.json is exactly the app's OpenAPI document."""
    doc = json.loads((Path(__file__).parents[1] / "docs" / "openapi.json").read_text())
    assert doc == client.app.openapi()  # type: ignore[attr-defined]


def test_health_needs_no_token(client: TestClient) -> None:
    """/health answers without a token."""
    assert client.get("/health").json() == {"status": "ok"}


def test_call_gets_a_decision_with_times_and_the_deadline(client: TestClient) -> None:
    """A call gets a technician who sets off within the hour of its clock, times in local time, alternatives by arrival."""
    d = _call(client, id="c-decision", level=1, mode="onsite", priority=2)
    assert d["status"] == "planned" and d["technician_id"] and d["centre_id"]
    assert d["meets_deadline"] is True and d["late_s"] == 0
    assert d["departure"].startswith(f"{DAY}T") and d["departure"].endswith("+08:00")
    assert d["clock_start_s"] <= d["departure_s"] <= d["dispatch_deadline_s"] <= d["clock_start_s"] + 3600
    assert d["arrival_s"] >= d["departure_s"]
    assert len(d["alternatives"]) <= 3 and all(a["technician_id"] != d["technician_id"] for a in d["alternatives"])
    assert [a["arrival_s"] for a in d["alternatives"]] == sorted(a["arrival_s"] for a in d["alternatives"])


def test_call_by_county_code_and_walkin(client: TestClient) -> None:
    """A call placed by county code gets a station; a walk-in gets no technician."""
    assert _call(client, lon=None, lat=None, county="330503")["station_id"]
    w = _call(client, mode="walkin")
    assert w["status"] == "walkin" and w["technician_id"] is None


def test_idempotent_retry_returns_the_first_answer_and_stores_one_row(client: TestClient, service: LiveService) -> None:
    """A retried call (by id or Idempotency-Key) replays the first answer and stores one row; another body is 409."""
    first = _call(client, id="c-retry", level=1)
    again = _call(client, id="c-retry", level=1)
    assert again["replayed"] is True and again["technician_id"] == first["technician_id"]
    via_header = client.post("/calls", json={**HUZHOU, "at": f"{DAY}T10:00:00", "level": 1},
                             headers={**D, "Idempotency-Key": "c-retry"})
    assert via_header.json()["replayed"] is True
    rows = [e for e in service.store.service_entries(service.scope, "call") if e.key == "c-retry"]
    assert len(rows) == 1
    other = client.post("/calls", json={**HUZHOU, "at": f"{DAY}T10:00:00", "id": "c-retry", "level": 2}, headers=D)
    assert other.status_code == 409 and "different call" in other.json()["detail"]


def test_auth_401_without_or_with_a_wrong_token_and_403_for_a_viewer_writing(client: TestClient) -> None:
    """No or a wrong bearer token is 401; a viewer may read, but writing is 403."""
    r = client.post("/calls", json=HUZHOU)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/kpis", headers={"Authorization": "Bearer wrong-token-of-some-length"}).status_code == 401
    assert client.get("/kpis", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.post("/calls", json=HUZHOU, headers=V).status_code == 403
    assert client.post("/technicians/x/unavailable", json={}, headers=V).status_code == 403
    assert client.post("/jobs/x/status", json={"status": "done"}, headers=V).status_code == 403
    assert client.get("/kpis", headers=V).status_code == 200


@pytest.mark.parametrize("body, field", [
    ({**HUZHOU, "level": 7}, "level"),
    ({**HUZHOU, "mode": "teleport"}, "mode"),
    ({**HUZHOU, "priority": 0}, "priority"),
    ({"lon": 12.0, "lat": 30.9}, "lon"),
    ({"lon": 120.1}, "lat"),
    ({**HUZHOU, "at": "2026-03-05T10:00:00"}, "at"),
    ({**HUZHOU, "at": "yesterday"}, "at"),
    ({**HUZHOU, "mode": "onsite", "level": 3}, "level"),
    ({**HUZHOU, "county": "330503"}, "county"),
    ({"county": "999999"}, "county"),
    ({**HUZHOU, "window_start": f"{DAY}T12:00:00", "window_end": f"{DAY}T11:00:00"}, "window_end"),
    ({**HUZHOU, "id": "bad id with spaces"}, "id"),
    ({**HUZHOU, "colour": "red"}, "colour"),
])
def test_bad_bodies_are_422_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    """An invalid call body is 422 naming the offending field."""
    r = client.post("/calls", json=body, headers=D)
    assert r.status_code == 422, r.text
    assert field in [e["loc"][-1] for e in r.json()["detail"]], r.json()


def test_bad_status_body_is_422(client: TestClient) -> None:
    """An unknown job status is 422 naming body.status."""
    r = client.post("/jobs/x/status", json={"status": "teleported"}, headers=D)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "status"]


def test_body_over_64_kib_is_413(client: TestClient) -> None:
    """A body over 64 KiB is refused with 413."""
    r = client.post("/calls", content=b'{"x": "' + b"a" * 70_000 + b'"}',
                    headers={**D, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_rate_limit_per_token_is_429(service: LiveService, db: str) -> None:
    """Past its burst a token gets 429, while another token keeps its own bucket."""
    c = TestClient(create_app(_config(db, rate_per_s=0.5, burst=2), service))
    codes = [c.get("/kpis", headers=V).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert c.get("/kpis", headers=D).status_code == 200  # another token has its own bucket


def test_no_cors_headers_by_default(client: TestClient) -> None:
    """No CORS header is sent unless configured."""
    r = client.options("/calls", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_status_reports_follow_the_job(client: TestClient) -> None:
    """Status reports move a job (dispatched freezes it, done ends it); done while planned is 409, an unknown job 404."""
    # The customer's window opens at 16:00, later than any other test's clock in this module
    # (the area's clock never goes back), so at any test order the job is still planned now.
    d = _call(client, id="c-status", level=1, at=f"{DAY}T10:30:00", window_start=f"{DAY}T16:00:00",
              window_end=f"{DAY}T18:00:00")
    early = client.post("/jobs/c-status/status", json={"status": "done", "at": f"{DAY}T09:00:00"}, headers=D)
    assert early.status_code == 409  # long before the clock: it counts as now, still planned
    at = d["departure"]
    assert _post(client, "/jobs/c-status/status", {"status": "dispatched", "at": at}).json()["frozen"]
    done = _post(client, "/jobs/c-status/status", {"status": "done", "at": d["arrival"]})
    assert done.status_code == 200 and done.json()["end_s"] >= d["arrival_s"]
    assert client.post("/jobs/nobody/status", json={"status": "done"}, headers=D).status_code == 404


def test_drop_out_replans_and_is_not_repeated(client: TestClient, service: LiveService) -> None:
    """A drop-out moves or explains the technician's jobs; a second is 409, an unknown technician 404."""
    d = _call(client, id="c-drop", level=1, at=f"{DAY}T11:00:00", window_start=f"{DAY}T15:00:00",
              window_end=f"{DAY}T17:00:00")
    tech = d["technician_id"]
    r = _post(client, f"/technicians/{tech}/unavailable", {"at": f"{DAY}T11:00:00"})
    assert r.status_code == 200, r.text
    assert "c-drop" in [m["job_id"] for m in r.json()["moved"]] + [u["job_id"] for u in r.json()["unserved"]]
    assert client.post(f"/technicians/{tech}/unavailable", json={}, headers=D).status_code == 409
    assert client.post("/technicians/T-nobody/unavailable", json={}, headers=D).status_code == 404


def test_plan_and_kpis(client: TestClient, service: LiveService) -> None:
    """An area's plan holds its calls (unknown area 404, none 422), and the KPIs count every call."""
    d = _call(client, id="c-plan", level=1)
    plan = client.get("/plan", params={"area": d["area"]}, headers=V).json()
    assert "c-plan" in [s["job_id"] for r in plan["routes"] for s in r["stops"]]
    assert client.get("/plan", params={"area": "000000"}, headers=V).status_code == 404
    assert client.get("/plan", headers=V).status_code == 422
    k = client.get("/kpis", headers=V).json()
    assert k["calls"] == len(service.calls) and 0 <= k["kpis"]["dispatch_within_target_rate"] <= 1


def test_concurrent_calls_never_share_a_slot_and_restart_rebuilds_the_same_plan(client: TestClient, db: str,
                                                                               service: LiveService) -> None:
    """Sixteen concurrent calls leave no overlapping work, and a restart replays the log into the same plan."""
    answers: list[dict] = []

    def post(i: int) -> None:
        answers.append(_call(client, id=f"c-conc-{i}", lon=120.1 + 0.01 * (i % 5), at=f"{DAY}T13:00:00"))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 16
    assert service.violations() == {a: [] for a in service.areas}  # no overlapping work anywhere
    again = _service(db, writer=False)  # what the log rebuilds, beside the live server
    assert {a: x.routes for a, x in again.areas.items()} == {a: x.routes for a, x in service.areas.items()}
    assert set(again.calls) == set(service.calls)
    assert all(not v for v in again.violations().values())


def test_tokens_are_parsed_with_roles_and_never_echoed() -> None:
    """Tokens are kept as digests with their roles; an invalid role's error never echoes the token."""
    assert parse_tokens("a" * 16 + ":viewer\n# comment\n" + "b" * 16 + ":dispatcher") == (
        (token_digest("a" * 16), "viewer"), (token_digest("b" * 16), "dispatcher"))
    with pytest.raises(DispatchError) as e:
        parse_tokens("secret-token-123456:admin")
    assert "secret-token" not in str(e.value)


# ---- property-based fuzz of the OpenAPI document: no input gives a 5xx -----------------------

schemathesis = pytest.importorskip("schemathesis")


def test_fuzz_finds_no_server_error(service: LiveService, db: str) -> None:
    """No request generated from the OpenAPI document gets a 5xx."""
    from hypothesis import HealthCheck, given, settings

    app = create_app(_config(db, rate_per_s=1e6, burst=10**6), service)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    for op in schema.get_all_operations():
        operation = op.ok()

        @settings(max_examples=25, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case) -> None:  # type: ignore[no-untyped-def]
            r = case.call(headers=D)
            assert r.status_code < 500, (case.method, case.path, case.body, r.text)

        fuzz()


# (SIGKILL, damage, full disk and concurrency on both engines: tests/test_faults.py)

def test_onsite_calls_beyond_the_skilled_technicians_are_collected_and_replayed(tmp_path: Path) -> None:
    """Once no level-2 technician can set off in time, an on-site call is collected with the promise kept, and replayed so."""
    db = f"sqlite:///{tmp_path / 'collect.sqlite'}"
    svc = _service(db)
    c = TestClient(create_app(_config(db), svc))
    # Long level-2 on-site jobs at 10:00 until nobody able to do level 2 can set off within the
    # hour: the next one is collected by a technician who can, with the promise kept.
    collected = None
    for i in range(60):
        d = _call(c, id=f"c-l2-{i}", level=2, mode="onsite", service_min=240)
        assert d["status"] == "planned" and d["meets_deadline"], d
        if d["visit_mode"] == "pickup":
            collected = d
            break
        assert d["visit_mode"] == "onsite" and d["note"] == ""
    assert collected is not None, "the level-2 technicians never ran out"
    assert "collects the device" in collected["note"]
    kpis = c.get("/kpis", headers=V).json()["kpis"]
    assert kpis["onsite_collected_share"] > 0
    assert svc.violations() == {a: [] for a in svc.areas}
    again = _service(db, writer=False)  # the log replays the collection, not the on-site call
    assert {a: x.routes for a, x in again.areas.items()} == {a: x.routes for a, x in svc.areas.items()}


@pytest.mark.parametrize("param", ["token", "access_token", "API_KEY", "Authorization"])
def test_a_credential_in_the_url_is_refused(client: TestClient, param: str) -> None:
    """A token in the query string is refused with 400 naming the parameter, even with a valid
    header, and no endpoint reads it (a URL is logged)."""
    r = client.get(f"/kpis?{param}={VIEWER}", headers=V)
    assert r.status_code == 400 and r.json()["field"] == param.lower(), r.text
    assert "Authorization: Bearer" in r.json()["detail"] and VIEWER not in r.text
    assert client.get("/plan?area=330500", headers=V).status_code != 400, "other parameters pass"


def test_no_log_line_of_the_server_carries_a_query_string(tmp_path: Path) -> None:
    """The real server (uvicorn, its access log to a file) never writes what a client put in a
    URL: a token sent there appears in no log line, and neither does the Authorization header."""
    import httpx

    from dispatch.bench.serve import Server

    token = secrets.token_urlsafe(24)
    server = Server(f"sqlite:///{tmp_path / 'log.sqlite'}", "tiny", 1, 0, token, tmp_path / "server.log")
    server.start()
    try:
        r = httpx.get(server.url + f"/kpis?token={token}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 400
        assert httpx.get(server.url + "/plan?area=330500", headers={"Authorization": f"Bearer {token}"},
                         timeout=30).status_code == 200
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text(encoding="utf-8", errors="replace")
    assert "GET /kpis?<redacted>" in log and "GET /plan?<redacted>" in log, log[-2000:]
    assert token not in log and "330500" not in log


def test_an_overrun_says_when_the_work_will_end_and_a_restart_keeps_it(tmp_path: Path) -> None:
    """An overrun with expected_end moves the job's end there (and what follows after it); the
    log replays it; expected_end with another status, or not after 'at', is 422 naming it."""
    db = f"sqlite:///{tmp_path / 'overrun.sqlite'}"
    svc = _service(db)
    c = TestClient(create_app(_config(db), svc))
    d = _call(c, id="c-over", level=1, mode="onsite", at=f"{DAY}T10:00:00")
    assert _post(c, "/jobs/c-over/status", {"status": "on_site", "at": d["arrival"]}).status_code == 200
    at = (dt.datetime.fromisoformat(d["arrival"]) + dt.timedelta(minutes=20)).isoformat()
    end = (dt.datetime.fromisoformat(d["arrival"]) + dt.timedelta(minutes=95)).isoformat()
    bad = _post(c, "/jobs/c-over/status", {"status": "done", "at": at, "expected_end": end})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "expected_end"], bad.text
    assert "goes with an 'overrun' report only" in bad.text
    bad = _post(c, "/jobs/c-over/status", {"status": "overrun", "at": at, "expected_end": d["arrival"]})
    assert bad.status_code == 422 and "expected a time after the report" in bad.text, bad.text
    r = _post(c, "/jobs/c-over/status", {"status": "overrun", "at": at, "expected_end": end})
    assert r.status_code == 200 and r.json()["end"] == end and r.json()["state"] == "on_site", r.text
    again = _service(db, writer=False)
    area = r.json()["area"]
    assert again.areas[area].frozen["c-over"].end_s == r.json()["end_s"]


def test_a_technician_not_out_today_is_told_apart_from_an_unknown_one(client: TestClient, service: LiveService) -> None:
    """Marking unavailable a field technician on his weekly rest day (the tiny day is a Monday),
    or a bench technician, is 409 saying so (it was 'unknown technician'); a name not on the
    roster stays 404."""
    resting = next(t for t in service.roster.values() if t.role == "field" and t.rest_weekday == 0)
    bench = next(t for t in service.roster.values() if t.role == "bench")
    r = client.post(f"/technicians/{resting.id}/unavailable", json={}, headers=D)
    assert r.status_code == 409 and "rests on Mondays (weekly rest day)" in r.text, r.text
    r = client.post(f"/technicians/{bench.id}/unavailable", json={}, headers=D)
    assert r.status_code == 409 and "bench staff" in r.text and "not in the field" in r.text, r.text
    assert client.post("/technicians/nobody/unavailable", json={}, headers=D).status_code == 404


def test_an_unassigned_job_can_be_cancelled_and_a_restart_keeps_it_so(tmp_path: Path) -> None:
    """A call nobody can reach in its window is unassigned; its customer cancels it: 200, the
    job leaves the unassigned list (it was 409 'unassigned'), and the log replays the cancel.
    Any other report on an unassigned job is still 409."""
    db = f"sqlite:///{tmp_path / 'cancel.sqlite'}"
    svc = _service(db)
    c = TestClient(create_app(_config(db), svc))
    d = _call(c, id="c-gone", level=1, mode="onsite", window_start=f"{DAY}T10:00:00", window_end=f"{DAY}T10:01:00")
    assert d["status"] == "unassigned", d
    assert _post(c, "/jobs/c-gone/status", {"status": "done", "at": f"{DAY}T10:02:00"}).status_code == 409
    r = _post(c, "/jobs/c-gone/status", {"status": "cancelled", "at": f"{DAY}T10:02:00"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    area = r.json()["area"]
    assert "c-gone" not in svc.areas[area].unassigned and svc.areas[area].state("c-gone") == JobState.CANCELLED
    again = _service(db, writer=False)
    assert "c-gone" not in again.areas[area].unassigned and again.areas[area].state("c-gone") == JobState.CANCELLED
