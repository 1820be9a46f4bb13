"""The road model's parameters: every number, where it comes from, and the JSON file that replaces them.

``RoadParams()`` is the documented default; ``read_params(path)`` reads a JSON file written by
``write_params`` or by ``dispatch travel calibrate`` (any subset of the keys: the others keep their
default), and an unknown key or a bad value is an error naming the file, the key and what would
be valid. The values are the planner's best offline estimate, not a measurement of one company's
fleet: ``dispatch travel calibrate`` fits the distance-band speeds, the overhead and the detour to
a company's own trips.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------------------------------------
# Defaults, each with its source

# Road km at which each speed band ends (the last runs on). A trip drives its first km in the
# first band, the next in the second...: door-to-door time grows piecewise linearly with road
# distance, slow in town and fast on trunk roads and expressways.
BAND_ENDS_KM = (3.0, 12.0, 40.0)
# Car, km/h per band. Town streets: Amap's China Major Cities Traffic Analysis Report (2023) puts
# the average off-peak speed in the 50 largest cities at 30-40 km/h and the slowest centres in the
# low 20s; the first 3 km (side streets, the way out of a compound) at 22 km/h. Arterial and
# national roads 40-70 km/h (design speeds 60-80 km/h, JTG B01-2014 class I/II highways, with
# junctions and villages); beyond 40 km an expressway leg at 100 km/h (limit 120 km/h, Road
# Traffic Safety Law implementing regulations art. 78; cars average about 100 km/h). Checked on
# Nanjing -> Suzhou (220 km by G42, about 2.5 h by car) and Hangzhou -> Ningbo (about 2 h).
CAR_BAND_KMH = (22.0, 40.0, 70.0, 100.0)
# Electric two-wheelers: GB 17761-2018 caps them at 25 km/h and the Road Traffic Safety Law
# (art. 67) keeps them off expressways: 16 km/h on side streets, 22-25 km/h beyond.
SCOOTER_BAND_KMH = (16.0, 22.0, 25.0, 25.0)
# Road distance over straight-line distance. Boscoe, Henry & Zdeb (2012, Professional Geographer
# 64(2)) measure 1.42 on average for US trips to hospitals, higher for short trips; Giacomin &
# Levinson (2015, Environment and Planning B 42(6)) 1.2-1.4 in metropolitan networks, falling with
# length. Here 1.45 for a trip across the street falling to 1.16 on long legs (Nanjing -> Suzhou:
# 193 km crow-flies, 220 km by road), with a 15 km scale.
DETOUR_SHORT = 1.45
DETOUR_LONG = 1.16
DETOUR_SCALE_KM = 15.0
# Per trip between two distinct places: parking, lifts, finding the door (the flat model's value).
OVERHEAD_S = 300

# Mountain and plateau units: (adcode prefix, name, time factor, detour factor). A factor
# multiplies the drive time (and the detour the road distance) of a leg by the mean of its two
# ends. JTG B01-2014 gives class II-IV highways design speeds of 40-60 km/h in mountains against
# 60-80 km/h on plains (ratio 1.3-2); the plateau units add altitude, passes and fewer
# expressways (China Statistical Yearbook 2023, table 16-6: expressway km per km2 in Tibet and
# Qinghai a tenth of the eastern provinces'). The values are judgement within that range, to be
# replaced by calibration on a company's own trips.
TERRAIN = (
    ("54", "Tibet", 1.6, 1.2),
    ("63", "Qinghai", 1.4, 1.15),
    ("5133", "Ganzi (western Sichuan)", 1.6, 1.2),
    ("5132", "Aba (western Sichuan)", 1.5, 1.2),
    ("5134", "Liangshan (western Sichuan)", 1.45, 1.15),
    ("53", "Yunnan", 1.35, 1.15),
    ("52", "Guizhou", 1.3, 1.1),
    ("6230", "Gannan (Gansu)", 1.4, 1.15),
    ("6212", "Longnan (Gansu)", 1.35, 1.15),
    ("4228", "Enshi (western Hubei)", 1.3, 1.1),
    ("4290", "Shennongjia (western Hubei)", 1.4, 1.15),
    ("4331", "Xiangxi (western Hunan)", 1.3, 1.1),
    ("4510", "Baise (Guangxi)", 1.25, 1.1),
    ("4512", "Hechi (Guangxi)", 1.25, 1.1),
    ("6540", "Ili (Xinjiang, Tianshan)", 1.2, 1.1),
)

# Rush hour in the largest cities: (name, lon, lat, radius km, peak multiplier). Amap's report
# (2023) gives peak-hour congestion delay indices (peak travel time over free-flow) of about 1.8-2.0
# for Beijing and Chongqing and 1.6-1.8 for the other big cities, against 1.2-1.3 off-peak; the
# multiplier here is their ratio (peak over the off-peak speeds the bands already are). The radius
# is the built-up area's (about the ring roads).
CITIES = (
    ("Beijing", 116.40, 39.91, 25.0, 1.5),
    ("Shanghai", 121.47, 31.23, 25.0, 1.4),
    ("Guangzhou", 113.27, 23.13, 22.0, 1.4),
    ("Shenzhen", 114.06, 22.55, 22.0, 1.35),
    ("Chongqing", 106.55, 29.56, 18.0, 1.5),
    ("Chengdu", 104.07, 30.66, 18.0, 1.4),
    ("Hangzhou", 120.16, 30.27, 16.0, 1.35),
    ("Wuhan", 114.30, 30.59, 18.0, 1.4),
    ("Xi'an", 108.94, 34.34, 15.0, 1.4),
    ("Nanjing", 118.80, 32.06, 15.0, 1.35),
    ("Tianjin", 117.20, 39.12, 15.0, 1.35),
    ("Suzhou", 120.62, 31.30, 14.0, 1.3),
    ("Zhengzhou", 113.62, 34.75, 14.0, 1.35),
    ("Changsha", 112.94, 28.23, 13.0, 1.35),
    ("Shenyang", 123.43, 41.80, 14.0, 1.3),
    ("Qingdao", 120.38, 36.07, 13.0, 1.3),
    ("Jinan", 117.00, 36.65, 13.0, 1.35),
    ("Harbin", 126.53, 45.80, 13.0, 1.3),
    ("Kunming", 102.83, 24.88, 12.0, 1.3),
    ("Hefei", 117.23, 31.82, 12.0, 1.3),
    ("Dongguan", 113.75, 23.02, 14.0, 1.25),
    ("Foshan", 113.12, 23.02, 14.0, 1.25),
    ("Ningbo", 121.55, 29.87, 12.0, 1.25),
    ("Xiamen", 118.09, 24.48, 10.0, 1.3),
    ("Fuzhou", 119.30, 26.08, 11.0, 1.3),
    ("Dalian", 121.61, 38.91, 11.0, 1.3),
    ("Changchun", 125.32, 43.82, 12.0, 1.3),
    ("Shijiazhuang", 114.51, 38.04, 12.0, 1.25),
    ("Nanning", 108.37, 22.82, 11.0, 1.25),
    ("Urumqi", 87.62, 43.82, 11.0, 1.25),
)
# Share of the peak multiplier by hour of departure (0-23, China time): the morning peak 7-9 and
# the evening peak 17-19 in full, their shoulders in part (the hourly congestion curves of the
# same report).
RUSH_PROFILE = (0, 0, 0, 0, 0, 0, 0.2, 0.8, 1.0, 0.5, 0.2, 0.2,
                0.2, 0.2, 0.2, 0.3, 0.5, 1.0, 1.0, 0.6, 0.2, 0.1, 0, 0)
# Only the town part of a leg is slowed: its first this many road km (a trunk road out of town is
# no slower at peak).
RUSH_KM = 20.0

# Bridges and tunnels that join islands to the mainland (polylines, WGS84), drawn as land on the
# land grid. From OpenStreetMap's ways for the named links, simplified by hand to a few vertices.
FIXED_LINKS = (
    ("Zhoushan mainland link (Jintang, Xihoumen, Taoyaomen bridges)",
     ((121.72, 29.95), (121.83, 30.00), (121.93, 30.03), (122.02, 30.04), (122.10, 30.02))),
    ("Zhoushan-Daishan bridge", ((122.14, 30.06), (122.16, 30.15), (122.19, 30.24))),
    ("Zhujiajian bridge (Putuo)", ((122.28, 29.96), (122.30, 29.92), (122.33, 29.88))),
    ("Donghai bridge (Shanghai - Xiaoyangshan)", ((121.92, 30.88), (122.00, 30.75), (122.05, 30.64))),
    ("Lingkun-Niyu seawall (Wenzhou - Dongtou)", ((120.85, 27.95), (120.97, 27.93), (121.08, 27.88),
                                                   (121.15, 27.84))),
    ("Shanghai Yangtze tunnel-bridge (Pudong - Changxing - Chongming)",
     ((121.58, 31.38), (121.70, 31.43), (121.80, 31.52))),
    ("Chongqi bridge (Chongming - Qidong)", ((121.90, 31.62), (121.95, 31.72))),
    ("Xiamen bridges (Haicang)", ((118.06, 24.49), (117.99, 24.47))),
    ("Pingtan strait bridge", ((119.56, 25.62), (119.66, 25.56), (119.76, 25.50))),
    ("Nan'ao bridge", ((116.86, 23.38), (116.97, 23.42), (117.03, 23.43))),
)

# Ferries: (name, (lon, lat) of one port, (lon, lat) of the other, crossing s, mean wait s). The
# wait is half the usual headway plus the check-in a vehicle needs. Crossing times from the
# operators' published timetables (Qiongzhou Strait Ferry, Zhoushan and Shengsi passenger lines,
# Bohai Ferry), rounded; they are approximate, and a company's own file replaces them.
FERRIES = (
    ("Qiongzhou Strait (Xuwen Hai'an - Haikou)", (110.21, 20.27), (110.16, 20.05), 5400, 3600),
    ("Shengsi (Xiaoyangshan - Sijiao)", (122.06, 30.63), (122.40, 30.71), 2700, 3600),
    ("Shengsi (Daishan - Sijiao)", (122.24, 30.30), (122.42, 30.70), 6600, 5400),
    ("Putuoshan (Zhujiajian - Putuoshan)", (122.34, 29.96), (122.38, 29.98), 900, 1200),
    ("Dachen (Jiaojiang - Dachen)", (121.46, 28.68), (121.89, 28.46), 5400, 5400),
    ("Nanji (Aojiang - Nanji)", (120.58, 27.61), (121.06, 27.46), 5400, 7200),
    ("Changdao (Penglai - Changdao)", (120.75, 37.82), (120.73, 37.92), 3000, 1800),
    ("Changhai (Dalian Pikou - Dachangshan)", (122.36, 39.43), (122.58, 39.28), 4200, 3600),
    ("Weizhou (Beihai - Weizhou)", (109.10, 21.48), (109.12, 21.05), 4500, 3600),
    ("Xisha (Wenchang Qinglan - Yongxing)", (110.83, 19.55), (112.34, 16.83), 46800, 86400),
)
UNREACHABLE_S = 30 * 86_400  # a leg with no road and no modelled ferry: longer than any horizon
LAND_RES_DEG = 0.02  # about 2 km: islands of a few km2 are land masses of their own

# ---------------------------------------------------------------------------------------------


class ParamsError(ValueError):
    """A parameters file or value the road model cannot use."""


@dataclass(frozen=True)
class RoadParams:
    """Every parameter of the road model (see the module's constants for their sources)."""

    band_ends_km: tuple[float, ...] = BAND_ENDS_KM
    speeds_kmh: dict[str, tuple[float, ...]] = field(
        default_factory=lambda: {"car": CAR_BAND_KMH, "scooter": SCOOTER_BAND_KMH})
    detour_short: float = DETOUR_SHORT
    detour_long: float = DETOUR_LONG
    detour_scale_km: float = DETOUR_SCALE_KM
    overhead_s: int = OVERHEAD_S
    terrain: tuple[tuple[str, str, float, float], ...] = TERRAIN
    cities: tuple[tuple[str, float, float, float, float], ...] = CITIES
    rush_profile: tuple[float, ...] = RUSH_PROFILE
    rush_km: float = RUSH_KM
    fixed_links: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = FIXED_LINKS
    ferries: tuple[tuple[str, tuple[float, float], tuple[float, float], int, int], ...] = FERRIES
    unreachable_s: int = UNREACHABLE_S
    land_res_deg: float = LAND_RES_DEG
    water: bool = True  # False: drive across the sea as the flat model does (no land grid)

    def __post_init__(self) -> None:
        validate(self)

    def key(self) -> str:
        """A canonical text of the parameters (JSON), equal for equal parameters."""
        return json.dumps(to_json(self), sort_keys=True, separators=(",", ":"))

    def __hash__(self) -> int:
        return hash(self.key())


def _check(ok: bool, key: str, value: Any, valid: str) -> None:
    if not ok:
        raise ParamsError(f"{key}={value!r}: expected {valid}")


def validate(p: RoadParams) -> None:
    ends = p.band_ends_km
    _check(all(b > a for a, b in zip((0.0, *ends), ends)), "band_ends_km", ends, "increasing positive km")
    _check(bool(p.speeds_kmh), "speeds_kmh", p.speeds_kmh, "at least one speed class")
    for cls, speeds in p.speeds_kmh.items():
        _check(len(speeds) == len(ends) + 1 and all(s > 0 and math.isfinite(s) for s in speeds),
               f"speeds_kmh.{cls}", speeds, f"{len(ends) + 1} positive speeds (one per band)")
    _check(p.detour_short >= 1.0 and p.detour_long >= 1.0, "detour_short/detour_long",
           (p.detour_short, p.detour_long), "factors >= 1.0")
    _check(p.detour_scale_km > 0, "detour_scale_km", p.detour_scale_km, "a positive number of km")
    _check(0 <= p.overhead_s <= 7200, "overhead_s", p.overhead_s, "0-7200 s")
    for t in p.terrain:
        _check(len(t) == 4 and t[2] >= 1.0 and t[3] >= 1.0, "terrain", t,
               "[adcode prefix, name, time factor >= 1, detour factor >= 1]")
    for c in p.cities:
        _check(len(c) == 5 and c[3] > 0 and c[4] >= 1.0, "cities", c,
               "[name, lon, lat, radius km > 0, peak multiplier >= 1]")
    _check(len(p.rush_profile) == 24 and all(0 <= w <= 1 for w in p.rush_profile), "rush_profile",
           p.rush_profile, "24 hourly shares in [0, 1]")
    for f in p.ferries:
        _check(len(f) == 5 and f[3] > 0 and f[4] >= 0, "ferries", f,
               "[name, [lon, lat], [lon, lat], crossing s > 0, wait s >= 0]")
    _check(p.unreachable_s >= 86_400, "unreachable_s", p.unreachable_s, "at least a day (86400 s)")
    _check(0.005 <= p.land_res_deg <= 0.1, "land_res_deg", p.land_res_deg, "0.005-0.1 degrees")


def to_json(p: RoadParams) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(p)))  # tuples become lists


