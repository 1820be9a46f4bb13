"""Dashboard: pure builders on their own, and every page driven headless with AppTest.

Plans are made on the committed Zhejiang sample, one prefecture (Huzhou, ~70 calls), and shared
through the app's own cache, so the whole module stays within seconds of solver time.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")

from dashboard import data, figures, i18n, jobs, live, maps, planning, scenarios, simulation, uploads
from dashboard import formatting as F
from dashboard import state as S
from dispatch.progress import Note

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "dashboard" / "app.py")
SAMPLE = REPO / "data" / "sample-zhejiang"
TIMEOUT = 120


@pytest.fixture(autouse=True, scope="module")
def _isolated_store(tmp_path_factory):
    """Scenarios saved by the tests go to a throw-away database, never ./dispatch.sqlite."""
    import os

    from dashboard import loaders

    old = os.environ.get("DISPATCH_DB")
    os.environ["DISPATCH_DB"] = str(tmp_path_factory.mktemp("db") / "dash.sqlite")
    loaders.store.clear()
    yield
    loaders.close_boards()  # the service the board started for this store stops with it
    loaders.store.clear()
    if old is None:
        os.environ.pop("DISPATCH_DB", None)
    else:
        os.environ["DISPATCH_DB"] = old


@pytest.fixture(autouse=True)
def _english():
    """The pure builders' texts are checked in English here (Chinese: the ``_zh`` tests)."""
    i18n.set_language("en")
    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


@pytest.fixture(scope="module")
def area():
    return data.restrict(data.load_demo("sample"), "330000", "330500")


@pytest.fixture(scope="module")
def plan(area):
    return planning.plan_area(area, 0)


# --------------------------------------------------------------------------------------------
# Pure logic and builders


def test_restrict_keeps_parent_chain_staff_and_own_calls(area):
    ids = {c.id for c in area.network}
    assert "P330000" in ids and "C330500" in ids
    assert all(c.prefecture_adcode in ("330500", "") for c in area.network)
    assert {t.home_centre_id for t in area.technicians} <= ids
    assert area.requests and all(r.county_adcode.startswith("3305") for r in area.requests)


def test_gantt_segments_tile_each_route_without_overlap(plan, area):
    seg = jobs.gantt_segments(plan, area)
    assert set(seg["kind"]) <= set(jobs.SEGMENT_KINDS)
    assert (seg["end_s"] > seg["start_s"]).all()
    for tid, g in seg.groupby("technician_id"):
        route = plan.routes.set_index("technician_id").loc[tid]
        g = g.sort_values("start_s")
        # The day runs from leaving home to coming back; a break may also be taken before he
        # leaves or after he is back.
        nb_all = g[g["kind"] != "break"]
        assert nb_all["start_s"].min() == route["start_s"]
        assert g["end_s"].max() >= route["end_s"]
        # No two non-break segments overlap (breaks may sit inside travel).
        nb = g[g["kind"] != "break"]
        assert (nb["start_s"].to_numpy()[1:] >= nb["end_s"].to_numpy()[:-1]).all()
        stops = plan.stops[plan.stops["technician_id"] == tid]
        work = g[g["kind"] == "work"]
        assert (work["end_s"] - work["start_s"]).sum() == (stops["end_s"] - stops["start_s"]).sum()


def test_job_states_follow_the_clock(plan, area):
    early = jobs.job_table(plan, area, 0)
    late = jobs.job_table(plan, area, 10 * 86400)
    assert len(early) == len(plan.outcomes)
    routed = early["technician_id"].notna()
    assert set(early.loc[routed, "state"]) <= {"planned"}
    assert set(late.loc[routed, "state"]) <= {"done"}
    assert (early.loc[early["unassigned_reason"] != "", "state"] == "unassigned").all()
    assert set(early["risk"]) <= set(F.RISKS)
    late_dispatch = early["slack_min"] < 0
    assert (early.loc[late_dispatch & routed, "risk"] == "late").all()


def test_kpi_tiles_and_table_format():
    k = {"dispatch_within_target_rate": 0.5, "time_to_dispatch_p50_min": 31.0, "turnaround_mean_h": 12.25,
         "utilisation": 0.4, "unassigned": 3.0}
    tiles = F.kpi_tiles(k, against={**k, "dispatch_within_target_rate": 0.25})
    assert [t.value for t in tiles] == ["50.0 %", "31.0", "12.2", "40.0 %", "3"]
    assert tiles[0].delta == "+25.0 pt"
    assert [t.lower_is_better for t in tiles] == [False, True, True, False, True]
    table = F.kpi_table({"a": k, "b": {**k, "unassigned": 5.0}})
    assert table.set_index("KPI").loc["unassigned", "change"] == "+2.00"


def test_polygons_are_simplified_and_offline_deck_has_no_basemap():
    from dispatch.geodata import load_geography

    geo = load_geography()
    rows = maps.polygon_rows(geo.provinces, 0.05)
    raw = sum(len(g.exterior.coords) for geom in geo.provinces.geometry for g in getattr(geom, "geoms", [geom]))
    kept = sum(len(p) for p in rows["polygon"])
    assert 31 <= rows["adcode"].nunique() and kept < raw / 5
    d = maps.deck([maps.boundary_layer(rows, "provinces")], maps.view_for([110, 120], [30, 40]))
    spec = json.loads(d.to_json())
    assert spec["mapStyle"].startswith("data:application/json,") and not spec.get("mapProvider")


