"""The shape of every input table: its columns (:class:`Column`) and the one row parser that
turns a file's cells into values, collecting every problem with file, row, column, value and
what would be valid. ``dispatch.io`` (centres, technicians, requests), ``dispatch.parts.io`` and
``dispatch.contracts.table`` all parse their rows here, so a cell means the same in every file.

Clock times are ``HH:MM`` local; date-times ISO 8601, China Standard Time without an offset."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dispatch.errors import Problem
from dispatch.ids import id_message
from dispatch.inputfiles import check_columns, find_file, read_table_and_problems
from dispatch.model import DAY_S, LEVELS

CST = dt.timezone(dt.timedelta(hours=8))

__all__ = ["CST", "Collector", "Column", "Table", "format_clock", "parse_clock", "parse_datetime", "parse_into",
           "parse_rows", "read_kind"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # id | str | int | float | levels | clock | datetime | lines | choice
    required: bool
    unit: str
    description: str
    choices: tuple[str, ...] = ()



def _parse_int(s: str) -> int:
    try:
        f = float(s)
    except ValueError:
        raise ValueError("a whole number") from None
    if not math.isfinite(f) or f != int(f):
        raise ValueError("a whole number")
    return int(f)


def _parse_float(s: str) -> float:
    try:
        f = float(s)
    except ValueError:
        raise ValueError("a number") from None
    if not math.isfinite(f):
        raise ValueError("a finite number")
    return f


def parse_clock(s: str) -> int:
    """'HH:MM' (or 'HH:MM:SS'; '24:00' allowed) to seconds since midnight."""
    parts = s.split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise ValueError("a clock time HH:MM, e.g. 09:00") from None
    if len(nums) not in (2, 3) or not (0 <= nums[0] <= 24 and 0 <= nums[1] < 60):
        raise ValueError("a clock time HH:MM, e.g. 09:00")
    secs = nums[0] * 3600 + nums[1] * 60 + (nums[2] if len(nums) == 3 else 0)
    if secs > DAY_S:
        raise ValueError("a clock time between 00:00 and 24:00")
    return secs


def format_clock(s: int) -> str:
    return f"{s // 3600:02d}:{(s % 3600) // 60:02d}"


def parse_datetime(s: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        raise ValueError("an ISO 8601 date-time, e.g. 2026-03-02T09:30:00+08:00") from None
    return t.replace(tzinfo=CST) if t.tzinfo is None else t.astimezone(CST)


def _parse_levels(s: str) -> frozenset[int]:
    try:
        levels = frozenset(int(p) for p in s.replace(",", ";").split(";") if p.strip())
    except ValueError:
        raise ValueError("repair levels separated by ';', e.g. 1;2") from None
    if not levels or not levels <= set(LEVELS):
        raise ValueError("repair levels among 1, 2, 3 separated by ';', e.g. 1;2")
    return levels


def _parse_lines(s: str) -> frozenset[str]:
    return frozenset(p.strip() for p in s.replace(",", ";").split(";") if p.strip())


class Collector:
    """Parses cells of one file, remembering every problem with file/row/column/value."""

    def __init__(self, file: str, offset: int) -> None:
        self.file = file
        self.offset = offset
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, i: int | None, column: str | None, value: object, message: str) -> None:
        row = None if i is None else i + self.offset
        self.problems.append(Problem(self.file, row, column, value, message))

    def warn(self, column: str | None, value: object, message: str) -> None:
        self.warnings.append(Problem(self.file, None, column, value, message))

    def cell(self, i: int, col: Column, value: str) -> Any:
        if value == "":
            if col.required:
                self.add(i, col.name, None, f"is empty; expected {col.description}")
            return None
        try:
            if col.kind == "id":
                bad = id_message(value)
                if bad is not None:
                    self.add(i, col.name, value, bad)
                    return None
                return value
            if col.kind == "str":
                return value
            if col.kind == "int":
                return _parse_int(value)
            if col.kind == "float":
                return _parse_float(value)
            if col.kind == "clock":
                return parse_clock(value)
            if col.kind == "datetime":
                return parse_datetime(value)
            if col.kind == "levels":
                return _parse_levels(value)
            if col.kind == "lines":
                return _parse_lines(value)
            if col.kind == "choice":
                v = value.lower()
                if v.endswith(".0") and v[:-2].isdigit():
                    v = v[:-2]
                if v not in col.choices:
                    raise ValueError("one of " + ", ".join(col.choices))
                return v
        except ValueError as exc:
            self.add(i, col.name, value, f"is not valid; expected {exc}")
            return None
        raise AssertionError(col.kind)


def parse_rows(frame: pd.DataFrame, file: str, offset: int, kind: str,
               schema: tuple[Column, ...]) -> tuple[list[dict[str, Any] | None], Collector]:
    """The rows of one file parsed by ``schema``, and the collector holding their problems
    (``add`` for more)."""
    c = Collector(file, offset)
    return parse_into(c, kind, frame, schema), c


@dataclass(frozen=True)
class Table:
    """One input file found, read and parsed by its schema (:func:`read_kind`)."""

    path: Path
    frame: pd.DataFrame  # its cells as text ("" where empty)
    rows: list[dict[str, Any] | None]  # parsed, None where a cell has a problem
    collector: Collector  # the problems found reading and parsing it (``add`` for more)


def read_kind(folder: Path, kind: str, schema: tuple[Column, ...]) -> Table | None:
    """The folder's ``kind`` file (``.csv``, ``.parquet`` or ``.geojson``) read and parsed by
    ``schema``, the read's problems first; None when the folder has no such file. Raises
    ValidationError when the file cannot be read as a table (``inputfiles.read_table``)."""
    path = find_file(Path(folder), kind)
    if path is None:
        return None
    frame, offset, read_problems = read_table_and_problems(path)
    c = Collector(str(path), offset)
    c.problems.extend(read_problems)
    return Table(path, frame, parse_into(c, kind, frame, schema), c)


def parse_into(c: Collector, kind: str, frame: pd.DataFrame,
               schema: tuple[Column, ...]) -> list[dict[str, Any] | None]:
    """Each row of ``frame`` as a dict of parsed cells, or None where a cell has a problem (kept
    in ``c``); an empty list when a required column is missing (also in ``c``)."""
    check = check_columns(kind, [str(x) for x in frame.columns],
                          [(col.name, col.required, col.description) for col in schema])
    for column, message in check.problems:
        c.add(None, column, None, message)
    if check.warning is not None:
        c.warn(None, None, check.warning[1])
    if check.missing:
        return []
    rows: list[dict[str, Any] | None] = []
    for i, record in enumerate(frame.to_dict("records")):
        before = len(c.problems)
        parsed = {col.name: c.cell(i, col, record.get(col.name, "")) for col in schema}
        rows.append(parsed if len(c.problems) == before else None)
    return rows
