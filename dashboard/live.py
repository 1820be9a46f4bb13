"""Real time on the board (``dispatch.live``): the urgent call a dispatcher types in, and how the
board shows a decision's candidates, an insertion and a drop-out (the live plan they change is
``dashboard.console``)."""

from __future__ import annotations

import pandas as pd

from dashboard import i18n
from dashboard.formatting import clock
from dispatch.dataset import Dataset
from dispatch.live import InsertionOption, NewCall, eta_table
from dispatch.live.decision import Decision, Dispatched
from dispatch.model import DAY_S, Centre, Mode
from dispatch.plan import Plan
from dispatch.rules import DEFAULT_RULES, Rules

# The repair levels an urgent call can ask for: what may be done at the customer's.
URGENT_LEVELS = tuple(range(1, DEFAULT_RULES.onsite_max_level + 1))


def realtime_ready(plan: Plan) -> bool:
    """Whether the plan carries its areas' routing problems and results (what a live area
    starts from): a plan read back from the store does not."""
    return bool(plan.area_problems)


def urgent_call(call_id: str, lon: float, lat: float, level: int, priority: int, service_min: int,
                clock_s: int, station: Centre, rules: Rules = DEFAULT_RULES) -> NewCall:
    """An urgent call made now at the customer's: the clock starts now and the promise falls due
    by the nearest centre's opening hours (``Rules.dispatch_deadline``); the customer is
    available until the end of the customers' hours (at least an hour)."""
    day = clock_s // DAY_S
    end = max(clock_s + 3600, day * DAY_S + rules.customer_hours_s[1])
    return NewCall(call_id, float(lon), float(lat), int(service_min) * 60, clock_s, end, int(level), None,
                   int(priority), clock_s, rules.dispatch_deadline(station, clock_s))


def ranked_by_eta(decision: Decision) -> list[InsertionOption]:
    """Every technician the decision weighed, earliest arrival first (the dispatcher's view)."""
    offers = sorted(decision.alternatives, key=lambda x: (x.option.late_s > 0, x.option.eta_s, x.option.technician_id))
    return [x.option for x in offers]


def eta_frame(options, epoch_date: str, now_s: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The urgent call's candidates (``LiveArea.urgent_options``, best first) as the board shows
    them: rank, technician, set-off and arrival clock, minutes from now, deadline kept or not."""
    cols = ["rank", "technician_id", "sets_off", "arrives", "eta_min", "meets_deadline", "late_min",
            "added_travel_min"]
    rows = []
    for i, (o, row) in enumerate(zip(options, eta_table(list(options), now_s)), start=1):
        rows.append({"rank": i, "technician_id": o.technician_id, "sets_off": clock(epoch_date, o.departure_s),
                     "arrives": clock(epoch_date, o.eta_s), "eta_min": row["eta_min"],
                     "meets_deadline": row["meets_deadline"], "late_min": row["late_min"],
                     "added_travel_min": row["added_travel_min"]})
    return pd.DataFrame(rows, columns=cols)


def dropout_frame(result) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A drop-out's consequences (``LiveArea.drop_out``): each job moved to whom, or why it
    cannot be saved today."""
    rows = [{"job": v, "outcome": i18n.t("live.outcome.moved"), "to": t, "reason": i18n.t("live.moved_to", tech=t)}
            for v, t in result.moved]
    rows += [{"job": u.visit_id, "outcome": i18n.t("live.outcome.unserved"), "to": "",
              "reason": i18n.reason(u.reason_code, u.reason)} for u in result.unserved]
    return pd.DataFrame(rows, columns=["job", "outcome", "to", "reason"])


# --------------------------------------------------------------------------------------------
# What the board's forms start from and say


def call_point(ds: Dataset, prefecture: str) -> Centre:
    """The centre the urgent-call form places its default point next to: the area's first."""
    return next(c for c in ds.network if c.prefecture_adcode == (prefecture or c.prefecture_adcode))


def insertion_message(decision: Decision, call_id: str, epoch_date: str) -> tuple[str, str]:
    """(kind, message) of the decision: who sets off when (on site, or collecting the device), or
    why nobody can take it."""
    if isinstance(decision, Dispatched):
        o = decision.option
        how = "" if decision.visit_mode == Mode.ONSITE else i18n.t("live.collect")
        return ("success", i18n.t("live.inserted", call=call_id, tech=o.technician_id, area=decision.area,
                                  dep=clock(epoch_date, o.departure_s), how=how, eta=clock(epoch_date, o.eta_s),
                                  late="" if decision.on_time else i18n.t("live.after_deadline")))
    return ("warning", i18n.t("live.not_inserted", why=i18n.reason(decision.reason.value, decision.sentence)))


def dropout_message(technician: str, result, epoch_date: str, now_s: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(kind, message) of ``LiveArea.drop_out``'s result: how many jobs moved, how many are lost."""
    text = i18n.t("live.dropout_done", tech=technician, clock=clock(epoch_date, now_s), moved=len(result.moved),
                  lost=len(result.unserved))
    return ("warning" if result.unserved else "success", text)
