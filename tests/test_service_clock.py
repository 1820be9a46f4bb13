"""The live plan's clock is the server's, and a job's field reports only move it forward.

Each test runs its own service on the tiny preset with a clock the test moves (``ManualClock``),
so what a client sends can be compared with what the server's clock says."""

from __future__ import annotations

import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from dispatch.cli import cli
from dispatch.cli.serve import anchor_unix
from dispatch.live import JobState, StatusConflict
from dispatch.live.calls import REPORT_FOLLOWS, check_report
from dispatch.service import LiveService, ServiceConfig, create_app, parse_tokens
from dispatch.service.clock import ClockRule, ManualClock, RunningClock, judge

TOKEN = "d-" + "z" * 30
H = {"Authorization": f"Bearer {TOKEN}"}
DAY = "2026-03-02"  # the tiny preset's epoch date
HUZHOU = {"lon": 120.1, "lat": 30.9}


def hm(h: int, m: int = 0) -> int:
    return h * 3600 + m * 60


def _started(tmp_path: Path, now_s: int) -> tuple[TestClient, LiveService, ManualClock]:
    clock = ManualClock(now_s)
    config = ServiceConfig(preset="tiny", db=f"sqlite:///{tmp_path / 's.sqlite'}",
                           tokens=parse_tokens(f"{TOKEN}:dispatcher"))
    svc = LiveService(config, clock=clock)
    return TestClient(create_app(config, svc)), svc, clock


def _call(client: TestClient, at: str | None, **body) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/calls", json={**HUZHOU, **({"at": at} if at else {}), **body}, headers=H)
    assert r.status_code == 200, r.text
    return r.json()


# ---- class 1: no client's timestamp moves the clock ----------------------------------------

def test_local_time_marked_z_is_refused_and_does_not_poison_the_area(tmp_path: Path) -> None:
    """10:30Z is 18:30 in China: eight hours ahead of a server at 10:30, so it is refused with
    422 naming the field and the tolerance, and the next calls are decided on the real clock
    (before the rule, the area's clock jumped to 18:30 and every later call was refused)."""
    client, svc, clock = _started(tmp_path, hm(10, 30))
    first = _call(client, f"{DAY}T10:30:00+08:00", id="c-first", level=1)
    r = client.post("/calls", json={**HUZHOU, "at": f"{DAY}T10:30:00Z", "id": "c-utc"}, headers=H)
    assert r.status_code == 422, r.text
    err = r.json()["detail"][0]
    assert err["loc"] == ["body", "at"]
    assert "ahead of the server's clock" in err["msg"] and "at most 2 min" in err["msg"] and "UTC" in err["msg"]
    area = svc.areas[first["area"]]
    assert area.clock_s == hm(10, 30), "a refused call moved the area's clock"
    assert area.state("c-first") in (JobState.PLANNED, JobState.DISPATCHED), "an earlier job marked done"
    clock.set(hm(10, 40))
    urgent = _call(client, f"{DAY}T10:40:00", id="c-urgent", level=1, priority=3)
    assert urgent["status"] == "planned" and urgent["meets_deadline"], urgent
    assert urgent["at_s"] == hm(10, 40) and urgent["warnings"] == []
    # Nothing of the refused call was logged, so a restart rebuilds the same plan.
    again = LiveService(svc.config, clock=clock, writer=False)
    assert "c-utc" not in again.calls and again.areas[first["area"]].clock_s == area.clock_s


def test_a_time_within_the_tolerance_is_taken_as_sent(tmp_path: Path) -> None:
    client, _, _ = _started(tmp_path, hm(10, 30))
    d = _call(client, f"{DAY}T10:31:30", id="c-skew")
    assert d["at_s"] == hm(10, 31) + 30 and d["warnings"] == []
    assert _call(client, None, id="c-now")["at_s"] == hm(10, 30), "no 'at' is the server's clock"


def test_a_time_far_in_the_past_is_taken_as_now_with_a_warning(tmp_path: Path) -> None:
    """06:00 sent at 10:30 is taken as 10:30 (the promise clock starts now), and the answer says
    why; a call queued for 20 minutes keeps its own time."""
    client, svc, _ = _started(tmp_path, hm(10, 30))
    old = _call(client, f"{DAY}T06:00:00", id="c-old")
    assert old["at_s"] == hm(10, 30) and old["clock_start_s"] >= hm(10, 30)
    assert len(old["warnings"]) == 1 and "4 h 30 min before the server's clock" in old["warnings"][0]
    assert "taken as now" in old["warnings"][0]
    queued = _call(client, f"{DAY}T10:10:00", id="c-queued")
    assert queued["at_s"] == hm(10, 10) and queued["warnings"] == []


