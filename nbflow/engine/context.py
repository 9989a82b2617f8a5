"""Run context: which run and step the current code runs in; ``context()`` and ``get_logger()``."""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.core.events import Event, EventKind, LogLine

if TYPE_CHECKING:
    from nbflow.engine.scope import RunScope


@dataclass(frozen=True)
class StepContext:
    """The task step running on this thread (set by the step runner for each attempt)."""

    scope: RunScope
    step: str
    task: str
    attempt: int
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]

    @property
    def parameters(self) -> dict[str, Any]:
        """The call's arguments by parameter name (bound when asked for, not per call)."""
        try:
            bound = inspect.signature(self.fn).bind_partial(*self.args, **self.kwargs)
        except (TypeError, ValueError):
            return {f"arg{i}": a for i, a in enumerate(self.args)} | dict(self.kwargs)
        return dict(bound.arguments)


@dataclass(frozen=True)
class AssetStepContext:
    """The asset step running on this thread: its run, step id and partition (if any)."""

    run_id: str | None
    step: str
    asset: str
    partition_key: Any = None
    partition_time_window: tuple[Any, Any] | None = None
    partition_keys: tuple[Any, ...] | None = None


_scope: contextvars.ContextVar[RunScope | None] = contextvars.ContextVar("nbflow_run", default=None)
_step: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("nbflow_step", default=None)


_asset_step: contextvars.ContextVar[AssetStepContext | None] = contextvars.ContextVar(
    "nbflow_asset_step", default=None)


def asset_step(ctx: AssetStepContext | None) -> contextvars.Token[AssetStepContext | None]:
    """Set the asset step of this thread (the asset runner, around the user's function)."""
    return _asset_step.set(ctx)


def reset_asset_step(token: contextvars.Token[AssetStepContext | None]) -> None:
    _asset_step.reset(token)


def current_scope() -> RunScope | None:
    """The flow (or task) run the calling code belongs to, if any."""
    return _scope.get()


def current_step() -> StepContext | None:
    return _step.get()


@dataclass(frozen=True)
class RunContext:
    """What ``nbflow.context()`` returns: where the calling code runs.

    Outside any flow or task every field is ``None`` (parameters empty).
    """

    run_id: str | None = None
    flow: str | None = None
    task: str | None = None
    step: str | None = None
    attempt: int | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    flow_parameters: Mapping[str, Any] = field(default_factory=dict)
    asset: str | None = None
    partition_key: Any = None
    """The partition an asset step makes: a date or aware datetime (time windows), a str
    (static, dynamic) or a ``MultiKey`` (multi); None when unpartitioned."""
    partition_time_window: tuple[Any, Any] | None = None
    """For time-window partitions: ``(start, end)`` of the window, aware datetimes (of the
    whole range, in a ``single_call`` asset's call)."""
    partition_keys: tuple[Any, ...] | None = None
    """In a ``single_call`` asset's call: every partition key it builds, in key order."""

    @property
    def partition_range(self) -> tuple[Any, Any] | None:
        """In a ``single_call`` asset's call: its first and last partition key."""
        return None if not self.partition_keys else (self.partition_keys[0], self.partition_keys[-1])


def context() -> RunContext:
    """The run id, step, flow and task names and parameters of the calling code."""
    scope = _scope.get()
    step = _step.get()
    a = _asset_step.get()
    if a is not None and step is None:
        return RunContext(run_id=a.run_id, step=a.step, asset=a.asset,
                          partition_key=a.partition_key,
                          partition_time_window=a.partition_time_window,
                          partition_keys=a.partition_keys)
    if step is not None:
        scope = step.scope
    if scope is None:
        return RunContext()
    flow_params = scope.parameters if scope.kind == "flow" else {}
    return RunContext(
        run_id=scope.run_id, flow=scope.name if scope.kind == "flow" else None,
        task=None if step is None else step.task, step=None if step is None else step.step,
        attempt=None if step is None else step.attempt,
        parameters=step.parameters if step is not None else flow_params,
        flow_parameters=flow_params)


class _EventHandler(logging.Handler):
    """Turns log records made inside a run into LOG events (the store keeps them)."""

    def emit(self, record: logging.LogRecord) -> None:
        step = _step.get()
        scope = step.scope if step is not None else _scope.get()
        if scope is None:
            return
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose message cannot be formatted still logs
            message = str(record.msg)
        scope.emit(Event(EventKind.LOG, scope.run_id, None if step is None else step.step,
                         data=LogLine(level=record.levelname, message=message,
                                      logger=record.name), ts=record.created))


_LOGGER_NAME = "nbflow.run"
_handler = _EventHandler(level=logging.DEBUG)


def get_logger(name: str | None = None) -> logging.Logger:
    """A logger whose records, inside a flow or task, go to the run's events in the store.

    ``nbflow run show ID`` prints them. Outside a run it is an ordinary logger.
    """
    base = logging.getLogger(_LOGGER_NAME)
    if _handler not in base.handlers:
        base.addHandler(_handler)
        if base.level == logging.NOTSET:
            base.setLevel(logging.INFO)
    return base if name is None else base.getChild(name)


__all__ = ["AssetStepContext", "RunContext", "StepContext", "asset_step", "context", "current_scope", "current_step", "get_logger", "reset_asset_step"]
