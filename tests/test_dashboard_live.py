"""The board's live plan (``dashboard.console``: the service's, read and changed through its
API) and its languages (``dashboard.i18n``).

One small prefecture of the committed sample (Huzhou), planned once for the module; every board
here talks to its own in-process ``dispatch serve`` (the ASGI app behind a test client) on a
throw-away store, with the dispatcher's clock taken as sent (``--client-clock``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from dashboard import catalogue, console, data, i18n, jobs, planning
from dashboard import formatting as F
from dashboard.service_link import ServiceLink, ServiceRefused
from dispatch.kpis import KPI_LABELS
from dispatch.lease import LeaseHeld
from dispatch.live import JobState
from dispatch.model import DAY_S
from dispatch.reasons import Reason

NOON, T14 = 12 * 3600, 14 * 3600
TOKEN = "board-test-token-0123456789"


@pytest.fixture(scope="module")
def area():
    return data.restrict(data.load_demo("sample"), "330000", "330500")


@pytest.fixture(scope="module")
def plan(area):
    return planning.plan_area(area, 0)


def _service(db: str, writer: bool = True):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from dispatch.service import LiveService, ServiceConfig, create_app, token_digest
    from dispatch.service.clock import ClockRule

    config = ServiceConfig(source=str(data.SAMPLE_DIR), db=db, tokens=((token_digest(TOKEN), "dispatcher"),),
                           clock_rule=ClockRule(DAY_S, DAY_S))
    svc = LiveService(config, writer=writer)
    return svc, TestClient(create_app(config, svc))


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'live.sqlite'}"


@pytest.fixture
def service(db):
    svc, client = _service(db)
    yield svc, client
    svc.close()


@pytest.fixture
def board(plan, area, service):
    return console.RemoteBoard(plan, area, ServiceLink("http://testserver", TOKEN, client=service[1]), "board:test")


def _stops(b):
    return b.picture().stops.set_index("request_id")


def _served(svc, area_name):  # type: ignore[no-untyped-def]
    """Job -> technician on the service's own plan of an area (what GET /plan shows)."""
    return {s.visit_id: r.technician_id for r in svc.areas[area_name].result().routes for s in r.stops}


def test_the_live_plan_starts_as_the_plan_on_the_service(board, plan, service):
    pic = board.picture()
    assert set(pic.stops["request_id"]) == set(plan.stops["request_id"])
    same = plan.stops.set_index("request_id")["technician_id"]
    assert (pic.stops.set_index("request_id")["technician_id"] == same.loc[pic.stops["request_id"]].values).all()
    assert [e.kind for e in board.events] == ["plan"] and board.posted["not_kept"] == []
    client = service[1]
    shown = dict(zip(pic.stops["request_id"], pic.stops["technician_id"]))
    api = {s["job_id"]: r["technician_id"] for a in board.area_names
           for r in client.get("/plan", params={"area": a}, headers={"Authorization": f"Bearer {TOKEN}"}).json()["routes"]
           for s in r["stops"]}
    assert shown == {j: k for j, k in api.items() if j in shown} and set(shown) <= set(api)


def test_a_drop_out_at_14_keeps_what_he_did_before_and_moves_the_rest(board):
    """The live picture is the plan advanced to the event, not re-timed from the clock: a job he
    finished before 14:00 keeps its times and stays his; his later work goes to others."""
    pic = board.picture().stops
    by = pic.groupby("technician_id")
    who = max(by.groups, key=lambda t: ((by.get_group(t)["end_s"] <= T14).sum() > 0,
                                        (by.get_group(t)["end_s"] > T14).sum()))
    mine = pic[pic["technician_id"] == who]
    done, later = mine[mine["end_s"] <= T14], mine[mine["end_s"] > T14]
    assert len(later), "the sample has a technician with work after 14:00"
    res = board.drop_out(who, T14)
    after = _stops(board)
    for r in done.itertuples():
        assert after.loc[r.request_id, "technician_id"] == who
        assert after.loc[r.request_id, "end_s"] == r.end_s and after.loc[r.request_id, "start_s"] == r.start_s
    moved = {m["job_id"]: m["technician_id"] for m in res["moved"]}
    for r in later.itertuples():
        assert r.request_id in moved or r.request_id in {u["job_id"] for u in res["unserved"]}
        if r.request_id in moved:
            assert after.loc[r.request_id, "technician_id"] == moved[r.request_id] != who
    assert who in board.out
    with pytest.raises(ServiceRefused, match="already unavailable"):
        board.drop_out(who, T14 + 600)


