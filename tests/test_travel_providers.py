"""Providers behind the travel interface, against a local HTTP server (loopback, started here) that
answers in each provider's documented format: batching within their limits, coordinate systems,
the disk cache, retries on rate limits, and fallbacks on timeouts and errors that are counted and said."""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from dispatch.cli.options import travel_line
from dispatch.geodata import gcj02_to_wgs84
from dispatch.travel import TravelSpecError, travel_from_spec, travel_record


def true_s(ax, ay, bx, by) -> float:
    """The fake road network's time: different from every offline model."""
    return 60.0 + 20_000.0 * (abs(ax - bx) + 2 * abs(ay - by))


def bd09_to_gcj02(x, y):
    x, y = x - 0.0065, y - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * math.pi * 3000 / 180)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * math.pi * 3000 / 180)
    return z * math.cos(theta), z * math.sin(theta)


class Fake:
    """What the server does next: ``mode`` normal | ratelimit-once | slow | badkey; what it was asked."""

    def __init__(self) -> None:
        self.mode = "normal"
        self.asked: list[dict] = []


FAKE = Fake()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, code: int, doc) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _gate(self, provider: str) -> bool:
        """Rate limits, slowness and bad keys in the provider's own form; True if answered already."""
        if FAKE.mode == "slow":
            time.sleep(1.0)
        if FAKE.mode == "ratelimit-once":
            FAKE.mode = "normal"
            if provider == "amap":
                self._send(200, {"status": "0", "info": "CUQPS_HAS_EXCEEDED_THE_LIMIT", "infocode": "10020"})
            elif provider == "baidu":
                self._send(200, {"status": 401, "message": "当前并发量已经超过约定并发配额"})
            else:
                self._send(429, {"code": "TooManyRequests"})
            return True
        if FAKE.mode == "badkey":
            if provider == "amap":
                self._send(200, {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"})
            elif provider == "baidu":
                self._send(200, {"status": 200, "message": "APP不存在，AK有误请检查再重试"})
            else:
                self._send(400, {"code": "InvalidQuery", "message": "Query string malformed"})
            return True
        return False

    def do_GET(self):
        url = urlsplit(self.path)  # not urlparse: OSRM's ';' is no path parameter
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/osrm/table/v1/"):
            profile, coords = url.path.split("/")[4:6]
            pts = [tuple(map(float, c.split(","))) for c in coords.split(";")]
            FAKE.asked.append({"provider": "osrm", "locations": len(pts), "profile": profile})
            if self._gate("osrm"):
                return
            if len(pts) > 10:
                return self._send(400, {"code": "TooBig", "message": "Too many table coordinates"})
            src = [pts[int(i)] for i in q["sources"].split(";")]
            dst = [pts[int(i)] for i in q["destinations"].split(";")]
            return self._send(200, {"code": "Ok",
                                    "durations": [[true_s(*a, *b) for b in dst] for a in src],
                                    "distances": [[2 * true_s(*a, *b) for b in dst] for a in src]})
        if url.path == "/amap/v3/distance":
            origins = [tuple(map(float, o.split(","))) for o in q["origins"].split("|")]
            dest = tuple(map(float, q["destination"].split(",")))
            FAKE.asked.append({"provider": "amap", "origins": len(origins), "key": q.get("key")})
            if self._gate("amap"):
                return
            wgs = [tuple(float(v) for v in gcj02_to_wgs84(*o)) for o in origins]
            d = tuple(float(v) for v in gcj02_to_wgs84(*dest))
            results = [{"origin_id": str(i + 1), "dest_id": "1", "distance": str(round(2 * true_s(*a, *d))),
                        "duration": str(round(true_s(*a, *d)))} for i, a in enumerate(wgs)]
            return self._send(200, {"status": "1", "info": "OK", "infocode": "10000", "count": str(len(results)),
                                    "results": results})
        if url.path.startswith("/baidu/"):
            def wgs(text):
                lat, lng = map(float, text.split(","))
                return tuple(float(v) for v in gcj02_to_wgs84(*bd09_to_gcj02(lng, lat)))
            src = [wgs(o) for o in q["origins"].split("|")]
            dst = [wgs(o) for o in q["destinations"].split("|")]
            FAKE.asked.append({"provider": "baidu", "pairs": len(src) * len(dst), "mode": url.path.split("/")[-1]})
            if self._gate("baidu"):
                return
            if len(src) * len(dst) > 50:
                return self._send(200, {"status": 2, "message": "参数错误"})
            cells = [{"distance": {"text": "", "value": round(2 * true_s(*a, *b))},
                      "duration": {"text": "", "value": round(true_s(*a, *b))}} for a in src for b in dst]
            return self._send(200, {"status": 0, "result": cells, "message": "成功"})
        self._send(404, {})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        src = [(p["lon"], p["lat"]) for p in body["sources"]]
        dst = [(p["lon"], p["lat"]) for p in body["targets"]]
        FAKE.asked.append({"provider": "valhalla", "pairs": len(src) * len(dst), "costing": body["costing"]})
        if self._gate("valhalla"):
            return
        rows = [[{"from_index": i, "to_index": j, "time": true_s(*a, *b), "distance": 2 * true_s(*a, *b) / 1000}
                 for j, b in enumerate(dst)] for i, a in enumerate(src)]
        self._send(200, {"sources_to_targets": rows, "units": "kilometers"})


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def fresh():
    FAKE.mode, FAKE.asked = "normal", []


@pytest.fixture
def points():
    rng = np.random.default_rng(5)
    # Rounded as the providers are asked (4 decimals), so the fake server's times are exact.
    return np.round(rng.uniform(120.0, 120.5, 14), 4), np.round(rng.uniform(30.0, 30.4, 14), 4)


def want(lon, lat, scale=1.0):
    """The server's times (scale 2: its distances), as the model rounds them, zero on the diagonal."""
    exact = scale * true_s(lon[:, None], lat[:, None], lon[None, :], lat[None, :]) * (1 - np.eye(len(lon)))
    return np.ceil(exact) if scale == 1.0 else np.rint(exact)


def test_osrm_batches_within_its_table_limit_and_caches_on_disk(server, points, tmp_path):
    """14 points with a 10-location limit: every request within it, the matrix exactly the
    server's, and a second model on the same cache file asks nothing."""
    spec = f"osrm:{server}/osrm,max_locations=10,qps=1000,cache={tmp_path / 'c.sqlite'}"
    model = travel_from_spec(spec)
    t, _ = model.matrices(*points, ("car",))
    assert (t[0] == want(*points)).all()
    assert max(a["locations"] for a in FAKE.asked) <= 10 and {a["profile"] for a in FAKE.asked} == {"driving"}
    asked = len(FAKE.asked)
    again = travel_from_spec(spec)
    assert (again.matrices(*points, ("car",))[0] == t).all() and len(FAKE.asked) == asked
    assert travel_record(model)["travel_fallbacks"] == 0


def test_valhalla_kilometres_become_metres_and_scooters_ride_motor_scooter(server, points, tmp_path):
    model = travel_from_spec(f"valhalla:{server}/valhalla,qps=1000,cache=off")
    t, d = model.legs(points[0][0], points[1][0], points[0], points[1], "scooter")
    assert (t == want(*points)[0]).all() and (d == want(*points, 2.0)[0]).all()
    assert {a["costing"] for a in FAKE.asked} == {"motor_scooter"}


def test_amap_is_asked_in_gcj02_one_destination_at_a_time(server, points, monkeypatch):
    """Amap's key from the environment, never in the spec; points converted to GCJ-02 (the server
    converts back); at most 100 origins and one destination a request."""
    with pytest.raises(TravelSpecError, match="DISPATCH_AMAP_KEY"):
        travel_from_spec(f"amap:url={server}/amap/v3/distance")
    monkeypatch.setenv("DISPATCH_AMAP_KEY", "k123")
    model = travel_from_spec(f"amap:url={server}/amap/v3/distance,qps=1000,cache=off")
    assert "k123" not in model.spec
    t, _ = model.matrices(*points, ("car",))
    assert (np.abs(t[0] - want(*points)) <= 1).all()
    assert all(a["key"] == "k123" and a["origins"] <= 100 for a in FAKE.asked) and len(FAKE.asked) == 14


def test_baidu_is_asked_in_bd09_within_fifty_routes(server, points, monkeypatch):
    monkeypatch.setenv("DISPATCH_BAIDU_AK", "ak1")
    model = travel_from_spec(f"baidu:url={server}/baidu,qps=1000,cache=off")
    t, _ = model.matrices(*points)
    assert (np.abs(t - want(*points)) <= 1).all()
    assert max(a["pairs"] for a in FAKE.asked) <= 50
    assert {a["mode"] for a in FAKE.asked} == {"driving", "riding"}


@pytest.mark.parametrize("kind", ["osrm", "amap", "baidu", "valhalla"])
def test_a_rate_limit_is_waited_out_and_retried(server, points, monkeypatch, kind):
    """The provider's own rate-limit answer (HTTP 429, Amap infocode 10020, Baidu status 401) is
    retried after a backoff: the answer is the provider's, nothing falls back."""
    monkeypatch.setenv("DISPATCH_AMAP_KEY", "k")
    monkeypatch.setenv("DISPATCH_BAIDU_AK", "k")
    url = {"osrm": "/osrm", "amap": "/amap/v3/distance", "baidu": "/baidu", "valhalla": "/valhalla"}[kind]
    model = travel_from_spec(f"{kind}:url={server}{url},qps=1000,backoff_s=0.01,cache=off")
    FAKE.mode = "ratelimit-once"
    t, _ = model.legs(points[0][0], points[1][0], points[0][1:3], points[1][1:3])
    assert (np.abs(t - want(*points)[0, 1:3]) <= 1).all()
    rec = travel_record(model)
    assert rec["travel_fallbacks"] == 0 and rec["travel_failed_requests"] == 0
    assert rec["travel_requests"] == len(FAKE.asked) == {"amap": 3}.get(kind, 2)  # Amap: a request per destination


def test_a_timeout_falls_back_to_the_default_with_a_warning_and_a_count(server, points):
    model = travel_from_spec(f"osrm:{server}/osrm,timeout_s=0.2,retries=1,backoff_s=0.01,qps=1000,cache=off")
    FAKE.mode = "slow"
    with pytest.warns(UserWarning, match="2 leg.*no answer within 0.2 s"):
        t, _ = model.legs(points[0][0], points[1][0], points[0][1:3], points[1][1:3])
    fallback = travel_from_spec()
    assert (t == fallback.legs(points[0][0], points[1][0], points[0][1:3], points[1][1:3])[0]).all()
    rec = travel_record(model)
    assert rec["travel_fallbacks"] == 2 and rec["travel_failed_requests"] == 1 and rec["travel_requests"] == 2
    assert "warning: 2 of 2 provider requests failed" not in travel_line(model)  # pairs, not requests
    assert "2 leg(s) fell back" in travel_line(model)


def test_a_bad_key_is_not_retried_and_falls_back(server, points, monkeypatch):
    monkeypatch.setenv("DISPATCH_AMAP_KEY", "wrong")
    model = travel_from_spec(f"amap:url={server}/amap/v3/distance,qps=1000,backoff_s=0.01,cache=off")
    FAKE.mode = "badkey"
    with pytest.warns(UserWarning, match="INVALID_USER_KEY"):
        model.legs(points[0][0], points[1][0], points[0][1], points[1][1])
    assert len(FAKE.asked) == 1 and travel_record(model)["travel_fallbacks"] == 1
    # A class the provider has no mode for is answered by the fallback, and said.
    with pytest.warns(UserWarning, match="no 'scooter' mode"):
        model.legs(points[0][0], points[1][0], points[0][1], points[1][1], "scooter")
