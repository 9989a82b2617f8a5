"""Reading a dbt manifest: names, groups, tags, meta, parents, tests and code versions."""

from __future__ import annotations

from typing import Any

import pytest

from nbflow.integrations.dbt.manifest import asset_name, code_version, read_nodes


def _node(name: str, rt: str = "model", *, fqn: list[str] | None = None, parents: tuple[str, ...] = (),
          config: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"resource_type": rt, "name": name, "package_name": "shop",
            "fqn": fqn or ["shop", name], "depends_on": {"nodes": list(parents)},
            "checksum": {"checksum": extra.pop("checksum", "c0")}, "config": config or {},
            "schema": "main", **extra}


MANIFEST = {
    "metadata": {"project_name": "shop"},
    "nodes": {
        "model.shop.stg": _node("stg", fqn=["shop", "staging", "stg"], parents=("source.shop.raw.orders",),
                                tags=["staging"], config={"meta": {"owner": "team:data"}},
                                description="Clean orders."),
        "model.shop.mart": _node("mart", fqn=["shop", "marts", "mart"], parents=("model.shop.stg", "seed.shop.countries"),
                                 config={"group": "finance", "materialized": "table"}),
        "seed.shop.countries": _node("countries", "seed"),
        "model.other.pkg_model": {**_node("pkg_model"), "package_name": "other"},
        "test.shop.unique_stg_id": _node("unique_stg_id", "test", parents=("model.shop.stg",),
                                         config={"severity": "ERROR"}, attached_node="model.shop.stg"),
        "test.shop.warn_mart": _node("warn_mart", "test", parents=("model.shop.mart",),
                                     config={"severity": "warn"}),
    },
    "sources": {"source.shop.raw.orders": {"name": "raw_orders", "source_name": "raw",
                                           "schema": "main", "identifier": "raw_orders"}},
}


@pytest.fixture(scope="module")
def nodes() -> dict[str, Any]:
    return {n.name: n for n in read_nodes(MANIFEST, "shop")}


@pytest.mark.parametrize("name, field, expected", [
    ("stg", "group", "staging"),                  # the dbt folder
    ("mart", "group", "finance"),                 # +group wins
    ("countries", "group", "shop"),               # no folder: the package
    ("stg", "tags", ("staging",)),
    ("stg", "meta", {"owner": "team:data"}),
    ("stg", "description", "Clean orders."),
    ("stg", "parents", ("raw_orders",)),
    ("mart", "parents", ("stg", "countries")),
    ("mart", "materialized", "table"),
    ("raw_orders", "resource_type", "source"),
    ("raw_orders", "dbt_name", "source:raw.raw_orders"),
    ("countries", "resource_type", "seed"),
])
def test_node_fields(nodes: dict[str, Any], name: str, field: str, expected: Any) -> None:
    assert getattr(nodes[name], field) == expected


def test_other_packages_stay_out(nodes: dict[str, Any]) -> None:
    assert set(nodes) == {"stg", "mart", "countries", "raw_orders"}


@pytest.mark.parametrize("name, tests", [
    ("stg", [("unique_stg_id", "error")]),     # attached_node
    ("mart", [("warn_mart", "warn")]),          # no attached_node: its parent
    ("countries", []),
])
def test_tests_attach_with_severity(nodes: dict[str, Any], name: str, tests: list[Any]) -> None:
    assert [(t.name, t.severity) for t in nodes[name].tests] == tests


@pytest.mark.parametrize("a, b, same", [
    (("c1", {"materialized": "view"}), ("c1", {"materialized": "view"}), True),
    (("c1", {"materialized": "view"}), ("c2", {"materialized": "view"}), False),   # SQL edited
    (("c1", {"materialized": "view"}), ("c1", {"materialized": "table"}), False),  # config edited
    (("c1", {"a": 1, "b": 2}), ("c1", {"b": 2, "a": 1}), True),                    # key order
])
def test_code_version(a: tuple[str, dict[str, Any]], b: tuple[str, dict[str, Any]], same: bool) -> None:
    assert (code_version(*a) == code_version(*b)) is same


@pytest.mark.parametrize("dbt, expected", [
    ("orders", "orders"), ("my-model", "my_model"), ("2024_sales", "dbt_2024_sales"),
    ("class", "dbt_class"),
])
def test_asset_name(dbt: str, expected: str) -> None:
    assert asset_name(dbt) == expected
