"""KPIs as pure functions of two frames, shared by plans, simulations and the old world.

Every KPI is defined once, in :data:`KPIS`: its key, the label tables show, the population it
counts and a one-line definition. The same entry computes it, labels the CLI's and the
dashboard's tables and writes the README's list (:func:`kpi_markdown`), so a definition cannot
drift from its figure. Populations count every call: a call dispatched late, never dispatched,
booked for the next morning or still open at the horizon stays in the denominator and counts as
missing every target it did not meet.

``outcomes``: one row per request, columns
    request_id, mode, level, province_adcode, centre_id (the centre answering for it),
    created_s, clock_start_s (the call; or when the customer can first be visited, if later;
    never outside the centre's hours: ``hours.dispatch_clock_start``),
    dispatch_s (technician set off toward the customer; NaN if none), completion_s (device back
    with the customer / on-site repair done; NaN if not by the horizon), repair_tier (tier of the
    bench that repaired it; NaN for on-site work), unassigned_reason ("" when served);
    optionally
    dispatch_wait_s (opening-hours seconds from clock_start_s to dispatch_s; when absent or NaN,
    the plain difference), arrival_s (technician at the customer's door), priority, visit_mode
    (how it is served: an on-site call may be collected for the bench, ``pickup``), reach_s
    (drive from the nearest centre with technicians), courier_legs (parcel legs the device rode)
    with courier_lane_legs and courier_lane_cny (those of them that rode a courier lane, and the
    lanes' prices: ``CostRates.courier_cny``),
    fixed_first_time (the first attempt fixed it; NaN when no attempt), repeat_of (the call this
    one repeats; "" or NaN for a first call).
``workload``: one row per technician (and day), columns
    technician_id, centre_id, province_adcode, available_s (net shift time, paid), busy_s (travel
    + service), travel_s, distance_m, overtime_s, jobs.

Two kinds of blank: a KPI over an empty population (no call, no travelling call, nothing
completed) is NaN (stored as null, shown "-"), never 0 % and never an error; a KPI whose input
the producer does not give (no ``arrival_s``, no ``courier_legs``, no workload) is left out of
the dict and shown "n/a". Exception, for a stable name: first_time_fix_rate and
repeat_visit_rate_30d are NaN without their columns. A percentile over calls some of which never
reached the event ranks those beyond every time: when it falls among them it is +inf ("never").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import methodcaller

import numpy as np
import pandas as pd

from dispatch.model import DAY_S, Priority, Tier
from dispatch.parts import measure as parts
from dispatch.rules import DEFAULT_COST_RATES, DEFAULT_RULES, CostRates

TRAVELLING = ("onsite", "pickup")
_TARGET_MIN = DEFAULT_RULES.dispatch_target_s // 60
REPEAT_WINDOW_DAYS = 30  # the repeat-visit KPI's window (issue 16: repeats within 30 days)
SIX_DAYS_H = 6 * 24  # Bird's "before" cycle: the share beyond it is the old world's tail
# The columns every KPI reads (see the module docstring for the optional ones).
REQUIRED_COLUMNS = ("request_id", "mode", "level", "province_adcode", "centre_id", "created_s", "clock_start_s",
                    "dispatch_s", "completion_s", "repair_tier", "unassigned_reason")


def _columned(outcomes: pd.DataFrame) -> pd.DataFrame:
    """``outcomes`` itself, or, when it has no rows, with the columns it lacks (a day with no
    calls may come as a frame without columns). A frame with rows is taken as it is."""
    if len(outcomes):
        return outcomes
    return outcomes.reindex(columns=[*outcomes.columns, *(c for c in REQUIRED_COLUMNS if c not in outcomes)])


def _pct(values: pd.Series, q: float) -> float:
    """Percentile (numpy's linear) of the values present; NaN without any."""
    v = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(v, q)) if len(v) else math.nan


def _pct_all(values: pd.Series, q: float) -> float:
    """Percentile over every row, a NaN (the event never happened) ranked beyond every time:
    numpy's linear percentile, +inf when it falls on or next to such a row; NaN without rows."""
    v = np.sort(values.to_numpy(dtype=float, na_value=np.inf))
    if not len(v):
        return math.nan
    h = (len(v) - 1) * q / 100
    lo, hi = math.floor(h), math.ceil(h)
    if lo == hi or v[hi] == v[lo]:
        return float(v[lo])
    if math.isinf(v[hi]):
        return math.inf
    return float(v[lo] + (h - lo) * (v[hi] - v[lo]))


