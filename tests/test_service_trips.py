"""The live service records each drive the technicians' reports time (set off, arrived) in the
store, on SQLite and PostgreSQL, and `dispatch travel calibrate --store` fits the road model to them."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
from fastapi.testclient import TestClient

from dispatch.cli import main
from dispatch.service import LiveService, ServiceConfig, create_app, parse_tokens
from dispatch.service.clock import CST
from dispatch.store import Store
from dispatch.travel import travel_from_spec

TOKEN = "d-" + "t" * 30
H = {"Authorization": f"Bearer {TOKEN}"}
DAY = "2026-03-02"  # the tiny preset's epoch date


class Clock:
    now = 10 * 3600

    def now_s(self) -> int:
        return self.now


def _post(c: TestClient, clock: Clock, path: str, body: dict):  # type: ignore[no-untyped-def]
    clock.now = int((dt.datetime.fromisoformat(body["at"]) - dt.datetime.fromisoformat(DAY).replace(tzinfo=CST))
                    .total_seconds()) if "+" in body["at"] else clock.now
    r = c.post(path, json=body, headers=H)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_arrival_after_a_set_off_report_stores_the_drive(store_url):
    """Dispatched at 10:05, on site 23 min later: one trip from the technician's centre to the
    customer, departing 10:05+08:00, 1,380 s. A job reported on site without a set-off stores none."""
    clock = Clock()
    config = ServiceConfig(preset="tiny", db=store_url, tokens=parse_tokens(f"{TOKEN}:dispatcher"))
    svc = LiveService(config, clock=clock)
    try:
        c = TestClient(create_app(config, svc))
        at = f"{DAY}T10:00:00+08:00"
        d = _post(c, clock, "/calls", {"id": "t-1", "lon": 120.1, "lat": 30.9, "level": 1, "mode": "onsite", "at": at})
        depart = dt.datetime.fromisoformat(d["departure"])
        _post(c, clock, "/jobs/t-1/status", {"status": "dispatched", "at": depart.isoformat()})
        arrive = depart + dt.timedelta(seconds=1380)
        _post(c, clock, "/jobs/t-1/status", {"status": "on_site", "at": arrive.isoformat()})
        e = _post(c, clock, "/calls", {"id": "t-2", "lon": 120.12, "lat": 30.88, "level": 1, "mode": "onsite",
                                       "at": arrive.isoformat()})
        _post(c, clock, "/jobs/t-2/status", {"status": "on_site", "at": e["arrival"]})  # no set-off reported
        trips = Store(store_url).trips()
        assert len(trips) == 1, trips
        row = trips.iloc[0]
        tech = next(t for t in svc.dataset.technicians if t.id == d["technician_id"])
        home = svc.dataset.network[tech.home_centre_id]
        assert (row["job_id"], row["technician_id"], row["speed_class"]) == ("t-1", tech.id, tech.speed_class)
        assert np.allclose([row["from_lon"], row["from_lat"], row["to_lon"], row["to_lat"]],
                           [home.lon, home.lat, 120.1, 30.9])
        assert dt.datetime.fromisoformat(row["depart_at"]) == depart and row["depart_at"].endswith("+08:00")
        assert int(row["duration_s"]) == 1380
    finally:
        svc.close()


def test_calibrate_fits_the_stores_trips(tmp_path, capsys):
    """40 drives timed by a road model with a 10-minute overhead, stored as the service stores
    them: `travel calibrate --store` reads them all and lowers the error; an empty store is told."""
    url = f"sqlite:///{tmp_path / 'trips.sqlite'}"
    truth = travel_from_spec("road:overhead_s=600")
    rng = np.random.default_rng(4)
    lon_a, lat_a = 120.1 + rng.uniform(-0.3, 0.3, 40), 30.3 + rng.uniform(-0.3, 0.3, 40)
    lon_b, lat_b = lon_a + rng.uniform(-0.2, 0.2, 40), lat_a + rng.uniform(-0.2, 0.2, 40)
    secs = truth.legs(lon_a, lat_a, lon_b, lat_b, "car", 11 * 3600)[0]
    trips = [{"job_id": f"j{i}", "technician_id": "T1", "speed_class": "car", "from_lon": lon_a[i],
              "from_lat": lat_a[i], "to_lon": lon_b[i], "to_lat": lat_b[i], "depart_at": f"{DAY}T11:00:00+08:00",
              "duration_s": int(secs[i])} for i in range(40)]
    store = Store(url)
    store.append_service_entry("scope-a", "status", "j", 0, {}, {}, trips=trips)
    store.close()
    assert main(["travel", "calibrate", "--store", url, "--out", str(tmp_path / "p.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("40 trips;")
    before, after = (float(x) for x in out.split("(MdAPE): ")[1].split("\n")[0].replace("%", "").split(" -> "))
    assert after < before
    written = json.loads((tmp_path / "p.json").read_text())
    assert "travel_trips" in written["fit"]["trips_file"] and abs(written["overhead_s"] - 600) <= 30
    assert main(["travel", "calibrate", "--store", url, "--scope", "nobody"]) != 0
    assert "no trips recorded" in capsys.readouterr().err
    assert main(["travel", "calibrate", "--store", url, str(tmp_path / "p.json")]) != 0
    assert "not both" in capsys.readouterr().err
