"""Partitioned runs on SQLite and PostgreSQL: steps per partition, context keys, CACHED, self-dependency,
unpartitioned readers, mapping errors, dynamic keys from two processes, status summaries."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

import nbflow as nf
from nbflow.core.states import State
from nbflow.errors import PartitionError
from nbflow.session import Session

DAYS = nf.DailyPartitions(start="2026-01-01", end="2026-01-11")


@pytest.fixture
def chain(session: Session) -> Session:
    reg = session.registry

    @nf.asset(partitions=DAYS, registry=reg)
    def raw() -> dict:
        c = nf.context()
        return {"key": c.partition_key, "window": c.partition_time_window}

    @nf.asset(partitions=DAYS, registry=reg)
    def orders(raw: dict) -> int:
        return raw["key"].day

    @nf.asset(registry=reg)
    def total(orders: dict) -> int:
        return sum(orders.values())

    return session


def test_one_partition_runs_one_step_per_asset_with_typed_context(chain: Session) -> None:
    r = chain.materialize("raw+", partition="2026-01-05")
    assert r.ok, r.errors
    assert set(r.states) == {"raw[2026-01-05]", "orders[2026-01-05]", "total"}
    got = chain.load("raw", partition=dt.date(2026, 1, 5))
    assert got["key"] == dt.date(2026, 1, 5)
    start, end = got["window"]
    assert start == dt.datetime(2026, 1, 5, tzinfo=dt.UTC) and end - start == dt.timedelta(days=1)
    assert chain.load("orders[2026-01-05]") == 5
    assert chain.load("total") == 5  # the partitions that exist, as key -> value


@pytest.mark.parametrize(("kwargs", "steps"), [
    ({"partitions": "2026-01-02...2026-01-04"}, 3),
    ({"partitions": ["2026-01-01", "2026-01-10"]}, 2),
    ({"partitions": "2026-01-0*"}, 9),
    ({}, 10),
])
def test_partition_selections(chain: Session, kwargs: dict, steps: int) -> None:
    r = chain.materialize("raw", **kwargs)
    assert r.ok and len(r.states) == steps


def test_fresh_partitions_are_cached_and_a_code_change_makes_them_stale(chain: Session) -> None:
    assert chain.materialize("*").ok
    again = chain.materialize("*")
    assert set(again.states.values()) == {State.CACHED}
    [raw, _orders, total] = chain.status()
    assert raw.status == "fresh" and raw.partitions.counts["fresh"] == 10
    assert raw.partitions.latest == "2026-01-10"
    assert total.status == "fresh"


def test_failed_partition_counts_and_ranges(session: Session) -> None:
    s = session
    reg = s.registry

    @nf.asset(partitions=DAYS, registry=reg)
    def flaky() -> int:
        if nf.context().partition_key == dt.date(2026, 1, 4):
            raise ValueError("bad day")
        return 1

    r = s.materialize("flaky", partitions="2026-01-01...2026-01-05")
    assert r.states["flaky[2026-01-04]"] is State.FAILED
    [st] = s.status("flaky")
    assert st.status == "failed"
    assert st.partitions.counts == {"failed": 1, "stale": 0, "missing": 5, "fresh": 4}
    assert st.partitions.ranges() == {"failed": "2026-01-04", "missing": "2026-01-06...2026-01-10",
                                      "fresh": "2026-01-01...2026-01-03, 2026-01-05"}
    assert [a.name for a in s.status("status:failed")] == ["flaky"]
    assert s.status("status:stale") == []


def test_self_dependency_reads_yesterday(session: Session) -> None:
    s = session
    reg = s.registry

    @nf.asset(partitions=DAYS, partition_mapping={"total": nf.TimeWindowMapping(-1, -1)},
              registry=reg)
    def total(total: dict | None = None) -> int:
        return 1 + sum((total or {}).values())

    assert s.materialize("total").ok
    assert s.load("total", partition="2026-01-10") == 10


def test_mismatched_definitions_without_mapping_name_both_assets(session: Session) -> None:
    reg = session.registry

    @nf.asset(partitions="static:eu,us", registry=reg)
    def region() -> int:
        return 1

    @nf.asset(partitions=DAYS, registry=reg)
    def daily(region: int) -> int:
        return region

    with pytest.raises(PartitionError, match="'daily'.*'region'.*pass a mapping"):
        reg.graph()


def test_unknown_partition_key_is_refused(chain: Session) -> None:
    with pytest.raises(PartitionError, match="'raw'.*2027-01-01"):
        chain.materialize("raw", partition="2027-01-01")


_ADD = """
import sys, nbflow as nf
from nbflow.session import Session
from nbflow.settings import Settings
s = Session(Settings.resolve(env={"NBFLOW_HOME": sys.argv[1], "NBFLOW_DATABASE_URL": sys.argv[2]}))
for i in range(40):
    s.partitions("customers").add([f"c{i}", "shared"])
"""


def test_dynamic_keys_added_from_two_processes_at_once(session: Session, home: Path,
                                                        store_url: str) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _ADD, str(home), store_url]) for _ in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    s = session
    keys = s.partitions("customers").keys()
    assert sorted(keys) == sorted({f"c{i}" for i in range(40)} | {"shared"})
    assert s.partitions("customers").add(["c7", "new", "shared"]) == ["new"]  # only the new ones
    assert s.partitions("customers").remove(["shared", "nope"]) == ["shared"]
    keys_after = s.partitions("customers").keys()
    assert "shared" not in keys_after and len(keys_after) == 41


def test_dynamic_partitions_run_over_store_keys(session: Session) -> None:
    s = session
    reg = s.registry

    @nf.asset(partitions=nf.DynamicPartitions("customers"), registry=reg)
    def per_customer() -> str:
        return nf.context().partition_key.upper()

    s.partitions("customers").add(["acme", "globex"])
    r = s.materialize("per_customer")
    assert set(r.states) == {"per_customer[acme]", "per_customer[globex]"}
    assert s.load("per_customer", partition="acme") == "ACME"
