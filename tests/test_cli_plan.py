"""`dispatch plan`: the day plan from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dispatch.cli import cli


def _plan(tmp: Path, name: str) -> Path:
    out = tmp / name
    res = CliRunner().invoke(cli, ["plan", "--preset", "tiny", "--deterministic", "--workers", "1", "--name", name,
                                   "--db", f"sqlite:///{tmp / 'plans.sqlite'}", "--out", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert f"stored as '{name}'" in res.output
    return out


def test_a_deterministic_plan_is_the_same_route_for_route(tmp_path: Path):
    """`dispatch plan --deterministic` run twice writes the same route sheets, byte for byte."""
    a, b = _plan(tmp_path, "first"), _plan(tmp_path, "second")
    sheets = (a / "route_sheets.csv").read_bytes()
    assert sheets.count(b"\n") > 1, "the tiny preset routes some calls"
    assert sheets == (b / "route_sheets.csv").read_bytes()


def test_a_day_without_calls_stores_the_frames_of_any_day(tmp_path: Path):
    """The empty plan of a header-only requests.csv stores every frame with the columns a plan
    with calls has, so whatever reads a stored plan reads this one too."""
    from dataclasses import replace

    from dispatch.store import Store
    from dispatch.synthetic import generate
    from dispatch.tables import write_dataset

    write_dataset(replace(generate("tiny", days=1, seed=1), requests=()), tmp_path / "empty")
    db = f"sqlite:///{tmp_path / 'plans.sqlite'}"
    res = CliRunner().invoke(cli, ["plan", str(tmp_path / "empty"), "--workers", "1", "--name", "empty", "--db", db,
                                   "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    _plan(tmp_path, "calls")
    store = Store(db)
    empty, calls = store.load("empty"), store.load("calls")
    assert set(empty.frames) == set(calls.frames)
    for name, frame in calls.frames.items():
        assert list(empty.frames[name].columns) == list(frame.columns), name
    assert len(empty.frames["outcomes"]) == len(empty.frames["stops"]) == 0
    assert empty.kpis["requests"] == 0 and empty.kpis["dispatch_within_target_rate"] is None


def test_python_dash_m_dispatch_is_the_dispatch_command():
    """`python -m dispatch` runs the same command line as `dispatch` (and `python -m dispatch.cli`)."""
    res = subprocess.run([sys.executable, "-m", "dispatch", "plan", "--help"], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert "Usage: python -m dispatch plan" in res.stdout
    assert "--deterministic" in res.stdout
