"""The audit log's one rule: every mutating verb records who, what, target, parameters, outcome.

Mutating verbs are wrapped with ``@audited(verb, target=...)`` where they are defined (the
session, the deployments service, tasks, tokens), so the CLI, the notebook, the REST server
and any later edge all leave the same rows. Who acts is ``current_actor()``: what an edge set
with ``acting_as`` (``token:NAME`` in the server, ``cli:USER`` in the CLI), else
``notebook:USER`` inside a kernel and ``python:USER`` elsewhere. A verb called by another
audited verb is not recorded twice. Stores without an audit table (``memory://``) record nothing.
"""

from __future__ import annotations

import contextvars
import functools
import getpass
import inspect
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from nbflow.errors import NbflowError

if TYPE_CHECKING:
    from nbflow.session.session import Session

F = TypeVar("F", bound=Callable[..., Any])

_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("nbflow_actor", default=None)
_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("nbflow_audited", default=False)
_log = logging.getLogger("nbflow.audit")
_SKIP = frozenset({"self", "session", "cancel", "executor", "registry"})


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container): still say something
        return "unknown"


def current_actor() -> str:
    """Who the current verb acts for."""
    actor = _actor.get()
    if actor is not None:
        return actor
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None else None  # type: ignore[attr-defined]
    edge = "notebook" if shell is not None and hasattr(shell, "kernel") else "python"
    return f"{edge}:{_user()}"


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Verbs called inside act for ``actor`` (``token:ci``, ``cli:alice``)."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def set_actor(actor: str | None) -> None:
    """Set who acts for the rest of this context (an edge's request or command)."""
    _actor.set(actor)


def cli_actor() -> str:
    return f"cli:{_user()}"


def _session_of(arguments: dict[str, Any]) -> Session:
    from nbflow.session.session import Session, get_session

    me = arguments.get("self")
    if isinstance(me, Session):
        return me
    given = arguments.get("session")
    return given if isinstance(given, Session) else get_session()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        return ", ".join(str(v) for v in value)
    except TypeError:
        return str(value)


def record(session: Session, *, verb: str, target: str | None, parameters: dict[str, Any],
           outcome: str, error: str | None = None) -> None:
    """Append one audit row; a store that cannot take it is logged, never raised over the verb."""
    from nbflow.session.views import json_safe

    log = getattr(session.store, "audit", None)
    if log is None:
        return
    try:
        log.append(actor=current_actor(), verb=verb, target=target,
                   parameters=json_safe(parameters), outcome=outcome, error=error)
    except NbflowError as exc:
        _log.warning("Could not record %s of %s in the audit log: %s", verb, target, exc)


def audited(verb: str, *, target: str | None = None,
            result_run_id: bool = False) -> Callable[[F], F]:
    """Record each call of the decorated verb: ``target`` names the argument that is its
    target, the other arguments are its parameters (sessions, executors and cancel events
    left out); with ``result_run_id`` a ``str`` result (or a result's ``run_id``) is kept."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _inside.get():
                return fn(*args, **kwargs)
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return fn(*args, **kwargs)  # the call itself raises the right TypeError
            arguments = dict(bound.arguments)
            for name, p in signature.parameters.items():  # **options spread into parameters
                if p.kind is p.VAR_KEYWORD and name in arguments:
                    arguments.update(arguments.pop(name))
            session = _session_of(arguments)
            what = _text(arguments.get(target)) if target else None
            params = {k: v for k, v in arguments.items() if k not in _SKIP and k != target}
            mark = _inside.set(True)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                record(session, verb=verb, target=what, parameters=params, outcome="error",
                       error=f"{type(exc).__name__}: {exc}")
                raise
            finally:
                _inside.reset(mark)
            if result_run_id:
                run_id = result if isinstance(result, str) else getattr(result, "run_id", None)
                if run_id is not None:
                    params["run_id"] = run_id
            record(session, verb=verb, target=what, parameters=params, outcome="ok")
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


class AuditView(TypedDict):
    id: int
    time: str | None
    actor: str
    verb: str
    target: str | None
    parameters: dict[str, Any]
    outcome: str
    """``ok`` or ``error``."""
    error: str | None


def audit_view(session: Session, *, since: float | None = None, before: int | None = None,
               limit: int = 100) -> list[AuditView]:
    """Audit rows newest first: at or after ``since`` (epoch seconds), ids below ``before``."""
    from nbflow.session.views import iso

    log = getattr(session.store, "audit", None)
    if log is None:
        return []
    return [{"id": r.id, "time": iso(r.ts), "actor": r.actor, "verb": r.verb, "target": r.target,
             "parameters": r.parameters, "outcome": r.outcome, "error": r.error}
            for r in log.rows(since=since, before=before, limit=limit)]


__all__ = ["AuditView", "acting_as", "audit_view", "audited", "cli_actor", "current_actor",
           "record", "set_actor"]
