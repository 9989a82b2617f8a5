"""Partitions against a brute-force expansion: a full year of cron ticks, DST days included.

The oracle is ``fire_times`` (the cron rules, themselves checked against cronsim and croniter):
windows are consecutive ticks, and a mapping's answer is recomputed from those windows by
plain overlap, so the fast paths (arithmetic, date stepping, cached ticks) are checked against
the slowest, simplest reading of the definition.
"""

from __future__ import annotations

import datetime as dt
import itertools
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbflow.core.cron import fire_times, parse_cron
from nbflow.core.partition_mappings import (
    DimensionMapping,
    TimeWindowMapping,
    upstream_partitions,
)
from nbflow.core.partitions import StaticPartitions
from nbflow.core.partitions_multi import MultiPartitions
from nbflow.core.schedules import load_zone
from nbflow.core.time_windows import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    TimeWindowPartitions,
    WeeklyPartitions,
)

UTC = dt.UTC
START, END = "2026-01-01", "2027-01-01"
NOW = dt.datetime(2027, 6, 1, tzinfo=UTC)
BXL = "Europe/Brussels"

DEFS = {
    "daily-utc": DailyPartitions(start=START, end=END),
    "daily-bxl": DailyPartitions(start=START, end=END, tz=BXL),
    "daily-bxl-02:30": DailyPartitions(start=START, end=END, tz=BXL, hour_offset=2,
                                       minute_offset=30),
    "hourly-utc": HourlyPartitions(start=START, end=END),
    "hourly-bxl": HourlyPartitions(start=START, end=END, tz=BXL),
    "hourly-ny": HourlyPartitions(start=START, end=END, tz="America/New_York"),
    "weekly-bxl": WeeklyPartitions(start=START, end=END, tz=BXL, day_offset=1),
    "monthly-bxl": MonthlyPartitions(start=START, end=END, tz=BXL),
    "6h-bxl": TimeWindowPartitions(cron="0 */6 * * *", start=START, end=END, tz=BXL),
    "weekdays-bxl": TimeWindowPartitions(cron="0 9 * * 1-5", start=START, end=END, tz=BXL),
    "30min-utc": TimeWindowPartitions(cron="*/30 * * * *", start=START, end=END),
    "monthly-last-utc": TimeWindowPartitions(cron="0 0 L * *", start=START, end=END),
}