def dispatch_wait_s(outcomes: pd.DataFrame) -> pd.Series:
    """Seconds from clock start to set-off, per row: opening-hours (business) seconds where the
    producer gives ``dispatch_wait_s`` (the promise pauses overnight), else the plain difference;
    NaN where nobody set off."""
    plain = outcomes["dispatch_s"] - outcomes["clock_start_s"]
    return outcomes["dispatch_wait_s"].fillna(plain) if "dispatch_wait_s" in outcomes else plain


def _share(hit: pd.Series, n: int) -> float:
    return float(hit.sum() / n) if n else math.nan


class _Log:
    """The series the definitions read, computed once per call of :func:`kpis`."""

    def __init__(self, outcomes: pd.DataFrame, workload: pd.DataFrame | None, target_s: int,
                 rates: CostRates, stock: pd.DataFrame | None = None) -> None:
        o = _columned(outcomes)
        self.stock = stock  # a parts run's stock value per day and tier (dispatch.parts)
        self.o, self.n, self.target_s, self.rates = o, len(o), target_s, rates
        self.trav = trav = o[o["mode"].isin(TRAVELLING)]
        self.n_trav = len(trav)
        self.wait_s = dispatch_wait_s(trav)
        self.wall_s = trav["dispatch_s"] - trav["created_s"]  # the customer's clock: nights included
        self.arrival_s = trav["arrival_s"] - trav["clock_start_s"] if "arrival_s" in trav else None
        done = o["completion_s"].notna()
        self.done = o[done]
        self.ta_h = (self.done["completion_s"] - self.done["created_s"]) / 3600
        self.wl = workload if workload is not None and len(workload) else None

    def ta_share(self, hit: Callable[[pd.Series], pd.Series]) -> float:
        """Share of every call whose turnaround meets ``hit``; an open call meets none."""
        return _share(hit(self.ta_h), self.n)

    def arrival_pct_min(self, q: float) -> float | None:
        return None if self.arrival_s is None else _pct_all(self.arrival_s, q) / 60

    def ta_pct_h(self, q: float) -> float:
        return _pct(self.ta_h, q)

    def bench_share(self, tier: int) -> float:
        tiers = self.o["repair_tier"]
        return _share(tiers == tier, int(tiers.notna().sum()))

    def over_6d(self) -> float:
        """Share of every call over 6 days: completed after them, or not completed at all."""
        return float(((self.ta_h > SIX_DAYS_H).sum() + self.n - len(self.done)) / self.n) if self.n else math.nan

    def reach(self, far: bool) -> float | None:
        if "reach_s" not in self.trav:
            return None
        group = self.trav["reach_s"] > self.target_s if far else self.trav["reach_s"] <= self.target_s
        return float((self.wait_s[group] <= self.target_s).mean()) if group.any() else math.nan

    # -- cost, CNY over completed calls (per job) ------------------------------------------

    def per_job(self, total_cny: float | None) -> float | None:
        if total_cny is None:
            return None
        return total_cny / len(self.done) if len(self.done) else math.nan

    def wl_sum(self, column: str) -> float | None:
        return float(self.wl[column].sum()) if self.wl is not None else None

    def wl_ratio(self, num: str, den: str, scale: float = 1.0) -> float | None:
        """sum(num) / sum(den) / scale over the workload; NaN when the denominator is 0."""
        if self.wl is None:
            return None
        d = float(self.wl[den].sum())
        return float(self.wl[num].sum()) / d / scale if d else math.nan

    def cost_parts(self) -> dict[str, float | None]:
        r = self.rates
        paid_s, metres, overtime_s = (self.wl_sum(c) for c in ("available_s", "distance_m", "overtime_s"))
        courier = None
        if "courier_legs" in self.o:
            legs = float(self.o["courier_legs"].fillna(0).sum())
            lane = {c: float(self.o[c].fillna(0).sum()) if c in self.o else 0.0
                    for c in ("courier_lane_legs", "courier_lane_cny")}
            courier = r.courier_cny(legs, lane["courier_lane_legs"], lane["courier_lane_cny"])
        return {
            "technician": None if paid_s is None else paid_s / 3600 * r.technician_cny_per_h,
            "travel": None if metres is None else metres / 1000 * r.vehicle_cny_per_km,
            "overtime": None if overtime_s is None else overtime_s / 3600 * r.overtime_cny_per_h,
            "courier": courier,
            "part_shipping": float(self.o["part_ship_cny"].fillna(0).sum()) if "part_ship_cny" in self.o else None}

    def cost_total(self) -> float | None:
        costs = self.cost_parts()
        # Stock moves exist only in a run with parts: without them there is nothing to ship.
        shipping = costs.pop("part_shipping") or 0.0
        parts = costs.values()
        return None if any(p is None for p in parts) else float(sum(parts)) + shipping  # type: ignore[arg-type]

    # -- field work (dispatch.fieldwork's columns) -----------------------------------------

    def first_time_fix(self) -> float:
        return first_time_fix_rate(self.o) if "fixed_first_time" in self.o else math.nan

    def repeat_30d(self) -> float:
        return repeat_visit_rate(self.o, REPEAT_WINDOW_DAYS) if "repeat_of" in self.o else math.nan


