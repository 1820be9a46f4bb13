"""A call's body as the live plan takes it: where, what, the customer's window, the station that
answers and when its one-hour clock starts (one reading for a call and for its slot offers)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dispatch.errors import ModelError
from dispatch.geodata import load_geography
from dispatch.hours import dispatch_clock_start
from dispatch.live.calls import NewCall
from dispatch.model import Centre, Mode, Priority, Request, TimeWindow
from dispatch.network import Network
from dispatch.rules import Rules
from dispatch.service.errors import ServiceError


@dataclass(frozen=True)
class Intake:
    request: Request
    station: Centre  # the nearest centre: its opening hours run the one-hour clock

    @property
    def clock_start_s(self) -> int:
        return dispatch_clock_start(self.station, self.request)

    def call(self, rules: Rules) -> NewCall:
        """The call as the live plan inserts it, in the customer's window."""
        return self.in_window(self.request.window.start_s, self.request.window.end_s, rules)

    def in_window(self, start_s: int, end_s: int, rules: Rules) -> NewCall:
        """The call in another window (a slot): its clock, and so its release and deadline,
        start with the window when the window is later than the call."""
        r = replace(self.request, window=TimeWindow(start_s, end_s))
        clock = dispatch_clock_start(self.station, r)
        return NewCall(r.id, r.lon, r.lat, r.service_s, start_s, end_s, r.level if r.mode == Mode.ONSITE else 1,
                       r.product_line or None, int(r.priority), release_s=clock,
                       dispatch_deadline_s=rules.dispatch_deadline(self.station, clock))


def location(body: dict[str, Any]) -> tuple[float, float, str]:
    """(lon, lat, county adcode or "") of a body that gives lon and lat, or a county."""
    lon, lat, county = body.get("lon"), body.get("lat"), body.get("county")
    if county is not None:
        if lon is not None or lat is not None:
            raise ServiceError(422, "give either lon and lat, or county, not both", "county")
        rows = load_geography().counties
        row = rows[rows["adcode"] == county]
        if row.empty:
            raise ServiceError(422, f"county {county!r} is not a county adcode of mainland China", "county")
        return float(row["seat_lon"].iloc[0]), float(row["seat_lat"].iloc[0]), county
    if lon is None or lat is None:
        missing = "lon" if lon is None else "lat"
        raise ServiceError(422, "a call needs lon and lat (WGS84), or a county adcode", missing)
    return float(lon), float(lat), ""


def read_intake(call_id: str, body: dict[str, Any], at: int, rules: Rules, net: Network, day: int,
                to_s: Callable[[dt.datetime], int], device_models: Collection[str] | None = None) -> Intake:
    """The call of ``body`` taken at ``at`` on the served ``day`` (422 naming the field);
    ``device_models``: the parts catalogue's models (None: the dataset has no parts)."""
    lon, lat, county = location(body)
    mode, level, priority = body.get("mode", "onsite"), int(body.get("level", 1)), int(body.get("priority", 1))
    if mode == "onsite" and level > rules.onsite_max_level:
        raise ServiceError(422, f"level {level} repairs (board-level) are never done on site (on site: levels "
                           f"up to {rules.onsite_max_level}); send it as pickup or walkin", "level")
    start = to_s(body["window_start"]) if body.get("window_start") else max(
        at, day * 86_400 + rules.customer_hours_s[0])
    end = (to_s(body["window_end"]) if body.get("window_end")
           else start + rules.window_s_by_priority[priority])
    if end < start:
        raise ServiceError(422, "the customer's window ends before it starts", "window_end")
    if mode not in ("walkin", "mailin") and end < at:
        raise ServiceError(422, "the customer's window ends before the call", "window_end")
    service_min = body.get("service_min")
    service_s = rules.default_service_s(mode, level) if service_min is None else 60 * int(service_min)
    model = body.get("device_model") or ""
    if model and (device_models is None or model not in device_models):
        raise ServiceError(422, f"device model {model!r} is not in the dataset's parts catalogue", "device_model")
    try:
        r = Request(call_id, at, lon, lat, level, Mode(mode), Priority(priority), TimeWindow(start, end),
                    service_s, body.get("product_line") or "", county, device_model=model,
                    purchase_s=to_s(body["purchase_date"]) if body.get("purchase_date") else None,
                    damage=body.get("damage") or "")
    except ModelError as exc:
        raise ServiceError(422, str(exc), {"window": "window_end", "service_s": "service_min",
                                           "created_s": "at"}.get(exc.field, exc.field)) from exc
    station = net.centres[int(np.atleast_1d(net.nearest(np.array([lon]), np.array([lat]))[0])[0])]
    return Intake(r, station)
