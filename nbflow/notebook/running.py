"""Blocking runs in a cell: progress shown in the cell, the stop button cancels after the step.

``%materialize`` and ``%%asset`` wait for their run like any cell, so Run All (and a papermill
deployment) reads the new values in the next cell. The run itself goes on a worker thread: the
kernel's main thread only waits, so an interrupt (the stop button, SIGINT) arrives here, sets
the run's cancel flag and the run ends ``CANCELLED`` once the current step has finished.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from nbflow.core.events import Event, EventKind, RunStarted, StepRetrying
from nbflow.core.states import TERMINAL

_REDRAW = 0.25
"""Seconds between redraws of the progress line (a 10,000-step run must not flood the cell)."""


class Progress:
    """One line in the cell, ``Materialising orders+: 3/10 done, running clean_orders``."""

    def __init__(self, label: str, update: Callable[[str], None] | None) -> None:
        self.label = label
        self._update = update
        self.total = 0
        self.done = 0
        self.running: list[str] = []
        self.retries: list[str] = []
        self._last = 0.0
        self._run_id: str | None = None

    def on_event(self, e: Event) -> None:
        if self._run_id is None and e.kind is EventKind.RUN_STARTED:
            self._run_id = e.run_id
            self.total = len(e.data.steps or ()) if isinstance(e.data, RunStarted) else 0
        if e.run_id != self._run_id or e.step is None:
            return
        if e.kind is EventKind.STEP_STARTED:
            self.running.append(e.step)
        elif isinstance(p := e.data, StepRetrying):
            self.retries.append(f"{e.step} attempt {p.attempt} failed: {p.error}")
        elif e.kind is EventKind.STEP_FINISHED and e.state in TERMINAL:
            self.done += 1
            if e.step in self.running:
                self.running.remove(e.step)
        self.draw()

    def text(self) -> str:
        line = f"Materialising {self.label}: {self.done}/{self.total or '?'} done"
        if self.running:
            line += f", running {', '.join(self.running[:3])}"
        return "\n".join([line, *self.retries[-5:]])

    def draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._update is None or (not force and now - self._last < _REDRAW):
            return
        self._last = now
        self._update(self.text())


def run_blocking(session: Any, selection: str | Iterable[str], *, force: bool = False,
                 keep: Iterable[str] = (), update: Callable[[str], None] | None = None,
                 label: str | None = None) -> Any:
    """``session.materialize(...)`` on a worker thread, waited for here; an interrupt cancels.

    Returns the run's result (state ``CANCELLED`` after an interrupt). Errors of the run itself
    (a bad selection, the store) are raised here as they would be without the thread.
    """
    cancel = threading.Event()
    progress = Progress(label or (selection if isinstance(selection, str) else ", ".join(selection)),
                        update)
    box: dict[str, Any] = {}
    unsubscribe = session.hooks.subscribe(progress.on_event)

    finished = threading.Event()

    def work() -> None:
        try:
            box["result"] = session.materialize(selection, force=force, cancel=cancel,
                                                keep=list(keep))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the waiting thread
            box["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=work, name="nbflow-materialize", daemon=True)
    worker.start()
    try:
        _wait(finished, cancel, progress)
    finally:
        unsubscribe()
    if "error" in box:
        raise box["error"]
    return box["result"]


def _wait(finished: threading.Event, cancel: threading.Event, progress: Progress) -> None:
    # An Event, not Thread.join: on Python 3.11 an interrupted join() can mark a live thread
    # as stopped.
    interrupted = False
    while not finished.is_set():
        try:
            finished.wait(0.1)
        except KeyboardInterrupt:
            if interrupted:  # a second interrupt while cancelling: keep waiting, say so again
                progress.retries.append("Still finishing the current step...")
            interrupted = True
            cancel.set()
            progress.retries.append("Interrupted: cancelling after the current step.")
            progress.draw(force=True)
    progress.draw(force=True)


__all__ = ["Progress", "run_blocking"]
