"""Events: the one stream the engine emits and every view (store, panel, CLI) consumes.

Each ``EventKind`` has one payload type, a frozen slotted dataclass whose fields are the keys
that kind's events carry (``PAYLOADS`` maps one to the other). A payload becomes the event's
stored JSON through ``to_data()`` (fields that are ``None`` are left out) and comes back through
``payload_from(kind, data)``, which ignores keys it does not know and fills missing ones with
their defaults, so rows written by any earlier version still load.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from typing import Any, ClassVar, Self, TypeVar

from nbflow.core.states import State


class EventKind(StrEnum):
    RUN_STARTED = "RUN_STARTED"          # RunStarted
    RUN_FINISHED = "RUN_FINISHED"        # state; RunFinished
    STEP_STARTED = "STEP_STARTED"        # step; StepStarted
    STEP_FINISHED = "STEP_FINISHED"      # step, state; StepFinished
    STEP_RETRYING = "STEP_RETRYING"      # step; StepRetrying
    MATERIALIZATION = "MATERIALIZATION"  # step (asset or partition step); Materialized
    CHECK = "CHECK"                      # step; CheckEvaluated
    LOG = "LOG"                          # step or None; LogLine
    FRESHNESS = "FRESHNESS"              # step (the asset); FreshnessChanged


_P = TypeVar("_P", bound="Payload")


class Payload:
    """What one event carries beyond its kind, run, step, state and time (one subclass per kind)."""

    __slots__ = ()
    KIND: ClassVar[EventKind]
    _names: ClassVar[tuple[str, ...]]
    _known: ClassVar[frozenset[str]]
    _values: ClassVar[Callable[[Any], tuple[Any, ...]]]

    def to_data(self) -> dict[str, Any]:
        """The payload as the event table's JSON: every field that is not ``None``."""
        cls = type(self)
        return {k: v for k, v in zip(cls._names, cls._values(self)) if v is not None}

    @classmethod
    def from_data(cls, data: Mapping[Any, Any] | None) -> Self:
        """This payload from stored JSON: unknown keys are ignored, missing ones take their
        defaults (rows written by earlier versions load as they are)."""
        if not data:
            return cls()
        known = cls._known
        return cls(**{k: v for k, v in data.items() if k in known})


def _payload(kind: EventKind) -> Callable[[type[_P]], type[_P]]:
    """Register a payload dataclass as ``kind``'s (its field names read in one C call)."""
    def register(cls: type[_P]) -> type[_P]:
        names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
        cls.KIND, cls._names, cls._known = kind, names, frozenset(names)
        cls._values = attrgetter(*names)
        PAYLOADS[kind] = cls
        return cls
    return register


PAYLOADS: dict[EventKind, type[Payload]] = {}
"""The payload type of each event kind."""


@_payload(EventKind.RUN_STARTED)
@dataclass(frozen=True, slots=True)
class RunStarted(Payload):
    """A run began: what it runs, with which parameters, inside which run."""

    kind: str = "assets"                    # "assets", "flow", "task" or "deployment"
    name: str | None = None
    selection: str | None = None            # asset runs: the selection as given
    steps: Sequence[str] | None = None      # asset runs: the planned steps, in order
    partitions: str | None = None           # asset runs of chosen partitions
    parameters: Mapping[str, Any] | None = None
    tags: Mapping[str, Any] | None = None
    parent_run_id: str | None = None
    deployment: str | None = None
    scheduled_at: float | None = None
    output_path: str | None = None          # deployment runs: the executed notebook
    attempt: int | None = None


@_payload(EventKind.RUN_FINISHED)
@dataclass(frozen=True, slots=True)
class RunFinished(Payload):
    """A run ended (its state is the event's); for a deployment, how its notebook ended."""

    error: str | None = None
    output_path: str | None = None
    html_path: str | None = None
    cell_index: int | None = None           # the failing cell of a deployment's notebook
    exception: str | None = None
    message: str | None = None
    timed_out: bool | None = None
    attempt: int | None = None
    duration: float | None = None

    def failure(self) -> dict[str, Any] | None:
        """How a deployment's notebook failed (the failing cell, exception and message), or
        ``None``: the run record's ``failure``."""
        out = {k: v for k, v in (("cell_index", self.cell_index), ("exception", self.exception),
                                 ("message", self.message)) if v is not None}
        return out or None


