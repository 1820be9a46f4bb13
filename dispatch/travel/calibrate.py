"""Calibration of the road model on a company's own trips (``dispatch travel calibrate TRIPS.csv``).

A trips file has one row per completed drive: ``from_lon, from_lat, to_lon, to_lat`` (WGS84),
``depart_at`` (ISO 8601 with its offset, e.g. ``2026-03-02T08:15:00+08:00``), ``duration_s`` and
optionally ``distance_m`` (the odometer) and ``speed_class`` (default ``car``). The fit keeps the
terrain, rush-hour and ferry tables and fits what trips tell best: the overhead per trip, the speed
of each distance band per speed class with enough trips, and the detour (from ``distance_m``
where given). It minimises the log ratio of model to observed time (and distance) with SciPy's
``least_squares`` under the ``soft_l1`` loss (scale 0.1, about 10 %), so a few GPS logs that are
wildly off (a technician who forgot to stop the clock) weigh little. Trips across water (a ferry)
or of under 100 m are left out of the fit, and counted. Error is reported as the median absolute
percentage error of duration (MdAPE) and its 90th percentile, before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dispatch.travel.base import haversine_m
from dispatch.travel.road import RoadTravel, band_lengths
from dispatch.travel.roadparams import RoadParams

REQUIRED = ("from_lon", "from_lat", "to_lon", "to_lat", "depart_at", "duration_s")
MIN_TRIPS_PER_CLASS = 30
CHINA_TZ = "Asia/Shanghai"


class TripsError(ValueError):
    """A trips file the calibration cannot use (names the file, row, column and value)."""


@dataclass(frozen=True)
class Trips:
    lon_a: np.ndarray
    lat_a: np.ndarray
    lon_b: np.ndarray
    lat_b: np.ndarray
    depart_s: np.ndarray  # seconds after midnight, China time
    duration_s: np.ndarray
    distance_m: np.ndarray  # NaN where not given
    speed_class: np.ndarray


def read_trips(path: str) -> Trips:
    """The trips of a CSV file, checked: a bad row is an error naming it, never dropped silently."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)  # the raw text, for messages
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TripsError(f"{path}: cannot read it as CSV ({err})") from None
    return trips_of(frame, path)


def trips_of(frame: pd.DataFrame, path: str, first_row: int = 2) -> Trips:
    """The trips of a table of text (``read_trips``'s, or the store's ``travel_trips`` as text), checked;
    ``path`` and ``first_row`` (the number of its first row) name a bad row in the messages."""
    frame = frame.fillna("").astype(str).reset_index(drop=True)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise TripsError(f"{path}: missing column(s) {missing}; expected {list(REQUIRED)} "
                         f"and optionally distance_m, speed_class")
    if frame.empty:
        raise TripsError(f"{path}: no trips")
    numeric = {}
    for col, lo, hi in (("from_lon", 73, 136), ("from_lat", 3, 54), ("to_lon", 73, 136), ("to_lat", 3, 54),
                        ("duration_s", 1, 7 * 86_400)):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | (values < lo) | (values > hi)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise TripsError(f"{path}: row {row + first_row}, column {col}: {frame[col].iloc[row]!r}; expected a number "
                             f"in {lo}-{hi}")
        numeric[col] = values.to_numpy(float)
    when = pd.to_datetime(frame["depart_at"], errors="coerce", utc=True, format="ISO8601")
    naive = ~frame["depart_at"].astype(str).str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True)
    bad = when.isna() | naive
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise TripsError(f"{path}: row {row + first_row}, column depart_at: {frame['depart_at'].iloc[row]!r}; expected "
                         f"ISO 8601 with its offset, e.g. 2026-03-02T08:15:00+08:00")
    local = when.dt.tz_convert(CHINA_TZ)
    depart = (local.dt.hour * 3600 + local.dt.minute * 60 + local.dt.second).to_numpy(np.int64)
    dist = (pd.to_numeric(frame["distance_m"].replace("", np.nan), errors="coerce").to_numpy(float)
            if "distance_m" in frame.columns else np.full(len(frame), np.nan))
    cls = (frame["speed_class"].replace("", "car").astype(str).to_numpy()
           if "speed_class" in frame.columns else np.full(len(frame), "car"))
    return Trips(numeric["from_lon"], numeric["from_lat"], numeric["to_lon"], numeric["to_lat"], depart,
                 numeric["duration_s"], dist, cls)


