"""Migrations: a store made by an earlier schema upgrades when opened and keeps its data; the
migrated tables match schema.py; HEAD matches alembic's head (SQLite and PostgreSQL).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import UniqueConstraint, create_engine, inspect, select, text

from nbflow.core.events import Event, EventKind, RunStarted
from nbflow.core.states import State
from nbflow.errors import StoreError
from nbflow.store import migrate
from nbflow.store.schema import deployments, metadata, runs
from nbflow.store.sql import SqlStore


def revisions() -> list[str]:
    """Every revision, oldest first, read from the migration scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]


EARLIER = revisions()[:-1]
LATER_COLUMNS = {"failure": "0004_run_failure", "host": "0005_run_owner", "pid": "0005_run_owner"}
"""Columns of runs that a later revision added, and which one."""


def test_head_is_alembics_head() -> None:
    assert migrate.HEAD == migrate.alembic_head()
    assert revisions()[-1] == migrate.HEAD
    assert revisions()[0] == "0001_core"


@pytest.mark.parametrize("revision", EARLIER)
def test_an_older_store_is_upgraded_when_opened_and_keeps_its_data(store_url: str, home: Path,
                                                                  revision: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    engine = create_engine(store_url)
    with engine.begin() as conn:
        migrate.upgrade(conn, revision)
        assert migrate.current_revision(conn) == revision
        conn.execute(text("INSERT INTO runs (run_id, kind, name, state, created_at, started_at, "
                          "ended_at, heartbeat_at, attempt) VALUES ('old-run', 'assets', 'old', "
                          "'SUCCEEDED', 100.0, 100.0, 102.5, 102.5, 1)"))
        columns = {c["name"] for c in inspect(conn).get_columns("runs")}
        for column, added_by in LATER_COLUMNS.items():
            assert (column in columns) == (revisions().index(revision) >= revisions().index(added_by))
    engine.dispose()

    store = SqlStore(store_url)
    try:
        with store.connect() as conn:
            assert migrate.current_revision(conn) == migrate.HEAD
            assert inspect(conn).has_table("task_cache")
            assert set(LATER_COLUMNS) <= {c["name"] for c in inspect(conn).get_columns("runs")}
        run = store.get_run("old-run")
        assert run is not None and run.state is State.SUCCEEDED and run.name == "old"
        assert run.duration == pytest.approx(2.5)
        # The upgraded store takes new runs and the tables of later revisions.
        store.record(Event(EventKind.RUN_STARTED, "new-run", data=RunStarted(kind="assets")))
        store.record(Event(EventKind.RUN_FINISHED, "new-run", state=State.SUCCEEDED))
        store.flush()
        assert [r.run_id for r in store.runs()] == ["new-run", "old-run"]
        with store.begin() as conn:
            conn.execute(deployments.insert().values(name="d", notebook="n.ipynb", spec={},
                                                     created_at=time.time(), updated_at=time.time()))
    finally:
        store.close()


def test_opening_a_store_at_head_again_changes_nothing(store_url: str) -> None:
    SqlStore(store_url).close()
    store = SqlStore(store_url)
    try:
        with store.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert migrate.current_revision(conn) == migrate.HEAD
            assert conn.execute(select(runs)).all() == []
    finally:
        store.close()


def test_a_store_from_a_newer_nbflow_is_refused_in_one_line(store_url: str) -> None:
    SqlStore(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(StoreError) as info:
        SqlStore(store_url)
    message = str(info.value)
    assert "9999_future" in message and "newer nbflow" in message and "\n" not in message


def _affinity(t: Any) -> str:
    try:
        return t.python_type.__name__  # int for INTEGER/BIGINT, float, str, dict for JSON, bytes
    except NotImplementedError:
        return type(t).__name__


def _shape(conn: Any) -> dict[str, Any]:
    i = inspect(conn)
    shape = {}
    for table in sorted(set(i.get_table_names()) - {"alembic_version"}):
        shape[table] = {
            "columns": {c["name"]: (_affinity(c["type"]), bool(c["nullable"])) for c in i.get_columns(table)},
            "primary_key": sorted(i.get_pk_constraint(table)["constrained_columns"]),
            "indexes": {x["name"]: tuple(x["column_names"]) for x in i.get_indexes(table)
                        if not x.get("duplicates_constraint")},
            "unique": {u["name"]: tuple(u["column_names"]) for u in i.get_unique_constraints(table)},
        }
    return shape


def test_schema_py_matches_the_migrated_database(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = SqlStore(store_url)
    try:
        with store.connect() as conn:
            migrated = _shape(conn)
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                    metadata)
    finally:
        store.close()
    declared = {}
    for name, table in sorted(metadata.tables.items()):
        declared[name] = {
            "columns": {c.name: (_affinity(c.type), bool(c.nullable)) for c in table.columns},
            "primary_key": sorted(c.name for c in table.primary_key.columns),
            "indexes": {x.name: tuple(c.name for c in x.columns) for x in table.indexes},
            "unique": {u.name: tuple(c.name for c in u.columns) for u in table.constraints
                       if isinstance(u, UniqueConstraint)},
        }
    assert migrated == declared
    assert diff == []
