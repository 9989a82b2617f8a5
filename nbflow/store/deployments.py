"""Store access for deployments, schedule ticks and deployment runs (rows of ``runs``).

Everything that must be exact across processes happens in one short write transaction here:
claiming a tick (a unique ``(deployment, scheduled_at)``), taking a queued run (``PENDING`` ->
``RUNNING`` only if still pending and under the deployment's concurrency limit), marking
crashed runs. Run lifecycle events (RUN_STARTED, RUN_FINISHED) still go through
``SqlStore.record`` like every other run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from nbflow.core.events import EventKind, RunFinished
from nbflow.core.states import State
from nbflow.errors import StoreError
from nbflow.store.schema import deployments, events, runs, ticks
from nbflow.store.sql import SqlStore

KIND = "deployment"
_OPEN = (str(State.PENDING), str(State.RUNNING))


@dataclass(frozen=True)
class DeploymentRow:
    """A stored deployment: its spec is plain JSON owned by ``nbflow.deployments``."""

    name: str
    notebook: str
    spec: Mapping[str, Any]
    paused: bool
    created_at: float
    updated_at: float
    cursor: float | None


@dataclass(frozen=True)
class QueuedRun:
    """A deployment run row that is waiting or running."""

    run_id: str
    deployment: str
    state: str
    scheduled_at: float | None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    heartbeat_at: float | None = None
    output_path: str | None = None


def _current_schema(fn: Any) -> Any:
    """Turn "no such column deployments.cursor" (a store made by a pre-release build) into advice."""

    @functools.wraps(fn)
    def wrapper(self: DeploymentStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except DBAPIError as exc:
            if "cursor" not in str(exc.orig or exc):
                raise
            raise StoreError(
                "This run store was created by a development build of nbflow whose deployments "
                "table lacks the 'cursor' column; move its SQLite file (or PostgreSQL schema) "
                "away and let nbflow create a new one."
            ) from None

    return wrapper


def _deployment(r: Any) -> DeploymentRow:
    return DeploymentRow(r["name"], r["notebook"], r["spec"] or {}, bool(r["paused"]),
                         r["created_at"], r["updated_at"], r["cursor"])


def _queued(r: Any) -> QueuedRun:
    return QueuedRun(r["run_id"], r["deployment"], r["state"], r["scheduled_at"],
                     r["parameters"] or {}, r["tags"] or {}, r["attempt"] or 1,
                     r["heartbeat_at"], r["output_path"])


class DeploymentStore:
    """Deployment queries and atomic claims over a ``SqlStore``."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ deployments
    @_current_schema
    def save(self, name: str, notebook: str, spec: Mapping[str, Any], *,
             reset_cursor: bool, now: float | None = None) -> bool:
        """Create or update ``name``; True when it was created. The cursor starts at ``now``."""
        now = time.time() if now is None else now
        with self.store.begin() as conn:
            row = conn.execute(select(deployments.c.name).where(deployments.c.name == name)).first()
            if row is None:
                conn.execute(deployments.insert().values(
                    name=name, notebook=notebook, spec=dict(spec), paused=False,
                    created_at=now, updated_at=now, cursor=now))
                return True
            values: dict[str, Any] = {"notebook": notebook, "spec": dict(spec), "updated_at": now}
            if reset_cursor:
                values["cursor"] = now
            conn.execute(update(deployments).where(deployments.c.name == name).values(**values))
            return False

    @_current_schema
    def get(self, name: str) -> DeploymentRow | None:
        with self.store.connect() as conn:
            r = conn.execute(select(deployments).where(deployments.c.name == name)).mappings().first()
        return None if r is None else _deployment(r)

    def names(self) -> list[str]:
        with self.store.connect() as conn:
            return list(conn.execute(select(deployments.c.name).order_by(deployments.c.name)).scalars())

    @_current_schema
    def all(self) -> list[DeploymentRow]:
        with self.store.connect() as conn:
            rows = conn.execute(select(deployments).order_by(deployments.c.name)).mappings().all()
        return [_deployment(r) for r in rows]

    @_current_schema
    def set_paused(self, name: str, paused: bool, now: float | None = None) -> bool:
        """Pause or resume; resuming moves the cursor to now so paused ticks are not replayed."""
        now = time.time() if now is None else now
        values: dict[str, Any] = {"paused": paused, "updated_at": now}
        if not paused:
            values["cursor"] = now
        with self.store.begin() as conn:
            return bool(conn.execute(update(deployments).where(deployments.c.name == name)
                                     .values(**values)).rowcount)

    def delete(self, name: str) -> bool:
        """Remove the deployment and its ticks; its runs stay in the history."""
        with self.store.begin() as conn:
            conn.execute(delete(ticks).where(ticks.c.deployment == name))
            return bool(conn.execute(delete(deployments).where(deployments.c.name == name)).rowcount)

    @_current_schema
    def advance_cursor(self, name: str, cursor: float) -> None:
        """Move the cursor forward (never back, whoever else moved it meanwhile)."""
        with self.store.begin() as conn:
            conn.execute(update(deployments).where(
                deployments.c.name == name,
                (deployments.c.cursor.is_(None)) | (deployments.c.cursor < cursor))
                .values(cursor=cursor))

    # ------------------------------------------------------------------ runs
    def claim(self, run_id: str, *, deployment: str, scheduled_at: float, parameters: Mapping[str, Any],
              output_path: str, tags: Mapping[str, Any], tick: bool = True) -> bool:
        """Insert a PENDING run for one tick; False when another scheduler already claimed it."""
        try:
            with self.store.begin() as conn:
                self.store.create_run(run_id, kind=KIND, conn=conn, name=deployment,
                                      deployment=deployment, scheduled_at=scheduled_at,
                                      parameters=dict(parameters), tags=dict(tags),
                                      output_path=output_path, attempt=1)
                if tick:
                    conn.execute(ticks.insert().values(
                        deployment=deployment, scheduled_at=scheduled_at, state="CLAIMED",
                        run_id=run_id, ts=time.time()))
        except IntegrityError:
            return False
        return True

    def record_skipped(self, deployment: str, scheduled_at: float) -> None:
        """Note that a tick was skipped by the catch-up policy (shown by ``deployment show``)."""
        try:
            with self.store.begin() as conn:
                conn.execute(ticks.insert().values(deployment=deployment, scheduled_at=scheduled_at,
                                                   state="SKIPPED", run_id=None, ts=time.time()))
        except IntegrityError:
            pass

    def take(self, run_id: str, *, owner: Mapping[str, Any], limit: int | None) -> bool:
        """PENDING -> RUNNING for this process, if still pending and under ``limit`` running."""
        now = time.time()
        with self.store.begin() as conn:
            row = conn.execute(select(runs.c.deployment, runs.c.state, runs.c.tags)
                               .where(runs.c.run_id == run_id)).first()
            if row is None or row.state != str(State.PENDING):
                return False
            if limit is not None:
                if self.store.dialect == "postgresql":  # serialise takers of one deployment
                    conn.execute(select(deployments.c.name).where(
                        deployments.c.name == row.deployment).with_for_update())
                running = conn.execute(select(func.count()).select_from(runs).where(
                    runs.c.deployment == row.deployment, runs.c.state == str(State.RUNNING),
                    runs.c.heartbeat_at >= now - self.store.heartbeat_timeout)).scalar() or 0
                if running >= limit:
                    return False
            tags = {**(row.tags or {}), **owner}
            return bool(conn.execute(update(runs).where(
                runs.c.run_id == run_id, runs.c.state == str(State.PENDING)).values(
                    state=str(State.RUNNING), started_at=now, heartbeat_at=now, tags=tags)).rowcount)

    def pending(self, deployment: str | None = None, limit: int = 500) -> list[QueuedRun]:
        """Queued deployment runs, oldest tick first."""
        q = (select(runs).where(runs.c.kind == KIND, runs.c.state == str(State.PENDING))
             .order_by(runs.c.created_at, runs.c.scheduled_at).limit(limit))
        if deployment is not None:
            q = q.where(runs.c.deployment == deployment)
        with self.store.connect() as conn:
            return [_queued(r) for r in conn.execute(q).mappings()]

    def open_runs(self) -> list[QueuedRun]:
        """Deployment runs that are PENDING or RUNNING in the table (alive or not)."""
        q = select(runs).where(runs.c.kind == KIND, runs.c.state.in_(_OPEN))
        with self.store.connect() as conn:
            return [_queued(r) for r in conn.execute(q).mappings()]

    def beat(self, run_ids: list[str], now: float | None = None) -> None:
        if not run_ids:
            return
        with self.store.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id.in_(run_ids))
                         .values(heartbeat_at=time.time() if now is None else now))

    def set_attempt(self, run_id: str, attempt: int) -> None:
        with self.store.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(attempt=attempt))

    def finish_now(self, run_id: str, state: State, error: str | None) -> bool:
        """Close an open run at once (crash, cancel before start), with its RUN_FINISHED event."""
        now = time.time()
        with self.store.begin() as conn:
            done = conn.execute(update(runs).where(runs.c.run_id == run_id, runs.c.state.in_(_OPEN))
                                .values(state=str(state), ended_at=now, error=error)).rowcount
            if done:
                conn.execute(events.insert().values(
                    run_id=run_id, kind=str(EventKind.RUN_FINISHED), step=None, state=str(state),
                    ts=now, data=RunFinished(error=error).to_data() or None))
        return bool(done)

    def last_runs(self) -> dict[str, tuple[str, float | None, str]]:
        """deployment -> (state, ended_at or None, run id) of its newest run."""
        newest = (select(runs.c.deployment, func.max(runs.c.created_at).label("created"))
                  .where(runs.c.kind == KIND).group_by(runs.c.deployment)).subquery()
        q = select(runs.c.deployment, runs.c.state, runs.c.ended_at, runs.c.run_id).join(
            newest, (runs.c.deployment == newest.c.deployment)
            & (runs.c.created_at == newest.c.created))
        with self.store.connect() as conn:
            return {d: (s, e, r) for d, s, e, r in conn.execute(q)}

    def recent_ticks(self, deployment: str, limit: int = 10) -> list[tuple[float, str, str | None]]:
        q = (select(ticks.c.scheduled_at, ticks.c.state, ticks.c.run_id)
             .where(ticks.c.deployment == deployment)
             .order_by(ticks.c.scheduled_at.desc()).limit(limit))
        with self.store.connect() as conn:
            return [(a, b, c) for a, b, c in conn.execute(q)]

    def run_counts(self, run_ids: list[str] | None = None) -> dict[str, int]:
        """state -> number of deployment runs (for the load benchmark and tests)."""
        q = select(runs.c.state, func.count()).where(runs.c.kind == KIND).group_by(runs.c.state)
        if run_ids is not None:
            q = q.where(runs.c.run_id.in_(run_ids))
        with self.store.connect() as conn:
            return {s: n for s, n in conn.execute(q)}


__all__ = ["KIND", "DeploymentRow", "DeploymentStore", "QueuedRun"]
