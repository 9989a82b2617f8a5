"""``@flow``: validate the parameters, then run the function as one run whose steps are tasks."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any

from nbflow.core.events import Event, EventKind
from nbflow.core.states import State
from nbflow.core.tasks import FlowSpec, make_flow
from nbflow.engine.retry import TaskTimeout, attempt_loop, call_with_timeout
from nbflow.errors import ParameterError, RunCancelled, TaskError
from nbflow.engine.context import _scope, _step, current_scope
from nbflow.engine.futures import Outcome
from nbflow.engine.scope import RunScope
from nbflow.engine.steps import describe


class Flow:
    """A function made a flow by ``@nbflow.flow``; each call is one run in the store.

    Parameters are checked against the type hints (pydantic) before the run starts. A task
    failure the flow does not handle fails the run; ``return_state=True`` returns the run's
    ``Outcome`` instead of raising.
    """

    def __init__(self, spec: FlowSpec) -> None:
        self.spec = spec
        functools.update_wrapper(self, spec.fn)
        self.signature = inspect.signature(spec.fn)
        self._checkers: dict[str, Callable[[Any], Any]] | None = None
        self._takes_return_state = "return_state" in self.signature.parameters

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def fn(self) -> Callable[..., Any]:
        return self.spec.fn

    # ------------------------------------------------------------------ parameters
    def validate(self, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
        """The call's parameters by name, converted and checked against the type hints.

        Raises ``ParameterError`` naming the parameter and the type it expects.
        """
        try:
            bound = self.signature.bind(*args, **(kwargs or {}))
        except TypeError as e:
            raise ParameterError(f"Flow {self.name!r} cannot be called like this: {e}. "
                                 f"Its parameters are {self.signature}.") from None
        bound.apply_defaults()
        checkers = self._parameter_checkers()
        values = dict(bound.arguments)
        for name, value in values.items():
            check = checkers.get(name)
            if check is not None:
                values[name] = check(value)
        return values

    def _parameter_checkers(self) -> dict[str, Callable[[Any], Any]]:
        if self._checkers is None:
            self._checkers = parameter_checkers(self.name, self.spec.fn, self.signature)
        return self._checkers

    # ------------------------------------------------------------------ running
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return_state = False
        if not self._takes_return_state and "return_state" in kwargs:
            return_state = bool(kwargs.pop("return_state"))
        params = self.validate(args, kwargs)
        outcome = self.run(params)
        if return_state:
            return outcome
        return outcome.result()

    def run(self, params: dict[str, Any]) -> Outcome:
        """One run with already-validated ``params``; returns its ``Outcome``."""
        from nbflow.session import get_session

        spec = self.spec
        parent = current_scope()
        scope = RunScope(get_session(), kind="flow", name=spec.name, parameters=params,
                         executor=spec.executor, max_workers=spec.max_workers, parent=parent)
        scope.start()
        token, step_token = _scope.set(scope), _step.set(None)
        value: Any = None
        error: BaseException | None = None
        attempts = 0
        interrupted: BaseException | None = None
        try:
            value, attempts = attempt_loop(
                lambda n: self._attempt(scope, n, params), spec.retry,
                on_retry=lambda n, e, delay: scope.emit(Event(EventKind.LOG, scope.run_id, data={
                    "level": "WARNING", "message": f"Flow attempt {n} failed ({describe(e)}); "
                    f"retrying in {delay:g} s."})),
                clock=scope.clock, cancel=scope.cancel)
            state = State.SUCCEEDED
        except RunCancelled as e:
            error, state = e, State.CANCELLED
        except Exception as e:
            error, state = e, State.FAILED
            attempts = getattr(e, "nbflow_attempts", 1)
        except BaseException as e:  # KeyboardInterrupt: record the run as cancelled, re-raise
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

    def _attempt(self, scope: RunScope, n: int, params: dict[str, Any]) -> Any:
        first = len(scope.futures)
        try:
            args, kwargs = call_arguments(self.signature, params)
            value = call_with_timeout(self.spec.fn, args, kwargs, self.spec.timeout, name=self.name)
        except TaskTimeout:
            raise TaskTimeout(
                f"Flow {self.name!r} timed out after {self.spec.timeout:g} s; raise its "
                "timeout= or make it faster.", run_id=scope.run_id) from None
        scope.wait_all()
        for f in scope.futures[first:]:
            if f.unobserved_failure:
                out = f.outcome()
                raise TaskError(
                    f"Step {f.step!r} of flow {self.name!r} ended {out.state.value} and the flow "
                    f"never looked at its future ({describe(out.error) if out.error else 'no error'}); "
                    "call .result() or .wait() on futures whose failure the flow handles.",
                    step=f.step, run_id=scope.run_id) from out.error
        return value

    def with_options(self, **changes: Any) -> Flow:
        s = self.spec
        current: dict[str, Any] = dict(name=s.name, retries=s.retry.retries, retry_delay=s.retry.retry_delay,
                       timeout=s.timeout, executor=s.executor, max_workers=s.max_workers,
                       description=s.description)
        unknown = set(changes) - set(current)
        if unknown:
            raise ParameterError(f"Flow.with_options() got unknown options {sorted(unknown)}; "
                                 f"use {', '.join(sorted(current))}.", parameter=sorted(unknown)[0])
        current.update(changes)
        return Flow(make_flow(s.fn, **current))

    def __repr__(self) -> str:
        return f"<flow {self.name!r}>"


def call_arguments(signature: inspect.Signature, params: dict[str, Any]
                   ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments that call the function with ``params`` again."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, p in signature.parameters.items():
        if name not in params:
            continue
        if p.kind is p.POSITIONAL_ONLY:
            args.append(params[name])
        elif p.kind is p.VAR_POSITIONAL:
            args.extend(params[name])
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(params[name])
        else:
            kwargs[name] = params[name]
    return tuple(args), kwargs


def parameter_checkers(flow: str, fn: Callable[..., Any], signature: inspect.Signature
                       ) -> dict[str, Callable[[Any], Any]]:
    """One pydantic check per annotated parameter: value -> converted value or ParameterError."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {n: p.annotation for n, p in signature.parameters.items()
                 if p.annotation is not inspect.Parameter.empty and not isinstance(p.annotation, str)}
    checkers: dict[str, Callable[[Any], Any]] = {}
    for name, p in signature.parameters.items():
        hint = hints.get(name)
        if hint is None or hint is Any or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        checkers[name] = _checker(flow, name, hint)
    return checkers