@_payload(EventKind.STEP_STARTED)
@dataclass(frozen=True, slots=True)
class StepStarted(Payload):
    """One attempt of a step began."""

    attempt: int | None = None
    kind: str | None = None                 # "asset" or "task"
    task: str | None = None
    upstream: Sequence[str] | None = None
    asset: str | None = None                # partition steps: the asset and the partition
    partition: str | None = None


@_payload(EventKind.STEP_FINISHED)
@dataclass(frozen=True, slots=True)
class StepFinished(Payload):
    """A step ended (its state is the event's)."""

    attempt: int | None = None
    kind: str | None = None
    task: str | None = None
    upstream: Sequence[str] | None = None
    error: str | None = None
    traceback: str | None = None
    check: str | None = None                # the blocking check that failed the step
    cached_from: str | None = None          # a task's cache hit: the run that stored the value
    duration: float | None = None
    asset: str | None = None
    partition: str | None = None


@_payload(EventKind.STEP_RETRYING)
@dataclass(frozen=True, slots=True)
class StepRetrying(Payload):
    """An attempt failed and the step will run again after ``delay`` seconds."""

    attempt: int | None = None
    error: str | None = None
    delay: float | None = None
    kind: str | None = None
    task: str | None = None
    upstream: Sequence[str] | None = None


@_payload(EventKind.MATERIALIZATION)
@dataclass(frozen=True, slots=True)
class Materialized(Payload):
    """An asset (or one partition of it) was produced and stored."""

    code_version: str | None = None
    data_version: str | None = None
    input_versions: Mapping[str, str] | None = None
    metadata: Mapping[str, Any] | None = None
    uri: str | None = None
    io: str | None = None
    duration: float | None = None
    asset: str | None = None                # partition steps: the asset and the partition
    partition: str | None = None


@_payload(EventKind.CHECK)
@dataclass(frozen=True, slots=True)
class CheckEvaluated(Payload):
    """A check of an asset ran."""

    name: str | None = None
    passed: bool = True
    severity: str = "error"                 # "warn" or "error" (blocking)
    message: str | None = None

    def to_data(self) -> dict[str, Any]:
        # Always the four keys (a passing check's message is None).
        return {"name": self.name, "passed": self.passed, "severity": self.severity,
                "message": self.message}


@_payload(EventKind.LOG)
@dataclass(frozen=True, slots=True)
class LogLine(Payload):
    """A log record made inside a run, or a note the run's process left."""

    level: str | None = None
    message: str = ""
    logger: str | None = None
    attempt: int | None = None              # a deployment's failed attempt
    error: str | None = None
    ended: str | None = None                # a late RUN_FINISHED kept as a note: its state


@_payload(EventKind.FRESHNESS)
@dataclass(frozen=True, slots=True)
class FreshnessChanged(Payload):
    """An asset became overdue against its freshness policy, or recovered (recorded by the
    daemon once per change; the event's run id is ``FRESHNESS_RUN_ID``)."""

    overdue: bool = False
    deadline: float | None = None           # epoch seconds: the deadline that passed (or the next)
    reason: str | None = None               # why it is overdue
    partition: str | None = None            # a partitioned asset: the partition that is due
    policy: str | None = None               # the policy, described


FRESHNESS_RUN_ID = "freshness"
"""The run id of ``FRESHNESS`` events: they belong to no run."""


def payload_from(kind: EventKind | str, data: Mapping[Any, Any] | None) -> Payload:
    """The payload of a ``kind`` event from its stored JSON: unknown keys are ignored,
    missing ones take their defaults (old rows load as they are)."""
    return PAYLOADS[EventKind(kind)].from_data(data)


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    run_id: str
    step: str | None = None
    state: State | None = None
    data: Payload | None = None
    """The payload: an instance of ``PAYLOADS[kind]`` (``None`` reads as an empty one)."""
    ts: float = field(default_factory=time.time)

    def to_data(self) -> dict[str, Any]:
        """The payload as stored JSON (``{}`` without one)."""
        return {} if self.data is None else self.data.to_data()


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


__all__ = ["FRESHNESS_RUN_ID", "PAYLOADS", "CheckEvaluated", "Event", "EventKind",
           "FreshnessChanged", "Hooks", "LogLine", "Materialized",
           "Payload", "RunFinished", "RunStarted", "StepFinished", "StepRetrying", "StepStarted",
           "Subscriber", "payload_from"]
