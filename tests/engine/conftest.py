"""Which store the engine tests run on: in memory where a module says so, else SQLite and PostgreSQL.

A module whose tests need nothing of SQL (its tables, another process or another session on the
same file) sets ``STORES = MEMORY``; one test can pick its own with ``@on_stores(...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import drop_pg_schema, fresh_pg_url

MEMORY = ("memory",)
SQL = ("sqlite", "postgresql")


def _params(kinds: Any) -> list[Any]:
    return [pytest.param(k, marks=pytest.mark.postgres) if k == "postgresql" else k for k in kinds]


def on_stores(*kinds: str) -> pytest.MarkDecorator:
    """Run one test on these stores instead of its module's."""
    return pytest.mark.parametrize("store_url", _params(kinds), indirect=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_url" not in metafunc.fixturenames:
        return
    if any("store_url" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize")):
        return
    metafunc.parametrize("store_url", _params(getattr(metafunc.module, "STORES", SQL)),
                         indirect=True)


@pytest.fixture
def store_url(request: pytest.FixtureRequest, home: Path) -> Iterator[str]:
    """``memory://``, a SQLite file under ``home``, or a fresh PostgreSQL schema."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{home / 'nbflow.db'}"
    else:
        url = fresh_pg_url()
        try:
            yield url
        finally:
            drop_pg_schema(url)
