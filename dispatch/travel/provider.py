"""Routing engines and map APIs behind the travel interface: batching, rate limit, retries,
timeouts, an on-disk cache, and a fallback that is never silent.

``ProviderTravel`` answers ``legs``/``matrices`` by asking a ``Backend`` (``dispatch.travel.backends``:
OSRM, Valhalla, Amap, Baidu) for blocks of sources x targets within the backend's per-request
limits, at most ``qps`` requests a second, retrying a rate limit, a timeout or a server error up to
``retries`` times with exponential backoff. Answers are cached on disk (SQLite) keyed by the
backend, the speed class, the departure hour and both ends rounded to ``decimals`` (4: about
10 m; the backend is asked at the rounded points, so a cached answer is the one it gave). A block
the backend cannot answer after its retries falls back to the default model for those pairs: a
warning the user sees (``warnings`` and the command's travel line) and counts in the run's record
(``record()``: requests, failed requests, fallback pairs, the last error).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import numpy as np

from dispatch.geodata import cache_dir
from dispatch.travel.base import Travel, matrices_by_legs

log = logging.getLogger(__name__)
UNREACHABLE_S = 30 * 86_400  # no route: the road model's value, beyond every reach and horizon


class ProviderError(Exception):
    """A request the provider did not answer; ``retry``: worth asking again (rate limit, timeout, 5xx)."""

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class Backend(Protocol):
    name: str  # cache namespace: the provider and its endpoint
    max_sources: int
    max_targets: int
    max_pairs: int  # sources x targets per request

    def classes(self) -> tuple[str, ...]:
        """The speed classes it answers (others go to the fallback model)."""
        ...

    def fetch(self, client: httpx.Client, src: np.ndarray, dst: np.ndarray, speed_class: str,
              depart_s: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(travel_s[S, D], distance_m[S, D]) between WGS84 points ``src[S, 2]`` and ``dst[D, 2]``
        (lon, lat); NaN where the provider finds no route. Raises ProviderError."""
        ...


