"""The run store: open one by URL from a named registry (``memory://`` in memory, else SQL).

``register_store(scheme, factory)`` makes ``open_store("scheme://...")`` use ``factory(url,
heartbeat_interval=..., heartbeat_timeout=...)``; a URL whose scheme is not registered is a
SQLAlchemy URL for ``SqlStore``. The built-ins are registered the same way and import their
module (SQLAlchemy for the SQL store) only when a store is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nbflow.store.base import RunStore, TaskStore

if TYPE_CHECKING:
    from nbflow.store.memory import MemoryStore
    from nbflow.store.sql import SqlStore

StoreFactory = Callable[..., RunStore]
"""``factory(url, *, heartbeat_interval, heartbeat_timeout)`` -> a store."""

SQL = "sql"
"""The registry name of the store for every URL whose scheme has no store of its own."""

_STORES: dict[str, StoreFactory] = {}


def register_store(name: str, factory: StoreFactory) -> None:
    """Make ``open_store("name://...")`` build its store with ``factory`` (``"sql"``: the fallback)."""
    _STORES[name] = factory


def _sql_store(url: str, **kwargs: Any) -> RunStore:
    from nbflow.store.sql import SqlStore

    return SqlStore(url, **kwargs)


def _memory_store(url: str, **kwargs: Any) -> RunStore:
    from nbflow.store.memory import MemoryStore

    return MemoryStore(url, **kwargs)


register_store(SQL, _sql_store)
register_store("memory", _memory_store)


def open_store(url: str, **kwargs: Any) -> RunStore:
    """Open (and if needed create or upgrade) the store at ``url``.

    ``memory://`` is a new, empty in-memory store; any other URL picks the store registered for
    its scheme, else the SQL store (SQLite, PostgreSQL, any SQLAlchemy URL).
    """
    scheme = url.partition("://")[0] if "://" in url else ""
    return _STORES.get(scheme, _STORES[SQL])(url, **kwargs)


def store_names() -> list[str]:
    return sorted(_STORES)


def __getattr__(name: str) -> Any:  # the classes load their modules (and SQLAlchemy) on first use
    if name == "SqlStore":
        from nbflow.store.sql import SqlStore

        return SqlStore
    if name == "MemoryStore":
        from nbflow.store.memory import MemoryStore

        return MemoryStore
    raise AttributeError(f"module 'nbflow.store' has no attribute {name!r}")


__all__ = ["SQL", "MemoryStore", "RunStore", "SqlStore", "StoreFactory", "TaskStore", "open_store",
           "register_store", "store_names"]
