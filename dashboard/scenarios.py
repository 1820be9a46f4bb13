"""Coverage and what-ifs for the network page: travel minutes per county, demand shares within
the hour, station suggestions (greedy maximal covering), scenarios from the builder's fields and
their side-by-side comparison (``dispatch.coverage``, ``dispatch.scenarios``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.formatting import TARGET_MIN, comparison_table
from dashboard.planning import Progress
from dispatch.coverage import LocationProblem, coverage_table, greedy_mclp, nearest_travel_s
from dispatch.dataset import Dataset
from dispatch.geodata import county_demand_weights, load_geography
from dispatch.model import Tier
from dispatch.network import Network
from dispatch.scenarios import CompareOptions, Scenario, apply, compare
from dispatch.travel import DEFAULT_TRAVEL, Travel, drive_s, haversine_m, travel_from_spec

# The coverage budget of the shading, the tiles and the suggestions (dispatch.coverage's default).
COVERAGE_MIN = 60.0


def demand_weights(counties: pd.DataFrame) -> np.ndarray:
    """Each county's demand weight (``dispatch.geodata.county_demand_weights``), 0 if unknown."""
    w = county_demand_weights(load_geography()).set_index("adcode")["weight"]
    return counties["adcode"].map(w).fillna(0.0).to_numpy(float)


def county_coverage(ds: Dataset, counties: pd.DataFrame, level: int, travel: Travel = DEFAULT_TRAVEL) -> pd.DataFrame:
    """Per county: travel minutes (by ``travel``, the sidebar's model) from its seat to the
    nearest centre able to repair ``level`` (the coverage shading), and its demand weight."""
    mask = np.array([c.can_repair(level) for c in ds.network])
    t, idx = nearest_travel_s(ds.network, counties["seat_lon"].to_numpy(float),
                              counties["seat_lat"].to_numpy(float), mask, travel)
    return pd.DataFrame({
        "adcode": counties["adcode"].to_numpy(), "name": counties["name"].to_numpy(),
        "minutes": np.round(t / 60, 1),
        "nearest": [ds.network.centres[int(j)].id if j >= 0 else "" for j in idx],
        "weight": demand_weights(counties),
    })


def coverage_shares(ds: Dataset, counties: pd.DataFrame, minutes: float = COVERAGE_MIN,
                    travel: Travel = DEFAULT_TRAVEL) -> dict[str, float]:
    """Demand-weighted share of the area's counties within ``minutes`` of a centre able to
    repair each level (``dispatch.coverage.coverage_table``)."""
    demand = pd.DataFrame({"lon": counties["seat_lon"].to_numpy(float), "lat": counties["seat_lat"].to_numpy(float),
                           "weight": demand_weights(counties),
                           "province_adcode": counties["province_adcode"].to_numpy()})
    if demand.empty or demand["weight"].sum() <= 0:
        return {}
    row = coverage_table(ds.network, demand, minutes, travel).loc["national"]
    return {f"level{lv}": float(row[f"level{lv}_within_{int(minutes)}min"]) for lv in (1, 2, 3)}


def seat_points(counties: pd.DataFrame) -> pd.DataFrame:
    """The county seats as lon/lat points (what the network maps fit their view to)."""
    return counties.rename(columns={"seat_lon": "lon", "seat_lat": "lat"})


def closable_stations(ds: Dataset) -> list[str]:
    """The stations a scenario may close: every centre below the provincial lab."""
    return sorted(c.id for c in ds.network if c.tier != Tier.PROVINCE)


# A county seat this close to an existing station is that station's site, not a new one.
SAME_SITE_M = 2000


