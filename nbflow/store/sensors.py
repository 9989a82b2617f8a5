"""Store access for sensors: cursors and state, tick leases, recorded ticks, claimed run keys.

What must be exact across daemons happens in one short write transaction here:

- a tick is leased (``lease``): one daemon at a time ticks a sensor, and an interval sensor is
  ticked once per interval whichever daemon gets there first;
- a tick's outcome is committed whole (``commit_tick``): the run requests it made become
  PENDING runs, each keyed request claiming its unique ``(sensor, run_key)`` row, together with
  the new cursor and the tick record; a daemon killed before that commit left nothing behind,
  and the next tick asks again from the old cursor (a key already claimed is not run again);
- a claimed run is taken (``take``: PENDING -> RUNNING only if still pending), so a run left
  queued by a daemon that died is started once by whichever daemon takes it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from nbflow.core.states import State
from nbflow.store.schema import runs, sensor_requests, sensor_ticks, sensors
from nbflow.store.sql import SqlStore

REQUESTED, SKIPPED, FAILED = "REQUESTED", "SKIPPED", "FAILED"
"""The statuses of a recorded tick (a tick that asks for nothing is not recorded)."""


@dataclass(frozen=True)
class SensorRow:
    """A sensor's stored state."""

    name: str
    kind: str
    cursor: str | None
    paused: bool
    last_tick_at: float | None
    last_error: str | None
    lease_owner: str | None = None
    lease_until: float | None = None


@dataclass(frozen=True)
class TickRow:
    """One recorded tick of a sensor."""

    id: int
    sensor: str
    ts: float
    status: str
    reason: str | None
    run_ids: tuple[str, ...]
    cursor: str | None
    duration: float | None


@dataclass(frozen=True)
class NewRun:
    """A run a tick asks for: its id, its run key (None: not keyed) and its ``runs`` row fields."""

    run_id: str
    run_key: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueuedSensorRun:
    """A PENDING run a sensor claimed, waiting to be taken."""

    run_id: str
    sensor: str
    run_key: str
    kind: str
    selection: str | None
    parameters: Mapping[str, Any]
    tags: Mapping[str, Any]


class SensorStore(Protocol):
    """What the sensor tick source and the CLI ask of the store about sensors."""

    def ensure(self, name: str, kind: str) -> None: ...
    def get(self, name: str) -> SensorRow | None: ...
    def all(self) -> list[SensorRow]: ...
    def set_cursor(self, name: str, cursor: str | None) -> bool: ...
    def set_paused(self, name: str, paused: bool) -> bool: ...
    def lease(self, name: str, owner: str, *, seconds: float,
              not_before: float | None = None) -> SensorRow | None: ...
    def release(self, name: str, owner: str, *, error: str | None) -> None: ...
    def commit_tick(self, name: str, owner: str, *, status: str | None, reason: str | None,
                    cursor: str | None, set_cursor: bool, new_runs: Sequence[NewRun],
                    duration: float) -> list[str]: ...
    def ticks(self, name: str, limit: int = 10) -> list[TickRow]: ...
    def run_keys(self, name: str) -> dict[str, str]: ...
    def pending(self, kind: str = "assets") -> list[QueuedSensorRun]: ...
    def take(self, run_id: str, tags: Mapping[str, Any]) -> bool: ...
    def beat(self, run_ids: Sequence[str]) -> None: ...


def _row(r: Any) -> SensorRow:
    return SensorRow(r["name"], r["kind"], r["cursor"], bool(r["paused"]), r["last_tick_at"],
                     r["last_error"], r["lease_owner"], r["lease_until"])


