"""The deployment verbs: define (``deploy``), read, pause, delete and ``trigger`` deployments.

A deployment is stored by name in the run store (deploying an existing name updates it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbflow.core.states import State
from nbflow.deployments.definition import Deployment, build
from nbflow.deployments.parameters import read_parameters, validate_parameters
from nbflow.errors import DeploymentError, NbflowError, ParameterError, UnknownDeploymentError
from nbflow.session.audit import audited

if TYPE_CHECKING:
    from nbflow.core.records import RunRecord
    from nbflow.session import Session
    from nbflow.store.deployments import DeploymentStore


def _store(session: Session | None) -> tuple[Session, DeploymentStore]:
    from nbflow.session import get_session

    s = session if session is not None else get_session()
    return s, s.store.deployments


@audited("deploy", target="notebook")
def deploy(notebook: str | Path, *, session: Session | None = None, **options: Any) -> Deployment:
    """Define or update a deployment of ``notebook``; returns it.

    Options: ``name`` (default: the notebook's stem), one of ``cron`` (+ ``tz``), ``every``
    ("15m") or ``manual=True``; ``parameters`` (validated against the notebook's
    ``parameters`` cell), ``catchup`` ("none", "latest", "all"), ``max_concurrency``,
    ``retries``, ``retry_delay``, ``timeout`` (seconds), ``kernel``, ``executor``
    ("local" or "dask://HOST:PORT") and ``html``.

    Example: ``nbflow.deploy("report.ipynb", name="daily-report", cron="0 6 * * *",
    tz="Europe/Paris", parameters={"region": "EU"})``
    """
    dep = build(notebook, **options)
    _, ds = _store(session)
    old = ds.get(dep.name)
    reset = old is not None and (old.spec.get("schedule") != dep.schedule.to_dict())
    ds.save(dep.name, dep.notebook, dep.to_spec(), reset_cursor=reset)
    return replace(dep, paused=bool(old and old.paused))


def get_deployment(name: str, *, session: Session | None = None) -> Deployment:
    """The stored deployment ``name``; a clear error listing the known ones otherwise."""
    _, ds = _store(session)
    row = ds.get(name)
    if row is None:
        raise missing(name, ds.names())
    return Deployment.from_row(row)


def missing(name: str, known: list[str]) -> UnknownDeploymentError:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    listing = ", ".join(known) if known else "none yet (create one with `nbflow deploy`)"
    return UnknownDeploymentError(f"There is no deployment {name!r}; deployments: {listing}.{hint}",
                                  name=name, suggestion=close[0] if close else None)


def list_deployments(*, session: Session | None = None) -> list[Deployment]:
    _, ds = _store(session)
    return [Deployment.from_row(r) for r in ds.all()]


@audited("deployment.set_paused", target="name")
def set_paused(name: str, paused: bool, *, session: Session | None = None) -> Deployment:
    _, ds = _store(session)
    if not ds.set_paused(name, paused):
        raise missing(name, ds.names())
    return get_deployment(name, session=session)


@audited("deployment.delete", target="name")
def delete_deployment(name: str, *, session: Session | None = None) -> None:
    _, ds = _store(session)
    if not ds.delete(name):
        raise missing(name, ds.names())


def run_values(dep: Deployment, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of the deployment plus ``overrides``, checked against the notebook as it is now."""
    try:
        declared = read_parameters(dep.notebook)
    except ParameterError as exc:
        raise DeploymentError(f"Deployment {dep.name!r} cannot run: {exc}") from None
    merged = {**dict(dep.parameters), **dict(overrides or {})}
    return validate_parameters(declared, merged, notebook=Path(dep.notebook).name)


@audited("trigger", target="name", result_run_id=True)
def trigger(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    wait: bool = True,
    *,
    session: Session | None = None,
) -> RunRecord | str:
    """Run deployment ``name`` now. With ``wait`` (default) returns the finished run record;
    otherwise starts it in a background process and returns its run id at once.

    ``parameters`` override the deployment's defaults for this run; a value for a parameter
    with no type arrives exactly as given, typed ones are converted and checked.

    The deployment's ``max_concurrency`` holds for triggered runs too: the run waits (queued,
    with heartbeats) for a free slot; if a scheduler takes it meanwhile, this waits for its end.

    While it waits, Ctrl-C (SIGINT) cancels the run: the kernel is shut down, the partial
    notebook kept, and the run ends CANCELLED.

    Example: ``nbflow.trigger("daily-report", {"region": "US"})``
    """
    import threading

    from nbflow.deployments.runs import claim_run, execute_claimed, interrupt_cancels, owner_tags

    s, ds = _store(session)
    dep = get_deployment(name, session=s)
    values = run_values(dep, parameters)
    run_id = claim_run(s, ds, dep, time.time(), values, tick=False, trigger="manual")
    if not wait:
        start_detached(s, run_id)
        return run_id
    with interrupt_cancels(threading.Event()) as cancel:
        while not ds.take(run_id, owner=owner_tags(), limit=dep.max_concurrency):
            record = s.store.get_run(run_id)
            if record is not None and record.state is not State.PENDING:
                return _wait_for_end(s, run_id)
            if cancel.is_set():
                ds.finish_now(run_id, State.CANCELLED, "The run was cancelled before it started.")
                return s.get_run(run_id)
            ds.beat([run_id])
            cancel.wait(_POLL)
        return execute_claimed(s, ds, dep, run_id, values, cancel=cancel)


_POLL = 0.5


def _wait_for_end(session: Session, run_id: str) -> RunRecord:
    """The record of a run someone else is executing, once it has ended."""
    from nbflow.core.states import TERMINAL

    while True:
        record = session.store.get_run(run_id)
        if record is not None and record.state in TERMINAL:
            return record
        time.sleep(_POLL)


def start_detached(session: Session, run_id: str) -> int:
    """Run a queued run in a background process (``python -m nbflow.deployments RUN_ID``); its pid."""
    import subprocess
    import sys

    s = session.settings
    env = {**os.environ, "NBFLOW_HOME": str(s.home), "NBFLOW_DATABASE_URL": s.url}
    log_dir = Path(s.home) / "runs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "detached.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nbflow.deployments", run_id], env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    return proc.pid


def run_queued(run_id: str, *, session: Session | None = None) -> RunRecord | None:
    """Take the queued run ``run_id`` and run it here; None when someone else took it."""
    from nbflow.deployments.runs import execute_claimed, owner_tags, queued_values

    s, ds = _store(session)
    record = s.store.get_run(run_id)
    if record is None or record.deployment is None:
        raise DeploymentError(f"There is no deployment run {run_id!r}.")
    dep = get_deployment(record.deployment, session=s)
    if not ds.take(run_id, owner=owner_tags(), limit=dep.max_concurrency):
        return None
    try:
        values = run_values(dep, queued_values(record.parameters, record.tags))
    except NbflowError as exc:
        ds.finish_now(run_id, State.FAILED, str(exc))
        return s.get_run(run_id)
    scheduled = record.scheduled_at.timestamp() if record.scheduled_at else None
    return execute_claimed(s, ds, dep, run_id, values, scheduled_at=scheduled)


__all__ = [
    "delete_deployment", "deploy", "get_deployment", "list_deployments", "run_queued",
    "run_values", "set_paused", "start_detached", "trigger",
]