def suggest_stations(ds: Dataset, counties: pd.DataFrame, new: int, minutes: float = COVERAGE_MIN,
                     travel: Travel = DEFAULT_TRAVEL) -> pd.DataFrame:
    """Up to ``new`` more county stations, each one adding the most demand within ``minutes``
    to what the existing stations and the earlier picks cover (greedy maximal covering,
    ``dispatch.coverage.greedy_mclp``, existing stations locked open). Only seats that add
    coverage are suggested (``gain`` > 0, the share of the area's demand each adds), and none
    on an existing station's site (within ``SAME_SITE_M``)."""
    seats = counties.reset_index(drop=True)
    lon, lat = seats["seat_lon"].to_numpy(float), seats["seat_lat"].to_numpy(float)
    stations = [c for c in ds.network if c.tier != Tier.PROVINCE]
    slon = np.array([c.lon for c in stations])
    slat = np.array([c.lat for c in stations])
    site_lon = np.concatenate([slon, lon])
    site_lat = np.concatenate([slat, lat])
    site_ids = [c.id for c in stations] + [f"county:{a}" for a in seats["adcode"]]
    cost = drive_s(travel, lon[:, None], lat[:, None], site_lon[None, :], site_lat[None, :])
    weights = demand_weights(seats)
    occupied = []
    if stations:
        gap = haversine_m(lon[:, None], lat[:, None], slon[None, :], slat[None, :])  # the same site, as the crow flies
        occupied = [len(stations) + i for i in np.flatnonzero(gap.min(axis=1) < SAME_SITE_M)]
    problem = LocationProblem.from_cost_matrix(cost, weights, site_ids, seats["adcode"],
                                               locked_open=range(len(stations)), locked_closed=occupied)
    p = min(len(site_ids) - len(occupied), len(stations) + max(0, int(new)))
    res = greedy_mclp(problem, p, minutes * 60)
    total = float(weights.sum()) or 1.0
    cover = problem.coverage_matrix(minutes * 60).toarray()
    covered = cover[:, :len(stations)].any(axis=1) if stations else np.zeros(len(seats), bool)
    before = float(weights[covered].sum()) / total
    rows = []
    for sid in res.chosen:
        if not sid.startswith("county:"):
            continue
        j = site_ids.index(sid)
        gain = float(weights[cover[:, j] & ~covered].sum()) / total
        if gain <= 0:
            break  # greedy: every later pick adds nothing either
        covered |= cover[:, j]
        i = j - len(stations)
        row = seats.iloc[i]
        rows.append({"adcode": row["adcode"], "name": row["name"], "lon": float(row["seat_lon"]),
                     "lat": float(row["seat_lat"]), "prefecture_adcode": row["prefecture_adcode"],
                     "province_adcode": row["province_adcode"], "gain": gain,
                     "covered_after": float(weights[covered].sum()) / total})
    out = pd.DataFrame(rows, columns=["adcode", "name", "lon", "lat", "prefecture_adcode", "province_adcode", "gain",
                                      "covered_after"])
    out.attrs["covered_before"] = before
    out.attrs["covered_after"] = float(weights[covered].sum()) / total
    return out


def default_staff(ds: Dataset) -> int:
    """Technicians a new county station opens with: the median of the area's staffed county
    stations (at least 1)."""
    per = pd.Series([t.home_centre_id for t in ds.technicians]).value_counts()
    county = [int(per.get(c.id, 0)) for c in ds.network if c.tier == Tier.COUNTY and per.get(c.id, 0)]
    return max(1, int(np.median(county))) if county else 2


def open_specs(ds: Dataset, sites: pd.DataFrame) -> list[dict]:
    """Scenario ``open`` entries for new county stations at county seats (``adcode``, ``name``,
    ``lon``, ``lat``, prefecture and province adcodes), each under its prefecture's city centre
    (else the province's centre)."""
    city = {c.prefecture_adcode: c.id for c in ds.network if c.tier == Tier.CITY}
    prov = {c.province_adcode: c.id for c in ds.network if c.tier == Tier.PROVINCE}
    specs = []
    for r in sites.itertuples(index=False):
        parent = city.get(r.prefecture_adcode) or prov.get(r.province_adcode)
        specs.append({"id": f"S{r.adcode}-new", "tier": 3, "lon": r.lon, "lat": r.lat, "parent_id": parent,
                      "name": f"{r.name} 新站", "county_adcode": r.adcode,
                      "prefecture_adcode": r.prefecture_adcode, "province_adcode": r.province_adcode})
    return specs


def county_sites(counties: pd.DataFrame, adcodes: list[str]) -> pd.DataFrame:
    """The seats of the chosen counties as sites for ``open_specs``."""
    c = counties[counties["adcode"].isin(adcodes)]
    return pd.DataFrame({"adcode": c["adcode"], "name": c["name"], "lon": c["seat_lon"].astype(float),
                         "lat": c["seat_lat"].astype(float), "prefecture_adcode": c["prefecture_adcode"],
                         "province_adcode": c["province_adcode"]})


