"""Domain values: tiers, centres, technicians, requests (immutable, validated on construction).

Times are integer seconds since the dataset's epoch (midnight, China Standard Time, of its first
day); clock times within a day (opening hours, shifts) are integer seconds since midnight.
Coordinates are WGS84 longitude/latitude. Invalid values raise ``ModelError`` naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from dispatch.errors import ModelError

DAY_S = 86_400

# Mainland China's bounding box (down to the South China Sea islands, Sansha at 16.8N), with a
# margin; anything outside is a typo or swapped lon/lat.
# A centre's bench hours per day at most (50 benches round the clock): a bound on input, which
# the synthetic staffing also keeps (a busier hub queues its repairs into the next days).
MAX_BENCH_HOURS_PER_DAY = 24 * 50
CHINA_LON_RANGE = (73.0, 135.5)
CHINA_LAT_RANGE = (3.5, 53.6)


class Tier(IntEnum):
    PROVINCE = 1
    CITY = 2
    COUNTY = 3


class RepairLevel(IntEnum):
    """1 simple (software, battery, screen); 2 module (camera, port, board swap); 3 board-level."""

    SIMPLE = 1
    MODULE = 2
    BOARD = 3


# The repair levels and tiers, in order (where code needs "every level" or "every tier").
LEVELS: tuple[int, ...] = tuple(int(level) for level in RepairLevel)


class Mode(StrEnum):
    ONSITE = "onsite"  # a technician travels and repairs at the customer
    PICKUP = "pickup"  # a technician collects the device; bench repair; device returned
    WALKIN = "walkin"  # the customer brings the device to a station
    MAILIN = "mailin"  # 寄修: the customer ships the device to a repair hub by courier; it comes back so

    @property
    def travels(self) -> bool:
        """A technician travels to the customer (on site, or to collect the device)."""
        return self in (Mode.ONSITE, Mode.PICKUP)


class Priority(IntEnum):
    NORMAL = 1
    HIGH = 2  # enterprise contract
    URGENT = 3  # VIP / emergency


DAMAGES = ("", "water", "drop")  # damage a customer reports (the 三包 rules: not a warranty failure)

TRAVELLING_MODES = frozenset({Mode.ONSITE, Mode.PICKUP})

# What a person on the roster does (dispatch.staffing sizes each): ``field`` travels to customers
# (the only role the routing engine sends out), ``bench`` repairs at the centre, ``counter``
# receives walk-ins, ``bench+counter`` holds both at a small station, one at a time (the counter
# comes first; a repair waits). A field role is never combined: on the road, nobody is at the counter.
ROLES = ("field", "bench", "counter", "bench+counter")
FIELD_ROLE = "field"
WEEKDAYS = 7  # rest_weekday: 0 = Monday .. 6 = Sunday, as datetime.date.weekday()


def _require(ok: bool, entity: str, field_name: str, value: object, expected: str) -> None:
    if not ok:
        raise ModelError(entity, field_name, value, expected)


def _check_id(entity: str, value: object) -> None:
    _require(isinstance(value, str) and value.strip() != "", entity, "id", value, "a non-empty string")


def _check_lon_lat(entity: str, lon: float, lat: float) -> None:
    for name, v in (("lon", lon), ("lat", lat)):
        _require(
            isinstance(v, (int, float)) and math.isfinite(v), entity, name, v, "a finite number"
        )
    lo, hi = CHINA_LON_RANGE
    _require(lo <= lon <= hi, entity, "lon", lon, f"a WGS84 longitude in mainland China ({lo}..{hi})")
    lo, hi = CHINA_LAT_RANGE
    _require(lo <= lat <= hi, entity, "lat", lat, f"a WGS84 latitude in mainland China ({lo}..{hi})")


def _check_levels(entity: str, field_name: str, levels: frozenset[int]) -> None:
    ok = len(levels) > 0 and all(isinstance(v, int) and 1 <= v <= 3 for v in levels)
    _require(ok, entity, field_name, sorted(levels), "a non-empty set of repair levels among 1, 2, 3")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """[start_s, end_s], integer seconds; an empty window (end before start) is invalid."""

    start_s: int
    end_s: int

    def __post_init__(self) -> None:
        for name in ("start_s", "end_s"):
            v = getattr(self, name)
            _require(isinstance(v, int), "TimeWindow", name, v, "an integer number of seconds")
        _require(
            self.end_s >= self.start_s,
            "TimeWindow",
            "end_s",
            self.end_s,
            f"a time at or after start_s={self.start_s}",
        )

    @property
    def duration_s(self) -> int:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Centre:
    """A service centre of any tier, located at its administrative seat."""

    id: str
    name: str
    tier: Tier
    lon: float
    lat: float
    parent_id: str | None
    levels: frozenset[int]
    bench_hours_per_day: float
    opening: TimeWindow  # seconds since midnight, local time
    courier_to_parent_s: int  # door-to-door courier lead time to the parent centre, one way
    province_adcode: str = ""
    prefecture_adcode: str = ""
    county_adcode: str = ""

    def __post_init__(self) -> None:
        e = f"Centre {self.id!r}"
        _check_id("Centre", self.id)
        _require(isinstance(self.tier, Tier), e, "tier", self.tier, "1 (province), 2 (city) or 3 (county)")
        _check_lon_lat(e, self.lon, self.lat)
        _check_levels(e, "levels", self.levels)
        _require(self.parent_id != self.id, e, "parent_id", self.parent_id, "another centre's id")
        if self.tier == Tier.PROVINCE:
            _require(self.parent_id is None, e, "parent_id", self.parent_id, "empty for a tier-1 centre")
        else:
            _require(
                bool(self.parent_id), e, "parent_id", self.parent_id, "the id of a higher-tier centre"
            )
        _require(
            math.isfinite(self.bench_hours_per_day) and 0 <= self.bench_hours_per_day <= MAX_BENCH_HOURS_PER_DAY,
            e,
            "bench_hours_per_day",
            self.bench_hours_per_day,
            f"a number of hours from 0 to {MAX_BENCH_HOURS_PER_DAY}",
        )
        _require(
            0 <= self.opening.start_s and self.opening.end_s <= DAY_S,
            e,
            "opening",
            (self.opening.start_s, self.opening.end_s),
            "a window within one day (0..86400 s since midnight)",
        )
        _require(
            isinstance(self.courier_to_parent_s, int) and self.courier_to_parent_s >= 0,
            e,
            "courier_to_parent_s",
            self.courier_to_parent_s,
            "an integer number of seconds >= 0",
        )

    @property
    def bench_s_per_day(self) -> int:
        return int(round(self.bench_hours_per_day * 3600))

    @property
    def max_level(self) -> int:
        return max(self.levels)

    def can_repair(self, level: int) -> bool:
        return level in self.levels


@dataclass(frozen=True, slots=True)
class Technician:
    id: str
    home_centre_id: str
    max_level: int
    shift: TimeWindow  # seconds since midnight, each working day
    break_window: TimeWindow | None  # when the break may start, seconds since midnight
    break_s: int
    product_lines: frozenset[str] = field(default_factory=frozenset)  # empty: all lines
    speed_class: str = "car"
    name: str = ""
    role: str = FIELD_ROLE  # one of ROLES; old rosters: everyone in the field
    # The weekly rest day (Labour Law art. 38), 0 = Monday .. 6 = Sunday; None: no fixed rest day.
    rest_weekday: int | None = None

    def __post_init__(self) -> None:
        e = f"Technician {self.id!r}"
        _check_id("Technician", self.id)
        _require(self.role in ROLES, e, "role", self.role, "one of " + ", ".join(ROLES))
        _require(
            self.rest_weekday is None
            or (isinstance(self.rest_weekday, int) and 0 <= self.rest_weekday < WEEKDAYS),
            e,
            "rest_weekday",
            self.rest_weekday,
            "a weekday 0 (Monday) .. 6 (Sunday), or none",
        )
        _require(
            isinstance(self.home_centre_id, str) and self.home_centre_id != "",
            e,
            "home_centre_id",
            self.home_centre_id,
            "the id of the centre the technician starts and ends at",
        )
        _require(self.max_level in LEVELS, e, "max_level", self.max_level, "1, 2 or 3")
        _require(
            0 <= self.shift.start_s and self.shift.end_s <= DAY_S and self.shift.duration_s > 0,
            e,
            "shift",
            (self.shift.start_s, self.shift.end_s),
            "a non-empty window within one day (0..86400 s since midnight)",
        )
        _require(
            isinstance(self.break_s, int) and 0 <= self.break_s <= self.shift.duration_s,
            e,
            "break_s",
            self.break_s,
            "an integer number of seconds between 0 and the shift length",
        )
        if self.break_window is not None:
            _require(
                self.shift.start_s <= self.break_window.start_s
                and self.break_window.end_s + self.break_s <= self.shift.end_s,
                e,
                "break_window",
                (self.break_window.start_s, self.break_window.end_s),
                "a break that starts and ends inside the shift",
            )


@dataclass(frozen=True, slots=True)
class Request:
    """A customer's call."""

    id: str
    created_s: int  # seconds since the dataset epoch
    lon: float
    lat: float
    level: int
    mode: Mode
    priority: Priority
    window: TimeWindow  # when the customer is available (absolute seconds); walk-ins: ignored
    service_s: int  # on-site work or device hand-over at the customer, seconds
    product_line: str = ""
    county_adcode: str = ""
    # The device (dispatch.parts; empty when the dataset has no parts): its model in the parts
    # catalogue, IMEI, when it was bought (seconds since the epoch, negative before it; None:
    # unknown), damage the customer reports ("water", "drop" or ""), and repairs of this fault
    # that did not fix it (the 三包 rules read the last three).
    device_model: str = ""
    imei: str = ""
    purchase_s: int | None = None
    damage: str = ""
    failed_repairs: int = 0

    def __post_init__(self) -> None:
        e = f"Request {self.id!r}"
        _check_id("Request", self.id)
        _require(
            isinstance(self.created_s, int) and self.created_s >= 0,
            e,
            "created_s",
            self.created_s,
            "an integer number of seconds >= 0 since the dataset epoch",
        )
        _check_lon_lat(e, self.lon, self.lat)
        _require(self.level in LEVELS, e, "level", self.level, "1, 2 or 3")
        _require(isinstance(self.mode, Mode), e, "mode", self.mode, "onsite, pickup, walkin or mailin")
        _require(isinstance(self.priority, Priority), e, "priority", self.priority, "1, 2 or 3")
        _require(
            isinstance(self.service_s, int) and self.service_s >= 0,
            e,
            "service_s",
            self.service_s,
            "an integer number of seconds >= 0",
        )
        if self.mode in TRAVELLING_MODES:
            _require(
                self.window.end_s >= self.created_s,
                e,
                "window",
                (self.window.start_s, self.window.end_s),
                "a customer window that ends after the call was made",
            )
        _require(self.damage in DAMAGES, e, "damage", self.damage, "water, drop or empty")
        _require(isinstance(self.failed_repairs, int) and self.failed_repairs >= 0, e, "failed_repairs",
                 self.failed_repairs, "an integer >= 0")
        _require(self.purchase_s is None or (isinstance(self.purchase_s, int) and self.purchase_s <= self.created_s),
                 e, "purchase_s", self.purchase_s, "a purchase at or before the call")
