"""The audit table in the store: one appended row per mutation, never updated or deleted here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from nbflow.store.schema import audit

if TYPE_CHECKING:
    from nbflow.store.sql import SqlStore


@dataclass(frozen=True, slots=True)
class AuditRow:
    """Who did what to which target, with which parameters, and how it ended."""

    id: int
    ts: float
    actor: str
    verb: str
    target: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    outcome: str = "ok"
    error: str | None = None


class AuditTables:
    """Appends to and reads the audit table of one ``SqlStore``."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def append(self, *, actor: str, verb: str, target: str | None, parameters: dict[str, Any],
               outcome: str, error: str | None = None, ts: float | None = None) -> None:
        with self.store.begin() as conn:
            conn.execute(insert(audit).values(
                ts=time.time() if ts is None else ts, actor=actor, verb=verb, target=target,
                parameters=parameters or None, outcome=outcome, error=error))

    def rows(self, *, since: float | None = None, before: int | None = None,
             limit: int = 100) -> list[AuditRow]:
        """Rows newest first: after ``since`` (epoch seconds), below id ``before``."""
        q = select(audit).order_by(audit.c.id.desc()).limit(max(0, limit))
        if since is not None:
            q = q.where(audit.c.ts >= since)
        if before is not None:
            q = q.where(audit.c.id < before)
        with self.store.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [AuditRow(id=r["id"], ts=r["ts"], actor=r["actor"], verb=r["verb"],
                         target=r["target"], parameters=r["parameters"] or {},
                         outcome=r["outcome"], error=r["error"]) for r in rows]


__all__ = ["AuditRow", "AuditTables"]
