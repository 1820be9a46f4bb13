"""Persistence of plans, scenarios (and later simulation runs) in a real database.

SQLAlchemy Core over SQLite by default (a file, nothing to start) or any PostgreSQL URL
(``postgresql+psycopg://user@host/db``). A plan is one row in ``plans`` (name, inputs'
fingerprint, parameters, KPIs) plus its frames (stops, routes, outcomes, ...) as Parquet blobs in
``plan_frames``. Saving is one transaction: a failure part-way leaves the previous plan of the
same name intact.

The call-intake service's log is here too, with the lease that makes one server the one writer
of a scope's live plan (``acquire_lease``; ``append_service_entry(lease=)`` writes only under it).
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import hashlib
import io
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Float,
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
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from dispatch.errors import DispatchError
from dispatch.lease import (
    DEFAULT_LEASE_TTL_S,
    Lease,
    LeaseHeld,
    LeaseLost,
    as_utc,
    default_holder,
    holder_is_dead,
    local_clock,
    node_id,
    process_id,
)

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

# The one writer of a scope's live plan: the server that holds it until ``expires_at`` (pushed on
# by its heartbeat). ``generation``, +1 at every new holder, is a fencing token. ``node`` and
# ``process`` tell a holder that died on this very machine at once instead of at its expiry.
service_lease = Table(
    "service_lease",
    metadata,
    Column("scope", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),  # host:pid:uuid
    Column("generation", Integer, nullable=False),
    Column("node", String(200), nullable=True),  # host/boot id/pid namespace; None off Linux
    Column("process", String(60), nullable=True),  # pid:start time on that node
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# The outbox of notices to customers whose booked arrival moved (dispatch.service.notices): each
# is written in the transaction of the change that caused it, and delivered to the webhook after
# (at least once; ``notice_id`` lets the receiver drop a repeat). ``delivered_at`` NULL: pending.
notice_outbox = Table(
    "notice_outbox",
    metadata,
    Column("notice_id", String(100), primary_key=True),
    Column("scope", String(100), nullable=False, index=True),
    Column("job_id", String(100), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("old_eta_s", Integer, nullable=True),
    Column("new_eta_s", Integer, nullable=True),  # NULL: nobody is planned to come any more
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("at_s", Integer, nullable=False),  # the change, on the plan's clock
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
)

# The drives the technicians' own reports time (dispatch.service.reports): set off (``dispatched``)
# and arrived (``on_site``), from his last door or his centre to the job's, for the road model's
# calibration on real history (``dispatch travel calibrate --store``; dispatch.travel.calibrate's
# columns). ``depart_at`` is ISO 8601 with its offset. Written with the arrival's log entry.
travel_trips = Table(
    "travel_trips",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(100), nullable=False, index=True),
    Column("job_id", String(100), nullable=False),
    Column("technician_id", String(100), nullable=False),
    Column("speed_class", String(40), nullable=False),
    *(Column(c, Float, nullable=False) for c in ("from_lon", "from_lat", "to_lon", "to_lat")),
    Column("depart_at", String(40), nullable=False),
    Column("duration_s", Integer, nullable=False),
    Column("distance_m", Integer, nullable=True),  # an odometer's, where one is reported
    Column("created_at", DateTime(timezone=True), nullable=False),
)
TRIP_FIELDS = ("job_id", "technician_id", "speed_class", "from_lon", "from_lat", "to_lon", "to_lat", "depart_at",
               "duration_s", "distance_m")

NOTICE_FIELDS = ("notice_id", "job_id", "customer_id", "old_eta_s", "new_eta_s", "reason", "detail", "at_s")


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
            self._create_tables()
        except Exception as exc:
            raise DispatchError(f"cannot open database {self.url!r}: {exc}") from exc

    def _create_tables(self) -> None:
        """Create the missing tables. Two servers started together both find a table missing;
        creating under the writer lock makes the second find it made instead of failing."""
        with self.engine.connect() as conn:
            if set(metadata.tables) <= set(inspect(conn).get_table_names()):
                return  # the usual case: a plain read, no write lock (a read-only file opens)
        with self._locked_tx("dispatch.store.schema", exclusive=True) as (conn, _now):
            metadata.create_all(conn)

    def close(self) -> None:
        """Close the pooled connections (a PostgreSQL server counts them)."""
        self.engine.dispose()

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
                    name=name, kind=kind, created_at=dt.datetime.now(dt.UTC),
                    dataset_fingerprint=fingerprint,
                    params_json=json.dumps(_jsonable(params), sort_keys=True),
                    kpis_json=json.dumps(_jsonable(kpis), sort_keys=True),
                ).returning(plans.c.id)
            ).scalar_one()
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
                    name=name, created_at=dt.datetime.now(dt.UTC), description=description,
                    base_json=json.dumps(_jsonable(base), sort_keys=True),
                    spec_json=json.dumps(_jsonable(spec), sort_keys=True, ensure_ascii=False),
                ).returning(scenarios.c.id)
            ).scalar_one()
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
                             idem: str | None = None, lease: Lease | None = None,
                             notices: Iterable[dict[str, Any]] = (), trips: Iterable[dict[str, Any]] = ()) -> int:
        """Commit one entry of the service log; returns its sequence number. A second entry
        with the same ``idem`` in the scope raises :class:`DuplicateEntryError`. With ``lease``,
        the entry is written only if that lease still holds the scope, checked in the same
        transaction (else :class:`LeaseLost` and nothing is written). ``notices`` (dicts of
        ``NOTICE_FIELDS``) go to the outbox in the same transaction: with the change, or not at all;
        so do ``trips`` (dicts of ``TRIP_FIELDS``: the drives the change completes)."""
        row = {"scope": scope, "kind": kind, "key": key, "idem": idem, "at_s": int(at_s),
               "created_at": dt.datetime.now(dt.UTC),
               "payload_json": json.dumps(_jsonable(payload), sort_keys=True, ensure_ascii=False),
               "answer_json": json.dumps(_jsonable(answer), sort_keys=True, ensure_ascii=False)}
        if lease is not None and lease.scope != scope:
            raise DispatchError(f"the lease of scope {lease.scope!r} cannot guard a write to scope {scope!r}")
        try:
            with self.engine.begin() if lease is None else self.leased(lease) as conn:
                seq = conn.execute(insert(service_log).values(**row).returning(service_log.c.seq)).scalar_one()
                now = row["created_at"]
                for n in notices:
                    conn.execute(insert(notice_outbox).values(
                        scope=scope, created_at=now, attempts=0, next_attempt_at=now,
                        **{k: n.get(k) for k in NOTICE_FIELDS}))
                for trip in trips:
                    conn.execute(insert(travel_trips).values(scope=scope, created_at=now,
                                                             **{k: trip.get(k) for k in TRIP_FIELDS}))
        except IntegrityError as exc:
            raise DuplicateEntryError(f"{kind} {idem!r} is already in the service log of scope {scope!r}") from exc
        return int(seq)

    def service_entries(self, scope: str, kind: str | None = None) -> builtins.list[ServiceEntry]:
        """The scope's log in the order it was applied."""
        q = select(service_log).where(service_log.c.scope == scope).order_by(service_log.c.seq)
        if kind:
            q = q.where(service_log.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [ServiceEntry(r.seq, r.scope, r.kind, r.key, r.idem, r.at_s, json.loads(r.payload_json),
                             json.loads(r.answer_json)) for r in rows]

    def trips(self, scope: str | None = None) -> pd.DataFrame:
        """The technicians' reported drives (``TRIP_FIELDS`` and ``scope``), of one scope or all, oldest first."""
        q = select(travel_trips).order_by(travel_trips.c.id)
        if scope is not None:
            q = q.where(travel_trips.c.scope == scope)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return pd.DataFrame([dict(r._mapping) for r in rows], columns=["id", "scope", *TRIP_FIELDS])

    # ---- the notice outbox ----

    def notices(self, scope: str, pending_only: bool = False, due_at: dt.datetime | None = None,
                limit: int | None = None) -> builtins.list[dict[str, Any]]:
        """The scope's notices, oldest first: all, only the undelivered, or those due for an
        attempt at ``due_at``."""
        q = select(notice_outbox).where(notice_outbox.c.scope == scope)
        if pending_only or due_at is not None:
            q = q.where(notice_outbox.c.delivered_at.is_(None))
        if due_at is not None:
            q = q.where(notice_outbox.c.next_attempt_at <= due_at)
        q = q.order_by(notice_outbox.c.created_at, notice_outbox.c.notice_id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [{k: (as_utc(v) if isinstance(v, dt.datetime) else v) for k, v in r._mapping.items()} for r in rows]

    def notice_attempted(self, notice_id: str, delivered: bool, next_attempt_at: dt.datetime | None = None,
                         error: str | None = None) -> None:
        """Record one delivery attempt: delivered, or failed with the next try's time."""
        now = dt.datetime.now(dt.UTC)
        values: dict[str, Any] = {"attempts": notice_outbox.c.attempts + 1, "last_error": error}
        values |= {"delivered_at": now} if delivered else {"next_attempt_at": next_attempt_at or now}
        with self.engine.begin() as conn:
            conn.execute(update(notice_outbox).where(notice_outbox.c.notice_id == notice_id).values(**values))

    # ---- the single writer's lease (issue 15, class 3) ----

    def acquire_lease(self, scope: str, ttl_s: float = DEFAULT_LEASE_TTL_S, holder: str | None = None,
                      wait_s: float = 0.0) -> Lease:
        """Make ``holder`` (default: this process, ``host:pid:uuid``) the one writer of ``scope``
        for ``ttl_s`` s, renewable, if nobody holds it, its lease expired or was released, or its
        holder's process is dead on this machine; else :class:`LeaseHeld` naming the holder (at
        once, or after ``wait_s`` s of trying). Check and take are one transaction, serialised
        with every lease change and guarded write of the scope (see ``_locked_tx``)."""
        if not ttl_s > 0:
            raise DispatchError(f"a lease's ttl_s must be positive seconds; got {ttl_s!r}")
        holder = holder or default_holder()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return self._take_lease(scope, holder, ttl_s)
            except LeaseHeld:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                time.sleep(min(0.5, left))

    def _take_lease(self, scope: str, holder: str, ttl_s: float) -> Lease:
        node, process = node_id(), process_id(os.getpid())
        with self._locked_tx(scope, exclusive=True) as (conn, now):
            row = conn.execute(select(service_lease).where(service_lease.c.scope == scope)).first()
            expires = now + dt.timedelta(seconds=ttl_s)
            values = {"holder": holder, "node": node, "process": process, "heartbeat_at": now,
                      "expires_at": expires}
            if row is None:
                conn.execute(insert(service_lease).values(scope=scope, generation=1, acquired_at=now, **values))
                return Lease(scope, holder, 1, ttl_s, now, expires)
            row_expires = as_utc(row.expires_at)
            if row.holder == holder and row_expires > now:  # taken again by its holder: renewed
                conn.execute(update(service_lease).where(service_lease.c.scope == scope).values(**values))
                return Lease(scope, holder, row.generation, ttl_s, as_utc(row.acquired_at), expires)
            if row_expires > now and not holder_is_dead(row.node, row.process):
                raise LeaseHeld(scope, row.holder, row_expires, as_utc(row.heartbeat_at), now)
            generation = row.generation + 1
            conn.execute(update(service_lease).where(service_lease.c.scope == scope)
                         .values(generation=generation, acquired_at=now, **values))
            return Lease(scope, holder, generation, ttl_s, now, expires)

    def renew_lease(self, lease: Lease) -> Lease:
        """The heartbeat: the lease with its expiry ``ttl_s`` from now; :class:`LeaseLost` if
        another holder took the scope over (an expired lease that nobody took still renews)."""
        with self._locked_tx(lease.scope, exclusive=True) as (conn, now):
            self._check_lease(conn, lease, now, allow_expired=True)
            expires = now + dt.timedelta(seconds=lease.ttl_s)
            conn.execute(update(service_lease).where(service_lease.c.scope == lease.scope)
                         .values(heartbeat_at=now, expires_at=expires))
        return dataclasses.replace(lease, expires_at=expires)

    def release_lease(self, lease: Lease) -> bool:
        """End the lease now, so the next server starts at once (the row stays: the next
        generation is higher); False if it was not held any more."""
        with self._locked_tx(lease.scope, exclusive=True) as (conn, now):
            try:
                self._check_lease(conn, lease, now, allow_expired=True)
            except LeaseLost:
                return False
            conn.execute(update(service_lease).where(service_lease.c.scope == lease.scope)
                         .values(expires_at=now))
        return True

    def current_lease(self, scope: str) -> Lease | None:
        """Who holds ``scope`` now (a plain read, for status pages); None when nobody does."""
        with self.engine.connect() as conn:
            row = conn.execute(select(service_lease).where(service_lease.c.scope == scope)).first()
        now = dt.datetime.now(dt.UTC)
        if row is None or as_utc(row.expires_at) <= now or holder_is_dead(row.node, row.process):
            return None
        ttl_s = (as_utc(row.expires_at) - as_utc(row.heartbeat_at)).total_seconds()
        return Lease(scope, row.holder, row.generation, ttl_s, as_utc(row.acquired_at), as_utc(row.expires_at))

    @contextmanager
    def leased(self, lease: Lease) -> Iterator[Connection]:
        """A transaction that commits only while ``lease`` holds its scope (checked at its start;
        a takeover waits for its end); :class:`LeaseLost` when the lease is gone."""
        with self._locked_tx(lease.scope, exclusive=False) as (conn, now):
            self._check_lease(conn, lease, now, allow_expired=False)
            yield conn

    def _check_lease(self, conn: Connection, lease: Lease, now: dt.datetime, allow_expired: bool) -> None:
        row = conn.execute(select(service_lease).where(service_lease.c.scope == lease.scope)).first()
        if row is None or row.holder != lease.holder or row.generation != lease.generation:
            by = f" by {row.holder} at {local_clock(as_utc(row.acquired_at))}" if row is not None else ""
            raise LeaseLost(f"{lease.holder} no longer holds the live plan of scope {lease.scope}: "
                            f"it was taken over{by}; this server must stop writing (nothing was written)")
        expires = as_utc(row.expires_at)
        if not allow_expired and expires <= now:
            raise LeaseLost(f"the lease of {lease.holder} on scope {lease.scope} expired at {local_clock(expires)} "
                            "without a heartbeat; nothing was written (renew it before writing)")

    @contextmanager
    def _locked_tx(self, scope: str, exclusive: bool) -> Iterator[tuple[Connection, dt.datetime]]:
        """A transaction holding the scope's lock, and the time in it. SQLite: the file's writer
        lock, taken at BEGIN (IMMEDIATE), not at the first write, so what was read holds at the
        commit. PostgreSQL: an advisory lock per scope, shared by guarded writes, exclusive for
        lease changes, and the server's clock (one clock for servers on several hosts)."""
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                now = dt.datetime.now(dt.UTC)
            elif self.engine.dialect.name == "postgresql":
                lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
                key = hashlib.sha256(f"dispatch.service_lease:{scope}".encode()).digest()[:8]  # 64 bits
                conn.execute(select(lock(int.from_bytes(key, "big", signed=True))))
                now = as_utc(conn.execute(select(func.clock_timestamp())).scalar_one())  # not now(): the lock may have waited
            else:
                raise DispatchError(f"leases need SQLite or PostgreSQL; {self.url!r} is {self.engine.dialect.name}")
            yield conn, now


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
    # WAL: readers (the dashboard) do not block a writer. The mode stays in the file; switching a
    # new file while another connection switches it fails at once ("locked", no busy wait).
    for attempt in range(50):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:  # the driver's own: this is below SQLAlchemy
            if attempt == 49 or "locked" not in str(exc):
                raise
            time.sleep(0.02 * (1 + attempt % 5))
    cur.close()
