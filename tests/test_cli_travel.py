"""`dispatch travel calibrate|compare` and --travel on the commands: what the user sees."""

from __future__ import annotations

import json

import pandas as pd

from dispatch.cli import main
from dispatch.travel import travel_from_spec
from tests.test_travel_calibrate import TRUE, _trips  # the known model and its noisy trips


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_calibrate_prints_errors_before_and_after_and_writes_params(tmp_path, capsys):
    _trips(tmp_path, n=200, seed=11)
    out_path = tmp_path / "p.json"
    code, out, _ = run(capsys, "travel", "calibrate", str(tmp_path / "trips.csv"), "--out", str(out_path))
    assert code == 0
    before, after = (float(x.split(" %")[0]) for x in out.split("(MdAPE): ")[1].split("\n")[0].split(" -> "))
    assert after < before
    assert "90th percentile" in out and f"--travel {out_path}" in out
    fitted = travel_from_spec(str(out_path))
    assert abs(fitted.params.overhead_s - TRUE.overhead_s) < 150
    assert json.loads(out_path.read_text())["fit"]["after"]["mdape"] < 0.1


def test_calibrate_names_a_bad_file(tmp_path, capsys):
    pd.DataFrame({"from_lon": [120.0]}).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(capsys, "travel", "calibrate", str(tmp_path / "t.csv"))
    assert code == 2 and "missing column(s)" in err and "depart_at" in err


def test_compare_reports_drives_and_reach_of_both_models(capsys):
    code, out, _ = run(capsys, "travel", "compare", "flat", "road", "--preset", "tiny")
    assert code == 0
    assert "A: flat:" in out and "B: road" in out
    assert "centre-customer" in out and "beyond 60 min (reach)" in out and "B / A on A's pairs, median" in out


def test_a_bad_travel_spec_is_one_line_exit_2(capsys):
    code, _, err = run(capsys, "coverage", "--preset", "tiny", "--travel", "road:speed=3")
    assert code == 2 and "--travel" in err and "unknown option 'speed'" in err and "Traceback" not in err


def test_a_stored_plan_records_its_travel_and_shows_it(tmp_path, capsys):
    """`dispatch plan --travel road` says its travel, stores the spec with the plan, and
    `dispatch plans show` prints it."""
    db = f"sqlite:///{tmp_path / 'plans.sqlite'}"
    code, out, _ = run(capsys, "plan", "--preset", "tiny", "--workers", "1", "--time-limit", "0.5", "--travel",
                       "road", "--name", "t", "--db", db, "--out", str(tmp_path / "out"))
    assert code == 0 and "\ntravel: road\n" in out
    from dispatch.store import Store

    assert Store(db).load("t").kpis["travel"] == "road"
    code, out, _ = run(capsys, "plans", "show", "t", "--db", db)
    assert code == 0 and "travel road" in out
