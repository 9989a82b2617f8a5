"""dbt fixtures: a copy of the example dbt project, a session on an isolated home, raw data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("DBT_VERSION_CHECK", "False")

EXAMPLE = Path(__file__).resolve().parents[2] / "notebooks" / "dbt"
PARTITIONED = Path(__file__).resolve().parent / "partitioned_models"
ORDERS = [(1, "FR", 10.0, "2026-01-01"), (2, "US", 5.5, "2026-01-02"),
          (3, "JP", 7.0, "2026-01-03"), (4, "FR", 2.5, "2026-01-04")]

pytest.importorskip("dbt.cli.main", reason="install nbflow-kit[dbt]")


@pytest.fixture
def dbt_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project copied to a temporary folder, its DuckDB file beside it."""
    target = tmp_path / "shop"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"))
    monkeypatch.setenv("SHOP_DUCKDB", str(target / "shop.duckdb"))
    return target


@pytest.fixture
def partitioned_dbt_dir(dbt_dir: Path) -> Path:
    """The example project plus two daily models (``partitioned_models/``) that read their
    window from dbt vars: ``daily_orders`` and ``daily_revenue`` (incremental, delete+insert)."""
    shutil.copytree(PARTITIONED, dbt_dir / "models", dirs_exist_ok=True)
    return dbt_dir


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Any]:
    import nbflow as nf

    settings = nf.Settings.resolve(home=str(tmp_path / "home"))
    s = nf.Session(settings=settings, registry=nf.Registry())
    yield s
    s.close()


def load_orders(path: Path, rows: list[tuple[Any, ...]]) -> int:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("create or replace table raw_orders (id integer, country varchar, "
                "amount double, ordered_at varchar)")
    con.executemany("insert into raw_orders values (?, ?, ?, ?)", rows)
    con.close()
    return len(rows)


@pytest.fixture
def raw_orders_asset(dbt_dir: Path) -> Callable[..., Any]:
    """Define the nbflow asset that loads the dbt source ``raw_orders``."""
    def define(session: Any, rows: list[tuple[Any, ...]] = ORDERS) -> Any:
        import nbflow as nf

        @nf.asset(registry=session.registry, name="raw_orders")
        def raw_orders() -> int:
            return load_orders(dbt_dir / "shop.duckdb", rows)

        return raw_orders

    return define