def test_the_board_map_is_sent_compact_with_only_what_its_layers_draw(plan, area):
    """The map is sent at every change: compact JSON (Chinese as UTF-8, no indentation), the
    same deck as pydeck's, the jobs layer carrying position, colour and label only."""
    import json

    i18n.set_language("zh")
    table = jobs.job_table(plan, area, 14 * 3600)
    deck = maps.board_map([], maps.centres_frame(area.network, {}), maps.route_paths(plan.stops, data.technician_homes(area)),
                          table, "state")
    stored = maps.compact(deck)
    assert json.loads(stored.to_json()) == json.loads(deck.to_json()) and stored.tooltip == {"text": "{label}"}
    assert len(stored.to_json().encode()) < 0.7 * len(deck.to_json().encode())
    layer = next(x for x in json.loads(stored.to_json())["layers"] if x["id"] == "jobs")
    assert len(layer["data"]) == len(table) and set(layer["data"][0]) == {"lon", "lat", "colour", "label"}
    assert "已" in stored.to_json()  # the states' names as they are, not escaped


def test_large_point_layers_are_aggregated():
    rng = np.random.default_rng(0)
    n = maps.MAX_POINTS + 1000
    calls = pd.DataFrame({"request_id": [f"r{i}" for i in range(n)], "lon": rng.uniform(80, 130, n),
                          "lat": rng.uniform(20, 50, n), "state": "planned", "risk": "on_time", "mode": "onsite",
                          "level": 1, "priority": 1})
    layer = maps.jobs_layer(calls)
    assert len(layer.data) <= 3600 and sum(d["count"] for d in layer.data) == n
    assert len(maps.jobs_layer(calls.head(10)).data) == 10


def test_route_paths_start_and_end_at_home(plan, area):
    homes = {t.id: (area.network[t.home_centre_id].lon, area.network[t.home_centre_id].lat) for t in area.technicians}
    paths = maps.route_paths(plan.stops, homes)
    assert len(paths) == plan.stops["technician_id"].nunique()
    for p in paths.itertuples():
        assert p.path[0] == p.path[-1] == [homes[p.technician_id][0], homes[p.technician_id][1]]
    assert len({tuple(c) for c in paths["colour"].head(20)}) == min(20, len(paths))


def test_figures_build(plan, area):
    seg = jobs.gantt_segments(plan, area)
    if len(seg):
        # The clock's line is one layer on top of the spec without it, which it leaves as it was
        # (the board keeps that one and adds the line at each clock step).
        base = figures.gantt(seg, area.epoch_date)
        kept = json.dumps(base, sort_keys=True)
        now = figures.gantt(seg, area.epoch_date, 12 * 3600)
        assert now["layer"][:-1] == base["layer"] and now["datasets"] == base["datasets"]
        assert now["layer"][-1]["mark"]["type"] == "rule"
        assert now["layer"][-1]["data"]["values"] == [{"t": f"{area.epoch_date}T12:00:00"}]
        assert json.dumps(base, sort_keys=True) == kept
    assert figures.dispatch_histogram({"a": plan.outcomes}).to_dict()
    assert figures.turnaround_histogram({"a": plan.outcomes}).to_dict()


def test_the_pickable_timeline_has_a_bar_and_a_quarter_hour_selection_under_the_bars(plan, area):
    """The timeline one moves a job on: a click selects a bar (technician, job, kind, start) or
    a row's quarter hour, every row covered by quarter hours over the span of the bars."""
    seg = jobs.gantt_segments(plan, area)
    spec = figures.gantt(seg, area.epoch_date, 12 * 3600, pickable=True)
    assert spec["usermeta"]["embedOptions"]["renderer"] == "svg"  # each mark named by its fields
    params = {p["name"]: p for p in spec["params"]}  # Altair lifts them to the top, naming their layers
    assert set(params) == {figures.PICK_BAR, figures.PICK_SLOT}
    assert params[figures.PICK_BAR]["select"]["fields"] == ["technician_id", "request_id", "segment", "start_s"]
    slots = next(layer for layer in spec["layer"] if layer.get("name") in params[figures.PICK_SLOT]["views"])
    rows = spec["datasets"][slots["data"]["name"]]
    lo, hi = seg["start_s"].min() // 900 * 900, -(-seg["end_s"].max() // 900) * 900
    assert len(rows) == seg["technician_id"].nunique() * (hi - lo) // 900
    assert {r["start_s"] % 900 for r in rows} == {0} and min(r["start_s"] for r in rows) == lo
    assert spec["layer"].index(slots) == 0  # under the bars: a click on a bar selects the bar


def _drag_data(plan, area, lang: str, shown: list[str], now_s: int):  # type: ignore[no-untyped-def]
    from dashboard import dragboard

    i18n.set_language(lang)
    seg = jobs.gantt_segments(plan, area)
    table = jobs.job_table(plan, area, now_s)
    home = {k.id: k.home_centre_id for k in area.technicians}
    names = {c.id: f"name of {c.id}" for c in area.network}
    return seg, table, dragboard.timeline_data(seg, shown, home, names, table, jobs.customer_windows(area, {}),
                                               {k: "A" for k in home}, area.epoch_date, now_s)