def first_time_fix_rate(outcomes: pd.DataFrame) -> float:
    """Share of calls fixed by their first attempt. Population: every call whose work ended by
    the horizon (``fixed_first_time`` not NaN; on-site, pickup and walk-in, repeat calls as calls
    of their own); calls still open are left out. Not fixed first time: a second visit (customer
    absent), a fault found to need the bench on site, a repair stopped at the overtime limit, no
    fault found, or a repair that fails within 30 days (the simulation knows it even when the
    customer comes back after the horizon). NaN without such a call."""
    v = outcomes["fixed_first_time"].dropna()
    return float(v.astype(bool).mean()) if len(v) else math.nan


def repeat_visit_rate(outcomes: pd.DataFrame, days: int = 30) -> float:
    """Share of completed calls followed by a call from the same customer repeating them
    (``repeat_of``) within ``days`` days of their completion. Population: every call completed
    by the horizon, repeats included. A repeat drawn after the horizon is not in the frame, so a
    run shorter than ``days`` under-counts (``first_time_fix_rate`` counts every failure). NaN
    without a completed call."""
    done = outcomes[outcomes["completion_s"].notna()]
    if not len(done):
        return math.nan
    rep = outcomes[outcomes["repeat_of"].fillna("").astype(str) != ""]
    done_at = done.set_index("request_id")["completion_s"]
    gap = rep["created_s"].to_numpy(float) - done_at.reindex(rep["repeat_of"].astype(str)).to_numpy(float)
    repeated = set(rep["repeat_of"].astype(str)[gap <= days * DAY_S])
    return float(done["request_id"].astype(str).isin(repeated).mean())


def booked_window_kept_rate(outcomes: pd.DataFrame) -> float | None:
    """Share of booked calls whose first visit's arrival (``arrival_s``) is by the booked
    window's end; a booked call never visited is not kept. None without the booking columns, NaN
    without a booked call."""
    if "booked_window_end_s" not in outcomes or "arrival_s" not in outcomes:
        return None
    b = outcomes[outcomes["booked_window_end_s"].notna()]
    return float((b["arrival_s"] <= b["booked_window_end_s"]).mean()) if len(b) else math.nan


def slot_first_day_share(outcomes: pd.DataFrame) -> float | None:
    """Share of the calls offered slots (``offered_day`` given) that booked a window on that
    day, the first the call could be served, or earlier (a call after its station closes may
    still get a window in the customer's evening); not booked counts as a miss."""
    if "offered_day" not in outcomes or "booked_day" not in outcomes:
        return None
    o = outcomes[outcomes["offered_day"].notna()]
    return float((o["booked_day"] <= o["offered_day"]).mean()) if len(o) else math.nan


@dataclass(frozen=True)
class Kpi:
    """One KPI: its key in the dict, the label tables show, the kind of value (``share`` 0..1,
    ``count``, ``per_day``, ``min``, ``h``, ``km``, ``cny``), the population it counts and what it is."""

    key: str
    label: str
    kind: str
    population: str
    definition: str
    value: Callable[[_Log], float | None]  # None: the producer does not give what it needs
    workload: bool = False  # a figure of the technicians' time, not of single calls


_EVERY = "every call"
_TRAV = "every on-site/pickup call, next-day and never-dispatched ones included"
_DONE = "completed calls (the count of censored ones beside it)"
_JOBS = "completed calls; needs the workload"
T = _TARGET_MIN

