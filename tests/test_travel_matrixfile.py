"""The matrix-file model: a plan's routes take exactly the file's times; missing pairs are counted; bad files are named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dispatch.plan import PlanParams, make_plan
from dispatch.synthetic import generate
from dispatch.travel import DEFAULT_SPEC, TravelSpecError, travel_from_spec, travel_record


def _points(ds):
    pts = [(c.id, c.lon, c.lat) for c in ds.network] + [(r.id, r.lon, r.lat) for r in ds.requests]
    return pd.DataFrame(pts, columns=["id", "lon", "lat"])


def _file_times(i: int, j: int, cls: str) -> tuple[int, int]:
    """Times no formula of the planner's would give: distinct per ordered pair and class."""
    return (600 + 37 * i + 11 * j + (900 if cls == "scooter" else 0), 1000 + 13 * i + 7 * j)


def test_a_plan_on_a_matrix_file_has_exactly_the_files_times(tmp_path):
    """Every stop's travel and distance from the previous place (home first) is the file's, for
    the technician's speed class; the run records no fallback."""
    ds = generate("tiny", days=1, seed=3)
    pts = _points(ds)
    rows = [(a, b, cls, *_file_times(i, j, cls))
            for i, a in enumerate(pts["id"]) for j, b in enumerate(pts["id"]) if i != j
            for cls in ("car", "scooter")]
    pairs = pd.DataFrame(rows, columns=["from_id", "to_id", "speed_class", "travel_s", "distance_m"])
    pairs.to_parquet(tmp_path / "m.parquet")
    pts.to_parquet(tmp_path / "points.parquet")
    model = travel_from_spec(f"matrix:file={tmp_path / 'm.parquet'},points={tmp_path / 'points.parquet'}")
    plan = make_plan(ds, PlanParams(seed=3, deterministic=True), travel=model)
    assert len(plan.stops) > 10
    index = {pid: k for k, pid in enumerate(pts["id"])}
    techs = {t.id: t for t in ds.technicians}
    for tid, stops in plan.stops.sort_values("sequence").groupby("technician_id"):
        prev = techs[tid].home_centre_id
        for s in stops.itertuples():
            want = _file_times(index[prev], index[s.request_id], techs[tid].speed_class)
            assert (s.travel_s, s.distance_m) == want
            prev = s.request_id
    assert travel_record(model) == {"travel": model.spec}


def test_pairs_missing_from_the_file_fall_back_with_a_count_and_a_warning(tmp_path):
    """A pair the file lacks is asked of the default model, warned about and counted in the record."""
    pd.DataFrame({"from_lon": [120.0], "from_lat": [30.0], "to_lon": [120.1], "to_lat": [30.0],
                  "travel_s": [1234], "distance_m": [9876]}).to_parquet(tmp_path / "m.parquet")
    model = travel_from_spec(str(tmp_path / "m.parquet"))
    with pytest.warns(UserWarning, match="1 pair"):
        t, d = model.legs(120.0, 30.0, np.array([120.1, 120.2, 120.0]), 30.0)
    assert (t[0], d[0]) == (1234, 9876) and t[2] == 0
    t, d = model.legs(120.0, 30.0, 120.2, 30.0)  # said once, counted always
    assert t == travel_from_spec(DEFAULT_SPEC).legs(120.0, 30.0, 120.2, 30.0)[0]  # the road model, by default
    rec = travel_record(model)
    assert rec["travel_fallbacks"] == 2 and rec["travel_fallback_model"] == DEFAULT_SPEC == "road"


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"a": [1]}), "expected columns"),
    (pd.DataFrame({"from_lon": [120.0], "from_lat": [30.0], "to_lon": [120.1], "to_lat": [30.0],
                   "travel_s": ["soon"], "distance_m": [1]}), "row 2, column travel_s: 'soon'"),
    (pd.DataFrame({"from_lon": [120.0, 120.0], "from_lat": [30.0] * 2, "to_lon": [120.1] * 2, "to_lat": [30.0] * 2,
                   "travel_s": [1, 2], "distance_m": [1, 2]}), "row 3 repeats a pair"),
])
def test_a_bad_matrix_file_names_row_column_and_value(tmp_path, frame, message):
    frame.to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(TravelSpecError, match=message):
        travel_from_spec(f"matrix:file={tmp_path / 'm.csv'}")
