"""`dispatch coverage`, `locate` and `scenario ...` through click's CliRunner on the tiny preset
(one prefecture: Huzhou; stations S330503, S330522, S330523 under C330500)."""

from __future__ import annotations

import json

import pytest

from dispatch.synthetic import generate
from click.testing import CliRunner

from dispatch.cli import cli


@pytest.fixture(scope="module")
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'scenarios.sqlite'}"


def test_coverage_prints_tables_and_writes_catchments(run, tmp_path):
    out = tmp_path / "cov.geojson"
    res = run("coverage", "--preset", "tiny", "--minutes", "45", "--geojson", str(out))
    assert res.exit_code == 0, res.output
    assert "share of demand within 45 min of a centre able to repair each level" in res.output
    assert "travel time to the nearest capable centre" in res.output
    assert "courier-adjusted turnaround" in res.output
    doc = json.loads(out.read_text())
    props = doc["features"][0]["properties"]
    assert {"level1_centre", "level2_min", "level3_covered", "level3_turnaround_h"} <= set(props)
    assert {f["properties"]["adcode"][:4] for f in doc["features"]} == {"3305"}


def test_locate_exact_greedy_locks_and_geojson(run, tmp_path):
    out = tmp_path / "sites.geojson"
    res = run("locate", "--preset", "tiny", "--model", "mclp", "--p", "2", "--lock-open", "S330522",
              "--lock-closed", "330503", "--geojson", str(out))
    assert res.exit_code == 0, res.output
    assert "mclp: OPTIMAL" in res.output and "2 sites chosen" in res.output
    feats = json.loads(out.read_text())["features"]
    sites = {f["properties"]["site"] for f in feats if f["properties"]["kind"] == "site"}
    assert "330522" in sites and "330503" not in sites and len(sites) == 2
    assert {f["properties"]["kind"] for f in feats} == {"site", "catchment"}
    res = run("locate", "--preset", "tiny", "--p", "3", "--greedy")
    assert res.exit_code == 0 and "mclp-greedy: HEURISTIC" in res.output
    for model in ("pmedian", "pcenter"):
        res = run("locate", "--preset", "tiny", "--model", model, "--p", "2")
        assert res.exit_code == 0 and f"{model}: OPTIMAL" in res.output, res.output
    res = run("locate", "--preset", "tiny", "--model", "lscp", "--minutes", "30")
    assert res.exit_code == 0 and "lscp: OPTIMAL" in res.output and "cover every county within" in res.output


def test_locate_pcenter_without_sites_is_an_error_not_an_optimum(run):
    """`locate --model pcenter --p 0` on demand that exists exits 2 saying why, not OPTIMAL with 0 min."""
    res = run("locate", "--preset", "tiny", "--model", "pcenter", "--p", "0")
    assert res.exit_code == 2 and "pcenter has no solution: p = 0 sites cannot serve" in res.output, res.output
    assert "OPTIMAL" not in res.output


@pytest.mark.parametrize("args, message", [
    (("--p", "-1"), "Error: --p -1 is negative; expected a number of sites >= 0"),
    (("--p", "2", "--lock-open", "S999"), "Error: lock open: 'S999' is neither a county adcode of this area"),
    (("--model", "lscp", "--p", "2"), "Error: --p does not apply to --model lscp"),
    (("--model", "pmedian", "--p", "2", "--greedy"), "Error: --greedy exists for --model mclp only"),
    (("--p", "99"), "Error: p = 99 sites requested; expected 0.."),
])
def test_locate_bad_input_is_exit_2(run, args, message):
    res = run("locate", "--preset", "tiny", *args)
    assert res.exit_code == 2 and message in res.output, res.output


def test_scenario_create_list_apply_compare(run, db):
    res = run("scenario", "create", "fewer", "--preset", "tiny", "--close", "S330522", "--open", "330502",
              "--add-tech", "C330500:2", "--dispatch-target-min", "45", "--db", db)
    assert res.exit_code == 0, res.output
    assert "closed: S330522" in res.output and "opened: S330502" in res.output
    moved = sum(t.home_centre_id == "S330522" for t in generate("tiny", seed=1).technicians)
    assert f"warning [fewer]: closing S330522: its {moved} technician(s) move to C330500" in res.output
    res = run("scenario", "list", "--db", db)
    assert "fewer" in res.output and "preset tiny, seed 1" in res.output
    res = run("scenario", "apply", "fewer", "--db", db)
    assert res.exit_code == 0 and "dispatch target (min)" in res.output and "technicians" in res.output
    res = run("scenario", "compare", "fewer", "--db", db)
    assert res.exit_code == 0, res.output
    assert "Δ fewer" in res.output and "coverage_level1_60min" in res.output


def test_scenario_bad_input_is_a_clear_error(run, db):
    res = run("scenario", "create", "bad", "--preset", "tiny", "--close", "S999", "--db", db)
    assert res.exit_code == 2
    assert ("Error: close: unknown station id 'S999'; expected an existing station id such as "
            "S330503, S330522, S330523 (5 in all)") in res.output
    res = run("scenario", "create", "neg", "--preset", "tiny", "--add-tech", "C330500:-2", "--db", db)
    assert res.exit_code == 2
    assert "Error: add: count -2 for 'C330500' is negative; use 'remove' to take technicians away" in res.output
    res = run("scenario", "create", "x", "--preset", "tiny", "--add-tech", "C330500", "--db", db)
    assert res.exit_code == 2 and "--add-tech 'C330500': expected KEY:VALUE" in res.output
    res = run("scenario", "apply", "nope", "--db", db)
    assert res.exit_code == 2 and "no scenario 'nope'" in res.output
    assert "bad" not in run("scenario", "list", "--db", db).output  # nothing stored on error


def test_province_without_capable_centre_is_a_warning(run, db):
    res = run("scenario", "create", "nolab", "--preset", "tiny", "--tier-levels", "1=1,2", "--db", db)
    assert res.exit_code == 0, res.output
    assert "warning [nolab]: province 330000 has no centre able to repair level(s) [3]" in res.output
    res = run("scenario", "apply", "nolab", "--db", db)
    assert "warning [nolab]: province 330000 has no centre able to repair level(s) [3]" in res.output


def test_sweep_runs_through_the_pool(run, tmp_path, db):
    sweep = tmp_path / "sweep.json"
    sweep.write_text(json.dumps({"base": {"preset": "tiny"}, "scenarios": [
        {"name": "add2", "add": [{"centre_id": "C330500", "count": 2}]},
        {"name": "county-l2", "capabilities": {"3": [1, 2]}}]}))
    csv = tmp_path / "sweep.csv"
    res = run("scenario", "sweep", str(sweep), "--workers", "1", "--csv", str(csv), "--save", "--db", db)
    assert res.exit_code == 0, res.output
    assert "2 scenario(s) on preset tiny" in res.output
    rows = csv.read_text().splitlines()
    assert rows[1].startswith("base,") and rows[2].startswith("add2,") and rows[3].startswith("county-l2,")
    assert "add2" in run("scenario", "list", "--db", db).output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "b", "close": ["S1"]}]))
    res = run("scenario", "sweep", str(bad), "--preset", "tiny", "--db", db)
    assert res.exit_code == 2 and "scenario 'b': close: unknown station id 'S1'" in res.output