def test_the_drag_timeline_gets_the_shown_rows_their_segments_and_which_jobs_may_move(plan, area):
    """The drag-and-drop timeline's data: the shown rows in their order under their centres,
    every segment of theirs (the Gantt's table and colours), each worked job's state, window and
    whether it may move, the day in whole hours around the clock, its words in the board's language."""
    from dashboard import dragboard
    from dashboard.catalogue import MESSAGES, STATES

    now_s = 12 * 3600
    seg = jobs.gantt_segments(plan, area)
    shown = sorted(set(seg["technician_id"]), reverse=True)[:6]  # an order of the board's, kept
    seg, table, data = _drag_data(plan, area, "en", shown, now_s)
    assert [r["id"] for r in data["rows"]] == shown
    home = {k.id: k.home_centre_id for k in area.technicians}
    assert [r["group"] for r in data["rows"]] == [f"name of {home[k]}" for k in shown]
    mine = seg[seg["technician_id"].isin(shown)]
    assert sorted((shown[i], k, a, b, j) for i, k, a, b, j in data["segs"]) == sorted(
        mine[["technician_id", "kind", "start_s", "end_s", "request_id"]].itertuples(index=False, name=None))
    assert [(k, c) for k, _, c in data["kinds"]] == list(figures.SEGMENT_COLOURS.items())
    worked = set(mine.loc[mine["kind"] == "work", "request_id"])
    assert set(data["jobs"]) == worked
    state = dict(zip(table["request_id"], table["state"]))
    assert {j: v["movable"] for j, v in data["jobs"].items()} == {j: state[j] in jobs.MOVABLE_STATES for j in worked}
    assert {v["movable"] for v in data["jobs"].values()} == {True, False}, "at noon some work is done, some is not"
    windows = jobs.customer_windows(area, {})
    j = next(iter(worked))
    assert data["jobs"][j]["window"] == F.window(area.epoch_date, windows[j], weekday=False)
    assert data["lo_s"] % 3600 == 0 and data["lo_s"] <= min(mine["start_s"].min(), now_s)
    assert data["hi_s"] % 3600 == 0 and data["hi_s"] >= max(mine["end_s"].max(), now_s)
    assert data["slot_s"] == figures.SLOT_S and data["now_s"] == now_s
    json.dumps(data)  # all of it goes to the browser as JSON
    _, _, zh = _drag_data(plan, area, "zh", shown, now_s)
    for lang, got in (("en", data), ("zh", zh)):
        k = 0 if lang == "zh" else 1
        assert got["text"]["not_movable"] == MESSAGES["move.not_movable"][k]
        assert got["text"]["hint"] == MESSAGES["tldrag.hint"][k]
        assert [n for _, n, _ in got["kinds"]] == [MESSAGES[f"seg.{x}"][k] for x in figures.SEGMENT_COLOURS]
        assert {v["state_label"] for v in got["jobs"].values()} <= {v[k] for v in STATES.values()}
    assert zh["text"]["other_area"].count("{tech}") == 1  # the component fills in the row's technician
    assert dragboard.pending(None) is None


def test_a_drop_on_the_timeline_becomes_the_move_forms_target_once(plan, area):
    """A drop (the component's trigger) fills the move form's target, snapped to the quarter hour
    the selection uses, and is acted on once: a rerun that reads the same drop changes nothing;
    a drop of a job under way or done is refused with why, the pick left as it was."""
    from dashboard import widgets

    table = jobs.job_table(plan, area, 12 * 3600)
    routed = table[table["technician_id"].notna()]
    job, holder = next((r, k) for r, k, s in routed[["request_id", "technician_id", "state"]].itertuples(index=False)
                       if s in jobs.MOVABLE_STATES)
    other = next(k for k in routed["technician_id"] if k != holder)
    drop = {"request_id": job, "technician_id": other, "start_s": 15 * 3600 + 7 * 60, "drop_id": "d1"}
    picked, seen, note = widgets.next_pick(None, {}, table, figures.SLOT_S, drop=drop)
    assert picked == ((job, holder), (other, 15 * 3600)) and note is None
    from dashboard import dragboard

    assert dragboard.pending(picked) == {"request_id": job, "technician_id": other, "start_s": 15 * 3600}
    again = widgets.next_pick(None, seen, table, figures.SLOT_S, drop=drop)
    assert again == (None, seen, None), "the same drop read by a later rerun does nothing"
    assert widgets.next_pick(picked, seen, table, figures.SLOT_S)[0] == picked  # no drop: the pick stays
    done = routed.loc[~routed["state"].isin(jobs.MOVABLE_STATES), "request_id"].iloc[0]
    late = {**drop, "request_id": done, "drop_id": "d2"}
    assert widgets.next_pick(picked, seen, table, figures.SLOT_S, drop=late) == (
        picked, {**seen, "drop": "d2"}, "move.not_movable")


