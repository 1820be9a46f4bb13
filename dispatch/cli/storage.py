"""The plan store as every command uses it: opened (and, for a command that will write, checked
before any long run), read and written through :class:`CliStore`, and every database failure on
the way (SQLAlchemy, the SQLite or PostgreSQL driver, the operating system on the file's path, a
file that is no database) turned here, in one place, into :class:`StoreUnavailable`: one sentence
naming the store, the cause and what to do, exit code 3, never a traceback.

``cannot write the plan store /x/plans.sqlite: the file is read-only; pass --db to another file
or fix its permissions``
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dispatch.errors import DispatchError

if TYPE_CHECKING:
    import pandas as pd

    from dispatch.store import Store, StoredPlan, StoredScenario

T = TypeVar("T")

_ANOTHER = "pass --db to another file"


class StoreUnavailable(DispatchError):
    """The plan store cannot be opened, read or written. The message is one sentence: the
    store (a SQLite file's path, else the URL without its password), the cause, what to do."""

    def __init__(self, action: str, where: str, cause: str, advice: str, note: str = "") -> None:
        self.action, self.where, self.cause, self.advice, self.note = action, where, cause, advice, note
        tail = f" ({note})" if note else ""
        super().__init__(f"cannot {action} the plan store {where}: {cause}; {advice}{tail}")

    def noting(self, note: str) -> StoreUnavailable:
        """The same failure, saying what became of the run's work (e.g. where its exports are)."""
        return StoreUnavailable(self.action, self.where, self.cause, self.advice, note)


# ---- where the store is ----------------------------------------------------------------------

def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (also ``sqlite:///file:PATH?mode=ro&uri=true``); None for an
    in-memory database or another engine."""
    if not url.startswith("sqlite:///"):
        return None
    db = url[len("sqlite:///"):].split("?", 1)[0]
    db = db.removeprefix("file:")
    return None if db in ("", ":memory:") else Path(db)


def describe(url: str) -> str:
    """How a sentence names the store: a SQLite file's absolute path, else the URL without its
    password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path.absolute())
    try:
        from sqlalchemy.engine import make_url  # SQLAlchemy: slow to import, only on a failure

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  # a URL SQLAlchemy cannot parse: as given, minus any user:password@
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url


# ---- the one translation -----------------------------------------------------------------------

def _is_db_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError  # SQLAlchemy: slow to import, only on a failure

    return isinstance(exc, (SQLAlchemyError, sqlite3.Error, OSError))


def _root(exc: BaseException) -> BaseException:
    """The driver's or the operating system's own error behind SQLAlchemy's (or the store's
    DispatchError wrapping it)."""
    from sqlalchemy.exc import DBAPIError  # SQLAlchemy: slow to import, only on a failure

    if isinstance(exc, DispatchError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip().rstrip(".") if text else type(exc).__name__


def _cannot_open(path: Path | None) -> tuple[str, str]:
    """SQLite's 'unable to open database file', diagnosed on the path."""
    if path is None:
        return "the database cannot be opened", "check the URL"
    parent = path.absolute().parent
    if path.is_dir():
        return "it is a folder, not a database file", f"pass --db to a file inside it, e.g. {path.absolute() / 'plans.sqlite'}"
    in_the_way = _nearest_file(parent)
    if in_the_way:
        return f"{in_the_way} is a file, not a folder", _ANOTHER
    if not parent.exists():
        return f"its folder {parent} does not exist", f"create it or {_ANOTHER}"
    return "the file cannot be opened", f"check its and its folder's permissions, or {_ANOTHER}"


_SQLITE_CAUSES: dict[str, tuple[str, str]] = {  # by SQLite's primary result code
    "SQLITE_READONLY": ("the file is read-only", f"{_ANOTHER} or fix its permissions"),
    "SQLITE_PERM": ("access to the file is denied", f"{_ANOTHER} or fix its permissions"),
    "SQLITE_NOTADB": ("the file is not a SQLite database",
                      f"{_ANOTHER}, or move this one aside and a new store is made in its place"),
    "SQLITE_CORRUPT": ("the file is damaged (database disk image is malformed)",
                       f"restore it from a backup, or move it aside and {_ANOTHER}"),
    "SQLITE_FULL": ("the disk is full", f"free some space, or {_ANOTHER} on another disk"),
    "SQLITE_BUSY": ("another process holds its lock", "retry when that process has finished"),
    "SQLITE_LOCKED": ("another process holds its lock", "retry when that process has finished"),
    "SQLITE_IOERR": ("the disk reported an input/output error", f"check the disk, or {_ANOTHER}"),
}
_SQLITE_MESSAGES = {  # the same, by message, for drivers that give no result code
    "attempt to write a readonly database": "SQLITE_READONLY",
    "file is not a database": "SQLITE_NOTADB",
    "database disk image is malformed": "SQLITE_CORRUPT",
    "database or disk is full": "SQLITE_FULL",
    "database is locked": "SQLITE_BUSY",
    "disk i/o error": "SQLITE_IOERR",
    "unable to open database file": "SQLITE_CANTOPEN",
}


def _os_cause(exc: OSError, path: Path | None) -> tuple[str, str]:
    name = exc.filename or (path and path.absolute())
    in_the_way = _nearest_file(Path(str(name))) if name else None
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and in_the_way:  # the folder of a path under a file
        return f"{in_the_way} is a file, not a folder", _ANOTHER
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied on {name}", f"{_ANOTHER} or fix its permissions"
    if exc.errno == errno.EROFS:
        return f"{name} is on a read-only file system", f"{_ANOTHER} on a writable disk"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full", f"free some space, or {_ANOTHER} on another disk"
    if exc.errno == errno.EISDIR:
        return f"{name} is a folder, not a database file", _ANOTHER
    return f"{exc.strerror or _first_line(exc)}{f' ({name})' if name else ''}", _ANOTHER


def store_failure(exc: BaseException, url: str, action: str) -> StoreUnavailable:
    """THE translation of a database failure on the store at ``url`` while trying to ``action``
    it (open, read, write) into the sentence a person reads."""
    root = _root(exc)
    path = sqlite_path(url)
    where = describe(url)
    if isinstance(root, OSError):
        cause, advice = _os_cause(root, path)
    elif isinstance(root, sqlite3.Error) or url.startswith("sqlite"):
        code = getattr(root, "sqlite_errorname", "") or ""
        message = _first_line(root)
        primary = ("_".join(code.split("_")[:2]) if code  # SQLITE_READONLY_DBMOVED -> SQLITE_READONLY
                   else next((v for k, v in _SQLITE_MESSAGES.items() if k in message.lower()), ""))
        if primary == "SQLITE_CANTOPEN":
            cause, advice = _cannot_open(path)
        elif primary in _SQLITE_CAUSES:
            cause, advice = _SQLITE_CAUSES[primary]
        else:
            cause, advice = message, _ANOTHER
    else:  # PostgreSQL and other servers: the driver's first line says why
        cause, advice = _first_line(root), _SERVER_ADVICE.get(str(getattr(root, "sqlstate", None) or "")[:2], (
            "check the URL, that the server is running and that it accepts these credentials"))
    return StoreUnavailable(action, where, cause, advice)


_SERVER_ADVICE = {  # by the class of PostgreSQL's SQLSTATE
    "42": "grant this role the rights on the store's tables, or pass --db to another database",
    "3D": "create that database, or pass --db to one that exists",
    "28": "check the user and password in the URL",
    "53": "free space or connections on the server, or pass --db to another database",
}


@contextmanager
def store_errors(url: str, action: str) -> Iterator[None]:
    """Raise :func:`store_failure` for a database failure inside the block. The store's own
    answers (no plan of that name, ...) pass unchanged."""
    try:
        yield
    except StoreUnavailable:
        raise
    except DispatchError as exc:  # the store's own wrapper of a database failure (not a subclass:
        # those are answers of the store, e.g. a duplicate entry, and say what they mean)
        if type(exc) is not DispatchError or exc.__cause__ is None or not _is_db_error(exc.__cause__):
            raise
        raise store_failure(exc, url, action) from exc
    except Exception as exc:
        if not _is_db_error(exc):
            raise
        raise store_failure(exc, url, action) from exc


# ---- the store as the commands use it ------------------------------------------------------------

@dataclass(frozen=True)
class CliStore:
    """The store of ``dispatch.store``, each operation a command uses behind :func:`store_errors`."""

    store: Store

    @property
    def url(self) -> str:
        return self.store.url

    def _run(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with store_errors(self.url, action):
            return fn(*args, **kwargs)

    def save(self, *args: Any, **kwargs: Any) -> int:
        return self._run("write", self.store.save, *args, **kwargs)

    def save_scenario(self, *args: Any, **kwargs: Any) -> int:
        return self._run("write", self.store.save_scenario, *args, **kwargs)

    def list(self, kind: str | None = None) -> pd.DataFrame:
        return self._run("read", self.store.list, kind)

    def load(self, name_or_id: str | int) -> StoredPlan:
        return self._run("read", self.store.load, name_or_id)

    def list_scenarios(self) -> pd.DataFrame:
        return self._run("read", self.store.list_scenarios)

    def load_scenario(self, name: str) -> StoredScenario:
        return self._run("read", self.store.load_scenario, name)

    def trips(self, scope: str | None = None) -> pd.DataFrame:
        return self._run("read", self.store.trips, scope)

    def check_writable(self, tables: tuple[str, ...]) -> None:
        """Fail now if ``tables`` cannot be read and written, before a long run whose result the
        store must take: a count of each, and a delete of no row in a transaction that is rolled
        back (a write all the same, so SQLite and PostgreSQL check the file's and the role's
        rights). No row changes. What this cannot see (a damaged page the count does not read, a
        disk that fills during the run) still comes as one sentence when the store is written."""
        from sqlalchemy import delete, false, func, select  # SQLAlchemy: slow to import

        from dispatch.store import metadata  # the store's own tables (SQLAlchemy: slow to import)

        with store_errors(self.url, "write"), self.store.engine.connect() as conn:
            for name in tables:
                t = metadata.tables[name]
                conn.execute(select(func.count()).select_from(t))
                conn.execute(delete(t).where(false()))
            conn.rollback()

    def close(self) -> None:
        self.store.close()


PLANS = ("plans", "plan_frames")  # what a plan or a simulation run is written to
SCENARIOS = ("scenarios",)
SERVICE_LOG = ("service_log",)


def open_store(db: str | None, *, write: tuple[str, ...] = ()) -> CliStore:
    """The plan and scenario store at ``db`` (default ``DISPATCH_DB``, else
    sqlite:///dispatch.sqlite). A command that only reads refuses a SQLite path whose folder does
    not exist (a mistyped path, where nothing can have been stored) instead of creating it; one
    that will write has the tables it will ``write`` checked at once, before its run."""
    # SQLAlchemy: slow to import, keeps `dispatch --help` fast.
    from dispatch.store import Store, database_url

    url = database_url(db)
    path = sqlite_path(url)
    if not write and path is not None and not path.absolute().parent.is_dir():
        in_the_way = _nearest_file(path.absolute().parent)
        cause = (f"{in_the_way} is a file, not a folder" if in_the_way
                 else f"its folder {path.absolute().parent} does not exist")
        raise StoreUnavailable("read", describe(url), cause, "pass --db to the store the plans were written to")
    with store_errors(url, "write" if write else "open"):
        store = CliStore(Store(url))
    if write:
        store.check_writable(write)
    return store


def _nearest_file(path: Path) -> Path | None:
    """The nearest existing path at or above ``path`` when it is a file (where a folder of the
    path should be), else None."""
    for p in (path, *path.parents):
        if p.exists():
            return None if p.is_dir() else p
    return None