def test_field_reports_and_drop_outs_follow_the_same_clock_rule(tmp_path: Path) -> None:
    client, svc, clock = _started(tmp_path, hm(10, 0))
    d = _call(client, None, id="c-job", level=1)
    r = client.post("/jobs/c-job/status", json={"status": "dispatched", "at": f"{DAY}T17:00:00"}, headers=H)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "at"]
    r = client.post(f"/technicians/{d['technician_id']}/unavailable", json={"at": f"{DAY}T17:00:00"}, headers=H)
    assert r.status_code == 422
    assert svc.areas[d["area"]].clock_s == hm(10, 0) and not svc.areas[d["area"]].unavailable


def test_running_clock_continues_across_a_restart_with_the_same_anchor() -> None:
    anchor = time.time() - 60
    a, b = RunningClock(hm(8, 30), speed=60, anchor_unix=anchor), RunningClock(hm(8, 30), speed=60, anchor_unix=anchor)
    assert abs(a.now_s() - hm(9, 30)) <= 120 and abs(a.now_s() - b.now_s()) <= 60
    with pytest.raises(ValueError):
        RunningClock(0, speed=0)


def test_judge_by_hand() -> None:
    rule = ClockRule(future_tolerance_s=120, past_limit_s=1800)
    assert judge(1000 + 120, 1000, rule, str).at_s == 1120  # at the tolerance: as sent
    with pytest.raises(ValueError, match="ahead"):
        judge(1000 + 121, 1000, rule, str)
    assert judge(5000 - 1800, 5000, rule, str) == judge(3200, 5000, rule, str)
    assert judge(3200, 5000, rule, str).warning is None
    assert judge(3199, 5000, rule, str).at_s == 5000


# ---- class 4: a job's reports only move it forward ------------------------------------------

@pytest.mark.parametrize(("last", "allowed"), [
    (JobState.PLANNED, {"dispatched", "on_site", "overrun", "done", "cancelled"}),
    (JobState.DISPATCHED, {"on_site", "overrun", "done", "cancelled"}),
    (JobState.ON_SITE, {"overrun", "done"}),
    (JobState.DONE, set()),
    (JobState.CANCELLED, set()),
])
def test_the_report_order(last: JobState, allowed: set[str]) -> None:
    for status in REPORT_FOLLOWS:
        if status in allowed:
            check_report("j", status, 100, (last, 100))
        else:
            with pytest.raises(StatusConflict, match=f"is {last.value}"):
                check_report("j", status, 100, (last, 100))
    if allowed:  # never earlier than the last report
        with pytest.raises(StatusConflict):
            check_report("j", sorted(allowed)[0], 99, (last, 100))


def _dispatched_job(tmp_path: Path) -> tuple[TestClient, LiveService, ManualClock, dict]:
    client, svc, clock = _started(tmp_path, hm(10, 0))
    d = _call(client, None, id="c-j", level=1, window_start=f"{DAY}T13:00:00", window_end=f"{DAY}T16:00:00")
    clock.set(d["departure_s"])
    r = client.post("/jobs/c-j/status", json={"status": "dispatched"}, headers=H)
    assert r.status_code == 200 and r.json()["state"] == "dispatched", r.text
    return client, svc, clock, d


def test_a_done_job_refuses_on_site_and_dispatched_and_keeps_its_times(tmp_path: Path) -> None:
    """Before the state machine, on_site after done rewrote the arrival and a later dispatched
    was answered 200 and ignored; now both are 409 with the job's state, and nothing moves."""
    client, svc, clock, d = _dispatched_job(tmp_path)
    clock.set(d["arrival_s"])
    assert client.post("/jobs/c-j/status", json={"status": "on_site"}, headers=H).status_code == 200
    clock.set(d["arrival_s"] + 1800)
    done = client.post("/jobs/c-j/status", json={"status": "done"}, headers=H)
    assert done.status_code == 200 and done.json()["state"] == "done"
    plan_before = svc.plan(d["area"])
    clock.set(d["arrival_s"] + 2400)
    for status in ("on_site", "dispatched", "done", "cancelled", "overrun"):
        r = client.post("/jobs/c-j/status", json={"status": status}, headers=H)
        assert r.status_code == 409, (status, r.text)
        assert "is done" in r.json()["detail"] and "cannot follow" in r.json()["detail"]
    after = svc.plan(d["area"])
    assert [r["stops"] for r in after["routes"]] == [r["stops"] for r in plan_before["routes"]]
    assert svc.violations() == {a: [] for a in svc.areas}
    again = LiveService(svc.config, clock=clock, writer=False)  # refused reports were never logged
    assert again.areas[d["area"]].reported == svc.areas[d["area"]].reported