def test_the_drag_components_files_ship_in_the_package_and_reach_nothing_outside():
    """The component's JS and CSS are package data (``pyproject.toml``), and load nothing from
    anywhere: no URL, no import, no fetch, no stylesheet or font from elsewhere."""
    import fnmatch
    import re
    import tomllib

    from dashboard import dragboard

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["dashboard"]
    files = sorted(p for p in dragboard.FRONTEND.rglob("*") if p.is_file())
    assert {p.name for p in files} == set(dragboard.FILES)
    for p in files:
        rel = p.relative_to(REPO / "dashboard").as_posix()
        assert any(fnmatch.fnmatch(rel, pat) for pat in patterns), f"{rel} is not in the package data"
        text = p.read_text(encoding="utf-8")
        found = re.findall(r"https?:|//[\w.-]+\.[a-z]{2,}/|\bimport\s*[\s({\"']|\bfetch\s*\(|XMLHttpRequest|WebSocket|"
                           r"EventSource|sendBeacon|url\(|@import|\bsrc\s*=", text)
        assert not found, (rel, found)


def _sample_files() -> dict[str, bytes]:
    return {k: (SAMPLE / f"{k}.csv").read_bytes() for k in uploads.UPLOAD_KINDS}


def test_validate_upload_reports_every_problem_and_loads_nothing():
    files = _sample_files()
    lines = files["requests"].decode().splitlines()
    head = lines[0].split(",")
    bad = lines[1].split(",")
    bad[head.index("lon")] = "999"
    files["requests"] = "\n".join([lines[0], ",".join(bad), *lines[2:]]).encode()
    files["technicians"] = files["technicians"].replace(b",car\n", b",rocket\n", 1)
    ds, problems = uploads.validate_upload(files)
    assert ds is None
    assert list(problems.columns) == uploads.PROBLEM_COLUMNS
    assert {"requests.csv", "technicians.csv"} <= set(problems["file"])
    row = problems[problems["file"] == "requests.csv"].iloc[0]
    assert row["row"] == 2 and row["column"] == "lon"


def test_validate_upload_limits_and_missing_files():
    ds, problems = uploads.validate_upload({"centres": b"x" * 50, "technicians": None, "requests": b""}, max_bytes=10)
    assert ds is None
    msgs = dict(zip(problems["file"], problems["message"]))
    assert "limit" in msgs["centres.csv"] and "missing" in msgs["technicians.csv"]


def test_validate_upload_accepts_the_sample():
    ds, problems = uploads.validate_upload(_sample_files())
    assert problems.empty and ds is not None and len(ds.requests) > 1000


def test_suggest_stations_improves_coverage(area):
    from dispatch.geodata import load_geography

    counties = data.area_counties(load_geography(), "330000", "330500")
    found = scenarios.suggest_stations(area, counties, 5, 30)
    assert 1 <= len(found) <= 5
    # Each suggestion adds coverage, the gains add up to the change, cumulative as listed.
    assert (found["gain"] > 0).all()
    assert found.attrs["covered_after"] - found.attrs["covered_before"] == pytest.approx(found["gain"].sum())
    assert list(found["covered_after"]) == sorted(found["covered_after"])
    # None on an existing station's site.
    from dispatch.travel import haversine_m

    for r in found.itertuples():
        gaps = [haversine_m(r.lon, r.lat, c.lon, c.lat) for c in area.network if c.tier != 1]
        assert min(gaps) >= scenarios.SAME_SITE_M
    specs = scenarios.open_specs(area, found)
    assert all(s["parent_id"] == "C330500" for s in specs)
    # The scenario made from them opens them staffed.
    from dispatch.scenarios import apply

    sc = scenarios.suggested_scenario(area, found, staff=3)
    ds = apply(area, sc).dataset
    for spec in specs:
        assert sum(t.home_centre_id == spec["id"] for t in ds.technicians) == 3


def test_suggestions_stop_when_nothing_more_is_covered(area):
    from dispatch.geodata import load_geography

    counties = data.area_counties(load_geography(), "330000", "330500")
    found = scenarios.suggest_stations(area, counties, 20, 180)  # three hours: the stations cover it all
    assert found.empty and found.attrs["covered_after"] == found.attrs["covered_before"]


# --------------------------------------------------------------------------------------------
# The app, page by page (AppTest)


def _app(lang: str = "en"):
    """The app on the module's store: the board's own service for it is started once and shared
    by the tests (as by a dispatcher's tabs), so each test checks what its own changes did."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    return at


def _frame(at, *columns: str) -> pd.DataFrame:
    """The first table shown with all these columns (AppTest does not keep dataframe keys)."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no table with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}")


def _labels(at) -> list[str]:
    return [m.label for m in at.metric]


def test_board_opens_on_the_demo_with_plan_kpis_map_and_exports():
    at = _app()
    assert at.title[0].value == "Dispatch board"
    assert "dispatched <= 60 min" in _labels(at) and "unassigned" in _labels(at)
    assert at.get("deck_gl_json_chart"), "the map is drawn"
    assert not at.get("download_button"), "exports are built on demand"
    next(b for b in at.button if b.label == "Build the exports").click().run()
    assert {b.label for b in at.get("download_button")} >= {"route_sheets.csv", "routes.geojson", "unassigned.csv"}
    # Real time: the live controls are there and enabled, on the board's own service.
    assert any(b.label == "Appointment slots (no change)" and not b.disabled for b in at.button)
    assert any("held by the service of this board" in c.value for c in at.caption)
    assert not any("not available yet" in b.label for b in at.button)
    run = next(b for b in at.button if b.label == "Run plan")
    run.click().run()
    assert not at.exception
    assert any("Plan ready" in s.value for s in at.success)
    # The unassigned tab counts the day's calls only; the later bookings are said apart.
    # (Tab labels stay the same whatever the counts: Streamlit would reopen the first tab.)
    assert "Unassigned" in [x.label for x in at.tabs]
    assert any(m.value == "Every call of the day is planned." for m in at.success)
    assert any("for a later day" in c.value for c in at.caption)


