"""Map builders: pure functions from frames to ``pydeck.Deck`` (no ``st.*`` calls).

Offline by construction: no tile server; the base layer is province/county boundaries from our
own geography (``dispatch.geodata``), simplified with shapely. Everything is drawn by deck.gl on
one WebGL canvas, and point layers are aggregated to a grid past ``MAX_POINTS``, so a national
view never becomes tens of thousands of DOM markers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from dashboard import i18n, sketch
from dashboard.firstpaint import StoredDeck
from dashboard.formatting import RISKS
from dashboard.sketch import (BACKGROUND, CALL_COLOUR, JOB_RADIUS_PX, ROUTE_WIDTH_PX, TIER_COLOURS, TIER_RADIUS_PX,
                              Sketch)
from dispatch.live import JobState

# pydeck turns bare strings into JavaScript expressions; a unit must go as a literal string.
PIXELS = pdk.types.String("pixels")
MAX_POINTS = 5000  # beyond this a point layer is aggregated to grid cells
GRID_DEG = 0.1  # aggregation cell, degrees (~10 km)

STATE_COLOURS = {s.value: c for s, c in (
    (JobState.DONE, [150, 150, 150]), (JobState.ON_SITE, [26, 152, 80]), (JobState.DISPATCHED, [0, 188, 212]),
    (JobState.PLANNED, [117, 107, 177]), (JobState.UNASSIGNED, [215, 25, 28]))}
RISK_COLOURS = dict(zip(RISKS, ([215, 25, 28], [253, 174, 97], [26, 152, 80], [120, 120, 120])))
# 20 well-separated route colours (Tableau 20), cycled.
ROUTE_PALETTE = [
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
    [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207], [174, 199, 232], [255, 187, 120],
    [152, 223, 138], [255, 152, 150], [197, 176, 213], [196, 156, 148], [247, 182, 210], [199, 199, 199],
    [219, 219, 141], [158, 218, 229],
]
# Coverage shading: minutes to the nearest capable station (upper bound, colour).
COVERAGE_BINS: list[tuple[float, list[int], str]] = [
    (30, [26, 150, 65], "<= 30 min"), (60, [166, 217, 106], "30-60 min"),
    (90, [253, 174, 97], "60-90 min"), (120, [244, 109, 67], "90-120 min"),
    (math.inf, [165, 0, 38], "> 120 min"),
]


def route_colour(i: int) -> list[int]:
    return ROUTE_PALETTE[i % len(ROUTE_PALETTE)]


def coverage_colour(minutes: float) -> list[int]:
    for upper, colour, _ in COVERAGE_BINS:
        if minutes <= upper:
            return colour + [170]
    return COVERAGE_BINS[-1][1] + [170]


def diff_colour(delta_min: float) -> list[int]:
    """Blue where a scenario brings a county closer, red where it moves it away."""
    if not np.isfinite(delta_min) or abs(delta_min) < 0.5:
        return [230, 230, 230, 120]
    strength = min(1.0, abs(delta_min) / 60)
    if delta_min < 0:
        return [int(230 - 200 * strength), int(230 - 100 * strength), 230, 190]
    return [230, int(230 - 200 * strength), int(230 - 200 * strength), 190]


# --------------------------------------------------------------------------------------------
# Boundaries


def polygon_rows(frame, tolerance_deg: float, label_columns: Sequence[str] = ("name",)) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """One row per polygon part (exterior ring only, simplified): adcode, label, polygon.

    ``tolerance_deg`` ~0.05 for a national view, ~0.005 inside a province: enough for a
    boundary drawn at that zoom, and a small fraction of the raw vertex count."""
    rows = []
    geoms = frame.geometry.simplify(tolerance_deg, preserve_topology=True)
    for (_, rec), geom in zip(frame.iterrows(), geoms):
        if geom is None or geom.is_empty:
            continue
        parts = getattr(geom, "geoms", [geom])
        label = " ".join(str(rec[c]) for c in label_columns if c in rec)
        for part in parts:
            if part.geom_type != "Polygon" or part.area < tolerance_deg ** 2:
                continue  # islets below the drawing tolerance add vertices, not information
            coords = np.round(np.asarray(part.exterior.coords)[:, :2], 4).tolist()
            rows.append({"adcode": rec["adcode"], "label": label, "polygon": coords})
    return pd.DataFrame(rows, columns=["adcode", "label", "polygon"])


def rows_near(rows: pd.DataFrame, around: pd.DataFrame, margin_deg: float = 3.0) -> pd.DataFrame:
    """The polygon rows whose extent meets ``around``'s (rows of the area), widened by
    ``margin_deg``: the neighbours a map of the area shows, not the whole country."""
    if around.empty:
        return rows
    pts = np.concatenate([np.asarray(p) for p in around["polygon"]])
    lo, hi = pts.min(axis=0) - margin_deg, pts.max(axis=0) + margin_deg
    keep = [bool((np.asarray(p).max(axis=0) >= lo).all() and (np.asarray(p).min(axis=0) <= hi).all())
            for p in rows["polygon"]]
    return rows[keep]


def boundary_layer(rows: pd.DataFrame | str, layer_id: str, line_px: float = 1.0,
                   line_colour: Sequence[int] = (90, 90, 90), fill: Sequence[int] = (245, 243, 238, 255),
                   pickable: bool = False) -> pdk.Layer:
    """Outlines from polygon rows, or from the URL of a JSON file of them (fetched by the browser)."""
    return pdk.Layer(
        "PolygonLayer", data=rows, id=layer_id, get_polygon="polygon", stroked=True, filled=True,
        get_fill_color=list(fill), get_line_color=list(line_colour), line_width_min_pixels=line_px,
        pickable=pickable,
    )


def shaded_layer(rows: pd.DataFrame, values: pd.DataFrame, layer_id: str, colour_of,  # type: ignore[no-untyped-def]
                 value_column: str, label: str) -> pdk.Layer:
    """Boundary polygons filled by ``colour_of(value)`` per adcode; tooltip shows the value."""
    v = values.set_index("adcode")[value_column]
    data = rows.copy()
    data["value"] = data["adcode"].map(v)
    data = data[data["value"].notna()]
    data["fill"] = [colour_of(x) for x in data["value"]]
    data["label"] = [f"{lab}: {label} {x:.0f}" if np.isfinite(x) else f"{lab}: {label} {i18n.t('map.na')}"
                     for lab, x in zip(data["label"], data["value"])]
    return pdk.Layer(
        "PolygonLayer", data=data, id=layer_id, get_polygon="polygon", stroked=True, filled=True,
        get_fill_color="fill", get_line_color=[255, 255, 255], line_width_min_pixels=0.5, pickable=True,
    )


# --------------------------------------------------------------------------------------------
# Points and routes


def aggregate_points(points: pd.DataFrame, cell_deg: float | None = None) -> pd.DataFrame:
    """Points binned to a lon/lat grid: lon, lat (cell centre), count. The cell is
    ``GRID_DEG`` or 1/60 of the extent, whichever is larger, so there are at most 3,600 cells."""
    if cell_deg is None:
        span = max(float(np.ptp(points["lon"])), float(np.ptp(points["lat"]))) if len(points) else 0.0
        cell_deg = max(GRID_DEG, span / 60)
    gx = np.floor(points["lon"].to_numpy(float) / cell_deg)
    gy = np.floor(points["lat"].to_numpy(float) / cell_deg)
    g = pd.DataFrame({"gx": gx, "gy": gy}).value_counts().reset_index(name="count")
    return pd.DataFrame({"lon": (g["gx"] + 0.5) * cell_deg, "lat": (g["gy"] + 0.5) * cell_deg,
                         "count": g["count"]})


def centres_frame(network, names: dict[str, str] | None = None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The centres to draw; ``names``: centre id -> the name shown (default: the data's)."""
    names = names or {}
    return pd.DataFrame([
        {"id": c.id, "name": names.get(c.id, c.name), "tier": int(c.tier), "lon": c.lon, "lat": c.lat,
         "levels": ",".join(str(x) for x in sorted(c.levels))}
        for c in network
    ])


