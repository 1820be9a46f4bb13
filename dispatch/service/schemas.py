"""The service's request and response bodies (pydantic): what the OpenAPI document shows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Header
from fastapi import Path as PathParam
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

from dispatch.ids import ID_MAX_LEN, ID_PATTERN, ID_RULE, id_message
from dispatch.mainland import mainland_problem
from dispatch.service.clock import CLOCK_RULE_TEXT

__all__ = ["ID_PATTERN"]  # re-exported: the rule lives in dispatch.ids


def _valid_id(value: str) -> str:
    """The one id rule (``dispatch.ids``), with the same sentence as the file validator's."""
    message = id_message(value)
    if message is not None:
        raise PydanticCustomError("invalid_id", "{message}", {"message": message})
    return value


# The rule is checked by ``_valid_id`` (so every refusal has its sentence); the pattern and length
# are shown in the OpenAPI document for clients.
_ID_SCHEMA: JsonDict = {"pattern": ID_PATTERN, "maxLength": ID_MAX_LEN}


Level = Annotated[int, Field(ge=1, le=3, description="repair level: 1 simple, 2 module, 3 board-level")]


When = Annotated[dt.datetime | None, Field(None, description=(
    "when it happened, ISO 8601 (no offset means +08:00, China Standard Time); default now. "
    + CLOCK_RULE_TEXT))]
Warnings = Annotated[list[str], Field(default_factory=list, description="why a time sent was not taken as sent")]


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, AfterValidator(_valid_id)] | None = Field(
        None, description=f"call id, also the idempotency key; {ID_RULE}", json_schema_extra=_ID_SCHEMA)
    lon: float | None = Field(None, ge=73.0, le=135.5, allow_inf_nan=False, description="WGS84")
    lat: float | None = Field(None, ge=3.5, le=53.6, allow_inf_nan=False,
                              description="WGS84; the point must lie in mainland China or its islands "
                                          "(the provinces' boundary, about 3 km of tolerance)")
    county: str | None = Field(None, pattern=r"^[1-9]\d{5}$", description="county adcode, instead of lon/lat")
    level: Level = 1
    mode: Literal["onsite", "pickup", "walkin", "mailin"] = "onsite"
    priority: int = Field(1, ge=1, le=3, description="1 normal, 2 high (enterprise), 3 urgent (VIP)")
    window_start: When = None
    window_end: When = None
    service_min: int | None = Field(None, ge=0, le=600, description="default by mode and level")
    product_line: str | None = Field(None, max_length=40, pattern=r"^[A-Za-z0-9_\-]*$")
    # The device (a dataset with parts: dispatch.parts): its model, purchase and reported damage.
    device_model: Annotated[str, AfterValidator(_valid_id)] | None = None
    purchase_date: When = None
    damage: Literal["water", "drop"] | None = None
    at: When = None
    booked: bool = Field(False, description="the window is a slot the customer chose (POST /calls/slots): a hard "
                         "promise, planned on its day (within the slot horizon); refused with 409 if it can no "
                         "longer be kept")
    customer_id: Annotated[str, AfterValidator(_valid_id)] | None = Field(
        None, description="who is told when a booked arrival moves (GET /notices); default the call id",
        json_schema_extra=_ID_SCHEMA)

    @field_validator("lat")
    @classmethod
    def _on_the_mainland(cls, lat: float | None, info: ValidationInfo) -> float | None:
        """A point inside the bounding box but outside the mainland's boundary (Hanoi, Seoul) is
        refused with the file validator's sentence (``dispatch.mainland.mainland_problem``)."""
        lon = info.data.get("lon")
        if lat is None or lon is None:
            return lat
        message = mainland_problem(lon, lat)
        if message is not None:
            raise PydanticCustomError("outside_mainland", "{message}", {"message": message})
        return lat


class Option(BaseModel):
    area: str
    centre_id: str
    centre_name: str
    technician_id: str
    departure: str
    departure_s: int
    arrival: str
    arrival_s: int
    meets_deadline: bool
    late_s: int


class OfferRef(BaseModel):
    offer_id: str = Field(description="the call id: answer it with POST /offers/{offer_id}/accept or /refuse")
    station_id: str = Field(description="the contracted station (特约维修站) offered the job")
    technician_id: str
    expires: str = Field(description="the station's answer is due by then; later, the offer lapses")
    expires_s: int


