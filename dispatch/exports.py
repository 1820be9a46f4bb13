"""Exports of a plan: route sheets (CSV, printable HTML), GeoJSON of routes and stops, unassigned.

Plans are read as frames (from ``Plan`` or from the store), so a stored plan exports the same way
as a fresh one. Times are written as local clock times (China Standard Time).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from dispatch.network import Network
from dispatch.schema import CST
from dispatch.tables import atomic_write

# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): it is written with a
# leading apostrophe, which Excel and WPS show as text and never evaluate.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and text index) cannot start a formula or break a
    row; numbers are left as numbers."""

    def cell(v: object) -> object:
        if not isinstance(v, str):
            return v
        # A bare CR would split the row for CSV readers (lines end in LF); as LF it is quoted.
        v = v.replace("\r\n", "\n").replace("\r", "\n")
        return "'" + v if v.startswith(FORMULA_STARTS) else v

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(cell)
    if out.index.dtype == object or pd.api.types.is_string_dtype(out.index.dtype):
        out.index = out.index.map(cell)
    return out


def csv_text(frame: pd.DataFrame, index: bool = False) -> str:
    """The frame as CSV text for a person's spreadsheet: every CSV the project hands to a user
    (route sheets, unassigned calls, coverage and scenario tables, event logs) goes through it."""
    return spreadsheet_safe(frame).to_csv(index=index, lineterminator="\n")


SHEET_COLUMNS = [
    "technician_id", "sequence", "request_id", "mode", "level", "priority", "lon", "lat",
    "departure", "arrival", "start", "end", "window_start", "window_end", "travel_min", "distance_km",
]


def _clock(epoch: dt.datetime, seconds: float) -> str:
    if pd.isna(seconds):
        return ""
    return (epoch + dt.timedelta(seconds=int(seconds))).strftime("%Y-%m-%d %H:%M")


def route_sheet(stops: pd.DataFrame, epoch_date: str) -> pd.DataFrame:
    epoch = dt.datetime.combine(dt.date.fromisoformat(epoch_date), dt.time(), tzinfo=CST)
    if stops.empty:
        return pd.DataFrame(columns=SHEET_COLUMNS)
    s = stops.sort_values(["technician_id", "sequence"]).copy()
    for src, dst in (("departure_s", "departure"), ("arrival_s", "arrival"), ("start_s", "start"),
                     ("end_s", "end"), ("window_start_s", "window_start"), ("window_end_s", "window_end")):
        s[dst] = [_clock(epoch, v) for v in s[src]]
    s["travel_min"] = (s["travel_s"] / 60).round(1)
    s["distance_km"] = (s["distance_m"] / 1000).round(2)
    return s[SHEET_COLUMNS].reset_index(drop=True)


def route_sheets_html(sheet: pd.DataFrame, title: str, headers: Mapping[str, str] | None = None,
                      section: str = "Technician {technician}: {jobs} job(s)") -> str:
    """One printable section per technician; ``headers`` (column -> heading) and ``section``
    (with ``{technician}`` and ``{jobs}``) give the words in the reader's language."""
    heading = dict(headers or {})
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;font-size:11pt} table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #999;padding:3px 6px;text-align:left} h2{margin-top:1.5em}"
        "section{page-break-after:always}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    cols = ["sequence", "request_id", "mode", "level", "departure", "arrival", "start", "end",
            "window_start", "window_end", "travel_min", "distance_km", "lon", "lat"]
    for tech, group in sheet.groupby("technician_id", sort=True):
        parts.append(f"<section><h2>{html.escape(section.format(technician=tech, jobs=len(group)))}</h2><table><tr>")
        parts += [f"<th>{html.escape(heading.get(c, c))}</th>" for c in cols]
        parts.append("</tr>")
        for rec in group[cols].itertuples(index=False):
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in rec) + "</tr>")
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "".join(parts)


def routes_geojson(stops: pd.DataFrame, routes: pd.DataFrame, network: Network | None,
                   technicians_home: dict[str, str] | None = None) -> dict:
    """One LineString per technician (home centre -> stops -> home), WGS84."""
    feats = []
    for tech, group in stops.sort_values(["technician_id", "sequence"]).groupby("technician_id", sort=True):
        coords = [[float(x), float(y)] for x, y in zip(group["lon"], group["lat"])]
        home = None
        if network is not None and technicians_home is not None and tech in technicians_home:
            c = network[technicians_home[tech]]
            home = [c.lon, c.lat]
            coords = [home] + coords + [home]
        row = routes[routes["technician_id"] == tech]
        props = {"technician_id": tech, "jobs": len(group)}
        if len(row):
            props.update(distance_m=int(row["distance_m"].iloc[0]), travel_s=int(row["travel_s"].iloc[0]),
                         centre_id=str(row["centre_id"].iloc[0]))
        feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                      "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def stops_geojson(sheet: pd.DataFrame) -> dict:
    feats = []
    for rec in sheet.to_dict("records"):
        lon, lat = rec.pop("lon"), rec.pop("lat")
        props = {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
                      "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def export_plan(frames: dict[str, pd.DataFrame], epoch_date: str, out: str | Path, title: str,
                network: Network | None = None, technicians_home: dict[str, str] | None = None,
                headers: Mapping[str, str] | None = None, section: str | None = None) -> list[Path]:
    """Route sheets (CSV, HTML), routes and stops (GeoJSON) and the unassigned calls (CSV) in
    ``out``. ``headers`` (column -> heading) and ``section`` put the sheets' and CSV files'
    words in the reader's language (the GeoJSON keeps its property names: it is for programs)."""
    heading = dict(headers or {})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stops = frames.get("stops", pd.DataFrame())
    sheet = route_sheet(stops, epoch_date)
    written = []

    def put(name: str, text: str) -> None:
        path = out / name
        atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
        written.append(path)

    put("route_sheets.csv", csv_text(sheet.rename(columns=heading)))
    put("route_sheets.html", route_sheets_html(sheet, title, heading, section) if section
        else route_sheets_html(sheet, title, heading))
    put("routes.geojson", json.dumps(routes_geojson(stops, frames.get("routes", pd.DataFrame(columns=["technician_id"])),
                                                    network, technicians_home), ensure_ascii=False))
    put("stops.geojson", json.dumps(stops_geojson(sheet), ensure_ascii=False))
    unassigned = frames.get("unassigned", pd.DataFrame(columns=["request_id", "reason_code", "reason"]))
    put("unassigned.csv", csv_text(unassigned.rename(columns=heading)))
    return written