def centre_tooltips(centres: pd.DataFrame) -> list[str]:
    return [i18n.t("map.centre", name=n, tier=i18n.tier(t), levels=lv)
            for n, t, lv in zip(centres["name"], centres["tier"], centres["levels"])]


def centres_layer(centres: pd.DataFrame, layer_id: str = "centres",
                  highlight: Sequence[str] = ()) -> pdk.Layer:
    data = centres.copy()
    data["colour"] = [TIER_COLOURS[t] + [230] for t in data["tier"]]
    data["radius"] = [TIER_RADIUS_PX[t] for t in data["tier"]]
    data["line"] = [[0, 0, 0] if i in set(highlight) else [255, 255, 255] for i in data["id"]]
    data["label"] = centre_tooltips(centres)
    return pdk.Layer(
        "ScatterplotLayer", data=data, id=layer_id, get_position=["lon", "lat"], get_fill_color="colour",
        get_radius="radius", radius_units=PIXELS, stroked=True, get_line_color="line",
        line_width_min_pixels=1.5, pickable=True,
    )


def route_paths(stops: pd.DataFrame, homes: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """technician_id, path (home -> stops -> home), colour, label."""
    rows = []
    if stops.empty:
        return pd.DataFrame(columns=["technician_id", "path", "colour", "label"])
    for i, (tid, g) in enumerate(stops.sort_values(["technician_id", "sequence"]).groupby("technician_id", sort=True)):
        path = [[float(x), float(y)] for x, y in zip(g["lon"], g["lat"])]
        if tid in homes:
            h = [float(homes[tid][0]), float(homes[tid][1])]
            path = [h] + path + [h]
        rows.append({"technician_id": tid, "path": path, "colour": route_colour(i),
                     "label": i18n.t("map.route", tech=tid, n=len(g))})
    return pd.DataFrame(rows)


def routes_layer(paths: pd.DataFrame) -> pdk.Layer:
    return pdk.Layer(
        "PathLayer", data=paths, id="routes", get_path="path", get_color="colour", width_min_pixels=ROUTE_WIDTH_PX,
        width_units=PIXELS, get_width=3, pickable=True, joint_rounded=True, cap_rounded=True,
    )


def job_palette(colour_by: str) -> dict[str, list[int]]:
    """The colours of the jobs coloured by ``state`` or by ``risk``."""
    return STATE_COLOURS if colour_by == "state" else RISK_COLOURS


def job_tooltips(jobs: pd.DataFrame) -> list[str]:
    return [i18n.t("map.job", job=r, mode=i18n.mode(m), level=lv, state=i18n.state(s), risk=i18n.risk(k))
            for r, m, lv, s, k in zip(jobs["request_id"], jobs["mode"], jobs["level"], jobs["state"], jobs["risk"])]


def jobs_layer(jobs: pd.DataFrame, colour_by: str = "state", tooltips: Sequence[str] | None = None) -> pdk.Layer:
    """Calls coloured by ``state`` or ``risk``; aggregated to grid cells past ``MAX_POINTS``.
    ``tooltips``: ``job_tooltips(jobs)`` if the caller keeps them (a colour change reuses them)."""
    palette = job_palette(colour_by)
    if len(jobs) > MAX_POINTS:
        cells = aggregate_points(jobs)
        cells["label"] = [i18n.t("map.cell", n=n) for n in cells["count"]]
        return pdk.Layer(
            "ScatterplotLayer", data=cells, id="jobs", get_position=["lon", "lat"],
            get_fill_color=[80, 80, 160, 160], get_radius="2 + Math.sqrt(count)", radius_units=PIXELS,
            pickable=True,
        )
    # What the layer draws and names, nothing more: the map is sent again at every change.
    data = jobs[["lon", "lat"]].copy()
    data["colour"] = [palette.get(v, [0, 0, 0]) + [235] for v in jobs[colour_by]]
    data["label"] = list(tooltips) if tooltips is not None else job_tooltips(jobs)
    return pdk.Layer(
        "ScatterplotLayer", data=data, id="jobs", get_position=["lon", "lat"], get_fill_color="colour",
        get_radius=JOB_RADIUS_PX, radius_units=PIXELS, stroked=True, get_line_color=[255, 255, 255],
        line_width_min_pixels=0.5, pickable=True,
    )


def suggested_layer(sites: pd.DataFrame) -> pdk.Layer:
    data = sites.copy()
    data["label"] = [i18n.t("map.suggested", name=n) for n in data["name"]]
    return pdk.Layer(
        "ScatterplotLayer", data=data, id="suggested", get_position=["lon", "lat"],
        get_fill_color=[255, 215, 0, 255], get_line_color=[0, 0, 0], stroked=True, get_radius=9,
        radius_units=PIXELS, line_width_min_pixels=2, pickable=True,
    )


# --------------------------------------------------------------------------------------------
# The deck


def view_for(lon: Sequence[float], lat: Sequence[float]) -> pdk.ViewState:
    """A view that fits the points (zoom from their extent; Web Mercator halves per level)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    if not len(lon):
        return pdk.ViewState(longitude=104.0, latitude=35.0, zoom=3)
    span = max(float(np.ptp(lon)), float(np.ptp(lat)) * 1.3, 0.05)
    zoom = float(np.clip(math.log2(360.0 / span) - 0.6, 2.5, 12))
    return pdk.ViewState(longitude=float((lon.min() + lon.max()) / 2), latitude=float((lat.min() + lat.max()) / 2),
                         zoom=round(zoom, 2))


# A base-map style with no sources: one background colour. Streamlit falls back to a CARTO
# style (fetched from the internet) when a deck has no map style, so the deck carries this one,
# inline as a data: URL that the map library reads without any network request.
OFFLINE_STYLE = {"version": 8, "name": "offline", "sources": {},
                 "layers": [{"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}}]}
OFFLINE_STYLE_URL = "data:application/json," + quote(json.dumps(OFFLINE_STYLE, separators=(",", ":")))


TOOLTIP = {"text": "{label}"}


def deck(layers: Sequence[pdk.Layer], view: pdk.ViewState) -> pdk.Deck:
    """No tile server: an inline background-only style; the boundaries are the map."""
    return pdk.Deck(layers=list(layers), initial_view_state=view, map_provider=None, map_style=OFFLINE_STYLE_URL,
                    tooltip=dict(TOOLTIP))


def compact(d: pdk.Deck) -> StoredDeck:
    """The deck for ``st.pydeck_chart`` as compact JSON: pydeck's is indented and escapes every
    Chinese character, about twice the bytes a province's map is sent in at every change. The
    same serialiser as ``Deck.to_json`` (same keys and values), without its indent, which keeps
    ``json`` off its C encoder: a province's deck in 0.05 s instead of 0.4 s."""
    return StoredDeck(json.dumps(d, sort_keys=True, default=default_serialize, separators=(",", ":"),
                                 ensure_ascii=False), dict(TOOLTIP))


def board_map(base: Sequence[pdk.Layer], centres: pd.DataFrame, paths: pd.DataFrame, jobs: pd.DataFrame,
              colour_by: str, tooltips: Sequence[str] | None = None) -> pdk.Deck:
    layers = list(base) + [routes_layer(paths), jobs_layer(jobs, colour_by, tooltips), centres_layer(centres)]
    pts_lon = list(centres["lon"]) + list(jobs["lon"])
    pts_lat = list(centres["lat"]) + list(jobs["lat"])
    return deck(layers, view_for(pts_lon, pts_lat))


def preview_map(base: Sequence[pdk.Layer], centres: pd.DataFrame, calls: pd.DataFrame) -> pdk.Deck:
    """The board's map before its live plan is there: the network and the day's calls (``id``,
    ``lon``, ``lat``), the calls in one neutral colour (nobody is routed yet)."""
    data = calls[["id", "lon", "lat"]].copy()
    data["label"] = [i18n.t("map.call", job=c) for c in data["id"]]
    layer = pdk.Layer("ScatterplotLayer", data=data, id="jobs", get_position=["lon", "lat"],
                      get_fill_color=CALL_COLOUR + [200], get_radius=JOB_RADIUS_PX, radius_units=PIXELS, pickable=True)
    return deck(list(base) + [layer, centres_layer(centres)],
                view_for(list(centres["lon"]) + list(data["lon"]), list(centres["lat"]) + list(data["lat"])))


def _sketch(d: pdk.Deck, centres: pd.DataFrame, points: list[tuple[float, float, str, str]],
            palette: dict[str, list[int]], outlines: dict[str, list[dict]], **kw) -> Sketch:  # type: ignore[no-untyped-def, type-arg]
    """The deck ``d`` drawn without deck.gl (``dashboard.sketch``): its view, the centres by tier."""
    v = d.initial_view_state
    return Sketch(view=(float(v.longitude), float(v.latitude), float(v.zoom)),
                  centres=[(float(x), float(y), int(k), str(n), tip) for x, y, k, n, tip in zip(
                      centres["lon"], centres["lat"], centres["tier"], centres["name"], centre_tooltips(centres))],
                  points=points, palette=palette, outlines=outlines, **kw)


def preview_sketch(d: pdk.Deck, centres: pd.DataFrame, calls: pd.DataFrame,
                   outlines: dict[str, list[dict]]) -> tuple[Sketch, str]:  # type: ignore[type-arg]
    """The preview deck ``d`` (``preview_map``) without deck.gl, and its legend: the day's calls
    in the not-yet-planned colour."""
    points = [(float(x), float(y), "call", i18n.t("map.call", job=c)) for x, y, c in zip(calls["lon"], calls["lat"], calls["id"])]
    drawn = _sketch(d, centres, points, {"call": CALL_COLOUR}, outlines)
    legend = sketch.legend_html(drawn.palette, {"call": len(calls)}, {"call": i18n.t("map.unplanned")}, TIER_COLOURS)
    return drawn, legend


def board_sketch(d: pdk.Deck, centres: pd.DataFrame, paths: pd.DataFrame, jobs: pd.DataFrame, colour_by: str,
                 outlines: dict[str, list[dict]], tooltips: Sequence[str] | None = None) -> Sketch:  # type: ignore[type-arg]
    """The live board's deck ``d`` (``board_map``) without deck.gl: routes, jobs in their colours.
    Past ``MAX_POINTS`` jobs (a grid of cells on the deck) the sketch draws the network alone:
    it stands in for the deck a few seconds, and tens of thousands of SVG marks would not."""
    shown = jobs if len(jobs) <= MAX_POINTS else jobs.iloc[:0]
    points = [(float(x), float(y), str(k), tip) for x, y, k, tip in zip(
        shown["lon"], shown["lat"], shown[colour_by], tooltips if tooltips is not None else job_tooltips(shown))]
    routes = [(list(c), [[float(x), float(y)] for x, y in p]) for c, p in zip(paths["colour"], paths["path"])] \
        if len(paths) else []
    return _sketch(d, centres, points, job_palette(colour_by), outlines, routes=routes)


def network_map(base: Sequence[pdk.Layer], shading: pdk.Layer | None, centres: pd.DataFrame,
                suggested: pd.DataFrame | None = None, view_points: pd.DataFrame | None = None) -> pdk.Deck:
    layers = list(base) + ([shading] if shading is not None else []) + [centres_layer(centres)]
    if suggested is not None and len(suggested):
        layers.append(suggested_layer(suggested))
    pts = view_points if view_points is not None else centres
    return deck(layers, view_for(pts["lon"], pts["lat"]))
