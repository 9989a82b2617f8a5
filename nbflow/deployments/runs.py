"""One deployment run, start to end: claim, events, attempts with retries, the executed notebook.

Shared by ``trigger`` (in the caller's process) and the scheduler (in its worker threads).
The notebook runs through ``execute_notebook`` locally or on a Dask worker; either way this
process records RUN_STARTED / RUN_FINISHED and keeps the run's heartbeat.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbflow.core.events import Event, EventKind, LogLine, RunFinished, RunStarted
from nbflow.core.states import State
from nbflow.deployments.execute import ExecutionRequest, ExecutionResult, execute_notebook
from nbflow.engine.retry import Clock, attempt_loop
from nbflow.errors import RunCancelled

if TYPE_CHECKING:
    from nbflow.core.records import RunRecord
    from nbflow.deployments.definition import Deployment
    from nbflow.session import Session
    from nbflow.store.deployments import DeploymentStore

DASK_CONNECT_TIMEOUT = 15.0
"""Seconds to wait for a Dask scheduler before the run fails."""

Execute = Callable[[ExecutionRequest, "threading.Event | None"], ExecutionResult]


def owner_tags() -> dict[str, Any]:
    """Who runs a run: host and pid, so a dead local owner is noticed at once."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def output_path(session: Session, deployment: str, run_id: str) -> Path:
    return Path(session.settings.home) / "runs" / deployment / f"{run_id}.ipynb"


def claim_run(session: Session, ds: DeploymentStore, dep: Deployment, scheduled_at: float,
              values: Mapping[str, Any], *, tick: bool, trigger: str) -> str:
    """Insert the PENDING run for (deployment, scheduled_at); '' if that tick is already taken."""
    from nbflow.deployments.definition import plain

    from nbflow.core.codec import dumps

    run_id = session.new_run_id()
    # The record shows the values (``plain``); the exact codec text travels beside them, so a
    # run taken from the queue later gets the same types (a date stays a date, a tuple a tuple).
    ok = ds.claim(run_id, deployment=dep.name, scheduled_at=scheduled_at, parameters=plain(values),
                  output_path=str(output_path(session, dep.name, run_id)),
                  tags={"trigger": trigger, EXACT: dumps(dict(values)), **owner_tags()}, tick=tick)
    return run_id if ok else ""


EXACT = "parameters_exact"
"""The run tag holding a queued run's parameter values in the codec's exact form."""


def queued_values(parameters: Mapping[str, Any], tags: Mapping[str, Any]) -> dict[str, Any]:
    """The exact parameter values of a queued run (its display copy for runs from older versions)."""
    from nbflow.core.codec import loads

    exact = tags.get(EXACT)
    return dict(loads(exact)) if isinstance(exact, str) else dict(parameters)


def kernel_env(session: Session, dep: Deployment, run_id: str) -> dict[str, str]:
    s = session.settings
    env = {"NBFLOW_RUN_ID": run_id, "NBFLOW_DEPLOYMENT": dep.name, "NBFLOW_HOME": str(s.home),
           "NBFLOW_DATABASE_URL": s.url}
    if s.storage:
        env["NBFLOW_STORAGE"] = s.storage
    return env


def local_execute(request: ExecutionRequest, cancel: threading.Event | None) -> ExecutionResult:
    return execute_notebook(request, cancel=cancel)


def dask_execute(address: str) -> Execute:
    """Run the notebook on a worker of the Dask scheduler at ``address`` (dask://HOST:PORT)."""

    def run(request: ExecutionRequest, cancel: threading.Event | None) -> ExecutionResult:
        from distributed import Client

        with Client(address.removeprefix("dask://"), timeout=DASK_CONNECT_TIMEOUT,
                    set_as_default=False) as client:
            future = client.submit(execute_notebook, request, pure=False)
            while True:
                try:
                    return future.result(timeout=0.5)
                except TimeoutError:
                    if cancel is not None and cancel.is_set():
                        future.cancel()
                        return ExecutionResult(False, request.output_path, 0.0,
                                               "The run was cancelled.", None, "RunCancelled",
                                               "cancelled", cancelled=True)

    return run


def executor_for(dep: Deployment) -> Execute:
    return local_execute if dep.executor == "local" else dask_execute(dep.executor)


class _FailedAttempt(Exception):
    """One attempt of a deployment run failed; carries its result to the attempt loop."""

    def __init__(self, result: ExecutionResult) -> None:
        super().__init__(result.error)
        self.result = result


