"""Cached loaders of the manager's pages (network & coverage, simulation): county coverage,
saved scenarios, simulated days. Apart from ``dashboard.loaders`` so that the dispatch board,
which needs none of them, does not import the coverage models and the simulator before its
first paint (about a second of imports on a fresh server)."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard import data, scenarios
from dashboard import state as S
from dashboard.loaders import Selection, fingerprint, geography, store, travel_model
from dashboard.simulation import SimComparison, sim_calls, simulate_pair
from dispatch.dataset import Dataset
from dispatch.scenarios import Scenario, apply
from dispatch.travel import DEFAULT_SPEC


@st.cache_data(show_spinner=False, max_entries=32)
def county_coverage(key: tuple, _ds: Dataset, province: str, prefecture: str, level: int,
                    travel_spec: str = DEFAULT_SPEC) -> pd.DataFrame:
    return scenarios.county_coverage(_ds, data.area_counties(geography(), province, prefecture), level,
                                     travel_model(travel_spec))


@st.cache_data(show_spinner=False, max_entries=32)
def coverage_shares(key: tuple, _ds: Dataset, province: str, prefecture: str,
                    travel_spec: str = DEFAULT_SPEC) -> dict[str, float]:
    return scenarios.coverage_shares(_ds, data.area_counties(geography(), province, prefecture),
                                     travel=travel_model(travel_spec))


def saved_scenarios(sel: Selection) -> tuple[dict[str, Scenario], str | None]:
    """Scenarios of this session plus those saved in the store for this dataset and area
    (name -> Scenario), and the store's error if it could not be read."""
    saved = dict(st.session_state[S.SCENARIOS])
    try:
        for r in store().list_scenarios().itertuples(index=False):
            base = json.loads(r.base_json)
            if base.get("dataset") == sel.label and tuple(base.get("area", ())) == sel.area_key and r.name not in saved:
                saved[r.name] = Scenario.from_dict(json.loads(r.spec_json))
    except Exception as exc:  # noqa: BLE001 - a store that cannot be read must not take the page down
        return saved, str(exc)
    return saved, None


@st.cache_resource(max_entries=16, show_spinner="Generating the calls…")
def _sim_area(label: str, fingerprint: str, province: str, prefecture: str, days: int, _ds: Dataset) -> Dataset:
    return data.restrict(sim_calls(_ds, days), province, prefecture)


def sim_dataset(sel: Selection, days: int, scenario: Scenario | None = None) -> Dataset:
    """The selection's area with ``days`` days of calls, under ``scenario`` if one is given."""
    ds = _sim_area(sel.label, fingerprint(sel.full), sel.province, sel.prefecture, int(days), sel.full)
    if scenario is None:
        return ds
    return apply(ds, scenario, sel.seed).dataset


def sim_key(sel: Selection, days: int, scenario_name: str, scenario: Scenario | None = None) -> tuple:
    """Everything a simulation depends on: the dataset (by content), area, days, seed, scenario."""
    spec = json.dumps(scenario.to_dict(), sort_keys=True, default=str) if scenario is not None else ""
    return (sel.label, fingerprint(sel.full), sel.province, sel.prefecture, int(days), sel.seed,
            scenario_name, spec, sel.travel_spec)


@st.cache_data(show_spinner=False, max_entries=16)
def simulation(key: tuple, _ds: Dataset, days: int, seed: int, scenario_name: str,
               travel_spec: str = DEFAULT_SPEC) -> SimComparison:
    """Both policies on the same calls, cached by ``key`` (``sim_key``). The progress bar is made
    and removed inside, so a cache hit replays nothing visible."""
    bar = st.progress(0.0, text=f"Simulating {len(_ds.requests)} calls over {days} day(s)…")
    try:
        return simulate_pair(_ds, days, seed, scenario_name, sink=lambda f, text: bar.progress(f, text=text),
                             travel=travel_model(travel_spec))
    finally:
        bar.empty()
