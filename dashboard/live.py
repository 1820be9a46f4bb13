"""Real time on the board: what the service answered to an urgent call, a slot request, a
drop-out, and the contracted stations' offers, as the board's messages and tables (the live plan
they change is the service's, ``dashboard.console``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard import i18n
from dashboard.formatting import clock, frame_columns
from dispatch.dataset import Dataset
from dispatch.model import Centre
from dispatch.plan import Plan
from dispatch.rules import DEFAULT_RULES

# The repair levels an urgent call can ask for: what may be done at the customer's.
URGENT_LEVELS = tuple(range(1, DEFAULT_RULES.onsite_max_level + 1))
OPTION_COLUMNS = {"rank": "col.rank", "technician_id": "col.technician", "centre": "col.centre",
                  "sets_off": "col.sets_off", "arrives": "col.arrives", "meets_deadline": "col.meets_deadline",
                  "late_min": "col.late_min"}


def realtime_ready(plan: Plan) -> bool:
    """Whether the plan carries its areas' routing problems and results (what the service's
    live day starts from): a plan read back from the store does not."""
    return bool(plan.area_problems)


def call_point(ds: Dataset, prefecture: str) -> Centre:
    """The centre the urgent-call form places its default point next to: the area's first."""
    return next(c for c in ds.network if c.prefecture_adcode == (prefecture or c.prefecture_adcode))


def _option_row(rank: int, o: dict[str, Any], epoch_date: str) -> dict[str, Any]:
    return {"rank": rank, "technician_id": o["technician_id"], "centre": o.get("centre_name", ""),
            "sets_off": clock(epoch_date, o["departure_s"]), "arrives": clock(epoch_date, o["arrival_s"]),
            "meets_deadline": bool(o["meets_deadline"]), "late_min": round(int(o["late_s"]) / 60)}


def alternatives_frame(answer: dict[str, Any], epoch_date: str) -> pd.DataFrame:
    """The decision's technician first, then the alternatives the service names (earliest first)."""
    options = ([answer] if answer.get("technician_id") else []) + list(answer.get("alternatives", []))
    rows = [_option_row(i, o, epoch_date) for i, o in enumerate(options, start=1)]
    return frame_columns(pd.DataFrame(rows, columns=list(OPTION_COLUMNS)), OPTION_COLUMNS)


def slots_frame(answer: dict[str, Any], epoch_date: str) -> pd.DataFrame:
    """``POST /calls/slots``: each window the plan can keep, best first, with who would come."""
    cols = {"rank": "col.rank", "window": "col.window", "technician_id": "col.technician", "centre": "col.centre",
            "arrives": "col.arrives", "meets_deadline": "col.meets_deadline"}
    rows = [{"rank": s["rank"], "window": f"{clock(epoch_date, s['window_start_s'])}–{clock(epoch_date, s['window_end_s'])}",
             "technician_id": s["technician_id"], "centre": s.get("centre_name", ""),
             "arrives": clock(epoch_date, s["arrival_s"]), "meets_deadline": bool(s["meets_deadline"])}
            for s in answer.get("slots", [])]
    return frame_columns(pd.DataFrame(rows, columns=list(cols)), cols)


def insertion_message(answer: dict[str, Any], epoch_date: str) -> tuple[str, str]:
    """(kind, message) of the service's decision: who sets off when (on site, or collecting the
    device), where the part stands, or why nobody can take it."""
    part = answer.get("part") or {}
    where = i18n.t("live.part_eta", eta=clock(epoch_date, part.get("eta_s"))) if part.get("waiting_for_part") \
        else i18n.t("live.part_on_hand")
    note = i18n.t("live.part", part=part["part_id"], where=where) if part.get("part_id") else ""
    if answer.get("technician_id"):
        how = "" if answer.get("visit_mode", "onsite") == "onsite" else i18n.t("live.collect")
        late = "" if answer.get("meets_deadline") else i18n.t("live.after_deadline")
        offered = i18n.t("live.offered") if answer.get("status") == "offered" else ""
        return ("success", i18n.t("live.inserted", call=answer["call_id"], tech=answer["technician_id"],
                                  area=answer.get("area", ""), dep=clock(epoch_date, answer["departure_s"]), how=how,
                                  eta=clock(epoch_date, answer["arrival_s"]), late=late) + offered + note)
    return ("warning", i18n.t("live.not_inserted", why=i18n.reason(answer.get("reason_code", ""),
                                                                 answer.get("reason", ""))) + note)


def dropout_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """A drop-out's consequences (``POST /technicians/{id}/unavailable``): each job moved to
    whom, or why it cannot be saved today."""
    rows = [{"job": m["job_id"], "outcome": i18n.t("live.outcome.moved"), "to": m["technician_id"],
             "reason": i18n.t("live.moved_to", tech=m["technician_id"])} for m in answer["moved"]]
    rows += [{"job": u["job_id"], "outcome": i18n.t("live.outcome.unserved"), "to": "",
              "reason": i18n.reason(u["reason_code"], u["reason"])} for u in answer["unserved"]]
    frame = pd.DataFrame(rows, columns=["job", "outcome", "to", "reason"])
    return frame_columns(frame, {"job": "col.request_id", "outcome": "col.outcome", "to": "col.to",
                                 "reason": "col.reason"})


def dropout_message(technician: str, answer: dict[str, Any], epoch_date: str) -> tuple[str, str]:
    """(kind, message): how many jobs moved, how many are lost, from when."""
    text = i18n.t("live.dropout_done", tech=technician, clock=clock(epoch_date, answer["at_s"]),
                  moved=len(answer["moved"]), lost=len(answer["unserved"]))
    return ("warning" if answer["unserved"] else "success", text)


def offers_frame(offers: list[dict[str, Any]], epoch_date: str) -> pd.DataFrame:
    """``GET /offers``: the jobs offered to contracted stations, awaiting their answer."""
    cols = {"offer_id": "col.request_id", "station_id": "col.station", "technician_id": "col.technician",
            "expires": "col.expires"}
    rows = [{"offer_id": o.get("offer_id", ""), "station_id": o.get("station_id", ""),
             "technician_id": o.get("technician_id", ""),
             "expires": clock(epoch_date, o["expires_s"]) if o.get("expires_s") is not None else ""} for o in offers]
    return frame_columns(pd.DataFrame(rows, columns=list(cols)), cols)


NOTICE_COLUMNS = {"customer_id": "col.customer", "job_id": "col.request_id", "old_eta": "col.old_eta",
                  "new_eta": "col.new_eta", "reason": "col.reason", "at": "col.notice_at", "delivered": "col.delivered"}


def notices_frame(notices: list[dict[str, Any]], epoch_date: str) -> pd.DataFrame:
    """``GET /notices``: each customer to tell, the job, the arrival they were given and the new
    one (none: nobody is coming), why, when, and whether the webhook has it."""
    rows = [{"customer_id": n["customer_id"], "job_id": n["job_id"], "old_eta": clock(epoch_date, n["old_eta_s"]) or "-",
             "new_eta": clock(epoch_date, n["new_eta_s"]) or "-",
             "reason": i18n.t(f"notify.reason.{n['reason']}") + (f" ({n['detail']})" if n["reason"] == "unassigned"
                                                                 and n.get("detail") else ""),
             "at": n["at"][11:16] if n.get("at") else "", "delivered": bool(n["delivered"])} for n in notices]
    return frame_columns(pd.DataFrame(rows, columns=list(NOTICE_COLUMNS)), NOTICE_COLUMNS)
