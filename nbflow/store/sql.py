"""SqlStore: records events with group commit in a writer thread, and answers queries."""

from __future__ import annotations

import atexit
import functools
import json
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from nbflow.core.events import (
    Event,
    EventKind,
    LogLine,
    Materialized,
    RunFinished,
    RunStarted,
    StepFinished,
    StepRetrying,
    StepStarted,
    payload_from,
)
from nbflow.core.records import MaterializationRecord, RunRecord, StepRecord, to_datetime
from nbflow.core.states import TERMINAL, State
from nbflow.errors import StoreError, StoreUrlError
from nbflow.store import migrate
from nbflow.store.hosts import pid_alive, this_host
from nbflow.store.schema import events, materializations, runs

if TYPE_CHECKING:
    from nbflow.store.audit import AuditTables
    from nbflow.store.backfills import BackfillTables
    from nbflow.store.base import RunStore, StoredEvent, TaskStore
    from nbflow.store.deployments import DeploymentStore
    from nbflow.store.partitions import SqlPartitions
    from nbflow.store.sensors import SensorTables
    from nbflow.store.tasks import TaskTables
    from nbflow.store.tokens import TokenTables

_BATCH = 5000
_NO_START = RunStarted()
_NO_END = RunFinished()
_STEP_KINDS = (EventKind.STEP_STARTED, EventKind.STEP_FINISHED, EventKind.STEP_RETRYING)
_OPEN = (str(State.RUNNING), str(State.PENDING))


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` (psycopg 3 is the driver nbflow installs)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


_SUPPORTED = {"sqlite": ("pysqlite",), "postgresql": ("psycopg", "psycopg2")}


def check_url(url: str) -> None:
    """Refuse a URL nbflow cannot open (bad syntax, a port that is not a number, a database or
    driver other than SQLite and PostgreSQL via psycopg) with one line naming the fix."""
    try:
        u = make_url(url)
        u.get_dialect()
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreUrlError(f"The store URL {url!r} is not a valid SQLAlchemy URL ({exc}); "
                            "set NBFLOW_DATABASE_URL to e.g. sqlite:///path/nbflow.db or "
                            "postgresql+psycopg://user@host/db.") from None
    except ValueError as exc:  # SQLAlchemy parses the port with int()
        import re

        hidden = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)  # unparsable, so redact() cannot
        raise StoreUrlError(f"The store URL {hidden!r} is not valid ({exc}); the port must be "
                            "a number, e.g. postgresql+psycopg://user@host:5432/db.") from None
    if u.get_driver_name() not in _SUPPORTED.get(u.get_backend_name(), ()):
        raise StoreUrlError(
            f"The store URL {redact(url)!r} uses {u.drivername}, which nbflow does not support; "
            "nbflow supports SQLite (sqlite:///path/nbflow.db) and PostgreSQL via psycopg "
            "(postgresql+psycopg://user@host/db): set NBFLOW_DATABASE_URL to one of those.")


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def read_only_path(url: str) -> Path | None:
    """The SQLite file (or the folder it would be made in) this process cannot write, if any.

    A WAL database is written through files beside it, so a writable file in a read-only
    folder counts as read-only too.
    """
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    db = Path(u.database).expanduser()
    if db.exists():
        if not os.access(db, os.W_OK):
            return db
        return None if os.access(db.parent, os.W_OK) else db.parent
    folder = next((p for p in (db.parent, *db.parent.parents) if p.exists()), None)
    return folder if folder is not None and not os.access(folder, os.W_OK) else None


def _make_engine(url: str, read_only: bool = False) -> Engine:
    dumps = lambda o: json.dumps(o, default=str)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        connect_args: dict[str, Any] = {"timeout": 60, "check_same_thread": False}
        if read_only:
            # mode=ro opens a read-only file; when SQLite cannot make the WAL's shared-memory
            # file beside it either, the file is opened as immutable (nothing else writes it).
            db = Path(u.database or "").expanduser().resolve()
            creator = _read_only_connect(db, connect_args)
            engine = create_engine("sqlite://", json_serializer=dumps, creator=creator)
        else:
            if u.database and u.database != ":memory:":
                Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(u, json_serializer=dumps, connect_args=connect_args)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # nbflow emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=60000")
            if not read_only:
                _use_wal(cur)
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the lock up front so two processes never deadlock upgrading a read lock.
            immediate = conn.get_execution_options().get("nbflow_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    args = {"connect_timeout": 10} if u.get_backend_name() == "postgresql" else {}
    return create_engine(u, json_serializer=dumps, connect_args=args, pool_pre_ping=True)


def _read_only_connect(db: Path, connect_args: dict[str, Any]) -> Any:
    import sqlite3
    from urllib.parse import quote

    uri = f"file:{quote(str(db))}?mode=ro"

    def connect() -> Any:
        try:
            conn = sqlite3.connect(uri, uri=True, **connect_args)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            return sqlite3.connect(uri + "&immutable=1", uri=True, **connect_args)

    return connect


def _use_wal(cur: Any) -> None:
    """Switch the file to WAL once. On a new file, processes racing to switch it can get
    SQLITE_BUSY without the busy handler being asked, so the switch is retried here."""
    import sqlite3

    deadline = time.monotonic() + 60
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SqlStore:
    """The run store over any SQLAlchemy URL.

    Responsibilities: open and migrate the database; record events (a queue drained by one writer
    thread that commits in batches); keep heartbeats of this process's running runs; answer the
    queries the session, CLI and panel make.
    """

    def __init__(self, url: str, *, heartbeat_interval: float = 5.0,
                 heartbeat_timeout: float = 60.0) -> None:
        self.url = normalise_url(url)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        check_url(self.url)
        self.read_only = read_only_path(self.url)
        """The file or folder that makes this SQLite store read-only for this process, if any."""
        try:
            self.engine = _make_engine(self.url, self.read_only is not None)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StoreUrlError(f"The store URL {url!r} is not a valid SQLAlchemy URL ({exc}); "
                                "set NBFLOW_DATABASE_URL to e.g. sqlite:///path/nbflow.db or "
                                "postgresql+psycopg://user@host/db.") from None
        except ImportError as exc:  # the driver of a supported database is not installed
            raise StoreUrlError(f"The driver for the store URL {redact(self.url)!r} is not "
                                f"installed ({exc}); pip install psycopg[binary] for PostgreSQL.") from None
        except OSError as exc:  # the SQLite file's folder cannot be made (a file is in the way)
            raise StoreError(f"Cannot create the folder of the SQLite store {redact(self.url)} "
                             f"({exc.strerror}: {exc.filename}); set NBFLOW_HOME or "
                             "NBFLOW_DATABASE_URL to a writable place.") from None
        self._writer_engine = self.engine.execution_options(nbflow_write=True)
        self.dialect = self.engine.dialect.name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._active: dict[str, float] = {}
        self._error: BaseException | None = None
        # A batch that could not be committed after its retries fails the store until the
        # runs it belonged to are closed: no later batch commits meanwhile, and no later event
        # of a run that lost one is ever committed (each run's record stays a prefix).
        self._failed: BaseException | None = None
        self._fault: BaseException | None = None  # the last such failure, for messages
        self._lost: set[str] = set()
        self._closed: set[str] = set()
        self._told: set[str] = set()  # lost runs someone was told about (record or flush)
        self._pid = os.getpid()
        self._latest: tuple[Any, dict[str, MaterializationRecord]] | None = None
        with self._translate_errors():
            self._migrate()

    # ------------------------------------------------------------------ parts
    @functools.cached_property
    def tasks(self) -> TaskTables:
        """Task caches and concurrency limits kept in this store."""
        from nbflow.store.tasks import TaskTables

        return TaskTables(self)

    @functools.cached_property
    def deployments(self) -> DeploymentStore:
        """Deployments, their schedule ticks and queued runs kept in this store."""
        from nbflow.store.deployments import DeploymentStore

        return DeploymentStore(self)

    @functools.cached_property
    def backfills(self) -> BackfillTables:
        """Backfill plans: each backfill, its (asset, partition) steps and who runs it."""
        from nbflow.store.backfills import BackfillTables

        return BackfillTables(self)

    @functools.cached_property
    def sensors(self) -> SensorTables:
        """Sensor cursors and state, their ticks and claimed run keys kept in this store."""
        from nbflow.store.sensors import SensorTables

        return SensorTables(self)

    @functools.cached_property
    def partitions(self) -> SqlPartitions:
        """Per-partition materialisations, failures and summaries, and dynamic partition keys."""
        from nbflow.store.partitions import SqlPartitions

        return SqlPartitions(self)

    @functools.cached_property
    def tokens(self) -> TokenTables:
        """API tokens (hashed) kept in this store."""
        from nbflow.store.tokens import TokenTables

        return TokenTables(self)

    @functools.cached_property
    def audit(self) -> AuditTables:
        """The append-only audit log of mutations kept in this store."""
        from nbflow.store.audit import AuditTables

        return AuditTables(self)

    # ------------------------------------------------------------------ opening
    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        where = redact(self.url)
        try:
            yield
        except OperationalError as exc:
            msg = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if "not a database" in msg:
                raise StoreError(f"The store at {where} is not a database ({msg}); point "
                                 "NBFLOW_DATABASE_URL or NBFLOW_HOME elsewhere, or move the file away.") from None
            if "readonly" in msg or "read-only" in msg:
                raise StoreError(self._read_only_message(msg)) from None
            raise StoreError(f"Cannot open the run store at {where}: {msg}. Check that the "
                             "database is running and NBFLOW_DATABASE_URL is right.") from None
        except DBAPIError as exc:
            msg = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if "not a database" in msg or "file is encrypted" in msg:
                raise StoreError(f"The store at {where} is not a database ({msg}); point "
                                 "NBFLOW_DATABASE_URL or NBFLOW_HOME elsewhere, or move the file away.") from None
            raise StoreError(f"The run store at {where} failed: {msg}.") from None

    def _read_only_message(self, what: str | None = None) -> str:
        where = self.read_only or redact(self.url)
        return (f"The run store at {redact(self.url)} is read-only ({what or f'{where} is not writable'}), "
                "so nbflow can read it but not record runs; make it writable "
                f"(e.g. chmod u+w {where}) or set NBFLOW_HOME or NBFLOW_DATABASE_URL to a "
                "writable place.")

    def _migrate(self) -> None:
        with self.engine.connect() as conn:
            revision = migrate.current_revision(conn)
            if revision == migrate.HEAD:
                return
        if self.read_only is not None:
            raise StoreError(
                f"The run store at {redact(self.url)} is read-only ({self.read_only} is not "
                f"writable) and has schema revision {revision!r}, not {migrate.HEAD!r}: open it "
                "once with write access so nbflow can upgrade it, or make it writable.")
        with self.begin() as conn:
            if self.dialect == "postgresql":  # one migrator at a time across processes
                conn.execute(text("SELECT pg_advisory_xact_lock(7262531)"))
            revision = migrate.current_revision(conn)
            if revision != migrate.HEAD:
                from alembic.util import CommandError

                try:
                    migrate.upgrade(conn)
                except CommandError as exc:  # a revision this nbflow does not know
                    raise StoreError(
                        f"The store at {redact(self.url)} has schema revision {revision!r}, which "
                        f"this nbflow does not know ({exc}); it was probably made by a newer nbflow: "
                        "upgrade nbflow, or point NBFLOW_DATABASE_URL at another store.") from None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        if self.read_only is not None:
            raise StoreError(self._read_only_message())
        with self._writer_engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read connection."""
        with self.engine.connect() as conn:
            yield conn

    # ------------------------------------------------------------------ writing
    def record(self, event: Event) -> None:
        """Queue ``event`` for the writer thread (returns at once).

        Raises ``StoreError`` when the store cannot record it: it is read-only, or it failed to
        commit an earlier event of this run (or any event, and has not recovered yet). The
        run's engine stops there; the run is closed as FAILED once the store can be written.
        """
        if self._failed is not None or event.run_id in self._lost:
            self._refuse(event.run_id)
        if self.read_only is not None:
            raise StoreError(self._read_only_message())
        if self._writer is None or os.getpid() != self._pid:
            self._start_writer()
        self._queue.put(event)

    def _refuse(self, run_id: str) -> None:
        self._lost.add(run_id)
        self._told.add(run_id)
        self._active.pop(run_id, None)
        self._queue.put(_IDLE)  # wake the writer: it closes the run when it can
        raise StoreError(self._failure_message(run_id))

    def _failure_message(self, run_id: str | None = None) -> str:
        err = self._failed or self._fault
        msg = "an earlier event of this run was not committed" if err is None else _first_line(err)
        where = redact(self.url)
        if run_id is None:
            return (f"The run store at {where} could not record events ({msg}): their runs stop "
                    "at their next event; what they recorded before is kept, and they are marked "
                    "FAILED once the store can be written again. Free disk space or fix the "
                    "database, then run them again.")
        return (f"The run store at {where} could not record events ({msg}), so run {run_id} "
                "stops here; what it recorded before is kept, and it is marked FAILED once the "
                "store can be written again. Free disk space or fix the database, then run it "
                "again.")

    def flush(self) -> None:
        """Block until every event recorded so far is committed."""
        if self._writer is None:
            return
        done = threading.Event()
        self._queue.put(done)
        while not done.wait(1.0):
            if not self._writer.is_alive():
                if not done.is_set():  # the writer died with events still queued
                    raise StoreError(f"The run store writer for {redact(self.url)} stopped before "
                                     "committing every event; the last events of this process "
                                     "may be missing. Restart the process.")
                break
        untold = self._lost - self._told
        if untold:  # events of these runs were lost: said once, here or by record()
            self._told |= untold
            raise StoreError(self._failure_message()) from (self._failed or self._fault)
        if self._error is not None:
            err, self._error = self._error, None
            raise StoreError(f"The run store at {redact(self.url)} could not record events: "
                             f"{_first_line(err)}") from err

    def close(self) -> None:
        try:
            if self._writer is not None and self._writer.is_alive():
                self.flush()
        finally:
            if self._writer is not None and self._writer.is_alive():
                self._queue.put(None)
                self._writer.join(timeout=30)
            self._writer = None
            self.engine.dispose()

    def _flush_at_exit(self) -> None:
        """Commit what is still queued when the interpreter exits normally."""
        try:
            if self._writer is not None and self._writer.is_alive() and os.getpid() == self._pid:
                self.flush()
        except Exception:  # noqa: BLE001 - at exit there is no one left to tell but stderr
            import sys

            print("nbflow: could not commit the last events to the run store at exit.", file=sys.stderr)

    def _start_writer(self) -> None:
        with self._writer_lock:
            if self._writer is not None and os.getpid() == self._pid:
                return
            if os.getpid() != self._pid:  # forked: start afresh
                self._pid = os.getpid()
                self._queue = queue.SimpleQueue()
                self._active = {}
                self._failed, self._lost, self._closed, self._told = None, set(), set(), set()
                self.engine.dispose(close=False)
            self._writer = threading.Thread(target=self._write_loop, name="nbflow-store-writer",
                                            daemon=True)
            self._writer.start()
            atexit.register(self._flush_at_exit)

    def _write_loop(self) -> None:
        last_beat = time.monotonic()
        while True:
            closing = self._failed is not None or len(self._closed) < len(self._lost)
            try:
                item = self._queue.get(timeout=min(self.heartbeat_interval, 0.5) if closing
                                       else self.heartbeat_interval)
            except queue.Empty:
                item = _IDLE
            batch: list[Event] = []
            flushes: list[threading.Event] = []
            stop = False
            while True:
                if item is None:
                    stop = True
                elif item is _IDLE:
                    pass
                elif isinstance(item, threading.Event):
                    flushes.append(item)
                else:
                    batch.append(item)
                if len(batch) >= _BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch and (self._failed is not None or self._lost):
                batch = self._drop_lost(batch)
            if batch and not self._write_with_retry(batch):
                self._fail(batch)
            if len(self._closed) < len(self._lost):
                self._close_lost()
            if self._active and time.monotonic() - last_beat >= self.heartbeat_interval:
                last_beat = time.monotonic()
                self._beat()
            for f in flushes:
                f.set()
            if stop:
                return

    def _write_with_retry(self, batch: list[Event]) -> bool:
        """Commit ``batch``; False when the database refused it after the retries."""
        for attempt in range(5):
            try:
                with self.begin() as conn:
                    self._write_batch(conn, batch)
                return True
            except OperationalError as exc:  # a lock held too long, a dropped connection, a full disk
                if attempt == 4:
                    self._failed = self._fault = exc
                    return False
                time.sleep(0.2 * (attempt + 1))
            except Exception as exc:  # noqa: BLE001 - keep the writer alive; flush() reports it
                if len(batch) > 1:  # one by one, so a bad event loses only itself, not the batch
                    for i, e in enumerate(batch):
                        if not self._write_with_retry([e]) and self._failed is not None:
                            self._fail(batch[i:])  # the database failed meanwhile
                            return True
                    return True
                self._error = exc
                return self._failed is None  # a bad event: reported by flush(), not a fault
        return False

    def _fail(self, batch: list[Event]) -> None:
        """``batch`` is lost: so is every run it holds an event of."""
        for e in batch:
            self._lost.add(e.run_id)
            self._active.pop(e.run_id, None)

    def _drop_lost(self, batch: list[Event]) -> list[Event]:
        """While the store has failed nothing commits (each dropped event loses its run);
        after that, events of lost runs are still dropped."""
        if self._failed is not None:
            self._fail(batch)
            return []
        lost = self._lost
        return [e for e in batch if e.run_id not in lost]

    def _close_lost(self) -> None:
        """Mark the lost runs FAILED with their RUN_FINISHED; once that commits, the store
        records new runs again. Until then the runs keep no heartbeat (they show CRASHED)."""
        pending = [r for r in set(self._lost) if r not in self._closed]
        why = _first_line(self._failed) if self._failed is not None else "an event was not committed"
        error = (f"The run store could not record every event of this run ({why}); the run "
                 "was stopped and the events after the failure are missing.")
        now = time.time()
        try:
            with self.begin() as conn:
                done: list[str] = list(conn.execute(
                    update(runs).where(runs.c.run_id.in_(pending), runs.c.state.in_(_OPEN))
                    .values(state=str(State.FAILED), ended_at=now, heartbeat_at=now, error=error)
                    .returning(runs.c.run_id)).scalars())
                if done:
                    conn.execute(events.insert(), [
                        {"run_id": r, "kind": str(EventKind.RUN_FINISHED), "step": None,
                         "state": str(State.FAILED), "ts": now,
                         "data": RunFinished(error=error).to_data()}
                        for r in done])
        except (DBAPIError, StoreError):
            return  # still failing: try again on the next round
        self._closed.update(pending)
        self._failed = None

    def _write_batch(self, conn: Connection, batch: list[Event]) -> None:
        late: dict[int, Event] = {}
        for i, e in enumerate(batch):
            if e.kind is EventKind.RUN_STARTED:
                self._start_run(conn, e)
            elif e.kind is EventKind.RUN_FINISHED:
                p = e.data if isinstance(e.data, RunFinished) else _NO_END
                done = conn.execute(update(runs).where(
                    runs.c.run_id == e.run_id, runs.c.state.in_(_OPEN)).values(
                    state=str(e.state), ended_at=e.ts, heartbeat_at=e.ts,
                    error=p.error, failure=p.failure(),
                    **({} if p.output_path is None else {"output_path": p.output_path})
                )).rowcount
                self._active.pop(e.run_id, None)
                if not done:
                    late_event = self._late_finish(conn, e)
                    if late_event is not None:
                        late[i] = late_event
        conn.execute(events.insert(), [
            {"run_id": e.run_id, "kind": str(e.kind), "step": e.step,
             "state": None if e.state is None else str(e.state), "ts": e.ts,
             "data": e.to_data() or None}
            for e in (late.get(i, e) for i, e in enumerate(batch))])
        mats = [(e, e.data) for e in batch if isinstance(e.data, Materialized)]
        if mats:
            conn.execute(materializations.insert(), [
                {"asset": m.asset or e.step, "run_id": e.run_id, "ts": e.ts,
                 "partition": m.partition, "code_version": m.code_version,
                 "data_version": m.data_version, "input_versions": m.input_versions or {},
                 "metadata": m.metadata or {}, "uri": m.uri, "io": m.io, "duration": m.duration}
                for e, m in mats])

    def _late_finish(self, conn: Connection, e: Event) -> Event | None:
        """A RUN_FINISHED for a run that is already closed (a crash sweep or a cancel got there
        first) stays out of the run's record: the first end is the run's end, and this one is
        kept as a LOG event saying how the process itself ended it."""
        row = conn.execute(select(runs.c.state).where(runs.c.run_id == e.run_id)).first()
        if row is None:
            return None  # no run row (an event-only run): record the event as it is
        return Event(EventKind.LOG, e.run_id, None, None, LogLine(
            level="WARNING", ended=None if e.state is None else str(e.state),
            error=e.data.error if isinstance(e.data, RunFinished) else None,
            message=f"The run's process ended it {e.state} after the run had been marked "
                    f"{row[0]}; the run stays {row[0]}."), ts=e.ts)

    def _start_run(self, conn: Connection, e: Event) -> None:
        d = e.data if isinstance(e.data, RunStarted) else _NO_START
        values = {"state": str(State.RUNNING), "started_at": e.ts, "heartbeat_at": e.ts,
                  "host": this_host(), "pid": os.getpid()}
        done = conn.execute(update(runs).where(runs.c.run_id == e.run_id).values(**values)).rowcount
        if not done:
            conn.execute(runs.insert().values(
                run_id=e.run_id, kind=d.kind, name=d.name, selection=d.selection,
                deployment=d.deployment, scheduled_at=d.scheduled_at,
                parameters=d.parameters or {}, tags=d.tags or {}, created_at=e.ts,
                attempt=1 if d.attempt is None else d.attempt, parent_run_id=d.parent_run_id,
                output_path=d.output_path, **values))
        self._active[e.run_id] = e.ts

    def _beat(self) -> None:
        now = time.time()
        try:
            with self.begin() as conn:
                conn.execute(update(runs).where(runs.c.run_id.in_(list(self._active)),
                                                runs.c.state.in_(_OPEN))
                             .values(heartbeat_at=now))
        except OperationalError:
            pass  # the next beat tries again; a missed beat is far shorter than the timeout

    def create_run(self, run_id: str, *, kind: str, state: State = State.PENDING,
                   conn: Connection | None = None, **fields: Any) -> None:
        """Insert a run row now (not through the queue): used to claim a unique schedule tick.

        Raises ``sqlalchemy.exc.IntegrityError`` when (deployment, scheduled_at) is taken.
        """
        values = {"run_id": run_id, "kind": kind, "state": str(state), "created_at": time.time(),
                  "heartbeat_at": time.time(), **fields}
        if conn is not None:
            conn.execute(runs.insert().values(**values))
            return
        with self.begin() as c:
            c.execute(runs.insert().values(**values))

    def heartbeat(self, run_id: str) -> None:
        """Keep ``run_id`` alive from this process (for runs started without RUN_STARTED yet)."""
        self._active[run_id] = time.time()

    # ------------------------------------------------------------------ crashes
    def sweep_crashed(self, timeout: float | None = None) -> list[str]:
        """Mark as CRASHED the runs whose heartbeat stopped ``timeout`` seconds ago, and the
        running runs of this host whose process is gone (returns their ids).

        Each UPDATE checks the heartbeat (or the owner) again, so a run that beats meanwhile is
        left alone. A read-only store sweeps nothing (its reads show such runs CRASHED).
        """
        if self.read_only is not None:
            return []
        swept: list[str] = []
        with self.connect() as conn:
            dead = self._dead_local(conn)
        now = time.time()
        limit = now - (self.heartbeat_timeout if timeout is None else timeout)
        mine = list(self._active)
        with self.begin() as conn:
            for pid, ids in dead.items():
                error = (f"The process running this run (pid {pid} on {this_host()}) stopped "
                         "without finishing it.")
                swept += self._crash(conn, error, "process gone", runs.c.run_id.in_(ids),
                                     runs.c.state == str(State.RUNNING), runs.c.pid == pid,
                                     runs.c.host == this_host())
            swept += self._crash(conn, "The process running this run stopped sending heartbeats.",
                                 "heartbeat timeout", runs.c.state.in_(_OPEN),
                                 runs.c.heartbeat_at < limit, runs.c.run_id.not_in(mine))
        return swept

    def _crash(self, conn: Connection, error: str, reason: str, *where: Any) -> list[str]:
        now = time.time()
        ids: list[str] = list(conn.execute(update(runs).where(*where).values(
            state=str(State.CRASHED), ended_at=now, error=error).returning(runs.c.run_id)).scalars())
        if ids:
            conn.execute(events.insert(), [
                {"run_id": r, "kind": str(EventKind.RUN_FINISHED), "step": None,
                 "state": str(State.CRASHED), "ts": now, "data": {"error": reason}} for r in ids])
        return ids

    def _dead_local(self, conn: Connection) -> dict[int, list[str]]:
        """pid -> the RUNNING runs of this host whose owning process ``pid`` is gone."""
        rows = conn.execute(select(runs.c.run_id, runs.c.pid).where(
            runs.c.state == str(State.RUNNING), runs.c.host == this_host(),
            runs.c.pid.is_not(None), runs.c.pid != os.getpid()))
        dead: dict[int, list[str]] = {}
        alive: dict[int, bool] = {}
        for row in rows:
            run_id, pid = str(row[0]), int(row[1])
            if pid not in alive:
                alive[pid] = pid_alive(pid)
            if not alive[pid]:
                dead.setdefault(pid, []).append(run_id)
        return dead

    # ------------------------------------------------------------------ reading
    def runs(self, *, limit: int = 20, state: str | None = None, deployment: str | None = None,
             kind: str | None = None, with_steps: bool = True) -> list[RunRecord]:
        self.flush()
        q = select(runs).order_by(runs.c.created_at.desc()).limit(limit)
        if deployment is not None:
            q = q.where(runs.c.deployment == deployment)
        if kind is not None:
            q = q.where(runs.c.kind == kind)
        with self.connect() as conn:
            if state is not None:
                q = self._where_state(q, State(str(state).upper()), conn)
            rows = conn.execute(q).mappings().all()
            steps = self._steps(conn, [r["run_id"] for r in rows]) if with_steps else {}
        return [self._run_record(r, steps.get(r["run_id"], ())) for r in rows]

    def runs_page(self, *, limit: int = 20, before: tuple[float, str] | None = None,
                  state: str | None = None, deployment: str | None = None,
                  kind: str | None = None, since: float | None = None,
                  until: float | None = None) -> tuple[list[RunRecord], tuple[float, str] | None]:
        """One keyset page of runs, newest first (by created_at, then run id), with their
        steps, and the cursor of the next page (``None`` on the last page). ``before`` is a
        cursor; ``since``/``until`` bound created_at (epoch seconds)."""
        self.flush()
        c = runs.c
        q = select(runs).order_by(c.created_at.desc(), c.run_id.desc()).limit(limit + 1)
        if before is not None:  # the first bound lets both databases range-scan the index
            q = q.where(c.created_at <= before[0],
                        (c.created_at < before[0]) | (c.run_id < before[1]))
        if since is not None:
            q = q.where(c.created_at >= since)
        if until is not None:
            q = q.where(c.created_at < until)
        if deployment is not None:
            q = q.where(c.deployment == deployment)
        if kind is not None:
            q = q.where(c.kind == kind)
        with self.connect() as conn:
            if state is not None:
                q = self._where_state(q, State(str(state).upper()), conn)
            rows = conn.execute(q).mappings().all()
            more = len(rows) > limit
            rows = rows[:limit]
            steps = self._steps(conn, [r["run_id"] for r in rows])
        cursor = (rows[-1]["created_at"], rows[-1]["run_id"]) if more and rows else None
        return [self._run_record(r, steps.get(r["run_id"], ())) for r in rows], cursor

    def _where_state(self, q: Any, state: State, conn: Connection) -> Any:
        stale = time.time() - self.heartbeat_timeout
        alive = runs.c.state.in_(_OPEN)
        if state in (State.CRASHED, State.RUNNING):
            dead = [r for ids in self._dead_local(conn).values() for r in ids]
        if state is State.CRASHED:
            return q.where((runs.c.state == str(State.CRASHED)) | runs.c.run_id.in_(dead)
                           | (alive & (runs.c.heartbeat_at < stale)))
        if state is State.RUNNING:
            return q.where(runs.c.state == str(state), runs.c.heartbeat_at >= stale,
                           runs.c.run_id.not_in(dead))
        if state is State.PENDING:
            return q.where(runs.c.state == str(state), runs.c.heartbeat_at >= stale)
        return q.where(runs.c.state == str(state))

    def get_run(self, run_id: str) -> RunRecord | None:
        self.flush()
        with self.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).mappings().first()
            if row is None:
                return None
            steps = self._steps(conn, [run_id])
        return self._run_record(row, steps.get(run_id, ()))

    def find_run_ids(self, prefix: str) -> list[str]:
        # autoescape: '%' and '_' in the prefix are literal characters, not LIKE wildcards
        with self.connect() as conn:
            return list(conn.execute(select(runs.c.run_id)
                                     .where(runs.c.run_id.startswith(prefix, autoescape=True))
                                     .limit(5)).scalars())

    def events(self, run_id: str) -> list[Event]:
        self.flush()
        with self.connect() as conn:
            rows = conn.execute(select(events).where(events.c.run_id == run_id)
                                .order_by(events.c.id)).mappings().all()
        return [_event(r) for r in rows]

    def events_after(self, after: int = 0, *, kinds: Iterable[str] | None = None,
                     assets: Iterable[str] | None = None, run_ids: Iterable[str] | None = None,
                     limit: int = 1000) -> list[StoredEvent]:
        """The event stream from the table by id (the primary key; by kind through
        ``ix_events_kind``): events committed by any process, oldest first."""
        from nbflow.store.base import STREAM_LIMIT, StoredEvent

        q = (select(events).where(events.c.id > int(after)).order_by(events.c.id)
             .limit(max(0, min(int(limit), STREAM_LIMIT))))
        if kinds is not None:
            q = q.where(events.c.kind.in_([str(k) for k in kinds]))
        if assets is not None:
            q = q.where(events.c.step.in_(list(assets)))
        if run_ids is not None:
            q = q.where(events.c.run_id.in_(list(run_ids)))
        with self.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [StoredEvent(r["id"], _event(r)) for r in rows]

    def last_event_id(self) -> int:
        with self.connect() as conn:
            return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)

    def _steps(self, conn: Connection, run_ids: list[str]) -> dict[str, tuple[StepRecord, ...]]:
        if not run_ids:
            return {}
        rows = conn.execute(
            select(events.c.run_id, events.c.kind, events.c.step, events.c.state, events.c.ts,
                   events.c.data)
            .where(events.c.run_id.in_(run_ids), events.c.kind.in_([str(k) for k in _STEP_KINDS]))
            .order_by(events.c.id)).all()
        folded: dict[str, dict[str, dict[str, Any]]] = {}
        for run_id, kind, step, state, ts, data in rows:
            s = folded.setdefault(run_id, {}).setdefault(
                step, {"name": step, "state": State.PENDING, "attempts": 0, "started_at": None,
                       "ended_at": None, "error": None, "kind": "asset", "upstream": ()})
            p = payload_from(kind, data)
            if isinstance(p, StepStarted):
                s["attempts"] = max(s["attempts"] + 1, p.attempt or 0)
                s["state"] = State.RUNNING
                s["started_at"] = s["started_at"] or ts
                if p.kind is not None:
                    s["kind"] = p.kind
                if p.upstream is not None:
                    s["upstream"] = tuple(p.upstream)
            elif isinstance(p, StepRetrying):
                s["state"] = State.RETRYING
                s["error"] = p.error
            elif isinstance(p, StepFinished):
                s["state"] = State(state)
                s["ended_at"] = ts
                s["error"] = p.error
                s["attempts"] = max(s["attempts"], p.attempt or 0)
                if s["started_at"] is None:
                    s["started_at"] = ts
                if p.kind is not None:
                    s["kind"] = p.kind
                if p.upstream is not None:
                    s["upstream"] = tuple(p.upstream)
        return {
            run_id: tuple(StepRecord(name=s["name"], state=s["state"], attempts=s["attempts"],
                                     started_at=to_datetime(s["started_at"]),
                                     ended_at=to_datetime(s["ended_at"]), error=s["error"],
                                     kind=s["kind"], upstream=s["upstream"])
                          for s in by_step.values())
            for run_id, by_step in folded.items()}

    def _run_record(self, r: Any, steps: tuple[StepRecord, ...]) -> RunRecord:
        state = State(r["state"])
        stale = (r["heartbeat_at"] or 0) < time.time() - self.heartbeat_timeout
        if state in (State.RUNNING, State.PENDING) and stale or (
                state is State.RUNNING and _owner_gone(r.get("host"), r.get("pid"))):
            state = State.CRASHED
        if state in TERMINAL and state is not State.SUCCEEDED:
            # Steps a crash or a cancel interrupted take the run's state.
            steps = tuple(s if s.state in TERMINAL else StepRecord(
                s.name, state if state in (State.CRASHED, State.CANCELLED) else s.state,
                s.attempts, s.started_at, s.ended_at, s.error, s.kind, s.upstream) for s in steps)
        return RunRecord(
            run_id=r["run_id"], kind=r["kind"], state=state, name=r["name"],
            created_at=to_datetime(r["created_at"]), started_at=to_datetime(r["started_at"]),
            ended_at=to_datetime(r["ended_at"]), steps=steps, selection=r["selection"],
            deployment=r["deployment"], scheduled_at=to_datetime(r["scheduled_at"]),
            parameters=r["parameters"] or {}, error=r["error"], output_path=r["output_path"],
            attempt=r["attempt"] or 1, parent_run_id=r["parent_run_id"], tags=r["tags"] or {},
            failure=r["failure"] or {})

    def latest_materializations(self, names: Iterable[str] | None = None) -> dict[str, MaterializationRecord]:
        """The last materialisation of each asset (unpartitioned)."""
        self.flush()
        wanted = None if names is None else set(names)
        with self.connect() as conn:
            # Rows are only ever added, so the newest id says whether anything changed since
            # the last read (from any process): a status after every notebook cell stays cheap.
            token = conn.execute(select(func.max(materializations.c.id))).scalar()
            cached = self._latest
            if cached is None or cached[0] != token:
                latest = (select(func.max(materializations.c.id).label("id"))
                          .where(materializations.c.partition.is_(None))
                          .group_by(materializations.c.asset)).subquery()
                q = select(materializations).join(latest, materializations.c.id == latest.c.id)
                rows = conn.execute(q).mappings().all()
                cached = self._latest = (token, {r["asset"]: _materialization(r) for r in rows})
        found = cached[1]
        if wanted is None:
            return dict(found)
        return {n: found[n] for n in wanted if n in found}

    def materializations(self, asset: str, limit: int = 20) -> list[MaterializationRecord]:
        self.flush()
        q = (select(materializations).where(materializations.c.asset == asset)
             .order_by(materializations.c.id.desc()).limit(limit))
        with self.connect() as conn:
            return [_materialization(r) for r in conn.execute(q).mappings()]

    def last_failures(self) -> dict[str, tuple[float, str, str | None]]:
        """asset -> (time, run id, error) of its last failed step in an asset run."""
        self.flush()
        last = (select(func.max(events.c.id).label("id"))
                .join(runs, runs.c.run_id == events.c.run_id)
                .where(events.c.kind == str(EventKind.STEP_FINISHED),
                       events.c.state == str(State.FAILED), runs.c.kind == "assets")
                .group_by(events.c.step)).subquery()
        q = select(events.c.step, events.c.ts, events.c.run_id, events.c.data).join(
            last, events.c.id == last.c.id)
        with self.connect() as conn:
            return {step: (ts, run_id, StepFinished.from_data(data).error)
                    for step, ts, run_id, data in conn.execute(q)}

    def child_runs(self, run_id: str) -> list[RunRecord]:
        """Runs started inside ``run_id`` (asset runs of a deployment's notebook), oldest first."""
        self.flush()
        with self.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.parent_run_id == run_id)
                                .order_by(runs.c.created_at)).mappings().all()
            steps = self._steps(conn, [r["run_id"] for r in rows])
        return [self._run_record(r, steps.get(r["run_id"], ())) for r in rows]

    def parent_runs(self, run_ids: Iterable[str]) -> dict[str, str]:
        """run id -> the deployment run it ran inside, for the given runs that have one."""
        ids = list(set(run_ids))
        if not ids:
            return {}
        with self.connect() as conn:
            rows = conn.execute(select(runs.c.run_id, runs.c.parent_run_id)
                                .where(runs.c.run_id.in_(ids), runs.c.parent_run_id.is_not(None)))
            return {a: b for a, b in rows}


_IDLE = object()


def _first_line(err: BaseException) -> str:
    return (str(getattr(err, "orig", None) or err).strip().splitlines() or [repr(err)])[0]


def _owner_gone(host: str | None, pid: int | None) -> bool:
    """Whether a run's owning process was on this host and is gone (another host's runs keep
    the heartbeat rule)."""
    return bool(pid) and host == this_host() and pid != os.getpid() and not pid_alive(pid)  # type: ignore[arg-type]

if TYPE_CHECKING:
    def _conforms(store: SqlStore, tasks: TaskTables) -> tuple[RunStore, TaskStore]:
        return store, tasks


def _event(r: Any) -> Event:
    kind = EventKind(r["kind"])
    return Event(kind=kind, run_id=r["run_id"], step=r["step"],
                 state=None if r["state"] is None else State(r["state"]),
                 data=payload_from(kind, r["data"]), ts=r["ts"])


def _materialization(r: Any) -> MaterializationRecord:
    return MaterializationRecord(
        asset=r["asset"], run_id=r["run_id"], ts=to_datetime(r["ts"]),  # type: ignore[arg-type]
        code_version=r["code_version"], data_version=r["data_version"],
        input_versions=r["input_versions"] or {}, metadata=r["metadata"] or {}, uri=r["uri"] or "",
        io=r["io"] or "pickle", duration=r["duration"], partition=r["partition"])