def _hour(depart_s: int | None) -> int:
    return -1 if depart_s is None else int(depart_s // 3600) % 24


class DiskCache:
    """(backend, class, hour, a, b) -> (travel_s, distance_m) in one SQLite file, read per
    (backend, class, hour) into memory on first use and appended as answers come."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.mem: dict[tuple[str, str, int], dict[tuple[int, int, int, int], tuple[int, int]]] = {}
        self.lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("CREATE TABLE IF NOT EXISTS legs (backend TEXT, cls TEXT, hour INTEGER, ax INTEGER, "
                         "ay INTEGER, bx INTEGER, by INTEGER, travel_s INTEGER, distance_m INTEGER, "
                         "PRIMARY KEY (backend, cls, hour, ax, ay, bx, by))")
            return conn
        except sqlite3.Error as err:
            log.warning("travel cache %s unusable (%s): answers are not kept", self.path, err)
            self.path = None
            return None

    def table(self, backend: str, cls: str, hour: int) -> dict[tuple[int, int, int, int], tuple[int, int]]:
        key = (backend, cls, hour)
        with self.lock:
            if key not in self.mem:
                rows: dict[tuple[int, int, int, int], tuple[int, int]] = {}
                conn = self._connect()
                if conn is not None:
                    with conn:
                        for ax, ay, bx, by, t, d in conn.execute(
                                "SELECT ax, ay, bx, by, travel_s, distance_m FROM legs WHERE backend=? AND cls=? "
                                "AND hour=?", key):
                            rows[(ax, ay, bx, by)] = (t, d)
                    conn.close()
                self.mem[key] = rows
            return self.mem[key]

    def add(self, backend: str, cls: str, hour: int, entries: dict[tuple[int, int, int, int], tuple[int, int]]) -> None:
        self.table(backend, cls, hour).update(entries)
        conn = self._connect()
        if conn is None or not entries:
            return
        try:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO legs VALUES (?,?,?,?,?,?,?,?,?)",
                                 [(backend, cls, hour, *k, *v) for k, v in entries.items()])
        except sqlite3.Error as err:
            log.warning("travel cache %s not written (%s)", self.path, err)
        finally:
            conn.close()


@dataclass(eq=False)
class ProviderTravel:
    """A provider behind the travel interface; ``fallback`` answers what it cannot."""

    backend: Backend
    fallback: Travel
    source: str
    timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 0.5
    qps: float = 5.0
    decimals: int = 4
    cache_path: Path | None = field(default_factory=lambda: cache_dir() / "travel-cache.sqlite")
    requests: int = field(default=0, init=False)
    failed: int = field(default=0, init=False)
    fallback_pairs: int = field(default=0, init=False)
    last_error: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self._cache = DiskCache(self.cache_path)
        self._last_request = 0.0
        self._client: httpx.Client | None = None
        self._warned: set[str] = set()

    # -- the protocol ------------------------------------------------------------------------

    @property
    def spec(self) -> str:
        return self.source

    @property
    def speed_classes(self) -> tuple[str, ...]:
        return tuple(self.fallback.speed_classes)

    def reach_m(self, travel_s: float, speed_class: str = "car") -> float:
        """The fallback's bound, doubled: a real road network can be faster than the offline model
        (an expressway where it assumes none); a bound too loose only costs pruning."""
        return 2.0 * self.fallback.reach_m(travel_s, speed_class)

    def matrices(self, lon, lat, speed_classes=None, depart_s=None):  # type: ignore[no-untyped-def]
        return matrices_by_legs(self, lon, lat, speed_classes, depart_s)

    def legs(self, lon_a, lat_a, lon_b, lat_b, speed_class: str = "car",  # type: ignore[no-untyped-def]
             depart_s: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if speed_class not in self.speed_classes:
            raise ValueError(f"unknown speed class {speed_class!r}; expected one of {sorted(self.speed_classes)}")
        arrays = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (lon_a, lat_a, lon_b, lat_b)))
        shape = arrays[0].shape
        q = 10 ** self.decimals
        ax, ay, bx, by = (np.rint(a.reshape(-1) * q).astype(np.int64) for a in arrays)
        t = np.zeros(ax.shape, np.int64)
        d = np.zeros(ax.shape, np.int64)
        moving = (ax != bx) | (ay != by)
        if speed_class not in self.backend.classes():
            self._fall_back(np.flatnonzero(moving), arrays, t, d, speed_class, depart_s,
                            f"{self.backend.name} has no {speed_class!r} mode")
            return t.reshape(shape), d.reshape(shape)
        hour = _hour(depart_s)
        table = self._cache.table(self.backend.name, speed_class, hour)
        keys = list(zip(ax.tolist(), ay.tolist(), bx.tolist(), by.tolist()))
        missing = [i for i in np.flatnonzero(moving).tolist() if keys[i] not in table]
        if missing:
            failed = self._ask(missing, keys, ax, ay, bx, by, speed_class, depart_s, table, hour)
            if failed:
                self._fall_back(np.array(sorted(failed)), arrays, t, d, speed_class, depart_s, self.last_error)
        for i in np.flatnonzero(moving).tolist():
            if keys[i] in table:
                t[i], d[i] = table[keys[i]]
        return t.reshape(shape), d.reshape(shape)

    def record(self) -> dict[str, object]:
        if not self.fallback_pairs and not self.requests:
            return {}
        return {"travel_requests": self.requests, "travel_failed_requests": self.failed,
                "travel_fallbacks": self.fallback_pairs, "travel_fallback_model": self.fallback.spec,
                "travel_last_error": self.last_error}

    # -- asking --------------------------------------------------------------------------------

    def _ask(self, missing, keys, ax, ay, bx, by, speed_class, depart_s, table, hour) -> set[int]:  # type: ignore[no-untyped-def]
        """Ask blocks of unique sources x unique targets covering the missing pairs; the indices of
        the pairs whose block failed."""
        q = 10 ** self.decimals
        src_keys = sorted({(keys[i][0], keys[i][1]) for i in missing})
        dst_keys = sorted({(keys[i][2], keys[i][3]) for i in missing})
        need = {(keys[i][0], keys[i][1], keys[i][2], keys[i][3]) for i in missing}
        b = self.backend
        n_dst = min(len(dst_keys), b.max_targets, max(1, b.max_pairs))
        n_src = min(len(src_keys), b.max_sources, max(1, b.max_pairs // n_dst))
        failed_blocks: list[tuple[set, set]] = []
        for s0 in range(0, len(src_keys), n_src):
            srcs = src_keys[s0: s0 + n_src]
            for d0 in range(0, len(dst_keys), n_dst):
                dsts = dst_keys[d0: d0 + n_dst]
                if not any((s[0], s[1], t[0], t[1]) in need for s in srcs for t in dsts):
                    continue
                src = np.array(srcs, dtype=float) / q
                dst = np.array(dsts, dtype=float) / q
                try:
                    tt, dd = self._request(src, dst, speed_class, depart_s)
                except ProviderError as err:
                    self.failed += 1
                    self.last_error = str(err)
                    failed_blocks.append((set(srcs), set(dsts)))
                    continue
                entries = {}
                for i, s in enumerate(srcs):
                    for j, t in enumerate(dsts):
                        if s == t:
                            continue
                        ok = np.isfinite(tt[i, j])
                        entries[(s[0], s[1], t[0], t[1])] = (
                            int(np.ceil(tt[i, j])) if ok else UNREACHABLE_S,
                            int(np.rint(dd[i, j])) if ok and np.isfinite(dd[i, j]) else 0)
                self._cache.add(b.name, speed_class, hour, entries)
        failed: set[int] = set()
        for srcs, dsts in failed_blocks:
            failed.update(i for i in missing if (keys[i][0], keys[i][1]) in srcs and (keys[i][2], keys[i][3]) in dsts)
        return failed

    def _request(self, src: np.ndarray, dst: np.ndarray, speed_class: str, depart_s: int | None):  # type: ignore[no-untyped-def]
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        for attempt in range(self.retries + 1):
            wait = self._last_request + 1.0 / self.qps - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # the provider's rate limit: at most qps requests a second
            self._last_request = time.monotonic()
            self.requests += 1
            try:
                return self.backend.fetch(self._client, src, dst, speed_class, depart_s)
            except httpx.TimeoutException:
                err = ProviderError(f"{self.backend.name}: no answer within {self.timeout_s:g} s", retry=True)
            except httpx.HTTPError as exc:
                err = ProviderError(f"{self.backend.name}: {type(exc).__name__}: {exc}", retry=True)
            except ProviderError as exc:
                err = exc
            if not err.retry or attempt == self.retries:
                raise err
            self.last_error = str(err)
            time.sleep(self.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _fall_back(self, idx: np.ndarray, arrays, t, d, speed_class, depart_s, why: str) -> None:  # type: ignore[no-untyped-def]
        if not len(idx):
            return
        lon_a, lat_a, lon_b, lat_b = (a.reshape(-1)[idx] for a in arrays)
        fb_class = speed_class if speed_class in self.fallback.speed_classes else self.fallback.speed_classes[0]
        t[idx], d[idx] = self.fallback.legs(lon_a, lat_a, lon_b, lat_b, fb_class, depart_s)
        self.fallback_pairs += len(idx)
        self.last_error = why
        message = f"travel {self.spec}: {len(idx)} leg(s) from {self.fallback.spec} instead ({why})"
        log.warning(message)
        if why not in self._warned:  # said once per cause; the run's record counts every leg
            self._warned.add(why)
            warnings.warn(message + "; further such legs are counted in the run's record", stacklevel=3)
