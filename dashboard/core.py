"""The dashboard's logic, free of Streamlit: datasets and areas, plans with pins, job states,
Gantt segments, KPI tiles, upload validation, coverage per county, station suggestions and
scenario comparison. Pages call these and only lay out what comes back.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dispatch.errors import DispatchError, ValidationError
from dispatch.kpis import DISPATCH_TARGET_S, KPI_LABELS, kpis
from dispatch.model import DAY_S, Dataset, Tier
from dispatch.plan import Plan, PlanParams, make_plan

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample-zhejiang"

# The datasets the app can open with no set-up (label -> source).
DEMOS: dict[str, str] = {
    "Zhejiang sample (data/sample-zhejiang)": "sample",
    "Tiny demo (generated, Huzhou)": "tiny",
}
DEFAULT_DEMO = next(iter(DEMOS))
# The board opens on one prefecture of the sample: small enough to plan in a few seconds.
DEFAULT_PREFECTURE = "330500"
ALL = ""  # the "whole province" choice of the prefecture selector

Progress = Callable[[str, int, int], None]


# --------------------------------------------------------------------------------------------
# Datasets and areas


def load_demo(source: str) -> Dataset:
    """A demo dataset: the committed sample (read and validated like any input) or ``tiny``."""
    if source == "sample":
        from dispatch.io import read_dataset

        return read_dataset(SAMPLE_DIR)
    if source == "tiny":
        from dispatch.synthetic import generate

        return generate("tiny", days=1, seed=1)
    raise DispatchError(f"unknown demo {source!r}; expected one of {sorted(DEMOS.values())}")


def provinces_of(ds: Dataset) -> list[str]:
    return sorted({c.province_adcode for c in ds.network if c.province_adcode})


def prefectures_of(ds: Dataset, province: str) -> list[str]:
    return sorted({c.prefecture_adcode for c in ds.network
                   if c.province_adcode == province and c.prefecture_adcode})


def days_of(ds: Dataset) -> list[int]:
    """Days (since the epoch) that have calls; at least day 0."""
    days = sorted({r.created_s // DAY_S for r in ds.requests})
    return days or [0]


def _request_prefecture(ds: Dataset) -> list[str]:
    """Each request's prefecture: from its county code, else from the nearest centre (uploads
    may leave county_adcode empty)."""
    out: list[str] = []
    missing = [i for i, r in enumerate(ds.requests) if len(r.county_adcode) != 6]
    nearest: dict[int, str] = {}
    if missing:
        lon = np.array([ds.requests[i].lon for i in missing])
        lat = np.array([ds.requests[i].lat for i in missing])
        idx, _ = ds.network.nearest(lon, lat)
        for i, j in zip(missing, np.atleast_1d(idx)):
            c = ds.network.centres[int(j)]
            nearest[i] = c.prefecture_adcode or c.province_adcode
    for i, r in enumerate(ds.requests):
        out.append(nearest[i] if i in nearest else r.county_adcode[:4] + "00")
    return out


def restrict(ds: Dataset, province: str, prefecture: str = ALL) -> Dataset:
    """The part of ``ds`` in one province, or one prefecture of it. A prefecture keeps its
    centres plus their parent chain (escalation goes up to the provincial lab), the staff of
    those centres and its own calls, like the ``tiny`` preset."""
    net = ds.network
    if prefecture:
        keep = {c.id for c in net if c.prefecture_adcode == prefecture}
    else:
        keep = {c.id for c in net if c.province_adcode == province}
    for cid in list(keep):
        keep |= {a.id for a in net.chain(cid)}
    if not keep:
        raise DispatchError(f"no centre in area {prefecture or province!r}")
    centres = tuple(c for c in net if c.id in keep)
    techs = tuple(t for t in ds.technicians if t.home_centre_id in keep)
    pref = _request_prefecture(ds)
    if prefecture:
        reqs = tuple(r for r, p in zip(ds.requests, pref) if p == prefecture)
    else:
        reqs = tuple(r for r, p in zip(ds.requests, pref) if p[:2] == province[:2])
    from dispatch.network import Network

    return Dataset(Network(centres), techs, reqs, ds.epoch_date,
                   ds.meta + (("area", prefecture or province),))


def technician_area(ds: Dataset) -> dict[str, str]:
    """Technician id -> routing area (prefecture adcode), by the rule of ``plan.make_areas``:
    the provincial centre's staff work in the capital's area."""
    net = ds.network
    area: dict[str, str] = {}
    for c in net:
        if c.tier == Tier.PROVINCE:
            cap = [p.prefecture_adcode for p in net if p.tier == Tier.CITY and p.parent_id == c.id
                   and (p.lon, p.lat) == (c.lon, c.lat)]
            area[c.id] = cap[0] if cap else c.province_adcode
        else:
            area[c.id] = c.prefecture_adcode or c.county_adcode
    return {t.id: area[t.home_centre_id] for t in ds.technicians}


# --------------------------------------------------------------------------------------------
# Plans, with pins


@dataclass(frozen=True)
class Pin:
    """Keep ``request_id`` with ``technician_id`` (and, if given, start it at ``start_s``)."""

    request_id: str
    technician_id: str
    start_s: int | None = None


def plan_area(ds: Dataset, day: int, seed: int = 0, pins: tuple[Pin, ...] = (),
              progress: Progress | None = None, workers: int = 1, deterministic: bool = False) -> Plan:
    """``make_plan`` for one day, with the dispatcher's pins (``RoutingVisit.pinned_*``). With
    ``workers`` > 1 the routing areas are solved in a spawn process pool of that size
    (``dispatch.executor``); with ``deterministic`` the plan is the same as the sequential one
    (otherwise each area's search stops on a clock, which a busy machine moves)."""
    params = PlanParams(seed=seed, day=day, deterministic=deterministic)
    if workers <= 1:
        return make_plan(ds, params, progress=progress, pins=pins)
    from dispatch.executor import executor

    with executor(workers) as pool:
        return make_plan(ds, params, pool=pool, progress=progress, pins=pins)


# A spawn pool costs about two seconds to start (each worker imports the solver), so it pays
# only on a large province: Guangdong's 2,674 calls plan in 7.4 s with two processes against
# 9.1 s alone, while the Zhejiang sample's 1,369 plan in 3.5 s alone against 4.8-6 s in a pool.
POOL_MIN_CALLS = 2000


def plan_workers(ds: Dataset, prefecture: str, min_calls: int = POOL_MIN_CALLS) -> int:
    """Processes for a plan: a whole province of at least ``min_calls`` calls is routed area by
    area in a pool (one process per CPU, at most one per area); anything smaller is solved in
    this process."""
    from dispatch.executor import default_workers

    if prefecture or len(ds.requests) < min_calls:
        return 1
    areas = len({p for p in technician_area(ds).values()})
    return max(1, min(default_workers(), areas))


class ProgressTracker:
    """Turns ``make_plan``'s (stage, done, total) reports into one fraction 0..1 and a label:
    assignment is the first tenth, routing the areas' morning batches the next six, dispatching
    the day's calls the rest."""

    WEIGHTS = {"assignment": (0.0, 0.1), "routing areas": (0.1, 0.6), "dispatching calls": (0.7, 0.3)}

    def __init__(self, sink: Callable[[float, str], None]) -> None:
        self.sink = sink
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int, note: str = "") -> None:
        lo, span = self.WEIGHTS.get(stage, (self.last, 0.0))
        frac = lo + span * (done / total if total else 1.0)
        self.last = max(self.last, min(1.0, frac))
        self.sink(self.last, f"{stage}: {done}/{total}" + (f" · {note}" if note else ""))


