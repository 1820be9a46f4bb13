"""Data the user brings: uploaded CSV files validated by the CLI's own reader, with every
problem listed and nothing half-loaded."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from dispatch.dataset import Dataset
from dispatch.errors import ValidationError
from dispatch.io import SCHEMAS, read_dataset

MAX_UPLOAD_MB = 20
UPLOAD_KINDS = ("centres", "technicians", "requests")
PROBLEM_COLUMNS = ["file", "row", "column", "value", "message"]


def validate_upload(files: Mapping[str, bytes | None],
                    max_bytes: int = MAX_UPLOAD_MB * 1024 * 1024) -> tuple[Dataset | None, pd.DataFrame]:
    """Validate uploaded CSV files (kind -> bytes) with the same reader as the CLI.

    The bytes are written as ``<kind>.csv`` into a fresh temporary folder (the uploaded file
    names are never used as paths, and only CSV text is read: no pickle, no code) and read with
    ``dispatch.io.read_dataset``. Returns (dataset, empty table) or (None, every problem):
    nothing half-loaded ever comes back."""
    problems: list[dict] = []
    for kind in UPLOAD_KINDS:
        data = files.get(kind)
        if data is None:
            problems.append({"file": f"{kind}.csv", "row": None, "column": None, "value": None,
                             "message": f"is missing; upload the {kind} CSV file"})
        elif len(data) > max_bytes:
            problems.append({"file": f"{kind}.csv", "row": None, "column": None, "value": f"{len(data)} bytes",
                             "message": f"is larger than the {max_bytes // (1024 * 1024)} MB upload limit"})
    if problems:
        return None, pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in UPLOAD_KINDS:
            (Path(tmp) / f"{kind}.csv").write_bytes(files[kind])  # type: ignore[arg-type]
        try:
            ds = read_dataset(tmp)
        except ValidationError as exc:
            rows = [{"file": Path(p.file).name, "row": p.row, "column": p.column,
                     "value": None if p.value is None else str(p.value), "message": p.message}
                    for p in exc.problems]
            return None, pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
    return ds, pd.DataFrame(columns=PROBLEM_COLUMNS)


def schema_rows(kind: str) -> list[dict[str, object]]:
    """The columns of one upload file (``dispatch.io.SCHEMAS``), as the page lists them."""
    return [{"column": c.name, "required": c.required, "unit": c.unit, "meaning": c.description}
            for c in SCHEMAS[kind]]


def upload_label(name: str) -> str:
    """The sidebar label of an uploaded dataset."""
    return f"upload: {name.strip() or 'dataset'}"
