"""The dashboard's sidebar choice of travel model: the registry's models in Chinese (English on
the switch), the spec each choice makes, a model that cannot be built told in the sidebar with
the default used instead, and the board's plan made with the chosen model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("streamlit")

from dashboard import i18n, travelchoice  # noqa: E402
from dashboard import state as S  # noqa: E402
from dispatch.travel import DEFAULT_SPEC  # noqa: E402
from dispatch.travel.spec import MODELS  # noqa: E402
from tests.test_dashboard import _app, _isolated_store  # noqa: E402,F401  # the app on a throw-away store (autouse)


def test_every_model_of_the_registry_is_offered_with_a_label_in_both_languages():
    assert sorted(travelchoice.models()) == sorted(MODELS) and travelchoice.models()[0] == DEFAULT_SPEC
    for lang in i18n.LANGUAGES:
        i18n.set_language(lang)
        labels = [i18n.t(f"travel.{m}") for m in travelchoice.models()]
        assert len(set(labels)) == len(labels)
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


def test_a_choice_becomes_a_spec_and_a_bad_one_falls_back_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPATCH_AMAP_KEY", raising=False)
    assert travelchoice.resolve("road") == ("road", None)
    assert travelchoice.spec_of("road", " p.json ") == "road:params=p.json"
    assert travelchoice.spec_of("osrm", "http://127.0.0.1:5000") == "osrm:url=http://127.0.0.1:5000"
    missing = tmp_path / "none.parquet"
    spec, why = travelchoice.resolve("matrix", str(missing))
    assert spec == DEFAULT_SPEC and str(missing) in why
    spec, why = travelchoice.resolve("amap")
    assert spec == DEFAULT_SPEC and "DISPATCH_AMAP_KEY" in why
    spec, why = travelchoice.resolve("matrix")  # no file given
    assert spec == DEFAULT_SPEC and "file=PATH" in why


def test_the_sidebar_plans_with_the_chosen_model_and_tells_a_bad_one(tmp_path):
    at = _app("zh")
    box = at.sidebar.selectbox(key=S.TRAVEL)
    assert box.label == "行车时间模型" and box.value == DEFAULT_SPEC == "road"
    # The board plans with the default (its plan may come from the module's shared cache, so no
    # new run is recorded here; the switch below makes one).
    assert at.session_state[S.TRAVEL_SPEC] == "road"
    box.set_value("flat").run()  # another model than the default
    assert not at.exception, at.exception
    assert at.session_state[S.TRAVEL_SPEC] == "flat"
    assert any(c.value == "使用：flat" for c in at.sidebar.caption)
    assert at.session_state[S.LAST_RUN][0][-1] == "flat"  # the board's plan was made with it
    at.sidebar.selectbox(key=S.TRAVEL).set_value("matrix").run()
    at.sidebar.text_input(key=S.TRAVEL_SOURCE).input(str(tmp_path / "none.parquet")).run()
    assert not at.exception, at.exception
    assert at.session_state[S.TRAVEL_SPEC] == DEFAULT_SPEC
    assert any("已改用默认模型" in w.value and "none.parquet" in w.value for w in at.sidebar.warning)


def test_the_coverage_page_measures_with_the_model_it_is_given():
    """The network page's shading, tiles and suggestions take the sidebar's model: the same
    area's minutes are each model's own drive from the county seat to its nearest able centre."""
    from dashboard import data, scenarios
    from dispatch.coverage import nearest_travel_s
    from dispatch.geodata import load_geography
    from dispatch.travel import travel_from_spec

    area = data.restrict(data.load_demo("sample"), "330000", "330500")
    counties = data.area_counties(load_geography(), "330000", "330500")
    mask = [c.can_repair(1) for c in area.network]
    by_model = {}
    for spec in ("flat", "road"):
        travel = travel_from_spec(spec)
        got = scenarios.county_coverage(area, counties, 1, travel)
        t, _ = nearest_travel_s(area.network, counties["seat_lon"].to_numpy(float),
                                counties["seat_lat"].to_numpy(float), np.array(mask), travel)
        assert list(got["minutes"]) == list((t / 60).round(1))
        by_model[spec] = got["minutes"]
    assert (by_model["flat"] != by_model["road"]).any()
    # Within the page's hour the road model reaches every county seat of Huzhou (nothing to
    # suggest) and the flat model, slower on the trunk roads, does not: its suggestions add some.
    flat = scenarios.suggest_stations(area, counties, 20, 60, travel_from_spec("flat"))
    road = scenarios.suggest_stations(area, counties, 20, 60, travel_from_spec("road"))
    assert road.empty and road.attrs["covered_before"] == 1.0
    assert len(flat) and flat.attrs["covered_before"] < 1.0
    shares = {s: scenarios.coverage_shares(area, counties, 60, travel_from_spec(s)) for s in ("flat", "road")}
    assert shares["road"]["level1"] == 1.0 > shares["flat"]["level1"]
