"""Plan store: round trip, atomic replace, on SQLite and PostgreSQL (conftest's ``store_url``: a
fresh database per test; PostgreSQL where DISPATCH_TEST_PG_URL is set, as .ci/run does)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from dispatch.errors import DispatchError
from dispatch.store import Store

FRAMES = {
    "stops": pd.DataFrame({"technician_id": ["T1", "T1"], "sequence": [1, 2], "start_s": [36000, 39600]}),
    "outcomes": pd.DataFrame({"request_id": ["R1", "R2"], "dispatch_s": [35000.0, float("nan")]}),
}


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


def test_round_trip(store):
    """A saved plan loads back with the same frames, params, KPIs and fingerprint, listed once."""
    store.save("test-day1", FRAMES, {"time_limit_s": 5, "seed": 1}, {"dispatch_within_target_rate": 0.99}, "f" * 64)
    got = store.load("test-day1")
    assert got.params == {"time_limit_s": 5, "seed": 1}
    assert got.kpis == {"dispatch_within_target_rate": 0.99}
    assert got.dataset_fingerprint == "f" * 64
    for name, frame in FRAMES.items():
        pd.testing.assert_frame_equal(got.frames[name], frame)
    assert list(store.list()["name"]).count("test-day1") == 1


def test_crash_mid_write_keeps_previous_plan(store):
    """A crash in the middle of a save leaves the previous plan of that name intact."""
    store.save("test-day2", FRAMES, {"v": 1}, {"k": 1}, "a" * 64)

    def crash(frame_name):
        if frame_name == "outcomes":
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        store.save("test-day2", {**FRAMES, "stops": FRAMES["stops"].head(1)}, {"v": 2}, {"k": 2}, "b" * 64, _fail_after=crash)
    got = store.load("test-day2")
    assert got.params == {"v": 1} and got.dataset_fingerprint == "a" * 64
    pd.testing.assert_frame_equal(got.frames["stops"], FRAMES["stops"])


def test_missing_plan_names_the_stored_ones(store):
    """Loading an unknown plan is a DispatchError naming the stored ones."""
    store.save("test-day3", FRAMES, {}, {}, "c" * 64)
    with pytest.raises(DispatchError, match="no plan 'nope' in .*stored plans: .*test-day3"):
        store.load("nope")