class Decision(BaseModel):
    call_id: str
    status: Literal["planned", "unassigned", "walkin", "mailin", "offered"] = Field(description=(
        "mailin: the customer ships the device by courier (寄修), no technician travels; offered: a contracted station's technician has it until the station accepts (then planned) or "
        "refuses or lets it lapse (then it is re-offered, the one-hour deadline unchanged)"))
    offer: OfferRef | None = None
    mode: str
    visit_mode: str | None = Field(None, description="how the technician serves it: an onsite call nobody able "
                                   "to repair on site can set off for within the hour is collected (pickup)")
    note: str = ""
    part: dict[str, str | int | bool] | None = Field(None, description="a call naming its device model, with "
                                                     "parts on: its part, where it is or its ETA (waiting_for_part), "
                                                     "and the 三包 rule at intake")
    at: str
    at_s: int
    warnings: Warnings
    station_id: str
    station_name: str
    clock_start: str
    clock_start_s: int
    dispatch_deadline: str | None = None
    dispatch_deadline_s: int | None = None
    area: str | None = None
    centre_id: str | None = None
    centre_name: str | None = None
    technician_id: str | None = None
    departure: str | None = None
    departure_s: int | None = None
    arrival: str | None = None
    arrival_s: int | None = None
    meets_deadline: bool | None = None
    late_s: int | None = None
    reason_code: str = ""
    reason: str = ""
    alternatives: list[Option] = []
    replayed: bool = False
    booked: bool = False
    day: int | None = Field(None, description="a booking: the day index of its window")
    window_start: str | None = None
    window_end: str | None = None


class Slot(Option):
    rank: int
    day: int
    window_start: str
    window_start_s: int
    window_end: str
    window_end_s: int
    turnaround_s: int = Field(description="from the call to the end of the work at the door, if booked")


class SlotsOut(BaseModel):
    at: str
    at_s: int
    warnings: Warnings
    days: int = Field(description="the horizon searched, today included")
    window_s: int = Field(description="the windows' length for this call's priority")
    slots: list[Slot] = Field(description="best first: the one-hour promise kept, then the earliest start "
                              "weighed against the driving the visit adds")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["dispatched", "on_site", "done", "overrun", "cancelled"] = Field(description=(
        "reports move a job forward only: planned -> dispatched -> on_site -> done (a step may be skipped), "
        "overrun while on site, cancelled before the work starts; any other report is 409 with the job's state"))
    at: When = None
    expected_end: When = Field(None, description=(
        "overrun only: when the technician expects to finish (after 'at'); the plan re-times his next jobs "
        "from it (without it: he is taken to finish just after 'at', and may report again)"))


class StatusOut(BaseModel):
    job_id: str
    status: str
    at: str
    at_s: int
    warnings: Warnings
    area: str
    technician_id: str
    state: str
    arrival: str | None = Field(None, description="none once cancelled before the technician set off")
    end: str | None = None
    end_s: int | None = None
    frozen: bool


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: When = None


class OfferOut(BaseModel):
    offer_id: str
    status: Literal["planned", "offered", "unassigned"] = Field(description=(
        "accepted: planned; refused (or lapsed): who has the call now, a second offer, own staff "
        "(planned) or nobody (unassigned, with the reason)"))
    at: str
    at_s: int
    area: str | None = None
    technician_id: str | None = None
    station_id: str | None = None
    previous_station_id: str | None = None
    previous: str | None = Field(None, description="refused or lapsed")
    offer: OfferRef | None = None
    departure: str | None = None
    arrival: str | None = None
    meets_deadline: bool | None = None
    reason_code: str = ""
    reason: str = ""


class UnavailableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: When = None


class Moved(BaseModel):
    job_id: str
    technician_id: str


class Lost(BaseModel):
    job_id: str
    reason_code: str
    reason: str


class UnavailableOut(BaseModel):
    technician_id: str
    at: str
    at_s: int
    warnings: Warnings
    area: str
    moved: list[Moved]
    unserved: list[Lost]


class PlanStop(BaseModel):
    job_id: str
    state: str
    departure: str
    arrival: str
    start: str
    end: str
    late_s: int
    # The same times in seconds since the epoch, and what a map and a timeline draw of the job.
    departure_s: int | None = None
    arrival_s: int | None = None
    start_s: int | None = None
    end_s: int | None = None
    travel_s: int | None = None
    distance_m: int | None = None
    lon: float | None = None
    lat: float | None = None
    level: int | None = None
    priority: int | None = None
    window_start_s: int | None = None
    window_end_s: int | None = None


class PlanRoute(BaseModel):
    technician_id: str
    start: str
    end: str
    travel_s: int
    distance_m: int
    unavailable: bool
    start_s: int | None = None
    end_s: int | None = None
    break_start_s: int | None = None
    overtime_s: int | None = None
    stops: list[PlanStop]


class PlanOut(BaseModel):
    area: str
    clock: str
    clock_s: int
    routes: list[PlanRoute]
    unassigned: list[Lost]


class KpisOut(BaseModel):
    day: int
    calls: int
    kpis: dict[str, float | None]


