"""The travel interface and its flat model: great-circle distance, integer matrices, specs, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.travel import DEFAULT_TRAVEL, Travel, TravelSpecError, haversine_m, travel_from_spec


def test_haversine_known_distance():
    """Beijing to Shanghai is about 1,067 km great circle."""
    d = haversine_m(116.4074, 39.9042, 121.4737, 31.2304)
    assert d == pytest.approx(1_067_000, rel=0.005)


def test_matrix_is_integer_symmetric_and_zero_diagonal():
    """Travel matrices are integer seconds and metres, symmetric with a zero diagonal, by hand-computed detour and speed."""
    model = travel_from_spec("flat:detour=1.3,overhead_s=300,car=36")
    lon = np.array([120.0, 120.1, 120.0])
    lat = np.array([30.0, 30.0, 30.1])
    travel, dist = model.matrices(lon, lat)
    assert travel.dtype == np.int64 and dist.dtype == np.int64
    assert (np.diag(dist) == 0).all() and (np.diag(travel[0]) == 0).all()
    assert (dist == dist.T).all()
    # 0.1 deg latitude = 11,119 m great circle; x1.3 = 14,455 m; at 10 m/s = 1,446 s (+300 overhead)
    assert dist[0, 2] == 14_455
    assert travel[0, 0, 2] == 1_446 + 300
    t, d = model.legs(lon[0], lat[0], lon[2], lat[2], "car")
    assert (int(t), int(d)) == (1_746, 14_455)


def test_reach_bounds_every_leg_of_that_time():
    """No leg within the reach's time covers more straight-line metres than reach_m says."""
    lon = 120.0 + np.linspace(0, 1.5, 200)
    t, _ = DEFAULT_TRAVEL.legs(120.0, 30.0, lon, 30.0)
    crow = haversine_m(120.0, 30.0, lon, 30.0)
    for limit in (1800, 3600, 7200):
        assert crow[t <= limit].max() <= DEFAULT_TRAVEL.reach_m(limit) + 1


def test_spec_round_trips_and_default_is_the_protocol():
    """A model's spec rebuilds it; the default satisfies the Travel protocol."""
    assert isinstance(DEFAULT_TRAVEL, Travel)
    model = travel_from_spec("flat:detour=1.2,car=50,scooter=20")
    assert travel_from_spec(model.spec) == model
    assert model.speed_classes == ("car", "scooter")


def test_unknown_speed_class_is_a_clear_error():
    """An unknown speed class is a clear error naming it."""
    with pytest.raises(ValueError, match="unknown speed class 'boat'"):
        DEFAULT_TRAVEL.legs(120.0, 30.0, 120.1, 30.0, "boat")


@pytest.mark.parametrize("spec, message", [
    ("lorry", "unknown model 'lorry'"),
    ("flat:detour", "'detour' is not key=value"),
    ("flat:detour=fast", "detour='fast' is not a number"),
    ("flat:detour=0.5", "detour must be >= 1.0"),
])
def test_bad_spec_says_what_is_wrong(spec, message):
    """A bad travel spec names the model or parameter at fault."""
    with pytest.raises(TravelSpecError, match=message):
        travel_from_spec(spec)


def test_spec_from_the_environment(monkeypatch):
    """DISPATCH_TRAVEL chooses the model when no spec is given."""
    monkeypatch.setenv("DISPATCH_TRAVEL", "flat:car=60")
    assert travel_from_spec().legs(120.0, 30.0, 120.0, 30.1)[0] < DEFAULT_TRAVEL.legs(120.0, 30.0, 120.0, 30.1)[0]


def test_no_module_outside_the_travel_package_constructs_a_concrete_model():
    """Everything else takes a ``Travel`` or builds one from a spec (``travel_from_spec``): no call
    of a model class outside ``dispatch/travel`` (an ``isinstance`` check is no construction)."""
    import ast
    from pathlib import Path

    import dispatch.travel as pkg

    root = Path(pkg.__file__).resolve().parents[2]
    travel_dir = root / "dispatch" / "travel"
    classes = {"FlatTravel", "RoadTravel", "MatrixFileTravel", "ProviderTravel"}
    found = []
    for path in [*(root / "dispatch").rglob("*.py"), *(root / "dashboard").rglob("*.py")]:
        if travel_dir in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in classes:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {name}(...)")
    assert not found, found
