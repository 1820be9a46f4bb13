"""A precomputed matrix file as the travel model: times and distances computed elsewhere (a
company's own routing engine, a commercial matrix, a past export), looked up pair by pair.

The file is Parquet (or CSV) with one row per ordered pair, either by coordinates (``from_lon,
from_lat, to_lon, to_lat``) or by point ids (``from_id, to_id``, with ``points=FILE`` naming a
table ``id, lon, lat``), and ``travel_s``, ``distance_m``; optionally ``speed_class`` (without it,
every class of the fallback model gets the file's times). Coordinates are matched after rounding
to ``decimals`` (default 5, about a metre). A pair the file lacks is asked of the fallback model
(the default), counted, and reported with the run (``record``): never silently.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dispatch.travel.base import Travel, matrices_by_legs

COORDS = ("from_lon", "from_lat", "to_lon", "to_lat")
IDS = ("from_id", "to_id")
VALUES = ("travel_s", "distance_m")
HALF_EARTH_M = 20_037_509.0


class MatrixFileError(ValueError):
    """A matrix file the model cannot use."""


def _read_table(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise MatrixFileError(f"{path}: no such file")
    try:
        return pd.read_csv(p) if p.suffix.lower() == ".csv" else pd.read_parquet(p)
    except Exception as err:  # noqa: BLE001 (pyarrow and pandas raise many kinds; the user needs the file and the cause)
        raise MatrixFileError(f"{path}: cannot read it as {'CSV' if p.suffix.lower() == '.csv' else 'Parquet'} "
                              f"({err})") from None


def _require(frame: pd.DataFrame, path: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MatrixFileError(f"{path}: missing column(s) {missing}; columns are {list(frame.columns)}")


def _integers(frame: pd.DataFrame, path: str, column: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise MatrixFileError(f"{path}: row {row + 2}, column {column}: {frame[column].iloc[row]!r} is not a "
                              f"non-negative number")
    return np.rint(values.to_numpy(float)).astype(np.int64)


@dataclass(eq=False)
class MatrixFileTravel:
    """Times and distances looked up in a file; pairs it lacks come from ``fallback``."""

    path: str
    fallback: Travel
    points: str | None = None
    decimals: int = 5
    source: str = ""
    _keys: np.ndarray = field(init=False, repr=False)
    _classes: tuple[str, ...] = field(init=False, repr=False)
    _table: dict[str, tuple[np.ndarray, np.ndarray]] = field(init=False, repr=False)
    _points: np.ndarray = field(init=False, repr=False)
    requests: int = field(default=0, init=False)
    missing: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        frame = _read_table(self.path)
        if all(c in frame.columns for c in COORDS):
            coords = frame[list(COORDS)].apply(pd.to_numeric, errors="coerce")
            if coords.isna().any().any():
                row, col = np.argwhere(coords.isna().to_numpy())[0]
                raise MatrixFileError(f"{self.path}: row {row + 2}, column {COORDS[col]}: "
                                      f"{frame[COORDS[col]].iloc[row]!r} is not a coordinate")
            ends = coords.to_numpy(float)
        elif all(c in frame.columns for c in IDS):
            if not self.points:
                raise MatrixFileError(f"{self.path}: rows by from_id/to_id need points=FILE (id, lon, lat)")
            pts = _read_table(self.points)
            _require(pts, self.points, ("id", "lon", "lat"))
            where = {str(i): (float(x), float(y)) for i, x, y in zip(pts["id"], pts["lon"], pts["lat"])}
            ends = np.empty((len(frame), 4))
            for k, col in enumerate(IDS):
                ids = frame[col].astype(str)
                unknown = ~ids.isin(list(where))
                if unknown.any():
                    row = int(np.flatnonzero(unknown.to_numpy())[0])
                    raise MatrixFileError(f"{self.path}: row {row + 2}, column {col}: id {ids.iloc[row]!r} is not "
                                          f"in {self.points}")
                ends[:, 2 * k: 2 * k + 2] = np.array([where[i] for i in ids])
        else:
            raise MatrixFileError(f"{self.path}: expected columns {list(COORDS)} or {list(IDS)} "
                                  f"(with points=FILE); columns are {list(frame.columns)}")
        _require(frame, self.path, VALUES)
        t, d = _integers(frame, self.path, "travel_s"), _integers(frame, self.path, "distance_m")
        cls = frame["speed_class"].astype(str).to_numpy() if "speed_class" in frame.columns else None
        self._classes = tuple(dict.fromkeys(cls)) if cls is not None else tuple(self.fallback.speed_classes)
        self._points = np.unique(np.concatenate([self._point_keys(ends[:, 0], ends[:, 1]),
                                                 self._point_keys(ends[:, 2], ends[:, 3])]))
        keys = self._pair_keys(ends[:, 0], ends[:, 1], ends[:, 2], ends[:, 3])
        self._table = {}
        for c in self._classes:
            sel = np.ones(len(keys), bool) if cls is None else cls == c
            k = keys[sel]
            order = np.argsort(k, kind="stable")
            k = k[order]
            dup = np.flatnonzero(k[1:] == k[:-1])
            if len(dup):
                row = int(np.flatnonzero(sel)[order[dup[0] + 1]])
                raise MatrixFileError(f"{self.path}: row {row + 2} repeats a pair (class {c!r}) given before")
            self._table[c] = (k, np.stack([t[sel][order], d[sel][order]]))

    def _point_keys(self, lon, lat) -> np.ndarray:  # type: ignore[no-untyped-def]
        """One exact int64 per rounded point: (lon + 180) and (lat + 90) in units of 10**-decimals."""
        q = 10 ** self.decimals
        x = np.rint((np.asarray(lon, dtype=float) + 180.0) * q).astype(np.int64)
        y = np.rint((np.asarray(lat, dtype=float) + 90.0) * q).astype(np.int64)
        return x * (180 * q + 1) + y

    def _pair_keys(self, lon_a, lat_a, lon_b, lat_b) -> np.ndarray:  # type: ignore[no-untyped-def]
        """The file's pairs: index of a in the sorted points x number of points + index of b."""
        a, b = self._point_keys(lon_a, lat_a), self._point_keys(lon_b, lat_b)
        n = len(self._points)
        ia = np.clip(np.searchsorted(self._points, a), 0, max(n - 1, 0))
        ib = np.clip(np.searchsorted(self._points, b), 0, max(n - 1, 0))
        known = (self._points[ia] == a) & (self._points[ib] == b) if n else np.zeros(a.shape, bool)
        return np.where(known, ia * n + ib, -1)

    # -- the protocol ------------------------------------------------------------------------

    @property
    def spec(self) -> str:
        return self.source or f"matrix:file={self.path}"

    @property
    def speed_classes(self) -> tuple[str, ...]:
        return self._classes

    def legs(self, lon_a, lat_a, lon_b, lat_b, speed_class: str = "car",  # type: ignore[no-untyped-def]
             depart_s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if speed_class not in self._table:
            raise ValueError(f"unknown speed class {speed_class!r}; expected one of {sorted(self._table)}")
        lon_a, lat_a, lon_b, lat_b = np.broadcast_arrays(*(np.asarray(x, dtype=float)
                                                           for x in (lon_a, lat_a, lon_b, lat_b)))
        keys, (times, dists) = self._table[speed_class][0], self._table[speed_class][1]
        want = self._pair_keys(lon_a, lat_a, lon_b, lat_b)
        i = np.clip(np.searchsorted(keys, want), 0, max(len(keys) - 1, 0))
        found = ((keys[i] == want) & (want >= 0)) if len(keys) else np.zeros(want.shape, bool)
        t = np.where(found, times[i] if len(keys) else 0, 0).astype(np.int64)
        d = np.where(found, dists[i] if len(keys) else 0, 0).astype(np.int64)
        same = self._point_keys(lon_a, lat_a) == self._point_keys(lon_b, lat_b)
        lack = ~found & ~same
        self.requests += int(want.size)
        if lack.any():
            self.missing += int(lack.sum())
            fb_class = speed_class if speed_class in self.fallback.speed_classes else self.fallback.speed_classes[0]
            ft, fd = self.fallback.legs(lon_a[lack], lat_a[lack], lon_b[lack], lat_b[lack], fb_class, depart_s)
            t[lack], d[lack] = ft, fd
            if self.missing == int(lack.sum()):  # said the first time; the run's record counts them all
                warnings.warn(f"travel {self.spec}: {int(lack.sum())} pair(s) not in the file; {self.fallback.spec} "
                              f"used for them (and for any further ones, counted in the run's record)", stacklevel=2)
        return t, d

    def matrices(self, lon, lat, speed_classes=None, depart_s=None):  # type: ignore[no-untyped-def]
        return matrices_by_legs(self, lon, lat, speed_classes, depart_s)

    def reach_m(self, travel_s: float, speed_class: str = "car") -> float:
        """A file has no speed to bound by: anywhere on Earth may be in reach (half its circumference)."""
        return HALF_EARTH_M

    def record(self) -> dict[str, object]:
        if not self.missing:
            return {}
        return {"travel_fallbacks": self.missing, "travel_requests": self.requests,
                "travel_fallback_model": self.fallback.spec, "travel_last_error": "pairs not in the file"}
