"""The step runner: one task call inside a run, from inputs to events, cache, slots and retries."""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbflow.core.events import Event, EventKind, StepFinished, StepRetrying, StepStarted
from nbflow.core.states import State
from nbflow.core.tasks import CacheEntry, TaskSpec
from nbflow.engine.caching import cache_key, dumps_result, expires_at, loads_result
from nbflow.engine.context import StepContext, _step
from nbflow.engine.futures import Outcome, TaskFuture, find_futures, resolve
from nbflow.engine.retry import attempt_loop, call_with_timeout
from nbflow.errors import NbflowWarning, RunCancelled, TaskError, TaskTimeout, UnhashableInput

if TYPE_CHECKING:
    from nbflow.engine.scope import RunScope

_STARTED = EventKind.STEP_STARTED
_FINISHED = EventKind.STEP_FINISHED
_RETRYING = EventKind.STEP_RETRYING


def describe(error: BaseException) -> str:
    """``Type: message`` as the store and ``nbflow run show`` print an error."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a task: the arguments as given, and bound to the parameters once."""

    spec: TaskSpec
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    arguments: dict[str, Any] | None
    """By parameter name, defaults applied; ``None`` when the call does not fit the signature
    (the attempt then raises the ``TypeError`` and the step fails)."""
    variadic: frozenset[str] = frozenset()
    """The names of the ``*args`` and ``**kwargs`` parameters among ``arguments``."""

    def resolved(self) -> Call:
        """This call with every future among its inputs replaced by its value."""
        arguments = self.arguments
        if arguments is not None:
            # A named parameter sits one level deeper in ``args``/``kwargs`` than in
            # ``arguments``; a variadic one at the same level: resolve both alike.
            var = self.variadic
            arguments = {k: resolve(v, 0 if k in var else 1) for k, v in arguments.items()}
        return Call(self.spec, resolve(self.args), resolve(self.kwargs), arguments, self.variadic)


