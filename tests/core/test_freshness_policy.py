"""Freshness policies (core/freshness_policy.py): deadlines and overdue verdicts under fixed
clocks, across both daylight-saving changes in Europe/Brussels (29 March and 25 October 2026)."""

from __future__ import annotations

import datetime as dt

import pytest

from nbflow.core.freshness_policy import (
    Freshness,
    as_freshness,
    evaluate,
    evaluate_partitioned,
)
from nbflow.core.time_windows import DailyPartitions
from nbflow.errors import DefinitionError

UTC = dt.UTC
SIX = Freshness(max_lag="1h", cron="0 6 * * *", tz="Europe/Brussels")


def utc(*a: int) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


def ts(*a: int) -> float:
    return utc(*a).timestamp()


# (case, now, last materialised, overdue, deadline): 06:00 Brussels + 1 h.
# Spring: 28 March 06:00 CET = 05:00 UTC; 29 March 06:00 CEST = 04:00 UTC (deadline 05:00 UTC).
# Autumn: 24 October 06:00 CEST = 04:00 UTC; 25 October 06:00 CET = 05:00 UTC (deadline 06:00 UTC).
CRON_CASES = [
    ("spring: a second before the deadline", utc(2026, 3, 29, 4, 59, 59), ts(2026, 3, 28, 5, 30),
     False, utc(2026, 3, 29, 5)),
    ("spring: at the deadline, last run was yesterday", utc(2026, 3, 29, 5), ts(2026, 3, 28, 5, 30),
     True, utc(2026, 3, 29, 5)),
    ("spring: made at 06:10 CEST, after the tick", utc(2026, 3, 29, 5), ts(2026, 3, 29, 4, 10),
     False, utc(2026, 3, 30, 5)),
    ("spring: made at 05:59 CEST, before the tick", utc(2026, 3, 29, 5, 30), ts(2026, 3, 29, 3, 59),
     True, utc(2026, 3, 29, 5)),
    ("day before spring: deadline at 06:00 UTC", utc(2026, 3, 28, 5, 30), ts(2026, 3, 27, 5, 30),
     False, utc(2026, 3, 28, 6)),
    ("autumn: 05:30 UTC is still within 07:00 CET", utc(2026, 10, 25, 5, 30), ts(2026, 10, 24, 4, 30),
     False, utc(2026, 10, 25, 6)),
    ("autumn: at 07:00 CET", utc(2026, 10, 25, 6), ts(2026, 10, 24, 4, 30),
     True, utc(2026, 10, 25, 6)),
    ("autumn eve: deadline 07:00 CEST = 05:00 UTC", utc(2026, 10, 24, 5), ts(2026, 10, 23, 4, 30),
     True, utc(2026, 10, 24, 5)),
    ("never materialised", utc(2026, 10, 25, 6), None, True, utc(2026, 10, 25, 6)),
]


@pytest.mark.parametrize(("now", "last", "overdue", "deadline"), [c[1:] for c in CRON_CASES],
                         ids=[c[0] for c in CRON_CASES])
def test_cron_policy_deadlines_across_dst(now: dt.datetime, last: float | None, overdue: bool,
                                          deadline: dt.datetime) -> None:
    state = evaluate(SIX, now, last_ts=last)
    assert state.overdue is overdue
    assert state.deadline == deadline
    assert (state.reason is not None) is overdue


def test_cron_reason_names_the_tick_in_the_policy_zone() -> None:
    state = evaluate(SIX, utc(2026, 3, 29, 5), last_ts=ts(2026, 3, 28, 5, 30))
    assert state.reason == "not materialised since the 2026-03-29 06:00 CEST tick"
    assert state.state == "overdue"
    state = evaluate(SIX, utc(2026, 10, 25, 6), last_ts=None)
    assert state.reason == "never materialised"


def test_max_lag_is_elapsed_time_through_the_dst_change() -> None:
    six = Freshness(max_lag="6h")
    last = ts(2026, 3, 29, 0, 30)  # 01:30 CET; the wall clock jumps an hour at 02:00
    assert evaluate(six, utc(2026, 3, 29, 6, 29, 59), last_ts=last).overdue is False
    late = evaluate(six, utc(2026, 3, 29, 6, 30), last_ts=last)
    assert late.overdue and late.deadline == utc(2026, 3, 29, 6, 30)
    assert "more than 6h ago" in (late.reason or "")
    never = evaluate(six, utc(2026, 3, 29, 6, 30), last_ts=None)
    assert never.overdue and never.deadline is None and never.reason == "never materialised"