KPIS: tuple[Kpi, ...] = (
    Kpi("requests", "requests", "count", _EVERY, "calls in the log, served or not",
        lambda g: float(g.n)),
    Kpi("travelling_requests", "on-site and pickup calls", "count", _EVERY,
        "calls a technician must travel for (on-site repair or collection)", lambda g: float(g.n_trav)),
    Kpi("next_day_requests", "of which clock starts next day", "count", "every on-site/pickup call",
        "calls whose dispatch clock starts on a later day than the call (after hours, or booked for "
        "the next morning); they stay in every dispatch KPI",
        lambda g: float((g.trav["clock_start_s"] // DAY_S > g.trav["created_s"] // DAY_S).sum())),
    Kpi("dispatch_within_target_rate", f"dispatched <= {T} min", "share", _TRAV,
        f"a technician set off within {T} min of opening hours (business clock) from the clock start "
        "(the call, or the next opening); never dispatched is a miss",
        lambda g: _share(g.wait_s <= g.target_s, g.n_trav)),
    Kpi("dispatch_within_target_wall_rate", f"dispatched <= {T} min, wall clock", "share", _TRAV,
        f"a technician set off within {T} min of the call by the wall clock (nights and closed hours "
        "count); never dispatched is a miss",
        lambda g: _share(g.wall_s <= g.target_s, g.n_trav)),
    Kpi("beyond_reach_share", f"calls > {T} min drive from a centre", "share", "every on-site/pickup call; "
        "needs reach_s", f"calls more than {T} min's drive from the nearest centre with technicians",
        lambda g: None if "reach_s" not in g.trav else _share(g.trav["reach_s"] > g.target_s, g.n_trav)),
    Kpi("dispatch_in_reach_rate", f"dispatched <= {T} min, <= {T} min drive away", "share",
        f"on-site/pickup calls within {T} min's drive of a centre; needs reach_s",
        "the business-clock dispatch rate of calls the network can reach in time",
        lambda g: g.reach(far=False)),
    Kpi("dispatch_beyond_reach_rate", f"dispatched <= {T} min, farther", "share",
        f"on-site/pickup calls beyond {T} min's drive; needs reach_s",
        "the business-clock dispatch rate where the promise depends on where stations are",
        lambda g: g.reach(far=True)),
    Kpi("never_dispatched", "never dispatched", "count", "every on-site/pickup call",
        "calls no technician set off for by the horizon (not served, or still waiting)",
        lambda g: float(g.trav["dispatch_s"].isna().sum())),
    Kpi("time_to_dispatch_p50_min", "time to dispatch p50 (min)", "min", _TRAV,
        "median business-clock minutes from the clock start to set-off; never dispatched ranks last",
        lambda g: _pct_all(g.wait_s, 50) / 60),
    Kpi("time_to_dispatch_p95_min", "time to dispatch p95 (min)", "min", _TRAV,
        "95th percentile of the same, never dispatched ranked last ('never' when it falls on them)",
        lambda g: _pct_all(g.wait_s, 95) / 60),
    *(Kpi(f"time_to_arrival_p{q}_min", f"time to arrival p{q} (min)", "min", _TRAV + "; needs arrival_s",
          f"{'median' if q == 50 else f'{q}th percentile'} of wall minutes from the clock start to the technician "
          "at the customer's door (the response); a call never reached ranks last",
          methodcaller("arrival_pct_min", q))
      for q in (50, 95, 99)),
    Kpi("served", "completed", "count", _EVERY,
        "calls whose device is back with the customer (or repaired on site) by the horizon",
        lambda g: float(len(g.done))),
    Kpi("turnaround_censored", "censored (open at the horizon)", "count", _EVERY,
        "calls not completed by the horizon (still open, or never served): in every share below as "
        "missing each target, left out of the mean and percentiles",
        lambda g: float(g.n - len(g.done))),
    Kpi("served_share", "served (repaired or returned)", "share", _EVERY, "completed calls over every call",
        lambda g: _share(g.o["completion_s"].notna(), g.n)),
    Kpi("turnaround_mean_h", "turnaround mean (h, served)", "h", _DONE,
        "mean hours from the call to the device back with the customer / the on-site repair done",
        lambda g: float(g.ta_h.mean()) if len(g.ta_h) else math.nan),
    *(Kpi(f"turnaround_p{q}_h", f"turnaround p{q} (h, served)", "h", _DONE,
          f"{'median' if q == 50 else f'{q}th percentile'} of the same hours",
          methodcaller("ta_pct_h", q)) for q in (50, 90, 95)),
    Kpi("turnaround_within_24h_share", "turnaround <= 24 h", "share", _EVERY + ", censored ones as misses",
        "calls completed within 24 h of the call", lambda g: g.ta_share(lambda h: h <= 24)),
    Kpi("turnaround_within_48h_share", "turnaround <= 48 h", "share", _EVERY + ", censored ones as misses",
        "calls completed within 48 h of the call", lambda g: g.ta_share(lambda h: h <= 48)),
    Kpi("turnaround_over_6d_share", "turnaround > 6 days", "share", _EVERY + ", censored ones as over",
        "calls completed after more than 6 days, or not by the horizon (a simulation's horizon is at "
        "least 7 days past every call)",
        lambda g: g.over_6d()),
    Kpi("first_time_fix_rate", "fixed first time", "share", "calls with a first repair attempt; needs "
        "fixed_first_time (NaN without)", "the first attempt (visit or bench) fixed the device",
        lambda g: g.first_time_fix()),
    Kpi("repeat_visit_rate_30d", "repeat call within 30 days", "share", "completed calls; needs repeat_of "
        "(NaN without)", "completed calls the customer called about again within 30 days of completion",
        lambda g: g.repeat_30d()),
    Kpi("onsite_collected_share", "on-site calls collected instead", "share",
        "every on-site call; needs visit_mode", "on-site calls served by collecting the device for a bench",
        lambda g: None if "visit_mode" not in g.o else _share(
            (g.o["mode"] == "onsite") & (g.o["visit_mode"] == "pickup") & (g.o["unassigned_reason"] == ""),
            int((g.o["mode"] == "onsite").sum()))),
    *(Kpi(f"bench_share_tier{int(t)}", f"bench repairs at {name}", "share", "calls repaired on a bench",
          f"bench repairs done at a {name} centre (tier {int(t)})",
          methodcaller("bench_share", t))
      for t, name in ((Tier.COUNTY, "county"), (Tier.CITY, "city"), (Tier.PROVINCE, "province"))),
    Kpi("unassigned", "unassigned", "count", _EVERY, "calls with a reason code (not served, or open)",
        lambda g: float((g.o["unassigned_reason"] != "").sum())),
    Kpi("utilisation", "technician utilisation", "share", "every technician on the workload, idle ones "
        "included", "travel + service time over net shift time",
        lambda g: g.wl_ratio("busy_s", "available_s"), workload=True),
    Kpi("travel_km_per_job", "travel km per job", "km", "the technicians' visits; needs the workload",
        "kilometres driven over visits made", lambda g: g.wl_ratio("distance_m", "jobs", 1000), workload=True),
    Kpi("overtime_h", "overtime (h)", "h", "every technician on the workload",
        "hours worked past the end of shifts, in total",
        lambda g: None if g.wl is None else float(g.wl["overtime_s"].sum()) / 3600, workload=True),
    Kpi("cost_per_job_cny", "cost per job (CNY)", "cny", _JOBS + " and courier_legs",
        "the costs below (CostRates in dispatch/rules.py) over completed calls, part shipments in a run "
        "with parts; n/a while one of the other four is",
        lambda g: g.per_job(g.cost_total()), workload=True),
    Kpi("cost_technician_per_job_cny", "cost/job: technician time (CNY)", "cny", _JOBS,
        "paid (net shift) hours, busy or idle, x technician_cny_per_h",
        lambda g: g.per_job(g.cost_parts()["technician"]), workload=True),
    Kpi("cost_travel_per_job_cny", "cost/job: kilometres (CNY)", "cny", _JOBS,
        "kilometres driven x vehicle_cny_per_km", lambda g: g.per_job(g.cost_parts()["travel"]), workload=True),
    Kpi("cost_overtime_per_job_cny", "cost/job: overtime (CNY)", "cny", _JOBS,
        "overtime hours x overtime_cny_per_h", lambda g: g.per_job(g.cost_parts()["overtime"]), workload=True),
    Kpi("cost_courier_per_job_cny", "cost/job: couriers (CNY)", "cny", "completed calls; needs courier_legs",
        "parcel legs the devices rode (each way): a courier lane's at the price of the lane it rode "
        "(service, distance band, remote surcharge), a shuttle leg at courier_cny_per_leg",
        lambda g: g.per_job(g.cost_parts()["courier"])),
    Kpi("cost_part_shipping_per_job_cny", "cost/job: part shipments (CNY)", "cny",
        "completed calls; needs the parts columns (a run with parts)",
        "courier parcels of spare parts at their lanes' prices (units on the same lane and pickup share "
        "one box): replenishment, lateral transfers, parts sent for a job and faulty parts sent back "
        "(van refills ride with the technician: free)",
        lambda g: g.per_job(g.cost_parts()["part_shipping"])),
)
_PARTS = "calls needing a spare part; needs the parts columns (a run with parts)"
KPIS += (
    Kpi("part_jobs", "calls needing a part", "count", _EVERY + "; needs the parts columns",
        "calls whose repair (or 三包 exchange) consumed a spare part", lambda g: parts.count(g.o)),
    Kpi("part_fill_rate", "part fill rate, first pick", "share", _PARTS,
        "the part was on the technician's van or the repairing centre's shelf when the job asked",
        lambda g: parts.fill_rate(g.o)),
    *(Kpi(f"part_fill_rate_tier{int(t)}", f"part fill rate at {t.name.lower()}", "share",
          _PARTS + f", asked at a tier-{int(t)} centre or its vans",
          f"first-pick fill of jobs whose part was asked at a {t.name.lower()} centre (or its technicians' vans)",
          lambda g, t=int(t): parts.fill_rate(g.o, t)) for t in (Tier.COUNTY, Tier.CITY, Tier.PROVINCE)),
    Kpi("part_waits", "calls that waited for a part", "count", _EVERY + "; needs the parts columns",
        "calls whose device waited at its bench for the part", lambda g: parts.waited(g.o)),
    Kpi("part_wait_share", "turnaround share waiting for parts", "share", "completed calls; needs part_wait_s",
        "hours devices waited for parts over hours of turnaround, both summed over completed calls",
        lambda g: parts.wait_share(g.o)),
    Kpi("lateral_transfers_per_day", "lateral transfers per day", "per_day", _PARTS,
        "jobs whose part came from another centre of the province, per day of calls",
        lambda g: parts.count(g.o, ("lateral",), per_day=True)),
    Kpi("expedites_per_day", "part expedites per day", "per_day", _PARTS,
        "jobs whose part was sent for them (lateral transfer or ordered from the national warehouse), "
        "per day of calls", lambda g: parts.count(g.o, ("lateral", "order"), per_day=True)),
    Kpi("swaps", "swap devices given", "count", _EVERY + "; needs the parts columns",
        "customers given a loaner (以换代修) because the repair would pass Rules.swap_after_s",
        lambda g: parts.swaps(g.o)),
    *(Kpi(f"stock_value_{tier}_cny", f"stock value, {tier} (CNY)", "cny", "every day of the run; needs the "
          "stock frame", f"mean daily value at cost of the parts on hand or held at {tier} locations",
          lambda g, tier=tier: parts.stock_value(g.stock, tier), workload=True)
      for tier in ("van", "county", "city", "province", "national")),
)
_BOOKED = "calls that booked an appointment slot; needs the booking columns (a run with slots)"
KPIS += (
    Kpi("booked_requests", "calls that booked a slot", "count", _EVERY + "; needs the booking columns",
        "calls whose customer booked one of the offered windows (dispatch.live.slots)",
        lambda g: None if "booked_window_end_s" not in g.o else float(g.o["booked_window_end_s"].notna().sum())),
    Kpi("booked_window_kept_rate", "booked windows kept", "share", _BOOKED,
        "the technician was at the door by the booked window's end on the first visit (never visited: not kept)",
        lambda g: booked_window_kept_rate(g.o)),
    Kpi("slot_first_day_share", "offered calls with a slot on their first day", "share",
        "every call offered slots (first on-site/pickup calls of a run with slots; not booked: a miss)",
        "the booked window lies on the first day the call could be served (its clock's first day) or earlier",
        lambda g: slot_first_day_share(g.o)),
)
KPI_BY_KEY = {k.key: k for k in KPIS}
KPI_LABELS = {k.key: k.label for k in KPIS}
# KPIs of single calls (no workload): what a breakdown by priority, channel or tier can split.
CALL_KPIS = tuple(k.key for k in KPIS if not k.workload)


def kpis(outcomes: pd.DataFrame, workload: pd.DataFrame | None = None,
         dispatch_target_s: int | None = None, rates: CostRates = DEFAULT_COST_RATES,
         stock: pd.DataFrame | None = None) -> dict[str, float]:
    """Every KPI of :data:`KPIS` the frames can measure (module docstring: NaN, left out); the
    target is the rule book's unless a scenario gives its own; ``stock``: a parts run's daily
    stock values (``SimResult.stock``)."""
    log = _Log(outcomes, workload, DEFAULT_RULES.dispatch_target_s if dispatch_target_s is None else dispatch_target_s,
               rates, stock)
    out = {}
    for k in KPIS:
        v = k.value(log)
        if v is not None:
            out[k.key] = float(v)
    return out


def unassigned_by_reason(outcomes: pd.DataFrame) -> pd.Series:
    outcomes = _columned(outcomes)
    u = outcomes.loc[outcomes["unassigned_reason"] != "", "unassigned_reason"]
    return u.value_counts().sort_index()


def kpis_by(outcomes: pd.DataFrame, key: str, workload: pd.DataFrame | None = None) -> pd.DataFrame:
    """The same KPIs per province (``province_adcode``) or per centre (``centre_id``)."""
    rows = []
    for value, group in _columned(outcomes).groupby(key, sort=True):
        wl = workload[workload[key] == value] if workload is not None and key in workload else None
        rows.append({key: value, **kpis(group, wl)})
    return pd.DataFrame(rows, columns=None if rows else [key, *kpis(outcomes.iloc[:0])])


# --------------------------------------------------------------------------------------------
# Breakdowns by priority, channel and tier

# name -> (outcome column, label of each value); a value without a label is shown as it is.
BREAKDOWNS: dict[str, tuple[str, Mapping[object, str]]] = {
    "priority": ("priority", {int(p): p.name.lower() for p in Priority}),
    "channel": ("mode", {"onsite": "on-site", "pickup": "pickup", "walkin": "walk-in", "mailin": "mail-in"}),
    "visit_mode": ("visit_mode", {"onsite": "on-site", "pickup": "pickup", "walkin": "walk-in", "mailin": "mail-in",
                                  "carry_in": "carry-in"}),
    "tier": ("repair_tier", {int(t): f"{int(t)} {t.name.lower()}" for t in Tier}),
}
NO_BENCH = "no bench (on site, or not repaired)"


def kpi_breakdown(outcomes: pd.DataFrame, by: str = "priority", dispatch_target_s: int | None = None,
                  keys: Sequence[str] = CALL_KPIS) -> pd.DataFrame:
    """The call KPIs (``keys``) per value of ``by``: ``priority``, ``channel`` (the mode the
    customer asked for), ``visit_mode`` (how it was served) or ``tier`` (the repairing bench's;
    on-site and unrepaired calls form their own group), or any outcome column. One row per value,
    the first column ``by`` with the value's label; the groups' ``requests`` add up to the whole.
    A KPI the frame cannot measure (no ``arrival_s``...) has no column. Workload KPIs
    (utilisation, technician cost) belong to no single call and are not split."""
    column, labels = BREAKDOWNS.get(by, (by, {}))
    o = _columned(outcomes)
    if column not in o:
        raise KeyError(f"outcomes have no column {column!r} to break KPIs down by {by!r}")
    measured = [key for key in keys if key in kpis(o.iloc[:0], None, dispatch_target_s)]
    rows = []
    for value, group in o.groupby(o[column], sort=True, dropna=False):
        if pd.isna(value):
            label = NO_BENCH if by == "tier" else "unknown"
        else:
            label = labels.get(int(value) if isinstance(value, (float, np.floating)) else value, str(value))
        k = kpis(group, None, dispatch_target_s)
        rows.append({by: label, **{key: k[key] for key in measured}})
    return pd.DataFrame(rows, columns=[by, *measured])


# --------------------------------------------------------------------------------------------
# Tables and the README


def fmt(key: str, v: float | None) -> str:
    """One KPI value as tables show it: shares in %, counts whole, 'never' for +inf, '-' for NaN."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "never"
    kind = KPI_BY_KEY[key].kind if key in KPI_BY_KEY else "h"
    if kind == "share":
        return f"{100 * v:.1f} %"
    if kind == "count":
        return f"{int(v)}"
    return f"{v:.2f}"


def format_kpis(columns: Mapping[str, Mapping[str, float | None]]) -> str:
    """Side-by-side table (e.g. {'plan': {...}, 'baseline': {...}}) in :data:`KPIS` order; a KPI
    one column measures and another cannot is 'n/a' there."""
    rows = []
    for k in KPIS:
        if not any(k.key in col for col in columns.values()):
            continue
        rows.append({"KPI": k.label, **{name: fmt(k.key, col[k.key]) if k.key in col else "n/a"
                                        for name, col in columns.items()}})
    return pd.DataFrame(rows).to_string(index=False)


def format_breakdown(frames: Mapping[str, pd.DataFrame], by: str,
                     keys: Sequence[str] = ("requests", "dispatch_within_target_rate",
                                            "dispatch_within_target_wall_rate", "time_to_arrival_p95_min",
                                            "turnaround_mean_h", "turnaround_within_24h_share",
                                            "turnaround_over_6d_share")) -> str:
    """Breakdowns of several runs ({name: kpi_breakdown(...)}) as one table: a row per value and
    run, a column per KPI (labels from :data:`KPIS`)."""
    rows = []
    for name, frame in frames.items():
        for rec in frame.to_dict("records"):
            rows.append({by: rec[by], "run": name,
                         **{KPI_LABELS[k]: fmt(k, rec[k]) if k in frame else "n/a" for k in keys}})
    if not rows:
        return f"(no calls by {by})"
    # Groups in the breakdowns' own order (priority normal -> urgent, tier 1 -> 3), runs within.
    order = {g: i for i, g in enumerate(dict.fromkeys(g for f in frames.values() for g in f[by]))}
    out = pd.DataFrame(rows)
    return out.sort_values(by, key=lambda col: col.map(order), kind="stable").to_string(index=False)


def kpi_markdown() -> str:
    """The README's KPI list: each KPI's label, key, definition and population, one line each."""
    lines = [f"- **{k.label.strip()}** (`{k.key}`): {k.definition}. *Population:* {k.population}."
             for k in KPIS]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# The waterfall: old world -> same-physics dispatcher -> optimiser

# What tables call each run; the policies keep their internal names in the store and the logs.
RUN_LABELS = {"oldworld": "old world", "baseline": "same-physics dispatcher", "optimiser": "optimiser"}
WATERFALL_KEYS = ("turnaround_mean_h", "turnaround_within_24h_share", "dispatch_within_target_rate")
WATERFALL_NOTE = ("network + logistics = old world -> same-physics dispatcher (county stations, call centre, "
                  "technicians, shuttles; the same calls); dispatching = dispatcher -> optimiser (the same "
                  "network, roster and physics: only who goes when differs)")


def waterfall(old: Mapping[str, float], dispatcher: Mapping[str, float], optimiser: Mapping[str, float],
              keys: Sequence[str] = WATERFALL_KEYS) -> pd.DataFrame:
    """Per KPI: the three runs and the two steps between them (dispatcher - old world,
    optimiser - dispatcher), which add up to the whole change."""
    rows = []
    for key in keys:
        a, b, c = (float(run.get(key, math.nan)) for run in (old, dispatcher, optimiser))
        rows.append({"kpi": key, "old_world": a, "network_logistics": b - a, "dispatcher": b,
                     "dispatching": c - b, "optimiser": c, "total": c - a})
    return pd.DataFrame(rows, columns=["kpi", "old_world", "network_logistics", "dispatcher", "dispatching",
                                       "optimiser", "total"])


def fmt_delta(key: str, d: float) -> str:
    """A difference of one KPI as tables show it: pt for shares, signed; '-' for NaN."""
    if math.isnan(d):
        return "-"
    return f"{100 * d:+.1f} pt" if KPI_BY_KEY[key].kind == "share" else f"{d:+.2f}"


def format_waterfall(frame: pd.DataFrame) -> str:
    """The waterfall as text: levels as the KPI tables show them, steps in pt for shares."""
    step = fmt_delta
    rows = [{"KPI": KPI_LABELS[r["kpi"]], "old world": fmt(r["kpi"], r["old_world"]),
             "network + logistics": step(r["kpi"], r["network_logistics"]),
             "same-physics dispatcher": fmt(r["kpi"], r["dispatcher"]),
             "dispatching": step(r["kpi"], r["dispatching"]), "optimiser": fmt(r["kpi"], r["optimiser"]),
             "total": step(r["kpi"], r["total"])} for r in frame.to_dict("records")]
    return pd.DataFrame(rows).to_string(index=False)
