"""The command line on a day without calls and on a plan store it cannot use: an empty plan end to
end, and for every command that opens the store, exit code 3 with one sentence naming the store,
the cause and what to do, never a traceback; a plan computed before the store failed keeps its
exports.

Broken stores as the tests build them (they run as root, where chmod stops no write): read-only
as SQLite's own read-only URI (``file:...?mode=ro``) and, where ``chattr`` works, as an immutable
file; a folder where the file should be; a path under a regular file (its folder cannot be made);
a path under a missing folder (for the commands that only read); a file that is no database; a
damaged database (a valid header and garbage pages, and a real store with damaged pages only the
save reads); a full disk (simulated: SQLite's own error from the save)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dispatch.cli import main
from dispatch.store import Store
from dispatch.synthetic import generate
from dispatch.tables import write_dataset

HEADER = b"SQLite format 3\x00"


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny preset's one day as a folder, and the same with a header-only requests.csv."""
    root = tmp_path_factory.mktemp("inputs")
    ds = generate("tiny", days=1, seed=1)
    write_dataset(ds, root / "tiny")
    write_dataset(replace(ds, requests=()), root / "empty")
    header = (root / "empty" / "requests.csv").read_text(encoding="utf-8")
    assert header.count("\n") == 1 and header.startswith("id,"), "requests.csv is a header and no row"
    return {"tiny": root / "tiny", "empty": root / "empty"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(err: str) -> str:
    """The error output, checked to be one line of ours and no traceback."""
    assert "Traceback" not in err and "sqlalche.me" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: cannot "), err
    return lines[0]


def kpi_table(text: str, column: int = 0) -> dict[str, str]:
    """The KPI table a command prints, label -> value of its ``column``-th value column (columns
    stand two spaces or more apart; these tables' values are short)."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
    return {r[0]: r[1 + column] for r in rows if len(r) > 1 + column}


# ---- a day without calls -----------------------------------------------------------------------

def test_a_day_without_calls_is_an_empty_plan_end_to_end(capsys, folders, tmp_path):
    """A header-only requests.csv validates and plans to an empty plan: KPIs with zero counts and
    '-' rates, route sheets and unassigned lists with their headers, stored, listed, shown and
    exported again (was: KeyError 'mode' in the KPIs)."""
    db, out = f"sqlite:///{tmp_path / 'plans.sqlite'}", tmp_path / "out"
    code, text, err = run(capsys, "plan", str(folders["empty"]), "--db", db, "--out", str(out), "--workers", "1",
                          "--deterministic", "--name", "empty")
    assert code == 0, err
    for column in range(4):  # the estimate, the simulation, the error, with next-day calls
        kpi = kpi_table(text, column)
        assert kpi["requests"] in ("0", "+0.00") and kpi["unassigned"] in ("0", "+0.00"), column
        assert kpi["dispatched <= 60 min"] == "-" and kpi["turnaround mean (h, served)"] == "-"
        assert kpi["served (repaired or returned)"] == "-"  # no population: no share, not 0 %
    assert "stored as 'empty'" in text
    assert (out / "route_sheets.csv").read_text().splitlines()[0].startswith("technician_id,sequence,request_id")
    assert (out / "route_sheets.csv").read_text().count("\n") == 1
    assert (out / "unassigned.csv").read_text() == "request_id,reason_code,reason\n"
    code, text, err = run(capsys, "plans", "list", "--db", db)
    assert code == 0 and text.splitlines()[1].split()[-1] == "-", text  # the rate of no call: '-', not 0.0 %
    code, text, err = run(capsys, "plans", "show", "empty", "--db", db)
    assert code == 0 and "dispatched <= 60 min     -" in text, text
    code, text, err = run(capsys, "plans", "export", "empty", "--db", db, "--out", str(tmp_path / "again"))
    assert code == 0 and (tmp_path / "again" / "route_sheets.csv").exists(), err


def test_a_day_past_the_calls_is_an_empty_plan(capsys, folders, tmp_path):
    """Day 3 of a one-day dataset has no call: an empty plan, not a crash."""
    code, text, err = run(capsys, "plan", str(folders["tiny"]), "--day", "3", "--db", f"sqlite:///{tmp_path / 'p.sqlite'}",
                          "--out", str(tmp_path / "out"), "--workers", "1", "--deterministic")
    assert code == 0, err
    kpi = kpi_table(text)
    assert kpi["requests"] == "0" and kpi["dispatched <= 60 min"] == "-"
    assert (tmp_path / "out" / "route_sheets.csv").read_text().count("\n") == 1


# ---- stores that cannot be used ------------------------------------------------------------------

def _store(path: Path, plan: str | None = None) -> Path:
    """A real store at ``path`` (current schema), with a plan named ``plan`` whose frames are
    large enough to take overflow pages; in WAL mode as the store leaves it, everything
    checkpointed into the main file."""
    s = Store(f"sqlite:///{path}")
    if plan:
        s.save(plan, {"stops": pd.DataFrame({"x": np.random.default_rng(1).random(20_000)})}, {}, {}, "fp")
    s.engine.dispose()
    c = sqlite3.connect(path)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return path


def _page_size(path: Path) -> int:
    c = sqlite3.connect(path)
    try:
        return int(c.execute("PRAGMA page_size").fetchone()[0])
    finally:
        c.close()


# Each broken store: its URL, the path a sentence names, the cause and the advice it gives.
Broken = tuple[str, Path, str, str]
ANOTHER = "pass --db to another file"


def read_only_uri(tmp: Path) -> Broken:
    path = _store(tmp / "ro.sqlite", "kept")
    return f"sqlite:///file:{path}?mode=ro&uri=true", path, "the file is read-only", f"{ANOTHER} or fix its permissions"


def folder_in_place(tmp: Path) -> Broken:
    (tmp / "plans.sqlite").mkdir()
    return (f"sqlite:///{tmp / 'plans.sqlite'}", tmp / "plans.sqlite", "it is a folder, not a database file",
            f"pass --db to a file inside it, e.g. {tmp / 'plans.sqlite' / 'plans.sqlite'}")


def under_a_file(tmp: Path) -> Broken:
    (tmp / "notes.txt").write_text("a file, not a folder")
    path = tmp / "notes.txt" / "plans.sqlite"
    return f"sqlite:///{path}", path, f"{tmp / 'notes.txt'} is a file, not a folder", "pass --db to "


def not_a_database(tmp: Path) -> Broken:
    (tmp / "plans.sqlite").write_text("id,name\n1,a csv file\n" * 200)
    return (f"sqlite:///{tmp / 'plans.sqlite'}", tmp / "plans.sqlite", "the file is not a SQLite database",
            f"{ANOTHER}, or move this one aside and a new store is made in its place")


def damaged_header(tmp: Path) -> Broken:
    """A valid SQLite header followed by garbage pages: SQLite calls it no database, or damaged."""
    (tmp / "plans.sqlite").write_bytes(HEADER + bytes(np.random.default_rng(7).integers(0, 256, 8192, dtype=np.uint8)))
    return f"sqlite:///{tmp / 'plans.sqlite'}", tmp / "plans.sqlite", "the file is ", ANOTHER


def damaged_pages(tmp: Path) -> Broken:
    """A real store whose first page (the schema) is intact and every later page is garbage."""
    path = _store(tmp / "plans.sqlite", "kept")
    data = path.read_bytes()
    page = _page_size(path)
    path.write_bytes(data[:page] + bytes(np.random.default_rng(3).integers(0, 256, len(data) - page, dtype=np.uint8)))
    return (f"sqlite:///{path}", path, "the file is damaged (database disk image is malformed)",
            f"restore it from a backup, or move it aside and {ANOTHER}")


BROKEN = (read_only_uri, folder_in_place, under_a_file, not_a_database, damaged_header, damaged_pages)

WRITERS = {  # every command that writes the store, as run on the tiny preset
    "plan": ("plan", "--preset", "tiny", "--workers", "1"),
    "simulate": ("simulate", "--preset", "tiny", "--days", "1", "--policy", "baseline"),
    "scenario create": ("scenario", "create", "more", "--preset", "tiny", "--add-tech", "C330500:1"),
    "scenario sweep --save": ("scenario", "sweep", "SWEEP", "--save", "--workers", "1"),
    "serve": ("serve", "--preset", "tiny", "--port", "8765"),
}
READERS = {  # every command that only reads it
    "plans list": ("plans", "list"),
    "plans show": ("plans", "show", "kept"),
    "plans export": ("plans", "export", "kept", "--out", "OUT"),
    "scenario list": ("scenario", "list"),
    "scenario apply": ("scenario", "apply", "kept"),
    "scenario compare": ("scenario", "compare", "kept"),
}


@pytest.fixture
def no_server(monkeypatch):
    """`dispatch serve` must fail before it starts a server: starting one fails the test."""
    import dispatch.service

    def refuse(*args, **kwargs):
        raise AssertionError("the server started on a store it cannot write")

    monkeypatch.setattr(dispatch.service, "run", refuse)


def _argv(args: tuple[str, ...], tmp: Path) -> list[str]:
    sweep = tmp / "sweep.json"
    sweep.write_text('{"base": {"preset": "tiny"}, "scenarios": [{"name": "a", "add": [{"centre_id": "C330500", "count": 1}]}]}')
    return [str(sweep) if a == "SWEEP" else str(tmp / "exports") if a == "OUT" else a for a in args]


@pytest.mark.parametrize("broken", BROKEN, ids=lambda f: f.__name__)
@pytest.mark.parametrize("command", list(WRITERS))
def test_a_store_that_cannot_take_the_result_fails_before_the_run(capsys, monkeypatch, request, tmp_path,
                                                                  broken, command):
    """Every writing command checks the store before its run: exit 3, one sentence naming the
    file, the cause and what to do (was: a raw SQLAlchemy or OS traceback, after the solve)."""
    if command == "serve":
        request.getfixturevalue("no_server")
    monkeypatch.chdir(tmp_path)  # SQLite's URI form leaves a folder named 'file:' where it runs
    url, path, cause, advice = broken(tmp_path)
    code, out, err = run(capsys, *_argv(WRITERS[command], tmp_path), "--db", url)
    assert code == 3, (out, err)
    line = one_sentence(err)
    assert line.startswith(f"error: cannot write the plan store {path}: {cause}"), line
    assert f"; {advice}" in line, line
    assert "timings" not in out and "calls simulated" not in out, "the check comes before the run"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("broken", [b for b in BROKEN if b is not read_only_uri], ids=lambda f: f.__name__)
@pytest.mark.parametrize("command", list(READERS))
def test_a_store_that_cannot_be_read_is_one_sentence(capsys, monkeypatch, tmp_path, broken, command):
    """Every reading command: exit 3, one sentence naming the file, the cause and what to do."""
    monkeypatch.chdir(tmp_path)
    url, path, cause, _ = broken(tmp_path)
    code, out, err = run(capsys, *_argv(READERS[command], tmp_path), "--db", url)
    assert code == 3, (out, err)
    line = one_sentence(err)
    assert line.split(" the plan store ")[0] in ("error: cannot open", "error: cannot read"), line
    assert line.split(" the plan store ")[1].startswith(f"{path}: {cause}"), line


@pytest.mark.parametrize("command", list(READERS))
def test_a_path_under_a_missing_folder_is_refused_by_readers_and_not_made(capsys, tmp_path, command):
    """A reading command on a path whose folder does not exist (a mistyped --db) says so and
    creates nothing; a writing command makes the folder (as --out does)."""
    db = tmp_path / "no" / "such" / "plans.sqlite"
    code, _, err = run(capsys, *_argv(READERS[command], tmp_path), "--db", f"sqlite:///{db}")
    assert code == 3
    assert one_sentence(err) == (f"error: cannot read the plan store {db}: its folder {db.parent} does not exist; "
                                 "pass --db to the store the plans were written to")
    assert not (tmp_path / "no").exists()


def test_a_read_only_store_can_still_be_read(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    url, *_ = read_only_uri(tmp_path)
    code, out, err = run(capsys, "plans", "list", "--db", url)
    assert code == 0 and "kept" in out, err


def test_an_immutable_store_fails_before_the_solve(capsys, tmp_path):
    """A file the kernel refuses to change even for root (chattr +i): the plan is refused at once."""
    path = _store(tmp_path / "plans.sqlite")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        code, _, err = run(capsys, "plan", "--preset", "tiny", "--workers", "1", "--db", f"sqlite:///{path}",
                             "--out", str(tmp_path / "out"))
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert code == 3
    assert one_sentence(err) == (f"error: cannot write the plan store {path}: the file is read-only; "
                                 "pass --db to another file or fix its permissions")


def test_an_unreachable_server_is_one_sentence_without_the_password(capsys):
    code, _, err = run(capsys, "plans", "list", "--db", "postgresql://planner:s3cret@127.0.0.1:1/dispatch")
    assert code == 3
    line = one_sentence(err)
    assert line.startswith("error: cannot open the plan store postgresql+psycopg://planner:***@127.0.0.1:1/dispatch: ")
    assert "s3cret" not in line and "check the URL, that the server is running" in line


# ---- a store that fails after the solve -------------------------------------------------------------

def _damage_frames_overflow(path: Path) -> None:
    """Garbage over the overflow pages of the stored frames: the plans table still reads, and
    only replacing the plan (which frees those pages) finds the damage."""
    c = sqlite3.connect(path)
    try:
        pages = [r[0] for r in c.execute(
            "SELECT pageno FROM dbstat WHERE name = 'plan_frames' AND pagetype = 'overflow'")]
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        c.close()
    size = _page_size(path)
    assert pages
    with path.open("r+b") as f:
        for p in pages:
            f.seek((p - 1) * size)
            f.write(os.urandom(size))


def test_a_plan_keeps_its_exports_when_the_store_fails_after_the_solve(capsys, tmp_path):
    """A store that passes the check and fails on the save (damaged pages only the save reads):
    exit 3, one sentence that says where the exports are, and the exports are on disk."""
    path = _store(tmp_path / "plans.sqlite", "same")
    _damage_frames_overflow(path)
    out = tmp_path / "out"
    code, text, err = run(capsys, "plan", "--preset", "tiny", "--workers", "1", "--name", "same",
                          "--db", f"sqlite:///{path}", "--out", str(out))
    assert code == 3
    assert one_sentence(err) == (
        f"error: cannot write the plan store {path}: the file is damaged (database disk image is malformed); "
        f"restore it from a backup, or move it aside and pass --db to another file "
        f"(the plan is not stored, its exports are in {out})")
    assert "timings" in text  # the plan was computed, and its KPIs shown
    assert (out / "route_sheets.csv").read_text().count("\n") > 1
    assert {p.name for p in out.iterdir()} >= {"route_sheets.csv", "route_sheets.html", "routes.geojson",
                                               "stops.geojson", "unassigned.csv"}


@pytest.fixture
def disk_full(monkeypatch):
    """Every save fails as SQLite fails on a full disk."""
    from sqlalchemy.exc import OperationalError

    import dispatch.store

    def full(*args, **kwargs):
        raise OperationalError("INSERT INTO plan_frames ...", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(dispatch.store.Store, "save", full)


def test_a_full_disk_after_the_solve_keeps_the_exports(capsys, tmp_path, disk_full):
    out, db = tmp_path / "out", tmp_path / "plans.sqlite"
    code, _, err = run(capsys, "plan", "--preset", "tiny", "--workers", "1", "--db", f"sqlite:///{db}",
                          "--out", str(out))
    assert code == 3
    assert one_sentence(err) == (f"error: cannot write the plan store {db}: the disk is full; free some space, or "
                                 f"pass --db to another file on another disk (the plan is not stored, its exports "
                                 f"are in {out})")
    assert (out / "route_sheets.csv").exists() and (out / "routes.geojson").exists()


def test_a_full_disk_after_a_simulation_keeps_its_event_log(capsys, tmp_path, disk_full):
    log, db = tmp_path / "log.csv", tmp_path / "plans.sqlite"
    code, _, err = run(capsys, "simulate", "--preset", "tiny", "--days", "1", "--policy", "baseline",
                          "--db", f"sqlite:///{db}", "--log-csv", str(log))
    assert code == 3
    assert one_sentence(err).endswith(f"(the baseline run is not stored, its event log is in {log})")
    assert log.read_text().count("\n") > 1


def test_a_postgresql_role_that_may_only_read_fails_before_the_solve(capsys, pg_url, tmp_path):
    """On PostgreSQL the same check: a role with SELECT only reads the plans, and `dispatch plan`
    is refused before the solve, naming the role's missing right (skips without a server)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from dispatch.store import database_url

    Store(pg_url).close()
    role = f"reader_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    reader = make_url(database_url(pg_url)).set(username=role, password=None).render_as_string(hide_password=False)
    try:
        code, out, err = run(capsys, "plans", "list", "--db", reader)
        assert code == 0 and "no plans stored" in out, err
        code, out, err = run(capsys, "plan", "--preset", "tiny", "--workers", "1", "--db", reader,
                             "--out", str(tmp_path / "out"))
        assert code == 3 and "timings" not in out
        line = one_sentence(err)
        assert line.startswith(f"error: cannot write the plan store postgresql+psycopg://{role}@"), line
        assert line.endswith(": permission denied for table plans; grant this role the rights on the store's "
                             "tables, or pass --db to another database"), line
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()
