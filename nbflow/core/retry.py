"""The retry policy: how many attempts, which errors retry, and the delay before each retry; pure.

One policy for tasks, flows, assets and deployment runs. Delays follow Prefect's shape: a
number is the first delay, multiplied by ``backoff`` for each further retry (``1, 2, 4, ...``
with ``backoff=2``); a list gives one delay per retry and its last entry repeats. ``jitter``
spreads each delay uniformly over ``delay * (1 ± jitter)``, and no delay is ever longer than
``max_delay`` (an hour unless set), however large the backoff grows.
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from nbflow.errors import DefinitionError

MAX_DELAY = 3600.0
"""The default cap on one delay between attempts, in seconds."""

RetryOn: TypeAlias = "tuple[type[BaseException], ...] | Callable[[BaseException], bool]"
"""Exception classes that are retried, or a predicate ``(error) -> bool``."""

RetryOnArg: TypeAlias = (
    "type[BaseException] | Sequence[type[BaseException]] | Callable[[BaseException], bool]")
"""What decorators accept as ``retry_on``: one class, several, or a predicate."""


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_exception_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing call is tried again and how long to wait before each retry.

    ``retry_delay`` is seconds (multiplied by ``backoff ** (n - 1)`` before retry ``n``) or a
    tuple with one delay per retry (its last entry repeats). ``jitter`` spreads each delay
    uniformly over ``delay * (1 ± jitter)`` so many retrying callers do not wake together.
    ``retry_on`` is a tuple of exception classes or a predicate ``(error) -> bool``.
    """

    retries: int = 0
    retry_delay: float | tuple[float, ...] = 0.0
    backoff: float = 1.0
    jitter: float = 0.0
    retry_on: RetryOn = (Exception,)
    max_delay: float = MAX_DELAY

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise DefinitionError(f"retries must be a whole number >= 0, got {self.retries!r}.")
        if not _number(self.max_delay) or not math.isfinite(self.max_delay) or self.max_delay < 0:
            raise DefinitionError(
                f"max_delay must be a finite number of seconds >= 0, got {self.max_delay!r}.")
        delays = self.retry_delay if isinstance(self.retry_delay, tuple) else (self.retry_delay,)
        if not delays or not all(_number(d) and math.isfinite(d) and d >= 0 for d in delays):
            raise DefinitionError(
                "retry_delay must be seconds >= 0 (a finite number) or a non-empty list of "
                f"them, got {self.retry_delay!r}.")
        longest = max(float(d) for d in delays)
        if longest > self.max_delay:
            raise DefinitionError(
                f"retry_delay {longest:g} s is longer than max_delay {self.max_delay:g} s; "
                "shorten the delay or raise max_delay=.")
        if not _number(self.backoff) or not math.isfinite(self.backoff) or self.backoff < 1.0:
            raise DefinitionError(
                f"backoff must be a number >= 1.0 (finite; 1.0: constant delay), got {self.backoff!r}.")
        if not _number(self.jitter) or not 0.0 <= self.jitter <= 1.0:
            raise DefinitionError(f"jitter must be a fraction between 0.0 and 1.0, got {self.jitter!r}.")
        on = self.retry_on
        if isinstance(on, tuple):
            if not on or not all(_is_exception_class(t) for t in on):
                raise DefinitionError(
                    "retry_on must be exception classes such as (ConnectionError,) or a function "
                    f"(error) -> bool, got {on!r}.")
        elif not callable(on):
            raise DefinitionError(
                "retry_on must be exception classes such as (ConnectionError,) or a function "
                f"(error) -> bool, got {on!r}.")

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether attempt ``attempt`` (1-based) that raised ``error`` gets another try.

        A ``retry_on`` predicate is only asked while retries remain; if it raises, that error
        propagates (the caller reports it with the original failure).
        """
        if attempt > self.retries:
            return False
        if isinstance(self.retry_on, tuple):
            return isinstance(error, self.retry_on)
        return bool(self.retry_on(error))

    def delay(self, attempt: int, random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one.

        ``random`` returns a float in [0, 1); tests pass a fixed one.
        """
        if isinstance(self.retry_delay, tuple):
            base = float(self.retry_delay[min(attempt, len(self.retry_delay)) - 1])
        else:
            try:
                base = float(self.retry_delay) * float(self.backoff) ** (attempt - 1)
            except OverflowError:  # backoff ** attempt beyond any float: the cap applies
                base = math.inf if self.retry_delay else 0.0
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * random() - 1.0)
        return min(max(base, 0.0), self.max_delay)


NO_RETRY = RetryPolicy()
"""One attempt, no retries."""


def make_retry_policy(retries: int = 0, retry_delay: float | Sequence[float] = 0.0,
                      backoff: float = 1.0, jitter: float = 0.0,
                      retry_on: RetryOnArg = (Exception,),
                      max_delay: float = MAX_DELAY) -> RetryPolicy:
    """A ``RetryPolicy`` from decorator arguments (lists become tuples, one class a 1-tuple)."""
    delay: float | tuple[float, ...]
    if isinstance(retry_delay, (list, tuple)):
        delay = tuple(retry_delay)
    else:
        delay = retry_delay  # type: ignore[assignment]
    on: RetryOn
    if _is_exception_class(retry_on):
        on = (retry_on,)  # type: ignore[assignment]
    elif isinstance(retry_on, (list, tuple, set, frozenset)):
        on = tuple(retry_on)
    elif callable(retry_on):
        on = retry_on  # type: ignore[assignment]  # a predicate (classes were handled above)
    else:
        raise DefinitionError(
            "retry_on must be exception classes such as (ConnectionError,) or a function "
            f"(error) -> bool, got {retry_on!r}.")
    return RetryPolicy(retries=retries, retry_delay=delay, backoff=backoff, jitter=jitter,
                       retry_on=on, max_delay=max_delay)


__all__ = ["MAX_DELAY", "NO_RETRY", "RetryOn", "RetryOnArg", "RetryPolicy", "make_retry_policy"]
