"""Routes for runs: keyset pages with filters, one run with steps, children and logs, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from nbflow.server.auth import require
from nbflow.server.models import model_of
from nbflow.session.control import cancel_run
from nbflow.session.pages import MAX_PAGE, RunPage, runs_page_view
from nbflow.session.views import RunSummary, RunView, run_summary, run_view

router = APIRouter(tags=["runs"])


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@router.get("/runs", response_model=model_of(RunPage), dependencies=[Depends(require("viewer"))])
def list_runs(request: Request,
              before: str | None = Query(None, description="The 'next' cursor of the page before."),
              limit: int = Query(20, ge=1, le=MAX_PAGE),
              state: str | None = Query(None, description="e.g. FAILED"),
              kind: str | None = Query(None, description="assets, flow, task or deployment"),
              deployment: str | None = None,
              since: Annotated[datetime | None, Query(
                  description="Created at or after (ISO 8601).")] = None,
              until: Annotated[datetime | None, Query(
                  description="Created before (ISO 8601).")] = None) -> RunPage:
    """Runs, newest first, one keyset page at a time: pass ``next`` back as ``before``."""
    return runs_page_view(request.app.state.session, limit=limit, before=before, state=state,
                          kind=kind, deployment=deployment, since=_epoch(since),
                          until=_epoch(until))


@router.get("/runs/{run_id}", response_model=model_of(RunView),
            dependencies=[Depends(require("viewer"))])
def get_run(request: Request, run_id: str) -> RunView:
    """One run (a unique id prefix is enough) with its steps, child runs and logs."""
    return run_view(request.app.state.session, run_id)


@router.post("/runs/{run_id}/cancel", response_model=model_of(RunSummary),
             dependencies=[Depends(require("operator"))])
def cancel(request: Request, run_id: str) -> RunSummary:
    """Cancel a run that has not started; 409 with the reason for one that ended or runs."""
    return run_summary(cancel_run(run_id, session=request.app.state.session))
