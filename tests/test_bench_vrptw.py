"""VRPTW benchmark: instance reading, double-precision re-check, and a smoke run through the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dispatch.bench.vrptw import (
    double_check,
    instance_class,
    read_instance,
    run_benchmark,
    to_problem,
)
from dispatch.cli import cli
from dispatch.errors import BenchmarkDataError

TINY = """TINY

VEHICLE
NUMBER     CAPACITY
  2         10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0       100          0
    1      3          4          6          0        20          1
    2      6          8          6          0        40          1
"""


def test_read_tiny_instance_and_double_check(tmp_path):
    f = tmp_path / "TINY.txt"
    f.write_text(TINY)
    inst = read_instance(f)
    assert (inst.vehicles, inst.capacity, inst.customers) == (2, 10, 2)
    dist, issues = double_check(inst, [[1], [2]])
    assert dist == pytest.approx(30.0) and issues == []
    _, issues = double_check(inst, [[1, 2]])  # 12 > capacity 10
    assert any("capacity" in s for s in issues)
    p = to_problem(inst)
    assert p.travel_s[0, 0, 1] == 5000 and len(p.technicians) == 2


def test_malformed_file_names_file_and_line(tmp_path):
    f = tmp_path / "BAD.txt"
    f.write_text(TINY.replace("    2      6          8          6", "    2      6          x          6"))
    with pytest.raises(BenchmarkDataError, match=r"BAD.txt, line 12: 'x' is not a number"):
        read_instance(f)


def test_folder_of_instances_runs_through_the_cli(tmp_path):
    (tmp_path / "TINY.txt").write_text(TINY)
    (tmp_path / "bks.csv").write_text("instance,vehicles,distance\nTINY,2,30.0\n")
    out = tmp_path / "out.json"
    res = CliRunner().invoke(cli, ["bench", "vrptw", "--set", str(tmp_path), "--time-limit", "0.3",
                                   "--engine", "ortools", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    row = doc["instances"][0]
    assert row["feasible"] and row["vehicles"] == 2 and row["gap_%"] == pytest.approx(0.0, abs=1e-6)
    assert sorted(map(sorted, row["routes"])) == [[1], [2]]


def test_instance_class():
    assert [instance_class(n) for n in ["C101", "RC208", "R1_2_1", "RC2_4_10"]] == ["C1", "RC2", "R1", "RC2"]


@pytest.mark.parametrize("engine", ["ortools", "pyvrp"])
def test_solomon_smoke(shared, engine):
    rows, summary = run_benchmark("solomon", 1.5, "C101,R101", shared / "benchmarks" / "vrptw", engine=engine)
    assert summary["solved"] == 2
    for r in rows:
        assert r["feasible"], r["violations"]
        assert r["gap_%"] < 10 and r["excess_vehicles"] <= 2
