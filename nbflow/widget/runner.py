"""Runner: one worker thread that runs the panel's materialisations, one at a time, cancellable.

The kernel's main thread stays free, so the panel keeps receiving clicks (cancel among them)
and the notebook keeps running cells while assets build.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Materializer(Protocol):
    def materialize(self, selection: str = "*", *, force: bool = False,
                    cancel: threading.Event | None = None, partitions: Any = None) -> Any: ...


@dataclass(frozen=True)
class RunRequest:
    """What to run: a selection string (and the names it covers, to show them queued)."""

    selection: str
    force: bool = False
    names: tuple[str, ...] = ()
    partitions: str | None = None
    """The partitions of the partitioned assets to run (``"2026-01-01...2026-01-31"``); None: all."""
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


Started = Callable[[RunRequest], None]
Finished = Callable[[RunRequest, Any, BaseException | None], None]


class Runner:
    """Runs requests in order on a daemon worker thread; ``cancel`` stops after the current step."""

    def __init__(self, session: Materializer, *, on_start: Started | None = None,
                 on_finish: Finished | None = None) -> None:
        self._session = session
        self._on_start = on_start
        self._on_finish = on_finish
        self._queue: queue.Queue[RunRequest | None] = queue.Queue()
        self._current: RunRequest | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    @property
    def pending(self) -> int:
        """Requests waiting behind the current one."""
        return self._queue.qsize()

    def submit(self, request: RunRequest) -> RunRequest:
        with self._lock:
            self._idle.clear()
            self._queue.put(request)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="nbflow-panel-runner",
                                                daemon=True)
                self._thread.start()
        return request

    def cancel(self) -> bool:
        """Cancel the running request after its current step and drop the queued ones."""
        dropped = False
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item.cancel.set()
                dropped = True
        current = self._current
        if current is not None:
            current.cancel.set()
            return True
        if dropped and self._queue.empty() and self._current is None:
            self._idle.set()
        return dropped

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted request has finished; False on timeout."""
        return self._idle.wait(timeout)

    def _work(self) -> None:
        while True:
            try:
                request = self._queue.get(timeout=30)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            if request is None or request.cancel.is_set():
                self._settle()
                continue
            self._current = request
            result: Any = None
            error: BaseException | None = None
            try:
                if self._on_start:
                    self._on_start(request)
                extra = {} if request.partitions is None else {"partitions": request.partitions}
                result = self._session.materialize(request.selection, force=request.force,
                                                   cancel=request.cancel, **extra)
            except BaseException as exc:  # noqa: BLE001 - shown in the panel as data, never lost in a thread
                error = exc
            finally:
                self._current = None
            if self._on_finish:
                try:
                    self._on_finish(request, result, error)
                except Exception:    # a broken callback must not kill the worker
                    logging.getLogger(__name__).exception("nbflow panel: run callback failed")
            self._settle()

    def _settle(self) -> None:
        with self._lock:
            if self._queue.empty() and self._current is None:
                self._idle.set()


__all__ = ["Materializer", "RunRequest", "Runner"]
