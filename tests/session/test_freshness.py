"""Freshness in ``nf.status()`` and ``nbflow status``: overdue or on time beside fresh/stale, with
the reason and the deadline, on SQLite and PostgreSQL (the ``session`` fixture)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from click.testing import CliRunner

import nbflow as nf
from nbflow.cli.main import cli

UTC = dt.UTC


def now_plus(seconds: float) -> dt.datetime:
    return dt.datetime.now(UTC) + dt.timedelta(seconds=seconds)


def by_name(session: Any, **kw: Any) -> dict[str, Any]:
    return {s.name: s for s in session.status(**kw)}


def test_overdue_sits_beside_status_and_does_not_change_it(session: Any) -> None:
    reg = session.registry

    @nf.asset(freshness="6h", registry=reg)
    def raw() -> int:
        return 1

    @nf.asset(freshness="6h", registry=reg)
    def report(raw: int) -> int:
        return raw + 1

    @nf.asset(registry=reg)
    def plain(raw: int) -> int:
        return raw

    never = by_name(session)
    assert never["raw"].status == "missing"
    assert never["raw"].freshness.overdue and never["raw"].freshness.reason == "never materialised"
    assert never["plain"].freshness is None  # no policy, no verdict

    assert session.materialize("*").ok
    made = session.status()[0].last.ts
    soon = by_name(session)
    assert soon["raw"].status == "fresh" and soon["raw"].freshness.state == "on time"
    assert soon["raw"].freshness.deadline == made + dt.timedelta(hours=6)

    late = by_name(session, now=now_plus(7 * 3600))
    assert late["raw"].status == "fresh"  # the existing verdict is untouched
    assert late["raw"].freshness.overdue
    assert late["raw"].freshness.deadline == made + dt.timedelta(hours=6)
    assert "more than 6h ago" in late["raw"].freshness.reason
    assert late["report"].freshness.reason == "upstream 'raw' is overdue"
    assert by_name(session, now=now_plus(7 * 3600))["plain"].freshness is None


def test_a_failed_run_is_the_reason(session: Any) -> None:
    reg = session.registry
    broken = [False]

    @nf.asset(freshness="1h", registry=reg)
    def flaky() -> int:
        if broken[0]:
            raise ValueError("source down")
        return 1

    assert session.materialize("flaky").ok
    broken[0] = True
    result = session.materialize("flaky", force=True)
    assert not result.ok
    state = by_name(session, now=now_plus(2 * 3600))["flaky"]
    assert state.status == "failed"
    assert state.freshness.overdue
    assert state.freshness.reason == f"its last run {result.run_id} failed: ValueError: source down"


def test_partitioned_asset_is_due_by_its_latest_partition(session: Any) -> None:
    reg = session.registry

    @nf.asset(partitions=nf.DailyPartitions(start="2026-03-20", end="2026-04-05",
                                            tz="Europe/Brussels"),
              freshness=nf.Freshness(max_lag="1h", cron="0 6 * * *", tz="Europe/Brussels"),
              registry=reg)
    def daily() -> int:
        return 1

    assert session.materialize("daily", partitions="2026-03-27").ok
    deadline = dt.datetime(2026, 3, 29, 5, tzinfo=UTC)  # 07:00 CEST, the first day of summer time
    before = by_name(session, now=deadline - dt.timedelta(seconds=1))["daily"].freshness
    assert not before.overdue and before.partition == "2026-03-27"
    late = by_name(session, now=deadline)["daily"].freshness
    assert late.overdue and late.partition == "2026-03-28" and late.deadline == deadline
    assert late.reason == "partition '2026-03-28' is not materialised"
    assert session.materialize("daily", partitions="2026-03-28").ok
    assert not by_name(session, now=deadline)["daily"].freshness.overdue


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_status_shows_a_freshness_column_only_with_policies(session: Any) -> None:
    reg = session.registry

    @nf.asset(registry=reg)
    def plain() -> int:
        return 1

    session.materialize("plain")
    assert "freshness" not in invoke("status")

    @nf.asset(freshness="6h", registry=reg)
    def daily_sales() -> int:
        return 1

    @nf.asset(freshness="1s", registry=reg)
    def ticker() -> int:
        return 1

    @nf.asset(freshness="6h", registry=reg)
    def never() -> int:
        return 1

    session.materialize("daily_sales or ticker")
    time.sleep(1.1)
    out = invoke("status")
    assert "freshness" in out
    rows = table_rows(out)
    assert rows["daily_sales"][2].startswith("on time, due ")
    assert rows["ticker"][1] == "fresh" and rows["ticker"][2].startswith("overdue since ")
    assert rows["ticker"][3].startswith("overdue: last materialised ")
    assert rows["ticker"][3].endswith("more than 1s ago")
    assert rows["never"][1:4] == ["missing", "overdue", "never materialised; overdue"]
    assert rows["plain"][2] == "-"


def table_rows(out: str) -> dict[str, list[str]]:
    """A rich table's rows by their first cell, wrapped cells joined again."""
    rows: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in out.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[0] and cells[0] != "asset":
            last = rows[cells[0]] = cells
        elif last is not None and not cells[0]:
            for i, c in enumerate(cells):
                if c:
                    last[i] = f"{last[i]} {c}" if not last[i].endswith("-") else last[i] + c
    return rows


@pytest.mark.parametrize("selection", ["ticker", "*"])
def test_status_of_a_selection_keeps_upstream_reasons(session: Any, selection: str) -> None:
    reg = session.registry

    @nf.asset(freshness="1h", registry=reg)
    def source() -> int:
        return 1

    @nf.asset(freshness="1h", registry=reg)
    def ticker(source: int) -> int:
        return source

    session.materialize("*")
    state = by_name(session, selection=selection, now=now_plus(2 * 3600))["ticker"]
    assert state.freshness.reason == "upstream 'source' is overdue"
