"""The store seam: the ``RunStore`` Protocol every run store implements, and its ``TaskStore`` part.

Two implementations: ``SqlStore`` (``store/sql.py``, SQLite and PostgreSQL, durable, shared by
processes) and ``MemoryStore`` (``store/memory.py``, one process, for engine tests). Both derive
the same ``RunRecord``/``StepRecord``/``MaterializationRecord`` values from the same events;
``tests/store/test_memory.py`` runs one set of assertions against all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from nbflow.core.events import Event
from nbflow.core.records import MaterializationRecord, RunRecord
from nbflow.core.states import State
from nbflow.core.tasks import CacheEntry
from nbflow.errors import NbflowError, ParameterError

if TYPE_CHECKING:
    from nbflow.store.backfills import BackfillTables
    from nbflow.store.deployments import DeploymentStore
    from nbflow.store.partitions import PartitionStore
    from nbflow.store.sensors import SensorStore

STREAM_LIMIT = 1000
"""The most events one read of the event stream returns (``events_after``)."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the store's event table holds it: its monotonic ``id`` (the stream's
    cursor) and the event; the event's attributes (``kind``, ``run_id``, ``step``, ``state``,
    ``ts``, its payload) read through."""

    id: int
    event: Event

    def __getattr__(self, name: str) -> Any:
        if name == "event" or name.startswith("__"):  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.event, name)


class TaskStore(Protocol):
    """Task results kept by cache key, and tag concurrency limits with the slots held."""

    # ------------------------------------------------------------------ cache
    def get_entry(self, key: str) -> CacheEntry | None: ...

    def find_entry(self, run_id: str, step: str) -> CacheEntry | None:
        """The result stored by step ``step`` of run ``run_id`` (the newest), if any."""
        ...

    def put_entry(self, entry: CacheEntry) -> None:
        """Store ``entry``, replacing any entry with its key."""
        ...

    def clear_entries(self, task: str | None = None) -> int:
        """Delete the entries of ``task`` (all tasks when ``None``); returns how many."""
        ...

    def cache_summary(self) -> list[tuple[str, int, float | None]]:
        """(task, entries, newest entry time) for every task with entries, by task name."""
        ...

    # ------------------------------------------------------------------ limits
    def set_limit(self, name: str, slots: int | None) -> None:
        """Allow at most ``slots`` running tasks tagged ``name``; ``None`` removes the limit."""
        ...

    def limits(self) -> dict[str, tuple[int, int]]:
        """tag -> (limit, slots in use) for every limited tag, by tag name."""
        ...

    def limited(self, tags: Sequence[str]) -> dict[str, int]:
        """The limits among ``tags``."""
        ...

    def try_acquire(self, tags: Sequence[str], *, run_id: str | None = None,
                    step: str | None = None) -> list[int] | None:
        """One slot of every limited tag in ``tags``, all or none: slot ids, or ``None`` when full."""
        ...

    def acquire(self, tags: Sequence[str], *, run_id: str | None = None, step: str | None = None,
                cancel: threading.Event | None = None,
                on_wait: Callable[[], Any] | None = None) -> list[int]:
        """Wait for one slot of every limited tag and take them; ``RunCancelled`` if ``cancel`` is set."""
        ...

    def release(self, ids: Sequence[int]) -> None: ...

    def reap_dead_holders(self) -> int:
        """Free slots whose holder process is gone; returns how many."""
        ...

    def reset_slots(self, name: str) -> int:
        """Free every slot of tag ``name``; returns how many."""
        ...


class RunStore(Protocol):
    """What the session, engine, deployments, panel and CLI may ask of a run store.

    Writing: ``record`` queues an event (it never raises; ``flush`` reports a failed write as
    ``StoreError``) and ``flush`` returns once every event recorded before it is readable.
    Reading: runs and their steps, events, materialisations and failures, all derived from the
    recorded events. Parts: ``tasks`` (task cache and concurrency slots) and ``deployments``
    (deployments, schedule ticks, queued runs).
    """

    heartbeat_timeout: float
    """Seconds without a heartbeat after which a RUNNING or PENDING run reads as CRASHED."""

    @property
    def tasks(self) -> TaskStore: ...

    @property
    def deployments(self) -> DeploymentStore: ...

    @property
    def sensors(self) -> SensorStore: ...

    @property
    def backfills(self) -> BackfillTables: ...

    @property
    def partitions(self) -> PartitionStore: ...

    # ------------------------------------------------------------------ writing
    def record(self, event: Event) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...

    def create_run(self, run_id: str, *, kind: str, state: State = State.PENDING,
                   **fields: Any) -> None:
        """Insert a run now (not through the queue); fails when the id or its
        (deployment, scheduled_at) tick is taken."""
        ...

    def heartbeat(self, run_id: str) -> None:
        """Keep ``run_id`` alive from this process."""
        ...

    def sweep_crashed(self, timeout: float | None = None) -> list[str]:
        """Mark runs whose heartbeat stopped ``timeout`` seconds ago CRASHED; returns their ids."""
        ...

    # ------------------------------------------------------------------ reading
    def runs(self, *, limit: int = 20, state: str | None = None, deployment: str | None = None,
             kind: str | None = None, with_steps: bool = True) -> list[RunRecord]:
        """Runs, newest first, filtered."""
        ...

    def runs_page(self, *, limit: int = 20, before: tuple[float, str] | None = None,
                  state: str | None = None, deployment: str | None = None,
                  kind: str | None = None, since: float | None = None,
                  until: float | None = None) -> tuple[list[RunRecord], tuple[float, str] | None]:
        """One keyset page of runs (newest first by created_at, then run id) and the
        ``(created_at, run_id)`` cursor of the next page, ``None`` on the last one."""
        ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def find_run_ids(self, prefix: str) -> list[str]:
        """Up to five run ids starting with ``prefix``."""
        ...

    def events(self, run_id: str) -> list[Event]:
        """The events of ``run_id`` in the order they were recorded."""
        ...

    def events_after(self, after: int = 0, *, kinds: Iterable[str] | None = None,
                     assets: Iterable[str] | None = None, run_ids: Iterable[str] | None = None,
                     limit: int = STREAM_LIMIT) -> list[StoredEvent]:
        """The event stream: committed events with an id above ``after``, oldest first, at most
        ``limit`` (capped at ``STREAM_LIMIT``); ``kinds`` and ``assets`` (the event's step) filter."""
        ...

    def last_event_id(self) -> int:
        """The id of the newest committed event (0 when there is none): a cheap look for news."""
        ...

    def latest_materializations(self, names: Iterable[str] | None = None) -> dict[str, MaterializationRecord]:
        """The last unpartitioned materialisation of each asset (of ``names`` when given)."""
        ...

    def materializations(self, asset: str, limit: int = 20) -> list[MaterializationRecord]:
        """Materialisations of ``asset`` (every partition), newest first."""
        ...

    def last_failures(self) -> dict[str, tuple[float, str, str | None]]:
        """asset -> (time, run id, error) of its last failed step in an asset run."""
        ...

    def child_runs(self, run_id: str) -> list[RunRecord]:
        """Runs started inside ``run_id``, oldest first."""
        ...

    def parent_runs(self, run_ids: Iterable[str]) -> dict[str, str]:
        """run id -> the run it ran inside, for the given runs that have one."""
        ...


def check_limit(name: str, slots: int | None) -> None:
    """Raise unless ``name`` is a tag and ``slots`` a whole number >= 1 (or ``None``)."""
    if not isinstance(name, str) or not name:
        raise NbflowError(f"A concurrency limit needs a tag name, got {name!r}.")
    if slots is not None and (isinstance(slots, bool) or not isinstance(slots, int) or slots < 1):
        raise ParameterError(
            f"The limit for tag {name!r} must be a whole number >= 1, got {slots!r}; remove a "
            f"limit with limit({name!r}, None) or `nbflow limit {name} --remove`.",
            parameter="slots")


__all__ = ["STREAM_LIMIT", "RunStore", "StoredEvent", "TaskStore", "check_limit"]
