"""Real time on the board (``dispatch.live``): an urgent call ranked and inserted, a technician's
drop-out re-planned, on a live area of the day's plan."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.formatting import clock
from dispatch.dataset import Dataset
from dispatch.live import InsertionOption, LiveArea, NewCall, eta_table
from dispatch.live.decision import Decision, Dispatched, decide
from dispatch.live.roster import LiveNetwork
from dispatch.model import DAY_S, Centre, Mode
from dispatch.plan import Plan
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.travel import DEFAULT_TRAVEL

# The repair levels an urgent call can ask for: what may be done at the customer's.
URGENT_LEVELS = tuple(range(1, DEFAULT_RULES.onsite_max_level + 1))


def realtime_ready(plan: Plan) -> bool:
    """Whether the plan carries its areas' routing problems and results (what a live area
    starts from): a plan read back from the store does not."""
    return bool(plan.area_problems)


def live_area(plan: Plan, ds: Dataset, area: str, clock_s: int):  # type: ignore[no-untyped-def]
    """A ``LiveArea`` of one routing area of the plan at ``clock_s`` (work begun is frozen)."""
    problem = plan.area_problems[area]  # type: ignore[attr-defined]
    result = plan.area_results[area]  # type: ignore[attr-defined]
    pos = {c.id: (c.lon, c.lat) for c in ds.network} | {r.id: (r.lon, r.lat) for r in ds.requests}
    lon = np.array([pos[n][0] for n in problem.node_names])
    lat = np.array([pos[n][1] for n in problem.node_names])
    release = {v.id: v.release_s for v in problem.visits}
    return LiveArea.from_result(problem, result, lon, lat, release, clock_s)


def urgent_call(call_id: str, lon: float, lat: float, level: int, priority: int, service_min: int,
                clock_s: int, station: Centre, rules: Rules = DEFAULT_RULES) -> NewCall:
    """An urgent call made now at the customer's: the clock starts now and the promise falls due
    by the nearest centre's opening hours (``Rules.dispatch_deadline``); the customer is
    available until the end of the customers' hours (at least an hour)."""
    day = clock_s // DAY_S
    end = max(clock_s + 3600, day * DAY_S + rules.customer_hours_s[1])
    return NewCall(call_id, float(lon), float(lat), int(service_min) * 60, clock_s, end, int(level), None,
                   int(priority), clock_s, rules.dispatch_deadline(station, clock_s))


def decide_urgent(plan: Plan, ds: Dataset, call_id: str, lon: float, lat: float, level: int, priority: int,
                  service_min: int, clock_s: int, rules: Rules = DEFAULT_RULES) -> Decision:
    """The one call decision (``dispatch.live.decision.decide``) for an urgent on-site call on the
    plan's live areas near the point at ``clock_s``: the same areas, ranking, collection rule and
    deadline as the day plan, the simulation and the service. The areas are built from the
    plan for this answer; the stored plan is unchanged."""
    network = LiveNetwork(ds.network, ds.technicians, rules, DEFAULT_TRAVEL)
    candidates = [a for a in network.find_areas(lon, lat) if a in plan.area_problems]
    lives = {a: live_area(plan, ds, a, clock_s) for a in candidates}
    idx, _ = ds.network.nearest(np.array([lon]), np.array([lat]))
    station = ds.network.centres[int(np.atleast_1d(idx)[0])]
    call = urgent_call(call_id, lon, lat, level, priority, service_min, clock_s, station, rules)
    return decide(call, lives, candidates, clock_s, rules, network.repairs_at_home, mode=Mode.ONSITE,
                  device_level=int(level), may_collect=rules.may_collect(Mode.ONSITE, int(level)), hold_unserved=True)


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
    rows = [{"job": v, "outcome": "moved", "to": t, "reason": f"re-planned onto {t}"} for v, t in result.moved]
    rows += [{"job": u.visit_id, "outcome": "unserved", "to": "", "reason": u.reason} for u in result.unserved]
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
        how = "" if decision.visit_mode == Mode.ONSITE else " to collect the device for the bench"
        return ("success", f"Inserted {call_id}: {o.technician_id} ({decision.area}) sets off "
                           f"{clock(epoch_date, o.departure_s)}{how}, arrives {clock(epoch_date, o.eta_s)}"
                           + ("" if decision.on_time else " (after the dispatch deadline)") + ".")
    return ("warning", f"Not inserted: {decision.sentence}")


def dropout_message(technician: str, result, epoch_date: str, now_s: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(kind, message) of ``LiveArea.drop_out``'s result: how many jobs moved, how many are lost."""
    text = (f"{technician} is out from {clock(epoch_date, now_s)}: "
            f"{len(result.moved)} job(s) moved, {len(result.unserved)} cannot be saved.")
    return ("warning" if result.unserved else "success", text)
