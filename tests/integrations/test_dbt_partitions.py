"""Partitioned dbt models with real dbt-duckdb runs: each partition's window reaches dbt as vars,
the table holds exactly the windows built, and materialisations and status are per partition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nbflow as nf
from nbflow.core.states import State
from nbflow.errors import DefinitionError, PartitionError
from nbflow.integrations.dbt import dbt_project
from tests.integrations.conftest import load_orders

pytestmark = [pytest.mark.dbt]  # real dbt builds: not in the fast loop

DAILY = nf.DailyPartitions(start="2026-01-01")
K1, K2 = "2026-01-05", "2026-01-06"
# the windows are [start, end): a row at midnight belongs to the day it starts
ROWS = [(1, "FR", 10.0, "2026-01-04 23:59:59+00"), (2, "US", 5.5, "2026-01-05 00:00:00+00"),
        (3, "JP", 7.0, "2026-01-05 23:30:00+00"), (4, "FR", 2.5, "2026-01-06 00:00:00+00"),
        (5, "DE", 1.0, "2026-01-06 12:00:00+00"), (6, "US", 3.0, "2026-01-07 00:00:00+00")]


def _vars(day: str, next_day: str) -> dict[str, str]:
    return {"nbflow_partition": day, "nbflow_window_start": f"{day}T00:00:00+00:00",
            "nbflow_window_end": f"{next_day}T00:00:00+00:00"}


def _setup(session: Any, path: Path, rows: list[tuple[Any, ...]] = ROWS, **kw: Any
           ) -> tuple[Any, list[tuple[list[str], dict[str, str] | None]]]:
    @nf.asset(registry=session.registry, name="raw_orders")
    def raw_orders() -> int:
        return load_orders(path / "shop.duckdb", rows)

    project = dbt_project(path, session=session, partitions=kw.pop("partitions", DAILY), **kw)
    calls: list[tuple[list[str], dict[str, str] | None]] = []
    build = project.invoker.build

    def spy(select: Any, *a: Any, **k: Any) -> Any:
        calls.append((list(select), k.get("vars")))
        return build(select, *a, **k)

    project.invoker.build = spy
    return project, calls


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(path / "shop.duckdb"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_marked_models_are_partitioned(session: Any, partitioned_dbt_dir: Path) -> None:
    _setup(session, partitioned_dbt_dir, partitions="daily:2026-01-01")
    specs = session.registry.graph().specs
    assert specs["daily_orders"].partitions == DAILY
    assert specs["daily_revenue"].partitions == DAILY
    assert all(specs[n].partitions is None for n in
               ("stg_orders", "countries", "orders_by_country", "raw_orders"))


def test_partitioned_argument_picks_the_models(session: Any, partitioned_dbt_dir: Path) -> None:
    _setup(session, partitioned_dbt_dir, partitioned=["daily_orders", "stg_orders"])
    specs = session.registry.graph().specs
    assert {n for n, s in specs.items() if s.partitions is not None} == {"daily_orders", "stg_orders"}


def test_two_partitions_hold_exactly_their_windows(session: Any, partitioned_dbt_dir: Path) -> None:
    path = partitioned_dbt_dir
    _, calls = _setup(session, path)
    result = session.materialize("+daily_revenue", partitions=f"{K1}...{K2}")
    assert result.ok, result.errors
    steps = [f"{a}[{k}]" for a in ("daily_orders", "daily_revenue") for k in (K1, K2)]
    assert all(result.states[s] is State.SUCCEEDED for s in steps)
    # the seed builds alone with no vars; each partition is one dbt build of both models
    assert sorted(calls, key=str) == sorted([
        (["countries"], None),
        (["daily_orders", "daily_revenue"], _vars(K1, K2)),
        (["daily_orders", "daily_revenue"], _vars(K2, "2026-01-07"))], key=str)
    # exactly the rows of the two windows, each stamped with the vars dbt rendered
    assert _rows(path, "select order_id, nbflow_partition, window_start, window_end "
                       "from daily_orders order by order_id") == [
        (2, K1, f"{K1}T00:00:00+00:00", f"{K2}T00:00:00+00:00"),
        (3, K1, f"{K1}T00:00:00+00:00", f"{K2}T00:00:00+00:00"),
        (4, K2, f"{K2}T00:00:00+00:00", "2026-01-07T00:00:00+00:00"),
        (5, K2, f"{K2}T00:00:00+00:00", "2026-01-07T00:00:00+00:00")]
    assert _rows(path, "select cast(day as varchar), region, orders, revenue from daily_revenue "
                       "order by 1, 2") == [(K1, "APAC", 1, 7.0), (K1, "NA", 1, 5.5),
                                            (K2, "EU", 2, 3.5)]
    # one materialisation per (asset, partition), with the vars of its own build
    mats = {m.partition: m for m in session.materializations("daily_orders")}
    assert set(mats) == {K1, K2}
    assert mats[K1].metadata["dbt_vars"] == _vars(K1, K2)
    assert mats[K2].metadata["dbt_vars"] == _vars(K2, "2026-01-07")
    assert session.load("daily_revenue", partition=K1) is not None
    status = {s.name: s for s in session.status()}
    summary = status["daily_orders"].partitions
    assert summary is not None
    assert (summary.counts["fresh"], summary.materialized, summary.latest) == (2, 2, K2)
    assert summary.ranges()["fresh"] == f"{K1}, {K2}"
    assert status["daily_orders"].status == "missing"       # the other days are not built
    assert status["countries"].status == "fresh"

    # fresh partitions are CACHED without dbt; a forced one replaces only its window
    calls.clear()
    again = session.materialize("daily_orders", partition=K1)
    assert again.states[f"daily_orders[{K1}]"] is State.CACHED and calls == []
    forced = session.materialize("daily_orders", partition=K1, force=True)
    assert forced.ok, forced.errors
    assert calls == [(["daily_orders"], _vars(K1, K2))]
    assert _rows(path, "select order_id from daily_orders order by 1") == [(2,), (3,), (4,), (5,)]
    third = session.materialize("daily_orders", partition="2026-01-07")
    assert third.ok, third.errors
    assert _rows(path, "select order_id from daily_orders order by 1") == [(2,), (3,), (4,), (5,), (6,)]
    assert len(session.materializations("daily_orders")) == 4


def test_a_failing_partition_fails_alone(session: Any, partitioned_dbt_dir: Path) -> None:
    rows = [*ROWS, (5, "FR", 4.0, "2026-01-06 18:00:00+00")]   # a duplicate id on the 6th only
    _setup(session, partitioned_dbt_dir, rows)
    first = session.materialize("+daily_revenue", partition=K1)
    assert first.ok, first.errors
    second = session.materialize("+daily_revenue", partition=K2)
    assert second.states[f"daily_orders[{K2}]"] is State.FAILED
    assert "unique_daily_orders_order_id" in second.errors[f"daily_orders[{K2}]"]["message"]
    assert second.states[f"daily_revenue[{K2}]"] is State.SKIPPED
    summary = {s.name: s for s in session.status()}["daily_orders"].partitions
    assert summary is not None
    assert (summary.counts["fresh"], summary.counts["failed"]) == (1, 1)
    assert summary.ranges()["failed"] == K2


@pytest.mark.parametrize("key, says", [
    ("2025-12-31", "before the first key '2026-01-01'"),
    ("2026-13-01", "write it like '2026-01-01'"),
    ("last week", "write it like '2026-01-01'"),
])
def test_a_key_outside_the_definition_is_refused_before_dbt(session: Any, partitioned_dbt_dir: Path,
                                                             key: str, says: str) -> None:
    _, calls = _setup(session, partitioned_dbt_dir)
    with pytest.raises(PartitionError) as err:
        session.materialize("daily_orders", partition=key)
    message = str(err.value)
    assert f"Asset 'daily_orders'" in message and repr(key) in message and says in message
    assert calls == []
    assert session.runs() == []


@pytest.mark.parametrize("fixture, kw, says", [
    ("partitioned_dbt_dir", {"partitioned": ["nope"]},
     "partitioned= names 'nope', which is not a model"),
    ("partitioned_dbt_dir", {"partitioned": ["countries"]},
     "names dbt seed 'countries' of 'shop'; only models can be partitioned"),
    ("partitioned_dbt_dir", {"partitions": None},
     "dbt model 'daily_orders' of 'shop' is partitioned (meta nbflow.partitioned or "
     "partitioned=), but dbt_project() got no partitions definition; pass partitions="),
    ("dbt_dir", {}, "partitions no model; mark models with config meta: {nbflow: {partitioned: true}}"),
    ("dbt_dir", {"partitions": 7}, "partitions=7 of dbt_project is not a partitions definition"),
])
def test_bad_partitioning_is_explained(session: Any, request: pytest.FixtureRequest, fixture: str,
                                       kw: dict[str, Any], says: str) -> None:
    path = request.getfixturevalue(fixture)
    with pytest.raises(DefinitionError) as err:
        dbt_project(path, session=session, **{"partitions": DAILY, **kw})
    assert says in str(err.value)
