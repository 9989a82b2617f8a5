"""single_call assets: a run's partitions of the asset go to one call (what a single_run backfill
needs), with the keys, the range and the spanning window in the context; each key's value is
stored and checked as its own partition; failures, caching and bad definitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import nbflow as nf
from nbflow.errors import DefinitionError

DAYS = nf.DailyPartitions(start="2026-01-01")
UTC = dt.UTC


def define(registry: Any, calls: list, *, returns: Any = None, fails: bool = False) -> None:
    @nf.asset(partitions=DAYS, registry=registry)
    def raw() -> int:
        return nf.context().partition_key.day

    @nf.asset(registry=registry)
    def rate() -> int:
        return 10

    @nf.asset(partitions=DAYS, single_call=True, registry=registry,
              checks=[nf.check(lambda v: v < 300, name="small")])
    def wide(raw: dict, rate: int) -> Any:
        c = nf.context()
        calls.append({"keys": c.partition_keys, "range": c.partition_range,
                      "window": c.partition_time_window, "raw": dict(raw), "key": c.partition_key})
        if fails:
            raise RuntimeError("the warehouse is down")
        if returns is not None:
            return returns(raw)
        return {k: v * rate for k, v in raw.items()}

    @nf.asset(partitions=DAYS, registry=registry)
    def after(wide: int) -> int:
        return wide + 1


@pytest.mark.parametrize("executor", ["inprocess", "threads"])
def test_one_call_for_the_runs_partitions_with_range_and_window(session: Any, executor: str) -> None:
    calls: list = []
    define(session.registry, calls)
    r = session.materialize("*", partitions="2026-01-03...2026-01-06", executor=executor)
    assert r.ok and r.summary() == {"SUCCEEDED": 13}
    [call] = calls
    days = [dt.date(2026, 1, d) for d in range(3, 7)]
    assert call["keys"] == tuple(days) and call["range"] == (days[0], days[-1])
    assert call["window"] == (dt.datetime(2026, 1, 3, tzinfo=UTC), dt.datetime(2026, 1, 7, tzinfo=UTC))
    assert call["raw"] == {d: d.day for d in days} and call["key"] is None
    assert session.load("wide", partition="2026-01-05") == 50
    assert session.load("after", partition="2026-01-06") == 61
    [s] = session.status("wide")
    assert s.partitions.counts["fresh"] == 4
    # again with two more days: the four fresh ones are CACHED, only the new two are called
    r = session.materialize("*", partitions="2026-01-03...2026-01-08", executor=executor)
    assert r.states["wide[2026-01-03]"].value == "CACHED"
    assert [c["keys"] for c in calls[1:]] == [(dt.date(2026, 1, 7), dt.date(2026, 1, 8))]


def test_a_single_run_backfill_calls_once_and_per_partition_once_a_day(session: Any) -> None:
    calls: list = []
    define(session.registry, calls)
    bf = nf.backfill("*", partitions="2026-02-01...2026-02-10", policy="single_run")
    assert bf.state == "SUCCEEDED" and len(calls) == 1 and len(calls[0]["keys"]) == 10
    nf.backfill("*", partitions="2026-03-01...2026-03-03")
    assert [len(c["keys"]) for c in calls[1:]] == [1, 1, 1]


def test_a_failing_call_fails_every_partition_and_skips_downstream(session: Any) -> None:
    define(session.registry, [], fails=True)
    r = session.materialize("*", partitions="2026-01-01...2026-01-03")
    assert {r.states[f"wide[2026-01-0{d}]"].value for d in (1, 2, 3)} == {"FAILED"}
    assert {r.states[f"after[2026-01-0{d}]"].value for d in (1, 2, 3)} == {"SKIPPED"}
    assert "RuntimeError: the warehouse is down" in r.errors["wide[2026-01-02]"]["message"]
    assert "the warehouse is down" in r.errors["wide[2026-01-02]"]["traceback"]


@pytest.mark.parametrize(("returns", "words"), [
    (lambda raw: [1, 2, 3], "returned list; it must return a dict with one value per partition key"),
    (lambda raw: {k: 1 for k in list(raw)[:2]}, "returned no value for partition(s) 2026-01-03"),
])
def test_a_wrong_return_names_the_asset_and_the_fix(session: Any, returns: Any, words: str) -> None:
    define(session.registry, [], returns=returns)
    r = session.materialize("*", partitions="2026-01-01...2026-01-03")
    assert not r.ok and words in r.errors["wide[2026-01-01]"]["message"]
    assert "'wide'" in r.errors["wide[2026-01-01]"]["message"]


def test_keys_may_come_back_as_text_and_checks_run_per_partition(session: Any) -> None:
    define(session.registry, [], returns=lambda raw: {k.isoformat(): (500 if k.day == 2 else 1) for k in raw})
    r = session.materialize("*", partitions="2026-01-01...2026-01-03")
    assert r.states["wide[2026-01-01]"].value == "SUCCEEDED"
    assert r.states["wide[2026-01-02]"].value == "FAILED"  # its value failed the blocking check
    assert "Check 'small' failed" in r.errors["wide[2026-01-02]"]["message"]
    assert r.states["after[2026-01-02]"].value == "SKIPPED" and r.states["after[2026-01-03]"].value == "SUCCEEDED"


def test_bad_definitions_are_refused(session: Any) -> None:
    with pytest.raises(DefinitionError, match="single_call=True but no partitions"):
        @nf.asset(single_call=True, registry=session.registry)
        def flat() -> int:
            return 1
    with pytest.raises(DefinitionError, match="reads its own earlier partitions"):
        @nf.asset(partitions=DAYS, single_call=True, registry=session.registry,
                  partition_mapping={"total": nf.TimeWindowMapping(-1, -1)})
        def total(total: dict | None = None) -> dict:
            return {}
    assert "flat" not in session.registry and "total" not in session.registry
