"""Cancelling a run from another process: a queued run is closed at once, others say why not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbflow.core.states import TERMINAL, State
from nbflow.errors import ConflictError
from nbflow.session.audit import audited

if TYPE_CHECKING:
    from nbflow.core.records import RunRecord
    from nbflow.session.session import Session


@audited("run.cancel", target="run_id")
def cancel_run(run_id: str, *, session: Session | None = None) -> RunRecord:
    """Cancel run ``run_id`` (a unique prefix is enough) that has not started yet.

    A PENDING run (queued, or waiting for a concurrency slot) ends CANCELLED. A run that has
    ended, or one RUNNING in its own process, raises ``ConflictError`` with the reason: a
    running run is cancelled where it runs (Ctrl-C, or SIGTERM to its process).
    """
    from nbflow.session.session import get_session

    s = session if session is not None else get_session()
    run = s.get_run(run_id)
    if run.state in TERMINAL:
        raise ConflictError(f"Run {run.run_id} has already ended ({run.state}); there is nothing "
                            "to cancel.", reason="ended")
    if run.state is State.RUNNING:
        raise ConflictError(f"Run {run.run_id} is RUNNING in its own process, which only that "
                            "process can stop; press Ctrl-C where it runs or send SIGTERM to "
                            "it (nbflow run show shows the host).", reason="running")
    if not s.store.deployments.finish_now(run.run_id, State.CANCELLED,
                                          "The run was cancelled before it started."):
        raise ConflictError(f"Run {run.run_id} started meanwhile; it can no longer be cancelled "
                            "from here.", reason="started")
    return s.get_run(run.run_id)


__all__ = ["cancel_run"]
