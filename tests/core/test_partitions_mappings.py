"""Partition mappings: case tables, defaults, errors, and self-dependency."""

from __future__ import annotations

import datetime as dt

import pytest

from nbflow.core.partition_mappings import (
    AllPartitions,
    DimensionMapping,
    FunctionMapping,
    IdentityMapping,
    LastPartition,
    StaticMapping,
    TimeWindowMapping,
    resolve_mapping,
    upstream_partitions,
)
from nbflow.core.partitions import DynamicPartitions, MultiKey, StaticPartitions
from nbflow.core.partitions_multi import MultiPartitions
from nbflow.core.time_windows import DailyPartitions, HourlyPartitions, WeeklyPartitions
from nbflow.errors import PartitionError

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
D = dt.date
DAILY = DailyPartitions(start="2026-01-01")
HOURLY = HourlyPartitions(start="2026-01-01")
WEEKLY = WeeklyPartitions(start="2026-01-01")
REGIONS = StaticPartitions(["eu", "us"])
MULTI = MultiPartitions(region=REGIONS, day=DAILY)


@pytest.mark.parametrize(("down", "up", "mapping", "expected"), [
    (DAILY, DAILY, None, IdentityMapping()),
    (DAILY, DailyPartitions(start="2026-01-01"), None, IdentityMapping()),
    (DAILY, HOURLY, None, TimeWindowMapping()),
    (DAILY, DailyPartitions(start="2025-01-01"), None, TimeWindowMapping()),
    (None, DAILY, None, AllPartitions()),
    (DAILY, None, None, None),
    (MULTI, DAILY, None, DimensionMapping("day")),
    (REGIONS, MULTI, None, DimensionMapping("region")),
    (DAILY, REGIONS, AllPartitions(), AllPartitions()),
    (DAILY, REGIONS, AllPartitions, AllPartitions()),
])
def test_resolve_mapping(down, up, mapping, expected) -> None:
    assert resolve_mapping(down, up, mapping) == expected


@pytest.mark.parametrize(("down", "up"), [
    (DAILY, REGIONS), (REGIONS, StaticPartitions(["eu"])), (REGIONS, DynamicPartitions("r")),
    (MULTI, MultiPartitions(region=REGIONS, day=HOURLY)),
])
def test_mismatched_definitions_need_a_mapping(down, up) -> None:
    with pytest.raises(PartitionError) as info:
        resolve_mapping(down, up, asset="orders", upstream_asset="raw")
    msg = str(info.value)
    assert "Asset 'orders'" in msg and "'raw'" in msg and "pass a mapping" in msg
    assert repr(down) in msg and repr(up) in msg and info.value.asset == "orders"


@pytest.mark.parametrize(("key", "down", "up", "mapping", "expected"), [
    ("2026-01-05", DAILY, DAILY, None, [D(2026, 1, 5)]),
    ("2026-01-05", DAILY, DAILY, TimeWindowMapping(-1, -1), [D(2026, 1, 4)]),
    ("2026-01-01", DAILY, DAILY, TimeWindowMapping(-1, -1), []),
    ("2026-01-05", DAILY, DAILY, TimeWindowMapping(-2, 0),
     [D(2026, 1, 3), D(2026, 1, 4), D(2026, 1, 5)]),
    ("2026-02-28", DAILY, DAILY, TimeWindowMapping(0, 1), [D(2026, 2, 28)]),
    ("2026-01-05", DAILY, HOURLY, None,
     [dt.datetime(2026, 1, 5, h, tzinfo=UTC) for h in range(24)]),
    ("2026-01-05-07:00", HOURLY, DAILY, None, [D(2026, 1, 5)]),
    ("2026-01-11", WEEKLY, DAILY, None, [D(2026, 1, d) for d in range(11, 18)]),
    ("2026-01-07", DAILY, WEEKLY, None, [D(2026, 1, 4)]),
    ("2026-01-03", DAILY, WEEKLY, None, []),  # before the first week
    (None, None, DAILY, LastPartition(), [D(2026, 2, 28)]),
    ("eu", REGIONS, DAILY, LastPartition(), [D(2026, 2, 28)]),
    ("eu", REGIONS, StaticPartitions(["fr", "de", "ny"]), StaticMapping({"eu": ["fr", "de"],
                                                                        "us": "ny"}),
     ["fr", "de"]),
    ("us", REGIONS, StaticPartitions(["fr", "de", "ny"]), StaticMapping({"eu": [], "us": "ny"}),
     ["ny"]),
    (MultiKey(region="us", day=D(2026, 1, 5)), MULTI, DAILY, None, [D(2026, 1, 5)]),
    ({"region": "us", "day": "2026-01-05"}, MULTI, MULTI,
     DimensionMapping("day", TimeWindowMapping(-1, -1)),
     [MultiKey(region="us", day=D(2026, 1, 4))]),
    ("region=us|day=2026-01-05", MULTI, REGIONS, DimensionMapping("region"), ["us"]),
    ("2026-01-05", DAILY, MULTI, DimensionMapping("day"),
     [MultiKey(region="eu", day=D(2026, 1, 5)), MultiKey(region="us", day=D(2026, 1, 5))]),
    ("eu", REGIONS, MULTI, None, [MultiKey(region="eu", day=D(2026, 1, 1) + dt.timedelta(i))
                                  for i in range(59)]),
    ("2026-01-05", DAILY, DAILY, lambda d: [d - dt.timedelta(1), "2026-01-01", d],
     [D(2026, 1, 1), D(2026, 1, 4), D(2026, 1, 5)]),
    ("2026-01-05", DAILY, REGIONS, lambda d: "eu" if d.day % 2 else "us", ["eu"]),
    ("2026-01-05", DAILY, REGIONS, lambda d: None, []),
])
def test_upstream_partitions(key, down, up, mapping, expected) -> None:
    assert upstream_partitions(key, down, up, mapping, now=NOW) == expected


