"""The flow run loop: one run of a flow function, its attempts, and waiting for its steps."""

from __future__ import annotations

import inspect
from typing import Any

from nbflow.core.events import Event, EventKind, LogLine
from nbflow.core.states import State
from nbflow.core.tasks import FlowSpec
from nbflow.engine.context import _scope, _step, current_scope
from nbflow.engine.futures import Outcome
from nbflow.engine.ports import RunServices
from nbflow.engine.retry import attempt_loop, call_with_timeout
from nbflow.engine.scope import RunScope
from nbflow.engine.steps import describe
from nbflow.errors import RunCancelled, TaskError, TaskTimeout


def run_flow(spec: FlowSpec, signature: inspect.Signature, params: dict[str, Any],
             services: RunServices) -> Outcome:
    """One run of ``spec`` with already-validated ``params``; returns its ``Outcome``.

    A flow called inside another flow is a run of its own whose parent is the caller's run.
    When it returns, every event of the run is committed.
    """
    parent = current_scope()
    scope = RunScope(services, kind="flow", name=spec.name, parameters=params,
                     executor=spec.executor, max_workers=spec.max_workers,
                     parent_run_id=None if parent is None else parent.run_id)
    scope.start()
    token, step_token = _scope.set(scope), _step.set(None)
    value: Any = None
    error: BaseException | None = None
    attempts = 0
    interrupted: BaseException | None = None
    try:
        value, attempts = attempt_loop(
            lambda n: _attempt(spec, signature, scope, params), spec.retry,
            on_retry=lambda n, e, delay: scope.emit(Event(EventKind.LOG, scope.run_id, data=LogLine(
                level="WARNING", message=f"Flow attempt {n} failed ({describe(e)}); "
                f"retrying in {delay:g} s."))),
            clock=scope.clock, cancel=scope.cancel)
        state = State.SUCCEEDED
    except RunCancelled as e:
        error, state = e, State.CANCELLED
    except Exception as e:  # noqa: BLE001 - any error fails the run
        error, state = e, State.FAILED
        attempts = getattr(e, "nbflow_attempts", 1)
    except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt: record the run as cancelled, re-raise
        interrupted, error, state = e, e, State.CANCELLED
    finally:
        _step.reset(step_token)
        _scope.reset(token)
    if state is not State.SUCCEEDED:
        scope.cancel.set()  # steps not started yet end CANCELLED instead of running
    try:
        if interrupted is None:
            scope.wait_all()
    finally:
        scope.close()
        scope.finish(state, None if error is None else describe(error))
        scope.flush()
    if interrupted is not None:
        raise interrupted
    return Outcome(state, value, error, run_id=scope.run_id, attempts=attempts)


def _attempt(spec: FlowSpec, signature: inspect.Signature, scope: RunScope,
             params: dict[str, Any]) -> Any:
    """One attempt: call the function, wait for its steps, fail on a failure nobody looked at."""
    first = len(scope.futures)
    try:
        args, kwargs = call_arguments(signature, params)
        value = call_with_timeout(spec.fn, args, kwargs, spec.timeout, name=spec.name)
    except TaskTimeout:
        raise TaskTimeout(
            f"Flow {spec.name!r} timed out after {spec.timeout:g} s; raise its "
            "timeout= or make it faster.", run_id=scope.run_id) from None
    scope.wait_all()
    for f in scope.futures[first:]:
        if f.unobserved_failure:
            out = f.outcome()
            raise TaskError(
                f"Step {f.step!r} of flow {spec.name!r} ended {out.state.value} and the flow "
                f"never looked at its future ({describe(out.error) if out.error else 'no error'}); "
                "call .result() or .wait() on futures whose failure the flow handles.",
                step=f.step, run_id=scope.run_id) from out.error
    return value


def call_arguments(signature: inspect.Signature, params: dict[str, Any]
                   ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments that call the function with ``params`` again."""
    # Parameters before a *args parameter must go positionally, or Python would see them twice.
    star = any(p.kind is p.VAR_POSITIONAL and n in params
               for n, p in signature.parameters.items())
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, p in signature.parameters.items():
        if name not in params:
            continue
        if p.kind is p.POSITIONAL_ONLY or (star and p.kind is p.POSITIONAL_OR_KEYWORD):
            args.append(params[name])
        elif p.kind is p.VAR_POSITIONAL:
            args.extend(params[name])
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(params[name])
        else:
            kwargs[name] = params[name]
    return tuple(args), kwargs


__all__ = ["call_arguments", "run_flow"]