def predict_s(model: RoadTravel, trips: Trips) -> np.ndarray:
    """The model's time for each trip (its class, its departure hour)."""
    out = np.empty(len(trips.duration_s))
    for cls in np.unique(trips.speed_class):
        for hour in np.unique(trips.depart_s[trips.speed_class == cls] // 3600):
            sel = (trips.speed_class == cls) & (trips.depart_s // 3600 == hour)
            out[sel] = model.legs(trips.lon_a[sel], trips.lat_a[sel], trips.lon_b[sel], trips.lat_b[sel], str(cls),
                                  int(hour) * 3600)[0]
    return out


def errors(predicted: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    ape = np.abs(predicted - observed) / observed
    return {"mdape": float(np.median(ape)), "p90_ape": float(np.quantile(ape, 0.9)), "trips": len(ape)}


@dataclass(frozen=True)
class Calibration:
    params: RoadParams
    before: dict[str, float]
    after: dict[str, float]
    fitted: tuple[str, ...]
    left_out: dict[str, int]


def calibrate(trips: Trips, start: RoadParams | None = None) -> Calibration:
    """Fit overhead, band speeds (per class with enough trips) and detour to the trips (from
    ``start``, default the documented parameters)."""
    start = start or RoadParams()
    from scipy.optimize import least_squares  # SciPy's optimiser: only calibration needs it

    model = RoadTravel(start, "road")
    classes = [str(c) for c in np.unique(trips.speed_class)]
    unknown = sorted(set(classes) - set(start.speeds_kmh))
    if unknown:
        raise TripsError(f"speed_class {unknown[0]!r} in the trips; expected one of {sorted(start.speeds_kmh)}")
    before_pred = predict_s(model, trips)
    crow = haversine_m(trips.lon_a, trips.lat_a, trips.lon_b, trips.lat_b)
    # Trips whose time includes a ferry (or no road at all) are not what the bands describe.
    drive_only = np.abs(before_pred - _road_only(model, trips)) < 1
    keep = (crow >= 100) & drive_only
    left_out = {"ferry or no road": int((~drive_only).sum()), "under 100 m": int((crow < 100).sum())}
    fit_classes = [c for c in classes if ((trips.speed_class == c) & keep).sum() >= MIN_TRIPS_PER_CLASS]
    if not fit_classes:
        raise TripsError(f"too few trips to fit: {int(keep.sum())} usable, at least {MIN_TRIPS_PER_CLASS} of one "
                         f"speed class needed")
    bands = len(start.band_ends_km) + 1
    has_dist = np.isfinite(trips.distance_m) & keep & (trips.distance_m > 0)
    x0 = [np.log(max(start.overhead_s, 1)), np.log(start.detour_short - 0.999), np.log(start.detour_long - 0.999)]
    for c in fit_classes:
        x0 += list(np.log(start.speeds_kmh[c]))

    def params_of(x: np.ndarray) -> RoadParams:
        speeds = dict(start.speeds_kmh)
        for k, c in enumerate(fit_classes):
            speeds[c] = tuple(float(v) for v in np.exp(x[3 + k * bands: 3 + (k + 1) * bands]))
        return replace(start, overhead_s=int(np.rint(np.exp(x[0]))), detour_short=1.0 + float(np.exp(x[1])),
                       detour_long=1.0 + float(np.exp(x[2])), speeds_kmh=speeds)

    sub = _subset(trips, keep)
    dist_sub = has_dist[keep]

    def residuals(x: np.ndarray) -> np.ndarray:
        # The overhead in fractional seconds (the model's is whole): the optimiser needs a slope.
        m = RoadTravel(replace(params_of(x), overhead_s=0), "road")
        t = _road_only(m, sub, exact=False) + np.exp(x[0])
        r = [np.log(t / sub.duration_s)]
        if dist_sub.any():
            d = _road_m(m, sub)[dist_sub]
            r.append(np.log(d / sub.distance_m[dist_sub]))
        return np.concatenate(r)

    # Bounds in log space: overhead 1 s-1 h, detour 1.001-3, band speeds 3-150 km/h.
    lo = [0.0, np.log(0.001), np.log(0.001)] + [np.log(3.0)] * (bands * len(fit_classes))
    hi = [np.log(3600.0), np.log(2.0), np.log(2.0)] + [np.log(150.0)] * (bands * len(fit_classes))
    x0 = np.clip(np.array(x0, dtype=float), np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    fit = least_squares(residuals, x0, bounds=(lo, hi), loss="soft_l1", f_scale=0.1, method="trf", x_scale="jac", max_nfev=1000)
    params = params_of(fit.x)
    after_pred = predict_s(RoadTravel(params, "road"), trips)
    return Calibration(params, errors(before_pred, trips.duration_s), errors(after_pred, trips.duration_s),
                       tuple(["overhead_s", "detour_short", "detour_long"] + [f"speeds_kmh.{c}" for c in fit_classes]),
                       left_out)


def _subset(trips: Trips, keep: np.ndarray) -> Trips:
    return Trips(*(getattr(trips, f)[keep] for f in Trips.__dataclass_fields__))


def _road_m(model: RoadTravel, trips: Trips) -> np.ndarray:
    """Road metres unrounded (the model's are whole): the optimiser needs a slope."""
    a = model.end_factors(trips.lon_a, trips.lat_a)
    b = model.end_factors(trips.lon_b, trips.lat_b)
    return model.road_m(trips.lon_a, trips.lat_a, trips.lon_b, trips.lat_b, a, b)


def _road_only(model: RoadTravel, trips: Trips, exact: bool = True) -> np.ndarray:
    """Times without the water (drive the straight line's road): the fit's model; ``exact=False``
    keeps fractions of a second so the optimiser sees a smooth surface."""
    dry = RoadTravel(replace(model.params, water=False), "road")
    out = np.empty(len(trips.duration_s))
    p = dry.params
    for cls in np.unique(trips.speed_class):
        for hour in np.unique(trips.depart_s // 3600):
            sel = (trips.speed_class == cls) & (trips.depart_s // 3600 == hour)
            if not sel.any():
                continue
            if exact:
                out[sel] = dry.legs(trips.lon_a[sel], trips.lat_a[sel], trips.lon_b[sel], trips.lat_b[sel], str(cls),
                                    int(hour) * 3600)[0]
            else:
                out[sel] = _smooth_time(dry, p, trips, sel, str(cls), int(hour) * 3600)
    return out


def _smooth_time(model: RoadTravel, p: RoadParams, trips: Trips, sel: np.ndarray, cls: str, depart_s: int) -> np.ndarray:
    """The road model's drive time in fractional seconds (the integer one rounds up)."""
    a = model.end_factors(trips.lon_a[sel], trips.lat_a[sel])
    b = model.end_factors(trips.lon_b[sel], trips.lat_b[sel])
    road_km = model.road_m(trips.lon_a[sel], trips.lat_a[sel], trips.lon_b[sel], trips.lat_b[sel], a, b) / 1000
    paces = 1.0 / np.asarray(p.speeds_kmh[cls])
    hours = band_lengths(road_km, p.band_ends_km) @ paces
    share = p.rush_profile[(depart_s // 3600) % 24]
    if share > 0 and p.cities:
        peak = 1 + ((a["peak"] + b["peak"]) / 2 - 1) * share
        hours = hours + (band_lengths(np.minimum(road_km, p.rush_km), p.band_ends_km) @ paces) * (peak - 1)
    return hours * (a["time"] + b["time"]) / 2 * 3600 + p.overhead_s
