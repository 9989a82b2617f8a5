"""RunScope: the bookkeeping of one flow run (or one task run): step names, events, executors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from nbflow.core.codec import preview
from nbflow.core.events import Event, EventKind, RunFinished, RunStarted
from nbflow.core.states import State
from nbflow.engine.retry import Clock

if TYPE_CHECKING:
    from nbflow.engine.executors import Executor
    from nbflow.engine.futures import TaskFuture
    from nbflow.engine.ports import RunServices

CLOCK = Clock()
"""The one clock retries sleep on (flows and tasks); tests replace it
(``monkeypatch.setattr(nbflow.engine.scope, "CLOCK", Clock(...))``)."""

_LOCAL = ("inprocess", "threads")


def jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as the store shows them: the codec's display ``preview`` of each value."""
    return {k: preview(v) for k, v in params.items()}


class RunScope:
    """One run of a flow (``kind="flow"``) or of a task called outside a flow (``kind="task"``).

    Responsibilities: emit the run's events (``services.emit``); hand out unique step names; own
    the executor that ``submit``/``map`` use and the futures made in the run; carry the cancel
    flag a timeout or ``KeyboardInterrupt`` sets. The cache and the concurrency slots come from
    ``services`` too, so the engine never sees the session or the store.
    """

    def __init__(self, services: RunServices, *, kind: str, name: str,
                 parameters: Mapping[str, Any], executor: str = "threads",
                 max_workers: int | None = None, parent_run_id: str | None = None) -> None:
        self.services = services
        self.kind = kind
        self.name = name
        self.parameters = dict(parameters)
        self.run_id: str = services.new_run_id()
        self.emit: Callable[[Event], None] = services.emit
        self.cache = services.cache
        self.slots = services.slots
        self.executor_spec = executor
        self.max_workers = max_workers
        self.parent_run_id = parent_run_id if parent_run_id is not None else services.parent_run_id
        self.cancel = threading.Event()
        self.futures: list[TaskFuture] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._executor: Executor | None = None
        self._drivers: ThreadPoolExecutor | None = None

    @property
    def clock(self) -> Clock:
        return CLOCK

    # ------------------------------------------------------------------ events
    def start(self, tags: Mapping[str, Any] | None = None) -> None:
        self.emit(Event(EventKind.RUN_STARTED, self.run_id, data=RunStarted(
            kind=self.kind, name=self.name, parameters=jsonable(self.parameters),
            parent_run_id=self.parent_run_id or None, tags=dict(tags) if tags else None)))

    def finish(self, state: State, error: str | None = None) -> None:
        self.emit(Event(EventKind.RUN_FINISHED, self.run_id, state=state,
                        data=RunFinished(error=error or None)))

    def flush(self) -> None:
        """Block until every event of the run is committed."""
        self.services.flush()

    # ------------------------------------------------------------------ steps
    def step_name(self, task: str) -> str:
        """``task`` for its first step in the run, then ``task-1``, ``task-2``, ..."""
        with self._lock:
            n = self._counts.get(task, 0)
            self._counts[task] = n + 1
        return task if n == 0 else f"{task}-{n}"

    def track(self, future: TaskFuture) -> None:
        with self._lock:
            self.futures.append(future)

    # ------------------------------------------------------------------ executors
    @property
    def remote(self) -> bool:
        """Whether task bodies run elsewhere (processes, Dask) while this process drives them."""
        return self.executor_spec.partition("://")[0] not in _LOCAL

    def executor(self) -> Executor:
        """The executor ``submit``/``map`` use (made on first use, shut down when the run ends)."""
        ex = self._executor
        if ex is None:
            from nbflow.engine.executors import make_executor

            with self._lock:
                if self._executor is None:
                    spec = "threads" if self.executor_spec == "inprocess" else self.executor_spec
                    self._executor = make_executor(spec, self.max_workers)
                ex = self._executor
        return ex

    def drivers(self) -> ThreadPoolExecutor:
        """Local threads that drive remote steps (retries, events) while they run remotely."""
        with self._lock:
            if self._drivers is None:
                self._drivers = ThreadPoolExecutor(max_workers=64, thread_name_prefix="nbflow-driver")
            return self._drivers

    def wait_all(self) -> None:
        """Wait for every future made in the run (a flow ends only when its steps have)."""
        i = 0
        while True:
            with self._lock:
                pending = self.futures[i:]
                i = len(self.futures)
            if not pending:
                return
            for f in pending:
                f.wait_quietly()

    def close(self) -> None:
        if self._drivers is not None:
            self._drivers.shutdown(wait=True)
        if self._executor is not None:
            self._executor.shutdown(wait=not self.cancel.is_set())
            self._executor = None


__all__ = ["CLOCK", "RunScope", "jsonable"]