def _checker(flow: str, name: str, hint: Any) -> Callable[[Any], Any]:
    from pydantic import ConfigDict, TypeAdapter, ValidationError

    try:
        adapter: Any = TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:
        try:
            adapter = TypeAdapter(hint)
        except Exception:
            return lambda v: v
    expected = _type_name(hint)

    def check(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as e:
            first = e.errors()[0]
            detail = first.get("msg", "invalid")
            where = "".join(f"[{x!r}]" for x in first.get("loc", ()))
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise ParameterError(
                f"Parameter {name!r} of flow {flow!r} must be {expected}, got {shown} "
                f"({type(value).__name__}): {detail}{' at ' + where if where else ''}.",
                parameter=name) from None

    return check


def _type_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def flow(fn: Callable[..., Any] | None = None, *, name: str | None = None, retries: int = 0,
         retry_delay: float | Sequence[float] = 0.0, timeout: float | str | None = None,
         executor: str = "threads", max_workers: int | None = None) -> Any:
    """Make a function a flow: ``@flow`` or ``@flow(name=..., retries=1, timeout="10m")``.

    Its tasks' ``submit``/``map`` run on ``executor``: ``threads`` (default), ``processes``,
    ``dask`` (a local cluster) or ``dask://HOST:PORT``.
    """

    def wrap(f: Callable[..., Any]) -> Flow:
        return Flow(make_flow(f, name=name, retries=retries, retry_delay=retry_delay,
                              timeout=timeout, executor=executor, max_workers=max_workers))

    return wrap(fn) if fn is not None else wrap


__all__ = ["Flow", "flow", "parameter_checkers"]