def test_an_urgent_call_is_logged_once_and_replayed_after_a_restart(plan, area, db, service, board):
    c = area.network["C330500"]
    answer = board.urgent("URG-1", c.lon + 0.01, c.lat, 1, 3, 30, NOON)
    assert answer["technician_id"] is not None
    assert _stops(board).loc["URG-1", "technician_id"] == answer["technician_id"]
    outcomes = board.picture().outcomes.set_index("request_id")
    assert outcomes.loc["URG-1", "created_s"] == NOON and outcomes.loc["URG-1", "unassigned_reason"] == ""
    # The same call again is the same call (its id is the idempotency key): booked once.
    again = board.urgent("URG-1", c.lon + 0.01, c.lat, 1, 3, 30, NOON)
    assert again["replayed"] and (board.picture().stops["request_id"] == "URG-1").sum() == 1
    # A read-only copy of the service on the same store rebuilds the same plan from the log.
    svc = service[0]
    copy, _ = _service(db, writer=False)
    assert {a: x.routes for a, x in copy.areas.items()} == {a: x.routes for a, x in svc.areas.items()}
    # The service restarted: the board finds its plan there (not posted again), the same picture.
    before = board.picture().stops[["request_id", "technician_id", "departure_s", "end_s"]]
    svc.close()
    svc2, client2 = _service(db)
    try:
        back = console.RemoteBoard(plan, area, ServiceLink("http://testserver", TOKEN, client=client2), "board:test")
        assert back.posted is None
        got = back.picture().stops[["request_id", "technician_id", "departure_s", "end_s"]]
        key = ["request_id"]
        assert got.sort_values(key).reset_index(drop=True).equals(before.sort_values(key).reset_index(drop=True))
        assert not any(svc2.violations().values())
    finally:
        svc2.close()


def test_a_refused_pin_changes_nothing_and_a_kept_one_is_undone(board, service):
    svc = service[0]
    pic = board.picture().stops
    before = dict(zip(pic["request_id"], pic["technician_id"]))
    job = pic.sort_values("departure_s")["request_id"].iloc[-1]  # the day's last set-off: not under way
    a = board.technicians[before[job]]
    clock_before = {x: svc.areas[x].clock_s for x in board.area_names}
    kept = None
    for k in sorted(t for t, ta in board.technicians.items() if ta == a and t != before[job]):
        try:
            board.pin(job, k, NOON)
        except ServiceRefused as exc:
            assert exc.status == 409 and "stays with" in str(exc)
            now = dict(zip(board.picture().stops["request_id"], board.picture().stops["technician_id"]))
            assert now == before and {x: svc.areas[x].clock_s for x in board.area_names} == clock_before
            continue
        kept = k
        now = dict(zip(board.picture().stops["request_id"], board.picture().stops["technician_id"]))
        assert now[job] == k and all(now[j] == before[j] for j in before if j != job)
        assert _served(svc, a)[job] == k  # the service's plan is the board's
        break
    assert kept, "someone in Huzhou can take the day's last job"
    seq = next(e.seq for e in board.active_events() if e.kind == "pin")
    board.undo(seq)
    assert dict(zip(board.picture().stops["request_id"], board.picture().stops["technician_id"])) == before
    assert [e.kind for e in board.events][-2:] == ["pin", "undo"] and not board.active_events()
    with pytest.raises(ServiceRefused, match="undone already"):
        board.undo(seq)