def test_board_pin_moves_a_job_or_leaves_it_and_undoes():
    at = _app()
    job = at.selectbox(key="pin_job").value
    before = _routed(at)
    # A technician who cannot take it: the job stays where it was.
    techs = at.selectbox(key="pin_tech").options
    for tech in techs:
        at.selectbox(key="pin_tech").set_value(tech)
        next(b for b in at.button if b.label == "Pin").click().run()
        assert not at.exception, at.exception
        if any("Pinned" in m.value for m in at.success):
            break
        assert any("cannot be pinned" in m.value and "stays" in m.value for m in at.warning), [m.value for m in at.warning]
        assert _routed(at) == before, "a refused pin changes nothing"
    pinned = next(m.value for m in at.success if "Pinned" in m.value)
    assert job in pinned
    moved = _routed(at)
    assert moved[job] == tech and all(moved[j] == before[j] for j in before if j != job)
    # Undo: back to the plan as it was.
    next(b for b in at.button if b.label == "Undo").click().run()
    assert not at.exception, at.exception
    assert _routed(at) == before


def _routed(at) -> dict[str, str]:
    """Job -> technician on the board's live plan (the session's board, from the loaders' cache)."""
    from dashboard import loaders

    pic = loaders.boards_in_use()[0].picture()
    return dict(zip(pic.stops["request_id"], pic.stops["technician_id"]))


def test_network_scenario_build_and_compare():
    at = _app()
    at.switch_page("app_pages/network.py").run()
    assert not at.exception, at.exception
    assert "demand <= 60 min, level 1" in _labels(at)
    assert at.get("deck_gl_json_chart")
    close = at.multiselect[0]
    close.select(close.options[-1])
    at.text_input[0].input("close one")
    next(b for b in at.button if b.label == "Save scenario").click().run()
    assert not at.exception, at.exception
    assert any("close one" in s.value for s in at.success)
    next(b for b in at.button if b.label == "Compare side by side").click().run()
    assert not at.exception, at.exception
    table = next(df.value for df in at.dataframe if "KPI" in df.value.columns)
    assert {"base", "close one", "Δ close one"} <= set(table.columns)
    assert len(at.get("deck_gl_json_chart")) >= 4  # main map, two side by side, the difference


def test_network_suggest_stations():
    at = _app()
    at.switch_page("app_pages/network.py").run()
    # Within the page's default hour the road model's drives leave Huzhou no county to add; half
    # an hour does (test_suggest_stations_improves_coverage), and the table lists them.
    next(n for n in at.number_input if n.label == "Coverage radius (min)").set_value(30).run()
    next(b for b in at.button if b.label == "Suggest stations").click().run()
    assert not at.exception, at.exception
    assert any("adcode" in df.value.columns for df in at.dataframe)


