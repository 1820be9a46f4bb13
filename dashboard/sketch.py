"""The board's map drawn without deck.gl: an SVG of the area (outlines, routes, the calls or jobs,
centres by tier with their names), put in the page as an image (``img_html``), and the map's
legend, from plain lists. Standard library only.

deck.gl's load and first draw in the browser take seconds (a bare page with one pydeck chart:
about 7 s to its canvas on a busy machine); an SVG image is drawn with the page. The drawing
uses deck.gl's own projection (Web Mercator, 512 px world at zoom 0) around the deck's view
centre and zoom at one pixel per pixel, so the deck drawn over it (``firstpaint.map_stack``)
shows the same places at the same spots. Colours and sizes are the deck map's
(``dashboard.maps`` reads them from here).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from dashboard import i18n
from dashboard.i18n import t

# Centres in warm and dark colours, jobs in their own: a county station (navy) is never taken for a
# job en route (cyan).
TIER_COLOURS = {1: [178, 24, 43], 2: [239, 138, 22], 3: [37, 52, 148]}
TIER_RADIUS_PX = {1: 11, 2: 8, 3: 5}
CALL_COLOUR = [120, 120, 120]  # a call before the day is planned (nobody routed yet)
JOB_RADIUS_PX = 4
ROUTE_WIDTH_PX = 2.5
BACKGROUND = "#dfe9f2"  # the sea and what lies outside the outlines (``maps.OFFLINE_STYLE``)
# The base map's two layers, coarse to fine (``loaders.base_layers``): fill, line, line width px.
OUTLINE_STYLE: dict[str, tuple[tuple[int, ...], tuple[int, ...], float]] = {
    "provinces": ((240, 238, 232), (90, 90, 90), 1.2),
    "counties": ((250, 249, 246), (150, 150, 150), 0.6),
}
# Drawn wider than any screen (one user unit a pixel, cut to the page's width from the middle:
# ``preserveAspectRatio`` slice), so the sketch covers the deck's view at any width.
WIDTH_PX = 4000
LABEL_ALL_CENTRES = 15  # up to this many centres, every one is named on the map; else tiers 1-2 only


def rgb(c: Sequence[int]) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def world_px(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web Mercator pixel coordinates at ``zoom`` (deck.gl's: the world is 512 * 2**zoom wide)."""
    size = 512.0 * 2.0 ** zoom
    lat = max(min(lat, 85.05), -85.05)
    y = (1 - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / math.pi) / 2
    return (lon + 180.0) / 360.0 * size, y * size


@dataclass
class Sketch:
    """What the SVG map draws. ``view``: (lon, lat, zoom) of the deck it stands for; ``centres``:
    (lon, lat, tier, name, tooltip); ``points``: (lon, lat, colour key, tooltip) drawn in
    ``palette``'s colours; ``outlines``: layer name (``OUTLINE_STYLE``) -> polygon rows
    (``{"polygon": [[lon, lat], ...]}``, the base map's files); ``routes``: (colour, path) of
    the technicians' days, ``maps.route_paths``."""

    view: tuple[float, float, float]
    centres: list[tuple[float, float, int, str, str]]
    points: list[tuple[float, float, str, str]]
    palette: dict[str, list[int]]
    outlines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    routes: list[tuple[list[int], list[list[float]]]] = field(default_factory=list)
    height_px: int = 520