@cache
def brute(name: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every window of a definition in 2026 (plus one before), straight from fire_times."""
    d = DEFS[name]
    zone = load_zone(d.tz)
    begin = dt.datetime(2025, 11, 15, tzinfo=zone)
    end = dt.datetime(2027, 1, 1, tzinfo=zone).astimezone(UTC)
    ticks = []
    for t in fire_times(parse_cron(d.cron.text), zone, begin):
        ticks.append(t)
        if t > end:
            break
    return list(itertools.pairwise(ticks))


@cache
def in_range(name: str) -> list[tuple[dt.datetime, dt.datetime]]:
    start = dt.datetime(2026, 1, 1, tzinfo=load_zone(DEFS[name].tz))
    end = dt.datetime(2027, 1, 1, tzinfo=load_zone(DEFS[name].tz))
    return [(a, b) for a, b in brute(name) if a >= start and b <= end]


@pytest.mark.parametrize("name", sorted(DEFS))
def test_keys_and_windows_equal_the_brute_force_year(name: str) -> None:
    d, windows = DEFS[name], in_range(name)
    keys = d.keys(NOW)
    assert len(keys) == len(windows)
    assert [d.time_window(k) for k in keys] == windows
    strings = d.key_strings(NOW)
    assert len(set(strings)) == len(strings) == len(set(keys))
    assert [d.parse_key(s) for s in strings] == list(keys)
    assert d.indices(strings, NOW) == list(range(len(keys)))
    for (a, b), k in zip(windows, keys):
        assert d.key_for_time(a) == k and d.key_for_time(b - dt.timedelta(microseconds=1)) == k


def test_dst_days_have_23_and_25_hours() -> None:
    daily, hourly = DEFS["daily-bxl"], DEFS["hourly-bxl"]
    lengths, all_hours = {}, list(hourly.keys(NOW))
    for key in daily.keys(NOW):
        hours = upstream_partitions(key, daily, hourly, now=NOW)
        a, b = daily.time_window(key)
        assert hours == [h for h in all_hours if a <= h < b]
        lengths[key] = len(hours)
    assert lengths[dt.date(2026, 3, 29)] == 23 and lengths[dt.date(2026, 10, 25)] == 25
    assert sorted(set(lengths.values())) == [23, 24, 25] and sum(lengths.values()) == 8760


def overlap_oracle(down: str, up: str, i: int, start_offset: int,
                   end_offset: int) -> list[dt.datetime]:
    """Upstream window starts overlapping downstream window i moved by the offsets."""
    dwin, first = brute(down), first_index(down)
    lo, hi = dwin[first + i + start_offset][0], dwin[first + i + end_offset][1]
    return [a for a, b in in_range(up) if a < hi and b > lo]


@cache
def first_index(name: str) -> int:
    return next(j for j, (a, _) in enumerate(brute(name)) if a == in_range(name)[0][0])


PAIRS = [("daily-bxl", "hourly-bxl"), ("hourly-bxl", "daily-bxl"), ("weekly-bxl", "daily-bxl"),
         ("daily-bxl", "weekly-bxl"), ("monthly-bxl", "weekly-bxl"), ("daily-bxl", "daily-bxl"),
         ("hourly-bxl", "hourly-bxl"), ("daily-utc", "hourly-bxl"), ("6h-bxl", "hourly-ny"),
         ("weekdays-bxl", "daily-bxl-02:30"), ("monthly-last-utc", "monthly-bxl"),
         ("daily-bxl-02:30", "30min-utc")]


@settings(max_examples=300, deadline=None)
@given(pair=st.sampled_from(PAIRS), where=st.floats(0, 1, exclude_max=True),
       start_offset=st.integers(-3, 1), span=st.integers(0, 3))
def test_time_window_mapping_equals_overlap_oracle(pair, where, start_offset, span) -> None:
    down, up = pair
    ddef, udef = DEFS[down], DEFS[up]
    keys = ddef.keys(NOW)
    i = int(where * len(keys))
    if i + start_offset < -1:  # the oracle has one month of windows before the start
        start_offset = 0
    end_offset = start_offset + span
    if i + end_offset >= len(keys):
        end_offset = start_offset
    mapping = TimeWindowMapping(start_offset, end_offset)
    got = upstream_partitions(keys[i], ddef, udef, mapping, now=NOW)
    expected = overlap_oracle(down, up, i, start_offset, end_offset)
    assert [udef.time_window(k)[0] for k in got] == expected


@cache
def strings(name: str) -> list[str]:
    return DEFS[name].key_strings(NOW)


@cache
def multi_keys() -> list[object]:
    return MULTI.keys(NOW)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(DEFS)), where=st.floats(0, 1, exclude_max=True))
def test_round_trip_of_keys_through_their_string_form(name, where) -> None:
    d = DEFS[name]
    keys = d.keys(NOW)
    i = int(where * len(keys))
    key = keys[i]
    text = d.format_key(key)
    assert d.parse_key(text) == key and d.format_key(d.parse_key(text)) == text
    assert d.index(text, NOW) == i == d.index(key, NOW)
    assert strings(name)[i] == text
    assert d.select(text, NOW) == [key]
    if i + 2 < len(keys):
        rng = f"{text}...{d.format_key(keys[i + 2])}"
        assert d.select(rng, NOW) == list(keys[i:i + 3])


MULTI = MultiPartitions(region=StaticPartitions(["eu", "us", "ap"]), hour=DEFS["hourly-bxl"])


@settings(max_examples=100, deadline=None)
@given(region=st.sampled_from(["eu", "us", "ap"]), where=st.floats(0, 1, exclude_max=True))
def test_multi_yesterday_of_the_same_region_and_round_trip(region, where) -> None:
    hours = DEFS["hourly-bxl"].keys(NOW)
    i = int(where * len(hours))
    key = MULTI.key({"region": region, "hour": hours[i]}, NOW)
    text = MULTI.format_key(key)
    assert MULTI.parse_key(text) == key and multi_keys()[MULTI.index(text, NOW)] == key
    got = upstream_partitions(key, MULTI, MULTI, DimensionMapping("hour", TimeWindowMapping(-1, -1)),
                              now=NOW)
    assert got == ([] if i == 0 else [MULTI.key({"region": region, "hour": hours[i - 1]}, NOW)])


@settings(max_examples=100, deadline=None)
@given(picks=st.sets(st.integers(0, 364), max_size=60))
def test_render_ranges_selects_the_same_keys(picks) -> None:
    d = DEFS["daily-bxl"]
    keys = [d.keys(NOW)[i] for i in sorted(picks)]
    text = d.render_ranges(keys, NOW)
    assert (d.select(text, NOW) if text else []) == keys
    m = MultiPartitions(region=StaticPartitions(["eu", "us"]), day=d)
    mkeys = [m.key({"region": r, "day": k}, NOW) for k in keys for r in ("eu", "us")
             if (k.toordinal() + len(r)) % 3]
    mtext = m.render_ranges(mkeys, NOW)
    assert sorted(m.select(mtext, NOW) if mtext else [], key=lambda k: m.index(k, NOW)) == \
        sorted(mkeys, key=lambda k: m.index(k, NOW))
