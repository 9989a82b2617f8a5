"""Define, list and trigger deployments: ``deploy()`` validates everything before storing.

A deployment is a notebook plus default parameters, a schedule and run policies; it is stored
by name in the run store (deploying an existing name updates it).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbflow.core.states import State
from nbflow.deploy.parameters import (
    from_json,
    read_parameters,
    to_json,
    validate_parameters,
)
from nbflow.deploy.schedule import CATCHUP, Schedule, make_schedule
from nbflow.errors import DeploymentError, NbflowError, ParameterError, ScheduleError

if TYPE_CHECKING:
    from nbflow.core.records import RunRecord
    from nbflow.session import Session
    from nbflow.store.deployments import DeploymentRow, DeploymentStore

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DASK = re.compile(r"^dask://[^\s/:]+:\d{1,5}$")


@dataclass(frozen=True)
class Deployment:
    """A notebook with default parameters, a schedule and run policies."""

    name: str
    notebook: str
    schedule: Schedule = field(default_factory=Schedule)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    catchup: str = "latest"
    max_concurrency: int | None = None
    retries: int = 0
    retry_delay: float = 10.0
    timeout: float | None = None
    kernel: str | None = None
    executor: str = "local"
    html: bool = False
    paused: bool = False

    def to_spec(self) -> dict[str, Any]:
        """The JSON stored in the ``deployments.spec`` column."""
        return {
            "schedule": self.schedule.to_dict(), "parameters": to_json(dict(self.parameters)),
            "catchup": self.catchup, "max_concurrency": self.max_concurrency,
            "retries": self.retries, "retry_delay": self.retry_delay, "timeout": self.timeout,
            "kernel": self.kernel, "executor": self.executor, "html": self.html,
        }

    @classmethod
    def from_row(cls, row: DeploymentRow) -> Deployment:
        spec = dict(row.spec)
        sched = spec.get("schedule") or {}
        return cls(
            name=row.name, notebook=row.notebook,
            schedule=Schedule(cron=sched.get("cron"), every=sched.get("every"),
                              tz=sched.get("tz") or "UTC"),
            parameters=from_json(spec.get("parameters") or "{}"),
            catchup=spec.get("catchup", "latest"), max_concurrency=spec.get("max_concurrency"),
            retries=int(spec.get("retries") or 0), retry_delay=float(spec.get("retry_delay") or 0),
            timeout=spec.get("timeout"), kernel=spec.get("kernel"),
            executor=spec.get("executor") or "local", html=bool(spec.get("html")),
            paused=row.paused,
        )

    def next_run(self, now: dt.datetime | None = None) -> dt.datetime | None:
        """The next fire time in the deployment's own zone (None: manual or paused)."""
        if self.paused:
            return None
        now = now or dt.datetime.now(dt.UTC)
        t = self.schedule.next_after(now)
        if t is None:
            return None
        from nbflow.deploy.schedule import load_zone

        return t.astimezone(load_zone(self.schedule.tz))


def plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as plain JSON for the run record (dates as ISO text)."""
    import json

    def default(o: Any) -> Any:
        if isinstance(o, (dt.date, dt.datetime)):
            return o.isoformat()
        return str(o)

    return json.loads(json.dumps(dict(values), default=default))


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise DeploymentError(
            f"Deployment name {name!r} is not valid; use letters, digits, '.', '_' or '-' "
            "(it names a folder under NBFLOW_HOME/runs), e.g. daily-report."
        )
    return name


def check_executor(executor: str | None) -> str:
    executor = executor or "local"
    if executor != "local" and not _DASK.match(executor):
        raise DeploymentError(
            f"Executor {executor!r} is not valid for a deployment; use 'local' or "
            "'dask://HOST:PORT' (the address of a Dask scheduler)."
        )
    return executor


def check_kernel(kernel: str | None) -> None:
    if kernel is None:
        return
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        raise DeploymentError(
            f"Kernel {kernel!r} is not installed; installed kernels: {known}. "
            "Install it (python -m ipykernel install --user --name NAME) or pick another."
        ) from None


def _positive(name: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
        or (value == 0 and not allow_zero)
    if bad:
        need = "zero or more" if allow_zero else "greater than zero"
        raise DeploymentError(f"Deployment setting {name} must be a number {need}, got {value!r}.")


def build(
    notebook: str | Path,
    *,
    name: str | None = None,
    cron: str | None = None,
    every: str | float | None = None,
    tz: str | None = None,
    manual: bool = False,
    parameters: Mapping[str, Any] | None = None,
    catchup: str = "latest",
    max_concurrency: int | None = None,
    retries: int = 0,
    retry_delay: float = 10.0,
    timeout: float | None = None,
    kernel: str | None = None,
    executor: str | None = "local",
    html: bool = False,
) -> Deployment:
    """A validated ``Deployment`` (nothing stored, no kernel started)."""
    path = Path(notebook).expanduser()
    if path.suffix != ".ipynb":
        raise DeploymentError(f"{notebook} is not a notebook; deploy a .ipynb file.")
    if not path.is_file():
        raise DeploymentError(f"Notebook {notebook} does not exist; check the path.")
    path = path.resolve()
    name = check_name(name if name is not None else path.stem)
    if cron is None and every is None and not manual:
        raise ScheduleError(
            f"Deployment {name!r} needs a schedule: give cron (with tz), every (e.g. 15m) "
            "or manual=True (runs only when triggered)."
        )
    schedule = make_schedule(cron=cron, every=every, tz=tz, manual=manual)
    if catchup not in CATCHUP:
        raise ScheduleError(f"Catch-up policy {catchup!r} is unknown; use none, latest or all.")
    if max_concurrency is not None and (isinstance(max_concurrency, bool)
                                        or not isinstance(max_concurrency, int)
                                        or max_concurrency < 1):
        raise DeploymentError(f"max_concurrency must be a whole number of at least 1, got {max_concurrency!r}.")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise DeploymentError(f"retries must be a whole number of zero or more, got {retries!r}.")
    _positive("retry_delay", retry_delay, allow_zero=True)
    _positive("timeout", timeout)
    executor = check_executor(executor)
    if executor == "local":
        check_kernel(kernel)
    declared = read_parameters(path)
    values = validate_parameters(declared, dict(parameters or {}), notebook=path.name)
    return Deployment(name=name, notebook=str(path), schedule=schedule, parameters=values,
                      catchup=catchup, max_concurrency=max_concurrency, retries=retries,
                      retry_delay=float(retry_delay), timeout=None if timeout is None else float(timeout),
                      kernel=kernel, executor=executor, html=html)


def _store(session: Session | None) -> tuple[Session, DeploymentStore]:
    from nbflow.session import get_session
    from nbflow.store.deployments import DeploymentStore

    s = session if session is not None else get_session()
    return s, DeploymentStore(s.store)


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


def missing(name: str, known: list[str]) -> DeploymentError:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    listing = ", ".join(known) if known else "none yet (create one with `nbflow deploy`)"
    return DeploymentError(f"There is no deployment {name!r}; deployments: {listing}.{hint}")


def list_deployments(*, session: Session | None = None) -> list[Deployment]:
    _, ds = _store(session)
    return [Deployment.from_row(r) for r in ds.all()]


def set_paused(name: str, paused: bool, *, session: Session | None = None) -> Deployment:
    _, ds = _store(session)
    if not ds.set_paused(name, paused):
        raise missing(name, ds.names())
    return get_deployment(name, session=session)


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


def trigger(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    wait: bool = True,
    session: Session | None = None,
) -> RunRecord | str:
    """Run deployment ``name`` now. With ``wait`` (default) returns the finished run record;
    otherwise starts it in a background process and returns its run id at once.

    The deployment's ``max_concurrency`` holds for triggered runs too: the run waits (queued,
    with heartbeats) for a free slot; if a scheduler takes it meanwhile, this waits for its end.

    Example: ``nbflow.deploy.trigger("daily-report", {"region": "US"})``
    """
    from nbflow.deploy.runs import claim_run, execute_claimed, owner_tags

    s, ds = _store(session)
    dep = get_deployment(name, session=s)
    values = run_values(dep, parameters)
    run_id = claim_run(s, ds, dep, time.time(), values, tick=False, trigger="manual")
    if not wait:
        start_detached(s, run_id)
        return run_id
    while not ds.take(run_id, owner=owner_tags(), limit=dep.max_concurrency):
        record = s.store.get_run(run_id)
        if record is not None and record.state is not State.PENDING:
            return _wait_for_end(s, run_id)
        ds.beat([run_id])
        time.sleep(_POLL)
    return execute_claimed(s, ds, dep, run_id, values)


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
    """Run a queued run in a background process (``python -m nbflow.deploy RUN_ID``); its pid."""
    import subprocess
    import sys

    s = session.settings
    env = {**os.environ, "NBFLOW_HOME": str(s.home), "NBFLOW_DATABASE_URL": s.url}
    log_dir = Path(s.home) / "runs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "detached.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nbflow.deploy", run_id], env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    return proc.pid


def run_queued(run_id: str, *, session: Session | None = None) -> RunRecord | None:
    """Take the queued run ``run_id`` and run it here; None when someone else took it."""
    from nbflow.deploy.runs import execute_claimed, owner_tags

    s, ds = _store(session)
    record = s.store.get_run(run_id)
    if record is None or record.deployment is None:
        raise DeploymentError(f"There is no deployment run {run_id!r}.")
    dep = get_deployment(record.deployment, session=s)
    if not ds.take(run_id, owner=owner_tags(), limit=dep.max_concurrency):
        return None
    try:
        values = run_values(dep, record.parameters)
    except NbflowError as exc:
        ds.finish_now(run_id, State.FAILED, str(exc))
        return s.get_run(run_id)
    scheduled = record.scheduled_at.timestamp() if record.scheduled_at else None
    return execute_claimed(s, ds, dep, run_id, values, scheduled_at=scheduled)


__all__ = [
    "Deployment", "build", "delete_deployment", "deploy", "get_deployment", "list_deployments",
    "plain", "run_queued", "run_values", "set_paused", "start_detached", "trigger",
]