def _tuples(x: Any) -> Any:
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


def from_json(doc: dict[str, Any], where: str = "parameters") -> RoadParams:
    """Parameters from a JSON object: missing keys keep their default; ``model`` may say "road"."""
    names = {f.name for f in fields(RoadParams)}
    unknown = sorted(set(doc) - names - {"model", "fit"})
    if unknown:
        raise ParamsError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(names)}")
    if doc.get("model", "road") != "road":
        raise ParamsError(f"{where}: model={doc['model']!r}; this file format is for the 'road' model")
    kw: dict[str, Any] = {}
    for k in names & set(doc):
        v = doc[k]
        kw[k] = {c: _tuples(s) for c, s in v.items()} if k == "speeds_kmh" and isinstance(v, dict) else _tuples(v)
    try:
        return replace(RoadParams(), **kw)
    except (ParamsError, TypeError, ValueError) as err:
        raise ParamsError(f"{where}: {err}") from None


def read_params(path: str | Path) -> RoadParams:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ParamsError(f"{path}: cannot read it ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise ParamsError(f"{path}: not JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    if not isinstance(doc, dict):
        raise ParamsError(f"{path}: expected a JSON object of parameters")
    return from_json(doc, str(path))


def write_params(p: RoadParams, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    doc = {"model": "road", **to_json(p), **(extra or {})}
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
