"""Exports of a plan open as what they claim to be and carry the right columns."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from dispatch.exports import SHEET_COLUMNS, export_plan
from dispatch.plan import PlanParams, make_plan
from dispatch.synthetic import generate


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    ds = generate("tiny", days=1, seed=3)
    plan = make_plan(ds, PlanParams(seed=3, deterministic=True))
    frames = {"stops": plan.stops, "routes": plan.routes, "unassigned": plan.unassigned}
    out = tmp_path_factory.mktemp("exports")
    homes = {t.id: t.home_centre_id for t in ds.technicians}
    paths = export_plan(frames, ds.epoch_date, out, "Route sheets - tiny", ds.network, homes)
    return plan, out, paths


def test_every_export_is_written(exported):
    """Exporting a plan writes the five files (CSV and HTML sheets, two GeoJSONs, unassigned), none empty."""
    _, out, paths = exported
    assert sorted(p.name for p in paths) == sorted(
        ["route_sheets.csv", "route_sheets.html", "routes.geojson", "stops.geojson", "unassigned.csv"])
    assert all((out / p.name).stat().st_size > 0 for p in paths)


def test_route_sheet_csv_has_one_row_per_stop_in_local_time(exported):
    """The route-sheet CSV has one row per stop, its clock times in China Standard Time."""
    plan, out, _ = exported
    sheet = pd.read_csv(out / "route_sheets.csv")
    assert list(sheet.columns) == SHEET_COLUMNS
    assert len(sheet) == len(plan.stops)
    assert set(sheet["request_id"]) == set(plan.stops["request_id"])
    # Clock times are local (China Standard Time) and in order along each route.
    first = plan.stops.sort_values(["technician_id", "sequence"]).iloc[0]
    row = sheet.sort_values(["technician_id", "sequence"]).iloc[0]
    expected = pd.Timestamp("2026-03-02") + pd.Timedelta(seconds=int(first["start_s"]))
    assert row["start"] == expected.strftime("%Y-%m-%d %H:%M")


def test_geojson_routes_and_stops_are_valid_feature_collections(exported):
    """Routes are GeoJSON LineStrings from and back to home, stops Points in WGS84 lon/lat order."""
    plan, out, _ = exported
    routes = json.loads((out / "routes.geojson").read_text(encoding="utf-8"))
    stops = json.loads((out / "stops.geojson").read_text(encoding="utf-8"))
    for doc in (routes, stops):
        assert doc["type"] == "FeatureCollection"
    assert {f["geometry"]["type"] for f in routes["features"]} == {"LineString"}
    assert len(routes["features"]) == plan.routes["technician_id"].nunique()
    assert len(stops["features"]) == len(plan.stops)
    for f in stops["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 73 < lon < 136 and 3 < lat < 54  # WGS84 lon/lat, not swapped
    # A route starts and ends at its technician's centre.
    line = routes["features"][0]["geometry"]["coordinates"]
    assert line[0] == line[-1]


def test_unassigned_csv_lists_every_unassigned_request_with_its_reason(exported):
    """The unassigned CSV lists every unassigned request with its code and sentence."""
    plan, out, _ = exported
    un = pd.read_csv(out / "unassigned.csv")
    assert list(un.columns) == ["request_id", "reason_code", "reason"]
    assert set(un["request_id"]) == set(plan.unassigned["request_id"])
    assert un["reason"].notna().all()


def test_html_route_sheets_are_printable(exported):
    """The HTML route sheets are one printable document with the title and every technician."""
    plan, out, _ = exported
    html = (out / "route_sheets.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "Route sheets - tiny" in html
    for tid in plan.routes["technician_id"]:
        assert tid in html


HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://x\")", "\tTAB", "\r=CR"]


def test_no_text_cell_of_a_csv_export_can_start_a_formula(tmp_path):
    """Ids, names and reasons that a spreadsheet would run as a formula (= + - @ tab CR) are
    written with a leading apostrophe in route_sheets.csv and unassigned.csv; numbers stay numbers."""
    stops = pd.DataFrame([{
        "technician_id": HOSTILE[i % len(HOSTILE)], "sequence": 1, "request_id": h, "mode": "onsite", "level": 1,
        "priority": 1, "lon": 120.1, "lat": 30.2, "departure_s": 32400, "arrival_s": 33000, "start_s": 33000,
        "end_s": 34800, "travel_s": 600, "distance_m": 8000, "window_start_s": 32400, "window_end_s": 46800}
        for i, h in enumerate(HOSTILE)])
    unassigned = pd.DataFrame({"request_id": HOSTILE, "reason_code": "capacity", "reason": HOSTILE[::-1]})
    export_plan({"stops": stops, "unassigned": unassigned}, "2026-03-02", tmp_path, "t")
    for name in ("route_sheets.csv", "unassigned.csv"):
        with open(tmp_path / name, newline="", encoding="utf-8") as f:  # the csv module keeps a CR inside a cell
            header, *rows = list(csv.reader(f))
        cells = [c for row in rows for c in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))], name
        expected = {("'" + h).replace("\r", "\n") for h in HOSTILE}  # a CR is written as a (quoted) LF
        assert {row[header.index("request_id")] for row in rows} == expected, name
        assert all(len(row) == len(header) for row in rows), f"{name}: a cell broke its row"
    sheet = pd.read_csv(tmp_path / "route_sheets.csv")
    assert sheet["distance_km"].dtype.kind == "f" and sheet["level"].dtype.kind == "i"


def test_csv_text_guards_the_index_of_a_table():
    """A comparison table written with its index (scenario compare --csv) guards the index too."""
    from dispatch.exports import csv_text

    text = csv_text(pd.DataFrame({"base": [1.0]}, index=["=1+1"]), index=True)
    assert text.splitlines()[1].startswith("'=1+1,")
