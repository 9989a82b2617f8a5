"""Partitions definitions, keys, selections and ranges: case tables."""

from __future__ import annotations

import datetime as dt

import pytest

from nbflow.core.partitions import (
    DynamicPartitions,
    MultiKey,
    StaticPartitions,
    check_key_text,
    parse_partitions,
)
from nbflow.core.partitions_multi import MultiPartitions
from nbflow.core.time_windows import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    TimeWindowPartitions,
    WeeklyPartitions,
)
from nbflow.errors import DefinitionError, PartitionError

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
D = dt.date


def tz(hours: float) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=hours))


@pytest.mark.parametrize(("defn", "count", "first", "last"), [
    (DailyPartitions(start="2026-01-01"), 59, D(2026, 1, 1), D(2026, 2, 28)),
    (DailyPartitions(start="2026-01-01", end_offset=1), 60, D(2026, 1, 1), D(2026, 3, 1)),
    (DailyPartitions(start="2026-01-01", end_offset=-1), 58, D(2026, 1, 1), D(2026, 2, 27)),
    (DailyPartitions(start="2026-01-01", end="2026-02-01"), 31, D(2026, 1, 1), D(2026, 1, 31)),
    (DailyPartitions(start="2026-01-01", end="2026-02-01T12:00"), 31, D(2026, 1, 1),
     D(2026, 1, 31)),
    (DailyPartitions(start="2026-01-01T06:00"), 58, D(2026, 1, 2), D(2026, 2, 28)),
    (DailyPartitions(start="2026-01-01", tz="Europe/Brussels"), 59, D(2026, 1, 1), D(2026, 2, 28)),
    (DailyPartitions(start="2026-01-01", hour_offset=13), 58, D(2026, 1, 1), D(2026, 2, 27)),
    (WeeklyPartitions(start="2026-01-01"), 8, D(2026, 1, 4), D(2026, 2, 22)),
    (WeeklyPartitions(start="2026-01-01", day_offset=1), 7, D(2026, 1, 5), D(2026, 2, 16)),
    (MonthlyPartitions(start="2025-11-15"), 3, D(2025, 12, 1), D(2026, 2, 1)),
    (MonthlyPartitions(start="2025-11-01", tz="America/New_York"), 4, D(2025, 11, 1),
     D(2026, 2, 1)),
    (HourlyPartitions(start="2026-03-01"), 12, dt.datetime(2026, 3, 1, tzinfo=UTC),
     dt.datetime(2026, 3, 1, 11, tzinfo=UTC)),
    (HourlyPartitions(start="2026-03-01", tz="Asia/Kolkata"), 17,
     dt.datetime(2026, 3, 1, tzinfo=tz(5.5)), dt.datetime(2026, 3, 1, 16, tzinfo=tz(5.5))),
    (TimeWindowPartitions(cron="0 9 * * 1-5", start="2026-02-20"), 5, D(2026, 2, 20),
     D(2026, 2, 26)),
    (TimeWindowPartitions(cron="*/15 * * * *", start="2026-03-01T10:50"), 4,
     dt.datetime(2026, 3, 1, 11, tzinfo=UTC), dt.datetime(2026, 3, 1, 11, 45, tzinfo=UTC)),
    (TimeWindowPartitions(cron="0 0 L * *", start="2025-12-01"), 2, D(2025, 12, 31),
     D(2026, 1, 31)),
    (DailyPartitions(start="2026-03-02"), 0, None, None),
])
def test_time_window_keys(defn, count, first, last) -> None:
    keys = defn.keys(NOW)
    assert len(keys) == count
    assert list(keys) == [keys[i] for i in range(count)]
    if count:
        assert (keys[0], keys[-1]) == (first, last)
        assert defn.last_key(NOW) == last
        assert defn.index(last, NOW) == count - 1


