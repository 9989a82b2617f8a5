"""``@task``: call a task (a step, or a run of its own), ``submit`` it, ``map`` it; ``limit``."""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nbflow.core.states import State
from nbflow.core.tasks import TaskSpec, make_task
from nbflow.errors import NbflowError, ParameterError, RunCancelled
from nbflow.engine.context import _scope, current_scope
from nbflow.engine.futures import Outcome, TaskFuture, unmapped
from nbflow.engine.scope import RunScope
from nbflow.engine.steps import describe, run_step

_OPTIONS = ("return_state", "refresh_cache")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _session() -> Any:
    from nbflow.session import get_session

    return get_session()


class Task:
    """A function made a task by ``@nbflow.task``.

    Calling it runs it and returns its value (``return_state=True``: its ``Outcome``). Inside a
    flow the call is a step of the flow's run; outside, a run of its own. ``submit`` runs it on
    the flow's executor and returns a ``TaskFuture``; ``map`` submits one call per item.
    """

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        functools.update_wrapper(self, spec.fn)
        self._signature: inspect.Signature | None = None
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
        if self._signature is None:
            self._signature = inspect.signature(self.spec.fn)
        return self._signature

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults included."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments

    def with_options(self, **changes: Any) -> Task:
        """A copy of this task with some decorator arguments changed."""
        s = self.spec
        current: dict[str, Any] = dict(name=s.name, retries=s.retry.retries, retry_delay=s.retry.retry_delay,
                       backoff=s.retry.backoff, jitter=s.retry.jitter, retry_on=s.retry.retry_on,
                       timeout=s.timeout, cache=s.cache, cache_ttl=s.cache_ttl,
                       refresh_cache=s.refresh_cache, persist=s.persist, tags=s.tags,
                       description=s.description, source=s.source)
        unknown = set(changes) - set(current)
        if unknown:
            raise ParameterError(f"Task.with_options() got unknown options {sorted(unknown)}; "
                                 f"use {', '.join(sorted(current))}.", parameter=sorted(unknown)[0])
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
        scope = current_scope()
        if scope is None:
            outcome = self._run_alone(args, kwargs, refresh)
        else:
            if scope.cancel.is_set():
                raise RunCancelled(f"Run {scope.run_id} was cancelled; task {self.name!r} did not start.")
            outcome = run_step(scope, self, scope.step_name(self.name), args, kwargs,
                               refresh=refresh)
        return outcome if return_state else outcome.result()

    def _run_alone(self, args: tuple[Any, ...], kwargs: dict[str, Any], refresh: bool,
                   future: TaskFuture | None = None, scope: RunScope | None = None) -> Outcome:
        """A run of its own: RUN_STARTED, the step, RUN_FINISHED."""
        if scope is None:
            scope = self._scope(args, kwargs)
        token = _scope.set(scope)
        try:
            outcome = run_step(scope, self, self.name, args, kwargs, refresh=refresh, future=future)
        except BaseException:
            scope.finish(State.CANCELLED, "interrupted")
            raise
        finally:
            _scope.reset(token)
        state = State.SUCCEEDED if outcome.ok else outcome.state
        scope.finish(state, None if outcome.error is None else describe(outcome.error))
        return outcome

    def _scope(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> RunScope:
        try:
            params = self.bind(args, kwargs)
        except TypeError:
            params = {}
        scope = RunScope(_session(), kind="task", name=self.name, parameters=params,
                         executor="inprocess")
        scope.start({"task_tags": list(self.spec.tags)} if self.spec.tags else None)
        return scope

    def submit(self, *args: Any, **kwargs: Any) -> TaskFuture:
        """Run the task on the flow's executor (threads unless the flow says otherwise).

        Returns a ``TaskFuture`` at once; pass it to other tasks to make them depend on it.
        """
        _, refresh = self._pop(kwargs)
        scope = current_scope()
        if scope is None:
            alone = self._scope(args, kwargs)
            fut = TaskFuture(self.name, self.name, alone.run_id)

            def drive_alone() -> None:
                try:
                    out = self._run_alone(args, kwargs, refresh, fut, alone)
                except BaseException as e:
                    out = Outcome(State.CRASHED, error=e, run_id=alone.run_id, step=self.name)
                fut._finish(out)

            _shared_pool().submit(contextvars.copy_context().run, drive_alone)
            return fut
        if scope.cancel.is_set():
            raise RunCancelled(f"Run {scope.run_id} was cancelled; task {self.name!r} was not submitted.")
        step = scope.step_name(self.name)
        fut = TaskFuture(self.name, step, scope.run_id)
        scope.track(fut)

        def drive() -> None:
            try:
                out = run_step(scope, self, step, args, kwargs, refresh=refresh, future=fut)
            except BaseException as e:
                out = Outcome(State.CANCELLED if isinstance(e, KeyboardInterrupt) else State.FAILED,
                              error=e, run_id=scope.run_id, step=step)
            fut._finish(out)

        runner = scope.drivers() if scope.remote else scope.executor()
        runner.submit(contextvars.copy_context().run, drive)
        return fut

    def map(self, *args: Any, **kwargs: Any) -> list[TaskFuture]:
        """Submit one call per item: iterables are zipped, ``unmapped(x)`` and scalars repeat.

        ``fetch.map(urls, timeout=unmapped(5))`` -> one future per URL.
        """
        _, refresh = self._pop(kwargs)
        calls = expand_map(self.name, args, kwargs)
        if refresh:
            return [self.submit(*a, refresh_cache=True, **k) if "refresh_cache" in self._options
                    else self.submit(*a, **k) for a, k in calls]
        return [self.submit(*a, **k) for a, k in calls]

    def __repr__(self) -> str:
        return f"<task {self.name!r}>"


def _iterable(value: Any) -> bool:
    if isinstance(value, (str, bytes, bytearray, dict, unmapped, TaskFuture)):
        return False
    return isinstance(value, Iterable)


def expand_map(name: str, args: Sequence[Any], kwargs: dict[str, Any]
               ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The calls of ``task.map(*args, **kwargs)``: one (args, kwargs) per item."""
    items: dict[Any, list[Any]] = {}
    for i, a in enumerate(args):
        if _iterable(a):
            items[i] = list(a)
    for k, a in kwargs.items():
        if _iterable(a):
            items[k] = list(a)
    if not items:
        raise ParameterError(
            f"{name}.map() needs at least one list (or other iterable) to map over; "
            "to call the task once use submit().")
    lengths = {str(k if isinstance(k, str) else f"argument {k + 1}"): len(v) for k, v in items.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ParameterError(f"{name}.map() got iterables of different lengths ({shown}); "
                             "give them the same length or wrap one in nbflow.unmapped().")
    n = next(iter(lengths.values()))

    def plain(v: Any) -> Any:
        return v.value if isinstance(v, unmapped) else v

    return [(tuple(items[i][j] if i in items else plain(a) for i, a in enumerate(args)),
             {k: items[k][j] if k in items else plain(a) for k, a in kwargs.items()})
            for j in range(n)]


def _shared_pool() -> ThreadPoolExecutor:
    """Threads for ``submit`` outside a flow (each call a run of its own)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(thread_name_prefix="nbflow-task")
    return _pool


def task(fn: Callable[..., Any] | None = None, *, name: str | None = None, retries: int = 0,
         retry_delay: float | Sequence[float] = 0.0, backoff: float = 1.0, jitter: float = 0.0,
         retry_on: type[BaseException] | Sequence[type[BaseException]] = (Exception,),
         timeout: float | str | None = None, cache: str | Callable[..., Any] | None = None,
         cache_ttl: float | str | None = None, refresh_cache: bool = False,
         persist: bool = False, tags: Sequence[str] = ()) -> Any:
    """Make a function a task: ``@task`` or ``@task(retries=3, cache="inputs+code", ...)``.

    ``retry_delay`` is seconds (times ``backoff`` per retry) or a list with one delay per
    retry; ``jitter`` spreads each delay by up to that fraction. ``timeout`` bounds each
    attempt. ``cache`` is ``"inputs"``, ``"inputs+code"`` or ``key(arguments) -> str``, kept
    for ``cache_ttl`` (seconds or ``"1h"``). ``tags`` take part in concurrency limits.
    """

    def wrap(f: Callable[..., Any]) -> Task:
        return Task(make_task(f, name=name, retries=retries, retry_delay=retry_delay,
                              backoff=backoff, jitter=jitter, retry_on=retry_on, timeout=timeout,
                              cache=cache, cache_ttl=cache_ttl, refresh_cache=refresh_cache,
                              persist=persist, tags=tags))

    return wrap(fn) if fn is not None else wrap


def limit(tag: str, slots: int | None) -> None:
    """At most ``slots`` tasks tagged ``tag`` run at once, across every process sharing the store.

    ``limit("db", None)`` removes the limit. ``nbflow limit db 2`` does the same from a shell.
    """
    _session().store.tasks.set_limit(tag, slots)


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


def clear_cache(task: str | Task | None = None) -> int:
    """Forget cached results of ``task`` (every task when ``None``); returns how many."""
    name = task.name if isinstance(task, Task) else task
    return _session().store.tasks.clear_entries(name)


__all__ = ["Task", "clear_cache", "expand_map", "limit", "load_result", "reset_limit", "task"]
