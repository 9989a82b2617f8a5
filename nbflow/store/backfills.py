"""Store access for backfills: the durable plan and the moves that must be exact across processes.

A backfill is written whole before anything runs (``create``: its row and every
``(asset, partition)`` step, each in a numbered batch: one run per batch). Then:

- one process runs it at a time (``claim``: a compare-and-set on its state and owner; a
  RUNNING backfill whose owner died, or stopped beating, can be claimed again);
- a batch's steps become RUNNING with the run's id before the run starts (``start_batch``) and
  take their outcome after it (``finish_steps``), so after a crash the steps that were running
  are known, and the run id tells which of them committed a materialisation;
- cancel (``request_cancel``) is a state the runner reads between steps, from any process;
  resume (``resume``) puts every step that did not succeed back to PENDING, in the same backfill.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from nbflow.store.schema import backfill_steps, backfills
from nbflow.store.sql import SqlStore

REQUESTED, RUNNING, CANCELING = "REQUESTED", "RUNNING", "CANCELING"
CANCELLED, SUCCEEDED, FAILED = "CANCELLED", "SUCCEEDED", "FAILED"
ENDED = (CANCELLED, SUCCEEDED, FAILED)
"""A backfill's states; the ended ones take no more runs until resumed."""

PENDING, SKIPPED = "PENDING", "SKIPPED"
"""Step states besides RUNNING, SUCCEEDED, FAILED and CANCELLED."""


@dataclass(frozen=True)
class BackfillRow:
    """A stored backfill."""

    id: str
    selection: str
    partitions: str
    policy: str
    per_run: int
    concurrency: int
    force: bool
    state: str
    owner: str | None
    heartbeat_at: float | None
    created_at: float
    updated_at: float
    ended_at: float | None
    error: str | None


@dataclass(frozen=True)
class StepRow:
    """One (asset, partition) step of a backfill."""

    asset: str
    partition: str
    batch: int
    state: str
    run_id: str | None


def _row(r: Any) -> BackfillRow:
    return BackfillRow(r["id"], r["selection"], r["partitions"], r["policy"], r["per_run"],
                       r["concurrency"], bool(r["force"]), r["state"], r["owner"],
                       r["heartbeat_at"], r["created_at"], r["updated_at"], r["ended_at"],
                       r["error"])


