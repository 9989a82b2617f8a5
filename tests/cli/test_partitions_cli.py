"""``nbflow partitions add|list|remove`` and ``nbflow status ASSET --partitions`` (CliRunner),
on SQLite and PostgreSQL through the ``session`` fixture."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner

import nbflow as nf
from nbflow.cli.main import cli


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_add_list_remove_dynamic_keys(session: Any) -> None:
    assert "shops: added 2 of 2 key(s) (acme, globex)" in invoke("partitions", "add", "shops", "acme", "globex")
    assert "shops: added 1 of 2 key(s) (initech)" in invoke("partitions", "add", "shops", "acme", "initech")
    assert invoke("partitions", "list", "shops").splitlines() == ["acme", "globex", "initech"]
    assert session.partitions("shops").keys() == ["acme", "globex", "initech"]
    assert "shops: removed 1 of 2 key(s) (globex)" in invoke("partitions", "remove", "shops", "globex", "nope")
    assert invoke("partitions", "list", "shops").splitlines() == ["acme", "initech"]
    assert "shops: removed 0 of 1 key(s)" in invoke("partitions", "remove", "shops", "nope")
    assert "no keys; add some with `nbflow partitions add empty KEY`" in invoke("partitions", "list", "empty")


@pytest.mark.parametrize("args", [("partitions", "add", "shops"), ("partitions", "remove", "shops"),
                                  ("partitions", "list")])
def test_missing_arguments_are_usage_errors(session: Any, args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2 and "Missing argument" in result.output


def test_bad_dynamic_key_is_refused_and_nothing_added(session: Any) -> None:
    result = CliRunner().invoke(cli, ["partitions", "add", "shops", "ok", "bad,key"])
    assert result.exit_code == 2 and "'bad,key'" in result.output
    assert session.partitions("shops").keys() == []


def test_status_lists_partition_ranges_and_counts(session: Any) -> None:
    reg = session.registry

    @nf.asset(partitions=nf.DailyPartitions(start="2026-01-01", end="2026-01-08"), registry=reg)
    def daily() -> int:
        if nf.context().partition_key == dt.date(2026, 1, 3):
            raise ValueError("bad day")
        return 1

    @nf.asset(registry=reg)
    def summary(daily: dict) -> int:
        return len(daily)

    session.materialize("daily", partitions="2026-01-01...2026-01-04")
    out = invoke("status", "daily", "--partitions")
    assert out.strip() == ("daily: 2026-01-03 failed, 2026-01-05...2026-01-07 missing, "
                           "2026-01-01, 2026-01-02, 2026-01-04 fresh")
    assert "summary: not partitioned (missing)" in invoke("status", "*", "--partitions")
    table = invoke("status", "daily")
    assert "3/7 materialised: 3 fresh, 3 missing, 1 failed; latest 2026-01-04" in table
