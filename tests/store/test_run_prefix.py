"""Run-id prefixes (``nbflow run show 3f2a``) on SQLite and PostgreSQL: LIKE wildcards are literal."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from nbflow.core.registry import Registry
from nbflow.errors import NotFoundError
from nbflow.session import Session
from nbflow.settings import Settings
from nbflow.store.sql import SqlStore
from tests.store.test_store import finished, record, started

T0 = time.time() - 60.0
RUN_IDS = ["abc1", "abc2", "a_c9", "50%off", "x\\y", "zzz"]


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = SqlStore(store_url, heartbeat_interval=60.0, heartbeat_timeout=30.0)
    for i, run_id in enumerate(RUN_IDS):
        record(s, started(run_id, T0 + i), finished(run_id, T0 + i + 0.5))
    yield s
    s.close()


PREFIX_CASES = [
    # (prefix, the run ids it finds)
    ("abc", ["abc1", "abc2"]),
    ("abc2", ["abc2"]),
    ("a", ["abc1", "abc2", "a_c9"]),
    ("a_", ["a_c9"]),  # '_' is a literal underscore, not "any one character"
    ("_", []),
    ("%", []),  # '%' is a literal percent sign, not "anything"
    ("50%", ["50%off"]),
    ("5%", []),
    ("x\\", ["x\\y"]),  # the escape character itself is literal too
    ("\\", []),
    ("q", []),
]


@pytest.mark.parametrize(("prefix", "expected"), PREFIX_CASES, ids=[c[0] for c in PREFIX_CASES])
def test_find_run_ids_treats_wildcards_literally(store: SqlStore, prefix: str, expected: list[str]) -> None:
    assert sorted(store.find_run_ids(prefix)) == sorted(expected)


@pytest.mark.parametrize("prefix", ["%", "_", "__", "%%"])
def test_run_show_with_a_wildcard_finds_no_run(store: SqlStore, store_url: str, home: object,
                                               prefix: str) -> None:
    session = Session(Settings.resolve(home=home, database_url=store_url), Registry())
    try:
        with pytest.raises(NotFoundError, match="list runs with `nbflow runs`"):
            session.get_run(prefix)
        assert session.get_run("a_").run_id == "a_c9"
    finally:
        session.close()
