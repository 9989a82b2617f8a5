"""Events: the one stream the engine emits and every view (store, panel, CLI) consumes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from nbflow.core.states import State


class EventKind(StrEnum):
    RUN_STARTED = "RUN_STARTED"          # data: kind, name, selection, parameters, deployment, ...
    RUN_FINISHED = "RUN_FINISHED"        # state; data: error
    STEP_STARTED = "STEP_STARTED"        # step; data: attempt, kind, upstream
    STEP_FINISHED = "STEP_FINISHED"      # step, state; data: attempt, error, duration
    STEP_RETRYING = "STEP_RETRYING"      # step; data: attempt, error, delay
    MATERIALIZATION = "MATERIALIZATION"  # step (asset); data: see Materialization.to_data()
    CHECK = "CHECK"                      # step; data: name, passed, severity, message
    LOG = "LOG"                          # step or None; data: level, message


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    run_id: str
    step: str | None = None
    state: State | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)


Subscriber = Callable[[Event], None]


class Hooks:
    """Fan one event out to every subscriber (the store, the panel, a progress bar)."""

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add ``fn``; returns a function that removes it again."""
        self._subscribers = (*self._subscribers, fn)

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not fn)

        return unsubscribe

    def emit(self, event: Event) -> None:
        for fn in self._subscribers:
            fn(event)
