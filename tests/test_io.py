"""Dataset I/O: round trips in every format, and every bad-input case with the user's message."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dispatch.errors import ValidationError
from dispatch.io import read_dataset
from dispatch.tables import write_dataset
from tests.builders import differing_files

CENTRES = """id,name,tier,lon,lat,parent_id,levels,bench_hours_per_day,open_time,close_time,courier_to_parent_min,province_adcode,prefecture_adcode,county_adcode
P330000,Hangzhou lab,1,120.15,30.27,,1;2;3,80,09:00,21:00,0,330000,,
C330500,Huzhou centre,2,120.09,30.89,P330000,1;2,40,09:00,19:00,840,330000,330500,
S330521,Deqing station,3,119.97,30.54,C330500,1,8,09:00,18:00,300,330000,330500,330521
"""
TECHNICIANS = """id,name,home_centre_id,max_level,product_lines,shift_start,shift_end,break_earliest,break_latest,break_min,speed_class
T1,Li,S330521,1,phone,08:00,17:00,11:30,13:30,45,car
T2,Wang,C330500,2,,08:00,17:00,11:30,13:30,45,scooter
"""
REQUESTS = """id,created_at,lon,lat,level,mode,priority,window_start,window_end,service_min,product_line,county_adcode
R1,2026-03-02T09:10:00+08:00,119.98,30.55,1,onsite,normal,2026-03-02T09:10:00+08:00,2026-03-02T13:10:00+08:00,30,phone,330521
R2,2026-03-02T10:00:00,120.10,30.88,2,pickup,urgent,2026-03-02T10:00:00,2026-03-02T12:00:00,10,tablet,330502
R3,2026-03-02T11:00:00+08:00,120.11,30.87,3,walkin,high,,,0,phone,330502
"""


def write(folder: Path, centres=CENTRES, technicians=TECHNICIANS, requests=REQUESTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "centres.csv").write_text(centres, encoding="utf-8")
    (folder / "technicians.csv").write_text(technicians, encoding="utf-8")
    (folder / "requests.csv").write_text(requests, encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        read_dataset(folder)
    return [str(p) for p in exc.value.problems]


def test_good_dataset_reads_with_times_relative_to_epoch(tmp_path):
    """A good dataset reads with times in seconds since the epoch's midnight, China Standard Time without an offset."""
    ds = read_dataset(write(tmp_path))
    assert ds.epoch_date == "2026-03-02"
    assert [c.id for c in ds.network] == ["P330000", "C330500", "S330521"]
    r1, r2, r3 = ds.requests
    assert r1.created_s == 9 * 3600 + 600 and r1.window.end_s == 13 * 3600 + 600
    assert r2.created_s == 10 * 3600  # no offset means China Standard Time
    assert r3.window.start_s == r3.created_s  # walk-ins need no window
    assert ds.technicians[0].break_s == 45 * 60


@pytest.mark.parametrize("fmt", ["csv", "parquet", "geojson"])
def test_round_trip_every_format(tmp_path, fmt):
    """Writing and reading back as CSV, Parquet or GeoJSON gives the same dataset."""
    ds = read_dataset(write(tmp_path / "in"))
    write_dataset(ds, tmp_path / fmt, fmt)
    again = read_dataset(tmp_path / fmt)
    assert again.network.centres == ds.network.centres
    assert again.technicians == ds.technicians
    assert again.requests == ds.requests


def test_writing_is_deterministic(tmp_path):
    """Writing the same dataset twice gives byte-identical files."""
    ds = read_dataset(write(tmp_path / "in"))
    write_dataset(ds, tmp_path / "a")
    write_dataset(ds, tmp_path / "b")
    assert differing_files(tmp_path / "a", tmp_path / "b") == []


def test_missing_column_names_the_column(tmp_path):
    """A missing column is one problem naming the file and the column."""
    folder = write(tmp_path, requests=REQUESTS.replace(",level,", ",lvl,"))
    msgs = problems_of(folder)
    assert len(msgs) == 1
    assert msgs[0].startswith(f"{folder / 'requests.csv'}, column 'level': required column is missing")


def test_wrong_type_names_row_column_value(tmp_path):
    """A value of the wrong type names file, row, column, what is valid and the value."""
    folder = write(tmp_path, technicians=TECHNICIANS.replace("T2,Wang,C330500,2", "T2,Wang,C330500,two"))
    assert problems_of(folder) == [
        f"{folder / 'technicians.csv'}, row 3, column 'max_level': is not valid; expected one of 1, 2, 3 (value 'two')"
    ]


def test_swapped_and_outside_coordinates(tmp_path):
    """Swapped lon/lat and coordinates outside mainland China are reported by row and column."""
    bad = REQUESTS.replace("119.98,30.55", "30.55,119.98").replace("120.10,30.88", "2.35,48.85").replace(
        "120.11,30.87", "120.11,60.5")
    msgs = problems_of(write(tmp_path, requests=bad))
    assert any("row 2, column 'lon': looks swapped with lat (119.98)" in m for m in msgs)
    assert any("row 3, column 'lon': is outside mainland China" in m and "(value 2.35)" in m for m in msgs)
    assert not any("row 3, column 'lat'" in m for m in msgs)  # Paris' latitude alone is plausible
    assert any("row 4, column 'lat': is outside mainland China" in m and "(value 60.5)" in m for m in msgs)


def test_unknown_parent_and_duplicate_ids(tmp_path):
    """A duplicate centre id names the row first using it; an unknown parent is reported."""
    bad = CENTRES.replace("S330521,Deqing station,3,119.97,30.54,C330500", "S330521,Deqing station,3,119.97,30.54,C999999")
    bad += "C330500,Again,2,120.09,30.89,P330000,1;2,40,09:00,19:00,840,330000,330500,\n"
    msgs = problems_of(write(tmp_path, centres=bad))
    assert any("row 5, column 'id': duplicate centre id; first used on row 3 (value 'C330500')" in m for m in msgs)
    assert any("row 4, column 'parent_id'" in m and "existing centre" in m and "C999999" in m for m in msgs)