def execute_claimed(
    session: Session,
    ds: DeploymentStore,
    dep: Deployment,
    run_id: str,
    values: Mapping[str, Any],
    *,
    cancel: threading.Event | None = None,
    execute: Execute | None = None,
    scheduled_at: float | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> RunRecord:
    """Run a taken (RUNNING) run to its end and return its record; never raises for a failure.

    Attempts follow the deployment's retry policy through the same attempt loop as tasks;
    each failed attempt keeps its notebook (``<run id>.attemptN.ipynb``) and logs a warning.
    """
    from nbflow.deployments.definition import plain

    execute = execute or executor_for(dep)
    out = output_path(session, dep.name, run_id)
    session.emit(Event(EventKind.RUN_STARTED, run_id, data=RunStarted(
        kind="deployment", name=dep.name, deployment=dep.name, scheduled_at=scheduled_at,
        parameters=plain(values), output_path=str(out))))
    attempt = 1

    def run_once(n: int) -> ExecutionResult:
        request = ExecutionRequest(
            notebook=dep.notebook, output_path=str(out), parameters=dict(values),
            env=kernel_env(session, dep, run_id), kernel=dep.kernel, timeout=dep.timeout,
            html=dep.html)
        try:
            result = execute(request, cancel)
        except Exception as exc:  # noqa: BLE001 - e.g. the Dask scheduler is unreachable
            result = ExecutionResult(False, str(out), 0.0,
                                     f"The notebook could not be started: {type(exc).__name__}: {exc}",
                                     None, type(exc).__name__, str(exc))
        if result.ok or result.cancelled:
            return result
        raise _FailedAttempt(result)

    def on_retry(n: int, error: BaseException, delay: float) -> None:
        nonlocal attempt
        if out.exists():  # keep every attempt's notebook
            out.replace(out.with_name(f"{run_id}.attempt{n}.ipynb"))
        session.emit(Event(EventKind.LOG, run_id, data=LogLine(
            level="warning", attempt=n, error=str(error),
            message=f"Attempt {n} failed ({error}); retrying in {delay:g} s.")))
        attempt = n + 1
        ds.set_attempt(run_id, attempt)

    clock = Clock(sleep=sleep) if sleep is not None else Clock()
    try:
        try:
            result, attempt = attempt_loop(run_once, dep.retry, on_retry=on_retry, clock=clock,
                                           cancel=cancel)
        except _FailedAttempt as failed:
            result = failed.result
        except RunCancelled:
            result = ExecutionResult(False, str(out), 0.0, "The run was cancelled between attempts.",
                                     None, "RunCancelled", "cancelled", cancelled=True)
    except BaseException as exc:
        session.emit(Event(EventKind.RUN_FINISHED, run_id, state=State.CANCELLED,
                           data=RunFinished(error=f"{type(exc).__name__}: {exc}",
                                            output_path=str(out))))
        session.store.flush()
        raise
    state = State.SUCCEEDED if result.ok else State.CANCELLED if result.cancelled else State.FAILED
    session.emit(Event(EventKind.RUN_FINISHED, run_id, state=state, data=RunFinished(
        error=result.error, output_path=result.output_path, cell_index=result.cell_index,
        exception=result.exception, message=result.message, attempt=attempt,
        duration=result.duration, timed_out=result.timed_out, html_path=result.html_path)))
    session.store.flush()
    return session.get_run(run_id)


@contextlib.contextmanager
def interrupt_cancels(cancel: threading.Event) -> Iterator[threading.Event]:
    """While inside, SIGINT (Ctrl-C, a kernel's interrupt) sets ``cancel`` instead of raising
    ``KeyboardInterrupt``, so the run stops as CANCELLED with its partial notebook; a second
    SIGINT raises as usual. Outside the main thread (no signals there) it only yields ``cancel``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return
    previous = signal.getsignal(signal.SIGINT)
    restore = previous if previous is not None else signal.default_int_handler

    def on_interrupt(signum: int, frame: Any) -> None:
        if cancel.is_set():
            signal.signal(signal.SIGINT, restore)
            raise KeyboardInterrupt
        cancel.set()

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, restore)


def failure(session: Session, run_id: str) -> dict[str, Any]:
    """The failing cell index, exception name and message of a finished deployment run."""
    for e in reversed(session.store.events(run_id)):
        if isinstance(p := e.data, RunFinished):
            return {"cell_index": p.cell_index, "exception": p.exception, "message": p.message,
                    "timed_out": p.timed_out}
    return {}


__all__ = ["EXACT", "claim_run", "execute_claimed", "failure", "interrupt_cancels", "kernel_env",
           "owner_tags", "queued_values"]