@pytest.mark.parametrize(("defn", "key", "window"), [
    (DailyPartitions(start="2026-01-01"), "2026-01-05",
     (dt.datetime(2026, 1, 5, tzinfo=UTC), dt.datetime(2026, 1, 6, tzinfo=UTC))),
    (DailyPartitions(start="2026-01-01", tz="Europe/Brussels"), "2026-03-29",
     (dt.datetime(2026, 3, 29, tzinfo=tz(1)), dt.datetime(2026, 3, 30, tzinfo=tz(2)))),
    (DailyPartitions(start="2026-01-01", tz="Europe/Brussels"), "2026-10-25",
     (dt.datetime(2026, 10, 25, tzinfo=tz(2)), dt.datetime(2026, 10, 26, tzinfo=tz(1)))),
    (HourlyPartitions(start="2026-01-01", tz="Europe/Brussels"), "2026-10-25-02:00+0200",
     (dt.datetime(2026, 10, 25, 2, tzinfo=tz(2)), dt.datetime(2026, 10, 25, 2, tzinfo=tz(1)))),
    (HourlyPartitions(start="2026-01-01", tz="Europe/Brussels"), "2026-10-25-02:00+0100",
     (dt.datetime(2026, 10, 25, 2, tzinfo=tz(1)), dt.datetime(2026, 10, 25, 3, tzinfo=tz(1)))),
    (HourlyPartitions(start="2026-01-01", tz="Europe/Brussels"), "2026-03-29-01:00+0100",
     (dt.datetime(2026, 3, 29, 1, tzinfo=tz(1)), dt.datetime(2026, 3, 29, 3, tzinfo=tz(2)))),
    (MonthlyPartitions(start="2026-01-01"), "2026-02-01",
     (dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 3, 1, tzinfo=UTC))),
    (DailyPartitions(start="2026-01-01", tz="Europe/Brussels", hour_offset=2), "2026-03-29",
     (dt.datetime(2026, 3, 29, 3, tzinfo=tz(2)), dt.datetime(2026, 3, 30, 2, tzinfo=tz(2)))),
])
def test_time_window_of_a_key(defn, key, window) -> None:
    start, end = defn.time_window(key)
    assert (start, end) == window
    assert (start.utcoffset(), end.utcoffset()) == (window[0].utcoffset(), window[1].utcoffset())
    assert defn.key_for_time(start) == defn.parse_key(key)
    assert defn.format_key(defn.parse_key(key)) == key


def test_the_two_repeated_hours_are_two_keys() -> None:
    h = HourlyPartitions(start="2026-10-25", end="2026-10-26", tz="Europe/Brussels")
    keys = h.keys(NOW.replace(year=2027))
    assert len(keys) == 25 and len(set(keys)) == 25
    assert len(set(h.key_strings(NOW.replace(year=2027)))) == 25
    spring = HourlyPartitions(start="2026-03-29", end="2026-03-30", tz="Europe/Brussels")
    assert len(spring.keys(NOW.replace(year=2027))) == 23


@pytest.mark.parametrize(("defn", "good", "bad"), [
    (StaticPartitions(["eu", "us"]), ["eu", "us"], ["EU", "", "ap"]),
    (DailyPartitions(start="2026-01-01"), ["2026-01-01", "2026-02-28", D(2026, 1, 9)],
     ["2026-1-1", "20260101", "2025-12-31", "2026-03-01", dt.datetime(2026, 1, 2, tzinfo=UTC)]),
    (WeeklyPartitions(start="2026-01-01"), ["2026-01-04"], ["2026-01-05", D(2026, 1, 1)]),
    (HourlyPartitions(start="2026-01-01"), ["2026-01-01-00:00",
                                            dt.datetime(2026, 1, 1, 1, tzinfo=tz(-5))],
     ["2026-01-01-00:30", "2026-01-01", dt.datetime(2026, 1, 1, 0, 30, tzinfo=UTC),
      D(2026, 1, 1)]),
])
def test_key_checks(defn, good, bad) -> None:
    for value in good:
        assert defn.has_key(value, NOW), value
        assert defn.key(value, NOW) == defn._coerce(value)
    for value in bad:
        assert not defn.has_key(value, NOW), value
        with pytest.raises(PartitionError) as info:
            defn.key(value, NOW)
        assert repr(defn) in str(info.value)


