"""Who calls: the bearer token is checked, its role must allow the route, the actor is set.

``require(role)`` is the one dependency every route but ``/api/health`` has: no valid token
answers 401, a role below ``role`` 403. The actor (``token:NAME``) is set for the request's
context, so the audit rows the verbs write name the token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from nbflow.errors import ParameterError
from nbflow.server.errors import body
from nbflow.session.access import ROLES, Principal, authenticate
from nbflow.session.audit import set_actor

bearer = HTTPBearer(auto_error=False, description="A token from `nbflow token create`.")

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def no_nul(request: Request) -> None:
    """Text with a NUL character cannot be stored by PostgreSQL or used as a path: refused."""
    for where, items in (("query", request.query_params.items()),
                         ("path", request.path_params.items())):
        for key, value in items:
            if "\x00" in key or "\x00" in str(value):
                raise ParameterError(f"The {where} field {key!r} holds a NUL character; send "
                                     "text without it.", parameter=key)
    if b"\\u0000" in await request.body():
        raise ParameterError("The body holds a NUL character (\\u0000); send text without it.",
                             parameter="body")


def require(role: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency of a route that needs at least ``role``."""
    assert role in ROLES

    async def check(request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Security(bearer)] = None) -> Principal:
        open_as: Principal | None = request.app.state.open_as
        if open_as is not None:  # --no-auth
            await no_nul(request)
            set_actor(open_as.actor)
            return open_as
        if credentials is None:
            raise HTTPException(401, body(
                "Unauthorized", "This endpoint needs a token: send 'Authorization: Bearer "
                "<token>' (make one with `nbflow token create --name NAME --role viewer`).",
                "Authorization"), headers=_UNAUTHORIZED)
        principal = await run_in_threadpool(authenticate, credentials.credentials,
                                            session=request.app.state.session)
        if principal is None:
            raise HTTPException(401, body(
                "Unauthorized", "The token is unknown, revoked or expired; make a new one with "
                "`nbflow token create`.", "Authorization"), headers=_UNAUTHORIZED)
        if not principal.allows(role):
            raise HTTPException(403, body(
                "Forbidden", f"Token {principal.name!r} has role {principal.role!r}, but this "
                f"needs {role!r} or above; use a token with that role.", "Authorization"))
        await no_nul(request)
        set_actor(principal.actor)
        return principal

    return check


__all__ = ["bearer", "no_nul", "require"]
