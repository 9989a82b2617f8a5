"""Backfills on SQLite and PostgreSQL: the durable plan, one run per partition or one for all,
cancel and resume in the same backfill, a dead runner's steps settled, bad input."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

import nbflow as nf
from nbflow.errors import NbflowError, NotFoundError, PartitionError
from nbflow.session.backfills import (
    Backfill,
    cancel_backfill,
    owner_gone,
    plan_backfill,
    reconcile,
    resume_backfill,
    run_backfill,
    submit_backfill,
)
from nbflow.store.backfills import RUNNING

DAILY = nf.DailyPartitions(start="2026-01-01")


def chain(registry: Any, calls: Counter | None = None, gate: Any = None) -> None:
    @nf.asset(partitions=DAILY, registry=registry)
    def raw() -> int:
        key = nf.context().partition_key
        if calls is not None:
            calls[("raw", str(key))] += 1
        if gate is not None:
            gate(str(key))
        return key.day

    @nf.asset(partitions=DAILY, registry=registry)
    def clean(raw: int) -> int:
        if calls is not None:
            calls[("clean", str(nf.context().partition_key))] += 1
        return raw * 2

    @nf.asset(partitions=DAILY, registry=registry)
    def report(clean: int) -> int:
        if calls is not None:
            calls[("report", str(nf.context().partition_key))] += 1
        return clean + 1


def materialised(session: Any) -> Counter:
    """(asset, partition) -> how many MATERIALIZATION events the store holds for it."""
    seen: Counter = Counter()
    after = 0
    while True:
        batch = session.store.events_after(after, kinds=["MATERIALIZATION"])
        if not batch:
            return seen
        for e in batch:
            asset, _, rest = e.step.partition("[")
            seen[(asset, rest.rstrip("]"))] += 1
        after = batch[-1].id


def test_the_plan_is_written_before_anything_runs_and_dry_run_writes_nothing(session: Any) -> None:
    chain(session.registry)
    plan = nf.backfill("raw+", partitions="2026-01-01...2026-01-10", dry_run=True)
    assert len(plan.steps) == 30 and plan.batches == 10
    assert "30 step(s) in 10 runs (per_partition)" in plan.describe()
    assert "run 1: raw, clean, report for 2026-01-01" in plan.describe()
    assert session.store.backfills.recent() == []
    bf = nf.backfill("raw+", partitions="2026-01-01...2026-01-10", submit=True)
    assert bf.state == "REQUESTED" and bf.counts() == {"PENDING": 30}
    assert session.store.runs(limit=10) == []  # nothing ran: the daemon would
    assert [(s.asset, s.partition, s.batch) for s in bf.steps()[:3]] == [
        ("raw", "2026-01-01", 0), ("clean", "2026-01-01", 0), ("report", "2026-01-01", 0)]


def test_per_partition_runs_one_run_per_day_and_each_step_once(session: Any) -> None:
    calls: Counter = Counter()
    chain(session.registry, calls)
    bf = nf.backfill("raw+", partitions="2026-01-01...2026-01-31")
    assert bf.state == "SUCCEEDED" and bf.counts() == {"SUCCEEDED": 93}
    assert set(calls.values()) == {1} and len(calls) == 93
    assert set(materialised(session).values()) == {1} and len(materialised(session)) == 93
    assert len({s.run_id for s in bf.steps()}) == 31
    assert nf.load("report", partition="2026-01-17") == 35
    # again: everything fresh, so every step is CACHED, and the backfill still succeeds
    again = nf.backfill("raw+", partitions="2026-01-01...2026-01-31")
    assert again.state == "SUCCEEDED" and len(calls) == 93 and set(calls.values()) == {1}


def test_single_run_and_max_partitions_per_run(session: Any) -> None:
    chain(session.registry)
    one = nf.backfill("raw+", partitions="2026-02-01...2026-02-28", policy="single_run")
    assert one.state == "SUCCEEDED" and len({s.run_id for s in one.steps()}) == 1
    four = nf.backfill("raw+", partitions="2026-03-01...2026-03-10", max_partitions_per_run=4,
                       force=True)
    assert four.state == "SUCCEEDED" and len({s.run_id for s in four.steps()}) == 3  # 4 + 4 + 2


def test_a_failing_partition_fails_the_backfill_and_resume_runs_only_what_did_not_succeed(
        session: Any) -> None:
    calls: Counter = Counter()
    broken = {"2026-01-03"}

    def gate(key: str) -> None:
        if key in broken:
            raise ValueError(f"no data for {key}")

    chain(session.registry, calls, gate)
    bf = nf.backfill("raw+", partitions="2026-01-01...2026-01-05")
    assert bf.state == "FAILED"
    assert bf.counts() == {"SUCCEEDED": 12, "FAILED": 1, "SKIPPED": 2}
    assert "3 of 15 step(s) did not succeed (1 failed, 2 skipped)" in bf.row.error
    broken.clear()
    bf.resume()
    assert bf.state == "SUCCEEDED" and bf.counts() == {"SUCCEEDED": 15}
    assert calls[("raw", "2026-01-03")] == 2 and calls[("raw", "2026-01-02")] == 1
    assert calls[("report", "2026-01-03")] == 1
    assert len(session.store.backfills.recent()) == 1  # the same backfill, not a new one


def test_cancel_stops_new_runs_at_once_and_resume_finishes_the_rest_once_each(session: Any) -> None:
    calls: Counter = Counter()
    reached = threading.Event()

    def gate(key: str) -> None:
        if key == "2026-01-04":
            reached.set()
            time.sleep(0.6)

    chain(session.registry, calls, gate)
    plan = plan_backfill(session, "raw+", "2026-01-01...2026-01-20")
    backfill_id = submit_backfill(session, plan)
    runner = threading.Thread(target=run_backfill, args=(session, backfill_id))
    runner.start()
    assert reached.wait(30)
    assert cancel_backfill(session, backfill_id) == "CANCELING"
    runner.join(30)
    bf = Backfill(session, backfill_id)
    assert bf.state == "CANCELLED"
    counts = bf.counts()
    assert counts["SUCCEEDED"] < 60 and counts["SUCCEEDED"] + counts["CANCELLED"] == 60
    assert max(k for (a, k) in calls) <= "2026-01-05"  # no new run after the cancel
    assert resume_backfill(session, backfill_id) == counts["CANCELLED"]
    run_backfill(session, backfill_id)
    assert bf.state == "SUCCEEDED" and bf.counts() == {"SUCCEEDED": 60}
    assert set(materialised(session).values()) == {1} and len(materialised(session)) == 60


def test_a_dead_runners_running_steps_are_settled_from_what_its_run_committed(session: Any) -> None:
    chain(session.registry)
    plan = plan_backfill(session, "raw+", "2026-01-01...2026-01-02")
    backfill_id = submit_backfill(session, plan)
    tables = session.store.backfills
    # a runner claimed it, started batch 0 and committed raw and clean of its run, then died
    assert tables.claim(tables.get(backfill_id), "elsewhere:1")
    run_id = "deadbeef00000001"
    tables.start_batch(backfill_id, 0, run_id)
    session.materialize(["raw", "clean"], partitions=["2026-01-01"], run_id=run_id)
    row = tables.get(backfill_id)
    assert row.state == RUNNING and owner_gone(row, timeout=0.0)
    assert not owner_gone(row, timeout=3600.0)  # another host, still beating: not gone
    assert reconcile(session, tables, backfill_id) == 2
    states = {(s.asset, s.partition): s.state for s in tables.steps(backfill_id)}
    assert states[("raw", "2026-01-01")] == "SUCCEEDED" and states[("report", "2026-01-01")] == "PENDING"
    with pytest.raises(NbflowError, match="is being run by elsewhere:1"):
        run_backfill(session, backfill_id)


def test_bad_input_names_the_thing_and_the_fix(session: Any) -> None:
    chain(session.registry)

    @nf.asset(partitions=nf.HourlyPartitions(start="2026-01-01-00:00"), registry=session.registry)
    def hourly() -> int:
        return 1

    @nf.asset(registry=session.registry)
    def plain() -> int:
        return 1

    with pytest.raises(NbflowError, match="Unknown backfill policy 'sometimes'"):
        nf.backfill("raw", partitions="2026-01-01", policy="sometimes")
    with pytest.raises(NbflowError, match="max_partitions_per_run must be a whole number"):
        nf.backfill("raw", partitions="2026-01-01", max_partitions_per_run=0)
    with pytest.raises(PartitionError, match="needs partitions="):
        nf.backfill("raw", partitions=None)
    with pytest.raises(PartitionError, match="Nothing in 'plain' is partitioned"):
        nf.backfill("plain", partitions="*")
    with pytest.raises(PartitionError, match="2026-13-01"):
        nf.backfill("raw", partitions="2026-13-01")
    with pytest.raises(PartitionError, match="different partitions"):
        nf.backfill(["raw", "hourly"], partitions="*", max_partitions_per_run=2)
    with pytest.raises(NotFoundError, match="There is no backfill 'nope'"):
        _ = Backfill(session, "nope").state
    done = nf.backfill("raw", partitions="2026-01-01")
    with pytest.raises(NbflowError, match="nothing to cancel"):
        done.cancel()
    with pytest.raises(NbflowError, match="succeeded; every step is done"):
        done.resume()
    assert len(session.store.backfills.recent()) == 1  # refused ones wrote nothing