def test_a_second_writer_on_the_store_is_refused_the_lease(db, service):
    with pytest.raises(LeaseHeld):
        _service(db)


def test_the_unassigned_table_is_the_days_calls_in_the_users_words(plan):
    names = {"C330500": "湖州市 市级中心"}
    table = jobs.unassigned_table(plan, names)
    assert set(table["request_id"]) <= set(plan.outcomes["request_id"])
    assert console.later_bookings(plan) == int((~plan.unassigned["request_id"].isin(plan.outcomes["request_id"])).sum())
    assert table.notna().all().all(), "no field shown as None"


# --------------------------------------------------------------------------------------------
# Languages


def test_every_code_the_board_shows_has_both_languages():
    for key in KPI_LABELS:
        assert key in catalogue.KPI_LABELS, f"KPI {key!r} has no translation"
    for r in Reason:
        assert r.value in catalogue.REASONS, f"reason {r.value!r} has no translation"
    for s in JobState:
        assert s.value in catalogue.STATES
    for table in (catalogue.MESSAGES, catalogue.KPI_LABELS, catalogue.REASONS):
        for key, (zh, en) in table.items():
            assert zh and en and zh != en or key in ("table.kpi",), key


def test_messages_keep_their_fields_in_both_languages():
    import string

    for key, (zh, en) in catalogue.MESSAGES.items():
        fields = [{f for _, f, _, _ in string.Formatter().parse(x) if f} for x in (zh, en)]
        assert fields[0] == fields[1], key


def test_chinese_first_and_english_on_request():
    try:
        assert i18n.set_language("fr") == "zh"  # unknown: the default
        assert F.kpi_tiles({"unassigned": 2.0})[4].label == "未分配"
        assert F.clock("2026-11-30", NOON) == "周一 12:00"
        i18n.set_language("en")
        assert F.kpi_tiles({"unassigned": 2.0})[4].label == "unassigned"
        assert F.clock("2026-11-30", NOON) == "Mon 12:00"
        assert i18n.reason("capacity").startswith("every technician")
        as_zh = i18n.frozen(i18n.state)  # bound now: English
        i18n.set_language("zh")
        assert as_zh("dispatched") == "en route" and i18n.state("dispatched") == "在途"
    finally:
        i18n.set_language(i18n.DEFAULT_LANGUAGE)


def test_centre_names_are_chinese_places(area):
    from dashboard.loaders import places

    p = places.__wrapped__() if hasattr(places, "__wrapped__") else places()
    i18n.set_language("zh")
    assert i18n.centre_name(area.network["C330500"], p) == "湖州市 市级中心"
    assert i18n.centre_name(area.network["P330000"], p) == "浙江省 省级中心"
    i18n.set_language("en")
    try:
        assert i18n.centre_name(area.network["C330500"], p) == "Huzhou city centre"
    finally:
        i18n.set_language(i18n.DEFAULT_LANGUAGE)


def test_exports_follow_the_live_plan_and_the_language(board, area):
    c = area.network["C330500"]
    board.urgent("URG-9", c.lon + 0.01, c.lat, 1, 3, 30, NOON)
    try:
        i18n.set_language("zh")
        files = jobs.export_files(board.picture(), area, "派工单")
        sheet = files["route_sheets.csv"].decode("utf-8")
        assert sheet.splitlines()[0].startswith("技师,顺序,工单") and "URG-9" in sheet
        assert "技师 " in files["route_sheets.html"].decode("utf-8")
        i18n.set_language("en")
        files = jobs.export_files(board.picture(), area, "Route sheets")
        assert files["route_sheets.csv"].decode("utf-8").startswith("technician_id,sequence,request_id")
    finally:
        i18n.set_language(i18n.DEFAULT_LANGUAGE)