def test_simulation_page_runs_both_policies_over_days():
    at = _app()
    at.session_state["sim_days"] = 1
    at.switch_page("app_pages/simulation.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Simulation"
    assert any("Simulated" in s.value and "1 day(s)" in s.value for s in at.success), [s.value for s in at.success]
    assert "dispatched <= 60 min" in _labels(at)
    table = _frame(at, "KPI", "baseline", "optimiser")
    assert {"baseline", "optimiser", "change"} <= set(table.columns)
    rows = table.set_index("KPI")
    assert rows.loc["requests", "optimiser"] == rows.loc["requests", "baseline"]
    # The new KPIs render: the wall clock beside the business clock, censored calls, shares over 6 days.
    assert {"dispatched <= 60 min, wall clock", "censored (open at the horizon)", "turnaround > 6 days"} <= set(rows.index)
    daily = _frame(at, "day", "calls · optimiser")
    assert list(daily["day"]) == [0] and "calls · optimiser" in daily.columns
    assert len(at.get("vega_lite_chart")) >= 3  # two distributions and the daily KPIs
    texts = [b.label for b in at.button] + [m.value for m in at.info] + [m.value for m in at.caption]
    assert not any("not available yet" in t or "until" in t.lower() and "simulate" in t for t in texts)
    # Two days, then back to one: the second visit of one day comes from the cache.
    at.number_input(key="sim_days").set_value(2).run()
    assert not at.exception, at.exception
    assert list(_frame(at, "day", "calls · optimiser")["day"]) == [0, 1]


def test_simulation_page_runs_a_saved_scenario():
    at = _app()
    at.session_state["sim_days"] = 1
    at.switch_page("app_pages/simulation.py").run()
    sc = scenarios.scenario_from_form("more staff", [], "C330500", 5, [1], 60)
    at.session_state["scenarios"] = {sc.name: sc}
    at.run()
    at.selectbox(key="sim_scenario").set_value("more staff").run()
    assert not at.exception, at.exception
    assert any("on 'more staff'" in s.value for s in at.success)
    assert any("network: more staff" in c.value for c in at.caption)


def test_upload_of_a_bad_file_shows_every_problem_and_loads_nothing():
    at = _app()
    at.switch_page("app_pages/upload.py").run()
    files = _sample_files()
    files["centres"] = files["centres"].replace(b",1;2;3,", b",1;9,", 1)
    for kind in uploads.UPLOAD_KINDS:
        at.file_uploader(key=f"upload_{kind}").upload(f"{kind}.csv", files[kind], "text/csv")
    next(b for b in at.button if b.label == "Validate and load").click().run()
    assert not at.exception, at.exception
    assert any("nothing was loaded" in e.value for e in at.error)
    problems = next(df.value for df in at.dataframe if list(df.value.columns) == uploads.PROBLEM_COLUMNS)
    assert (problems["column"] == "levels").any()
    assert at.session_state["uploaded"] == {}


def test_board_urgent_insert_and_drop_out(plan):
    assert live.realtime_ready(plan), "the plan carries its areas' routing problems"
    at = _app()
    before = {j for j in _routed(at) if j.startswith("URG-")}
    next(b for b in at.button if b.label == "Appointment slots (no change)").click().run()
    assert not at.exception, at.exception
    slots = _frame(at, "rank", "customer window")
    assert len(slots) >= 1 and list(slots["rank"]) == list(range(1, len(slots) + 1))
    assert {j for j in _routed(at) if j.startswith("URG-")} == before, "offering slots inserts nothing"
    next(b for b in at.button if b.label == "Insert: the planner's decision").click().run()
    assert not at.exception, at.exception
    best = _frame(at, "rank", "sets off").iloc[0]
    assert any(s.value.startswith("Inserted URG-") and best["technician"] in s.value for s in at.success), \
        [s.value for s in at.success]
    urgent = [j for j in _routed(at) if j.startswith("URG-") and j not in before]
    assert len(urgent) == 1 and _routed(at)[urgent[0]] == best["technician"], "the call is on the live plan"
    # Drop out the technician with the most work left after the board's clock (12:00).
    from dashboard import loaders

    board = loaders.boards_in_use()[0]
    left = jobs.remaining_jobs(board.picture(), 12 * 3600)
    who = max((t for t in left if t not in board.out), key=lambda t: (left[t], t))
    at.selectbox(key="dropout_tech").set_value(who)
    next(b for b in at.button if b.label.startswith("Technician drop-out")).click().run()
    assert not at.exception, at.exception
    shown = [m.value for m in at.success] + [m.value for m in at.warning]
    assert any(m.startswith(f"{who} is out from") for m in shown), shown
    table = _frame(at, "job", "outcome")
    assert len(table) == left[who]
    assert set(table["outcome"]) <= {"moved", "unserved"}
    assert (table.loc[table["outcome"] == "moved", "to"] != who).all()
    assert (table["reason"] != "").all()
    # He is no longer offered, and his remaining work is on others.
    assert who not in at.selectbox(key="dropout_tech").options
    assert who not in at.selectbox(key="pin_tech").options
    assert not any(board.picture().stops.query("technician_id == @who")["end_s"] > 12 * 3600)


def test_the_services_answers_as_the_board_shows_them():
    answer = {"call_id": "U1", "technician_id": "T1", "centre_name": "C", "departure_s": 43_200, "arrival_s": 44_000,
              "meets_deadline": True, "late_s": 0, "area": "330500", "visit_mode": "onsite", "status": "planned",
              "alternatives": [{"technician_id": "T2", "centre_name": "C", "departure_s": 43_500,
                                "arrival_s": 45_000, "meets_deadline": False, "late_s": 600}],
              "part": {"part_id": "P-1", "waiting_for_part": True, "eta_s": 50_400}}
    frame = live.alternatives_frame(answer, "2026-03-02")
    assert frame["technician"].tolist() == ["T1", "T2"] and frame["late (min)"].tolist() == [0, 10]
    kind, text = live.insertion_message(answer, "2026-03-02")
    assert kind == "success" and "T1" in text and "12:00" in text and "P-1" in text and "14:00" in text
    res = {"at_s": 50_400, "moved": [{"job_id": "R1", "technician_id": "T2"}],
           "unserved": [{"job_id": "R2", "reason_code": "no_time", "reason": "nobody can reach it in time"}]}
    df = live.dropout_frame(res)
    assert df.to_dict("records") == [
        {"job": "R1", "outcome": "moved", "to": "T2", "reason": "re-planned onto T2"},
        {"job": "R2", "outcome": "unserved", "to": "", "reason": "nobody can reach it in time"}]
    assert live.dropout_message("T1", res, "2026-03-02")[0] == "warning"
    assert live.dropout_frame({"moved": [], "unserved": []}).empty


# --------------------------------------------------------------------------------------------
# Simulation builders


def test_sim_calls_regenerates_a_preset_and_truncates_others():
    sample = data.load_demo("sample")
    assert simulation.sim_preset(sample) == ("zhejiang", 1)
    three = simulation.sim_calls(sample, 3)
    assert data.days_of(three) == [0, 1, 2]
    assert [c.id for c in three.network] == [c.id for c in sample.network]
    assert [t.id for t in three.technicians] == [t.id for t in sample.technicians]
    assert "preset 'zhejiang'" in simulation.sim_source_label(sample, 3)
    # An upload (no generator in its meta) keeps its own calls of its first days.
    from dispatch.dataset import Dataset

    own = Dataset(three.network, three.technicians, three.requests, three.epoch_date, ())
    assert simulation.sim_preset(own) is None
    two = simulation.sim_calls(own, 2)
    assert data.days_of(two) == [0, 1] and len(two.requests) < len(three.requests)
    assert simulation.sim_calls(own, 99).requests == own.requests  # capped at SIM_DAYS_MAX


@pytest.fixture(scope="module")
def sim():
    seen = []
    comp = simulation.simulate_pair(simulation.sim_calls(data.load_demo("tiny"), 2), 2, sink=lambda f, t: seen.append((f, t)))
    return comp, seen


def test_simulate_pair_runs_both_policies_on_the_same_calls(sim):
    comp, seen = sim
    assert set(comp.results) == {"optimiser", "baseline"}
    ids = [set(r.outcomes["request_id"]) for r in comp.results.values()]
    assert ids[0] == ids[1] and len(ids[0]) == comp.calls
    assert comp.kpis["optimiser"]["requests"] == comp.calls
    fr = [f for f, _ in seen]
    assert fr == sorted(fr) and fr[-1] == 1.0 and any(t.startswith(("基线: ", "baseline: ")) for _, t in seen)
    table = F.kpi_table({"baseline": comp.kpis["baseline"], "optimiser": comp.kpis["optimiser"]})
    assert {"baseline", "optimiser", "change"} <= set(table.columns)


def test_daily_kpis_group_by_the_day_of_the_call(sim):
    comp, _ = sim
    outcomes = {p: r.outcomes for p, r in comp.results.items()}
    daily = simulation.daily_kpis(outcomes)
    calls = daily[(daily["kpi"] == "calls") & (daily["policy"] == "optimiser")]
    o = outcomes["optimiser"]
    assert calls.set_index("day")["value"].to_dict() == (o["created_s"] // 86400).value_counts().sort_index().astype(float).to_dict()
    table = F.daily_table(daily)
    assert list(table["day"]) == sorted(calls["day"]) and "dispatched <= 60 min · baseline" in table.columns
    assert figures.daily_kpis(daily).to_dict()
    reasons = simulation.open_reasons(comp.results)
    assert list(reasons.columns) == ["reason", "optimiser", "baseline"]


def test_dispatch_wait_uses_business_seconds_when_given():
    o = pd.DataFrame({"mode": ["onsite", "pickup", "walkin", "onsite"], "clock_start_s": [0, 0, 0, 0],
                      "dispatch_s": [7200.0, 600.0, 60.0, np.nan], "dispatch_wait_s": [1800.0, 600.0, 60.0, np.nan]})
    assert simulation.dispatch_wait_min(o).tolist() == [30.0, 10.0]
    assert simulation.dispatch_wait_min(o.drop(columns="dispatch_wait_s")).tolist() == [120.0, 10.0]
    spec = figures.dispatch_histogram({"a": o}).to_dict()
    assert "business" in json.dumps(spec)


def test_large_province_plans_use_a_pool_and_small_areas_do_not(area):
    from dispatch.executor import default_workers

    full = data.restrict(data.load_demo("sample"), "330000")
    assert planning.plan_workers(area, "330500", min_calls=1) == 1  # one prefecture: never
    assert planning.plan_workers(full, S.ALL) == 1  # 1,369 calls: a pool would cost more than it saves
    areas = len(set(data.technician_area(full).values()))
    assert planning.plan_workers(full, S.ALL, min_calls=1000) == min(default_workers(), areas)


def test_plan_in_a_process_pool_equals_the_sequential_plan(area):
    seq, par = planning.plan_area(area, 0, deterministic=True), planning.plan_area(area, 0, workers=2, deterministic=True)
    assert par.stops[["request_id", "technician_id", "start_s"]].equals(seq.stops[["request_id", "technician_id", "start_s"]])


def test_progress_tracker_shows_the_stage_fraction_and_the_running_kpi_in_the_boards_language():
    """The planner reports in English (the CLI's words); the board words the stage and the running
    note in the language of the page that shows them, whichever thread reported them."""
    got = []
    tracker = planning.ProgressTracker(lambda frac, label: got.append((frac, label)))
    tracker("assignment", 1, 1)
    tracker("routing areas", 1, 2, note=Note("morning_routed", "5 of 9 morning calls routed within the hour",
                                             routed=5, total=9))
    tracker("dispatching calls", 1000, 2000, note=Note("one_hour_so_far", "97.5 % dispatched within the hour so far",
                                                       share_pct=97.5))
    tracker("a stage it does not know", 1, 3, note="as said")
    assert [f for f, _ in got][:3] == [pytest.approx(0.1), pytest.approx(0.4), pytest.approx(0.85)]
    i18n.set_language("en")
    assert [str(label) for _, label in got] == [
        "assignment: 1/1", "routing areas: 1/2 · 5 of 9 morning calls routed within the hour",
        "dispatching calls: 1,000/2,000 · 97.5 % dispatched within the hour so far", "a stage it does not know: 1/3 · as said"]
    i18n.set_language("zh")
    assert [f"{label}" for _, label in got] == [
        "分配网点: 1/1", "排早间路线的区域: 1/2 · 早间 9 单中 5 单已排入一小时内出发的路线",
        "派出当天来电: 1,000/2,000 · 至此一小时内派出 97.5 %", "a stage it does not know: 1/3 · as said"]


def test_board_job_panel_moves_a_job_to_a_technician_and_time_or_leaves_it():
    """The job panel's move: refused (a start after the customer's window) leaves every job
    where it was, with the service's reason; kept, the job is the chosen technician's, working
    from the chosen time, on the board's live plan."""
    from dashboard import loaders  # as _routed: the app's module, once the app has run

    at = _app()
    before = _routed(at)
    board = loaders.boards_in_use()[0]
    day0 = board.day * 86_400
    stops = board.picture().stops.sort_values("departure_s", ascending=False)  # the latest first
    area = board.technicians
    # Jobs nobody has set off toward by the service's clock (an earlier test may have moved it to 14:00).
    candidates = [j for j, k, d in zip(stops["request_id"], stops["technician_id"], stops["departure_s"])
                  if d > day0 + 15 * 3600 and sum(1 for x in area if area[x] == area.get(k)) > 1][:3]

    def move(job: str, tech: str, start: dt.time) -> None:
        at.selectbox(key="job_detail").set_value(job).run()
        at.selectbox(key="move_tech").set_value(tech)
        at.time_input(key="move_start").set_value(start)
        next(b for b in at.button if b.label == "Move").click().run()
        assert not at.exception, at.exception

    job = candidates[0]
    at.selectbox(key="job_detail").set_value(job).run()
    techs = at.selectbox(key="move_tech").options
    assert all(area[k] == area[before[job]] for k in techs), "a job moves within its area"
    move(job, next(k for k in techs if k != before[job]), dt.time(23, 45))
    assert any("cannot be moved" in m.value and "stays" in m.value for m in at.warning), [m.value for m in at.warning]
    assert _routed(at) == before, "a refused move changes nothing"
    tried = []
    for job in candidates:
        at.selectbox(key="job_detail").set_value(job).run()
        for tech in [k for k in at.selectbox(key="move_tech").options if k != before[job]][:2]:
            start = dt.time(15, 30)
            move(job, tech, start)
            if any(m.value.startswith(f"Moved {job} to {tech}") for m in at.success):
                break
            tried.append((job, tech, [m.value for m in at.warning]))
            assert _routed(at) == before
        else:
            continue
        break
    else:
        raise AssertionError(f"no move was kept: {tried}")
    moved = _routed(at)
    assert moved[job] == tech and all(moved[j] == before[j] for j in before if j != job)
    stop = board.picture().stops.set_index("request_id").loc[job]
    assert stop["start_s"] >= day0 + start.hour * 3600 + start.minute * 60
    # Undone from the list of changes, as a pin is.
    next(b for b in at.button if b.label == "Undo").click().run()
    assert _routed(at) == before


def test_board_lists_the_customers_to_tell():
    """A booked call whose technicians drop out: the service writes the notice, and the board's "customers to tell" lists the customer, the job, both ETAs and why."""
    from dashboard import loaders  # as _routed: the app's module, once the app has run

    at = _app()
    board = loaders.boards_in_use()[0]
    day0, centre = board.day * 86_400, live.call_point(board.ds, data.DEFAULT_PREFECTURE)
    answer = board.link.post("/calls", {
        "id": "BOOKED-1", "lon": centre.lon + 0.01, "lat": centre.lat + 0.01, "level": 1, "mode": "onsite",
        "priority": 2, "service_min": 30, "booked": True, "customer_id": "CUST-7",
        "window_start": board.iso(day0 + 13 * 3600), "window_end": board.iso(day0 + 18 * 3600),
        "at": board.iso(day0 + 12 * 3600)})
    eta = answer["arrival_s"]
    assert answer["technician_id"] and eta < day0 + 16 * 3600, answer
    # Whoever has it drops out, until the customer must be told (a move > 30 min, or nobody).
    for _ in range(14):
        route = next(r for r in board.link.get("/plan", area=answer["area"])["routes"]
                     if any(x["job_id"] == "BOOKED-1" for x in r["stops"]))
        board.drop_out(route["technician_id"], day0 + 12 * 3600)
        told = board.notices()
        if told:
            break
    [notice] = told
    assert notice["customer_id"] == "CUST-7" and notice["old_eta_s"] == eta
    at.run()
    assert not at.exception, at.exception
    table = _frame(at, "customer", "old ETA", "new ETA")
    row = table[table["customer"] == "CUST-7"].iloc[0]
    reason = {"eta_moved": "arrival moved", "window_missed": "window will be missed", "unassigned": "nobody is coming"}
    assert row["job"] == "BOOKED-1" and row["reason"].startswith(reason[notice["reason"]])
    assert (row["old ETA"], row["new ETA"]) == (F.clock(board.ds.epoch_date, eta),
                                                F.clock(board.ds.epoch_date, notice["new_eta_s"]) or "-")
    assert any(m.value.startswith("1 customer(s) to tell") for m in at.markdown), [m.value for m in at.markdown]
