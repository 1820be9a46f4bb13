"""One input file as a table of text, and one sentence for each way a file goes wrong before
its rows are read (``dispatch.io`` validates the rows).

Reading: a dangling or looping link, a folder, a pipe or an unreadable file is named as such;
another format under the name (an Excel workbook, a Parquet file, zip, gzip, PDF, HTML, SQLite) is
recognised by its first bytes, with what to do; text is UTF-8 (with or without the BOM Excel
writes), UTF-16 with a BOM (Excel's 'Unicode text', tab-separated) or GB18030, a superset of GBK
(Excel's 'CSV' on a Chinese Windows), detected from the bytes, so no option is needed; anything
else names the line of the first byte that is not UTF-8 and how to re-save the file. The CSV
separator is a comma, else (a header without commas) a tab or a semicolon. Header names and
cells are trimmed of spaces and tabs.

Columns: a column the schema does not know but that misspells one the file lacks
(``break_minutes``, ``speedclass``, ``productline``, ``lng``) is a problem with "did you mean";
any other unknown column is listed in one warning.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import io
import json
import math
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from dispatch.errors import Problem, ValidationError

FORMATS = ("csv", "parquet", "geojson")


def find_file(folder: Path, kind: str) -> Path | None:
    """The folder's ``kind`` file (a dangling or looping link counts: reading it says what is wrong)."""
    hits = [folder / f"{kind}.{ext}" for ext in FORMATS
            if (folder / f"{kind}.{ext}").exists() or (folder / f"{kind}.{ext}").is_symlink()]
    if len(hits) > 1:
        raise ValidationError(
            [Problem(str(folder), None, None, [h.name for h in hits],
                     f"more than one {kind} file; keep exactly one of {kind}.csv/.parquet/.geojson")]
        )
    return hits[0] if hits else None


def near_misses(folder: Path, kind: str) -> list[str]:
    """Files in ``folder`` that look meant as the ``kind`` file (centres.xlsx, Centres.CSV, centres.txt)."""
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return []
    return [n for n in names if n.lower().split(".")[0] == kind and n not in {f"{kind}.{e}" for e in FORMATS}]


def file_problem(path: Path, message: str, row: int | None = None) -> ValidationError:
    return ValidationError([Problem(str(path), row, None, None, message)])