def has_futures(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    for a in args:
        if isinstance(a, TaskFuture) or type(a) in (list, tuple, dict, set, frozenset):
            return True
    for a in kwargs.values():
        if isinstance(a, TaskFuture) or type(a) in (list, tuple, dict, set, frozenset):
            return True
    return False


def run_step(scope: RunScope, call: Call, step: str, *, refresh: bool = False,
             future: TaskFuture | None = None) -> Outcome:
    """Run ``call`` as step ``step`` of ``scope``; how it ended (never raises ``Exception``).

    Futures among the inputs are waited for and replaced by their values; their steps become
    the step's ``upstream``. A failed upstream skips the step. Then: the cache, the concurrency
    slots of the task's tags, and the attempt loop (events for every attempt and retry).
    """
    spec = call.spec
    emit = scope.emit
    run_id = scope.run_id
    task = spec.name
    upstream_steps: list[str] | None = None

    if has_futures(call.args, call.kwargs):
        upstream: list[TaskFuture] = []
        find_futures(call.args, upstream)
        find_futures(call.kwargs, upstream)
        if upstream:
            upstream_steps = list(dict.fromkeys(f.step for f in upstream))
            for f in upstream:
                out = f.outcome()
                if not out.ok:
                    error = TaskError(
                        f"Step {step!r} did not run: its input from step {f.step!r} ended "
                        f"{out.state.value}" + (f" ({describe(out.error)})" if out.error else "")
                        + ".", step=step, run_id=run_id)
                    emit(Event(_FINISHED, run_id, step, State.SKIPPED, StepFinished(
                        attempt=0, kind="task", task=task, upstream=upstream_steps,
                        error=str(error))))
                    return Outcome(State.SKIPPED, error=error, run_id=run_id, step=step)
            call = call.resolved()

    if scope.cancel.is_set():
        cancelled = RunCancelled(f"Step {step!r} did not start: run {run_id} was cancelled.")
        emit(Event(_FINISHED, run_id, step, State.CANCELLED, StepFinished(
            attempt=0, kind="task", task=task, upstream=upstream_steps, error=str(cancelled))))
        return Outcome(State.CANCELLED, error=cancelled, run_id=run_id, step=step)

    try:
        key = None
        if spec.cache is not None:
            key = _lookup_key(call, step)
            if key is not None and not (refresh or spec.refresh_cache):
                hit = _cached(scope, key)
                if hit is not None:
                    value, entry = hit
                    emit(Event(_FINISHED, run_id, step, State.CACHED, StepFinished(
                        attempt=0, kind="task", task=task, upstream=upstream_steps,
                        cached_from=entry.run_id)))
                    return Outcome(State.CACHED, value, run_id=run_id, step=step)
        slots: list[int] = []
        held = _held_tags()
        taken: set[str] = set()
        if spec.tags:
            # A task called directly inside a task that holds a tag's slot (same thread) uses
            # that slot: waiting for a second one could wait for itself forever.
            limited = [t for t in scope.slots.limited(spec.tags) if t not in held]
            if limited:
                slots = scope.slots.acquire(sorted(limited), run_id=run_id, step=step,
                                            cancel=scope.cancel)
                taken = set(limited)
                held |= taken
    except Exception as e:  # noqa: BLE001 - the store failed or the run was cancelled meanwhile
        state = State.CANCELLED if isinstance(e, RunCancelled) else State.FAILED
        emit(Event(_FINISHED, run_id, step, state, StepFinished(
            attempt=0, kind="task", task=task, upstream=upstream_steps, error=describe(e))))
        return Outcome(state, error=e, run_id=run_id, step=step)
    try:
        return _attempts(scope, call, step, upstream_steps, key, future)
    finally:
        if slots:
            held -= taken
            scope.slots.release(slots)


def _cached(scope: RunScope, key: str) -> tuple[Any, CacheEntry] | None:
    """The cached value under ``key`` if there is a valid entry that still loads."""
    entry = scope.cache.get_entry(key)
    if entry is None or not entry.valid_at(time.time()):
        return None
    try:
        return loads_result(entry.payload), entry
    except Exception:  # noqa: BLE001 - e.g. its class is gone: run the task again instead
        return None


_local = threading.local()


def _held_tags() -> set[str]:
    """Tags whose concurrency slots the current thread holds."""
    held = getattr(_local, "held", None)
    if held is None:
        held = _local.held = set()
    return held  # type: ignore[no-any-return]


def _lookup_key(call: Call, step: str) -> str | None:
    if call.arguments is None:
        return None  # a wrong call: the attempt raises the TypeError and the step fails
    try:
        return cache_key(call.spec, call.arguments)
    except UnhashableInput as e:
        warnings.warn(f"Step {step!r} of task {call.spec.name!r} is not cached: {e} Caching is "
                      "off for this call; pass hashable inputs or give the task a cache key "
                      "function (cache=lambda args: ...).", NbflowWarning, stacklevel=6)
        return None


def _attempts(scope: RunScope, call: Call, step: str, upstream: list[str] | None,
              key: str | None, future: TaskFuture | None) -> Outcome:
    spec = call.spec
    task = spec.name
    args, kwargs = call.args, call.kwargs
    emit = scope.emit
    run_id = scope.run_id
    remote = scope.remote and future is not None
    started = time.perf_counter()

    def attempt(n: int) -> Any:
        emit(Event(_STARTED, run_id, step, State.RUNNING,
                   StepStarted(attempt=n, kind="task", task=task, upstream=upstream)))
        if future is not None:
            future._set_state(State.RUNNING)
        token = _step.set(StepContext(scope, step, spec.name, n, spec.fn, args, kwargs))
        try:
            if remote:
                return _remote_call(scope, spec.fn, args, kwargs, spec.timeout, spec.name)
            return call_with_timeout(spec.fn, args, kwargs, spec.timeout, name=spec.name)
        finally:
            _step.reset(token)

    def on_retry(n: int, error: BaseException, delay: float) -> None:
        emit(Event(_RETRYING, run_id, step, State.RETRYING, StepRetrying(
            attempt=n, error=describe(error), delay=round(delay, 6), kind="task", task=task,
            upstream=upstream)))
        if future is not None:
            future._set_state(State.RETRYING)

    try:
        value, n = attempt_loop(attempt, spec.retry, on_retry=on_retry, clock=scope.clock,
                                cancel=scope.cancel)
    except Exception as e:  # noqa: BLE001 - any error fails the step
        n = getattr(e, "nbflow_attempts", 1)
        state = State.CANCELLED if isinstance(e, RunCancelled) else State.FAILED
        emit(Event(_FINISHED, run_id, step, state, StepFinished(
            attempt=n, kind="task", task=task, upstream=upstream, error=describe(e),
            duration=round(time.perf_counter() - started, 6))))
        return Outcome(state, error=e, run_id=run_id, step=step, attempts=n)
    except BaseException as e:  # KeyboardInterrupt: record it, then let it stop the caller
        scope.cancel.set()
        emit(Event(_FINISHED, run_id, step, State.CANCELLED, StepFinished(
            kind="task", task=task, upstream=upstream, error=describe(e) or "interrupted")))
        raise
    emit(Event(_FINISHED, run_id, step, State.SUCCEEDED, StepFinished(
        attempt=n, kind="task", task=task, upstream=upstream,
        duration=round(time.perf_counter() - started, 6))))
    if key is not None or spec.persist:
        _save(scope, spec, step, key, value)
    return Outcome(State.SUCCEEDED, value, run_id=run_id, step=step, attempts=n)


def _save(scope: RunScope, spec: TaskSpec, step: str, key: str | None, value: Any) -> None:
    try:
        payload = dumps_result(value)
    except Exception as e:  # noqa: BLE001 - unpicklable: warn, keep the value
        warnings.warn(f"The result of step {step!r} of task {spec.name!r} cannot be pickled "
                      f"({e}); it is not cached.", NbflowWarning, stacklevel=5)
        return
    now = time.time()
    if key is None:  # persist=True without a cache: keep the result under the step's id
        key = result_key(scope.run_id, step)
    try:
        scope.cache.put_entry(CacheEntry(key=key, task=spec.name, payload=payload,
                                         created_at=now, expires_at=expires_at(spec, now),
                                         run_id=scope.run_id, step=step))
    except Exception as e:  # noqa: BLE001 - the step succeeded; only its stored copy is lost
        warnings.warn(f"The result of step {step!r} of task {spec.name!r} could not be "
                      f"stored ({type(e).__name__}: {e}); it is not cached.", NbflowWarning,
                      stacklevel=5)


def result_key(run_id: str, step: str) -> str:
    """The key a persisted (uncached) result is stored under."""
    return "result:" + hashlib.blake2b(f"{run_id}/{step}".encode(), digest_size=16).hexdigest()


def _remote_call(scope: RunScope, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                 timeout: float | None, name: str) -> Any:
    fut: Future[Any] = scope.executor().submit(fn, *args, **kwargs)
    try:
        return fut.result(timeout)
    except FutureTimeout:
        if not fut.done():
            fut.cancel()
            raise TaskTimeout(
                f"Task {name!r} timed out after {timeout:g} s; raise its timeout= or make it "
                "faster.", step=name) from None
        raise


__all__ = ["Call", "describe", "result_key", "run_step"]
