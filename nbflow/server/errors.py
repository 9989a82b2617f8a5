"""Errors to HTTP answers: nbflow's error classes and bad requests become 4xx JSON bodies.

NotFound -> 404; Definition, Parameter, Selection, Schedule, Deployment, Settings -> 422;
Conflict -> 409; a failed store -> 503. Anything else is a 500 with a message and no traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from nbflow.errors import (
    ConflictError,
    DefinitionError,
    DeploymentError,
    NbflowError,
    NotFoundError,
    ParameterError,
    PartitionError,
    ScheduleError,
    SelectionError,
    SettingsError,
    StoreError,
)

_log = logging.getLogger("nbflow.server")

STATUS: list[tuple[type[NbflowError], int]] = [
    (NotFoundError, 404),  # first: UnknownAssetError is a DefinitionError too
    (ConflictError, 409),
    (StoreError, 503),
    (DefinitionError, 422), (ParameterError, 422), (SelectionError, 422),
    (ScheduleError, 422), (DeploymentError, 422), (SettingsError, 422),
]


def status_of(exc: NbflowError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


def _field(exc: NbflowError) -> str | None:
    if isinstance(exc, ParameterError):
        return exc.parameter
    if isinstance(exc, SelectionError):
        return "selection"
    if isinstance(exc, PartitionError):
        return "partition"
    if isinstance(exc, NotFoundError):
        return exc.kind
    return None


def body(error: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": error, "message": message, "field": field, **extra}


async def _nbflow(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NbflowError)
    extra: dict[str, Any] = {}
    if isinstance(exc, NotFoundError):
        extra = {"kind": exc.kind, "name": exc.name, "suggestion": exc.suggestion}
    return JSONResponse(body(type(exc).__name__, str(exc), _field(exc), **extra),
                        status_code=status_of(exc))


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)] or ["body"]
    field = ".".join(loc[1:] if loc[0] in ("query", "path", "header") and len(loc) > 1 else loc)
    where = loc[0] if loc[0] in ("query", "path", "header") else "body"
    message = (f"The {where} field {field!r} is invalid: {first.get('msg', 'bad value')}; "
               "send a value that matches the schema at /api/openapi.json.")
    return JSONResponse(body("RequestValidationError", message, field), status_code=422)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.detail, dict):
        content = exc.detail
    else:
        content = body("HTTPError", f"{exc.detail}.", None)
    return JSONResponse(content, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    _log.exception("Unexpected error in the nbflow server")
    return JSONResponse(body("InternalError", f"The server failed ({type(exc).__name__}: {exc}); "
                             "see the server's log and report it."), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(NbflowError, _nbflow)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


__all__ = ["STATUS", "body", "install", "status_of"]
