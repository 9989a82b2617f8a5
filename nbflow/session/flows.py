"""``@flow``: the ``Flow`` users call; parameters checked against the type hints (pydantic).

Parameters are converted and checked here, before a run starts (a wrong call records no run);
the run itself is the engine's (``nbflow.engine.flows.run_flow``).
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any

from nbflow.core.tasks import FlowSpec, make_flow
from nbflow.engine.flows import run_flow
from nbflow.engine.futures import Outcome
from nbflow.errors import ParameterError
from nbflow.session.tasks import run_services


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
        return run_flow(self.spec, self.signature, params, run_services())

    def with_options(self, **changes: Any) -> Flow:
        s = self.spec
        current: dict[str, Any] = {
            "name": s.name, "retries": s.retry.retries, "retry_delay": s.retry.retry_delay,
            "timeout": s.timeout, "executor": s.executor, "max_workers": s.max_workers,
            "description": s.description}
        unknown = set(changes) - set(current)
        if unknown:
            raise ParameterError(f"Flow.with_options() got unknown options {sorted(unknown)}; "
                                 f"use {', '.join(sorted(current))}.", parameter=min(unknown))
        current.update(changes)
        return Flow(make_flow(s.fn, **current))

    def __repr__(self) -> str:
        return f"<flow {self.name!r}>"


def parameter_checkers(flow: str, fn: Callable[..., Any], signature: inspect.Signature
                       ) -> dict[str, Callable[[Any], Any]]:
    """One pydantic check per annotated parameter: value -> converted value or ParameterError."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable hints: use the raw annotations
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
    except Exception:  # noqa: BLE001 - a hint pydantic cannot check
        try:
            adapter = TypeAdapter(hint)
        except Exception:  # noqa: BLE001 - a hint pydantic cannot check: no check
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