# Dashboard only: the builder's default repair levels of county stations (a scenario that keeps
# them changes no capability).
COUNTY_LEVELS = (1,)


def scenario_from_form(name: str, close: list[str], add_centre: str | None, add_count: int,
                       county_levels: list[int], target_min: int, opened: list[dict] | None = None,
                       description: str = "", open_staff: int = 0, remove: dict[str, int] | None = None,
                       move: dict[str, str] | None = None) -> Scenario:
    """A ``dispatch.scenarios.Scenario`` from the builder's fields (raises on a bad name): new
    stations open with ``open_staff`` technicians each."""
    opened = list(opened or [])
    doc: dict = {"name": name.strip(), "description": description, "close": list(close), "open": opened}
    add = [{"centre_id": o["id"], "count": int(open_staff)} for o in opened if open_staff]
    if add_centre and add_count:
        add.append({"centre_id": add_centre, "count": int(add_count)})
    if add:
        doc["add"] = add
    if remove:
        doc["remove"] = [{"centre_id": c, "count": int(n)} for c, n in remove.items() if n]
    if move:
        doc["move"] = dict(move)
    if county_levels and sorted(county_levels) != list(COUNTY_LEVELS):
        doc["capabilities"] = {3: sorted(int(v) for v in county_levels)}
    if target_min and int(target_min) != TARGET_MIN:
        doc["dispatch_target_min"] = int(target_min)
    return Scenario.from_dict(doc)


def suggested_scenario(ds: Dataset, suggested: pd.DataFrame, staff: int | None = None) -> Scenario:
    """A scenario that opens the suggested stations, each with ``staff`` technicians (default:
    ``default_staff``), and changes nothing else."""
    return scenario_from_form(f"open {len(suggested)} suggested", [], None, 0, list(COUNTY_LEVELS), TARGET_MIN,
                              open_specs(ds, suggested), "from Suggest stations",
                              open_staff=default_staff(ds) if staff is None else staff)


@dataclass(frozen=True)
class ComparisonResult:
    names: tuple[str, ...]
    table: pd.DataFrame  # readable rows, see formatting.comparison_table
    county_minutes: dict[str, pd.DataFrame]  # run name -> per-county minutes (coverage shading)
    warnings: dict[str, tuple[str, ...]]
    networks: dict[str, Network]  # run name -> the network it runs on (what its map draws)


def compare_scenarios(area: Dataset, scenarios: list[Scenario], counties: pd.DataFrame, day: int, level: int = 1,
                      seed: int = 0, plan: bool = True, routing_max_s: float = 2.0,
                      progress: Progress | None = None, travel_spec: str | None = None) -> ComparisonResult:
    """Base and scenarios on the same calls with ``dispatch.scenarios.compare`` (coverage, cost
    and a day plan of the area), plus each run's county travel minutes for the maps, all with the
    travel model of ``travel_spec`` (the sidebar's; None: the default)."""
    opts = CompareOptions(plan=plan, day=day, seed=seed, routing_max_s=routing_max_s, travel=travel_spec)
    comp = compare(area, scenarios, opts, progress=progress)
    travel = DEFAULT_TRAVEL if travel_spec is None else travel_from_spec(travel_spec)
    minutes = {"base": county_coverage(area, counties, level, travel)}
    networks = {"base": area.network}
    for sc in scenarios:
        applied = apply(area, sc, seed).dataset
        minutes[sc.name] = county_coverage(applied, counties, level, travel)
        networks[sc.name] = applied.network
    names = ("base", *(sc.name for sc in scenarios))
    return ComparisonResult(names, comparison_table(comp.table), minutes, comp.warnings, networks)


def minutes_difference(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per county: b's minutes minus a's (negative: the scenario brings the county closer)."""
    m = a[["adcode", "name", "minutes"]].merge(b[["adcode", "minutes"]], on="adcode", suffixes=("_a", "_b"))
    m["delta"] = m["minutes_b"] - m["minutes_a"]
    return m
