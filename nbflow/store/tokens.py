"""Token rows in the store: API credentials by name, each kept only as a hash of the token."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update

from nbflow.store.schema import tokens

if TYPE_CHECKING:
    from nbflow.store.sql import SqlStore


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One token as stored: never the token itself, only its public prefix and hash."""

    name: str
    role: str
    prefix: str
    created_at: float
    expires_at: float | None
    last_used_at: float | None


class TokenTables:
    """Reads and writes the tokens table of one ``SqlStore``."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def add(self, name: str, role: str, prefix: str, digest: str, expires_at: float | None) -> bool:
        """Insert a token; False when a token already has ``name``."""
        with self.store.begin() as conn:
            if conn.execute(select(tokens.c.name).where(tokens.c.name == name)).first():
                return False
            conn.execute(insert(tokens).values(name=name, role=role, prefix=prefix, hash=digest,
                                               created_at=time.time(), expires_at=expires_at))
        return True

    def all(self) -> list[TokenRow]:
        with self.store.connect() as conn:
            rows = conn.execute(select(tokens).order_by(tokens.c.name)).mappings().all()
        return [_row(r) for r in rows]

    def count(self) -> int:
        with self.store.connect() as conn:
            return len(conn.execute(select(tokens.c.name)).all())

    def remove(self, name: str) -> bool:
        with self.store.begin() as conn:
            return bool(conn.execute(delete(tokens).where(tokens.c.name == name)).rowcount)

    def match(self, prefix: str, digest: str) -> TokenRow | None:
        """The token whose prefix is ``prefix`` and whose hash equals ``digest`` (compared in
        constant time), if any; its expiry is the caller's to check."""
        with self.store.connect() as conn:
            rows = conn.execute(select(tokens).where(tokens.c.prefix == prefix)).mappings().all()
        found = None
        for r in rows:  # every candidate is compared, so timing tells nothing about which one
            if hmac.compare_digest(str(r["hash"]), digest):
                found = _row(r)
        return found

    def touch(self, name: str, at: float) -> None:
        with self.store.begin() as conn:
            conn.execute(update(tokens).where(tokens.c.name == name).values(last_used_at=at))


def _row(r: object) -> TokenRow:
    m = dict(r)  # type: ignore[call-overload]
    return TokenRow(name=m["name"], role=m["role"], prefix=m["prefix"], created_at=m["created_at"],
                    expires_at=m["expires_at"], last_used_at=m["last_used_at"])


__all__ = ["TokenRow", "TokenTables"]
