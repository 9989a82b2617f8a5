"""The panel and partitions: the strip's bins (worst verdict per bin), the details pane's
partitions section, materialising a range and a backfill started from the panel."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import nbflow as nf
from nbflow.widget.panel import LineagePanel
from nbflow.widget.partitions import strip_of
from tests.widget.test_panel import click, wait_for

DAYS = nf.DailyPartitions(start="2026-01-01", end="2026-01-31")  # 30 days


def summary(statuses: list[str]) -> Any:
    counts = {s: statuses.count(s) for s in set(statuses)}
    return SimpleNamespace(statuses=statuses, total=len(statuses), counts=counts, latest=None)


@pytest.mark.parametrize(("statuses", "bins", "expected"), [
    (["fresh"] * 48, 24, ["fresh"] * 24),
    (["fresh"] * 47 + ["failed"], 24, ["fresh"] * 23 + ["failed"]),  # one failed key stays seen
    (["missing", "fresh", "stale", "fresh"], 2, ["missing", "stale"]),
    (["fresh", "failed", "stale"], 24, ["fresh", "failed", "stale"]),  # fewer keys than bins
    ([], 24, []),
])
def test_a_bin_shows_the_worst_verdict_of_its_keys(statuses: list[str], bins: int,
                                                   expected: list[str]) -> None:
    assert strip_of(summary(statuses), bins)["bins"] == expected


@pytest.fixture
def days(session: Any) -> Any:
    @nf.asset(partitions=DAYS, registry=session.registry)
    def sales() -> int:
        day = nf.context().partition_key.day
        if day == 13:
            raise ValueError("no sales data for the 13th")
        return day

    @nf.asset(registry=session.registry)
    def plain() -> int:
        return 1

    return session


def test_strips_details_a_range_and_a_backfill_from_the_panel(days: Any) -> None:
    nf.materialize("sales", partitions="2026-01-01...2026-01-05")
    p = LineagePanel(days, namespace={})
    try:
        assert set(p.strips) == {"sales"}  # plain has no strip
        strip = p.strips["sales"]
        assert strip["total"] == 30 and strip["counts"]["fresh"] == 5 and strip["counts"]["missing"] == 25
        # 30 keys in bins of 2 (at most 24 bins): days 1-4 fill two bins, day 5 shares one with 6
        assert len(strip["bins"]) == 15
        assert strip["bins"][:2] == ["fresh"] * 2 and set(strip["bins"][2:]) == {"missing"}
        click(p, action="select", name="sales")
        part = p.details["partitions"]
        assert part["first"] == "2026-01-01" and part["last"] == "2026-01-30"
        assert part["ranges"]["fresh"] == "2026-01-01...2026-01-05"
        click(p, action="materialize", name="sales", scope="this", partitions="2026-01-06...2026-01-10")
        assert p.wait(20)
        wait_for(lambda: p.strips["sales"]["counts"]["fresh"] == 10)
        assert days.store.partitions.latest("sales", ["2026-01-05"])["2026-01-05"].run_id != p.last_result.run_id
        assert sorted(p.last_result.states) == [f"sales[2026-01-{d:02d}]" for d in range(6, 11)]

        click(p, action="backfill", name="sales", partitions="2026-01-11...2026-01-15")
        wait_for(lambda: "FAILED" in p.message, timeout=30)
        assert "(1 failed, 4 succeeded)" in p.message
        wait_for(lambda: p.strips["sales"]["counts"]["failed"] == 1)
        assert p.strips["sales"]["counts"]["fresh"] == 14 and p.strips["sales"]["bins"][6] == "failed"
        [bf] = days.store.backfills.recent()
        assert bf.partitions == "2026-01-11...2026-01-15" and bf.selection == "sales"
        click(p, action="backfill", name="sales", partitions="2026-01-20...2026-01-21", submit=True)
        assert "submitted: the daemon runs it" in p.message
        assert days.store.backfills.recent()[0].state == "REQUESTED"
        click(p, action="backfill", name="sales", partitions="2026-02-30")
        assert "2026-02-30" in p.message and len(days.store.backfills.recent()) == 2  # refused, nothing written
    finally:
        p.close()


def test_the_details_pane_shows_freshness(session: Any) -> None:
    @nf.asset(freshness="1h", registry=session.registry)
    def hourly() -> int:
        return 1

    p = LineagePanel(session, namespace={})
    try:
        click(p, action="select", name="hourly")
        assert p.details["freshness"] == {"overdue": True, "reason": "never materialised", "deadline": None}
        nf.materialize("hourly")
        click(p, action="select", name="hourly")
        late = p.details["freshness"]
        assert late["overdue"] is False and late["deadline"] > 0
    finally:
        p.close()
