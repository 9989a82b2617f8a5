"""The daemon's freshness source: record when an asset becomes overdue, and when it recovers.

Each tick computes every freshness policy's standing at the tick's ``now``
(``session/freshness.py``) and compares it with the standing recorded in the store; a change is
committed with its ``FRESHNESS`` event by the store's compare-and-set
(``store/freshness.py``), so with two daemons on one store each change is recorded once.

The source ticks at least every ``poll`` seconds (a recovery is a materialisation, which can
come at any time), and sooner when a deadline is nearer: ``next_tick`` aims just past the
earliest upcoming deadline, so an asset is recorded overdue well within 2 s of it passing.
An asset seen for the first time is recorded only if it is overdue (on time is the default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbflow.automation.daemon import TickSource
from nbflow.core.events import FreshnessChanged
from nbflow.core.freshness_policy import FreshnessState
from nbflow.session.freshness import freshness_states

if TYPE_CHECKING:
    from nbflow.session.session import Session
    from nbflow.store.freshness import FreshnessTables

_PAST_DEADLINE = 0.05
"""Seconds after a deadline at which to tick (the clock must have passed it)."""


@dataclass(frozen=True)
class FreshnessChange:
    """One change this source recorded: the asset, its new standing and the event's id."""

    asset: str
    state: FreshnessState
    event_id: int


class FreshnessSource(TickSource):
    """Records changes of freshness standing; see the module docstring."""

    name = "freshness"

    def __init__(self, session: Session, *, poll: float = 1.0) -> None:
        from nbflow.store.freshness import FreshnessTables
        from nbflow.store.sql import SqlStore

        store = session.store
        if not isinstance(store, SqlStore):
            from nbflow.errors import NbflowError

            raise NbflowError("Freshness policies need a shared run store (the daemon records "
                              "overdue assets in it); set NBFLOW_DATABASE_URL to a SQLite or "
                              "PostgreSQL URL.")
        self.session = session
        self.interval = poll
        self.tables: FreshnessTables = FreshnessTables(store)
        self._next_deadline: dt.datetime | None = None
        self.on_change: Callable[[FreshnessChange], None] | None = None
        """Called with each change this daemon recorded (the CLI prints it)."""

    def tick(self, now: dt.datetime) -> list[FreshnessChange]:
        """Record every change of standing at ``now``; returns the changes this daemon recorded."""
        graph = self.session.registry.graph()
        states = freshness_states(graph, self.session.store, now)
        recorded = self.tables.all()
        changes: list[FreshnessChange] = []
        upcoming: list[dt.datetime] = []
        for asset, state in states.items():
            if not state.overdue and state.deadline is not None and state.deadline > now:
                upcoming.append(state.deadline)
            row = recorded.get(asset)
            if row is not None and row.overdue == state.overdue:
                continue
            policy = graph.specs[asset].freshness
            change = FreshnessChanged(
                overdue=state.overdue,
                deadline=None if state.deadline is None else state.deadline.timestamp(),
                reason=state.reason, partition=state.partition,
                policy=None if policy is None else policy.describe())
            event_id = self.tables.record_change(asset, change,
                                                 seen=None if row is None else row.overdue)
            if event_id is not None:
                changes.append(FreshnessChange(asset, state, event_id))
                if self.on_change is not None:
                    self.on_change(changes[-1])
        self._next_deadline = min(upcoming, default=None)
        return changes

    def next_tick(self, now: dt.datetime) -> float:
        if self._next_deadline is None:
            return self.interval
        return min(self.interval, max((self._next_deadline - now).total_seconds(), 0.0)
                   + _PAST_DEADLINE)


__all__ = ["FreshnessChange", "FreshnessSource"]
