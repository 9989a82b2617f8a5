"""Task and flow specs, and the retry policy arithmetic (delays, backoff, jitter); pure."""

from __future__ import annotations

import inspect
import random as _random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nbflow.core.durations import parse_optional_duration
from nbflow.errors import DefinitionError

CACHE_POLICIES = ("inputs", "inputs+code")

@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing call is tried again and how long to wait before each retry.

    ``retry_delay`` is seconds (multiplied by ``backoff ** (n - 1)`` before retry ``n``) or a
    sequence with one delay per retry (its last entry repeats). ``jitter`` spreads each delay
    uniformly over ``delay * (1 ± jitter)`` so many retrying callers do not wake together.
    """

    retries: int = 0
    retry_delay: float | tuple[float, ...] = 0.0
    backoff: float = 1.0
    jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise DefinitionError(f"retries must be a whole number >= 0, got {self.retries!r}.")
        delays = self.retry_delay if isinstance(self.retry_delay, tuple) else (self.retry_delay,)
        if not delays or any(isinstance(d, bool) or not isinstance(d, (int, float)) or d < 0
                             for d in delays):
            raise DefinitionError(
                f"retry_delay must be seconds >= 0 or a non-empty list of them, got {self.retry_delay!r}.")
        if isinstance(self.backoff, bool) or not isinstance(self.backoff, (int, float)) \
                or self.backoff < 1.0:
            raise DefinitionError(f"backoff must be a number >= 1.0 (1.0: constant delay), got {self.backoff!r}.")
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, (int, float)) \
                or not 0.0 <= self.jitter <= 1.0:
            raise DefinitionError(f"jitter must be a fraction between 0.0 and 1.0, got {self.jitter!r}.")
        if not self.retry_on or not all(
                isinstance(t, type) and issubclass(t, BaseException) for t in self.retry_on):
            raise DefinitionError(
                f"retry_on must be exception classes such as (ConnectionError,), got {self.retry_on!r}.")

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether attempt ``attempt`` (1-based) that raised ``error`` gets another try."""
        return attempt <= self.retries and isinstance(error, self.retry_on)

    def delay(self, attempt: int, random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one.

        ``random`` returns a float in [0, 1); tests pass a fixed one.
        """
        if isinstance(self.retry_delay, tuple):
            base = float(self.retry_delay[min(attempt, len(self.retry_delay)) - 1])
        else:
            base = float(self.retry_delay) * self.backoff ** (attempt - 1)
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * random() - 1.0)
        return max(base, 0.0)


def make_retry_policy(retries: int = 0, retry_delay: float | Sequence[float] = 0.0,
                      backoff: float = 1.0, jitter: float = 0.0,
                      retry_on: type[BaseException] | Sequence[type[BaseException]] = (Exception,),
                      ) -> RetryPolicy:
    """A ``RetryPolicy`` from decorator arguments (lists become tuples, one class a 1-tuple)."""
    delay: float | tuple[float, ...]
    if isinstance(retry_delay, (list, tuple)):
        delay = tuple(retry_delay)
    else:
        delay = retry_delay  # type: ignore[assignment]
    on = (retry_on,) if isinstance(retry_on, type) else tuple(retry_on)
    return RetryPolicy(retries=retries, retry_delay=delay, backoff=backoff, jitter=jitter,
                       retry_on=on)


@dataclass(frozen=True, eq=False)
class TaskSpec:
    """A unit of work: a function plus how it retries, times out, caches and is limited."""

    name: str
    fn: Callable[..., Any]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    cache: str | Callable[..., Any] | None = None
    """``"inputs"``, ``"inputs+code"``, or a callable ``key(arguments: dict) -> str | None``."""
    cache_ttl: float | None = None
    refresh_cache: bool = False
    persist: bool = False
    tags: tuple[str, ...] = ()
    description: str | None = None
    source: str | None = None
    """Source text for the code version when ``fn`` has none on disk (a notebook cell)."""

    def __repr__(self) -> str:
        return f"<task {self.name!r}>"


@dataclass(frozen=True, eq=False)
class FlowSpec:
    """A function that calls tasks with ordinary Python control flow; one call is one run."""

    name: str
    fn: Callable[..., Any]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    executor: str = "threads"
    max_workers: int | None = None
    description: str | None = None

    def __repr__(self) -> str:
        return f"<flow {self.name!r}>"


def _label(fn: Callable[..., Any], name: str | None, what: str) -> str:
    if not callable(fn):
        raise DefinitionError(f"@{what} needs a function, got {type(fn).__name__}.")
    label = name if name is not None else getattr(fn, "__name__", None)
    if not isinstance(label, str) or not label or label == "<lambda>":
        raise DefinitionError(f"A {what} made from a lambda needs a name: nf.{what}(name='fetch')(...).")
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise DefinitionError(
            f"{what.capitalize()} {label!r} is an async function; nbflow runs plain functions. "
            f"Define a plain function that calls asyncio.run(...) and make that the {what}.")
    return label


def make_task(fn: Callable[..., Any], *, name: str | None = None, retries: int = 0,
              retry_delay: float | Sequence[float] = 0.0, backoff: float = 1.0,
              jitter: float = 0.0,
              retry_on: type[BaseException] | Sequence[type[BaseException]] = (Exception,),
              timeout: float | str | None = None, cache: str | Callable[..., Any] | None = None,
              cache_ttl: float | str | None = None, refresh_cache: bool = False,
              persist: bool = False, tags: Sequence[str] = (), description: str | None = None,
              source: str | None = None) -> TaskSpec:
    """Build a ``TaskSpec`` from decorator arguments, validating each one."""
    label = _label(fn, name, "task")
    if cache is not None and not callable(cache) and cache not in CACHE_POLICIES:
        raise DefinitionError(
            f"cache of task {label!r} must be 'inputs', 'inputs+code' or a function returning a "
            f"key, got {cache!r}.")
    if isinstance(tags, str):
        tags = (tags,)
    if not all(isinstance(t, str) and t for t in tags):
        raise DefinitionError(f"tags of task {label!r} must be non-empty strings, got {tags!r}.")
    try:
        policy = make_retry_policy(retries, retry_delay, backoff, jitter, retry_on)
    except DefinitionError as e:
        raise DefinitionError(f"Task {label!r}: {e}") from None
    ttl = parse_optional_duration(cache_ttl, what=f"cache_ttl of task {label!r}")
    if ttl is not None and cache is None:
        raise DefinitionError(
            f"Task {label!r} has cache_ttl but no cache policy; add cache='inputs' (or 'inputs+code').")
    return TaskSpec(
        name=label, fn=fn, retry=policy, timeout=_timeout(timeout, label, "task"), cache=cache,
        cache_ttl=ttl, refresh_cache=bool(refresh_cache), persist=bool(persist or cache),
        tags=tuple(tags),
        description=description if description is not None else inspect.getdoc(fn),
        source=source)


def make_flow(fn: Callable[..., Any], *, name: str | None = None, retries: int = 0,
              retry_delay: float | Sequence[float] = 0.0, timeout: float | str | None = None,
              executor: str = "threads", max_workers: int | None = None,
              description: str | None = None) -> FlowSpec:
    """Build a ``FlowSpec`` from decorator arguments, validating each one."""
    label = _label(fn, name, "flow")
    try:
        policy = make_retry_policy(retries, retry_delay)
    except DefinitionError as e:
        raise DefinitionError(f"Flow {label!r}: {e}") from None
    if not isinstance(executor, str) or not executor:
        raise DefinitionError(
            f"executor of flow {label!r} must be a name such as 'threads', 'processes', 'dask' "
            f"or 'dask://HOST:PORT', got {executor!r}.")
    if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
        raise DefinitionError(f"max_workers of flow {label!r} must be a whole number >= 1, got {max_workers!r}.")
    return FlowSpec(
        name=label, fn=fn, retry=policy, timeout=_timeout(timeout, label, "flow"),
        executor=executor, max_workers=max_workers,
        description=description if description is not None else inspect.getdoc(fn))


def _timeout(value: float | str | None, label: str, what: str) -> float | None:
    seconds = parse_optional_duration(value, what=f"timeout of {what} {label!r}")
    if seconds is not None and seconds <= 0:
        raise DefinitionError(f"timeout of {what} {label!r} must be more than 0 seconds, got {value!r}.")
    return seconds


@dataclass(frozen=True)
class CacheEntry:
    """A stored result: the pickled value and where it came from."""

    key: str
    task: str
    payload: bytes
    created_at: float
    expires_at: float | None
    run_id: str | None = None
    step: str | None = None

    def valid_at(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


__all__ = ["CACHE_POLICIES", "CacheEntry", "FlowSpec", "RetryPolicy", "TaskSpec", "make_flow",
           "make_retry_policy", "make_task"]
