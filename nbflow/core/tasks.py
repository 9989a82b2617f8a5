"""Task and flow specs and the decorator arguments that build them (validated); pure."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nbflow.core.durations import parse_optional_duration
from nbflow.core.retry import MAX_DELAY, RetryOnArg, RetryPolicy, make_retry_policy
from nbflow.errors import DefinitionError

CACHE_POLICIES = ("inputs", "inputs+code")

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
              retry_on: RetryOnArg = (Exception,),
              max_delay: float = MAX_DELAY, timeout: float | str | None = None, cache: str | Callable[..., Any] | None = None,
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
        policy = make_retry_policy(retries, retry_delay, backoff, jitter, retry_on, max_delay)
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


__all__ = ["CACHE_POLICIES", "CacheEntry", "FlowSpec", "TaskSpec", "make_flow", "make_task"]
