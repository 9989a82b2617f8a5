"""Tokens and roles: who may call the API. Tokens are made, listed, revoked and checked here.

A token reads ``nbf_<prefix>_<secret>``; the store keeps its prefix (to find the row) and the
sha256 of the whole token, compared in constant time. Roles are ordered, each allowing what the
one before it does: ``viewer`` reads; ``operator`` also materialises, triggers and cancels;
``editor`` also creates and changes deployments, limits and caches; ``admin`` also manages tokens.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from nbflow.errors import NbflowError, NotFoundError, ParameterError
from nbflow.session.audit import audited

if TYPE_CHECKING:
    from nbflow.session.session import Session

ROLES = ("viewer", "operator", "editor", "admin")
"""From least to most allowed."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token speaks for."""

    name: str
    role: str
    label: str | None = None
    """Who acts when no token is asked (``--no-auth``): ``server:USER``."""

    @property
    def actor(self) -> str:
        return self.label or f"token:{self.name}"

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class TokenView(TypedDict):
    name: str
    role: str
    prefix: str
    created_at: str | None
    expires_at: str | None
    last_used_at: str | None


def _session(session: Session | None) -> Session:
    from nbflow.session.session import get_session

    return session if session is not None else get_session()


def _tables(session: Session | None) -> Any:
    s = _session(session)
    tables = getattr(s.store, "tokens", None)
    if tables is None:
        raise NbflowError(f"The run store at {s.settings.url} keeps no tokens; use a SQLite or "
                          "PostgreSQL store (NBFLOW_DATABASE_URL) for the server.")
    return tables


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ParameterError(f"Role {role!r} is not one of {', '.join(ROLES)}; pick one, e.g. "
                             "--role viewer.", parameter="role")
    return role


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@audited("token.create", target="name")
def create_token(name: str, role: str, expires: float | str | None = None, *,
                 session: Session | None = None) -> str:
    """Make a token ``name`` with ``role``, valid for ``expires`` ("30d") or for ever; returns
    the token, which is shown only this once (the store keeps its hash)."""
    from nbflow.core.durations import parse_optional_duration

    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(f"Token name {name!r} must be 1-64 letters, digits, '.', '_' or '-' "
                             "starting with a letter or digit, e.g. ci.", parameter="name")
    check_role(role)
    seconds = parse_optional_duration(expires, what="--expires", minimum=0,
                                      allow_minimum=False, error=ParameterError)
    prefix = secrets.token_hex(4)
    token = f"nbf_{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = None if seconds is None else time.time() + seconds
    if not _tables(session).add(name, role, prefix, digest(token), expires_at):
        raise ParameterError(f"A token named {name!r} exists already; revoke it first "
                             f"(nbflow token revoke {name}) or pick another name.",
                             parameter="name")
    return token


def list_tokens(*, session: Session | None = None) -> list[TokenView]:
    """Every token by name (never the token itself)."""
    from nbflow.session.views import iso

    return [{"name": t.name, "role": t.role, "prefix": t.prefix, "created_at": iso(t.created_at),
             "expires_at": iso(t.expires_at), "last_used_at": iso(t.last_used_at)}
            for t in _tables(session).all()]


@audited("token.revoke", target="name")
def revoke_token(name: str, *, session: Session | None = None) -> None:
    """Delete token ``name``: it stops working at once."""
    tables = _tables(session)
    if not tables.remove(name):
        known = [t.name for t in tables.all()]
        raise NotFoundError(f"There is no token {name!r}; tokens: "
                            f"{', '.join(known) or 'none yet (nbflow token create)'}.",
                            kind="token", name=name)


def count_tokens(*, session: Session | None = None) -> int:
    return int(_tables(session).count())


def authenticate(token: str, *, session: Session | None = None) -> Principal | None:
    """The principal of a valid, unexpired ``token``; ``None`` for anything else."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "nbf" or not parts[1]:
        return None
    tables = _tables(session)
    row = tables.match(parts[1], digest(token))
    now = time.time()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at > 60:  # at most one write a minute
        tables.touch(row.name, now)
    return Principal(name=row.name, role=row.role)


__all__ = ["ROLES", "Principal", "TokenView", "authenticate", "check_role", "count_tokens",
           "create_token", "digest", "list_tokens", "revoke_token"]
