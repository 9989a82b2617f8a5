"""``@task``: the ``Task`` users call, ``submit`` and ``map``; ``limit``, ``load_result``, ``clear_cache``.

The engine (``nbflow.engine.tasks``) runs the calls; this module binds each call once and hands
the engine the session's collaborators (``run_services``).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

from nbflow.core.tasks import TaskSpec, make_task
from nbflow.engine.futures import TaskFuture
from nbflow.engine.ports import RunServices
from nbflow.engine.tasks import Binder, call_task, map_task, submit_task
from nbflow.errors import NbflowError, ParameterError
from nbflow.session.audit import audited

_OPTIONS = ("return_state", "refresh_cache")


def _session() -> Any:
    from nbflow.session import get_session

    return get_session()


def run_services() -> RunServices:
    """The collaborators of a new run, from the current session (its store opens if needed)."""
    session = _session()
    store = session.store
    tables = store.tasks
    return RunServices(emit=session.hooks.emit, new_run_id=session.new_run_id,
                       flush=store.flush, cache=tables, slots=tables,
                       parent_run_id=os.environ.get("NBFLOW_RUN_ID"))


class Task:
    """A function made a task by ``@nbflow.task``.

    Calling it runs it and returns its value (``return_state=True``: its ``Outcome``). Inside a
    flow the call is a step of the flow's run; outside, a run of its own. ``submit`` runs it on
    the flow's executor and returns a ``TaskFuture``; ``map`` submits one call per item.
    """

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        functools.update_wrapper(self, spec.fn)
        self._binder = Binder(spec)
        params = self.signature.parameters
        # ``return_state=`` and ``refresh_cache=`` are call options unless the function takes them.
        self._options = tuple(o for o in _OPTIONS if o not in params)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def fn(self) -> Callable[..., Any]:
        return self.spec.fn

    @property
    def signature(self) -> inspect.Signature:
        return self._binder.signature

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults included (``TypeError`` if they do not fit)."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments

    def with_options(self, **changes: Any) -> Task:
        """A copy of this task with some decorator arguments changed."""
        s = self.spec
        r = s.retry
        current: dict[str, Any] = {
            "name": s.name, "retries": r.retries, "retry_delay": r.retry_delay,
            "backoff": r.backoff, "jitter": r.jitter, "retry_on": r.retry_on,
            "max_delay": r.max_delay, "timeout": s.timeout, "cache": s.cache,
            "cache_ttl": s.cache_ttl, "refresh_cache": s.refresh_cache, "persist": s.persist,
            "tags": s.tags, "description": s.description, "source": s.source}
        unknown = set(changes) - set(current)
        if unknown:
            raise ParameterError(f"Task.with_options() got unknown options {sorted(unknown)}; "
                                 f"use {', '.join(sorted(current))}.", parameter=min(unknown))
        current.update(changes)
        return Task(make_task(s.fn, **current))

    def _pop(self, kwargs: dict[str, Any]) -> tuple[bool, bool]:
        if not kwargs or not self._options:
            return False, False
        state = bool(kwargs.pop("return_state", False)) if "return_state" in self._options else False
        refresh = bool(kwargs.pop("refresh_cache", False)) if "refresh_cache" in self._options else False
        return state, refresh

    # ------------------------------------------------------------------ calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return_state, refresh = self._pop(kwargs)
        outcome = call_task(self._binder.bind(args, kwargs), run_services, refresh=refresh)
        return outcome if return_state else outcome.result()

    def submit(self, *args: Any, **kwargs: Any) -> TaskFuture:
        """Run the task on the flow's executor (threads unless the flow says otherwise).

        Returns a ``TaskFuture`` at once; pass it to other tasks to make them depend on it.
        """
        _, refresh = self._pop(kwargs)
        return submit_task(self._binder.bind(args, kwargs), run_services, refresh=refresh)

    def map(self, *args: Any, **kwargs: Any) -> list[TaskFuture]:
        """Submit one call per item: iterables are zipped, ``unmapped(x)`` and scalars repeat.

        ``fetch.map(urls, timeout=unmapped(5))`` -> one future per URL.
        """
        _, refresh = self._pop(kwargs)
        return map_task(self._binder, args, kwargs, run_services, refresh=refresh)

    def __repr__(self) -> str:
        return f"<task {self.name!r}>"


def task(fn: Callable[..., Any] | None = None, *, name: str | None = None, retries: int = 0,
         retry_delay: float | Sequence[float] = 0.0, backoff: float = 1.0, jitter: float = 0.0,
         retry_on: type[BaseException] | Sequence[type[BaseException]]
         | Callable[[BaseException], bool] = (Exception,), max_delay: float = 3600.0,
         timeout: float | str | None = None, cache: str | Callable[..., Any] | None = None,
         cache_ttl: float | str | None = None, refresh_cache: bool = False,
         persist: bool = False, tags: Sequence[str] = ()) -> Any:
    """Make a function a task: ``@task`` or ``@task(retries=3, cache="inputs+code", ...)``.

    ``retry_delay`` is seconds (times ``backoff`` per retry) or a list with one delay per
    retry; ``jitter`` spreads each delay by up to that fraction; no delay exceeds ``max_delay``.
    ``retry_on`` is exception classes or a predicate ``(error) -> bool``. ``timeout`` bounds each
    attempt. ``cache`` is ``"inputs"``, ``"inputs+code"`` or ``key(arguments) -> str``, kept
    for ``cache_ttl`` (seconds or ``"1h"``). ``tags`` take part in concurrency limits.
    """

    def wrap(f: Callable[..., Any]) -> Task:
        return Task(make_task(f, name=name, retries=retries, retry_delay=retry_delay,
                              backoff=backoff, jitter=jitter, retry_on=retry_on,
                              max_delay=max_delay, timeout=timeout,
                              cache=cache, cache_ttl=cache_ttl, refresh_cache=refresh_cache,
                              persist=persist, tags=tags))

    return wrap(fn) if fn is not None else wrap


@audited("limit", target="tag")
def limit(tag: str, slots: int | None) -> None:
    """At most ``slots`` tasks tagged ``tag`` run at once, across every process sharing the store.

    ``limit("db", None)`` removes the limit. ``nbflow limit db 2`` does the same from a shell.
    """
    _session().store.tasks.set_limit(tag, slots)


@audited("limit.reset", target="tag")
def reset_limit(tag: str) -> int:
    """Free every slot of ``tag`` (after a crash on another machine left some taken); how many."""
    return int(_session().store.tasks.reset_slots(tag))


def load_result(run_id: str, step: str) -> Any:
    """The stored result of step ``step`` of run ``run_id`` (tasks with ``persist=True`` or a cache)."""
    from nbflow.engine.caching import loads_result

    entry = _session().store.tasks.find_entry(run_id, step)
    if entry is None:
        raise NbflowError(f"Step {step!r} of run {run_id} has no stored result; only tasks with "
                          "persist=True or a cache keep their results.")
    return loads_result(entry.payload)


@audited("cache.clear", target="task")
def clear_cache(task: str | Task | None = None) -> int:
    """Forget cached results of ``task`` (every task when ``None``); returns how many."""
    name = task.name if isinstance(task, Task) else task
    return _session().store.tasks.clear_entries(name)


__all__ = ["Task", "clear_cache", "limit", "load_result", "reset_limit", "run_services", "task"]
