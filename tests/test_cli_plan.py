"""`dispatch plan`: the day plan from the command line."""

from __future__ import annotations

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
