"""MemoryStore: the run store in this process's memory, for engine tests; the same records as SqlStore.

It derives runs, steps, materialisations and failures from events exactly as ``SqlStore`` does
(``tests/store/test_memory.py`` holds both to one set of assertions). Event data is kept as the
SQL store's JSON columns give it back (plain JSON values, anything else as text), so a test that
passes here sees the same values there. Nothing is durable and nothing is shared with other
processes; deployments need a SQL store.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nbflow.core.events import (
    Event,
    EventKind,
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
from nbflow.core.tasks import CacheEntry
from nbflow.errors import RunCancelled, StoreError
from nbflow.store.base import check_limit
from nbflow.store.hosts import pid_alive

if TYPE_CHECKING:
    from nbflow.store.backfills import BackfillTables
    from nbflow.store.base import RunStore, StoredEvent, TaskStore
    from nbflow.store.deployments import DeploymentStore
    from nbflow.store.partitions import MemoryPartitions
    from nbflow.store.sensors import SensorStore

URL = "memory://"

_STEP_KINDS = frozenset(str(k) for k in (EventKind.STEP_STARTED, EventKind.STEP_FINISHED,
                                         EventKind.STEP_RETRYING))
_OPEN = (str(State.RUNNING), str(State.PENDING))
_RUN_COLUMNS = frozenset({
    "run_id", "kind", "name", "state", "selection", "deployment", "scheduled_at", "parameters",
    "tags", "created_at", "started_at", "ended_at", "heartbeat_at", "error", "output_path",
    "attempt", "parent_run_id", "failure"})
_JSON_COLUMNS = ("parameters", "tags", "failure")
_HOST = socket.gethostname()


def _json(value: Any) -> Any:
    """``value`` as a JSON column gives it back (the SQL store writes with ``default=str``)."""
    return None if value is None else json.loads(json.dumps(value, default=str))


class MemoryStore:
    """The run store as dictionaries and lists behind one lock.

    Responsibilities: apply each recorded event at once (``flush`` only reports a failed one);
    keep the runs of this process alive; answer the same queries as ``SqlStore``; hold task
    cache entries and concurrency slots (``tasks``).
    """

    def __init__(self, url: str = URL, *, heartbeat_interval: float = 5.0,
                 heartbeat_timeout: float = 60.0) -> None:
        self.url = url
        self.heartbeat_interval = heartbeat_interval  # unused: this process's runs are always alive
        self.heartbeat_timeout = heartbeat_timeout
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self._runs: dict[str, dict[str, Any]] = {}
        self._events: dict[str, list[Event]] = {}
        self._stream: list[StoredEvent] = []  # every event in record order; id = index + 1
        self._failed_steps: list[Event] = []  # STEP_FINISHED FAILED, in record order
        self._mats: dict[str, list[dict[str, Any]]] = {}  # asset -> rows, oldest first
        self._active: dict[str, float] = {}
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ parts
    @functools.cached_property
    def tasks(self) -> MemoryTasks:
        """Task caches and concurrency limits kept in this store."""
        return MemoryTasks()

    @functools.cached_property
    def partitions(self) -> MemoryPartitions:
        """Per-partition materialisations and failures, and dynamic partition keys."""
        from nbflow.store.partitions import MemoryPartitions

        return MemoryPartitions(self)

    @property
    def deployments(self) -> DeploymentStore:
        raise StoreError("The in-memory store keeps no deployments, schedule ticks or queued runs; "
                         "set NBFLOW_DATABASE_URL to a SQLite or PostgreSQL store to deploy notebooks.")

    @property
    def backfills(self) -> BackfillTables:
        raise StoreError("The in-memory store keeps no backfill plans (a backfill must survive "
                         "its process); set NBFLOW_DATABASE_URL to a SQLite or PostgreSQL store, "
                         "or run the partitions directly with nf.materialize(..., partitions=...).")

    @property
    def sensors(self) -> SensorStore:
        raise StoreError("The in-memory store keeps no sensor cursors or ticks (the daemon runs "
                         "sensors on a shared store); set NBFLOW_DATABASE_URL to a SQLite or "
                         "PostgreSQL store, or try a sensor in a cell with my_sensor.tick().")

    # ------------------------------------------------------------------ writing
    def record(self, event: Event) -> None:
        """Apply ``event`` now; a bad event is dropped whole and reported by the next ``flush``."""
        with self._lock:
            try:
                self._apply(event)
            except Exception as exc:  # noqa: BLE001 - like the SQL writer: flush() reports it
                self._error = exc

    def flush(self) -> None:
        """Every event is applied as it is recorded; raise if one could not be."""
        with self._lock:
            err, self._error = self._error, None
        if err is not None:
            msg = (str(err).strip().splitlines() or [repr(err)])[0]
            raise StoreError(f"The run store at {self.url} could not record events: {msg}") from err

    def close(self) -> None:
        """Nothing to release; the records stay readable."""

    def _apply(self, e: Event) -> None:
        # Everything that can fail comes first, so a bad event changes nothing (as in one SQL
        # transaction per event).
        if e.run_id is None:
            raise ValueError("an event needs a run id")
        kind = EventKind(str(e.kind))
        raw = e.to_data()
        data = _json(raw) if raw else None
        mat = _materialization_row(e) if e.kind is EventKind.MATERIALIZATION else None
        new_run = None
        if e.kind is EventKind.RUN_STARTED and e.run_id not in self._runs:
            new_run = self._run_row(e.run_id, **_started(e))
        state = None if e.state is None else str(e.state)
        # Kept as the SQL store reads it back: the payload rebuilt from its JSON.
        stored = Event(kind, e.run_id, e.step, None if state is None else State(state),
                       payload_from(kind, data), e.ts)
        self._events.setdefault(e.run_id, []).append(stored)
        self._append_stream(stored)
        if mat is not None:
            self._mats.setdefault(mat["asset"], []).append(mat)
        if e.kind is EventKind.STEP_FINISHED and state == str(State.FAILED):
            self._failed_steps.append(stored)
        if e.kind is EventKind.RUN_STARTED:
            if new_run is not None:
                self._runs[e.run_id] = new_run
            else:
                self._runs[e.run_id].update(state=str(State.RUNNING), started_at=e.ts, heartbeat_at=e.ts)
            self._active[e.run_id] = e.ts
        elif e.kind is EventKind.RUN_FINISHED:
            row = self._runs.get(e.run_id)
            if row is not None:
                end = e.data if isinstance(e.data, RunFinished) else RunFinished()
                row.update(state=str(e.state), ended_at=e.ts, heartbeat_at=e.ts,
                           error=end.error, failure=_json(end.failure()))
                if end.output_path is not None:
                    row["output_path"] = end.output_path
            self._active.pop(e.run_id, None)

    def _run_row(self, run_id: str, **fields: Any) -> dict[str, Any]:
        """A new run row as the SQL ``runs`` table would hold it; fails as its constraints do."""
        unknown = set(fields) - _RUN_COLUMNS
        if unknown:
            raise StoreError(f"A run has no field(s) {', '.join(sorted(unknown))}; use the "
                             f"fields of the runs table: {', '.join(sorted(_RUN_COLUMNS))}.")
        if run_id in self._runs:
            raise StoreError(f"The run {run_id!r} already exists in the in-memory store; use a new run id.")
        row: dict[str, Any] = dict.fromkeys(_RUN_COLUMNS)
        row["attempt"] = 1  # the column's default when no attempt is given
        row.update(fields)
        row["run_id"] = run_id
        for col in _JSON_COLUMNS:
            row[col] = _json(row[col])
        if row["kind"] is None or row["state"] is None or row["created_at"] is None:
            raise StoreError(f"The run {run_id!r} needs a kind, a state and a creation time.")
        tick = (row["deployment"], row["scheduled_at"])
        if None not in tick and any((r["deployment"], r["scheduled_at"]) == tick for r in self._runs.values()):
            raise StoreError(f"Deployment {tick[0]!r} already has a run for the tick at {tick[1]}; "
                             "a tick is run once.")
        row["_seq"] = next(self._seq)
        return row

    def create_run(self, run_id: str, *, kind: str, state: State = State.PENDING,
                   **fields: Any) -> None:
        """Insert a run now; raises ``StoreError`` when the id or its (deployment, scheduled_at)
        tick is taken (the SQL store raises ``IntegrityError``)."""
        now = time.time()
        with self._lock:
            self._runs[run_id] = self._run_row(run_id, **{"created_at": now, "heartbeat_at": now,
                                                          **fields, "kind": kind, "state": str(state)})

    def heartbeat(self, run_id: str) -> None:
        """Keep ``run_id`` alive from this process."""
        with self._lock:
            self._active[run_id] = time.time()

    # ------------------------------------------------------------------ crashes
    def sweep_crashed(self, timeout: float | None = None) -> list[str]:
        """Mark runs whose heartbeat stopped ``timeout`` seconds ago as CRASHED (returns their ids)."""
        limit = time.time() - (self.heartbeat_timeout if timeout is None else timeout)
        with self._lock:
            ids = [r["run_id"] for r in self._runs.values()
                   if r["state"] in _OPEN and r["heartbeat_at"] is not None
                   and r["heartbeat_at"] < limit and r["run_id"] not in self._active]
            now = time.time()
            for run_id in ids:
                self._runs[run_id].update(state=str(State.CRASHED), ended_at=now,
                                          error="The process running this run stopped sending heartbeats.")
                crash = Event(EventKind.RUN_FINISHED, run_id, None, State.CRASHED,
                              RunFinished(error="heartbeat timeout"), now)
                self._events.setdefault(run_id, []).append(crash)
                self._append_stream(crash)
        return ids

    # ------------------------------------------------------------------ reading
    def _heartbeat_at(self, r: Mapping[str, Any]) -> float | None:
        # The SQL writer beats this process's runs in the background; here they are always alive.
        return time.time() if r["run_id"] in self._active else r["heartbeat_at"]

    def _has_state(self, r: Mapping[str, Any], state: State) -> bool:
        stale = time.time() - self.heartbeat_timeout
        beat = self._heartbeat_at(r)
        alive = r["state"] in _OPEN
        if state is State.CRASHED:
            return r["state"] == str(State.CRASHED) or (alive and beat is not None and beat < stale)
        if state in (State.RUNNING, State.PENDING):
            return r["state"] == str(state) and beat is not None and beat >= stale
        return r["state"] == str(state)

    def runs(self, *, limit: int = 20, state: str | None = None, deployment: str | None = None,
             kind: str | None = None, with_steps: bool = True) -> list[RunRecord]:
        wanted = None if state is None else State(str(state).upper())
        with self._lock:
            rows = [r for r in sorted(self._runs.values(), key=lambda r: (r["created_at"], r["_seq"]),
                                      reverse=True)
                    if (deployment is None or r["deployment"] == deployment)
                    and (kind is None or r["kind"] == kind)
                    and (wanted is None or self._has_state(r, wanted))][:max(limit, 0)]
            return [self._run_record(r, with_steps) for r in rows]

    def runs_page(self, *, limit: int = 20, before: tuple[float, str] | None = None,
                  state: str | None = None, deployment: str | None = None,
                  kind: str | None = None, since: float | None = None,
                  until: float | None = None) -> tuple[list[RunRecord], tuple[float, str] | None]:
        wanted = None if state is None else State(str(state).upper())
        with self._lock:
            rows = [r for r in sorted(self._runs.values(),
                                      key=lambda r: (r["created_at"], r["run_id"]), reverse=True)
                    if (before is None or (r["created_at"], r["run_id"]) < before)
                    and (since is None or r["created_at"] >= since)
                    and (until is None or r["created_at"] < until)
                    and (deployment is None or r["deployment"] == deployment)
                    and (kind is None or r["kind"] == kind)
                    and (wanted is None or self._has_state(r, wanted))][:max(limit, 0) + 1]
            page = rows[:max(limit, 0)]
            cursor = ((page[-1]["created_at"], page[-1]["run_id"])
                      if len(rows) > len(page) and page else None)
            return [self._run_record(r, True) for r in page], cursor

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._runs.get(run_id)
            return None if row is None else self._run_record(row)

    def find_run_ids(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(r for r in self._runs if r.startswith(prefix))[:5]

    def events(self, run_id: str) -> list[Event]:
        with self._lock:
            return list(self._events.get(run_id, ()))

    def _append_stream(self, e: Event) -> None:
        from nbflow.store.base import StoredEvent

        self._stream.append(StoredEvent(len(self._stream) + 1, e))

    def events_after(self, after: int = 0, *, kinds: Iterable[str] | None = None,
                     assets: Iterable[str] | None = None, run_ids: Iterable[str] | None = None,
                     limit: int = 1000) -> list[StoredEvent]:
        """The event stream: events with an id above ``after``, oldest first (as ``SqlStore``)."""
        from nbflow.store.base import STREAM_LIMIT

        want_kinds = None if kinds is None else {str(k) for k in kinds}
        want_assets = None if assets is None else set(assets)
        want_runs = None if run_ids is None else set(run_ids)
        limit = max(0, min(int(limit), STREAM_LIMIT))
        out: list[StoredEvent] = []
        with self._lock:
            for se in self._stream[max(int(after), 0):]:
                if len(out) >= limit:
                    break
                e = se.event
                if ((want_kinds is None or str(e.kind) in want_kinds)
                        and (want_assets is None or e.step in want_assets)
                        and (want_runs is None or e.run_id in want_runs)):
                    out.append(se)
        return out

    def last_event_id(self) -> int:
        with self._lock:
            return len(self._stream)

    def _steps(self, run_id: str) -> tuple[StepRecord, ...]:
        folded: dict[str, dict[str, Any]] = {}
        for e in self._events.get(run_id, ()):
            kind = str(e.kind)
            if kind not in _STEP_KINDS:
                continue
            s = folded.setdefault(
                e.step, {"name": e.step, "state": State.PENDING, "attempts": 0, "started_at": None,  # type: ignore[arg-type]
                         "ended_at": None, "error": None, "kind": "asset", "upstream": ()})
            p = e.data
            if isinstance(p, StepStarted):
                s["attempts"] = max(s["attempts"] + 1, p.attempt or 0)
                s["state"] = State.RUNNING
                s["started_at"] = s["started_at"] or e.ts
                if p.kind is not None:
                    s["kind"] = p.kind
                if p.upstream is not None:
                    s["upstream"] = tuple(p.upstream)
            elif isinstance(p, StepRetrying):
                s["state"] = State.RETRYING
                s["error"] = p.error
            elif isinstance(p, StepFinished):
                s["state"] = State(e.state)  # type: ignore[arg-type]
                s["ended_at"] = e.ts
                s["error"] = p.error
                s["attempts"] = max(s["attempts"], p.attempt or 0)
                if s["started_at"] is None:
                    s["started_at"] = e.ts
                if p.kind is not None:
                    s["kind"] = p.kind
                if p.upstream is not None:
                    s["upstream"] = tuple(p.upstream)
        return tuple(StepRecord(name=s["name"], state=s["state"], attempts=s["attempts"],
                                started_at=to_datetime(s["started_at"]),
                                ended_at=to_datetime(s["ended_at"]), error=s["error"],
                                kind=s["kind"], upstream=s["upstream"])
                     for s in folded.values())

    def _run_record(self, r: Mapping[str, Any], with_steps: bool = True) -> RunRecord:
        steps = self._steps(r["run_id"]) if with_steps else ()
        state = State(r["state"])
        if state in (State.RUNNING, State.PENDING) and (self._heartbeat_at(r) or 0) < time.time() - self.heartbeat_timeout:
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
        wanted = None if names is None else set(names)
        out = {}
        with self._lock:
            for asset, rows in self._mats.items():
                if wanted is not None and asset not in wanted:
                    continue
                last = next((m for m in reversed(rows) if m["partition"] is None), None)
                if last is not None:
                    out[asset] = _materialization(last)
        return out

    def materializations(self, asset: str, limit: int = 20) -> list[MaterializationRecord]:
        with self._lock:
            rows = self._mats.get(asset, [])
            return [_materialization(m) for m in reversed(rows[-limit:] if limit > 0 else [])]

    def last_failures(self) -> dict[str, tuple[float, str, str | None]]:
        """asset -> (time, run id, error) of its last failed step in an asset run."""
        out: dict[str, tuple[float, str, str | None]] = {}
        with self._lock:
            for e in self._failed_steps:
                run = self._runs.get(e.run_id)
                if run is not None and run["kind"] == "assets":
                    out[e.step] = (e.ts, e.run_id, _error(e))  # type: ignore[index]
        return out

    def child_runs(self, run_id: str) -> list[RunRecord]:
        """Runs started inside ``run_id`` (asset runs of a deployment's notebook), oldest first."""
        with self._lock:
            rows = sorted((r for r in self._runs.values() if r["parent_run_id"] == run_id),
                          key=lambda r: (r["created_at"], r["_seq"]))
            return [self._run_record(r) for r in rows]

    def parent_runs(self, run_ids: Iterable[str]) -> dict[str, str]:
        """run id -> the deployment run it ran inside, for the given runs that have one."""
        with self._lock:
            rows = (self._runs.get(i) for i in set(run_ids))
            return {r["run_id"]: r["parent_run_id"] for r in rows
                    if r is not None and r["parent_run_id"] is not None}


def _error(e: Event) -> str | None:
    """A STEP_FINISHED event's error."""
    return e.data.error if isinstance(e.data, StepFinished) else None


def _started(e: Event) -> dict[str, Any]:
    """The run row fields a RUN_STARTED event sets (as ``SqlStore._start_run``)."""
    d = e.data if isinstance(e.data, RunStarted) else RunStarted()
    return {"kind": d.kind, "name": d.name, "selection": d.selection, "deployment": d.deployment,
            "scheduled_at": d.scheduled_at, "parameters": d.parameters or {},
            "tags": d.tags or {}, "created_at": e.ts,
            "attempt": 1 if d.attempt is None else d.attempt, "parent_run_id": d.parent_run_id,
            "output_path": d.output_path, "state": str(State.RUNNING), "started_at": e.ts,
            "heartbeat_at": e.ts}


def _materialization_row(e: Event) -> dict[str, Any]:
    d = e.data if isinstance(e.data, Materialized) else Materialized()
    row = {"asset": d.asset or e.step, "run_id": e.run_id, "ts": e.ts, "partition": d.partition,
           "code_version": d.code_version, "data_version": d.data_version,
           "input_versions": _json(d.input_versions or {}),
           "metadata": _json(d.metadata or {}), "uri": d.uri, "io": d.io, "duration": d.duration}
    missing = [k for k in ("asset", "code_version", "data_version") if row[k] is None]
    if missing:
        raise ValueError(f"a materialisation needs {', '.join(missing)}")
    return row


def _materialization(r: Mapping[str, Any]) -> MaterializationRecord:
    return MaterializationRecord(
        asset=r["asset"], run_id=r["run_id"], ts=to_datetime(r["ts"]),  # type: ignore[arg-type]
        code_version=r["code_version"], data_version=r["data_version"],
        input_versions=r["input_versions"] or {}, metadata=r["metadata"] or {}, uri=r["uri"] or "",
        io=r["io"] or "pickle", duration=r["duration"], partition=r["partition"])


@dataclasses.dataclass
class _Slot:
    name: str
    holder: str
    run_id: str | None
    step: str | None
    acquired_at: float


class MemoryTasks:
    """Task cache entries and concurrency slots of one process, with ``TaskTables``'s behaviour.

    One condition guards everything: a waiting ``acquire`` wakes when a slot is given back.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._entries: dict[str, CacheEntry] = {}
        self._limits: dict[str, int] = {}
        self._slots: dict[int, _Slot] = {}
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ cache
    def get_entry(self, key: str) -> CacheEntry | None:
        with self._cond:
            return self._entries.get(key)

    def find_entry(self, run_id: str, step: str) -> CacheEntry | None:
        """The result stored by step ``step`` of run ``run_id`` (cached or persisted), if any."""
        with self._cond:
            found = [e for e in self._entries.values() if e.run_id == run_id and e.step == step]
        return max(reversed(found), key=lambda e: e.created_at, default=None)

    def put_entry(self, entry: CacheEntry) -> None:
        with self._cond:
            self._entries.pop(entry.key, None)
            self._entries[entry.key] = dataclasses.replace(entry, payload=bytes(entry.payload))

    def clear_entries(self, task: str | None = None) -> int:
        """Delete the cached results of ``task`` (all tasks when ``None``); returns how many."""
        with self._cond:
            gone = [k for k, e in self._entries.items() if task is None or e.task == task]
            for k in gone:
                del self._entries[k]
        return len(gone)

    def cache_summary(self) -> list[tuple[str, int, float | None]]:
        """(task, entries, newest entry time) for every task with cached results."""
        summary: dict[str, tuple[int, float]] = {}
        with self._cond:
            for e in self._entries.values():
                n, newest = summary.get(e.task, (0, e.created_at))
                summary[e.task] = (n + 1, max(newest, e.created_at))
        return [(t, n, newest) for t, (n, newest) in sorted(summary.items())]

    # ------------------------------------------------------------------ limits
    def set_limit(self, name: str, slots: int | None) -> None:
        """Allow at most ``slots`` running tasks tagged ``name``; ``None`` removes the limit."""
        check_limit(name, slots)
        with self._cond:
            self._limits.pop(name, None)
            if slots is not None:
                self._limits[name] = slots
            self._cond.notify_all()

    def limits(self) -> dict[str, tuple[int, int]]:
        """tag -> (limit, slots in use) for every limited tag."""
        with self._cond:
            return {n: (s, self._used(n)) for n, s in sorted(self._limits.items())}

    def _used(self, name: str) -> int:
        return sum(1 for s in self._slots.values() if s.name == name)

    def limited(self, tags: Sequence[str]) -> dict[str, int]:
        """The limits among ``tags`` (tags without a limit need no slot)."""
        with self._cond:
            return {n: self._limits[n] for n in dict.fromkeys(tags) if n in self._limits}

    def try_acquire(self, tags: Sequence[str], *, run_id: str | None = None,
                    step: str | None = None) -> list[int] | None:
        """Take one slot of every limited tag in ``tags`` at once; ``None`` when one is full."""
        with self._cond:
            return self._take(tags, run_id, step)

    def _take(self, tags: Sequence[str], run_id: str | None, step: str | None) -> list[int] | None:
        limits = {n: self._limits[n] for n in tags if n in self._limits}
        if not limits:
            return []
        if any(self._used(n) >= s for n, s in limits.items()):
            return None
        holder = f"{_HOST}:{os.getpid()}:{threading.get_ident()}"
        now = time.time()
        ids = []
        for n in sorted(limits):
            i = next(self._ids)
            self._slots[i] = _Slot(n, holder, run_id, step, now)
            ids.append(i)
        return ids

    def acquire(self, tags: Sequence[str], *, run_id: str | None = None, step: str | None = None,
                cancel: threading.Event | None = None,
                on_wait: Callable[[], Any] | None = None) -> list[int]:
        """Wait until one slot of every limited tag is free and take them."""
        waited = False
        while True:
            with self._cond:
                ids = self._take(tags, run_id, step)
                if ids is not None:
                    return ids
                if waited:
                    # A set cancel flag does not notify the condition: wake now and then to look.
                    if cancel is None:
                        self._cond.wait()
                        continue
                    if not cancel.is_set():
                        self._cond.wait(0.05)
                    if cancel.is_set():
                        raise RunCancelled("The run was cancelled while a task waited for a concurrency slot.")
                    continue
            waited = True
            self.reap_dead_holders()
            if on_wait is not None:
                on_wait()  # outside the lock: it may emit events or read the limits

    def release(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._cond:
            for i in ids:
                self._slots.pop(i, None)
            self._cond.notify_all()

    def reap_dead_holders(self) -> int:
        """Free slots held by processes on this host that no longer exist (a forked child's)."""
        with self._cond:
            dead = [i for i, s in self._slots.items()
                    if s.holder.startswith(f"{_HOST}:") and not pid_alive(int(s.holder.split(":")[1]))]
        self.release(dead)
        return len(dead)

    def reset_slots(self, name: str) -> int:
        """Free every slot of tag ``name``."""
        with self._cond:
            gone = [i for i, s in self._slots.items() if s.name == name]
        self.release(gone)
        return len(gone)


if TYPE_CHECKING:
    def _conforms(store: MemoryStore, tasks: MemoryTasks) -> tuple[RunStore, TaskStore]:
        return store, tasks


__all__ = ["URL", "MemoryStore", "MemoryTasks"]
