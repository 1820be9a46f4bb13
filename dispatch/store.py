"""Persistence of plans, scenarios (and later simulation runs) in a real database.

SQLAlchemy Core over SQLite by default (a file, nothing to start) or any PostgreSQL URL
(``postgresql+psycopg://user@host/db``). A plan is one row in ``plans`` (name, inputs'
fingerprint, parameters, KPIs) plus its frames (stops, routes, outcomes, ...) as Parquet blobs in
``plan_frames``. Saving is one transaction: a failure part-way leaves the previous plan of the
same name intact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from dispatch.errors import DispatchError

DB_ENV = "DISPATCH_DB"
DEFAULT_DB = "sqlite:///dispatch.sqlite"

metadata = MetaData()

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(40), nullable=False, default="plan"),  # plan | simulation | scenario
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("dataset_fingerprint", String(64), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("kpis_json", Text, nullable=False),
)

plan_frames = Table(
    "plan_frames",
    metadata,
    Column("plan_id", Integer, ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(80), primary_key=True),
    Column("parquet", LargeBinary, nullable=False),
)

# A scenario is a small JSON document (its changes) plus the base it was validated against
# (source folder or preset, seed), so ``scenario apply/compare`` rebuild the same base later.
scenarios = Table(
    "scenarios",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("base_json", Text, nullable=False),
    Column("spec_json", Text, nullable=False),
)


# The call-intake service's log (dispatch.service): every acknowledged call and every status
# change or drop-out, in the order the live plan applied them (``seq``), per served network/day
# (``scope``). A call's id is its idempotency key: unique within a scope, so a retried POST finds
# the first answer instead of adding a second row; status events leave ``idem`` NULL (NULLs never
# collide in a unique constraint, on SQLite and PostgreSQL alike).
service_log = Table(
    "service_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(100), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # call | status | unavailable
    Column("key", String(100), nullable=False),  # call id, job id or technician id
    Column("idem", String(100), nullable=True),
    Column("at_s", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("payload_json", Text, nullable=False),  # what the live plan needs to replay it
    Column("answer_json", Text, nullable=False),  # the answer that was acknowledged
    UniqueConstraint("scope", "idem", name="uq_service_log_scope_idem"),
)


def database_url(url: str | None = None) -> str:
    """``url``, else ``DISPATCH_DB``, else a SQLite file in the working directory."""
    url = url or os.environ.get(DB_ENV) or DEFAULT_DB
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    elif "://" not in url:  # a bare path means a SQLite file
        url = f"sqlite:///{Path(url)}"
    return url


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


@dataclass(frozen=True)
class StoredPlan:
    id: int
    name: str
    kind: str
    created_at: dt.datetime
    dataset_fingerprint: str
    params: dict[str, Any]
    kpis: dict[str, Any]
    frames: dict[str, pd.DataFrame]


class Store:
    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        if self.url.startswith("sqlite:///") and self.url != "sqlite:///:memory:":
            Path(self.url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(self.url, future=True)
        except Exception as exc:
            raise DispatchError(f"cannot open database {self.url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            metadata.create_all(self.engine)
        except Exception as exc:
            raise DispatchError(f"cannot open database {self.url!r}: {exc}") from exc

    def save(
        self, name: str, frames: dict[str, pd.DataFrame], params: Any, kpis: dict[str, Any],
        fingerprint: str, kind: str = "plan", _fail_after: Callable[[str], None] | None = None,
    ) -> int:
        """Insert (or replace) a plan by name in one transaction; returns its id."""
        blobs = {k: _frame_bytes(v) for k, v in frames.items()}  # serialise before touching the DB
        with self.engine.begin() as conn:
            conn.execute(delete(plans).where(plans.c.name == name))
            pid = conn.execute(
                insert(plans).values(
                    name=name, kind=kind, created_at=dt.datetime.now(dt.timezone.utc),
                    dataset_fingerprint=fingerprint,
                    params_json=json.dumps(_jsonable(params), sort_keys=True),
                    kpis_json=json.dumps(_jsonable(kpis), sort_keys=True),
                )
            ).inserted_primary_key[0]
            for frame_name, blob in blobs.items():
                if _fail_after is not None:
                    _fail_after(frame_name)  # tests inject a crash here
                conn.execute(insert(plan_frames).values(plan_id=pid, name=frame_name, parquet=blob))
        return int(pid)

    def list(self, kind: str | None = None) -> pd.DataFrame:
        q = select(plans.c.id, plans.c.name, plans.c.kind, plans.c.created_at,
                   plans.c.dataset_fingerprint, plans.c.kpis_json).order_by(plans.c.id)
        if kind:
            q = q.where(plans.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return pd.DataFrame([dict(r._mapping) for r in rows],
                            columns=["id", "name", "kind", "created_at", "dataset_fingerprint", "kpis_json"])

    def load(self, name_or_id: str | int) -> StoredPlan:
        with self.engine.connect() as conn:
            cond = plans.c.id == int(name_or_id) if str(name_or_id).isdigit() else plans.c.name == str(name_or_id)
            row = conn.execute(select(plans).where(cond)).first()
            if row is None:
                names = [r[0] for r in conn.execute(select(plans.c.name).order_by(plans.c.id)).all()]
                raise DispatchError(
                    f"no plan {name_or_id!r} in {self.url}; stored plans: {', '.join(names) or 'none'}"
                )
            frames = {
                r.name: pd.read_parquet(io.BytesIO(r.parquet))
                for r in conn.execute(select(plan_frames).where(plan_frames.c.plan_id == row.id)).all()
            }
        return StoredPlan(row.id, row.name, row.kind, row.created_at, row.dataset_fingerprint,
                          json.loads(row.params_json), json.loads(row.kpis_json), frames)

    def delete(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(plans).where(plans.c.name == name))

    # ---- scenarios (added beside plans; the plan API above is unchanged) ----

    def save_scenario(self, name: str, spec: dict[str, Any], base: dict[str, Any],
                      description: str = "") -> int:
        """Insert (or replace) a scenario by name in one transaction; returns its id."""
        with self.engine.begin() as conn:
            conn.execute(delete(scenarios).where(scenarios.c.name == name))
            sid = conn.execute(
                insert(scenarios).values(
                    name=name, created_at=dt.datetime.now(dt.timezone.utc), description=description,
                    base_json=json.dumps(_jsonable(base), sort_keys=True),
                    spec_json=json.dumps(_jsonable(spec), sort_keys=True, ensure_ascii=False),
                )
            ).inserted_primary_key[0]
        return int(sid)

    def list_scenarios(self) -> pd.DataFrame:
        q = select(scenarios.c.id, scenarios.c.name, scenarios.c.created_at, scenarios.c.description,
                   scenarios.c.base_json, scenarios.c.spec_json).order_by(scenarios.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return pd.DataFrame([dict(r._mapping) for r in rows],
                            columns=["id", "name", "created_at", "description", "base_json", "spec_json"])

    def load_scenario(self, name: str) -> StoredScenario:
        with self.engine.connect() as conn:
            row = conn.execute(select(scenarios).where(scenarios.c.name == str(name))).first()
            if row is None:
                names = [r[0] for r in conn.execute(select(scenarios.c.name).order_by(scenarios.c.id)).all()]
                raise DispatchError(
                    f"no scenario {name!r} in {self.url}; stored scenarios: {', '.join(names) or 'none'}"
                )
        return StoredScenario(row.id, row.name, row.created_at, row.description,
                              json.loads(row.base_json), json.loads(row.spec_json))

    # ---- call-intake service log (added beside plans and scenarios; nothing above changes) ----

    def append_service_entry(self, scope: str, kind: str, key: str, at_s: int,
                             payload: dict[str, Any], answer: dict[str, Any],
                             idem: str | None = None) -> int:
        """Commit one entry of the service log; returns its sequence number. A second entry
        with the same ``idem`` in the scope raises :class:`DuplicateEntryError`."""
        from sqlalchemy.exc import IntegrityError

        try:
            with self.engine.begin() as conn:
                seq = conn.execute(insert(service_log).values(
                    scope=scope, kind=kind, key=key, idem=idem, at_s=int(at_s),
                    created_at=dt.datetime.now(dt.timezone.utc),
                    payload_json=json.dumps(_jsonable(payload), sort_keys=True, ensure_ascii=False),
                    answer_json=json.dumps(_jsonable(answer), sort_keys=True, ensure_ascii=False),
                )).inserted_primary_key[0]
        except IntegrityError as exc:
            raise DuplicateEntryError(f"{kind} {idem!r} is already in the service log of scope {scope!r}") from exc
        return int(seq)

    def service_entries(self, scope: str, kind: str | None = None) -> list[ServiceEntry]:
        """The scope's log in the order it was applied."""
        q = select(service_log).where(service_log.c.scope == scope).order_by(service_log.c.seq)
        if kind:
            q = q.where(service_log.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [ServiceEntry(r.seq, r.scope, r.kind, r.key, r.idem, r.at_s, json.loads(r.payload_json),
                             json.loads(r.answer_json)) for r in rows]


class DuplicateEntryError(DispatchError):
    """An idempotency key that is already in the service log."""


@dataclass(frozen=True)
class ServiceEntry:
    seq: int
    scope: str
    kind: str
    key: str
    idem: str | None
    at_s: int
    payload: dict[str, Any]
    answer: dict[str, Any]


@dataclass(frozen=True)
class StoredScenario:
    id: int
    name: str
    created_at: dt.datetime
    description: str
    base: dict[str, Any]  # source / preset / seed / days / population the scenario was made on
    spec: dict[str, Any]  # Scenario.to_dict()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the dashboard) do not block a writer
    cur.close()
