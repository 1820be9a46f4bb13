"""Shared fixtures: the shared data folder and a tiny three-tier network with its technicians and calls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dispatch.dataset import Dataset
from dispatch.model import Mode, Request, Technician
from dispatch.network import Network
from tests.builders import EPOCH, NETWORK, TECHS, req

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The shared data folder (``DISPATCH_SHARED_DIR``, else ``shared/`` beside the repository)."""
    return Path(os.environ.get("DISPATCH_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; a test that needs it is skipped where it is absent."""
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set DISPATCH_SHARED_DIR)")
    return path


# ---- tiny shared fixtures (the values are built in tests/builders.py) --------------------------

@pytest.fixture(scope="session")
def network() -> Network:
    """The three-tier chain: P1 Hangzhou lab (09-21) > C1 Huzhou centre (09-19) > S1 Deqing
    station (09-18), real seats in Zhejiang."""
    return NETWORK


@pytest.fixture(scope="session")
def technicians() -> tuple[Technician, ...]:
    """Two technicians on shift 08-17: T1 at S1 (level 1, any product), T2 at C1 (level 2, phones)."""
    return TECHS[:2]


@pytest.fixture(scope="session")
def calls() -> dict[str, Request]:
    """A handful of calls next to S1 on the epoch day, by kind: an on-site level-1 call at 10:00,
    a level-2 pickup at 11:00, a walk-in at 14:00, and a pickup at 19:30, after every centre of
    the chain but P1 has closed."""
    return {
        "onsite": req("ON", 1, Mode.ONSITE, created_h=10),
        "pickup": req("PU", 2, Mode.PICKUP, created_h=11),
        "walkin": req("WI", 1, Mode.WALKIN, created_h=14),
        "after_hours": req("AH", 1, Mode.PICKUP, created_h=19.5),
    }


@pytest.fixture(scope="session")
def dataset(network: Network, technicians: tuple[Technician, ...], calls: dict[str, Request]) -> Dataset:
    """The chain, its two technicians and the handful of calls as one dataset."""
    return Dataset(network, technicians, tuple(calls.values()), EPOCH)
