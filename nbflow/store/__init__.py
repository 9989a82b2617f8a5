"""The run store: an append-only event log plus runs and materialisations, in SQL."""

from __future__ import annotations

from nbflow.store.sql import SqlStore, open_store

__all__ = ["SqlStore", "open_store"]