def _check_readable(path: Path) -> None:
    """A sentence for a file that is not there to be read: a dangling or looping link, a folder,
    a pipe or device, a file without read permission."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except FileNotFoundError:
            raise file_problem(path, f"is a symbolic link to {os.readlink(path)!r}, which does not exist; "
                                 "point the link at the real file or replace it with the file") from None
        except (RuntimeError, OSError):  # RuntimeError: Python 3.11's "Symlink loop"; OSError: ELOOP
            raise file_problem(path, f"is a symbolic link that loops (it leads back to itself via "
                                 f"{os.readlink(path)!r}); point the link at the real file") from None
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise file_problem(path, f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise file_problem(path, "is a folder, not a file; put the table itself under this name")
    if not stat.S_ISREG(mode):
        raise file_problem(path, "is not a regular file (a pipe, socket or device); give a CSV, Parquet or GeoJSON file")
    if not os.access(path, os.R_OK):
        raise file_problem(path, "cannot be read: permission denied; make the file readable (chmod a+r)")


# Leading bytes of formats people save by mistake under a .csv/.geojson/.parquet name.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive",
     "open it in Excel and save it with File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls)",
     "open it in Excel and save it with File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'"),
    (b"PAR1", "a Parquet file", "give it the .parquet extension"),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip)"),
    (b"%PDF", "a PDF document", "export the table itself as CSV UTF-8"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table itself as CSV UTF-8"),
)


def _sniff(data: bytes) -> tuple[str, str] | None:
    """(what the bytes are, what to do) for a known non-text format, else None."""
    for magic, what, advice in _MAGIC:
        if data.startswith(magic):
            if magic == b"PK\x03\x04" and b"xl/" not in data[:4096] and b"[Content_Types]" not in data[:4096]:
                return "a zip archive", "unzip it and give the CSV file inside"
            return what, advice
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"<":
        return "HTML or XML (a web page saved instead of the file?)", "export the table itself as CSV UTF-8"
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "a binary file", "give a CSV (UTF-8), Parquet or GeoJSON file"
    return None


def _cjk_count(text: str) -> tuple[int, int]:
    """(Chinese characters: CJK ideographs and punctuation, full-width forms; all non-ASCII ones)."""
    other = [ch for ch in text if ord(ch) > 0x7F]
    cjk = sum(1 for ch in other if 0x4E00 <= ord(ch) <= 0x9FFF or 0x3400 <= ord(ch) <= 0x4DBF
              or 0x3000 <= ord(ch) <= 0x303F or 0xFF00 <= ord(ch) <= 0xFFEF or ch in "·—…“”‘’")
    return cjk, len(other)


def _looks_chinese(text: str) -> bool:
    """Whether a GB18030 decoding reads as Chinese text (its non-ASCII characters nearly all CJK
    ideographs, punctuation or full-width forms), as a file Excel saved in GBK does; Latin-1 or
    binary bytes decode, when they decode at all, to rare and private-use characters."""
    cjk, other = _cjk_count(text)
    return other > 0 and cjk >= 0.9 * other


def decode_text(path: Path, data: bytes) -> str:
    """The text of a CSV or GeoJSON file: UTF-8 (with or without the BOM Excel writes), UTF-16 with
    a BOM (Excel's 'Unicode text'), or GB18030 (a superset of GBK: Excel's 'CSV' on a Chinese
    Windows) when the bytes are not UTF-8 and read as Chinese text. Anything else is a sentence
    naming the line of the first byte that is not UTF-8 and how to re-save the file."""
    if data.startswith(codecs.BOM_UTF8):
        data, bom = data[len(codecs.BOM_UTF8):], True
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise file_problem(path, "starts like UTF-16 text but is not valid UTF-16; re-save it as 'CSV UTF-8'") from None
    else:
        bom = False
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc
    line = data[: bad.start].count(b"\n") + 1
    if not bom:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            text = None
        if text is not None and _looks_chinese(text):
            return text
    guess = data.decode("gb18030", errors="replace")
    cjk, _ = _cjk_count(guess)
    looks_gbk = not bom and cjk >= 2 and guess.count("\ufffd") <= max(2, cjk // 20) and _looks_chinese(
        guess.replace("\ufffd", ""))
    why = (" and looks GBK-encoded, but some of its bytes are not valid GBK either (a damaged file?)"
           if looks_gbk else "")
    raise file_problem(path, f"is not UTF-8 text: byte 0x{data[bad.start]:02X} on this line is not UTF-8{why}; "
                         "re-save the file as UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')",
                   row=line) from None


def _delimiter(text: str) -> str:
    """The separator of a CSV text, from its header line: ',' unless the header has none and has
    tabs (Excel's 'Unicode text') or semicolons (Excel in locales with a decimal comma)."""
    header = text.split("\n", 1)[0]
    if "," in header:
        return ","
    if "\t" in header:
        return "\t"
    if ";" in header:
        return ";"
    return ","


_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_text(path: Path, what: str, expected: str) -> str:
    """The file's text, or the sentence: another format under the name, an encoding that is not
    detected, an empty file."""
    data = path.read_bytes()
    wrong = _sniff(data)
    if wrong is not None:
        raise file_problem(path, f"is {wrong[0]}, not {what}; {wrong[1]}")
    text = decode_text(path, data)
    if not text.strip():
        raise file_problem(path, f"is empty; expected {expected}")
    return text


def _read_csv(path: Path) -> pd.DataFrame:
    text = _read_text(path, "a CSV text file", "a header row naming the columns, then one row per record")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=_delimiter(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        m = _FIELDS_RE.search(str(exc))
        if m:
            want, line, saw = m.groups()
            raise file_problem(path, f"has {saw} cells on this row where the header has {want}; a value "
                                 "holding a comma must be in double quotes", row=int(line)) from None
        if "EOF inside string" in str(exc):
            raise file_problem(path, "has a double quote that is never closed; the rest of the file was read as "
                                 "one cell") from None
        raise file_problem(path, f"is not a readable CSV file: {str(exc).strip()}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.startswith(b"PAR1"):
        wrong = _sniff(head)
        if wrong is None:
            what, advice = ("text (a CSV file?)", "give it the .csv extension") if b"," in head else (
                "not Parquet", "write it with pandas' to_parquet or geopandas' to_parquet")
        else:
            what, advice = wrong
        raise file_problem(path, f"is {what}, not a Parquet file; {advice}")
    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:  # a truncated or damaged file
        raise file_problem(path, f"is a damaged or truncated Parquet file: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_geojson(path: Path) -> tuple[pd.DataFrame, list[Problem]]:
    text = _read_text(path, "a GeoJSON file", "a GeoJSON FeatureCollection of points")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        first = text.lstrip()[:1]
        hint = "; it looks like CSV text: give it the .csv extension" if first not in "{[" else ""
        raise file_problem(path, f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}){hint}",
                       row=exc.lineno) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
            doc.get("features", []), list):
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise file_problem(path, f"is JSON but not a GeoJSON FeatureCollection (found {found!r}); expected "
                             '{"type": "FeatureCollection", "features": [...]} with Point features')
    rows, problems = [], []
    for i, feat in enumerate(doc.get("features", [])):
        feat = feat if isinstance(feat, dict) else {}
        props = dict(feat.get("properties") or {})
        geom = feat.get("geometry") or {}
        coords = geom.get("coordinates") if geom.get("type") == "Point" else None
        if isinstance(coords, list) and len(coords) >= 2:
            props["lon"], props["lat"] = coords[:2]
        else:
            props.setdefault("lon", "")
            props.setdefault("lat", "")
            if "lon" not in (feat.get("properties") or {}):
                problems.append(Problem(str(path), i + 1, "geometry", geom.get("type"),
                                        "is not a Point with coordinates [lon, lat]; each feature is one "
                                        "point (a centre's seat, a customer)"))
        rows.append(props)
    return pd.DataFrame(rows), problems


def read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """The file as a frame of strings (empty string = missing) and the row offset for messages.

    Raises ValidationError with one sentence naming the cause when the file cannot be read as a
    table: a dangling or looping link, a folder, another format under this name (an Excel
    workbook, Parquet, zip, HTML), an encoding that is not UTF-8 or GB18030, an empty file, a row
    with more cells than the header, a damaged Parquet file, JSON that is not a FeatureCollection."""
    frame, offset, _ = read_table_and_problems(path)
    return frame, offset


def read_table_and_problems(path: Path) -> tuple[pd.DataFrame, int, list[Problem]]:
    """``read_table`` and the per-row problems found while reading (a GeoJSON feature that is not a point)."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise file_problem(path, f"has the unsupported format {path.suffix!r}; use .csv, .parquet or .geojson")
    _check_readable(path)
    problems: list[Problem] = []
    try:
        if suffix == "csv":
            frame, offset = _read_csv(path), 2
        elif suffix == "parquet":
            frame, offset = _read_parquet(path), 1
        else:
            (frame, problems), offset = _read_geojson(path), 1
    except PermissionError:
        raise file_problem(path, "cannot be read: permission denied; make the file readable (chmod a+r)") from None
    except IsADirectoryError:
        raise file_problem(path, "is a folder, not a file; put the table itself under this name") from None
    frame = frame.astype(object).map(_to_text)
    return frame, offset, problems


def _to_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return repr(v)
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.isoformat()
    return str(v).strip(" \t\r\n")


# Names people give columns that the schema calls otherwise (only suggested, never renamed).
COLUMN_ALIASES = {
    "lng": "lon", "long": "lon", "longitude": "lon", "x": "lon", "经度": "lon",
    "latitude": "lat", "y": "lat", "纬度": "lat",
    "parent": "parent_id", "home_centre": "home_centre_id", "home_center_id": "home_centre_id",
    "home_center": "home_centre_id", "centre_id": "home_centre_id", "center_id": "home_centre_id",
    "break_minutes": "break_min", "break_length": "break_min", "speed": "speed_class",
    "vehicle": "speed_class", "product": "product_line", "products": "product_lines",
    "rest_day": "rest_weekday", "day_off": "rest_weekday", "off_day": "rest_weekday", "休息日": "rest_weekday",
    "roles": "role", "岗位": "role",
}


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", name.lower().replace("center", "centre"))


def closest_column(name: str, candidates: list[str]) -> str | None:
    """The column of ``candidates`` that ``name`` most likely misspells, or None: a known alias
    (lng for lon), the same letters (Speed Class, speedclass for speed_class), or a close
    spelling (break_minutes for break_min, productline for product_line)."""
    if not candidates:
        return None
    alias = COLUMN_ALIASES.get(name.lower().strip())
    if alias in candidates:
        return alias
    by_norm = {_norm(c): c for c in candidates}
    n = _norm(name)
    if n in by_norm:
        return by_norm[n]
    if len(n) < 3:
        return None
    best, score = None, 0.0
    for norm, cand in by_norm.items():
        ratio = max(difflib.SequenceMatcher(None, n, norm).ratio(),
                    difflib.SequenceMatcher(None, name.lower(), cand).ratio())
        if len(n) >= 4 and (norm.startswith(n) or n.startswith(norm)):
            ratio = max(ratio, 0.8)
        if ratio > score:
            best, score = cand, ratio
    return best if score >= 0.8 else None


@dataclass(frozen=True)
class ColumnCheck:
    """What the header of a file says: required columns missing, problems (column, sentence) and
    at most one warning (the ignored columns, the sentence)."""

    missing: list[str]
    problems: list[tuple[str, str]]
    warning: tuple[list[str], str] | None


def check_columns(kind: str, present: Sequence[str], schema: Sequence[tuple[str, bool, str]]) -> ColumnCheck:
    """Missing required columns and unknown columns (``schema``: name, required, description). An
    unknown column that misspells a schema column the file lacks is a problem with 'did you mean'
    (as it is, its values would be ignored and the column's default used instead: no break, a car
    for a scooter); any other is listed in the warning, since extra columns (notes, a
    spreadsheet's own ids) are common and harmless."""
    known = [name for name, _, _ in schema]
    describe = {name: text for name, _, text in schema}
    absent = [k for k in known if k not in present]
    unknown = [u for u in present if u not in known]
    meant: dict[str, str] = {}  # unknown column -> the schema column it misspells
    for u in unknown:
        k = closest_column(u, [a for a in absent if a not in meant.values()])
        if k is not None:
            meant[u] = k
    found = ", ".join(present)
    missing = [name for name, required, _ in schema if required and name not in present]
    problems = []
    for name in missing:
        typo = next((u for u, k in meant.items() if k == name), None)
        if typo is not None:
            problems.append((name, (f"required column is missing; did you mean {typo!r}? Rename that column "
                                    f"to {name!r} (columns found: {found})")))
        else:
            problems.append((name, f"required column is missing (columns found: {found})"))
    for u, k in meant.items():
        if k not in missing:
            problems.append((u, (f"is not a column of a {kind} file; did you mean {k!r} ({describe[k]})? "
                                 f"Rename it: as it is, it would be ignored and every {k} left empty")))
    others = [u for u in unknown if u not in meant]
    warning = None if not others else (others, (
        f"{len(others)} column(s) not in the {kind} schema are ignored: {', '.join(map(repr, others))} "
        f"(the columns read are {', '.join(known)})"))
    return ColumnCheck(missing, problems, warning)
