"""Driving task calls: bind once, then a step of the current run or a run of its own; submit, map."""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nbflow.core.states import State
from nbflow.core.tasks import TaskSpec
from nbflow.engine.context import _scope, current_scope
from nbflow.engine.futures import Outcome, TaskFuture, unmapped
from nbflow.engine.ports import RunServices
from nbflow.engine.scope import RunScope
from nbflow.engine.steps import Call, describe, run_step
from nbflow.errors import ParameterError, RunCancelled

Services = Callable[[], RunServices]
"""Gives the collaborators of a new run; called only when a call starts a run of its own."""

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_PLAIN = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class Binder:
    """Binds calls of one task to its parameters: ``bind(args, kwargs)`` -> ``Call``.

    For the common signature (no positional-only or variadic parameters) it matches names
    itself, which is several times cheaper than ``inspect.Signature.bind``; any other shape,
    and any call the fast path does not accept, goes through ``Signature.bind``.
    """

    __slots__ = ("_count", "_defaults", "_names", "_order", "_positional", "_simple",
                 "signature", "spec", "variadic")

    def __init__(self, spec: TaskSpec, signature: inspect.Signature | None = None) -> None:
        self.spec = spec
        self.signature = signature if signature is not None else inspect.signature(spec.fn)
        params = list(self.signature.parameters.values())
        self.variadic = frozenset(p.name for p in params
                                  if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        self._simple = all(p.kind in _PLAIN for p in params)
        self._positional = tuple(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
        self._order = tuple(p.name for p in params)
        self._names = frozenset(self._order)
        self._count = len(self._order)
        self._defaults = {p.name: p.default for p in params if p.default is not p.empty}

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        return Call(self.spec, args, kwargs, self.arguments(args, kwargs), self.variadic)

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """The call's arguments by parameter name, defaults applied; ``None`` if it does not bind."""
        if self._simple and len(args) <= len(self._positional):
            out = dict(zip(self._positional, args))
            ok = True
            if kwargs:
                names = self._names
                for k in kwargs:
                    if k in out or k not in names:
                        ok = False
                        break
                else:
                    out.update(kwargs)
            if ok and len(out) < self._count:
                defaults = self._defaults
                for name in self._order:
                    if name not in out:
                        if name not in defaults:
                            ok = False
                            break
                        out[name] = defaults[name]
            if ok:
                # ``Signature.bind`` orders by parameter; keyword arguments may come in any order.
                return {n: out[n] for n in self._order} if kwargs else out
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return None  # a wrong call: the attempt raises the TypeError and the step fails
        bound.apply_defaults()
        return bound.arguments


# ---------------------------------------------------------------------- calling
def call_task(call: Call, services: Services, *, refresh: bool = False) -> Outcome:
    """Run ``call`` now: a step of the current run, else a run of its own; its ``Outcome``."""
    scope = current_scope()
    if scope is None:
        return run_alone(start_alone(call, services()), call, refresh)
    if scope.cancel.is_set():
        raise RunCancelled(f"Run {scope.run_id} was cancelled; task {call.spec.name!r} did not start.")
    return run_step(scope, call, scope.step_name(call.spec.name), refresh=refresh)


def start_alone(call: Call, services: RunServices) -> RunScope:
    """A new task run for ``call`` (``kind="task"``), started: RUN_STARTED is emitted."""
    spec = call.spec
    scope = RunScope(services, kind="task", name=spec.name, parameters=call.arguments or {},
                     executor="inprocess")
    scope.start({"task_tags": list(spec.tags)} if spec.tags else None)
    return scope


def run_alone(scope: RunScope, call: Call, refresh: bool,
              future: TaskFuture | None = None) -> Outcome:
    """The one step of a task run, then RUN_FINISHED."""
    token = _scope.set(scope)
    try:
        outcome = run_step(scope, call, call.spec.name, refresh=refresh, future=future)
    except BaseException:
        scope.finish(State.CANCELLED, "interrupted")
        raise
    finally:
        _scope.reset(token)
    state = State.SUCCEEDED if outcome.ok else outcome.state
    scope.finish(state, None if outcome.error is None else describe(outcome.error))
    return outcome


def submit_task(call: Call, services: Services, *, refresh: bool = False) -> TaskFuture:
    """Start ``call`` on the current run's executor (outside a run: a run of its own on a
    shared thread pool) and return its ``TaskFuture`` at once."""
    name = call.spec.name
    scope = current_scope()
    if scope is None:
        alone = start_alone(call, services())
        fut = TaskFuture(name, name, alone.run_id)

        def drive_alone() -> None:
            try:
                out = run_alone(alone, call, refresh, fut)
            except BaseException as e:  # noqa: BLE001 - the future must always finish
                out = Outcome(State.CRASHED, error=e, run_id=alone.run_id, step=name)
            fut._finish(out)

        _shared_pool().submit(contextvars.copy_context().run, drive_alone)
        return fut
    if scope.cancel.is_set():
        raise RunCancelled(f"Run {scope.run_id} was cancelled; task {name!r} was not submitted.")
    step = scope.step_name(name)
    fut = TaskFuture(name, step, scope.run_id)
    scope.track(fut)

    def drive() -> None:
        try:
            out = run_step(scope, call, step, refresh=refresh, future=fut)
        except BaseException as e:  # noqa: BLE001 - the future must always finish
            out = Outcome(State.CANCELLED if isinstance(e, KeyboardInterrupt) else State.FAILED,
                          error=e, run_id=scope.run_id, step=step)
        fut._finish(out)

    runner = scope.drivers() if scope.remote else scope.executor()
    runner.submit(contextvars.copy_context().run, drive)
    return fut


def map_task(binder: Binder, args: Sequence[Any], kwargs: dict[str, Any], services: Services,
             *, refresh: bool = False) -> list[TaskFuture]:
    """Submit one call per item of ``task.map(*args, **kwargs)`` (see ``expand_map``)."""
    return [submit_task(binder.bind(a, k), services, refresh=refresh)
            for a, k in expand_map(binder.spec.name, args, kwargs)]


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


__all__ = ["Binder", "Services", "call_task", "expand_map", "map_task", "run_alone",
           "start_alone", "submit_task"]
