"""What the task engine needs from outside it: an event sink, a cache, concurrency slots.

The engine never imports the session or the store. The store's ``TaskTables`` satisfies
``CacheBackend`` and ``SlotBackend`` structurally; the session hands a run its collaborators
as one ``RunServices``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from nbflow.core.events import Event
from nbflow.core.tasks import CacheEntry

Emit = Callable[[Event], None]
"""Publish one event (the session's hooks: the store, the panel and alerts listen)."""


class CacheBackend(Protocol):
    """Where task results live: under their cache key, findable by the step that made them."""

    def get_entry(self, key: str) -> CacheEntry | None: ...

    def put_entry(self, entry: CacheEntry) -> None: ...

    def find_entry(self, run_id: str, step: str) -> CacheEntry | None: ...

    def clear_entries(self, task: str | None = None) -> int: ...


class SlotBackend(Protocol):
    """Concurrency slots per tag, shared by every process that uses the same backend."""

    def limited(self, tags: Sequence[str]) -> Mapping[str, int]:
        """The limits among ``tags`` (tags without one need no slot)."""
        ...

    def acquire(self, tags: Sequence[str], *, run_id: str | None = None, step: str | None = None,
                cancel: threading.Event | None = None) -> list[int]:
        """Wait for one slot of every tag in ``tags`` and take them; the ids to ``release``."""
        ...

    def release(self, ids: Sequence[int]) -> None: ...


@dataclass(frozen=True)
class RunServices:
    """The collaborators of one run (a flow run, or a task run of its own)."""

    emit: Emit
    new_run_id: Callable[[], str]
    flush: Callable[[], None]
    """Block until every event emitted so far is committed."""
    cache: CacheBackend
    slots: SlotBackend
    parent_run_id: str | None = None
    """The run this one runs inside when no enclosing flow says so (a deployment's run)."""


__all__ = ["CacheBackend", "Emit", "RunServices", "SlotBackend"]
