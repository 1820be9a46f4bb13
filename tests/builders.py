"""Builders of tiny domain values for tests: a centre, a technician, a request, a routing problem,
a live area, a drive time. Each takes the few values a test cares about and fills the rest with
the defaults written here once, so a test module builds its data in one readable line.

Times are hours in the arguments (``open_h``, ``created_h``) and integer seconds in the values
built, as everywhere in the planner. ``NETWORK`` and ``TECHS`` are the hand-built three-tier
chain (Hangzhou lab > Huzhou centre > Deqing station) that the assignment, baseline, simulation
and scenario tests work their expected times out on; ``tests/conftest.py`` serves them as
fixtures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.live import LiveArea, NewCall
from dispatch.model import Centre, Mode, Priority, Request, Technician, Tier, TimeWindow
from dispatch.network import Network
from dispatch.routing import BreakRule, RoutingProblem, RoutingTechnician, RoutingVisit
from dispatch.travel import DEFAULT_TRAVEL

H = 3600
EPOCH = "2026-03-02"  # a Monday; t = 0 is its midnight, China Standard Time
ALL = frozenset({"*"})  # a routing technician with every product skill


# ---- the domain: centres, technicians, requests ----------------------------------------------

def centre(cid: str = "S1", tier: Tier = Tier.COUNTY, parent: str | None = "C1", lon: float = 120.1,
           lat: float = 30.2, levels: Iterable[int] = (1,), bench_h: float = 8.0, open_h: float = 9,
           close_h: float = 18, courier_h: float = 1, province: str = "", prefecture: str = "",
           county: str = "") -> Centre:
    """A centre named by its id, open ``open_h``..``close_h`` every day, ``courier_h`` hours by
    courier from its parent, with ``bench_h`` bench hours a day."""
    return Centre(cid, cid, tier, lon, lat, parent, frozenset(levels), bench_h,
                  TimeWindow(int(open_h * H), int(close_h * H)), int(courier_h * H), province, prefecture, county)


def tech(tid: str, home: str, level: int = 1, lines: Iterable[str] = frozenset(),
         shift_h: tuple[float, float] = (8, 17), break_h: tuple[float, float] = (11, 13),
         break_min: int = 45) -> Technician:
    """A technician of ``home`` up to repair ``level``, for the product ``lines`` (none: all);
    his break of ``break_min`` minutes starts between ``break_h``."""
    return Technician(tid, home, level, TimeWindow(int(shift_h[0] * H), int(shift_h[1] * H)),
                      TimeWindow(int(break_h[0] * H), int(break_h[1] * H)), break_min * 60, frozenset(lines))


def req(rid: str, level: int, mode: Mode, created_h: float = 10, lon: float = 119.971, lat: float = 30.541,
        product: str = "phone", *, service_min: float | None = None, window_h: float = 4,
        priority: Priority = Priority.NORMAL, county: str = "330521") -> Request:
    """A call at ``created_h`` (hours since the epoch) next to Deqing station unless placed
    elsewhere; the customer is free for ``window_h`` hours from the call; the work at the door
    is 30 min (nothing for a walk-in) unless ``service_min`` says."""
    c = int(created_h * H)
    service_s = (0 if mode == Mode.WALKIN else 1800) if service_min is None else int(service_min * 60)
    return Request(rid, c, lon, lat, level, mode, priority, TimeWindow(c, c + int(window_h * H)), service_s,
                   product, county)


def zhejiang_chain() -> Network:
    """Three tiers, each under the next: P1 Hangzhou lab (levels 1-3, 4 bench h, open 09-21),
    C1 Huzhou centre (levels 1-2, 8 bench h, 09-19, 14 h by courier to P1) and S1 Deqing station
    (level 1, 1 bench h, 09-18, 5 h to C1)."""
    return Network((
        centre("P1", Tier.PROVINCE, None, 120.15, 30.27, {1, 2, 3}, 4, 9, 21, 0, "330000", "330500"),
        centre("C1", Tier.CITY, "P1", 120.09, 30.89, {1, 2}, 8, 9, 19, 14, "330000", "330500"),
        centre("S1", Tier.COUNTY, "C1", 119.97, 30.54, {1}, 1, 9, 18, 5, "330000", "330500", "330521"),
    ))


NETWORK = zhejiang_chain()
# T1 at S1 does level 1 of any product; T2 (C1) and T3 (P1) do up to levels 2 and 3, phones only.
TECHS = (tech("T1", "S1", 1), tech("T2", "C1", 2, {"phone"}), tech("T3", "P1", 3, {"phone"}))


# ---- files ------------------------------------------------------------------------------------

DATASET_FILES = ("centres.csv", "technicians.csv", "requests.csv", "manifest.json")


def differing_files(a: Path, b: Path, names: Iterable[str] = DATASET_FILES) -> list[str]:
    """The files among ``names`` whose bytes differ between folders ``a`` and ``b``."""
    return [name for name in names if (a / name).read_bytes() != (b / name).read_bytes()]


# ---- travel -----------------------------------------------------------------------------------

def drive_s(a_lon: float, a_lat: float, b_lon: float, b_lat: float, speed: str = "car") -> int:
    """The offline travel model's drive between two points, whole seconds."""
    return int(DEFAULT_TRAVEL.legs(a_lon, a_lat, b_lon, b_lat, speed)[0])


