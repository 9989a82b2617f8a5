"""Asset runner: skip up-to-date steps, run the others on an executor with retries, emit events."""

from __future__ import annotations

import heapq
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from nbflow.core.events import (
    CheckEvaluated,
    Event,
    EventKind,
    Materialized,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from nbflow.core.freshness import stale_reason
from nbflow.core.graph import Graph
from nbflow.core.records import MaterializationRecord
from nbflow.core.specs import AssetSpec
from nbflow.core.states import State
from nbflow.core.versions import code_version
from nbflow.engine.executors import Executor
from nbflow.engine.io import io_manager, load_value, value_problem


@dataclass(frozen=True)
class Ref:
    """An input to load in the worker: a stored value's URI, I/O manager and data version."""

    uri: str
    io: str
    data_version: str | None = None


@dataclass
class StepOutput:
    uri: str
    data_version: str
    metadata: dict[str, Any]
    duration: float
    checks: list[CheckEvaluated] = field(default_factory=list)
    value: Any = None


_CACHED = StepFinished()  # a fresh step's STEP_FINISHED carries nothing (immutable: shared)


class StepFailure(Exception):
    """Raised in a worker: the message, the user's traceback as text, and the error itself.

    ``error`` (what ``retry_on`` is asked about) is dropped when it cannot be pickled, so a
    failure still travels back from a process or Dask worker.
    """

    def __init__(self, message: str, tb: str, error: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.traceback = tb
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        import pickle

        try:
            pickle.dumps(self.error)
            error = self.error
        except Exception:  # noqa: BLE001 - any pickling failure: send the text only
            error = None
        return (StepFailure, (self.message, self.traceback, error))


def _user_traceback(exc: BaseException, fn: Callable[..., Any]) -> str:
    tb = exc.__traceback__
    code = getattr(fn, "__code__", None)
    probe = tb
    while probe is not None and probe.tb_frame.f_code is not code:
        probe = probe.tb_next
    return "".join(traceback.format_exception(type(exc), exc, probe or tb))


def load_inputs(inputs: Mapping[str, Any], base: str, asset: str) -> dict[str, Any]:
    """The step's arguments: stored references loaded, a value that cannot be a StepFailure."""
    args = {}
    for param, value in inputs.items():
        if isinstance(value, Ref):
            try:
                value = load_value(io_manager(value.io, base), value.uri, value.data_version,
                                   param)
            except Exception as exc:  # noqa: BLE001 - reported as the step's failure
                raise StepFailure(f"Cannot load input {param!r} of asset {asset!r}: {exc}",
                                  "") from None
        args[param] = value
    return args


def execute_asset(spec: AssetSpec, inputs: Mapping[str, Any], base: str,
                  keep_value: bool = True) -> StepOutput:
    """Load inputs, call the asset function, store the value, run checks (runs in the worker)."""
    started = time.perf_counter()
    args = load_inputs(inputs, base, spec.name)
    try:
        value = spec.fn(**args)
    except Exception as exc:  # noqa: BLE001 - the user's code: reported as the step's failure
        raise StepFailure(f"{type(exc).__name__}: {exc}", _user_traceback(exc, spec.fn),
                          exc) from None
    try:
        stored = io_manager(spec.io, base).store(spec.name, value)
    except Exception as exc:  # noqa: BLE001 - reported as the step's failure
        raise StepFailure(str(exc), "") from None
    checks = []
    for c in spec.checks:
        try:
            passed, message = bool(c.fn(value)), None
        except Exception as exc:  # noqa: BLE001 - a check that raises fails
            passed, message = False, f"{type(exc).__name__}: {exc}"
        checks.append(CheckEvaluated(name=c.name, passed=passed, severity=c.severity, message=message))
    meta = {**spec.metadata, **stored.metadata}
    return StepOutput(stored.uri, stored.data_version, meta, time.perf_counter() - started, checks,
                      value if keep_value else None)


@dataclass
class AssetRun:
    """What ``run_assets`` produced: states, errors and the values computed in this run."""

    states: dict[str, State]
    errors: dict[str, dict[str, str]]
    values: dict[str, Any]
    data_versions: dict[str, str]


def run_assets(graph: Graph, selected: list[str], *, run_id: str, emit: Callable[[Event], None],
               executor: Executor, previous: Mapping[str, MaterializationRecord], base: str,
               force: bool = False, cancel: threading.Event | None = None,
               keep: frozenset[str] = frozenset(), remote: bool = False) -> AssetRun:
    """Run ``selected`` (topologically sorted) and emit every step's events.

    Up-to-date assets (``core.freshness.stale_reason``) become CACHED without a call (unless
    ``force``). A failed step is retried by its ``spec.retry`` policy: STEP_RETRYING carries
    the delay, and the step waits in a timed queue while other steps keep running. A failure
    skips everything downstream of it; independent branches go on. ``cancel`` stops new steps
    from starting (and steps waiting to retry). ``keep`` names values to keep in memory for
    the caller; others are dropped once used.
    """
    spec_of = graph.specs
    chosen = set(selected)
    states: dict[str, State] = {}
    errors: dict[str, dict[str, str]] = {}
    values: dict[str, Any] = {}
    current: dict[str, str] = {n: m.data_version for n, m in previous.items()}
    uris: dict[str, Ref] = {n: Ref(m.uri, m.io, m.data_version) for n, m in previous.items()}
    waiting = {n: sum(1 for u in graph.upstream[n] if u in chosen) for n in selected}
    consumers = {n: sum(1 for d in graph.downstream[n] if d in chosen) for n in selected}
    ready = deque(n for n in selected if waiting[n] == 0)
    running: dict[Future[Any], tuple[str, float, int, str, dict[str, str]]] = {}
    attempts: dict[str, int] = {}
    delayed: list[tuple[float, int, str]] = []  # (due on the monotonic clock, order, step)

    def finish(name: str, state: State, payload: StepFinished) -> None:
        # Iterative, so a failure at the top of a 10,000-step chain skips it without recursion.
        todo = [(name, state, payload)]
        states[name] = state
        while todo:
            n, st, dt = todo.pop()
            emit(Event(EventKind.STEP_FINISHED, run_id, n, st, dt))
            for d in graph.downstream[n]:
                if d not in waiting:
                    continue
                waiting[d] -= 1
                if st not in (State.SUCCEEDED, State.CACHED):
                    if d not in states:
                        blocker = errors.get(n, {}).get("blocked_by", n) if st is State.SKIPPED else n
                        errors[d] = {"message": f"Skipped: upstream {blocker!r} did not succeed.",
                                     "traceback": "", "blocked_by": blocker}
                        states[d] = State.SKIPPED
                        todo.append((d, State.SKIPPED,
                                     StepFinished(error=f"upstream {blocker!r} did not succeed")))
                elif waiting[d] == 0 and d not in states:
                    ready.append(d)
            for u in graph.upstream[n]:  # drop values nobody needs any more
                if u in consumers:
                    consumers[u] -= 1
                    if consumers[u] == 0 and u not in keep:
                        values.pop(u, None)

    def start(name: str) -> None:
        spec = spec_of[name]
        ups = graph.upstream[name]
        missing = [u for u in ups if u not in current]
        if missing:
            msg = (f"Asset {name!r} needs {missing[0]!r}, which has never been materialised; "
                   f"select it too (e.g. '+{name}').")
            errors[name] = {"message": msg, "traceback": ""}
            finish(name, State.FAILED, StepFinished(error=msg))
            return
        cv = code_version(spec.fn, declared=spec.code_version, source=spec.source)
        inputs_v = {u: current[u] for u in ups}
        prev = previous.get(name)
        if (not force and prev is not None
                and stale_reason(cv, prev.code_version, prev.input_versions, inputs_v) is None
                and value_problem(io_manager(prev.io, base), prev.uri, prev.data_version) is None):
            current[name] = prev.data_version
            finish(name, State.CACHED, _CACHED)
            return
        attempt = attempts[name] = attempts.get(name, 0) + 1
        emit(Event(EventKind.STEP_STARTED, run_id, name, State.RUNNING,
                   StepStarted(attempt=attempt, kind="asset", upstream=list(ups))))
        inputs = {p: (values[u] if (u in values and not remote) else uris[u])
                  for p, u in graph.inputs[name].items()}
        fut = executor.submit(execute_asset, spec, inputs, base, not remote)
        running[fut] = (name, time.time(), attempt, cv, inputs_v)

    def collect(fut: Future[Any]) -> None:
        name, _started, attempt, cv, inputs_v = running.pop(fut)
        spec = spec_of[name]
        try:
            out: StepOutput = fut.result()
        except StepFailure as exc:
            fail(name, attempt, exc.message, exc.traceback, exc.error or exc)
            return
        except Exception as exc:  # noqa: BLE001 - the executor itself failed (a lost worker, pickling)
            fail(name, attempt, f"{type(exc).__name__}: {exc}",
                 "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), exc)
            return
        current[name] = out.data_version
        uris[name] = Ref(out.uri, spec.io, out.data_version)
        if not remote and (consumers.get(name) or name in keep):
            values[name] = out.value
        emit(Event(EventKind.MATERIALIZATION, run_id, name, None, Materialized(
            code_version=cv, data_version=out.data_version, input_versions=inputs_v,
            metadata=out.metadata, uri=out.uri, io=spec.io, duration=out.duration)))
        blocking = None
        for c in out.checks:
            emit(Event(EventKind.CHECK, run_id, name, None, c))
            if not c.passed and c.severity == "error" and blocking is None:
                blocking = c
        if blocking is not None:
            msg = f"Check {blocking.name!r} failed" + (f": {blocking.message}" if blocking.message else ".")
            errors[name] = {"message": msg, "traceback": "", "check": str(blocking.name)}
            finish(name, State.FAILED, StepFinished(error=msg, attempt=attempt,
                                                    duration=out.duration, check=blocking.name))
            return
        finish(name, State.SUCCEEDED, StepFinished(attempt=attempt, duration=out.duration))

    def fail(name: str, attempt: int, message: str, tb: str, error: BaseException) -> None:
        policy = spec_of[name].retry
        try:
            again = policy.should_retry(error, attempt)
        except Exception as exc:  # noqa: BLE001 - the user's retry_on predicate raised
            again = False
            message = (f"{message} (not retried: retry_on of asset {name!r} raised "
                       f"{type(exc).__name__}: {exc})")
        if again:
            delay = policy.delay(attempt)
            emit(Event(EventKind.STEP_RETRYING, run_id, name, State.RETRYING,
                       StepRetrying(attempt=attempt, error=message, delay=delay)))
            if delay > 0:
                heapq.heappush(delayed, (time.monotonic() + delay, len(delayed), name))
            else:
                ready.append(name)
            return
        errors[name] = {"message": message, "traceback": tb}
        finish(name, State.FAILED, StepFinished(error=message, traceback=tb, attempt=attempt))

    while ready or running or delayed:
        while delayed and delayed[0][0] <= time.monotonic():
            ready.append(heapq.heappop(delayed)[2])
        while ready:
            name = ready.popleft()
            if cancel is not None and cancel.is_set():
                ready.appendleft(name)
                break
            start(name)
            if not executor.concurrent:
                for fut in list(running):
                    collect(fut)
        if cancel is not None and cancel.is_set() and not running:
            break
        due = max(delayed[0][0] - time.monotonic(), 0.0) if delayed else None
        if running:
            done, _ = wait(list(running), timeout=due, return_when=FIRST_COMPLETED)
            for fut in done:
                collect(fut)
        elif due is not None and not ready:
            if cancel is not None:
                cancel.wait(due)
            else:
                time.sleep(due)
    for name in selected:
        if name not in states:
            states[name] = State.CANCELLED
            emit(Event(EventKind.STEP_FINISHED, run_id, name, State.CANCELLED,
                       StepFinished(error="the run was cancelled")))
    return AssetRun(states, errors, values, current)
