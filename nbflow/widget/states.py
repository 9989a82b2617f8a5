"""Panel states: the label each node shows, from asset status plus the events of the current run.

Labels (readable without colour): missing, fresh, stale, queued, running, succeeded, failed,
check failed. Status gives the resting label; a run's events lay an overlay on top of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nbflow.core.events import CheckEvaluated, Event, EventKind, RunStarted, StepFinished
from nbflow.core.states import State

LABELS = ("missing", "fresh", "stale", "queued", "running", "succeeded", "failed", "check failed")
_STATUS = {"fresh": "fresh", "stale": "stale", "missing": "missing", "failed": "failed"}
_ACTIVE = frozenset({"queued", "running", "failed", "check failed"})


class NodeStates:
    """Resting labels from ``status`` and the overlay of the run in progress (or the last one).

    Not thread-safe on its own: the panel calls it under its lock.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: set[str] = set(names)
        self.resting: dict[str, str] = {n: "missing" for n in self.names}
        self.overlay: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.run_id: str | None = None

    def set_names(self, names: Iterable[str]) -> None:
        self.names = set(names)
        self.resting = {n: self.resting.get(n, "missing") for n in self.names}
        self.overlay = {n: v for n, v in self.overlay.items() if n in self.names}

    def set_status(self, statuses: Mapping[str, str]) -> None:
        """Resting labels from ``{name: fresh|stale|missing|failed}``."""
        for name, status in statuses.items():
            if name in self.names:
                self.resting[name] = _STATUS.get(status, "missing")

    def queue(self, names: Iterable[str]) -> None:
        """Mark the steps of a run about to start."""
        self.overlay = {n: "queued" for n in names if n in self.names}

    def label(self, name: str) -> str:
        over = self.overlay.get(name)
        rest = self.resting.get(name, "missing")
        if over is None:
            return rest
        if over in _ACTIVE:
            return over
        # "succeeded in this run" holds until something makes the asset stale again
        return over if rest in ("fresh", "failed") else rest

    def labels(self) -> dict[str, str]:
        return {n: self.label(n) for n in sorted(self.names)}

    def apply(self, event: Event) -> bool:
        """Fold one event in; True when a label may have changed."""
        kind, step = event.kind, event.step
        if kind is EventKind.RUN_STARTED:
            if event.run_id != self.run_id:
                self.run_id = event.run_id
                planned = event.data.steps if isinstance(event.data, RunStarted) else None
                if planned:
                    self.queue(planned)
                else:
                    self.overlay = {n: v for n, v in self.overlay.items() if v == "queued"}
            return True
        if kind is EventKind.RUN_FINISHED:
            self.overlay = {n: v for n, v in self.overlay.items() if v not in ("queued", "running")}
            return True
        if step is None or step not in self.names:
            return False
        if kind in (EventKind.STEP_STARTED, EventKind.STEP_RETRYING):
            self.overlay[step] = "running"
            self.errors.pop(step, None)
        elif kind is EventKind.CHECK:
            check = event.data
            if isinstance(check, CheckEvaluated) and not check.passed and check.severity == "error":
                self.overlay[step] = "check failed"
                self.errors[step] = str(check.message or f"check {check.name!r} failed")
        elif kind is EventKind.STEP_FINISHED:
            state = event.state
            if state is State.SUCCEEDED:
                self.resting[step] = "fresh"     # until the store's status says otherwise
                if self.overlay.get(step) != "check failed":
                    self.overlay[step] = "succeeded"
            elif state is State.CACHED:
                self.resting[step] = "fresh"
                self.overlay.pop(step, None)
            elif state in (State.FAILED, State.CRASHED):
                if self.overlay.get(step) != "check failed":
                    self.overlay[step] = "failed"
                finished = event.data
                if isinstance(finished, StepFinished) and finished.error:
                    error, tb = finished.error, finished.traceback
                    self.errors[step] = f"{error}\n\n{tb}" if tb else str(error)
            else:   # skipped or cancelled: back to what the store says
                self.overlay.pop(step, None)
        elif kind is EventKind.MATERIALIZATION:
            return False
        return True


__all__ = ["LABELS", "NodeStates"]
