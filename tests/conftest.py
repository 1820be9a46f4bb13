"""Shared fixtures: the shared data folder, a tiny three-tier network with its technicians and calls,
and fresh stores on both engines (SQLite, PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from dispatch.dataset import Dataset
from dispatch.model import Mode, Request, Technician
from dispatch.network import Network
from dispatch.store import database_url
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


# ---- PostgreSQL: the store's tests run on both engines -----------------------------------------

PG_ENV = "DISPATCH_TEST_PG_URL"


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases (each call one, as a URL) on the server of
    ``DISPATCH_TEST_PG_URL`` (``scripts/pg-test-cluster start`` prints one; .ci/run sets it), so
    that no two tests (nor xdist workers) share tables; dropped at the end of the session. Skips
    without the variable; a set variable whose server does not answer is an error, not a skip."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL not tested: {PG_ENV} is not set (.ci/run sets it; by hand: "
                    f"export {PG_ENV}=$(scripts/pg-test-cluster start), a throw-away cluster)")
    server = make_url(database_url(url))
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the same here
        pytest.fail(f"{PG_ENV} is set but its server does not answer: {exc}")
    made: list[str] = []

    def fresh() -> str:
        name = f"dispatch_t_{uuid.uuid4().hex[:16]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    yield fresh
    with admin.connect() as conn:
        for name in made:  # FORCE: a test's store may still hold pooled connections
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_databases: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for this test (skips without DISPATCH_TEST_PG_URL)."""
    return pg_databases()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store on each engine in turn: a new SQLite file, a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return str(request.getfixturevalue("pg_databases")())