@pytest.mark.parametrize(("defn", "key", "words"), [
    (DailyPartitions(start="2026-01-01"), "2025-12-31", "before the first key '2026-01-01'"),
    (DailyPartitions(start="2026-01-01"), "2026-03-01",
     "after the last key '2026-02-28' (its window is not complete yet)"),
    (DailyPartitions(start="2026-01-01"), "2026-1-1", "is not in the form '%Y-%m-%d'"),
    (WeeklyPartitions(start="2026-01-01"), "2026-01-05", "is not the start of a window"),
    (StaticPartitions(["eu", "us"]), "ap", "its keys are eu, us"),
    (StaticPartitions([f"k{i}" for i in range(10)]), "x", "its keys run from k0 to k9"),
])
def test_errors_name_the_definition_the_key_and_the_fix(defn, key, words) -> None:
    with pytest.raises(PartitionError) as info:
        defn.key(key, NOW)
    msg = str(info.value)
    assert words in msg and repr(key) in msg and repr(defn) in msg
    assert isinstance(info.value, DefinitionError) and info.value.key == key


@pytest.mark.parametrize(("make", "words"), [
    (lambda: StaticPartitions(["a", "a"]), "lists 'a' twice"),
    (lambda: StaticPartitions("a,b"), "needs a list of keys"),
    (lambda: StaticPartitions(["a,b"]), "contains ','"),
    (lambda: StaticPartitions(["x...y"]), "contains '...'"),
    (lambda: StaticPartitions([" a"]), "surrounding spaces"),
    (lambda: StaticPartitions(["a\n"]), "surrounding spaces"),
    (lambda: StaticPartitions(["a\tb"]), "control character"),
    (lambda: DailyPartitions(start="yesterday"), "is not a date or time"),
    (lambda: DailyPartitions(start="2026-01-01", tz="Mars/Base"), "is unknown"),
    (lambda: TimeWindowPartitions(cron="0 0 31 2 *", start="2026-01-01"), "never fires"),
    (lambda: TimeWindowPartitions(cron="bad", start="2026-01-01"), "is not valid"),
    (lambda: HourlyPartitions(start="2026-01-01", fmt="%Y-%m-%d"), "more than once a day"),
    (lambda: HourlyPartitions(start="2026-01-01", tz="Europe/Brussels", fmt="%Y-%m-%d-%H:%M"),
     "add %z"),
    (lambda: DailyPartitions(start="2026-01-01", fmt="%Y-%m"), "does not read back"),
    (lambda: DailyPartitions(start="2026-01-01", fmt="%Y|%m|%d"), "without , ; | *"),
    (lambda: DailyPartitions(start="2026-01-01", end_offset=1.5), "end_offset"),
    (lambda: DynamicPartitions("my customers"), "not an identifier"),
    (lambda: MultiPartitions(), "at least one dimension"),
    (lambda: MultiPartitions(a=MultiPartitions(b=StaticPartitions(["x"]))), "other than Multi"),
    (lambda: parse_partitions("yearly:2026"), "not understood"),
])
def test_bad_definitions(make, words) -> None:
    with pytest.raises(PartitionError) as info:
        make()
    assert words in str(info.value)


@pytest.mark.parametrize(("selection", "expected"), [
    ("2026-01-05", [D(2026, 1, 5)]),
    ("2026-01-05...2026-01-07", [D(2026, 1, 5), D(2026, 1, 6), D(2026, 1, 7)]),
    ("2026-01-07, 2026-01-05 ... 2026-01-06", [D(2026, 1, 5), D(2026, 1, 6), D(2026, 1, 7)]),
    ("2026-02-2*", [D(2026, 2, d) for d in range(20, 29)]),
    (["2026-01-03", D(2026, 1, 1), "2026-01-03"], [D(2026, 1, 1), D(2026, 1, 3)]),
    (D(2026, 1, 2), [D(2026, 1, 2)]),
    ("*", [D(2026, 1, 1) + dt.timedelta(i) for i in range(59)]),
    ([], []),
])
def test_select_daily(selection, expected) -> None:
    assert DailyPartitions(start="2026-01-01").select(selection, NOW) == expected


@pytest.mark.parametrize(("selection", "words"), [
    ("2026-01-07...2026-01-05", "runs backwards; write it as '2026-01-05...2026-01-07'"),
    ("2027-*", "matches no key"),
    ("2026-01-01,,2026-01-02", "has an empty item"),
    ("2026-01-01...2026-04-01", "after the last key"),
    (42, "is not a key"),
])
def test_bad_selections(selection, words) -> None:
    with pytest.raises(PartitionError) as info:
        DailyPartitions(start="2026-01-01").select(selection, NOW)
    assert words in str(info.value)