def drive_m(a_lon: float, a_lat: float, b_lon: float, b_lat: float) -> int:
    """The offline travel model's road distance between two points, whole metres."""
    return int(DEFAULT_TRAVEL.legs(a_lon, a_lat, b_lon, b_lat)[1])


# The road model's documented formula (dispatch/travel/road.py; values of dispatch/travel/roadparams.py),
# worked in plain floats for the tests that compute a drive by hand: none of the model's code is used,
# so a change of its formula or of a default value fails those tests. No terrain factor (Zhejiang's
# units have none) and no water (the hand-built legs stay on the mainland).
HAND_BAND_ENDS_KM = (3.0, 12.0, 40.0)
HAND_BAND_KMH = {"car": (22.0, 40.0, 70.0, 100.0), "scooter": (16.0, 22.0, 25.0, 25.0)}
HAND_RUSH_SHARE = (0, 0, 0, 0, 0, 0, 0.2, 0.8, 1.0, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.5, 1.0, 1.0, 0.6, 0.2, 0.1, 0, 0)
HANGZHOU_PEAK = 1.35  # Hangzhou's rush-hour multiplier (16 km around 120.16, 30.27)


def _band_h(road_km: float, speeds: tuple[float, ...]) -> float:
    hours, start = 0.0, 0.0
    for end, kmh in zip((*HAND_BAND_ENDS_KM, math.inf), speeds):
        hours += max(0.0, min(road_km, end) - start) / kmh
        start = end
    return hours


def road_by_hand(a_lon: float, a_lat: float, b_lon: float, b_lat: float, speed: str = "car",
                 depart_h: float | None = None, peaks: tuple[float, float] = (1.0, 1.0)) -> tuple[int, int]:
    """(travel_s, distance_m) of one road-model leg: great circle x a detour of 1.45 falling to 1.16
    (15 km scale); hours through the bands (3 / 12 / 40 km); at ``depart_h`` in a big city (``peaks``:
    each end's rush multiplier, 1 outside every city's circle) the first 20 road km slowed by
    1 + (mean peak - 1) x the hour's share; rounded up to the second, + 300 s of access."""
    la, lb = math.radians(a_lat), math.radians(b_lat)
    h = math.sin((lb - la) / 2) ** 2 + math.cos(la) * math.cos(lb) * math.sin(math.radians(b_lon - a_lon) / 2) ** 2
    crow_m = 2 * 6_371_008.8 * math.asin(math.sqrt(h))
    road_m = crow_m * (1.16 + (1.45 - 1.16) * math.exp(-crow_m / 15_000))
    hours = _band_h(road_m / 1000, HAND_BAND_KMH[speed])
    if depart_h is not None:
        rush = 1 + ((peaks[0] + peaks[1]) / 2 - 1) * HAND_RUSH_SHARE[int(depart_h) % 24]
        hours += _band_h(min(road_m / 1000, 20.0), HAND_BAND_KMH[speed]) * (rush - 1)
    return (math.ceil(hours * 3600) + 300 if road_m >= 0.5 else 0), round(road_m)