def test_cycle_in_hierarchy(tmp_path):
    """A parent of the same tier and a cycle in the hierarchy are both reported."""
    bad = """id,name,tier,lon,lat,parent_id,levels,bench_hours_per_day,open_time,close_time,courier_to_parent_min
P1,P,1,120.15,30.27,,1;2;3,80,09:00,21:00,0
C1,A,2,120.09,30.89,C2,1;2,40,09:00,19:00,840
C2,B,2,120.19,30.89,C1,1;2,40,09:00,19:00,840
"""
    msgs = problems_of(write(tmp_path, centres=bad, technicians=TECHNICIANS.split("\n")[0] + "\n"))
    assert any("column 'parent_id'" in m and "higher tier" in m for m in msgs)
    assert any("is its own ancestor" in m for m in msgs)


def test_negative_duration_and_window_end_before_start(tmp_path):
    """A negative service time and a window ending before it starts are reported with their values."""
    bad = REQUESTS.replace(",30,phone,330521", ",-30,phone,330521").replace(
        "2026-03-02T10:00:00,2026-03-02T12:00:00", "2026-03-02T12:00:00,2026-03-02T10:00:00")
    msgs = problems_of(write(tmp_path, requests=bad))
    assert any("row 2, column 'service_min': is negative; expected minutes >= 0 (value -30)" in m for m in msgs)
    assert any("row 3, column 'window_end': ends before window_start 2026-03-02T12:00:00+08:00" in m for m in msgs)


def test_technician_without_shift_or_home(tmp_path):
    """A technician with an unknown home centre or an empty shift start is reported."""
    bad = TECHNICIANS.replace("T1,Li,S330521,1,phone,08:00", "T1,Li,S999,1,phone,08:00").replace(
        "T2,Wang,C330500,2,,08:00,17:00", "T2,Wang,C330500,2,,,17:00")
    msgs = problems_of(write(tmp_path, technicians=bad))
    assert any("row 2, column 'home_centre_id': is not the id of any centre in the centres file (value 'S999')" in m for m in msgs)
    assert any("row 3, column 'shift_start': is empty; expected shift start, local" in m for m in msgs)


def test_request_no_centre_can_serve(tmp_path):
    """A request of a level no centre can repair is reported with the highest level there is."""
    centres = "\n".join(l for l in CENTRES.splitlines() if not l.startswith("P330000")) + "\n"
    centres = centres.replace(",P330000,1;2,", ",,1;2,").replace("C330500,Huzhou centre,2", "C330500,Huzhou centre,1")
    msgs = problems_of(write(tmp_path, centres=centres))
    assert msgs == [
        f"{tmp_path / 'requests.csv'}, row 4, column 'level': no centre in the network can repair level 3 (highest: 2) (value 3)"
    ]


def test_every_problem_reported_at_once(tmp_path):
    """Every problem of the input is reported in one error, not the first alone."""
    bad = REQUESTS.replace("onsite", "teleport").replace("urgent", "asap").replace("R3,", "R1,")
    msgs = problems_of(write(tmp_path, requests=bad))
    assert len(msgs) == 3
    assert any("column 'mode'" in m and "teleport" in m for m in msgs)
    assert any("column 'priority'" in m and "asap" in m for m in msgs)
    assert any("duplicate request id" in m for m in msgs)


def test_missing_files_and_bad_manifest(tmp_path):
    """Missing input files and a manifest that is not JSON are reported."""
    (tmp_path / "centres.csv").write_text(CENTRES)
    msgs = problems_of(tmp_path)
    assert any("has no technicians file" in m for m in msgs) and any("has no requests file" in m for m in msgs)
    write(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    assert "manifest.json, row 1: is not valid JSON" in problems_of(tmp_path)[0]


def test_parquet_typed_columns_are_validated(tmp_path):
    """Parquet's typed columns are validated as CSV's are, naming the row."""
    ds = read_dataset(write(tmp_path / "in"))
    write_dataset(ds, tmp_path / "pq", "parquet")
    frame = pd.read_parquet(tmp_path / "pq" / "requests.parquet")
    frame.loc[1, "service_min"] = -5
    frame.to_parquet(tmp_path / "pq" / "requests.parquet", index=False)
    msgs = problems_of(tmp_path / "pq")
    assert msgs == [f"{tmp_path / 'pq' / 'requests.parquet'}, row 2, column 'service_min': is negative; expected minutes >= 0 (value -5)"]
    assert json.loads((tmp_path / "pq" / "manifest.json").read_text())["epoch_date"] == "2026-03-02"


def test_committed_sample_is_valid_and_documented():
    """The committed Zhejiang sample reads cleanly, and data/README.md states its counts and every column."""
    from dispatch.io import SCHEMAS

    repo = Path(__file__).resolve().parents[1]
    ds = read_dataset(repo / "data" / "sample-zhejiang")
    readme = (repo / "data" / "README.md").read_text(encoding="utf-8")
    assert len(ds.requests) > 1000
    # The README's description of the sample is the sample's.
    assert (f"writes it: {len(ds.network)} centres" in readme and f"{len(ds.technicians)} technicians" in readme
            and f"{len(ds.requests):,} calls" in readme)
    for kind, columns in SCHEMAS.items():
        assert f"### {kind}" in readme
        for col in columns:
            assert f"| `{col.name}` |" in readme, f"data/README.md lacks {kind}.{col.name}"
