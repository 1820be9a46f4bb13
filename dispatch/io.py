"""Read networks, rosters and calls from CSV, Parquet or GeoJSON, with full validation (writing: ``dispatch.tables``).

A dataset is a folder holding ``centres``, ``technicians`` and ``requests`` files (each ``.csv``,
``.parquet`` or ``.geojson``) and an optional ``manifest.json``. The schema of every column is in
``SCHEMAS`` below (also rendered in data/README.md). Validation reports **every** problem at once
(file, row, column, value and what would be valid) and never drops a row silently.

Before the rows: ``dispatch.inputfiles`` reads each file (links, formats, encodings: UTF-8 with
or without a BOM, UTF-16, GB18030/GBK, detected) and checks its header (a misspelled column is an
error with "did you mean", other unknown columns one warning, given to ``on_warning``). Ids follow
the one rule of ``dispatch.ids``; points must lie inside the mainland's real boundary
(``dispatch.mainland``), both with the same sentences as the service's.

Rows: for CSV, the line number a spreadsheet shows (header = 1, first record = 2); for Parquet and
GeoJSON, the 1-based record (feature) number.

Times: ``created_at``/``window_*`` are ISO 8601 date-times; without an offset they are China
Standard Time (UTC+08:00). Clock times (opening hours, shifts) are ``HH:MM`` local time. Durations
carry their unit in the column name (``_min``, ``_h``). Coordinates are WGS84 (EPSG:4326).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dispatch.dataset import Dataset
from dispatch.errors import ModelError, Problem, ValidationError
from dispatch.inputfiles import (
    FORMATS,
    file_problem,
    find_file,
    near_misses,
    read_table,
)
from dispatch.mainland import outside_messages
from dispatch.model import (
    CHINA_LAT_RANGE,
    CHINA_LON_RANGE,
    FIELD_ROLE,
    ROLES,
    WEEKDAYS,
    Centre,
    Mode,
    Priority,
    Request,
    Technician,
    Tier,
    TimeWindow,
)
from dispatch.network import Network, hierarchy_problems
from dispatch.parts.io import read_parts, with_default_levels
from dispatch.schema import (
    CST,
    Collector,
    Column,
    Table,
    format_clock,
    parse_clock,
    parse_datetime,
    read_kind,
)
from dispatch.travel import DEFAULT_SPEEDS_KMH

__all__ = ["CST", "FORMATS", "KINDS", "SCHEMAS", "Column", "find_file", "format_clock", "parse_clock",
           "parse_datetime", "read_dataset", "read_table"]


KINDS = ("centres", "technicians", "requests")


SCHEMAS: dict[str, tuple[Column, ...]] = {
    "centres": (
        Column("id", "id", True, "", "unique centre id"),
        Column("name", "str", False, "", "display name"),
        Column("tier", "choice", True, "", "1 province, 2 city, 3 county", ("1", "2", "3")),
        Column("lon", "float", True, "degrees", "WGS84 longitude of the seat"),
        Column("lat", "float", True, "degrees", "WGS84 latitude of the seat"),
        Column("parent_id", "id", False, "", "id of the parent centre; empty for tier 1"),
        Column("levels", "levels", True, "", "repair levels it can do, e.g. 1;2"),
        Column("bench_hours_per_day", "float", True, "h", "bench capacity per day"),
        Column("open_time", "clock", True, "HH:MM", "opening time, local"),
        Column("close_time", "clock", True, "HH:MM", "closing time, local"),
        Column("courier_to_parent_min", "int", True, "min", "courier lead time to the parent, one way"),
        Column("province_adcode", "str", False, "", "6-digit adcode"),
        Column("prefecture_adcode", "str", False, "", "6-digit adcode"),
        Column("county_adcode", "str", False, "", "6-digit adcode"),
    ),
    "technicians": (
        Column("id", "id", True, "", "unique technician id"),
        Column("name", "str", False, "", "display name"),
        Column("home_centre_id", "id", True, "", "centre where the shift starts and ends"),
        Column("max_level", "choice", True, "", "highest repair level", ("1", "2", "3")),
        Column("product_lines", "lines", False, "", "e.g. phone;tablet; empty = all"),
        Column("shift_start", "clock", True, "HH:MM", "shift start, local"),
        Column("shift_end", "clock", True, "HH:MM", "shift end, local"),
        Column("break_earliest", "clock", False, "HH:MM", "earliest break start"),
        Column("break_latest", "clock", False, "HH:MM", "latest break start"),
        Column("break_min", "int", False, "min", "break length"),
        Column("speed_class", "choice", False, "", "travel speed class", tuple(DEFAULT_SPEEDS_KMH)),
        Column("role", "choice", False, "", "field (travels), bench, counter or bench+counter; empty = field", ROLES),
        Column("rest_weekday", "choice", False, "", "weekly rest day, 0 = Monday .. 6 = Sunday; empty = none",
               tuple(str(d) for d in range(WEEKDAYS))),
    ),
    "requests": (
        Column("id", "id", True, "", "unique request id"),
        Column("created_at", "datetime", True, "ISO 8601", "when the call came in"),
        Column("lon", "float", True, "degrees", "WGS84 longitude of the customer"),
        Column("lat", "float", True, "degrees", "WGS84 latitude of the customer"),
        Column("level", "choice", True, "", "repair level 1-3", ("1", "2", "3")),
        Column("mode", "choice", True, "", "onsite, pickup, walkin or mailin", tuple(m.value for m in Mode)),
        Column("priority", "choice", True, "", "normal, high or urgent",
               ("normal", "high", "urgent", "1", "2", "3")),
        Column("window_start", "datetime", False, "ISO 8601", "customer available from"),
        Column("window_end", "datetime", False, "ISO 8601", "customer available until"),
        Column("service_min", "int", True, "min", "work or hand-over time at the customer"),
        Column("product_line", "str", False, "", "e.g. phone"),
        Column("county_adcode", "str", False, "", "6-digit adcode of the customer's county"),
        Column("device_model", "id", False, "", "device model id of the parts catalogue (data/README: parts)"),
        Column("imei", "str", False, "", "the device's IMEI"),
        Column("purchase_date", "datetime", False, "ISO 8601", "when the device was bought (the 三包 rules)"),
        Column("damage", "choice", False, "", "damage the customer reports: water, drop; empty = none",
               ("water", "drop")),
        Column("failed_repairs", "int", False, "", "earlier repairs of this fault that did not fix it"),
    ),
}


def _check_coords(c: Collector, i: int, lon: float | None, lat: float | None,
                  outside: dict[int, str] | None = None) -> bool:
    if lon is None or lat is None:
        return False
    lo_ok = CHINA_LON_RANGE[0] <= lon <= CHINA_LON_RANGE[1]
    la_ok = CHINA_LAT_RANGE[0] <= lat <= CHINA_LAT_RANGE[1]
    if lo_ok and la_ok:
        if outside is not None and i in outside:
            c.add(i, "lat", lat, outside[i])
            return False
        return True
    swapped = CHINA_LON_RANGE[0] <= lat <= CHINA_LON_RANGE[1] and CHINA_LAT_RANGE[0] <= lon <= CHINA_LAT_RANGE[1]
    if swapped:
        c.add(i, "lon", lon, f"looks swapped with lat ({lat}); longitude comes first, e.g. lon 120.15, lat 30.28")
    else:
        if not lo_ok:
            c.add(i, "lon", lon, f"is outside mainland China; expected a WGS84 longitude {CHINA_LON_RANGE[0]}..{CHINA_LON_RANGE[1]}")
        if not la_ok:
            c.add(i, "lat", lat, f"is outside mainland China; expected a WGS84 latitude {CHINA_LAT_RANGE[0]}..{CHINA_LAT_RANGE[1]}")
    return False


def _outside_rows(rows: list[dict[str, Any] | None]) -> dict[int, str]:
    """Row index -> the sentence, for every parsed row inside the bounding box but outside the
    mainland's boundary (rows outside the box get the box's own messages)."""
    box = [(i, r["lon"], r["lat"]) for i, r in enumerate(rows) if r is not None and r.get("lon") is not None
           and r.get("lat") is not None and CHINA_LON_RANGE[0] <= r["lon"] <= CHINA_LON_RANGE[1]
           and CHINA_LAT_RANGE[0] <= r["lat"] <= CHINA_LAT_RANGE[1]]
    found = outside_messages([b[1] for b in box], [b[2] for b in box])
    return {box[k][0]: message for k, message in found.items()}


def _duplicates(c: Collector, ids: list[str | None], what: str) -> None:
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v is None:
            continue
        if v in seen:
            c.add(i, "id", v, f"duplicate {what} id; first used on row {seen[v] + c.offset}")
        else:
            seen[v] = i


def _model_problem(c: Collector, i: int, exc: ModelError, columns: dict[str, str]) -> None:
    c.add(i, columns.get(exc.field, exc.field), exc.value, f"is not valid; expected {exc.expected}")


def _centres(t: Table) -> list[Centre]:
    frame, rows, c = t.frame, t.rows, t.collector
    if not rows and not c.problems:
        c.add(None, None, None, "has a header but no rows; a network needs at least one centre "
                                "(a tier-1 provincial centre, with its city and county centres below it)")
        return []
    _duplicates(c, [r["id"] if r else frame["id"].iloc[i] or None for i, r in enumerate(rows)], "centre")
    out: list[tuple[int, Centre]] = []
    outside = _outside_rows(rows)
    for i, r in enumerate(rows):
        if r is None or not _check_coords(c, i, r["lon"], r["lat"], outside):
            continue
        ok = True
        if r["bench_hours_per_day"] < 0:
            c.add(i, "bench_hours_per_day", r["bench_hours_per_day"], "is negative; expected hours >= 0")
            ok = False
        if r["courier_to_parent_min"] < 0:
            c.add(i, "courier_to_parent_min", r["courier_to_parent_min"], "is negative; expected minutes >= 0")
            ok = False
        if r["close_time"] <= r["open_time"]:
            c.add(i, "close_time", format_clock(r["close_time"]),
                  f"is not after open_time {format_clock(r['open_time'])}; expected a later clock time")
            ok = False
        tier = Tier(int(r["tier"]))
        if tier == Tier.PROVINCE and r["parent_id"]:
            c.add(i, "parent_id", r["parent_id"], "must be empty for a tier-1 (province) centre")
            ok = False
        if tier != Tier.PROVINCE and not r["parent_id"]:
            c.add(i, "parent_id", None, f"is empty; a tier-{int(tier)} centre needs the id of its parent centre")
            ok = False
        if not ok:
            continue
        try:
            out.append((i, Centre(
                id=r["id"], name=r["name"] or r["id"], tier=tier, lon=r["lon"], lat=r["lat"],
                parent_id=r["parent_id"] or None, levels=r["levels"],
                bench_hours_per_day=r["bench_hours_per_day"],
                opening=TimeWindow(r["open_time"], r["close_time"]),
                courier_to_parent_s=r["courier_to_parent_min"] * 60,
                province_adcode=r["province_adcode"] or "", prefecture_adcode=r["prefecture_adcode"] or "",
                county_adcode=r["county_adcode"] or "",
            )))
        except ModelError as exc:
            _model_problem(c, i, exc, {"courier_to_parent_s": "courier_to_parent_min"})
    # Hierarchy: unknown parents, wrong tiers, cycles; reported on the child's row.
    row_of = {cen.id: i for i, cen in out}
    ids = {str(v) for v in frame["id"]} if "id" in frame.columns else set()
    for field_name, value, expected in hierarchy_problems([cen for _, cen in out]):
        if field_name == "id":
            continue  # duplicates already reported with both rows
        child = _child_of(expected, out)
        if "existing centre" in expected and value in ids:
            continue  # the parent exists but has its own problems, reported on its row
        c.add(row_of.get(child, None) if child else None, field_name, value, f"is not valid; expected {expected}")
    return [cen for _, cen in out]


def _child_of(expected: str, out: list[tuple[int, Centre]]) -> str | None:
    for _, cen in out:
        if f"{cen.id!r}" in expected:
            return cen.id
    return None


def _technicians(t: Table, centre_ids: set[str]) -> list[Technician]:
    frame, rows, c = t.frame, t.rows, t.collector
    _duplicates(c, [r["id"] if r else frame["id"].iloc[i] or None for i, r in enumerate(rows)], "technician")
    out = []
    for i, r in enumerate(rows):
        if r is None:
            continue
        if r["home_centre_id"] not in centre_ids:
            c.add(i, "home_centre_id", r["home_centre_id"], "is not the id of any centre in the centres file")
            continue
        if r["shift_end"] <= r["shift_start"]:
            c.add(i, "shift_end", format_clock(r["shift_end"]),
                  f"is not after shift_start {format_clock(r['shift_start'])}; expected a later clock time")
            continue
        break_min = r["break_min"] or 0
        if break_min < 0:
            c.add(i, "break_min", break_min, "is negative; expected minutes >= 0")
            continue
        window = None
        if r["break_earliest"] is not None or r["break_latest"] is not None:
            if r["break_earliest"] is None or r["break_latest"] is None:
                col = "break_latest" if r["break_latest"] is None else "break_earliest"
                c.add(i, col, None, "is empty; give both break_earliest and break_latest, or neither")
                continue
            if r["break_latest"] < r["break_earliest"]:
                c.add(i, "break_latest", format_clock(r["break_latest"]),
                      f"is before break_earliest {format_clock(r['break_earliest'])}")
                continue
            window = TimeWindow(r["break_earliest"], r["break_latest"])
        try:
            out.append(Technician(
                id=r["id"], home_centre_id=r["home_centre_id"], max_level=int(r["max_level"]),
                shift=TimeWindow(r["shift_start"], r["shift_end"]), break_window=window,
                break_s=break_min * 60, product_lines=r["product_lines"] or frozenset(),
                speed_class=r["speed_class"] or "car", name=r["name"] or "",
                role=r["role"] or FIELD_ROLE,
                rest_weekday=None if r["rest_weekday"] is None else int(r["rest_weekday"]),
            ))
        except ModelError as exc:
            _model_problem(c, i, exc, {"break_s": "break_min", "break_window": "break_latest", "shift": "shift_end"})
    return out


def _requests(
    t: Table, epoch: dt.datetime | None, network: Network | None,
    technicians: list[Technician], models: frozenset[str] | None = None,
) -> tuple[list[Request], dt.date]:
    frame, rows, c = t.frame, t.rows, t.collector
    _duplicates(c, [r["id"] if r else frame["id"].iloc[i] or None for i, r in enumerate(rows)], "request")
    created = [r["created_at"] for r in rows if r is not None]
    if epoch is None:
        first = min(created) if created else dt.datetime(2026, 3, 2, tzinfo=CST)
        epoch = dt.datetime.combine(first.date(), dt.time(), tzinfo=CST)
    max_centre_level = max((max(cen.levels) for cen in network), default=0) if network else 3
    max_tech_level = max((t.max_level for t in technicians), default=0)
    out = []
    outside = _outside_rows(rows)
    for i, r in enumerate(rows):
        if r is None or not _check_coords(c, i, r["lon"], r["lat"], outside):
            continue
        created_s = int((r["created_at"] - epoch).total_seconds())
        if created_s < 0:
            c.add(i, "created_at", r["created_at"].isoformat(), f"is before the dataset epoch {epoch.isoformat()}")
            continue
        mode = Mode(r["mode"])
        level = int(r["level"])
        if r["service_min"] < 0:
            c.add(i, "service_min", r["service_min"], "is negative; expected minutes >= 0")
            continue
        ws, we = r["window_start"], r["window_end"]
        if mode.travels and (ws is None or we is None):
            c.add(i, "window_start" if ws is None else "window_end", None,
                  f"is empty; an {mode.value} request needs the customer's window")
            continue
        ws = ws or r["created_at"]
        we = we or ws
        if we < ws:
            c.add(i, "window_end", we.isoformat(), f"ends before window_start {ws.isoformat()}")
            continue
        if level > max_centre_level:
            c.add(i, "level", level, f"no centre in the network can repair level {level} (highest: {max_centre_level})")
            continue
        if mode == Mode.ONSITE and level > max_tech_level:
            c.add(i, "level", level,
                  f"no technician can do a level-{level} repair on site (highest technician level: {max_tech_level})")
            continue
        model = r["device_model"] or ""
        if model and models is not None and model not in models:
            c.add(i, "device_model", model, f"is not a model of the devices file; expected one of {sorted(models)[:8]}")
            continue
        try:
            out.append(Request(
                id=r["id"], created_s=created_s, lon=r["lon"], lat=r["lat"], level=level,
                mode=mode, priority=Priority[r["priority"].upper()] if not r["priority"].isdigit() else Priority(int(r["priority"])),
                window=TimeWindow(int((ws - epoch).total_seconds()), int((we - epoch).total_seconds())),
                service_s=r["service_min"] * 60, product_line=r["product_line"] or "",
                county_adcode=r["county_adcode"] or "", device_model=model, imei=r["imei"] or "",
                purchase_s=None if r["purchase_date"] is None else int((r["purchase_date"] - epoch).total_seconds()),
                damage=r["damage"] or "", failed_repairs=r["failed_repairs"] or 0,
            ))
        except ModelError as exc:
            _model_problem(c, i, exc, {"window": "window_end", "service_s": "service_min", "created_s": "created_at",
                                       "purchase_s": "purchase_date"})
    return out, epoch.date()


log = logging.getLogger(__name__)


def _log_warning(problem: Problem) -> None:
    log.warning("warning: %s", problem)


def read_dataset(folder: str | Path, on_warning: Callable[[Problem], None] | None = None) -> Dataset:
    """Read and validate a dataset folder; raises ValidationError listing every problem.

    What is suspicious but not wrong (columns no schema knows, which are ignored) goes to
    ``on_warning``, one Problem each; by default to the ``dispatch.io`` logger at WARNING level,
    which Python prints on stderr when nothing else is configured."""
    folder = Path(folder)
    warn = on_warning or _log_warning
    problems: list[Problem] = []
    if not folder.is_dir():
        if folder.is_symlink():
            raise file_problem(folder, f"is a symbolic link to {os.readlink(folder)!r}, which is not a folder (a "
                                   "dangling or looping link?); point it at the dataset folder")
        raise ValidationError([Problem(str(folder), None, None, None, "is not a folder with centres, technicians and requests files")])
    paths: dict[str, Path] = {}
    for kind in KINDS:
        p = find_file(folder, kind)
        if p is None:
            near = near_misses(folder, kind)
            found = f" (found {', '.join(near)}: save it as CSV UTF-8 named {kind}.csv)" if near else ""
            problems.append(Problem(str(folder), None, None, None,
                                    f"has no {kind} file; expected {kind}.csv, {kind}.parquet or {kind}.geojson{found}"))
        else:
            paths[kind] = p
    if problems:
        raise ValidationError(problems)
    manifest = _read_manifest(folder)
    epoch = None
    if "epoch_date" in manifest:
        epoch = dt.datetime.combine(dt.date.fromisoformat(manifest["epoch_date"]), dt.time(), tzinfo=CST)

    tables: dict[str, Table] = {}
    for kind in KINDS:
        try:
            got = read_kind(folder, kind, SCHEMAS[kind])
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        except Exception as exc:  # unreadable file: say which and why, do not traceback
            problems.append(Problem(str(paths[kind]), None, None, None, f"cannot be read: {exc}"))
            continue
        if got is None:  # gone since it was found
            problems.append(Problem(str(paths[kind]), None, None, None, "cannot be read: the file is gone"))
            continue
        tables[kind] = got
    if problems:
        raise ValidationError(problems)

    centres = _centres(tables["centres"])
    centre_ids = {str(v) for v in tables["centres"].frame.get("id", [])}
    techs = _technicians(tables["technicians"], centre_ids)
    network = None
    if not tables["centres"].collector.problems:
        network = Network(tuple(centres))
    parts = read_parts(folder, problems, warn)
    models = None if parts is None else frozenset(parts.catalogue.model_ids())
    reqs, epoch_date = _requests(tables["requests"], epoch, network, techs, models)
    for kind in KINDS:
        problems.extend(tables[kind].collector.problems)
        for w in tables[kind].collector.warnings:
            warn(w)
    if problems or network is None:
        raise ValidationError(problems)
    meta = tuple(sorted((k, str(v)) for k, v in manifest.items() if k != "epoch_date"))
    if parts is not None:
        parts = with_default_levels(parts, network, tuple(techs), tuple(reqs))
    return Dataset(network, tuple(techs), tuple(reqs), epoch_date.isoformat(), meta, parts)


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ValidationError([Problem(str(path), exc.lineno, None, None, f"is not valid JSON: {exc.msg}")]) from None
    if not isinstance(doc, dict):
        raise ValidationError([Problem(str(path), None, None, None, "must hold a JSON object")])
    return doc