def test_reason_own_failure_first_then_an_overdue_upstream() -> None:
    now, last = utc(2026, 3, 29, 5), ts(2026, 3, 28, 5, 30)
    failed = evaluate(SIX, now, last_ts=last, failure=(ts(2026, 3, 29, 4, 30), "r1", "ValueError: x"),
                      upstream_overdue=["raw"])
    assert failed.reason == "its last run r1 failed: ValueError: x"
    older_failure = evaluate(SIX, now, last_ts=last, failure=(ts(2026, 3, 27), "r0", "E"),
                             upstream_overdue=["raw"])
    assert older_failure.reason == "upstream 'raw' is overdue"
    on_time = evaluate(SIX, utc(2026, 3, 29, 4, 30), last_ts=last, upstream_overdue=["raw"])
    assert not on_time.overdue  # an overdue upstream is a reason, never a verdict of its own


def _daily(done: set[str], policy: Freshness, now: dt.datetime,
           fails: dict[str, tuple[float, str, str | None]] | None = None):
    defn = DailyPartitions(start="2026-03-01", tz="Europe/Brussels")
    return evaluate_partitioned(
        policy, now, due_key=lambda at: defn.format_key(defn.last_key(at)),
        window_end=lambda k: defn.time_window(k)[1], materialised=lambda k: k in done,
        failure=lambda k: (fails or {}).get(k))


def test_partitioned_cron_policy_wants_yesterdays_partition_by_the_deadline() -> None:
    late = _daily({"2026-03-27"}, SIX, utc(2026, 3, 29, 5))
    assert late.overdue and late.partition == "2026-03-28" and late.deadline == utc(2026, 3, 29, 5)
    assert late.reason == "partition '2026-03-28' is not materialised"
    early = _daily({"2026-03-27"}, SIX, utc(2026, 3, 29, 4, 59))
    assert not early.overdue and early.partition == "2026-03-27"
    done = _daily({"2026-03-28"}, SIX, utc(2026, 3, 29, 5))
    assert not done.overdue and done.deadline == utc(2026, 3, 30, 5)
    failed = _daily(set(), SIX, utc(2026, 3, 29, 5), {"2026-03-28": (1.0, "r9", "boom")})
    assert failed.reason == "its last run r9 failed: boom"


def test_partitioned_max_lag_counts_from_the_end_of_the_window() -> None:
    six = Freshness(max_lag="6h")
    # the 28 March window ends at 29 March 00:00 CET = 28 March 23:00 UTC; due by 05:00 UTC
    assert not _daily({"2026-03-27"}, six, utc(2026, 3, 29, 4, 59)).overdue
    late = _daily({"2026-03-27"}, six, utc(2026, 3, 29, 5))
    assert late.overdue and late.partition == "2026-03-28" and late.deadline == utc(2026, 3, 29, 5)
    # autumn: the 25 October window ends at 26 October 00:00 CET = 25 October 23:00 UTC
    late = _daily(set(), six, utc(2026, 10, 26, 5))
    assert late.partition == "2026-10-25" and late.deadline == utc(2026, 10, 26, 5)


@pytest.mark.parametrize(("value", "lag"), [("6h", 21600.0), (90, 90.0),
                                            (dt.timedelta(minutes=5), 300.0)])
def test_asset_freshness_accepts_a_duration(value: object, lag: float) -> None:
    policy = as_freshness(value, asset="orders")
    assert policy == Freshness(max_lag=lag)
    assert as_freshness(None, asset="orders") is None
    assert as_freshness(SIX, asset="orders") is SIX


@pytest.mark.parametrize(("make", "needle"), [
    (lambda: as_freshness("soon", asset="orders"), "Asset 'orders': Freshness max_lag 'soon'"),
    (lambda: as_freshness(True, asset="orders"), "freshness of asset 'orders' must be a duration"),
    (lambda: as_freshness(0, asset="orders"), "more than 0 seconds"),
    (lambda: Freshness(max_lag="1h", cron="0 25 * * *"), "Freshness:"),
    (lambda: Freshness(max_lag="1h", cron="0 6 * * *", tz="Mars/Olympus"), "Time zone 'Mars/Olympus'"),
])
def test_bad_policies_are_explained(make, needle: str) -> None:
    with pytest.raises(DefinitionError, match=None) as info:
        make()
    assert needle in str(info.value)


def test_describe() -> None:
    assert Freshness(max_lag="6h").describe() == "materialised within 6h"
    assert SIX.describe() == "by each '0 6 * * *' (Europe/Brussels) tick + 1h"


def test_asset_decorator_keeps_the_policy() -> None:
    from nbflow.core.registry import Registry
    from nbflow.core.specs import asset

    reg = Registry()

    @asset(freshness="6h", registry=reg)
    def orders() -> int:
        return 1

    @asset(freshness=SIX, registry=reg)
    def report(orders: int) -> int:
        return orders

    @asset(registry=reg)
    def plain() -> int:
        return 1

    assert orders.freshness == Freshness(max_lag="6h")
    assert report.freshness is SIX
    assert plain.freshness is None
    with pytest.raises(DefinitionError, match="freshness of asset 'bad'"):
        asset(lambda: 1, name="bad", freshness=[1], registry=reg)
