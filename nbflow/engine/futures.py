"""Futures of submitted task steps, the ``Outcome`` of a step or run, and ``unmapped``."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from nbflow.core.states import OK, TERMINAL, State
from nbflow.errors import TaskError


@dataclass(frozen=True)
class Outcome:
    """How a step or run ended: what ``return_state=True`` returns instead of raising.

    ``state`` is the final state; ``result()`` gives the value or raises the error.
    """

    state: State
    value: Any = None
    error: BaseException | None = None
    run_id: str | None = None
    step: str | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.state in OK

    def result(self) -> Any:
        if self.error is not None and not self.ok:
            raise self.error
        return self.value


class TaskFuture:
    """A task step submitted to an executor: ``result()``, ``wait()``, ``state``, ``done()``."""

    __slots__ = ("_future", "_observed", "_state", "run_id", "step", "task")

    def __init__(self, task: str, step: str, run_id: str) -> None:
        self.task = task
        self.step = step
        self.run_id = run_id
        self._state = State.PENDING
        self._future: Future[Outcome] = Future()
        self._observed = False

    # the step runner drives these
    def _set_state(self, state: State) -> None:
        self._state = state

    def _finish(self, outcome: Outcome) -> None:
        self._state = outcome.state
        self._future.set_result(outcome)

    # the public side
    @property
    def state(self) -> State:
        """PENDING, RUNNING, RETRYING, then the final state."""
        self._observed = True
        return self._state

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> State:
        """Wait until the step ends (or ``timeout`` seconds pass); returns its state."""
        self._observed = True
        try:
            self._future.result(timeout)
        except TimeoutError:
            pass
        return self._state

    def wait_quietly(self) -> None:
        self._future.result()

    def outcome(self, timeout: float | None = None) -> Outcome:
        """The step's ``Outcome`` (waits for it)."""
        self._observed = True
        return self._future.result(timeout)

    def result(self, timeout: float | None = None, *, raise_on_failure: bool = True) -> Any:
        """The step's value; raises its error if it failed (unless ``raise_on_failure=False``)."""
        self._observed = True
        try:
            out = self._future.result(timeout)
        except TimeoutError:
            raise TaskError(
                f"Step {self.step!r} of run {self.run_id} did not finish within {timeout:g} s; "
                "wait longer or check its state.", step=self.step, run_id=self.run_id) from None
        if not out.ok and raise_on_failure and out.error is not None:
            raise out.error
        return out.value if out.ok else out.error

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._observed = True
        return self._future.result(timeout).error

    def add_done_callback(self, fn: Callable[[TaskFuture], Any]) -> None:
        self._future.add_done_callback(lambda _f: fn(self))

    @property
    def unobserved_failure(self) -> bool:
        """Failed, and nobody looked: the flow counts it as an unhandled failure."""
        return not self._observed and self._state in TERMINAL and self._state not in OK

    def __repr__(self) -> str:
        return f"<TaskFuture {self.step!r} {self._state}>"


class unmapped:
    """Wrap an argument of ``task.map(...)`` so every mapped call gets it whole."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"unmapped({self.value!r})"


def find_futures(value: Any, out: list[TaskFuture], depth: int = 0) -> bool:
    """Collect the futures in ``value`` (in lists, tuples, sets and dict values); any found?"""
    if isinstance(value, TaskFuture):
        out.append(value)
        return True
    if depth >= 3:
        return False
    t = type(value)
    if t in (list, tuple, set, frozenset):
        found = False
        for x in value:
            found = find_futures(x, out, depth + 1) or found
        return found
    if t is dict:
        found = False
        for x in value.values():
            found = find_futures(x, out, depth + 1) or found
        return found
    return False


def resolve(value: Any, depth: int = 0) -> Any:
    """``value`` with each future replaced by its result (the futures have finished)."""
    if isinstance(value, TaskFuture):
        return value.outcome().value
    if depth >= 3:
        return value
    t = type(value)
    if t in (list, tuple, set, frozenset):
        return t(resolve(x, depth + 1) for x in value)
    if t is dict:
        return {k: resolve(x, depth + 1) for k, x in value.items()}
    return value


__all__ = ["Outcome", "TaskFuture", "find_futures", "resolve", "unmapped"]