# --------------------------------------------------------------------------------------------
# KPI tiles


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: str
    help: str
    delta: str | None = None
    lower_is_better: bool = False  # the delta is coloured green when it goes down


_TILE_KEYS = ("dispatch_within_target_rate", "time_to_dispatch_p50_min", "turnaround_mean_h",
              "utilisation", "unassigned")
_LOWER_IS_BETTER = {"time_to_dispatch_p50_min", "turnaround_mean_h", "unassigned"}
_TILE_HELP = {
    "dispatch_within_target_rate": "share of onsite/pickup calls whose technician sets off within 60 min of the clock start",
    "time_to_dispatch_p50_min": "median minutes from clock start to set-off (p95 in the table)",
    "turnaround_mean_h": "estimated mean hours from call to device back / repair done",
    "utilisation": "travel + service time over net shift time",
    "unassigned": "calls with no technician or repair today (see reasons)",
}


def fmt_kpi(key: str, v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if key.endswith(("_rate", "_share")) or key.startswith("bench_share") or key == "utilisation":
        return f"{100 * v:.1f} %"
    if key in ("requests", "unassigned", "served", "travelling_requests"):
        return f"{int(v)}"
    return f"{v:.1f}"


def kpi_tiles(values: Mapping[str, float], against: Mapping[str, float] | None = None) -> list[Tile]:
    tiles = []
    for k in _TILE_KEYS:
        delta = None
        if against is not None and k in values and k in against:
            d = values[k] - against[k]
            if not math.isnan(d):
                delta = f"{100 * d:+.1f} pt" if k.endswith("_rate") or k == "utilisation" else f"{d:+.1f}"
        tiles.append(Tile(k, KPI_LABELS.get(k, k), fmt_kpi(k, values.get(k)), _TILE_HELP[k], delta,
                          k in _LOWER_IS_BETTER))
    return tiles


def kpi_table(columns: Mapping[str, Mapping[str, float]], delta: bool = True) -> pd.DataFrame:
    """KPIs side by side, formatted; with two columns and ``delta``, their difference."""
    names = list(columns)
    rows = []
    for key, label in KPI_LABELS.items():
        if not any(key in c for c in columns.values()):
            continue
        row = {"KPI": label}
        for n in names:
            row[n] = fmt_kpi(key, columns[n].get(key))
        if delta and len(names) == 2:
            a, b = (columns[n].get(key, math.nan) for n in names)
            d = b - a
            row["change"] = "-" if d is None or math.isnan(d) else (
                f"{100 * d:+.1f} pt" if key.endswith(("_rate", "_share")) or key.startswith("bench_share")
                or key == "utilisation" else f"{d:+.2f}")
        rows.append(row)
    return pd.DataFrame(rows)


def plan_kpis(plan: Plan) -> dict[str, float]:
    return kpis(plan.outcomes, plan.workload)


# --------------------------------------------------------------------------------------------
# Job states, SLA risk and the Gantt


JOB_STATES = ("done", "on site", "en route", "planned", "unassigned")
RISKS = ("late dispatch", "at risk", "on time", "not routed")
AT_RISK_SLACK_S = 15 * 60  # set-off less than this before the 60-minute deadline


def job_table(plan: Plan, ds: Dataset, now_s: int,
              dispatch_target_s: int = DISPATCH_TARGET_S) -> pd.DataFrame:
    """One row per call of the plan's day: where it is, its state at ``now_s`` (absolute
    seconds) and its SLA risk (slack of the set-off against the dispatch deadline)."""
    out = plan.outcomes[["request_id", "mode", "level", "priority", "centre_id", "clock_start_s",
                         "dispatch_s", "completion_s", "unassigned_reason"]].copy()
    pos = {r.id: (r.lon, r.lat) for r in ds.requests}
    out["lon"] = out["request_id"].map(lambda i: pos[i][0])
    out["lat"] = out["request_id"].map(lambda i: pos[i][1])
    st_cols = ["request_id", "technician_id", "sequence", "departure_s", "arrival_s", "start_s", "end_s"]
    stops = plan.stops[st_cols] if len(plan.stops) else pd.DataFrame(columns=st_cols)
    out = out.merge(stops, on="request_id", how="left")
    state = np.full(len(out), "planned", dtype=object)
    routed = out["technician_id"].notna().to_numpy()
    dep, start, end = (out[c].to_numpy(float) for c in ("departure_s", "start_s", "end_s"))
    state[routed & (dep <= now_s)] = "en route"
    state[routed & (start <= now_s)] = "on site"
    state[routed & (end <= now_s)] = "done"
    walkin = (out["mode"] == "walkin").to_numpy()
    comp = out["completion_s"].to_numpy(float)
    state[walkin & (comp <= now_s)] = "done"
    unassigned = (out["unassigned_reason"] != "").to_numpy()
    state[unassigned] = "unassigned"
    out["state"] = state
    slack = out["clock_start_s"].to_numpy(float) + dispatch_target_s - dep
    risk = np.full(len(out), "not routed", dtype=object)
    risk[routed] = "on time"
    risk[routed & (slack < AT_RISK_SLACK_S)] = "at risk"
    risk[routed & (slack < 0)] = "late dispatch"
    out["risk"] = risk
    out["slack_min"] = np.round(slack / 60, 1)
    return out


SEGMENT_KINDS = ("travel", "work", "break", "idle")


def gantt_segments(plan: Plan, ds: Dataset) -> pd.DataFrame:
    """Per technician with work: travel, work, break and idle intervals (absolute seconds)
    from leaving home to coming back. Break time is cut out of idle time it overlaps."""
    rows: list[dict] = []
    if plan.routes.empty:
        return pd.DataFrame(columns=["technician_id", "kind", "start_s", "end_s", "request_id"])
    brk = {t.id: t.break_s for t in ds.technicians}
    by_tech = {}
    if len(plan.stops):  # an empty frame may come without columns
        stops = plan.stops.sort_values(["technician_id", "sequence"])
        by_tech = dict(tuple(stops.groupby("technician_id", sort=False)))
    for r in plan.routes.itertuples(index=False):
        tid = r.technician_id
        segs: list[tuple[str, int, int, str]] = []
        cur = int(r.start_s)
        for s in by_tech.get(tid, pd.DataFrame()).itertuples(index=False):
            if s.departure_s > cur:
                segs.append(("idle", cur, int(s.departure_s), ""))
            segs.append(("travel", int(s.departure_s), int(s.arrival_s), s.request_id))
            if s.start_s > s.arrival_s:
                segs.append(("idle", int(s.arrival_s), int(s.start_s), s.request_id))
            segs.append(("work", int(s.start_s), int(s.end_s), s.request_id))
            cur = int(s.end_s)
        if int(r.end_s) > cur:
            segs.append(("travel", cur, int(r.end_s), "return"))
        b0 = r.break_start_s
        if b0 is not None and not (isinstance(b0, float) and math.isnan(b0)) and brk.get(tid, 0) > 0:
            b0, b1 = int(b0), int(b0) + brk[tid]
            cut = []
            for kind, a, b, req in segs:
                if kind == "idle" and a < b1 and b > b0:
                    if a < b0:
                        cut.append((kind, a, b0, req))
                    if b > b1:
                        cut.append((kind, b1, b, req))
                else:
                    cut.append((kind, a, b, req))
            segs = cut + [("break", b0, b1, "")]
        rows += [{"technician_id": tid, "kind": k, "start_s": a, "end_s": b, "request_id": q}
                 for k, a, b, q in segs if b > a]
    return pd.DataFrame(rows).sort_values(["technician_id", "start_s"]).reset_index(drop=True)


def clock(epoch_date: str, t_s: float) -> str:
    """Absolute seconds since the epoch -> 'Mon 09:30' local clock, for labels."""
    import datetime as dt

    if t_s is None or (isinstance(t_s, float) and math.isnan(t_s)):
        return ""
    d = dt.datetime.fromisoformat(epoch_date) + dt.timedelta(seconds=int(t_s))
    return d.strftime("%a %H:%M")


def unassigned_table(plan: Plan) -> pd.DataFrame:
    u = plan.unassigned.merge(plan.outcomes[["request_id", "mode", "level", "priority", "centre_id"]],
                              on="request_id", how="left")
    return u[["request_id", "reason_code", "reason", "mode", "level", "priority", "centre_id"]]


def export_files(plan: Plan, ds: Dataset, title: str) -> dict[str, bytes]:
    """The plan's exports (route sheets CSV/HTML, GeoJSON, unassigned CSV) as downloadable bytes,
    written by ``dispatch.exports`` into a temporary folder."""
    from dispatch.exports import export_plan

    frames = {"stops": plan.stops, "routes": plan.routes, "unassigned": plan.unassigned}
    homes = {t.id: t.home_centre_id for t in ds.technicians}
    with tempfile.TemporaryDirectory() as tmp:
        paths = export_plan(frames, ds.epoch_date, tmp, title, ds.network, homes)
        return {p.name: p.read_bytes() for p in paths}


# --------------------------------------------------------------------------------------------
# Uploads


MAX_UPLOAD_MB = 20
UPLOAD_KINDS = ("centres", "technicians", "requests")
PROBLEM_COLUMNS = ["file", "row", "column", "value", "message"]


def validate_upload(files: Mapping[str, bytes | None],
                    max_bytes: int = MAX_UPLOAD_MB * 1024 * 1024) -> tuple[Dataset | None, pd.DataFrame]:
    """Validate uploaded CSV files (kind -> bytes) with the same reader as the CLI.

    The bytes are written as ``<kind>.csv`` into a fresh temporary folder (the uploaded file
    names are never used as paths, and only CSV text is read: no pickle, no code) and read with
    ``dispatch.io.read_dataset``. Returns (dataset, empty table) or (None, every problem):
    nothing half-loaded ever comes back."""
    from dispatch.io import read_dataset

    problems: list[dict] = []
    for kind in UPLOAD_KINDS:
        data = files.get(kind)
        if data is None:
            problems.append({"file": f"{kind}.csv", "row": None, "column": None, "value": None,
                             "message": f"is missing; upload the {kind} CSV file"})
        elif len(data) > max_bytes:
            problems.append({"file": f"{kind}.csv", "row": None, "column": None, "value": f"{len(data)} bytes",
                             "message": f"is larger than the {max_bytes // (1024 * 1024)} MB upload limit"})
    if problems:
        return None, pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in UPLOAD_KINDS:
            (Path(tmp) / f"{kind}.csv").write_bytes(files[kind])  # type: ignore[arg-type]
        try:
            ds = read_dataset(tmp)
        except ValidationError as exc:
            rows = [{"file": Path(p.file).name, "row": p.row, "column": p.column,
                     "value": None if p.value is None else str(p.value), "message": p.message}
                    for p in exc.problems]
            return None, pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
    return ds, pd.DataFrame(columns=PROBLEM_COLUMNS)


# --------------------------------------------------------------------------------------------
# Coverage, station suggestions, scenarios


def area_counties(geo, province: str, prefecture: str = ALL) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    c = geo.counties
    if prefecture:
        return c[c["prefecture_adcode"] == prefecture]
    if province:
        return c[c["province_adcode"] == province]
    return c


def county_coverage(ds: Dataset, counties: pd.DataFrame, level: int) -> pd.DataFrame:
    """Per county: travel minutes from its seat to the nearest centre able to repair ``level``
    (the coverage shading), and its demand weight."""
    from dispatch.coverage import nearest_travel_s
    from dispatch.geodata import county_demand_weights, load_geography

    mask = np.array([c.can_repair(level) for c in ds.network])
    t, idx = nearest_travel_s(ds.network, counties["seat_lon"].to_numpy(float),
                              counties["seat_lat"].to_numpy(float), mask)
    w = county_demand_weights(load_geography()).set_index("adcode")["weight"]
    out = pd.DataFrame({
        "adcode": counties["adcode"].to_numpy(), "name": counties["name"].to_numpy(),
        "minutes": np.round(t / 60, 1),
        "nearest": [ds.network.centres[int(j)].id if j >= 0 else "" for j in idx],
        "weight": counties["adcode"].map(w).fillna(0.0).to_numpy(),
    })
    return out


def coverage_shares(ds: Dataset, counties: pd.DataFrame, minutes: float = 60.0) -> dict[str, float]:
    """Demand-weighted share of the area's counties within ``minutes`` of a centre able to
    repair each level (``dispatch.coverage.coverage_table``)."""
    from dispatch.coverage import coverage_table
    from dispatch.geodata import county_demand_weights, load_geography

    w = county_demand_weights(load_geography()).set_index("adcode")["weight"]
    demand = pd.DataFrame({"lon": counties["seat_lon"].to_numpy(float), "lat": counties["seat_lat"].to_numpy(float),
                           "weight": counties["adcode"].map(w).fillna(0.0).to_numpy(),
                           "province_adcode": counties["province_adcode"].to_numpy()})
    if demand.empty or demand["weight"].sum() <= 0:
        return {}
    row = coverage_table(ds.network, demand, minutes).loc["national"]
    return {f"level{lv}": float(row[f"level{lv}_within_{int(minutes)}min"]) for lv in (1, 2, 3)}


def suggest_stations(ds: Dataset, counties: pd.DataFrame, new: int, minutes: float = 60.0) -> pd.DataFrame:
    """Where ``new`` more county stations would cover most demand within ``minutes``: greedy
    maximal covering over the area's county seats, with the existing stations locked open."""
    from dispatch.coverage import LocationProblem, greedy_mclp
    from dispatch.geodata import county_demand_weights, load_geography
    from dispatch.travel import DEFAULT_TRAVEL

    w = county_demand_weights(load_geography()).set_index("adcode")["weight"]
    seats = counties.reset_index(drop=True)
    lon, lat = seats["seat_lon"].to_numpy(float), seats["seat_lat"].to_numpy(float)
    stations = [c for c in ds.network if c.tier != Tier.PROVINCE]
    slon = np.array([c.lon for c in stations])
    slat = np.array([c.lat for c in stations])
    site_lon = np.concatenate([slon, lon])
    site_lat = np.concatenate([slat, lat])
    site_ids = [c.id for c in stations] + [f"county:{a}" for a in seats["adcode"]]
    dist = DEFAULT_TRAVEL.distance_m(lon[:, None], lat[:, None], site_lon[None, :], site_lat[None, :])
    cost = DEFAULT_TRAVEL.time_s_from_distance(np.rint(dist).astype(np.int64))
    weights = seats["adcode"].map(w).fillna(0.0).to_numpy(float)
    problem = LocationProblem.from_cost_matrix(cost, weights, site_ids, seats["adcode"],
                                               locked_open=range(len(stations)))
    p = min(len(site_ids), len(stations) + max(0, int(new)))
    base = greedy_mclp(problem, len(stations), minutes * 60) if stations else None
    res = greedy_mclp(problem, p, minutes * 60)
    chosen = [s for s in res.chosen if s.startswith("county:")]
    total = float(weights.sum()) or 1.0
    rows = []
    for s in chosen:
        a = s.split(":", 1)[1]
        row = seats[seats["adcode"] == a].iloc[0]
        rows.append({"adcode": a, "name": row["name"], "lon": float(row["seat_lon"]), "lat": float(row["seat_lat"]),
                     "prefecture_adcode": row["prefecture_adcode"], "province_adcode": row["province_adcode"]})
    out = pd.DataFrame(rows, columns=["adcode", "name", "lon", "lat", "prefecture_adcode", "province_adcode"])
    out.attrs["covered_before"] = (base.objective / total) if base is not None else 0.0
    out.attrs["covered_after"] = res.objective / total
    return out


def open_specs(ds: Dataset, suggested: pd.DataFrame) -> list[dict]:
    """Scenario ``open`` entries for suggested county stations, each under its prefecture's
    city centre (else the province's centre)."""
    city = {c.prefecture_adcode: c.id for c in ds.network if c.tier == Tier.CITY}
    prov = {c.province_adcode: c.id for c in ds.network if c.tier == Tier.PROVINCE}
    specs = []
    for r in suggested.itertuples(index=False):
        parent = city.get(r.prefecture_adcode) or prov.get(r.province_adcode)
        specs.append({"id": f"S{r.adcode}-new", "tier": 3, "lon": r.lon, "lat": r.lat, "parent_id": parent,
                      "name": f"{r.name} (suggested)", "county_adcode": r.adcode,
                      "prefecture_adcode": r.prefecture_adcode, "province_adcode": r.province_adcode})
    return specs


SCENARIO_LABELS = {
    "coverage_level1_60min": "demand <= 60 min of a level-1 centre",
    "coverage_level2_60min": "demand <= 60 min of a level-2 centre",
    "coverage_level3_60min": "demand <= 60 min of a level-3 centre",
    "est_turnaround_level2_h": "est. turnaround level 2 (h)",
    "est_turnaround_level3_h": "est. turnaround level 3 (h)",
    "centres": "centres", "technicians": "technicians", "cost_per_day": "cost per day (CNY)",
    **{f"plan_{k}": f"plan: {v}" for k, v in KPI_LABELS.items()},
}


def _fmt_any(key: str, v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    share = key.startswith("coverage_") or key.endswith(("_rate", "_share")) or "bench_share" in key \
        or key.endswith("utilisation")
    return f"{100 * v:.1f} %" if share else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}")


def comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """``dispatch.scenarios.compare``'s table (KPI x runs and deltas) as readable text rows."""
    rows = []
    for key in SCENARIO_LABELS:
        if key not in table.index:
            continue
        row = {"KPI": SCENARIO_LABELS[key]}
        for col in table.columns:
            v = float(table.loc[key, col])
            txt = _fmt_any(key, v)
            if col.startswith("Δ") and txt.endswith("%"):
                txt = f"{100 * v:+.1f} pt"
            elif col.startswith("Δ") and txt != "-" and not txt.startswith("-"):
                txt = "+" + txt
            row[col] = txt
        rows.append(row)
    return pd.DataFrame(rows)


def scenario_from_form(name: str, close: list[str], add_centre: str | None, add_count: int,
                       county_levels: list[int], target_min: int, opened: list[dict] | None = None,
                       description: str = ""):  # type: ignore[no-untyped-def]
    """A ``dispatch.scenarios.Scenario`` from the builder's fields (raises on a bad name)."""
    from dispatch.scenarios import Scenario

    doc: dict = {"name": name.strip(), "description": description, "close": list(close),
                 "open": list(opened or [])}
    if add_centre and add_count:
        doc["add"] = [{"centre_id": add_centre, "count": int(add_count)}]
    if county_levels and sorted(county_levels) != [1]:
        doc["capabilities"] = {3: sorted(int(v) for v in county_levels)}
    if target_min and int(target_min) != 60:
        doc["dispatch_target_min"] = int(target_min)
    return Scenario.from_dict(doc)


@dataclass(frozen=True)
class ComparisonResult:
    names: tuple[str, ...]
    table: pd.DataFrame  # readable rows, see comparison_table
    raw: pd.DataFrame  # compare()'s numbers
    county_minutes: dict[str, pd.DataFrame]  # run name -> per-county minutes (coverage shading)
    warnings: dict[str, tuple[str, ...]]


def compare_scenarios(area: Dataset, scenarios: list, counties: pd.DataFrame, day: int, level: int = 1,  # type: ignore[type-arg]
                      seed: int = 0, plan: bool = True, routing_max_s: float = 2.0,
                      progress: Progress | None = None) -> ComparisonResult:
    """Base and scenarios on the same calls with ``dispatch.scenarios.compare`` (coverage, cost
    and a day plan of the area), plus each run's county travel minutes for the maps."""
    from dispatch.scenarios import CompareOptions, apply, compare

    opts = CompareOptions(plan=plan, day=day, seed=seed, routing_max_s=routing_max_s)
    comp = compare(area, scenarios, opts, progress=progress)
    minutes = {"base": county_coverage(area, counties, level)}
    for sc in scenarios:
        minutes[sc.name] = county_coverage(apply(area, sc, seed).dataset, counties, level)
    names = ("base", *(sc.name for sc in scenarios))
    return ComparisonResult(names, comparison_table(comp.table), comp.table, minutes, comp.warnings)


def minutes_difference(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per county: b's minutes minus a's (negative: the scenario brings the county closer)."""
    m = a[["adcode", "name", "minutes"]].merge(b[["adcode", "minutes"]], on="adcode", suffixes=("_a", "_b"))
    m["delta"] = m["minutes_b"] - m["minutes_a"]
    return m


# --------------------------------------------------------------------------------------------
# Real time (dispatch.live): urgent calls and drop-outs on a live area of the plan


def realtime_ready(plan: Plan) -> bool:
    """Whether the plan carries its areas' routing problems and results (what a live area
    starts from) and ``dispatch.live`` is installed."""
    import importlib.util

    return bool(getattr(plan, "area_problems", None)) and importlib.util.find_spec("dispatch.live") is not None


def live_area(plan: Plan, ds: Dataset, area: str, clock_s: int):  # type: ignore[no-untyped-def]
    """A ``LiveArea`` of one routing area of the plan at ``clock_s`` (work begun is frozen)."""
    from dispatch.live import LiveArea

    problem = plan.area_problems[area]  # type: ignore[attr-defined]
    result = plan.area_results[area]  # type: ignore[attr-defined]
    pos = {c.id: (c.lon, c.lat) for c in ds.network} | {r.id: (r.lon, r.lat) for r in ds.requests}
    lon = np.array([pos[n][0] for n in problem.node_names])
    lat = np.array([pos[n][1] for n in problem.node_names])
    release = {v.id: v.release_s for v in problem.visits if getattr(v, "release_s", None) is not None}
    return LiveArea.from_result(problem, result, lon, lat, release, clock_s)


def urgent_call(call_id: str, lon: float, lat: float, level: int, priority: int, service_min: int,
                clock_s: int, day: int, dispatch_target_s: int = DISPATCH_TARGET_S):  # type: ignore[no-untyped-def]
    """An urgent call made now: the customer is available until 21:00, the clock starts now."""
    from dispatch.live import NewCall

    end = max(clock_s + 3600, day * DAY_S + 21 * 3600)
    return NewCall(call_id, float(lon), float(lat), int(service_min) * 60, clock_s, end, int(level), None,
                   int(priority), clock_s, clock_s + dispatch_target_s)


def area_at(ds: Dataset, lon: float, lat: float) -> str:
    """The routing area (prefecture) of the centre nearest to a point."""
    idx, _ = ds.network.nearest(np.array([lon]), np.array([lat]))
    c = ds.network.centres[int(np.atleast_1d(idx)[0])]
    return c.prefecture_adcode or c.province_adcode


def eta_frame(options, epoch_date: str, now_s: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The urgent call's candidates (``LiveArea.urgent_options``, best first) as the board shows
    them: rank, technician, set-off and arrival clock, minutes from now, deadline kept or not."""
    from dispatch.live import eta_table

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
# Simulation (dispatch.simulate): days of calls, optimiser against the naive baseline


SIM_DAYS_MAX = 7
SIM_DAYS_DEFAULT = 3
SIM_POLICIES = ("optimiser", "baseline")
# Share of the progress bar given to each policy: the optimiser takes most of the time.
_SIM_SPAN = {"optimiser": (0.0, 0.85), "baseline": (0.85, 0.15)}


def sim_preset(ds: Dataset) -> tuple[str, int] | None:
    """(preset, seed) of a dataset made by ``dispatch.synthetic`` (the demos), else None."""
    meta = dict(ds.meta)
    if meta.get("generator") != "dispatch.synthetic" or not meta.get("preset"):
        return None
    try:
        return str(meta["preset"]), int(meta.get("seed", 1))
    except ValueError:
        return None


def sim_calls(ds: Dataset, days: int) -> Dataset:
    """``days`` days of calls for the dataset. A generated dataset (a demo) is generated again
    from its preset and seed with that many days (same network and roster, more calls); any
    other keeps its own calls of its first ``days`` days."""
    days = max(1, min(int(days), SIM_DAYS_MAX))
    src = sim_preset(ds)
    if src is not None:
        from dispatch.synthetic import generate

        return generate(src[0], days=days, seed=src[1])
    first = min(days_of(ds))
    reqs = tuple(r for r in ds.requests if first <= r.created_s // DAY_S < first + days)
    return Dataset(ds.network, ds.technicians, reqs, ds.epoch_date, ds.meta)


def sim_source_label(ds: Dataset, days: int) -> str:
    src = sim_preset(ds)
    if src is not None:
        return f"{days} day(s) of calls generated by preset '{src[0]}', seed {src[1]} (same network and roster)"
    return f"the dataset's own calls of its first {days} day(s)"


@dataclass(frozen=True)
class SimComparison:
    """Both policies on the same calls: ``dispatch.simulate.SimResult`` per policy and KPIs."""

    results: dict  # policy -> SimResult
    kpis: dict[str, dict[str, float]]
    days: int
    calls: int
    scenario: str

    @property
    def wall_s(self) -> float:
        return float(sum(r.wall_s for r in self.results.values()))


def simulate_pair(ds: Dataset, days: int, seed: int = 0, scenario: str = "base",
                  sink: Callable[[float, str], None] | None = None) -> SimComparison:
    """``dispatch.simulate`` with the optimiser then the baseline on the same calls; ``sink``
    gets (fraction 0..1, label) as the run goes."""
    from dispatch.simulate import SimParams, simulate

    results = {}
    for policy in SIM_POLICIES:
        lo, span = _SIM_SPAN[policy]

        def report(stage: str, done: int, total: int, lo: float = lo, span: float = span,
                   policy: str = policy) -> None:
            if sink is not None:
                sink(min(1.0, lo + span * (done / total if total else 1.0)), f"{policy}: {stage} {done}/{total}")

        report("simulated calls", 0, len(ds.requests))
        results[policy] = simulate(ds, SimParams(policy=policy, seed=seed), progress=report)
        report("simulated calls", len(ds.requests), len(ds.requests))
    k = {p: kpis(r.outcomes, r.workload) for p, r in results.items()}
    return SimComparison(results, k, int(days), len(ds.requests), scenario)


def dispatch_wait_min(outcomes: pd.DataFrame) -> pd.Series:
    """Minutes from clock start to set-off of the dispatched onsite/pickup calls: opening-hours
    (business) minutes when the producer gives ``dispatch_wait_s``, else the plain difference."""
    trav = outcomes[outcomes["mode"].isin(("onsite", "pickup")) & outcomes["dispatch_s"].notna()]
    if "dispatch_wait_s" in trav and trav["dispatch_wait_s"].notna().any():
        wait = trav["dispatch_wait_s"].fillna(trav["dispatch_s"] - trav["clock_start_s"])
    else:
        wait = trav["dispatch_s"] - trav["clock_start_s"]
    return (wait / 60).astype(float)


DAILY_KPIS = {
    "calls": "calls",
    "dispatch_within_target_rate": "dispatched <= 60 min",
    "time_to_dispatch_p50_min": "time to dispatch p50 (min)",
    "turnaround_mean_h": "turnaround mean (h)",
    "turnaround_within_48h_share": "turnaround <= 48 h",
    "unassigned": "still open / unassigned",
}


def daily_kpis(outcomes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """KPIs per policy and day the calls were made (``created_s`` // day), long format:
    policy, day, kpi, label, value."""
    rows = []
    for policy, o in outcomes.items():
        if o.empty:
            continue
        for day, g in o.groupby(o["created_s"] // DAY_S):
            k = kpis(g)
            k["calls"] = float(len(g))
            for key, label in DAILY_KPIS.items():
                rows.append({"policy": policy, "day": int(day), "kpi": key, "label": label,
                             "value": k.get(key, math.nan)})
    return pd.DataFrame(rows, columns=["policy", "day", "kpi", "label", "value"])


def daily_table(daily: pd.DataFrame) -> pd.DataFrame:
    """The daily KPIs as readable text: one row per day, one column per policy and KPI."""
    if daily.empty:
        return pd.DataFrame(columns=["day"])
    d = daily.copy()
    d["text"] = [f"{int(v)}" if k == "calls" else fmt_kpi(k, v) for k, v in zip(d["kpi"], d["value"])]
    wide = d.pivot_table(index="day", columns=["label", "policy"], values="text", aggfunc="first")
    order = [(lab, p) for lab in DAILY_KPIS.values() for p in SIM_POLICIES if (lab, p) in wide.columns]
    wide = wide[order]
    wide.columns = [f"{lab} · {p}" for lab, p in order]
    return wide.reset_index()


def open_reasons(results: Mapping) -> pd.DataFrame:  # type: ignore[type-arg]
    """Calls still open at the horizon per policy and reason."""
    frames = [r.open_requests.assign(policy=p) for p, r in results.items() if len(r.open_requests)]
    if not frames:
        return pd.DataFrame(columns=["reason", *results])
    o = pd.concat(frames, ignore_index=True)
    t = o.groupby(["reason", "policy"]).size().unstack("policy", fill_value=0)
    return t.reindex(columns=list(results), fill_value=0).reset_index()


def remaining_jobs(plan: Plan, now_s: int) -> dict[str, int]:
    """Technician id -> routed jobs not finished at ``now_s`` (what a drop-out would move)."""
    if plan.stops.empty:
        return {}
    left = plan.stops[plan.stops["end_s"] > now_s]
    return left.groupby("technician_id").size().astype(int).to_dict()