@pytest.mark.parametrize(("keys", "text"), [
    ([], ""),
    (["2026-01-01"], "2026-01-01"),
    (["2026-01-01", "2026-01-02"], "2026-01-01, 2026-01-02"),
    (["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-05"], "2026-01-01...2026-01-03, 2026-01-05"),
    ([f"2026-01-{d:02d}" for d in range(1, 32)] + [f"2026-02-{d:02d}" for d in range(1, 29)],
     "2026-01-01...2026-02-28"),
])
def test_render_ranges(keys, text) -> None:
    d = DailyPartitions(start="2026-01-01")
    assert d.render_ranges(keys, NOW) == text
    assert d.select(text, NOW) == [d.parse_key(k) for k in keys] if text else True
    runs = d.ranges(keys, NOW)
    assert sum(d.index(b, NOW) - d.index(a, NOW) + 1 for a, b in runs) == len(keys)


def test_static_order_and_ranges() -> None:
    s = StaticPartitions(["c", "a", "b", "d"])
    assert s.select("d, c", NOW) == ["c", "d"]
    assert s.select("a...d") == ["a", "b", "d"]
    assert s.render_ranges(["d", "a", "c", "b"]) == "c...d"
    assert s.ranges(["c", "b", "d"]) == [("c", "c"), ("b", "d")]
    assert s == StaticPartitions(["c", "a", "b", "d"]) != StaticPartitions(["a", "b", "c", "d"])


def test_dynamic_keys_come_from_the_provider() -> None:
    d = DynamicPartitions("customers")
    with pytest.raises(PartitionError, match="keeps its keys in the store"):
        d.keys()
    assert d.keys(dynamic={"customers": ["acme", "zeta", "acme"]}) == ["acme", "zeta"]
    assert d.keys(dynamic={}) == []
    assert d.select("a*", dynamic=lambda name: ["acme", "bolt", "apex"]) == ["acme", "apex"]
    with pytest.raises(PartitionError, match="it has no keys yet"):
        d.key("acme", dynamic={})
    assert d.needs_dynamic and d == DynamicPartitions("customers") != DynamicPartitions("x")
    assert check_key_text("Acme Inc.") == "Acme Inc."


MULTI = MultiPartitions(region=StaticPartitions(["eu", "us", "ap"]),
                        day=DailyPartitions(start="2026-01-01"))


@pytest.mark.parametrize(("selection", "count", "first"), [
    ({"region": "eu"}, 59, MultiKey(region="eu", day=D(2026, 1, 1))),
    ({"region": "eu, us", "day": "2026-01-*"}, 62, MultiKey(region="eu", day=D(2026, 1, 1))),
    ("region=us|day=2026-02-01...2026-02-03", 3, MultiKey(region="us", day=D(2026, 2, 1))),
    ("day=2026-02-01|region=us", 1, MultiKey(region="us", day=D(2026, 2, 1))),
    ("day=2026-01-02", 3, MultiKey(region="eu", day=D(2026, 1, 2))),
    ("region=ap|day=2026-01-01; region=eu|day=2026-01-01", 2,
     MultiKey(region="eu", day=D(2026, 1, 1))),
    ([MultiKey(day=D(2026, 1, 1), region="ap")], 1, MultiKey(region="ap", day=D(2026, 1, 1))),
    ("*", 177, MultiKey(region="eu", day=D(2026, 1, 1))),
])
def test_select_multi(selection, count, first) -> None:
    got = MULTI.select(selection, NOW)
    assert len(got) == count == len(set(got)) and got[0] == first
    assert MULTI.select(MULTI.render_ranges(got, NOW), NOW) == got


