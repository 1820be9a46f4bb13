"""The board's map without deck.gl (``dashboard.sketch``): drawn where deck.gl draws the same
view, names toward the middle, nothing off the drawing, the deck map's colours and legend."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

from dashboard import i18n, sketch

NS = "{http://www.w3.org/2000/svg}"


def _drawn(**kw):  # type: ignore[no-untyped-def]
    base = dict(view=(120.0, 30.0, 8.0), centres=[], points=[], palette={"call": sketch.CALL_COLOUR})
    return ET.fromstring(sketch.svg(sketch.Sketch(**{**base, **kw})))


def test_deck_gl_projection_at_the_view_centre_and_zoom():
    # At zoom 8 the world is 512 * 256 px wide: 0.05 degrees of longitude are 18.2 px.
    x0, _ = sketch.world_px(120.0, 30.0, 8.0)
    x1, _ = sketch.world_px(120.05, 30.0, 8.0)
    assert round(x1 - x0, 1) == 18.2
    # Mercator: a degree of latitude is longer on the map than a degree of longitude at 30 N.
    _, y0 = sketch.world_px(120.0, 30.0, 8.0)
    _, y1 = sketch.world_px(120.0, 31.0, 8.0)
    assert y1 < y0 and (y0 - y1) / ((x1 - x0) * 20) > 1.1


def test_points_and_centres_where_the_deck_puts_them_named_toward_the_middle():
    root = _drawn(points=[(120.05, 30.0, "call", "报修 R1（尚未排程）")],
                  centres=[(120.0, 30.0, 1, "浙江省 省级中心", "tip P"), (119.9, 30.0, 3, "德清县 县级站", "tip K")])
    w, h = sketch.WIDTH_PX, 520
    assert root.get("viewBox") == f"0 0 {w} {h}" and root.get("preserveAspectRatio") == "xMidYMid slice"
    circles = root.findall(f"{NS}circle")
    call = next(c for c in circles if c.find(f"{NS}title").text.startswith("报修"))
    assert (float(call.get("cx")), float(call.get("cy"))) == (w / 2 + 18.2, h / 2)
    assert call.get("fill") == "rgb(120,120,120)" and call.get("r") == str(sketch.JOB_RADIUS_PX)
    province = next(c for c in circles if c.find(f"{NS}title").text == "tip P")
    assert province.get("fill") == "rgb(178,24,43)" and province.get("r") == "11"
    labels = {x.text: x for x in root.iter(f"{NS}text")}
    # Few centres: every one named; one left of the middle written rightward, and the reverse.
    assert labels["德清县 县级站"].get("text-anchor") == "start"
    east = _drawn(centres=[(120.3, 30.0, 2, "湖州市 市级中心", "tip C")])
    assert next(east.iter(f"{NS}text")).get("text-anchor") == "end"


def test_many_centres_name_tiers_one_and_two_only():
    county = [(120.0 + i / 100, 30.0, 3, f"县级站 {i}", "tip") for i in range(sketch.LABEL_ALL_CENTRES)]
    root = _drawn(centres=county + [(120.0, 30.2, 2, "湖州市 市级中心", "tip")])
    assert [x.text for x in root.iter(f"{NS}text")] == ["湖州市 市级中心"]


def test_outlines_off_the_drawing_are_left_out_and_text_is_escaped():
    near = {"polygon": [[119.9, 29.9], [120.1, 29.9], [120.1, 30.1], [119.9, 30.1]]}
    far = {"polygon": [[100.0, 20.0], [101.0, 20.0], [101.0, 21.0]]}
    root = _drawn(outlines={"provinces": [near, far], "counties": []},
                  points=[(120.0, 30.0, "call", "<b>&")])
    paths = root.findall(f"{NS}path")
    assert len(paths) == 1 and paths[0].get("d").count("M") == 1  # the far polygon is not drawn
    assert paths[0].get("fill") == "rgb(240,238,232)"
    assert root.find(f"{NS}circle/{NS}title").text == "<b>&"  # parsed back: it was escaped


def test_the_legend_counts_and_names_in_the_language():
    i18n.set_language("zh")
    try:
        html = sketch.legend_html({"call": sketch.CALL_COLOUR}, {"call": 71}, {"call": i18n.t("map.unplanned")},
                                  sketch.TIER_COLOURS)
    finally:
        i18n.set_language("en")
    assert "尚未排程的报修 (71)" in html and "rgb(120,120,120)" in html
    assert re.findall(r"rgb\([\d,]+\)", html)[1:] == ["rgb(178,24,43)", "rgb(239,138,22)", "rgb(37,52,148)"]


def test_routes_are_drawn_under_the_jobs_in_their_colours():
    root = _drawn(routes=[([31, 119, 180], [[119.9, 30.0], [120.0, 30.0], [120.05, 30.0]]), ([1, 2, 3], [[120.0, 30.0]])],
                  points=[(120.05, 30.0, "call", "tip")])
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 1 and lines[0].get("stroke") == "rgb(31,119,180)"  # a one-point path draws nothing
    assert lines[0].get("points").split()[1] == f"{sketch.WIDTH_PX / 2:g},260"
    order = [el.tag.removeprefix(NS) for el in root]
    assert order.index("polyline") < order.index("circle")


def test_the_live_board_sketch_is_the_decks_view_and_colours():
    import pandas as pd

    from dashboard import maps

    centres = pd.DataFrame([{"id": "C1", "name": "湖州市 市级中心", "tier": 2, "lon": 120.1, "lat": 30.9, "levels": "1,2"}])
    jobs = pd.DataFrame([{"request_id": f"R{i}", "lon": 120.0 + i / 100, "lat": 30.8, "mode": "onsite", "level": 1,
                          "state": state, "risk": "on_time"} for i, state in enumerate(("done", "planned"))])
    paths = maps.route_paths(pd.DataFrame([{"technician_id": "T1", "sequence": 1, "lon": 120.0, "lat": 30.8}]),
                             {"T1": (120.1, 30.9)})
    deck = maps.board_map([], centres, paths, jobs, "state")
    drawn = maps.board_sketch(deck, centres, paths, jobs, "state", {})
    v = deck.initial_view_state
    assert drawn.view == (v.longitude, v.latitude, v.zoom)
    assert [(p[2], drawn.palette[p[2]]) for p in drawn.points] == [("done", maps.STATE_COLOURS["done"]),
                                                                  ("planned", maps.STATE_COLOURS["planned"])]
    assert drawn.routes == [(maps.route_colour(0), [[120.1, 30.9], [120.0, 30.8], [120.1, 30.9]])]
    assert drawn.centres[0][2:4] == (2, "湖州市 市级中心")
    many = pd.concat([jobs] * (maps.MAX_POINTS // 2 + 1), ignore_index=True)
    assert maps.board_sketch(deck, centres, paths, many, "risk", {}).points == []  # the deck draws cells there


def test_the_sketch_goes_to_the_page_as_an_image_of_itself():
    drawn = sketch.svg(sketch.Sketch(view=(120.0, 30.0, 8.0), centres=[(120.0, 30.0, 1, "浙江省 省级中心", "tip")],
                                     points=[], palette={}))
    html = sketch.img_html(drawn, 520)
    src = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(src).decode("utf-8") == drawn  # the Chinese names whole
    assert 'class="sketch-map"' in html and "height:520px" in html and 'alt="' in html