def test_unpartitioned_downstream_reads_every_partition() -> None:
    assert upstream_partitions(None, None, DAILY, now=NOW) == list(DAILY.keys(NOW))
    assert upstream_partitions(None, None, DynamicPartitions("c"),
                               dynamic={"c": ["a", "b"]}) == ["a", "b"]


@pytest.mark.parametrize(("key", "down", "up", "mapping", "words"), [
    ("2026-01-05", DAILY, REGIONS, lambda d: "asia",
     "The mapping FunctionMapping("),
    ("2026-01-05", DAILY, DAILY, lambda d: "2027-01-01",
     "returned '2027-01-01' for partition '2026-01-05', which is not a partition of 'raw'"),
    ("2026-01-05", DAILY, DAILY, lambda d: 42, "returned '42'"),
    ("ap", REGIONS, REGIONS, None, "Asset 'orders': Partition key 'ap' is not a key"),
    ("2026-01-02", DailyPartitions(start="2026-01-01"), DailyPartitions(start="2026-01-03"),
     IdentityMapping(), "before the first key '2026-01-03'"),
    ("2026-01-01", DAILY, DAILY, TimeWindowMapping(-1, -1, allow_missing=False),
     "reads upstream window '2025-12-31'"),
    ("eu", REGIONS, REGIONS, StaticMapping({"us": "us"}),
     "has no entry for downstream partition 'eu'"),
    ("eu", REGIONS, DAILY, TimeWindowMapping(), "maps between time-window partitions"),
    ("eu", REGIONS, DAILY, DimensionMapping("day"), "needs MultiPartitions on one side"),
])
def test_mapping_errors_name_asset_key_and_fix(key, down, up, mapping, words) -> None:
    with pytest.raises(PartitionError) as info:
        upstream_partitions(key, down, up, mapping, asset="orders", upstream_asset="raw",
                            now=NOW)
    msg = str(info.value)
    assert words in msg and "'orders'" in msg and info.value.asset == "orders"


def test_self_dependency_chain_walks_back_to_the_first_day() -> None:
    yesterday = TimeWindowMapping(start_offset=-1, end_offset=-1)
    key, chain = D(2026, 2, 28), []
    while True:
        chain.append(key)
        up = upstream_partitions(key, DAILY, DAILY, yesterday, asset="balance",
                                 upstream_asset="balance", now=NOW)
        if not up:
            break
        (key,) = up
    assert chain == list(reversed(DAILY.keys(NOW)))


def test_mappings_compare_by_value() -> None:
    assert TimeWindowMapping(-1, -1) == TimeWindowMapping(start_offset=-1, end_offset=-1)
    assert TimeWindowMapping(-1, -1) != TimeWindowMapping(-1, 0)
    assert StaticMapping({"a": "b"}) == StaticMapping({"a": ["b"]})
    assert repr(TimeWindowMapping(-1, -1)) == \
        "TimeWindowMapping(start_offset=-1, end_offset=-1, allow_missing=True)"
    assert isinstance(resolve_mapping(DAILY, DAILY, lambda k: k), FunctionMapping)
    with pytest.raises(PartitionError, match="whole number"):
        TimeWindowMapping(0.5)
