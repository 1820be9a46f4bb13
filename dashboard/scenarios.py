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
from dispatch.scenarios import CompareOptions, Scenario, apply, compare
from dispatch.travel import DEFAULT_TRAVEL, drive_s

# The coverage budget of the shading, the tiles and the suggestions (dispatch.coverage's default).
COVERAGE_MIN = 60.0


def demand_weights(counties: pd.DataFrame) -> np.ndarray:
    """Each county's demand weight (``dispatch.geodata.county_demand_weights``), 0 if unknown."""
    w = county_demand_weights(load_geography()).set_index("adcode")["weight"]
    return counties["adcode"].map(w).fillna(0.0).to_numpy(float)


def county_coverage(ds: Dataset, counties: pd.DataFrame, level: int) -> pd.DataFrame:
    """Per county: travel minutes from its seat to the nearest centre able to repair ``level``
    (the coverage shading), and its demand weight."""
    mask = np.array([c.can_repair(level) for c in ds.network])
    t, idx = nearest_travel_s(ds.network, counties["seat_lon"].to_numpy(float),
                              counties["seat_lat"].to_numpy(float), mask)
    return pd.DataFrame({
        "adcode": counties["adcode"].to_numpy(), "name": counties["name"].to_numpy(),
        "minutes": np.round(t / 60, 1),
        "nearest": [ds.network.centres[int(j)].id if j >= 0 else "" for j in idx],
        "weight": demand_weights(counties),
    })


def coverage_shares(ds: Dataset, counties: pd.DataFrame, minutes: float = COVERAGE_MIN) -> dict[str, float]:
    """Demand-weighted share of the area's counties within ``minutes`` of a centre able to
    repair each level (``dispatch.coverage.coverage_table``)."""
    demand = pd.DataFrame({"lon": counties["seat_lon"].to_numpy(float), "lat": counties["seat_lat"].to_numpy(float),
                           "weight": demand_weights(counties),
                           "province_adcode": counties["province_adcode"].to_numpy()})
    if demand.empty or demand["weight"].sum() <= 0:
        return {}
    row = coverage_table(ds.network, demand, minutes).loc["national"]
    return {f"level{lv}": float(row[f"level{lv}_within_{int(minutes)}min"]) for lv in (1, 2, 3)}


def seat_points(counties: pd.DataFrame) -> pd.DataFrame:
    """The county seats as lon/lat points (what the network maps fit their view to)."""
    return counties.rename(columns={"seat_lon": "lon", "seat_lat": "lat"})


def closable_stations(ds: Dataset) -> list[str]:
    """The stations a scenario may close: every centre below the provincial lab."""
    return sorted(c.id for c in ds.network if c.tier != Tier.PROVINCE)


def suggest_stations(ds: Dataset, counties: pd.DataFrame, new: int, minutes: float = COVERAGE_MIN) -> pd.DataFrame:
    """Where ``new`` more county stations would cover most demand within ``minutes``: greedy
    maximal covering over the area's county seats, with the existing stations locked open."""
    seats = counties.reset_index(drop=True)
    lon, lat = seats["seat_lon"].to_numpy(float), seats["seat_lat"].to_numpy(float)
    stations = [c for c in ds.network if c.tier != Tier.PROVINCE]
    slon = np.array([c.lon for c in stations])
    slat = np.array([c.lat for c in stations])
    site_lon = np.concatenate([slon, lon])
    site_lat = np.concatenate([slat, lat])
    site_ids = [c.id for c in stations] + [f"county:{a}" for a in seats["adcode"]]
    cost = drive_s(DEFAULT_TRAVEL, lon[:, None], lat[:, None], site_lon[None, :], site_lat[None, :])
    weights = demand_weights(seats)
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


# Dashboard only: the builder's default repair levels of county stations (a scenario that keeps
# them changes no capability).
COUNTY_LEVELS = (1,)


def scenario_from_form(name: str, close: list[str], add_centre: str | None, add_count: int,
                       county_levels: list[int], target_min: int, opened: list[dict] | None = None,
                       description: str = "") -> Scenario:
    """A ``dispatch.scenarios.Scenario`` from the builder's fields (raises on a bad name)."""
    doc: dict = {"name": name.strip(), "description": description, "close": list(close),
                 "open": list(opened or [])}
    if add_centre and add_count:
        doc["add"] = [{"centre_id": add_centre, "count": int(add_count)}]
    if county_levels and sorted(county_levels) != list(COUNTY_LEVELS):
        doc["capabilities"] = {3: sorted(int(v) for v in county_levels)}
    if target_min and int(target_min) != TARGET_MIN:
        doc["dispatch_target_min"] = int(target_min)
    return Scenario.from_dict(doc)


def suggested_scenario(ds: Dataset, suggested: pd.DataFrame) -> Scenario:
    """A scenario that opens the suggested stations and changes nothing else."""
    return scenario_from_form(f"open {len(suggested)} suggested", [], None, 0, list(COUNTY_LEVELS), TARGET_MIN,
                              open_specs(ds, suggested), "from Suggest stations")


@dataclass(frozen=True)
class ComparisonResult:
    names: tuple[str, ...]
    table: pd.DataFrame  # readable rows, see formatting.comparison_table
    county_minutes: dict[str, pd.DataFrame]  # run name -> per-county minutes (coverage shading)
    warnings: dict[str, tuple[str, ...]]


def compare_scenarios(area: Dataset, scenarios: list[Scenario], counties: pd.DataFrame, day: int, level: int = 1,
                      seed: int = 0, plan: bool = True, routing_max_s: float = 2.0,
                      progress: Progress | None = None) -> ComparisonResult:
    """Base and scenarios on the same calls with ``dispatch.scenarios.compare`` (coverage, cost
    and a day plan of the area), plus each run's county travel minutes for the maps."""
    opts = CompareOptions(plan=plan, day=day, seed=seed, routing_max_s=routing_max_s)
    comp = compare(area, scenarios, opts, progress=progress)
    minutes = {"base": county_coverage(area, counties, level)}
    for sc in scenarios:
        minutes[sc.name] = county_coverage(apply(area, sc, seed).dataset, counties, level)
    names = ("base", *(sc.name for sc in scenarios))
    return ComparisonResult(names, comparison_table(comp.table), minutes, comp.warnings)


def minutes_difference(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per county: b's minutes minus a's (negative: the scenario brings the county closer)."""
    m = a[["adcode", "name", "minutes"]].merge(b[["adcode", "minutes"]], on="adcode", suffixes=("_a", "_b"))
    m["delta"] = m["minutes_b"] - m["minutes_a"]
    return m
