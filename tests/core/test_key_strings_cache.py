"""A time-window definition keeps the key strings it made and extends them as keys appear: the
strings must be what a fresh definition makes, for every format path (ISO days, day-at-a-time
hours, strftime), whatever ``now`` asked first."""

from __future__ import annotations

import datetime as dt

import pytest

import nbflow as nf

UTC = dt.UTC


@pytest.mark.parametrize("make", [
    lambda: nf.DailyPartitions(start="2026-01-01"),
    lambda: nf.HourlyPartitions(start="2026-01-01-00:00"),
    lambda: nf.HourlyPartitions(start="2026-03-25-00:00", tz="Europe/Brussels"),
    lambda: nf.WeeklyPartitions(start="2026-01-04"),
    lambda: nf.TimeWindowPartitions(cron="30 6 * * 1-5", start="2026-01-01", fmt="%d/%m/%Y"),
])
def test_cached_strings_grow_and_agree_with_a_fresh_definition(make) -> None:
    kept = make()
    for now in (dt.datetime(2026, 4, 2, tzinfo=UTC), dt.datetime(2026, 3, 30, 5, tzinfo=UTC),
                dt.datetime(2026, 5, 9, 13, tzinfo=UTC)):
        got = kept.key_strings(now)
        assert got == make().key_strings(now)
        assert got == [kept.format_key(k) for k in kept.keys(now)]
        got.append("not a key")  # a caller's list is its own
        assert "not a key" not in kept.key_strings(now)
