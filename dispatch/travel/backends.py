"""The providers' request and answer formats: OSRM's table service, Valhalla's matrix
(sources_to_targets), Amap's distance API (v3/distance) and Baidu's route matrix
(routematrix/v2). Each turns WGS84 points into its request (Amap wants GCJ-02, Baidu BD-09), reads
its documented answer into seconds and metres, and says an error as a ``ProviderError`` (retry or
not). Per-request limits are the providers' documented defaults:

* OSRM ``/table/v1/{profile}/{lon,lat;...}?sources=..&destinations=..&annotations=duration,distance``:
  ``{"code": "Ok", "durations": [[s]], "distances": [[m]]}``, null where no route; osrm-routed's
  ``--max-table-size`` defaults to 100 locations per request.
* Valhalla ``POST /sources_to_targets`` ``{"sources": [{"lat", "lon"}], "targets": [...], "costing"}``:
  ``{"sources_to_targets": [[{"time": s, "distance": km}]]}``, null where no route; the default
  service limits allow 2,500 location pairs.
* Amap ``GET /v3/distance?origins=lon,lat|...&destination=lon,lat&type=1&key=``: up to 100 origins
  and one destination; ``{"status": "1", "results": [{"origin_id", "dest_id", "distance", "duration"}]}``
  (strings), ``status "0"`` with ``info``/``infocode`` on error (10001 bad key, 10003/10004 daily or
  per-second quota, 10019-10021 concurrency: retried).
* Baidu ``GET /routematrix/v2/{driving|riding}?origins=lat,lng|...&destinations=...&ak=``: sources x
  targets <= 50; ``{"status": 0, "result": [{"distance": {"value": m}, "duration": {"value": s}}]}``
  row by row; status 401/402 (concurrency) retried, 2 (bad parameters), 200-240 (key) and 302
  (daily quota) not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx
import numpy as np

from dispatch.geodata import wgs84_to_gcj02
from dispatch.travel.provider import ProviderError

AMAP_KEY_ENV = "DISPATCH_AMAP_KEY"
BAIDU_AK_ENV = "DISPATCH_BAIDU_AK"


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Baidu's BD-09 from GCJ-02 (the published forward transform Baidu's own SDK applies)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * math.pi * 3000.0 / 180.0)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * math.pi * 3000.0 / 180.0)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _json(response: httpx.Response, name: str) -> object:
    if response.status_code == 429 or response.status_code >= 500:
        raise ProviderError(f"{name}: HTTP {response.status_code}", retry=True)
    try:
        return response.json()
    except ValueError:
        raise ProviderError(f"{name}: HTTP {response.status_code}, not JSON: {response.text[:120]!r}") from None


def _matrix(rows, name: str, shape: tuple[int, int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=float)
    if out.shape != shape:
        raise ProviderError(f"{name}: answered a {out.shape} matrix for {shape} points")
    return out


@dataclass
class Osrm:
    url: str
    profiles: dict[str, str]  # speed class -> OSRM profile
    max_locations: int = 100
    max_pairs: int = 10_000

    @property
    def name(self) -> str:
        return f"osrm:{self.url}"

    @property
    def max_sources(self) -> int:
        return self.max_locations // 2

    @property
    def max_targets(self) -> int:
        return self.max_locations // 2

    def classes(self) -> tuple[str, ...]:
        return tuple(self.profiles)

    def fetch(self, client, src, dst, speed_class, depart_s):  # type: ignore[no-untyped-def]
        pts = np.concatenate([src, dst])
        coords = ";".join(f"{x:.6f},{y:.6f}" for x, y in pts)
        params = {"sources": ";".join(str(i) for i in range(len(src))),
                  "destinations": ";".join(str(len(src) + j) for j in range(len(dst))),
                  "annotations": "duration,distance"}
        r = client.get(f"{self.url.rstrip('/')}/table/v1/{self.profiles[speed_class]}/{coords}", params=params)
        doc = _json(r, self.name)
        if not isinstance(doc, dict) or doc.get("code") != "Ok":
            code = doc.get("code") if isinstance(doc, dict) else None
            message = doc.get("message", "") if isinstance(doc, dict) else ""
            raise ProviderError(f"{self.name}: {code or 'HTTP ' + str(r.status_code)} {message}".strip())
        shape = (len(src), len(dst))
        return _matrix(doc.get("durations", []), self.name, shape), _matrix(doc.get("distances", []), self.name, shape)


@dataclass
class Valhalla:
    url: str
    costings: dict[str, str]  # speed class -> Valhalla costing
    max_pairs: int = 2500
    max_sources: int = 50
    max_targets: int = 50

    @property
    def name(self) -> str:
        return f"valhalla:{self.url}"

    def classes(self) -> tuple[str, ...]:
        return tuple(self.costings)

    def fetch(self, client, src, dst, speed_class, depart_s):  # type: ignore[no-untyped-def]
        body: dict[str, object] = {
            "sources": [{"lon": float(x), "lat": float(y)} for x, y in src],
            "targets": [{"lon": float(x), "lat": float(y)} for x, y in dst],
            "costing": self.costings[speed_class], "units": "kilometers"}
        r = client.post(f"{self.url.rstrip('/')}/sources_to_targets", json=body)
        doc = _json(r, self.name)
        if not isinstance(doc, dict) or "sources_to_targets" not in doc:
            err = doc.get("error", "") if isinstance(doc, dict) else ""
            code = doc.get("error_code", "") if isinstance(doc, dict) else ""
            raise ProviderError(f"{self.name}: HTTP {r.status_code} error {code} {err}".strip())
        rows = doc["sources_to_targets"]
        shape = (len(src), len(dst))
        t = _matrix([[None if c is None else c.get("time") for c in row] for row in rows], self.name, shape)
        d = _matrix([[None if c is None or c.get("distance") is None else 1000 * c["distance"] for c in row]
                     for row in rows], self.name, shape)
        return t, d


AMAP_RETRY = {"10003", "10004", "10014", "10015", "10019", "10020", "10021"}


@dataclass
class Amap:
    key: str
    url: str = "https://restapi.amap.com/v3/distance"
    max_sources: int = 100
    max_targets: int = 1
    max_pairs: int = 100

    @property
    def name(self) -> str:
        return f"amap:{self.url}"

    def classes(self) -> tuple[str, ...]:
        return ("car",)  # type=1 is driving; Amap's distance API has no two-wheeler mode

    def fetch(self, client, src, dst, speed_class, depart_s):  # type: ignore[no-untyped-def]
        glon, glat = wgs84_to_gcj02(src[:, 0], src[:, 1])
        dlon, dlat = wgs84_to_gcj02(dst[:, 0], dst[:, 1])
        params = {"origins": "|".join(f"{x:.6f},{y:.6f}" for x, y in zip(glon, glat)),
                  "destination": f"{float(dlon[0]):.6f},{float(dlat[0]):.6f}", "type": "1", "key": self.key,
                  "output": "json"}
        r = client.get(self.url, params=params)
        doc = _json(r, "amap")
        if not isinstance(doc, dict) or str(doc.get("status")) != "1":
            info = doc.get("info", "") if isinstance(doc, dict) else ""
            code = str(doc.get("infocode", "")) if isinstance(doc, dict) else ""
            raise ProviderError(f"amap: {info} (infocode {code})", retry=code in AMAP_RETRY)
        t = np.full((len(src), 1), np.nan)
        d = np.full((len(src), 1), np.nan)
        for row in doc.get("results", []):
            i = int(row["origin_id"]) - 1  # origins are numbered from 1 in the answer
            if 0 <= i < len(src) and row.get("duration") not in (None, ""):
                t[i, 0], d[i, 0] = float(row["duration"]), float(row["distance"])
        return t, d


BAIDU_RETRY = {401, 402}


@dataclass
class Baidu:
    ak: str
    url: str = "https://api.map.baidu.com/routematrix/v2"
    max_sources: int = 50
    max_targets: int = 50
    max_pairs: int = 50

    @property
    def name(self) -> str:
        return f"baidu:{self.url}"

    def classes(self) -> tuple[str, ...]:
        return ("car", "scooter")  # driving; riding with riding_type=1 (electric two-wheelers)

    def fetch(self, client, src, dst, speed_class, depart_s):  # type: ignore[no-untyped-def]
        def points(p: np.ndarray) -> str:
            lon, lat = gcj02_to_bd09(*wgs84_to_gcj02(p[:, 0], p[:, 1]))
            return "|".join(f"{y:.6f},{x:.6f}" for x, y in zip(lon, lat))  # Baidu wants lat,lng

        mode = "driving" if speed_class == "car" else "riding"
        params = {"origins": points(src), "destinations": points(dst), "ak": self.ak, "output": "json",
                  "coord_type": "bd09ll"}
        if mode == "riding":
            params["riding_type"] = "1"
        r = client.get(f"{self.url.rstrip('/')}/{mode}", params=params)
        doc = _json(r, "baidu")
        status = doc.get("status") if isinstance(doc, dict) else None
        if status != 0:
            message = doc.get("message", "") if isinstance(doc, dict) else ""
            raise ProviderError(f"baidu: status {status} {message}".strip(), retry=status in BAIDU_RETRY)
        cells = doc.get("result", [])
        if len(cells) != len(src) * len(dst):
            raise ProviderError(f"baidu: {len(cells)} results for {len(src)} x {len(dst)} pairs")
        t = np.array([np.nan if c.get("duration") is None else float(c["duration"]["value"]) for c in cells])
        d = np.array([np.nan if c.get("distance") is None else float(c["distance"]["value"]) for c in cells])
        return t.reshape(len(src), len(dst)), d.reshape(len(src), len(dst))
