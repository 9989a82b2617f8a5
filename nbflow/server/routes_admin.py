"""Routes for caches, limits, tokens and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from nbflow.server.auth import require
from nbflow.server.models import Count, LimitIn, TokenCreated, TokenIn, model_of
from nbflow.session.access import TokenView, create_token, list_tokens, revoke_token
from nbflow.session.audit import AuditView, audit_view
from nbflow.session.tasks import clear_cache, reset_limit
from nbflow.session.tasks import limit as set_limit
from nbflow.session.views import CacheView, LimitView, caches_view, limits_view

router = APIRouter()


@router.get("/caches", response_model=list[model_of(CacheView)], tags=["tasks"],  # type: ignore[misc]
            dependencies=[Depends(require("viewer"))])
def caches(request: Request) -> list[CacheView]:
    """Every task with cached results: how many and the newest."""
    return caches_view(request.app.state.session)


@router.delete("/caches", response_model=Count, tags=["tasks"],
               dependencies=[Depends(require("editor"))])
def clear(request: Request, task: str | None = Query(None, description="Only this task's.")
          ) -> Count:
    """Forget cached results (of one task, or of all); how many."""
    return Count(count=clear_cache(task))


@router.get("/limits", response_model=list[model_of(LimitView)], tags=["tasks"],  # type: ignore[misc]
            dependencies=[Depends(require("viewer"))])
def limits(request: Request) -> list[LimitView]:
    """Every concurrency limit and the slots in use."""
    return limits_view(request.app.state.session)


@router.put("/limits/{tag}", response_model=list[model_of(LimitView)], tags=["tasks"],  # type: ignore[misc]
            dependencies=[Depends(require("editor"))])
def put_limit(request: Request, tag: str, body: LimitIn) -> list[LimitView]:
    """Let at most ``slots`` tasks tagged ``tag`` run at once (null removes the limit)."""
    set_limit(tag, body.slots)
    return limits_view(request.app.state.session)


@router.post("/limits/{tag}/reset", response_model=Count, tags=["tasks"],
             dependencies=[Depends(require("editor"))])
def reset(request: Request, tag: str) -> Count:
    """Free every slot of ``tag``; how many."""
    return Count(count=reset_limit(tag))


@router.get("/tokens", response_model=list[model_of(TokenView)], tags=["access"],  # type: ignore[misc]
            dependencies=[Depends(require("admin"))])
def tokens(request: Request) -> list[TokenView]:
    """Every token (names, roles, times; never a token itself)."""
    return list_tokens(session=request.app.state.session)


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["access"],
             dependencies=[Depends(require("admin"))])
def new_token(request: Request, body: TokenIn) -> TokenCreated:
    """Make a token; it is in this answer only."""
    token = create_token(body.name, body.role, body.expires, session=request.app.state.session)
    return TokenCreated(name=body.name, role=body.role, token=token)


@router.delete("/tokens/{name}", status_code=204, response_class=Response, tags=["access"],
               dependencies=[Depends(require("admin"))])
def revoke(request: Request, name: str) -> Response:
    """Revoke token ``name`` at once."""
    revoke_token(name, session=request.app.state.session)
    return Response(status_code=204)


@router.get("/audit", response_model=list[model_of(AuditView)], tags=["access"],  # type: ignore[misc]
            dependencies=[Depends(require("viewer"))])
def audit(request: Request,
          since: Annotated[datetime | None, Query(description="Rows at or after (ISO 8601).")] = None,
          before: int | None = Query(None, description="Rows with an id below this one."),
          limit: int = Query(100, ge=1, le=1000)) -> list[AuditView]:
    """The audit log, newest first: every mutation by any edge."""
    ts = None if since is None else (since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp()
    return audit_view(request.app.state.session, since=ts, before=before, limit=limit)
