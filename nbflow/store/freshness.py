"""Store access for freshness: each asset's recorded standing, changed by compare-and-set.

A change of standing (on time -> overdue, overdue -> on time) is committed whole in one write
transaction (``record_change``): the ``freshness_states`` row moves from the standing the
caller saw to the new one only if it still holds the old one (an ``UPDATE ... WHERE overdue =
old``; a first row is an ``INSERT`` on the asset's primary key), and the ``FRESHNESS`` event is
inserted in the same transaction. Two daemons looking at the same deadline both try; one
update (or insert) wins, the other changes nothing, so each change is recorded exactly once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from nbflow.core.events import FRESHNESS_RUN_ID, EventKind, FreshnessChanged
from nbflow.store.schema import events, freshness_states
from nbflow.store.sql import SqlStore


@dataclass(frozen=True)
class FreshnessRow:
    """An asset's recorded standing against its freshness policy."""

    asset: str
    overdue: bool
    deadline: float | None
    reason: str | None
    partition: str | None
    changed_at: float
    event_id: int | None


class _Lost(Exception):
    """Another daemon changed the row first."""


class FreshnessTables:
    """Freshness queries and the compare-and-set of a change; see the module docstring."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def all(self) -> dict[str, FreshnessRow]:
        with self.store.connect() as conn:
            rows = conn.execute(select(freshness_states)).mappings().all()
        return {r["asset"]: FreshnessRow(r["asset"], bool(r["overdue"]), r["deadline"], r["reason"],
                                         r["partition"], r["changed_at"], r["event_id"])
                for r in rows}

    def record_change(self, asset: str, change: FreshnessChanged, *,
                      seen: bool | None) -> int | None:
        """Move ``asset`` to ``change.overdue`` if its row still says ``seen`` (None: there is
        no row yet), recording the ``FRESHNESS`` event; returns the event's id, or None when
        another daemon made the change first (or, for a first look that is on time, when there
        is nothing to record)."""
        now = time.time()
        values = {"overdue": change.overdue, "deadline": change.deadline, "reason": change.reason,
                  "partition": change.partition, "changed_at": now}
        first_on_time = seen is None and not change.overdue
        try:
            with self.store.begin() as conn:
                event_id = None
                if not first_on_time:
                    event_id = conn.execute(events.insert().values(
                        run_id=FRESHNESS_RUN_ID, kind=str(EventKind.FRESHNESS), step=asset,
                        state=None, ts=now, data=change.to_data() or None)
                    ).inserted_primary_key[0]  # type: ignore[index]
                if seen is None:
                    conn.execute(freshness_states.insert().values(asset=asset, event_id=event_id,
                                                                  **values))
                elif not conn.execute(update(freshness_states).where(
                        freshness_states.c.asset == asset,
                        freshness_states.c.overdue.is_(seen)).values(
                        event_id=event_id, **values)).rowcount:
                    raise _Lost  # the other daemon moved it: roll our event back too
        except (IntegrityError, _Lost):  # or inserted the first row meanwhile
            return None
        return None if event_id is None else int(event_id)


__all__ = ["FreshnessRow", "FreshnessTables"]
