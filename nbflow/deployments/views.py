"""Read models of deployments: the list (schedule in words, next run, last run) and one's detail.

Plain JSON-ready TypedDicts like ``nbflow.session.views``; they live here because the next fire
time needs the schedule arithmetic of this package. Times are ISO 8601 text: ``next_run`` in
the deployment's own zone (``tz`` names it), the others in UTC.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypedDict

from nbflow.core.codec import dumps
from nbflow.deployments.definition import Deployment
from nbflow.deployments.service import get_deployment, list_deployments
from nbflow.session.views import RunSummary, iso, run_summary

if TYPE_CHECKING:
    from nbflow.session import Session


class LastRunView(TypedDict):
    run_id: str
    state: str
    ended_at: str | None


class DeploymentSummary(TypedDict):
    name: str
    notebook: str
    schedule: str
    """In words, e.g. ``daily at 06:00 (Europe/Paris)``."""
    tz: str
    paused: bool
    next_run: str | None
    last_run: LastRunView | None


class TickView(TypedDict):
    scheduled_at: str | None
    state: str
    """``CLAIMED`` (a run was started for it) or ``SKIPPED`` (by the catch-up policy)."""
    run_id: str | None


class DeploymentView(DeploymentSummary):
    catchup: str
    max_concurrency: int | None
    retries: int
    retry_delay: float
    timeout: float | None
    kernel: str | None
    executor: str
    html: bool
    parameters: dict[str, Any]
    """Default parameter values in the codec's exact JSON (dates tagged): read them back with
    ``nbflow.core.codec.loads(json.dumps(...))``."""
    runs: list[RunSummary]
    """Its recent runs, newest first."""
    ticks: list[TickView]
    """Its recent schedule ticks, newest first."""


def _session(session: Session | None) -> Session:
    from nbflow.session import get_session

    return session if session is not None else get_session()


def _summary(d: Deployment, last: tuple[str, float | None, str] | None) -> DeploymentSummary:
    nxt = d.next_run()
    return {
        "name": d.name, "notebook": d.notebook,
        "schedule": d.schedule.describe(), "tz": d.schedule.tz, "paused": d.paused,
        "next_run": None if nxt is None else nxt.isoformat(),
        "last_run": None if last is None else {"state": last[0], "ended_at": iso(last[1]),
                                               "run_id": last[2]},
    }


def deployments_view(session: Session | None = None) -> list[DeploymentSummary]:
    """Every deployment by name, with its schedule in words, next run and newest run."""
    s = _session(session)
    deps = list_deployments(session=s)
    last = s.store.deployments.last_runs() if deps else {}
    return [_summary(d, last.get(d.name)) for d in deps]


def deployment_view(name: str, session: Session | None = None, *, limit: int = 10) -> DeploymentView:
    """One deployment's settings, parameters, recent runs and ticks.

    Raises ``UnknownDeploymentError`` (a ``NotFoundError``) when no deployment has that name.
    """
    s = _session(session)
    d = get_deployment(name, session=s)
    ds = s.store.deployments
    view: DeploymentView = {
        **_summary(d, ds.last_runs().get(d.name)),  # type: ignore[typeddict-item]
        "catchup": d.catchup, "max_concurrency": d.max_concurrency, "retries": d.retries,
        "retry_delay": d.retry_delay, "timeout": d.timeout, "kernel": d.kernel,
        "executor": d.executor, "html": d.html,
        "parameters": json.loads(dumps(dict(d.parameters))),
        "runs": [run_summary(r) for r in s.runs(limit=limit, deployment=d.name)],
        "ticks": [{"scheduled_at": iso(at), "state": state, "run_id": run_id}
                  for at, state, run_id in ds.recent_ticks(d.name, limit)],
    }
    return view


__all__ = ["DeploymentSummary", "DeploymentView", "LastRunView", "TickView", "deployment_view",
           "deployments_view"]