class Notice(BaseModel):
    notice_id: str = Field(description="the receiver drops a notice whose id it has seen (delivery is at least once)")
    customer_id: str
    job_id: str
    old_eta: str | None
    new_eta: str | None = Field(description="none: nobody is planned to come any more")
    old_eta_s: int | None
    new_eta_s: int | None
    reason: Literal["eta_moved", "window_missed", "unassigned"]
    detail: str
    at: str
    attempts: int
    delivered: bool
    delivered_at: str | None
    last_error: str | None


class NoticesOut(BaseModel):
    notices: list[Notice]


class Health(BaseModel):
    status: Literal["ok", "starting"]


Idem = Annotated[Annotated[str, AfterValidator(_valid_id)] | None,
                 Header(alias="Idempotency-Key", description=ID_RULE, json_schema_extra=_ID_SCHEMA)]


# Path parameters: a job's id (a call id) and a technician's id follow the same rule.
JobId = Annotated[str, PathParam(description=ID_RULE, json_schema_extra=_ID_SCHEMA), AfterValidator(_valid_id)]
TechnicianId = JobId



# ---- a day plan as the served day's base, pins and their undo, the log (dispatch.service.dayplan)

Seconds = Annotated[int, Field(ge=0, le=10**9, description="seconds since the dataset's epoch (00:00 China time)")]


class PlanCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, AfterValidator(_valid_id)] = Field(json_schema_extra=_ID_SCHEMA)
    lon: float = Field(ge=73.0, le=135.5, allow_inf_nan=False, description="WGS84")
    lat: float = Field(ge=3.5, le=53.6, allow_inf_nan=False, description="WGS84")
    service_s: int = Field(ge=0, le=86_400)
    window_start_s: Seconds
    window_end_s: Seconds
    required_level: Level = 1
    required_skill: str | None = Field(None, max_length=40, pattern=r"^[A-Za-z0-9_\-]*$")
    priority: int = Field(1, ge=1, le=3)
    release_s: Seconds = 0
    dispatch_deadline_s: Seconds | None = None
    mode: Literal["onsite", "pickup", "walkin"] = Field("onsite", description="how the call came")
    visit_mode: Literal["onsite", "pickup"] = Field("onsite", description="how the technician serves it")
    centre_id: Annotated[str, AfterValidator(_valid_id)] = Field(description="the centre whose clock it runs on")
    created_s: Seconds = 0
    clock_start_s: Seconds = 0

    @field_validator("window_end_s")
    @classmethod
    def _window(cls, end: int, info: ValidationInfo) -> int:
        start = info.data.get("window_start_s")
        if start is not None and end < start:
            raise PydanticCustomError("window", "the window ends before it starts", {})
        return end


class DayPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=200, description="names the plan (who made it, from what)")
    routes: dict[Annotated[str, AfterValidator(_valid_id)], list[PlanCall]] = Field(description=(
        "technician id -> his calls in the plan's order; a technician given no calls is listed with none"))
    unassigned: list[PlanCall] = Field(default_factory=list, description="calls the plan could not route")


class DayPlanOut(BaseModel):
    key: str
    areas: list[str] = Field(description="the areas whose day now starts from this plan")
    kept_live: list[str] = Field(description="areas of the plan left on the plan they hold: they have changes")
    calls: int
    routed: int
    unassigned: int
    not_kept: list[str] = Field(description="routed calls the live day could not keep where the plan had them")


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    technician_id: Annotated[str, AfterValidator(_valid_id)] = Field(json_schema_extra=_ID_SCHEMA)
    at: When = None


class PinOut(BaseModel):
    job_id: str
    technician_id: str
    from_technician: str | None
    area: str
    at: str
    at_s: int
    warnings: Warnings
    sequence: int
    departure: str
    departure_s: int
    arrival: str
    arrival_s: int
    start_s: int
    meets_deadline: bool


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    technician_id: Annotated[str, AfterValidator(_valid_id)] = Field(json_schema_extra=_ID_SCHEMA)
    start: dt.datetime | None = Field(None, description=(
        "the earliest time the work may start at the customer, ISO 8601 (no offset means +08:00, China Standard "
        "Time), on the served day; default: as early as the customer's window and the technician's day allow"))
    at: When = None


class MoveOut(PinOut):
    not_before: str | None
    not_before_s: int | None


class UndoOut(BaseModel):
    seq: int
    kind: str
    key: str
    area: str


class LogEntry(BaseModel):
    seq: int
    kind: str
    key: str
    at: str
    at_s: int
    area: str | None
    technician_id: str | None
    undone: bool
    call: dict[str, str | int | float | None] | None = Field(None, description="a call: what it is and where")


class EventsOut(BaseModel):
    day: int
    head: int = Field(description="the last entry's seq: the plan changed when it grows")
    areas: dict[str, list[str]] = Field(description="routing area -> its technicians at work")
    plans: list[str] = Field(description="the keys of the day plans posted, in order")
    events: list[LogEntry]
