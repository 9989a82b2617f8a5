"""The attempt loop (tasks, flows, deployment runs): timeouts per attempt, retry delays, cancellation."""

from __future__ import annotations

import random as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nbflow.core.retry import RetryPolicy
from nbflow.errors import RunCancelled, TaskTimeout


@dataclass(frozen=True)
class Clock:
    """Where the attempt loop gets its time, sleeps and randomness (tests inject fakes)."""

    sleep: Callable[[float], Any] = time.sleep
    random: Callable[[], float] = _random.random


def call_with_timeout(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                      timeout: float | None, *, name: str = "task") -> Any:
    """``fn(*args, **kwargs)``, raising ``TaskTimeout`` when it takes longer than ``timeout``.

    A Python thread cannot be killed, so a timed-out call is abandoned in a daemon thread: its
    result is dropped and the step moves on (to a retry or to FAILED).
    """
    if timeout is None:
        return fn(*args, **kwargs)
    import contextvars

    box: list[Any] = []
    error: list[BaseException] = []
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box.append(ctx.run(fn, *args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(e)

    t = threading.Thread(target=target, name=f"nbflow-timeout-{name}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TaskTimeout(
            f"Task {name!r} timed out after {timeout:g} s; raise its timeout= or make it faster.",
            step=name)
    if error:
        raise error[0]
    return box[0]


def attempt_loop(attempt: Callable[[int], Any], policy: RetryPolicy, *,
                 on_retry: Callable[[int, BaseException, float], None] | None = None,
                 clock: Clock = Clock(), cancel: threading.Event | None = None) -> tuple[Any, int]:
    """Run ``attempt(n)`` for n = 1, 2, ... until it returns or the policy gives up.

    Returns ``(value, attempts)``. Between attempts calls ``on_retry(n, error, delay)`` and
    waits ``delay`` seconds (interrupted by ``cancel``). The last error propagates with an
    ``attempts`` attribute set to the number of attempts made.
    """
    n = 1
    while True:
        try:
            return attempt(n), n
        except BaseException as e:
            if not isinstance(e, Exception) or not policy.should_retry(e, n):
                _note_attempts(e, n)
                raise
            delay = policy.delay(n, clock.random)
            if on_retry is not None:
                on_retry(n, e, delay)
            if cancel is not None and clock.sleep is time.sleep:
                cancel.wait(delay)  # a real wait that a cancel interrupts
            elif delay > 0:
                clock.sleep(delay)
            if cancel is not None and cancel.is_set():
                raise RunCancelled("The run was cancelled while a task waited to retry.") from e
            n += 1


def _note_attempts(error: BaseException, n: int) -> None:
    try:
        error.nbflow_attempts = n  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        pass


__all__ = ["Clock", "TaskTimeout", "attempt_loop", "call_with_timeout"]