# ---- routing ----------------------------------------------------------------------------------

def line(xs: Sequence[int], classes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Travel and distance matrices of nodes on a line: seconds = |x_i - x_j| (times the speed
    class + 1), metres = 10 x seconds, so every time is worked out by hand."""
    x = np.array(xs, dtype=np.int64)
    t = np.abs(x[:, None] - x[None, :])
    return np.stack([t * (c + 1) for c in range(classes)]), t * 10


def routing_tech(id: str, node: int = 0, start: int = 0, end: int = 10 * H, level: int = 3,
                 skills: frozenset[str] = ALL, brk: BreakRule | None = None, **kw: Any) -> RoutingTechnician:
    """A routing technician starting and ending at ``node``, on shift ``start``..``end`` (s)."""
    return RoutingTechnician(id, node, node, start, end, level, skills, brk, kw.pop("speed_class", 0), **kw)


def visit(id: str, node: int, service: int = 600, ws: int = 0, we: int = 10 * H, level: int = 1,
          skill: str | None = None, priority: int = 1, deadline: int | None = None, **kw: Any) -> RoutingVisit:
    """A visit at ``node`` with ``service`` seconds of work, to start in ``ws``..``we``."""
    return RoutingVisit(id, node, service, ws, we, level, skill, priority, deadline, **kw)


def line_problem(xs: Sequence[int], techs: Iterable[RoutingTechnician],
                 visits: Iterable[RoutingVisit]) -> RoutingProblem:
    """A routing problem on the nodes of :func:`line`, named n0, n1, ..."""
    t, d = line(xs)
    return RoutingProblem(t, d, tuple(techs), tuple(visits), tuple(f"n{i}" for i in range(len(xs))))


# ---- the live plan ----------------------------------------------------------------------------

# Two centres 20 km apart near Huzhou (S1 west, S2 east); test customers lie around them.
LIVE_CENTRES = ((120.10, 30.87), (120.30, 30.87))


def live_area(n_techs: int = 2, break_rule: bool = True, clock_s: int = 8 * H) -> LiveArea:
    """An empty live area at ``clock_s`` with technicians T1, T2, ... alternately at S1 and S2,
    on shift 08-18 with a 30-minute break from 12-14 (unless ``break_rule`` is off); T1 does
    level 2, the others level 1, all products."""
    lon = np.array([c[0] for c in LIVE_CENTRES])
    lat = np.array([c[1] for c in LIVE_CENTRES])
    travel_s, distance_m = DEFAULT_TRAVEL.matrices(lon, lat)
    techs = tuple(
        RoutingTechnician(f"T{i + 1}", i % 2, i % 2, 8 * H, 18 * H, 2 if i == 0 else 1, ALL,
                          BreakRule(12 * H, 14 * H, 1800) if break_rule else None, 0)
        for i in range(n_techs))
    problem = RoutingProblem(travel_s, distance_m, techs, (), ("S1", "S2"))
    return LiveArea(problem, {}, clock_s, DEFAULT_TRAVEL, lon, lat)


def new_call(cid: str, lon: float, lat: float, at_s: int, level: int = 1, window_h: float = 4.0,
             service_min: int = 30, priority: int = 1, deadline: bool = True, later_h: float = 0.0) -> NewCall:
    """A call at ``at_s`` whose customer is free ``later_h`` hours later for ``window_h`` hours;
    with ``deadline`` a technician must set off within the hour of the window's start."""
    start = at_s + int(later_h * H)  # the customer may only be free later
    return NewCall(cid, lon, lat, service_min * 60, start, start + int(window_h * H), level, None, priority,
                   release_s=at_s, dispatch_deadline_s=start + H if deadline else None)