class SensorTables:
    """Sensor queries and atomic claims over a ``SqlStore``; see the module docstring."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ state
    def ensure(self, name: str, kind: str) -> None:
        """Add sensor ``name`` (no cursor, not paused) unless it is stored already."""
        try:
            with self.store.begin() as conn:
                if conn.execute(select(sensors.c.name).where(sensors.c.name == name)).first() is None:
                    conn.execute(sensors.insert().values(name=name, kind=kind, paused=False,
                                                         updated_at=time.time()))
        except IntegrityError:
            pass  # another daemon added it meanwhile

    def get(self, name: str) -> SensorRow | None:
        with self.store.connect() as conn:
            r = conn.execute(select(sensors).where(sensors.c.name == name)).mappings().first()
        return None if r is None else _row(r)

    def all(self) -> list[SensorRow]:
        with self.store.connect() as conn:
            return [_row(r) for r in conn.execute(select(sensors).order_by(sensors.c.name)).mappings()]

    def set_cursor(self, name: str, cursor: str | None) -> bool:
        with self.store.begin() as conn:
            return bool(conn.execute(update(sensors).where(sensors.c.name == name).values(
                cursor=cursor, updated_at=time.time())).rowcount)

    def set_paused(self, name: str, paused: bool) -> bool:
        with self.store.begin() as conn:
            return bool(conn.execute(update(sensors).where(sensors.c.name == name).values(
                paused=paused, updated_at=time.time())).rowcount)

    def forget(self, name: str) -> bool:
        """Remove a sensor's state and ticks (its claimed keys and runs stay)."""
        with self.store.begin() as conn:
            conn.execute(delete(sensor_ticks).where(sensor_ticks.c.sensor == name))
            return bool(conn.execute(delete(sensors).where(sensors.c.name == name)).rowcount)

    # ------------------------------------------------------------------ ticks
    def lease(self, name: str, owner: str, *, seconds: float,
              not_before: float | None = None) -> SensorRow | None:
        """Take the right to tick ``name`` for ``seconds`` (the row, with its cursor), or None:
        paused, another daemon holds it, or (``not_before``) it was ticked after that time."""
        now = time.time()
        where = [sensors.c.name == name, sensors.c.paused.is_(False),
                 sensors.c.lease_until.is_(None) | (sensors.c.lease_until < now)]
        if not_before is not None:
            where.append(sensors.c.last_tick_at.is_(None) | (sensors.c.last_tick_at <= not_before))
        with self.store.begin() as conn:
            if not conn.execute(update(sensors).where(*where).values(
                    lease_owner=owner, lease_until=now + seconds)).rowcount:
                return None
            r = conn.execute(select(sensors).where(sensors.c.name == name)).mappings().first()
        return None if r is None else _row(r)

    def release(self, name: str, owner: str, *, error: str | None) -> None:
        """End a lease without a result (the tick failed or timed out): record the error."""
        now = time.time()
        with self.store.begin() as conn:
            if conn.execute(update(sensors).where(sensors.c.name == name,
                                                  sensors.c.lease_owner == owner).values(
                    lease_owner=None, lease_until=None, last_tick_at=now, last_error=error,
                    updated_at=now)).rowcount and error is not None:
                conn.execute(sensor_ticks.insert().values(sensor=name, ts=now, status=FAILED,
                                                          reason=error, run_ids=[], duration=None))

    def commit_tick(self, name: str, owner: str, *, status: str | None, reason: str | None,
                    cursor: str | None, set_cursor: bool, new_runs: Sequence[NewRun],
                    duration: float) -> list[str]:
        """Commit one tick whole: its runs (PENDING; a keyed one only if its key is new), the
        cursor, the tick record, the end of the lease. Returns the ids of the runs it made; none
        when the lease was lost meanwhile (the tick took longer than its timeout)."""
        for attempt in range(3):
            try:
                return self._commit(name, owner, status, reason, cursor, set_cursor, new_runs, duration)
            except IntegrityError:  # a key claimed by another daemon between our look and insert
                if attempt == 2:
                    raise
        return []

    def _commit(self, name: str, owner: str, status: str | None, reason: str | None,
                cursor: str | None, set_cursor: bool, new_runs: Sequence[NewRun],
                duration: float) -> list[str]:
        now = time.time()
        with self.store.begin() as conn:
            held = conn.execute(select(sensors.c.lease_owner).where(sensors.c.name == name)).scalar()
            if held != owner:
                return []
            keys = [r.run_key for r in new_runs if r.run_key is not None]
            taken = set(conn.execute(select(sensor_requests.c.run_key).where(
                sensor_requests.c.sensor == name, sensor_requests.c.run_key.in_(keys))).scalars()) \
                if keys else set()
            made: list[str] = []
            for r in new_runs:
                if r.run_key is not None:
                    if r.run_key in taken:
                        continue
                    taken.add(r.run_key)
                    conn.execute(sensor_requests.insert().values(
                        sensor=name, run_key=r.run_key, run_id=r.run_id, created_at=now))
                self.store.create_run(r.run_id, conn=conn, **dict(r.fields))
                made.append(r.run_id)
            values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_tick_at": now,
                                      "last_error": None, "updated_at": now}
            if set_cursor:
                values["cursor"] = cursor
            conn.execute(update(sensors).where(sensors.c.name == name).values(**values))
            if status is not None:
                if status == REQUESTED and not made:
                    status, reason = SKIPPED, "every requested run key was already launched"
                conn.execute(sensor_ticks.insert().values(
                    sensor=name, ts=now, status=status, reason=reason, run_ids=made,
                    cursor=cursor if set_cursor else None, duration=duration))
        return made

    def ticks(self, name: str, limit: int = 10) -> list[TickRow]:
        """The newest recorded ticks of ``name``, newest first."""
        q = (select(sensor_ticks).where(sensor_ticks.c.sensor == name)
             .order_by(sensor_ticks.c.id.desc()).limit(limit))
        with self.store.connect() as conn:
            return [TickRow(r["id"], r["sensor"], r["ts"], r["status"], r["reason"],
                            tuple(r["run_ids"] or ()), r["cursor"], r["duration"])
                    for r in conn.execute(q).mappings()]

    def run_keys(self, name: str) -> dict[str, str]:
        """run key -> run id of every keyed request ``name`` claimed."""
        with self.store.connect() as conn:
            rows: list[Any] = list(conn.execute(
                select(sensor_requests.c.run_key, sensor_requests.c.run_id)
                .where(sensor_requests.c.sensor == name)))
        return {str(k): str(r) for k, r in rows}

    # ------------------------------------------------------------------ runs
    def pending(self, kind: str = "assets") -> list[QueuedSensorRun]:
        """PENDING runs of ``kind`` that sensors claimed, oldest first."""
        q = (select(runs.c.run_id, sensor_requests.c.sensor, sensor_requests.c.run_key,
                    runs.c.kind, runs.c.selection, runs.c.parameters, runs.c.tags)
             .join(sensor_requests, sensor_requests.c.run_id == runs.c.run_id)
             .where(runs.c.kind == kind, runs.c.state == str(State.PENDING))
             .order_by(runs.c.created_at))
        with self.store.connect() as conn:
            rows: list[Any] = list(conn.execute(q))
        return [QueuedSensorRun(a, b, c, d, e, f or {}, g or {}) for a, b, c, d, e, f, g in rows]

    def take(self, run_id: str, tags: Mapping[str, Any]) -> bool:
        """PENDING -> RUNNING for this process, if the run is still pending."""
        now = time.time()
        with self.store.begin() as conn:
            old = conn.execute(select(runs.c.tags).where(runs.c.run_id == run_id)).scalar()
            return bool(conn.execute(update(runs).where(
                runs.c.run_id == run_id, runs.c.state == str(State.PENDING)).values(
                    state=str(State.RUNNING), started_at=now, heartbeat_at=now,
                    tags={**(old or {}), **tags})).rowcount)

    def beat(self, run_ids: Sequence[str]) -> None:
        """Keep queued runs alive (a PENDING run without heartbeats reads as CRASHED)."""
        if not run_ids:
            return
        with self.store.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id.in_(list(run_ids)),
                                            runs.c.state == str(State.PENDING))
                         .values(heartbeat_at=time.time()))


__all__ = ["FAILED", "REQUESTED", "SKIPPED", "NewRun", "QueuedSensorRun", "SensorRow",
           "SensorStore", "SensorTables", "TickRow"]
