"""Geography: counts, parent links, seats inside their polygons, GCJ-02, demand weights."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from dispatch.errors import ValidationError
from dispatch.geodata import (
    county_demand_weights,
    gcj02_to_wgs84,
    load_geography,
    pinyin_name,
    prefecture_of,
    read_population_table,
    wgs84_to_gcj02,
)
from dispatch.travel import haversine_m


@pytest.fixture(scope="module")
def geo():
    return load_geography()


def test_counts_match_the_administrative_divisions(geo):
    """The geography holds mainland China's 31 provinces, 333 prefectures, 4 municipalities and ~2,850 counties in EPSG:4326."""
    assert len(geo.provinces) == 31  # mainland: no Hong Kong, Macau, Taiwan
    kinds = geo.prefectures["kind"].value_counts().to_dict()
    assert kinds["prefecture"] == 333
    assert kinds["municipality"] == 4
    assert 30 <= kinds["province_administered"] <= 35
    assert 2800 <= len(geo.counties) <= 2900
    for frame in (geo.provinces, geo.prefectures, geo.counties):
        assert frame["adcode"].is_unique
        assert frame.crs.to_epsg() == 4326
        assert shapely.is_valid(frame.geometry.values).all()
        assert (frame["area_km2"] > 0).all()
    # Mainland China is ~9.6 million km².
    assert geo.counties["area_km2"].sum() == pytest.approx(9.5e6, rel=0.04)


def test_parent_links_by_code(geo):
    """Counties and prefectures link to their parents by adcode, municipalities and province-administered cities too."""
    provinces = set(geo.provinces["adcode"])
    prefectures = set(geo.prefectures["adcode"])
    assert set(geo.prefectures["province_adcode"]) <= provinces
    assert set(geo.counties["prefecture_adcode"]) <= prefectures
    assert (geo.counties["province_adcode"] == geo.counties["adcode"].str[:2] + "0000").all()
    # Hangzhou's West Lake district, a Chongqing county, a province-administered city.
    assert prefecture_of("330106") == "330100"
    assert prefecture_of("500229") == "500000"
    assert prefecture_of("429004") == "429004"
    hz = geo.counties[geo.counties["prefecture_adcode"] == "330100"]
    assert "西湖区" in set(hz["name"]) and len(hz) == 13


def test_every_seat_is_inside_its_own_polygon(geo):
    """Every seat lies inside its own polygon and is the real government seat unless it says it fell back."""
    for frame in (geo.provinces, geo.prefectures, geo.counties):
        inside = shapely.contains_xy(frame.geometry.values, frame["seat_lon"], frame["seat_lat"])
        assert inside.all(), frame.loc[~inside, "adcode"].tolist()
    sources = geo.counties["seat_source"].value_counts()
    # Most seats are real government seats; the fallback is the exception and says so.
    real = sources.filter(like="amap").sum()
    assert real >= 2700
    assert set(sources.index) <= {
        "amap_gcj02_to_wgs84", "amap_gcj02_to_wgs84:matched_by_name",
        "representative_point:no_seat", "representative_point:seat_outside_polygon",
    }
    # A seat is never the polygon centroid unless it had to fall back.
    hz = geo.prefectures.set_index("adcode").loc["330100"]
    assert hz["seat_source"] == "amap_gcj02_to_wgs84"


def test_province_seat_is_its_capital(geo):
    """A province's seat is its capital's, and names have their pinyin (Shaanxi, Shanxi)."""
    p = geo.provinces.set_index("adcode")
    hangzhou = geo.prefectures.set_index("adcode").loc["330100"]
    assert (p.loc["330000", "seat_lon"], p.loc["330000", "seat_lat"]) == (
        hangzhou["seat_lon"], hangzhou["seat_lat"])
    assert p.loc["330000", "pinyin"] == "Zhejiang"
    assert p.loc["610000", "pinyin"] == "Shaanxi" and p.loc["140000", "pinyin"] == "Shanxi"
    assert pinyin_name("临安区") == "Linan"


def test_gcj02_known_points_and_round_trip():
    """WGS84 to GCJ-02 matches the published point, and the inverse round-trips below a centimetre."""
    # Published pair (coordtransform's reference example): WGS84 -> GCJ-02 is exact.
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-9)
    # The inverse of that GCJ-02 point lands within 10 m of the published WGS84 answer (the
    # published one-step inverse is itself ~1 m off; ours iterates).
    lon, lat = gcj02_to_wgs84(116.404, 39.915)
    assert haversine_m(lon, lat, 116.39775550083061, 39.91359571849836) < 10.0
    # Round trip over China: below a centimetre everywhere.
    rng = np.random.default_rng(0)
    wlon, wlat = rng.uniform(75, 134, 500), rng.uniform(18, 53, 500)
    glon, glat = wgs84_to_gcj02(wlon, wlat)
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    assert haversine_m(back_lon, back_lat, wlon, wlat).max() < 0.01
    # ... and the shift itself is the few hundred metres the datum is known for.
    shift = haversine_m(glon, glat, wlon, wlat)
    assert 50 < np.median(shift) < 1000


def test_proxy_weights_keep_province_totals(geo):
    """Proxy demand weights sum to each province's population and the national total."""
    w = county_demand_weights(geo).merge(geo.counties[["adcode", "province_adcode"]], on="adcode")
    assert (w["weight"] > 0).all()
    by_prov = w.groupby("province_adcode")["weight"].sum()
    assert by_prov["330000"] == pytest.approx(64.57e6)
    assert by_prov.sum() == pytest.approx(1409.78e6, rel=1e-3)


def test_population_table_reconciles_per_prefecture(geo, shared):
    """Census weights match counties directly or by prefecture residual, each prefecture summing to its census total."""
    path = shared / "data" / "china-census-2020" / "census_county_2020.csv"
    table = read_population_table(path)
    w = county_demand_weights(geo, table).merge(
        geo.counties[["adcode", "prefecture_adcode"]], on="adcode")
    assert (w["weight"] > 0).all() and len(w) == len(geo.counties)
    # Hangzhou was re-divided in 2021 (江干区 merged away; 临平区, 钱塘区 created): the
    # prefecture still sums to its census total.
    hz = w[w["prefecture_adcode"] == "330100"]
    assert hz["weight"].sum() == pytest.approx(11_936_010)
    assert (hz.set_index("adcode").loc["330106", "weight"]) == 1_112_992  # matched directly
    assert hz["source"].str.contains("prefecture_residual").any()
    assert w["weight"].sum() == pytest.approx(1_409_778_724, rel=0.01)


def test_bad_population_tables_name_row_column_and_value(tmp_path):
    """A bad population table raises ValidationError naming file, row, column and value."""
    bad = tmp_path / "pop.csv"
    bad.write_text("code,population\n330106,1000\n33010,5\n330108,-3\n")
    with pytest.raises(ValidationError) as err:
        read_population_table(bad)
    text = str(err.value)
    assert "pop.csv, row 3, column 'code': expected a 6-digit adcode such as 330106 (value '33010')" in text
    assert "pop.csv, row 4, column 'population': expected a number >= 0 (value '-3')" in text
    missing = tmp_path / "nope.csv"
    missing.write_text("county,people\nx,1\n")
    with pytest.raises(ValidationError, match="column 'adcode': missing column; expected one of adcode, code"):
        read_population_table(missing)
