"""dbt models as assets, with real dbt-duckdb runs: lineage, batches, failures, checks, staleness, locks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import nbflow as nf
from nbflow.core.states import State
from nbflow.integrations.dbt import Relation, dbt_project
from tests.integrations.conftest import ORDERS

pytestmark = [pytest.mark.dbt]  # real dbt builds: not in the fast loop

DBT = ["countries", "stg_orders", "orders_by_country", "revenue_by_region"]


def _project(session: Any, dbt_dir: Path, raw: Any, **kw: Any) -> Any:
    raw(session)
    project = dbt_project(dbt_dir, session=session, **kw)

    @nf.asset(registry=session.registry)
    def report(revenue_by_region: Any) -> Any:
        return revenue_by_region.sort_values("region").reset_index(drop=True)

    return project


def test_registers_nodes_sources_and_tests(session: Any, dbt_dir: Path, raw_orders_asset: Any) -> None:
    _project(session, dbt_dir, raw_orders_asset)
    graph = session.registry.graph()
    assert set(DBT) | {"raw_orders", "report"} == set(graph.specs)
    assert graph.specs["raw_orders"].kind == "function"      # the nbflow asset is the dbt source
    assert graph.upstream["stg_orders"] == ("raw_orders",)
    assert set(graph.upstream["orders_by_country"]) == {"stg_orders", "countries"}
    assert graph.upstream["report"] == ("revenue_by_region",)
    stg = graph.specs["stg_orders"]
    assert (stg.kind, stg.group, dict(stg.tags), stg.metadata["owner"]) == (
        "dbt", "staging", {"staging": ""}, "team:data")
    assert stg.description == "Orders with clean names and types."
    assert graph.specs["orders_by_country"].group == "marts"
    assert {(c.name, c.severity) for c in stg.checks} == {
        ("unique_stg_orders_order_id", "error"), ("not_null_stg_orders_order_id", "error"),
        ("not_null_stg_orders_amount", "warn")}
    assert {c.name for c in graph.specs["revenue_by_region"].checks} == {
        "accepted_values_revenue_by_region_region__EU__NA__APAC", "revenue_positive"}


def test_source_without_nbflow_asset_is_external(session: Any, dbt_dir: Path) -> None:
    dbt_project(dbt_dir, session=session)
    spec = session.registry.graph().specs["raw_orders"]
    assert spec.kind == "dbt_source"
    result = session.materialize("raw_orders")
    assert result.states["raw_orders"] is State.FAILED
    assert "load it first, or define an nbflow asset named 'raw_orders'" in result.errors["raw_orders"]["message"]


def test_one_graph_one_dbt_build_and_values(session: Any, dbt_dir: Path, raw_orders_asset: Any) -> None:
    project = _project(session, dbt_dir, raw_orders_asset)
    calls: list[list[str]] = []
    build = project.invoker.build
    project.invoker.build = lambda select, *a: calls.append(list(select)) or build(select, *a)
    result = session.materialize("*")
    assert result.ok, result.errors
    assert all(result.states[n] is State.SUCCEEDED for n in [*DBT, "raw_orders", "report"])
    # the seed has no upstream and starts before the notebook cell; the dbt chain after the
    # cell shares one build
    assert calls == [["countries"], ["stg_orders", "orders_by_country", "revenue_by_region"]]
    report = result["report"]
    assert list(report["region"]) == ["APAC", "EU", "NA"]
    assert list(report["revenue"]) == [7.0, 12.5, 5.5]
    run = session.get_run(result.run_id)
    assert {s.name for s in run.steps} == {*DBT, "raw_orders", "report"}
    mat = session.materializations("countries")[0]
    assert mat.metadata["rows_affected"] == 4 and mat.metadata["rows"] == 4
    assert mat.metadata["dbt_status"] == "success"
    loaded = session.load("orders_by_country")
    assert sorted(loaded["country_code"]) == ["FR", "JP", "US"]


def test_relation_values_when_asked(session: Any, dbt_dir: Path, raw_orders_asset: Any) -> None:
    raw_orders_asset(session)
    dbt_project(dbt_dir, session=session, values="relation")

    @nf.asset(registry=session.registry)
    def names(revenue_by_region: Any) -> str:
        return str(revenue_by_region)

    result = session.materialize("*")
    assert result.ok, result.errors
    assert result["names"] == '"main"."revenue_by_region"'
    assert isinstance(session.load("revenue_by_region"), Relation)


@pytest.mark.parametrize("rows, failed, skipped, warned", [
    # a duplicate order id: the error-severity unique test fails stg_orders, downstream skips
    ([*ORDERS, (1, "DE", 3.0, "2026-01-05")], "stg_orders",
     {"orders_by_country", "revenue_by_region", "report"}, False),
])
def test_failing_test_blocks_downstream_in_both_worlds(session: Any, dbt_dir: Path, raw_orders_asset: Any,
                                                       rows: list[Any], failed: str, skipped: set[str],
                                                       warned: bool) -> None:
    raw_orders_asset(session, rows)
    dbt_project(dbt_dir, session=session)

    @nf.asset(registry=session.registry)
    def report(revenue_by_region: Any) -> Any:
        return revenue_by_region

    result = session.materialize("*")
    assert result.states[failed] is State.FAILED
    assert "unique_stg_orders_order_id" in result.errors[failed]["message"]
    assert {n for n, s in result.states.items() if s is State.SKIPPED} == skipped
    assert result.states["countries"] is State.SUCCEEDED


def test_failing_model_fails_its_step_and_skips_downstream(session: Any, dbt_dir: Path,
                                                           raw_orders_asset: Any) -> None:
    (dbt_dir / "models" / "marts" / "orders_by_country.sql").write_text(
        "select no_such_column from {{ ref('stg_orders') }}\n")
    _project(session, dbt_dir, raw_orders_asset)
    result = session.materialize("*")
    assert result.states["orders_by_country"] is State.FAILED
    assert "no_such_column" in result.errors["orders_by_country"]["message"]
    assert result.states["revenue_by_region"] is State.SKIPPED
    assert result.states["report"] is State.SKIPPED
    assert result.states["stg_orders"] is State.SUCCEEDED


def test_warn_test_is_recorded_and_does_not_block(session: Any, dbt_dir: Path, raw_orders_asset: Any) -> None:
    from nbflow.core.events import EventKind

    sql = dbt_dir / "models" / "staging" / "stg_orders.sql"     # let null amounts through
    sql.write_text(sql.read_text().replace("where amount is not null", ""))
    raw_orders_asset(session, [*ORDERS, (5, "DE", None, "2026-01-05")])
    dbt_project(dbt_dir, session=session)
    checks: list[Any] = []
    session.hooks.subscribe(lambda e: checks.append(e) if e.kind is EventKind.CHECK else None)
    result = session.materialize("*")
    assert result.ok, result.errors
    assert result.states["revenue_by_region"] is State.SUCCEEDED
    by_name = {(e.step, e.data.name): e.data for e in checks}
    amount = by_name[("stg_orders", "not_null_stg_orders_amount")]
    assert (amount.passed, amount.severity) == (False, "warn")
    assert "1 failing row(s)" in amount.message
    assert by_name[("stg_orders", "unique_stg_orders_order_id")].passed is True
    assert by_name[("revenue_by_region", "revenue_positive")].passed is True
    assert len(by_name) == 7


def test_editing_sql_marks_model_and_downstream_stale(session: Any, dbt_dir: Path,
                                                      raw_orders_asset: Any) -> None:
    _project(session, dbt_dir, raw_orders_asset)
    assert session.materialize("*").ok
    assert {s.name: s.status for s in session.status()}["report"] == "fresh"
    time.sleep(0.01)
    sql = dbt_dir / "models" / "marts" / "orders_by_country.sql"
    sql.write_text(sql.read_text() + "-- edited\n")
    status = {s.name: s.status for s in session.status()}
    assert status["orders_by_country"] == "stale"
    assert status["revenue_by_region"] == "stale"
    assert status["report"] == "stale"
    assert status["stg_orders"] == "fresh" and status["countries"] == "fresh"
    result = session.materialize("*")
    assert result.states["stg_orders"] is State.CACHED
    assert result.states["orders_by_country"] is State.SUCCEEDED
    assert {s.name: s.status for s in session.status()}["report"] == "fresh"


def test_warm_single_model_reuses_the_manifest(session: Any, dbt_dir: Path, raw_orders_asset: Any) -> None:
    project = _project(session, dbt_dir, raw_orders_asset)
    assert session.materialize("*").ok
    manifest = project.invoker.manifest
    result = session.materialize("revenue_by_region", force=True)
    assert result.ok and project.invoker.manifest is manifest


def test_a_notebook_connection_in_this_process_is_shared(session: Any, dbt_dir: Path,
                                                         raw_orders_asset: Any) -> None:
    import duckdb

    _project(session, dbt_dir, raw_orders_asset)
    con = duckdb.connect(str(dbt_dir / "shop.duckdb"))   # as a notebook would hold it
    try:
        result = session.materialize("*")
        assert result.ok, result.errors
        assert con.execute("select count(*) from revenue_by_region").fetchone() == (3,)
    finally:
        con.close()


def test_another_process_holding_the_file_is_explained(session: Any, dbt_dir: Path,
                                                       raw_orders_asset: Any) -> None:
    _project(session, dbt_dir, raw_orders_asset)
    assert session.materialize("*").ok
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)"), str(dbt_dir / "shop.duckdb")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = session.materialize("revenue_by_region", force=True)
        message = result.errors["revenue_by_region"]["message"]
        assert result.states["revenue_by_region"] is State.FAILED
        assert f"locked by process {holder.pid}" in message
        assert "Close the connection there" in message
        assert "Could not set lock" not in message
    finally:
        holder.kill()
        holder.wait()
