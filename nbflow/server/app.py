"""The FastAPI application: the routers under ``/api``, error handling, health, OpenAPI, docs.

Every route calls one verb or view of the session; ``create_app`` is given the session (its
store and registry) and, for ``--no-auth`` only, the principal every request acts as.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from nbflow.server import (
    errors,
    events,
    routes_admin,
    routes_assets,
    routes_deployments,
    routes_runs,
)
from nbflow.server.models import ErrorBody, Health
from nbflow.session.access import Principal
from nbflow.session.session import Session

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what} for code, what in [
        (401, "No valid token."), (403, "The token's role does not allow this."),
        (404, "Not found."), (409, "Conflicts with the current state."),
        (422, "Bad input: the body names the field and the fix."),
        (503, "The run store failed.")]
}


def create_app(session: Session, *, open_as: Principal | None = None) -> FastAPI:
    """The API over ``session``; with ``open_as`` no token is asked (``--no-auth``)."""
    from importlib.metadata import version

    app = FastAPI(title="nbflow", version=version("nbflow-kit"),
                  description="Assets, runs, deployments, tasks, tokens and audit of one nbflow "
                              "store. Authenticate with 'Authorization: Bearer <token>'.",
                  openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None)
    app.state.session = session
    app.state.open_as = open_as
    errors.install(app)

    @app.get("/api/health", response_model=Health, tags=["health"])
    def health() -> Health:
        """Always answers (no token needed) while the server is up."""
        return Health(status="ok", version=app.version)

    for module in (routes_assets, routes_runs, routes_deployments, routes_admin, events):
        app.include_router(module.router, prefix="/api", responses=_ERRORS)
    return app


__all__ = ["create_app"]