def test_multi_keys_forms_and_windows() -> None:
    keys = MULTI.keys(NOW)
    assert len(keys) == 3 * 59 and keys[59] == {"region": "us", "day": D(2026, 1, 1)}
    k = MultiKey({"day": D(2026, 1, 5), "region": "us"})
    assert k == MultiKey(region="us", day=D(2026, 1, 5)) == {"region": "us", "day": D(2026, 1, 5)}
    assert hash(k) == hash(MultiKey(region="us", day=D(2026, 1, 5)))
    assert k != MultiKey(region="eu", day=D(2026, 1, 5)) and len({k, MultiKey(dict(k))}) == 1
    assert MULTI.format_key(k) == "region=us|day=2026-01-05"
    assert MULTI.parse_key("region=us|day=2026-01-05") == k
    assert MULTI.index(k, NOW) == 59 + 4 and keys[MULTI.index(k, NOW)] == k
    assert MULTI.time_window(k)[0] == dt.datetime(2026, 1, 5, tzinfo=UTC)
    render = MULTI.render_ranges(MULTI.select({"region": "eu,ap"}, NOW), NOW)
    assert render == "region=eu, ap|day=2026-01-01...2026-02-28"
    for bad in ("region=us", "region=us|day=2026-01-05|region=eu", "zone=x|day=2026-01-05",
                "region=us|day=2026-13-05"):
        with pytest.raises(PartitionError):
            MULTI.parse_key(bad)
    with pytest.raises(PartitionError, match="Dimension 'region'"):
        MULTI.key({"region": "mars", "day": "2026-01-05"}, NOW)
    with pytest.raises(PartitionError, match="has no dimension 'zone'"):
        MULTI.select({"zone": "x"}, NOW)


def test_three_dimensions() -> None:
    m = MultiPartitions(a=StaticPartitions(["1", "2"]), b=StaticPartitions(["x", "y", "z"]),
                        c=DynamicPartitions("c"))
    keys = m.keys(dynamic={"c": ["p", "q"]})
    assert len(keys) == 12 and keys[-1] == {"a": "2", "b": "z", "c": "q"}
    pick = m.select({"b": "x...y", "c": "q"}, dynamic={"c": ["p", "q"]})
    assert m.render_ranges(pick, dynamic={"c": ["p", "q"]}) == "a=1, 2|b=x, y|c=q"


@pytest.mark.parametrize(("text", "expected"), [
    ("daily:2026-01-01", DailyPartitions(start="2026-01-01")),
    ("daily:2026-01-01@Europe/Brussels", DailyPartitions(start="2026-01-01", tz="Europe/Brussels")),
    ("hourly:2026-01-01-06:00", HourlyPartitions(start="2026-01-01T06:00")),
    ("weekly:2026-01-04", WeeklyPartitions(start="2026-01-04")),
    ("monthly:2026-01-01", MonthlyPartitions(start="2026-01-01")),
    ("static:a, b,c", StaticPartitions(["a", "b", "c"])),
    ("dynamic:customers", DynamicPartitions("customers")),
])
def test_parse_partitions(text, expected) -> None:
    assert parse_partitions(text) == expected
    assert hash(parse_partitions(text)) == hash(expected)


def test_equal_definitions_and_descriptions() -> None:
    assert DailyPartitions(start="2026-01-01") == TimeWindowPartitions(cron="0 0 * * *",
                                                                       start=D(2026, 1, 1))
    assert DailyPartitions(start="2026-01-01") != DailyPartitions(start="2026-01-02")
    assert DailyPartitions(start="2026-01-01") != HourlyPartitions(start="2026-01-01")
    assert repr(DailyPartitions(start="2026-01-01", tz="Europe/Brussels")) == \
        "DailyPartitions(start='2026-01-01', tz='Europe/Brussels')"
    assert DailyPartitions(start="2026-01-01").to_dict() == {
        "kind": "time_window", "cron": "0 0 * * *", "tz": "UTC",
        "start": "2026-01-01T00:00:00+00:00", "end": None, "end_offset": 0, "fmt": "%Y-%m-%d"}
    assert MULTI.to_dict()["dimensions"]["region"] == {"kind": "static", "keys": ["eu", "us", "ap"]}


def test_keys_sequence_is_lazy_and_exact() -> None:
    h = HourlyPartitions(start="2015-01-01")
    keys = h.keys(NOW)
    assert len(keys) == (NOW.replace(hour=12) - dt.datetime(2015, 1, 1, tzinfo=UTC)) // \
        dt.timedelta(hours=1)
    assert keys[-1] == dt.datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert keys[1000:1003] == [dt.datetime(2015, 2, 11, 16 + i, tzinfo=UTC) for i in range(3)]
    assert dt.datetime(2020, 1, 1, tzinfo=UTC) in keys and "2020-01-01-00:00" in keys
    assert keys.index(dt.datetime(2015, 1, 1, 5, tzinfo=UTC)) == 5
    assert h.key_strings(NOW)[-1] == "2026-03-01-11:00"
    with pytest.raises(IndexError):
        keys[len(keys)]