def svg(s: Sketch) -> str:
    lon0, lat0, zoom = s.view
    cx, cy = world_px(lon0, lat0, zoom)
    x0, y0, w, h = cx - WIDTH_PX / 2, cy - s.height_px / 2, WIDTH_PX, s.height_px

    def xy(lon: float, lat: float) -> tuple[float, float]:
        x, y = world_px(lon, lat, zoom)
        return round(x - x0, 1), round(y - y0, 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="{s.height_px}" '
             f'viewBox="0 0 {w} {h}" preserveAspectRatio="xMidYMid slice" '
             f'style="display:block;font-size:12px;font-family:sans-serif">',
             f'<rect width="{w}" height="{h}" fill="{BACKGROUND}"/>']
    for layer, (fill, line, line_px) in OUTLINE_STYLE.items():
        paths = []
        for row in s.outlines.get(layer, []):
            pts = [xy(lon, lat) for lon, lat in row["polygon"]]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            if not pts or max(xs) < 0 or min(xs) > w or max(ys) < 0 or min(ys) > h:
                continue  # off the drawing: bytes, no picture
            paths.append("M" + "L".join(f"{x:g},{y:g}" for x, y in pts) + "Z")
        if paths:
            parts.append(f'<path d="{"".join(paths)}" fill="{rgb(fill)}" stroke="{rgb(line)}" '
                         f'stroke-width="{line_px}" stroke-linejoin="round"/>')
    for colour, path in s.routes:
        if len(path) > 1:
            parts.append(f'<polyline points="{" ".join("%g,%g" % xy(lon, lat) for lon, lat in path)}" fill="none" '
                         f'stroke="{rgb(colour)}" stroke-width="{ROUTE_WIDTH_PX}" stroke-linejoin="round" '
                         'stroke-linecap="round"/>')
    for lon, lat, key, tip in s.points:
        x, y = xy(lon, lat)
        parts.append(f'<circle cx="{x:g}" cy="{y:g}" r="{JOB_RADIUS_PX}" fill="{rgb(s.palette.get(key, [0, 0, 0]))}" '
                     f'stroke="#fff" stroke-width="0.5"><title>{escape(tip)}</title></circle>')
    named = len(s.centres) <= LABEL_ALL_CENTRES
    labels = []
    for lon, lat, tier, name, tip in sorted(s.centres, key=lambda c: -c[2]):  # provincial centre on top
        x, y = xy(lon, lat)
        r = TIER_RADIUS_PX[tier]
        parts.append(f'<circle cx="{x:g}" cy="{y:g}" r="{r}" fill="{rgb(TIER_COLOURS[tier])}" stroke="#fff" '
                     f'stroke-width="1.5"><title>{escape(tip)}</title></circle>')
        if named or tier <= 2:
            # Written toward the middle of the map: a name never runs off its edge.
            right = x > w / 2
            labels.append(f'<text x="{x - r - 3 if right else x + r + 3:g}" y="{y + 4:g}" '
                          f'text-anchor="{"end" if right else "start"}" class="sketch-label">{escape(name)}</text>')
    if labels:
        parts.append('<g fill="#222" stroke="#fff" stroke-width="3" paint-order="stroke" '
                     'stroke-linejoin="round">' + "".join(labels) + "</g>")
    parts.append("</svg>")
    return "".join(parts)


def img_html(map_svg: str, height_px: int = 520) -> str:
    """The sketch as an ``<img>`` of a ``data:`` URL (``st.html``): the browser draws it as an
    image, about a second sooner on a loaded machine than the same SVG put in the page through
    Markdown (``st.html``'s sanitiser drops inline SVG). Its names are the system's sans-serif
    font, which an image can use; its tooltips are the deck's, once that is drawn."""
    data = base64.b64encode(map_svg.encode("utf-8")).decode("ascii")
    return (f'<img class="sketch-map" alt="{escape(t("map.sketch"))}" src="data:image/svg+xml;base64,{data}" '
            f'style="display:block;width:100%;height:{height_px}px">')


def legend_html(palette: Mapping[str, list[int]], counts: Mapping[str, int], names: Mapping[str, str],
                tiers: Mapping[int, list[int]], extra: Mapping[str, list[int]] | None = None) -> str:
    """The map's legend as HTML (``st.html``): a coloured dot and a count per job state or
    risk (``names``: code -> label), then the centres by tier in their own colours."""
    def dot(c: Sequence[int], label: str, ring: bool = False) -> str:
        border = "border:2px solid #fff;box-shadow:0 0 0 1px #555;" if ring else ""
        return (f"<span style='display:inline-flex;align-items:center;margin-right:14px;white-space:nowrap'>"
                f"<span style='display:inline-block;width:11px;height:11px;border-radius:50%;{border}"
                f"background:{rgb(c)};margin-right:5px'></span>{label}</span>")
    jobs = "".join(dot(c, f"{names.get(k, k)} ({counts.get(k, 0)})") for k, c in palette.items())
    centres = "".join(dot(c, i18n.tier(k), ring=True) for k, c in tiers.items())
    more = "".join(dot(c, lab, ring=True) for lab, c in (extra or {}).items())
    return (f"<div style='font-size:0.85rem;line-height:1.9'>{jobs}<br>"
            f"<b style='margin-right:8px'>{t('map.centres')}</b>{centres}{more}</div>")
