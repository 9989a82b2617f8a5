"""A deployment's definition: the ``Deployment`` record and ``build()``, which validates everything.

A deployment is a notebook plus default parameters, a schedule and run policies; it is stored
by name in the run store (deploying an existing name updates it).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbflow.core.codec import dumps, loads, preview
from nbflow.core.retry import MAX_DELAY, RetryPolicy
from nbflow.core.schedules import CATCHUP, Schedule, make_schedule
from nbflow.deployments.parameters import read_parameters, validate_parameters
from nbflow.errors import DefinitionError, DeploymentError, ScheduleError

if TYPE_CHECKING:
    from nbflow.store.deployments import DeploymentRow

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
    retry: RetryPolicy = field(default_factory=lambda: deployment_retry(0, 10.0))
    timeout: float | None = None
    kernel: str | None = None
    executor: str = "local"
    html: bool = False
    paused: bool = False

    @property
    def retries(self) -> int:
        """Retries of a failed run (the policy's ``retries``)."""
        return self.retry.retries

    @property
    def retry_delay(self) -> float:
        """Seconds between attempts (the policy's ``retry_delay``)."""
        delay = self.retry.retry_delay
        return float(delay[0] if isinstance(delay, tuple) else delay)

    def to_spec(self) -> dict[str, Any]:
        """The JSON stored in the ``deployments.spec`` column."""
        return {
            "schedule": self.schedule.to_dict(), "parameters": dumps(dict(self.parameters)),
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
            parameters=loads(spec.get("parameters") or "{}"),
            catchup=spec.get("catchup", "latest"), max_concurrency=spec.get("max_concurrency"),
            retry=_stored_retry(spec),
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
        from nbflow.core.schedules import load_zone

        return t.astimezone(load_zone(self.schedule.tz))


def deployment_retry(retries: int, retry_delay: float) -> RetryPolicy:
    """The retry policy of a deployment's runs: ``retries`` more attempts, ``retry_delay`` apart.

    A deployment may wait longer than the policy's default cap (an hour) between attempts.
    """
    try:
        return RetryPolicy(retries=retries, retry_delay=retry_delay,
                           max_delay=max(MAX_DELAY, retry_delay) if _finite(retry_delay) else MAX_DELAY)
    except DefinitionError as e:
        raise DeploymentError(f"Deployment setting {e}") from None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _stored_retry(spec: Mapping[str, Any]) -> RetryPolicy:
    """The policy of a stored deployment; a value an older nbflow let through gets the default."""
    try:
        return deployment_retry(int(spec.get("retries") or 0), float(spec.get("retry_delay") or 0))
    except (DeploymentError, TypeError, ValueError):
        return deployment_retry(0, 10.0)


def plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as the run record shows them (dates as ISO text; see ``codec.preview``)."""
    return preview(dict(values), full=True)


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
    bad = not _finite(value) or value < 0 or (value == 0 and not allow_zero)
    if bad:
        need = "zero or more" if allow_zero else "greater than zero"
        raise DeploymentError(
            f"Deployment setting {name} must be a finite number {need}, got {value!r}.")


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
    retry = deployment_retry(retries, float(retry_delay))
    _positive("timeout", timeout)
    executor = check_executor(executor)
    if executor == "local":
        check_kernel(kernel)
    declared = read_parameters(path)
    values = validate_parameters(declared, dict(parameters or {}), notebook=path.name)
    return Deployment(name=name, notebook=str(path), schedule=schedule, parameters=values,
                      catchup=catchup, max_concurrency=max_concurrency, retry=retry,
                      timeout=None if timeout is None else float(timeout),
                      kernel=kernel, executor=executor, html=html)


__all__ = ["Deployment", "build", "check_executor", "check_kernel", "check_name", "deployment_retry",
           "plain"]