class BackfillTables:
    """Backfill queries and atomic moves over a ``SqlStore``; see the module docstring."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ the plan
    def create(self, backfill_id: str, *, selection: str, partitions: str, policy: str,
               per_run: int, concurrency: int, force: bool,
               steps: Iterable[tuple[str, str, int]]) -> None:
        """Write the backfill and its ``(asset, partition, batch)`` steps in one transaction."""
        now = time.time()
        rows = [{"backfill_id": backfill_id, "asset": a, "partition": p, "batch": b,
                 "state": PENDING, "run_id": None, "updated_at": now} for a, p, b in steps]
        with self.store.begin() as conn:
            conn.execute(backfills.insert().values(
                id=backfill_id, selection=selection, partitions=partitions, policy=policy,
                per_run=per_run, concurrency=concurrency, force=force, state=REQUESTED,
                created_at=now, updated_at=now))
            for i in range(0, len(rows), 5000):
                conn.execute(backfill_steps.insert(), rows[i:i + 5000])

    def get(self, backfill_id: str) -> BackfillRow | None:
        with self.store.connect() as conn:
            r = conn.execute(select(backfills).where(backfills.c.id == backfill_id)).mappings().first()
        return None if r is None else _row(r)

    def ids(self) -> list[str]:
        with self.store.connect() as conn:
            return [r[0] for r in conn.execute(select(backfills.c.id))]

    def recent(self, limit: int = 50) -> list[BackfillRow]:
        """Newest first."""
        with self.store.connect() as conn:
            q = select(backfills).order_by(backfills.c.created_at.desc()).limit(limit)
            return [_row(r) for r in conn.execute(q).mappings()]

    def steps(self, backfill_id: str) -> list[StepRow]:
        """Every step, by batch then in plan order."""
        with self.store.connect() as conn:
            q = (select(backfill_steps).where(backfill_steps.c.backfill_id == backfill_id)
                 .order_by(backfill_steps.c.batch, backfill_steps.c.id))
            return [StepRow(r["asset"], r["partition"], r["batch"], r["state"], r["run_id"])
                    for r in conn.execute(q).mappings()]

    def counts(self, backfill_id: str) -> dict[str, int]:
        """Steps per state."""
        with self.store.connect() as conn:
            q = (select(backfill_steps.c.state, func.count())
                 .where(backfill_steps.c.backfill_id == backfill_id)
                 .group_by(backfill_steps.c.state))
            return {state: int(n) for state, n in conn.execute(q)}

    def active(self) -> list[BackfillRow]:
        """Backfills that want a runner: requested, or running (their owner may be gone)."""
        with self.store.connect() as conn:
            q = (select(backfills).where(backfills.c.state.in_((REQUESTED, RUNNING, CANCELING)))
                 .order_by(backfills.c.created_at))
            return [_row(r) for r in conn.execute(q).mappings()]

    # ------------------------------------------------------------------ who runs it
    def claim(self, row: BackfillRow, owner: str) -> bool:
        """Become the runner of ``row`` if its state and owner are still what ``row`` says
        (the caller decided from ``row`` that it may: requested, or its owner is gone)."""
        now = time.time()
        where = [backfills.c.id == row.id, backfills.c.state == row.state,
                 backfills.c.owner.is_(None) if row.owner is None else backfills.c.owner == row.owner]
        state = CANCELING if row.state == CANCELING else RUNNING
        with self.store.begin() as conn:
            return bool(conn.execute(update(backfills).where(*where).values(
                state=state, owner=owner, heartbeat_at=now, updated_at=now, ended_at=None,
                error=None)).rowcount)

    def beat(self, backfill_id: str, owner: str) -> str | None:
        """Record that ``owner`` still runs it; returns the stored state (None: not ours)."""
        now = time.time()
        with self.store.begin() as conn:
            conn.execute(update(backfills).where(backfills.c.id == backfill_id,
                                                 backfills.c.owner == owner)
                         .values(heartbeat_at=now))
            r = conn.execute(select(backfills.c.state, backfills.c.owner)
                             .where(backfills.c.id == backfill_id)).first()
        return None if r is None or r[1] != owner else str(r[0])

    def finish(self, backfill_id: str, owner: str, state: str, error: str | None = None) -> bool:
        """End the backfill ``owner`` runs with ``state``."""
        now = time.time()
        with self.store.begin() as conn:
            return bool(conn.execute(update(backfills).where(
                backfills.c.id == backfill_id, backfills.c.owner == owner).values(
                state=state, owner=None, updated_at=now, ended_at=now, error=error)).rowcount)

    def release(self, backfill_id: str, owner: str) -> bool:
        """Hand a running backfill back unfinished (REQUESTED, no owner): its runner stops."""
        with self.store.begin() as conn:
            return bool(conn.execute(update(backfills).where(
                backfills.c.id == backfill_id, backfills.c.owner == owner,
                backfills.c.state == RUNNING).values(
                state=REQUESTED, owner=None, updated_at=time.time())).rowcount)

    # ------------------------------------------------------------------ steps
    def start_batch(self, backfill_id: str, batch: int, run_id: str) -> list[StepRow]:
        """Mark the batch's steps that have not succeeded RUNNING under ``run_id``; returns them."""
        now = time.time()
        where = [backfill_steps.c.backfill_id == backfill_id, backfill_steps.c.batch == batch,
                 backfill_steps.c.state != SUCCEEDED]
        with self.store.begin() as conn:
            conn.execute(update(backfill_steps).where(*where).values(
                state=RUNNING, run_id=run_id, updated_at=now))
            q = select(backfill_steps).where(*where).order_by(backfill_steps.c.id)
            return [StepRow(r["asset"], r["partition"], r["batch"], r["state"], r["run_id"])
                    for r in conn.execute(q).mappings()]

    def finish_steps(self, backfill_id: str, outcomes: Mapping[tuple[str, str], str]) -> None:
        """Give each ``(asset, partition)`` its outcome, in one transaction."""
        now = time.time()
        by_state: dict[str, list[tuple[str, str]]] = {}
        for key, state in outcomes.items():
            by_state.setdefault(state, []).append(key)
        with self.store.begin() as conn:
            for state, keys in by_state.items():
                for asset in {a for a, _ in keys}:
                    parts = [p for a, p in keys if a == asset]
                    for i in range(0, len(parts), 500):
                        conn.execute(update(backfill_steps).where(
                            backfill_steps.c.backfill_id == backfill_id,
                            backfill_steps.c.asset == asset,
                            backfill_steps.c.partition.in_(parts[i:i + 500])).values(
                            state=state, updated_at=now))

    # ------------------------------------------------------------------ cancel and resume
    def request_cancel(self, backfill_id: str) -> str | None:
        """Cancel: a requested backfill ends at once, a running one is asked to stop
        (CANCELING). Returns the new state, or None when it had ended already."""
        now = time.time()
        with self.store.begin() as conn:
            if conn.execute(update(backfills).where(
                    backfills.c.id == backfill_id, backfills.c.state == REQUESTED).values(
                    state=CANCELLED, updated_at=now, ended_at=now)).rowcount:
                conn.execute(update(backfill_steps).where(
                    backfill_steps.c.backfill_id == backfill_id,
                    backfill_steps.c.state == PENDING).values(state=CANCELLED, updated_at=now))
                return CANCELLED
            if conn.execute(update(backfills).where(
                    backfills.c.id == backfill_id, backfills.c.state == RUNNING).values(
                    state=CANCELING, updated_at=now)).rowcount:
                return CANCELING
        return None

    def resume(self, backfill_id: str) -> int:
        """Put an ended backfill back to REQUESTED and every step that did not succeed back to
        PENDING; returns how many steps will run (-1: it had not ended)."""
        now = time.time()
        with self.store.begin() as conn:
            if not conn.execute(update(backfills).where(
                    backfills.c.id == backfill_id, backfills.c.state.in_((CANCELLED, FAILED))).values(
                    state=REQUESTED, owner=None, updated_at=now, ended_at=None, error=None)).rowcount:
                return -1
            return int(conn.execute(update(backfill_steps).where(
                backfill_steps.c.backfill_id == backfill_id,
                backfill_steps.c.state != SUCCEEDED).values(state=PENDING, updated_at=now)).rowcount)

    def cancel_pending(self, backfill_id: str) -> None:
        """Steps that never started become CANCELLED (the runner stopped on a cancel)."""
        with self.store.begin() as conn:
            conn.execute(update(backfill_steps).where(
                backfill_steps.c.backfill_id == backfill_id,
                backfill_steps.c.state.in_((PENDING, RUNNING))).values(
                state=CANCELLED, updated_at=time.time()))


__all__ = ["CANCELING", "CANCELLED", "ENDED", "FAILED", "PENDING", "REQUESTED", "RUNNING",
           "SKIPPED", "SUCCEEDED", "BackfillRow", "BackfillTables", "StepRow"]
