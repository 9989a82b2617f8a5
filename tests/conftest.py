"""Shared fixtures: an isolated NBFLOW_HOME, stores on SQLite and PostgreSQL, fresh sessions.

Under CI=true a test that needs a real component (PostgreSQL, Chromium, dot, a kernel) fails
when the component is missing; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest

PG_URL = os.environ.get("NBFLOW_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# CLI tables are wide; without a terminal (pytest-xdist workers, CI) rich would assume 80 columns
os.environ.setdefault("COLUMNS", "200")


_HEAVY = ("kernel", "browser", "dask", "dbt")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Kernels, browsers, Dask clusters and dbt builds make a test slow: the fast loop is
    ``-n 2 -m "not slow and not postgres"`` (see the README)."""
    for item in items:
        if any(item.get_closest_marker(m) for m in _HEAVY) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


def require(component: str, available: bool, how: str) -> None:
    """Fail under CI, skip elsewhere, when a real component is missing."""
    if available:
        return
    message = f"{component} is not available: {how}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return True
    except Exception:
        return False


_pg_ok: bool | None = None


def fresh_pg_url() -> str:
    """A new, empty PostgreSQL schema for one test (dropped afterwards by the fixture)."""
    global _pg_ok
    if _pg_ok is None:
        _pg_ok = postgres_available()
    require("PostgreSQL", _pg_ok, f"start it or set NBFLOW_TEST_DATABASE_URL (tried {PG_URL})")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def drop_pg_schema(url: str) -> None:
    import psycopg

    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated NBFLOW_HOME; NBFLOW_DATABASE_URL unset so the SQLite default applies."""
    h = tmp_path / "nbflow-home"
    monkeypatch.setenv("NBFLOW_HOME", str(h))
    monkeypatch.delenv("NBFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("NBFLOW_RUN_ID", raising=False)
    return h


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, home: Path) -> Iterator[str]:
    """The same test on SQLite (a file under ``home``) and on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{home / 'nbflow.db'}"
        return
    url = fresh_pg_url()
    try:
        yield url
    finally:
        drop_pg_schema(url)


@pytest.fixture
def session(store_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator["object"]:
    """A Session with its own registry on ``store_url``, installed as the default session."""
    from nbflow.core.registry import Registry
    from nbflow.session import Session, set_session
    from nbflow.settings import Settings

    monkeypatch.setenv("NBFLOW_DATABASE_URL", store_url)
    s = Session(Settings.resolve(home=home, database_url=store_url), Registry())
    old = set_session(s)
    try:
        yield s
    finally:
        set_session(old)
        s.close()


@pytest.fixture
def memory_session(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A Session with its own registry on a new in-memory store (``memory://``), installed as
    the default session: for engine tests that need no database. Define assets with
    ``@asset(registry=memory_session.registry)``."""
    from nbflow.core.registry import Registry
    from nbflow.session import Session, set_session
    from nbflow.settings import Settings

    monkeypatch.setenv("NBFLOW_DATABASE_URL", "memory://")
    s = Session(Settings.resolve(home=home, database_url="memory://"), Registry())
    old = set_session(s)
    try:
        yield s
    finally:
        set_session(old)
        s.close()


@pytest.fixture
def registry(session: "object") -> "object":
    """The session's registry: define assets with ``@asset(registry=registry)``."""
    return session.registry  # type: ignore[attr-defined]


def dot_available() -> bool:
    return shutil.which("dot") is not None