def test_a_second_dispatched_is_refused_with_the_current_state(tmp_path: Path) -> None:
    client, _, _, _ = _dispatched_job(tmp_path)
    r = client.post("/jobs/c-j/status", json={"status": "dispatched"}, headers=H)
    assert r.status_code == 409 and "is dispatched" in r.json()["detail"]


def test_cancelled_before_setting_off_frees_the_slot_and_replays(tmp_path: Path) -> None:
    client, svc, clock = _started(tmp_path, hm(10, 0))
    d = _call(client, None, id="c-x", level=1, window_start=f"{DAY}T14:00:00", window_end=f"{DAY}T16:00:00")
    r = client.post("/jobs/c-x/status", json={"status": "cancelled"}, headers=H)
    assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["arrival"] is None, r.text
    area = svc.areas[d["area"]]
    assert all("c-x" not in ids for ids in area.routes.values())
    assert client.post("/jobs/c-x/status", json={"status": "dispatched"}, headers=H).status_code == 409
    assert svc.violations() == {a: [] for a in svc.areas}
    k = client.get("/kpis", headers=H).json()
    assert k["calls"] == 1
    again = LiveService(svc.config, clock=clock, writer=False)
    assert {a: x.routes for a, x in again.areas.items()} == {a: x.routes for a, x in svc.areas.items()}
    assert again.areas[d["area"]].state("c-x") == JobState.CANCELLED


def test_cancelled_on_the_way_ends_at_the_door_and_the_checker_agrees(tmp_path: Path) -> None:
    client, svc, clock, d = _dispatched_job(tmp_path)
    clock.set(d["departure_s"] + 300)
    r = client.post("/jobs/c-j/status", json={"status": "cancelled"}, headers=H)
    assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["frozen"], r.text
    assert r.json()["end"] == r.json()["arrival"], "he leaves at once"
    assert svc.violations() == {a: [] for a in svc.areas}


def test_a_job_cancelled_on_the_way_is_not_handed_on_when_its_technician_drops_out(tmp_path: Path) -> None:
    client, svc, clock, d = _dispatched_job(tmp_path)
    clock.set(d["departure_s"] + 60)
    assert client.post("/jobs/c-j/status", json={"status": "cancelled"}, headers=H).status_code == 200
    r = client.post(f"/technicians/{d['technician_id']}/unavailable", json={}, headers=H)
    assert r.status_code == 200, r.text
    assert "c-j" not in [m["job_id"] for m in r.json()["moved"]] + [u["job_id"] for u in r.json()["unserved"]]
    assert svc.areas[d["area"]].state("c-j") == JobState.CANCELLED
    assert svc.violations() == {a: [] for a in svc.areas}


def test_a_job_cannot_be_cancelled_once_its_technician_is_at_the_door(tmp_path: Path) -> None:
    client, svc, clock, d = _dispatched_job(tmp_path)
    clock.set(d["arrival_s"] + 600)
    r = client.post("/jobs/c-j/status", json={"status": "cancelled"}, headers=H)
    assert r.status_code == 409 and "at the door" in r.json()["detail"], r.text
    assert svc.areas[d["area"]].state("c-j") != JobState.CANCELLED


def test_a_job_cancelled_on_the_way_counts_as_cancelled_not_completed(tmp_path: Path) -> None:
    client, svc, clock, d = _dispatched_job(tmp_path)
    clock.set(d["departure_s"] + 60)
    assert client.post("/jobs/c-j/status", json={"status": "cancelled"}, headers=H).status_code == 200
    k = client.get("/kpis", headers=H).json()["kpis"]
    assert k["served"] == 0 and k["unassigned"] == 1, k


def test_a_clock_anchor_lets_a_restarted_server_go_on_where_its_clock_is():
    """--clock-anchor: the wall time when the clock read --clock-start; a server started later
    with the same anchor reads the time since then, not --clock-start again. ISO (China time
    unless it says) or Unix seconds; anything else, or an anchor without --clock-start, is a
    clear error."""
    assert anchor_unix("2026-03-02T08:30:00") == anchor_unix("2026-03-02T00:30:00+00:00") == anchor_unix("1772411400")
    then = time.time() - 600  # the first server started ten minutes ago at 09:00
    assert RunningClock(9 * 3600, 1.0, then).now_s() // 60 == 9 * 60 + 10
    with pytest.raises(click.BadParameter, match="ISO 8601"):
        anchor_unix("yesterday")
    res = CliRunner().invoke(cli, ["serve", "--clock-anchor", "1772411400"])
    assert res.exit_code == 2 and "needs --clock-start" in res.output
