"""The board's live plan (``dashboard.console``) and its languages (``dashboard.i18n``).

One small prefecture of the committed sample (Huzhou), planned once for the module; every live
board here has its own throw-away store.
"""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from dashboard import catalogue, console, data, i18n, jobs, live, planning
from dashboard import formatting as F
from dispatch.kpis import KPI_LABELS
from dispatch.lease import LeaseHeld
from dispatch.live import JobState
from dispatch.reasons import Reason
from dispatch.store import Store

NOON, T14 = 12 * 3600, 14 * 3600


@pytest.fixture(scope="module")
def area():
    return data.restrict(data.load_demo("sample"), "330000", "330500")


@pytest.fixture(scope="module")
def plan(area):
    return planning.plan_area(area, 0)


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "live.sqlite"))


@pytest.fixture
def board(plan, area, store):
    b = console.LiveBoard(plan, area, "board:test", store)
    yield b
    b.close()


def _stops(b):
    return b.picture().stops.set_index("request_id")


def test_the_live_plan_starts_as_the_plan(board, plan):
    pic = board.picture()
    assert set(pic.stops["request_id"]) == set(plan.stops["request_id"])
    same = plan.stops.set_index("request_id")["technician_id"]
    assert (pic.stops.set_index("request_id")["technician_id"] == same.loc[pic.stops["request_id"]].values).all()
    assert [e.kind for e in board.events] == ["plan"]


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
    moved = dict(res.moved)
    for r in later.itertuples():
        assert r.request_id in moved or r.request_id in {u.visit_id for u in res.unserved}
        if r.request_id in moved:
            assert after.loc[r.request_id, "technician_id"] == moved[r.request_id] != who
    with pytest.raises(Exception, match="already out"):
        board.drop_out(who, T14 + 600)


def test_an_urgent_call_is_logged_once_and_replayed_after_a_restart(plan, area, store, board):
    c = area.network["C330500"]
    call = live.urgent_call("URG-1", c.lon + 0.01, c.lat, 1, 3, 30, NOON, c)
    decision = board.urgent(call, NOON, 1, c, insert=True)
    assert decision.technician_id is not None
    assert _stops(board).loc["URG-1", "technician_id"] == decision.technician_id
    outcomes = board.picture().outcomes.set_index("request_id")
    assert outcomes.loc["URG-1", "created_s"] == NOON and outcomes.loc["URG-1", "unassigned_reason"] == ""
    with pytest.raises(Exception, match="already on the live plan"):
        board.urgent(call, NOON, 1, c, insert=True)
    # Another process on the same store is a read-only copy that shows the same plan.
    copy = console.LiveBoard(plan, area, "board:test", store)
    try:
        assert not copy.writable and copy.holder
        assert _stops(copy).loc["URG-1", "technician_id"] == decision.technician_id
        with pytest.raises(console.ReadOnly):
            copy.drop_out(decision.technician_id, NOON + 60)
    finally:
        copy.close()
    # The writer gone, a new board takes the lease and rebuilds the same picture from the log.
    before = board.picture().stops[["request_id", "technician_id", "departure_s", "end_s"]]
    board.close()
    again = console.LiveBoard(plan, area, "board:test", store)
    try:
        assert again.writable
        got = again.picture().stops[["request_id", "technician_id", "departure_s", "end_s"]]
        key = ["request_id"]
        assert got.sort_values(key).reset_index(drop=True).equals(before.sort_values(key).reset_index(drop=True))
    finally:
        again.close()


def test_a_refused_pin_changes_nothing_and_a_kept_one_is_undone(board):
    pic = board.picture().stops
    before = dict(zip(pic["request_id"], pic["technician_id"]))
    clock_before = {a: x.clock_s for a, x in board.areas.items()}
    job = pic.sort_values("departure_s")["request_id"].iloc[-1]  # the day's last set-off: not under way
    a = board.area_of_job(job)
    outcomes = {}
    for k in sorted(x.id for x in board.areas[a].problem.technicians):
        if k == before[job]:
            continue
        got = board.pin(job, k, NOON)
        now = dict(zip(board.picture().stops["request_id"], board.picture().stops["technician_id"]))
        outcomes[k] = got is not None
        if got is None:
            assert now == before and {a: x.clock_s for a, x in board.areas.items()} == clock_before
        else:
            assert now[job] == k and all(now[j] == before[j] for j in before if j != job)
            break
    assert any(outcomes.values()), "someone in Huzhou can take the day's last job"
    seq = next(e.seq for e in board.active_events() if e.kind == "pin")
    board.undo(seq)
    assert dict(zip(board.picture().stops["request_id"], board.picture().stops["technician_id"])) == before
    assert [e.kind for e in board.events][-2:] == ["pin", "undo"]


def test_a_second_board_is_refused_the_lease(plan, area, store, board):
    with pytest.raises(LeaseHeld):
        store.acquire_lease("board:test", 30.0)


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
    board.urgent(live.urgent_call("URG-9", c.lon + 0.01, c.lat, 1, 3, 30, NOON, c), NOON, 1, c, insert=True)
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
