"""Run and step states: one vocabulary for assets, tasks, flows and deployments."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CACHED = "CACHED"
    RETRYING = "RETRYING"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"


TERMINAL = frozenset(
    {State.SUCCEEDED, State.FAILED, State.SKIPPED, State.CACHED, State.CANCELLED, State.CRASHED}
)
OK = frozenset({State.SUCCEEDED, State.CACHED})
"""Terminal states whose value is usable downstream."""


def run_state(step_states: list[State] | tuple[State, ...]) -> State:
    """The state of a finished run from the states of its steps."""
    if any(s is State.CANCELLED for s in step_states):
        return State.CANCELLED
    if any(s in (State.FAILED, State.CRASHED, State.SKIPPED) for s in step_states):
        return State.FAILED
    return State.SUCCEEDED
