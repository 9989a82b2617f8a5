"""SqlStore basics on SQLite and PostgreSQL: record/flush/read, run history and its filters, steps,
latest materialisations, last failures, crash sweeping; bad URLs give one clear line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from nbflow.core.events import (
    Event,
    EventKind,
    Materialized,
    RunFinished,
    RunStarted,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from nbflow.core.states import State
from nbflow.errors import StoreError
from nbflow.store.sql import SqlStore

T0 = time.time() - 3600.0  # an hour ago: finished runs in the past, ordered by their start


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = SqlStore(store_url, heartbeat_interval=60.0, heartbeat_timeout=30.0)
    yield s
    s.close()


def started(run_id: str, ts: float, **data: Any) -> Event:
    return Event(EventKind.RUN_STARTED, run_id, data=RunStarted(**{"kind": "assets", "name": run_id, **data}), ts=ts)


def finished(run_id: str, ts: float, state: State = State.SUCCEEDED, error: str | None = None) -> Event:
    return Event(EventKind.RUN_FINISHED, run_id, state=state, data=RunFinished(error=error), ts=ts)


def step(run_id: str, name: str, ts: float, state: State = State.SUCCEEDED, *,
         version: str | None = None, error: str | None = None, attempt: int = 1) -> list[Event]:
    evs = [Event(EventKind.STEP_STARTED, run_id, name, State.RUNNING,
                 StepStarted(attempt=attempt, kind="asset", upstream=[]), ts=ts)]
    if version is not None:
        evs.append(materialization(run_id, name, ts + 0.5, version))
    evs.append(Event(EventKind.STEP_FINISHED, run_id, name, state,
                     StepFinished(attempt=attempt, error=error), ts=ts + 1))
    return evs


def materialization(run_id: str, name: str, ts: float, version: str,
                    partition: str | None = None) -> Event:
    return Event(EventKind.MATERIALIZATION, run_id, name, None, Materialized(
        code_version="c1", data_version=version, input_versions={"up": "u1"},
        metadata={"rows": 3}, uri=f"/values/{name}.{version}.pkl", io="pickle",
        duration=0.25, partition=partition), ts=ts)


def record(store: SqlStore, *events: Event | list[Event]) -> None:
    for e in events:
        for one in (e if isinstance(e, list) else [e]):
            store.record(one)
    store.flush()


# ---------------------------------------------------------------------------------- record/flush
def test_flushed_events_are_visible_to_another_store(store: SqlStore, store_url: str) -> None:
    store.flush()  # nothing recorded yet: returns at once
    record(store, started("r1", T0), step("r1", "a", T0 + 1, version="v1"), finished("r1", T0 + 3))
    other = SqlStore(store_url)
    try:
        kinds = [(e.kind, e.step, e.state) for e in other.events("r1")]
        assert kinds == [(EventKind.RUN_STARTED, None, None),
                         (EventKind.STEP_STARTED, "a", State.RUNNING),
                         (EventKind.MATERIALIZATION, "a", None),
                         (EventKind.STEP_FINISHED, "a", State.SUCCEEDED),
                         (EventKind.RUN_FINISHED, None, State.SUCCEEDED)]
        mat = other.latest_materializations()["a"]
        assert (mat.run_id, mat.data_version, dict(mat.input_versions), dict(mat.metadata),
                mat.duration) == ("r1", "v1", {"up": "u1"}, {"rows": 3}, 0.25)
        assert mat.ts.timestamp() == pytest.approx(T0 + 1.5)
    finally:
        other.close()


def test_close_commits_what_was_recorded(store_url: str) -> None:
    s = SqlStore(store_url)
    for i in range(500):
        s.record(started(f"r{i}", T0 + i))
    s.close()
    other = SqlStore(store_url)
    try:
        assert len(other.runs(limit=1000, with_steps=False)) == 500
    finally:
        other.close()


@contextmanager
def writes_held(store_url: str) -> Iterator[None]:
    """Block every writer of the store (as another busy process would) until the block ends."""
    other = SqlStore(store_url)
    try:
        with other.begin() as conn:  # BEGIN IMMEDIATE on SQLite
            if other.dialect == "postgresql":
                conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
            yield
    finally:
        other.close()


def test_a_bad_event_is_reported_by_flush_and_loses_only_itself(store: SqlStore, store_url: str) -> None:
    broken = Event(EventKind.MATERIALIZATION, "r1", "a", None, Materialized(uri="x"), ts=T0 + 1)  # no versions
    with writes_held(store_url):  # so the good events and the bad one form one batch
        store.record(started("r0", T0))
        time.sleep(0.2)
        for e in (started("r1", T0 + 0.5), broken, step("r1", "b", T0 + 2, version="v")[1], finished("r1", T0 + 3)):
            store.record(e)
    with pytest.raises(StoreError, match="could not record events") as info:
        store.flush()
    assert "\n" not in str(info.value)
    assert [(e.kind, e.step) for e in store.events("r1")] == [
        (EventKind.RUN_STARTED, None), (EventKind.MATERIALIZATION, "b"), (EventKind.RUN_FINISHED, None)]
    assert set(store.latest_materializations()) == {"b"}
    record(store, started("r2", T0 + 5))  # the writer goes on
    assert [r.run_id for r in store.runs()] == ["r2", "r1", "r0"]


# ---------------------------------------------------------------------------------- run history
@pytest.fixture
def history(store: SqlStore) -> SqlStore:
    """Five finished runs an hour ago (r0 oldest) and one that is running now."""
    record(store,
           started("r0", T0), step("r0", "a", T0, version="v0"), finished("r0", T0 + 2),
           started("r1", T0 + 10, deployment="daily"), finished("r1", T0 + 12),
           started("r2", T0 + 20), step("r2", "a", T0 + 20, State.FAILED, error="ValueError: bad"),
           finished("r2", T0 + 22, State.FAILED, "1 step(s) failed: a"),
           started("r3", T0 + 30, deployment="daily"), finished("r3", T0 + 31, State.FAILED),
           started("r4", T0 + 40, kind="flow"), finished("r4", T0 + 41),
           started("live", time.time()))
    return store


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, ["live", "r4", "r3", "r2", "r1", "r0"]),
    ({"limit": 2}, ["live", "r4"]),
    ({"state": "FAILED"}, ["r3", "r2"]),
    ({"state": "failed", "limit": 1}, ["r3"]),
    ({"state": "SUCCEEDED"}, ["r4", "r1", "r0"]),
    ({"state": "RUNNING"}, ["live"]),
    ({"state": "CRASHED"}, []),
    ({"deployment": "daily"}, ["r3", "r1"]),
    ({"deployment": "daily", "state": "SUCCEEDED"}, ["r1"]),
    ({"deployment": "weekly"}, []),
    ({"kind": "flow"}, ["r4"]),
])
def test_runs_newest_first_with_filters(history: SqlStore, filters: dict[str, Any],
                                        expected: list[str]) -> None:
    assert [r.run_id for r in history.runs(**filters)] == expected


def test_get_run_has_its_steps(history: SqlStore) -> None:
    r2 = history.get_run("r2")
    assert r2 is not None
    assert (r2.state, r2.error, r2.duration) == (State.FAILED, "1 step(s) failed: a", 2.0)
    (a,) = r2.steps
    assert (a.name, a.state, a.attempts, a.error, a.duration) == ("a", State.FAILED, 1, "ValueError: bad", 1.0)
    assert history.get_run("r1").deployment == "daily"  # type: ignore[union-attr]
    assert history.get_run("live").state is State.RUNNING  # type: ignore[union-attr]
    assert history.get_run("nope") is None
    assert sorted(history.find_run_ids("r")) == ["r0", "r1", "r2", "r3", "r4"]


def test_steps_count_attempts_and_keep_the_last_error(store: SqlStore) -> None:
    record(store, started("r", T0),
           Event(EventKind.STEP_STARTED, "r", "a", State.RUNNING, StepStarted(attempt=1), ts=T0 + 1),
           Event(EventKind.STEP_RETRYING, "r", "a", State.RETRYING, StepRetrying(attempt=1, error="e1"), ts=T0 + 2),
           Event(EventKind.STEP_STARTED, "r", "a", State.RUNNING, StepStarted(attempt=2), ts=T0 + 3),
           Event(EventKind.STEP_RETRYING, "r", "a", State.RETRYING, StepRetrying(attempt=2, error="e2"), ts=T0 + 4),
           Event(EventKind.STEP_STARTED, "r", "a", State.RUNNING, StepStarted(attempt=3), ts=T0 + 5),
           Event(EventKind.STEP_FINISHED, "r", "a", State.FAILED, StepFinished(attempt=3, error="e3"), ts=T0 + 6),
           Event(EventKind.STEP_FINISHED, "r", "b", State.SKIPPED, StepFinished(error="upstream 'a'"), ts=T0 + 6),
           step("r", "c", T0 + 7, version="vc"),
           finished("r", T0 + 9, State.FAILED))
    run = store.get_run("r")
    assert run is not None
    got = {s.name: (s.state, s.attempts, s.error) for s in run.steps}
    assert got == {"a": (State.FAILED, 3, "e3"), "b": (State.SKIPPED, 0, "upstream 'a'"),
                   "c": (State.SUCCEEDED, 1, None)}
    assert run.step("a").duration == 5.0


# ----------------------------------------------------------------- materialisations and failures
def test_latest_materializations(store: SqlStore) -> None:
    record(store, started("r1", T0), materialization("r1", "a", T0, "a1"),
           materialization("r1", "b", T0, "b1"),
           started("r2", T0 + 10), materialization("r2", "a", T0 + 10, "a2"),
           materialization("r2", "b", T0 + 11, "b-p", partition="2024-01-01"))
    latest = store.latest_materializations()
    assert {n: (m.run_id, m.data_version) for n, m in latest.items()} == {"a": ("r2", "a2"), "b": ("r1", "b1")}
    assert list(store.latest_materializations(["b", "zz"])) == ["b"]
    assert [m.data_version for m in store.materializations("a")] == ["a2", "a1"]
    assert [m.data_version for m in store.materializations("a", limit=1)] == ["a2"]


def test_last_failures_per_asset_in_asset_runs_only(store: SqlStore) -> None:
    record(store,
           started("r1", T0), step("r1", "a", T0, State.FAILED, error="old"), finished("r1", T0 + 2, State.FAILED),
           started("r2", T0 + 10), step("r2", "a", T0 + 10, State.FAILED, error="new"),
           step("r2", "b", T0 + 10, version="b1"), finished("r2", T0 + 12, State.FAILED),
           started("f1", T0 + 20, kind="flow"), step("f1", "a", T0 + 20, State.FAILED, error="a task"),
           step("f1", "c", T0 + 20, State.FAILED, error="task c"), finished("f1", T0 + 22, State.FAILED))
    failures = store.last_failures()
    assert set(failures) == {"a"}
    ts, run_id, error = failures["a"]
    assert (run_id, error) == ("r2", "new") and ts == pytest.approx(T0 + 11)


# ---------------------------------------------------------------------------------- crashes
def test_sweep_crashed_marks_runs_whose_heartbeat_stopped(store: SqlStore, store_url: str) -> None:
    record(store, started("dead", T0), step("dead", "a", T0, version="v"),
           Event(EventKind.STEP_STARTED, "dead", "b", State.RUNNING, StepStarted(attempt=1), ts=T0 + 2),
           started("done", T0 + 5), finished("done", T0 + 6))
    # The process that recorded "dead" is still here (this store): it is not swept as crashed...
    assert store.sweep_crashed(timeout=10) == []
    # ...but another process sees it stale: derived CRASHED first, then swept once.
    other = SqlStore(store_url, heartbeat_timeout=10.0)
    try:
        other.create_run("pending-now", kind="flow")  # heartbeat now: alive
        assert other.get_run("dead").state is State.CRASHED  # type: ignore[union-attr]
        assert [r.run_id for r in other.runs(state="CRASHED")] == ["dead"]
        assert other.sweep_crashed() == ["dead"]
        assert other.sweep_crashed() == []
        run = other.get_run("dead")
        assert run is not None and run.state is State.CRASHED and run.ended_at is not None
        assert "heartbeat" in (run.error or "")
        assert {s.name: s.state for s in run.steps} == {"a": State.SUCCEEDED, "b": State.CRASHED}
        assert [(e.kind, e.state) for e in other.events("dead")][-1] == (EventKind.RUN_FINISHED, State.CRASHED)
        assert other.get_run("done").state is State.SUCCEEDED  # type: ignore[union-attr]
        assert other.get_run("pending-now").state is State.PENDING  # type: ignore[union-attr]
    finally:
        other.close()


def test_heartbeats_keep_a_long_run_alive(store_url: str) -> None:
    s = SqlStore(store_url, heartbeat_interval=0.1, heartbeat_timeout=1.0)
    other = SqlStore(store_url, heartbeat_timeout=1.0)
    try:
        record(s, started("long", time.time()))
        time.sleep(1.5)
        assert other.sweep_crashed() == []
        assert other.get_run("long").state is State.RUNNING  # type: ignore[union-attr]
        record(s, finished("long", time.time()))
        assert other.get_run("long").state is State.SUCCEEDED  # type: ignore[union-attr]
    finally:
        s.close()
        other.close()


# ---------------------------------------------------------------------------------- bad input
def _junk_file(tmp: Path) -> str:
    path = tmp / "junk.db"
    path.write_bytes(b"this is a text file, not an SQLite database\n" * 100)
    return f"sqlite:///{path}"


def _file_in_the_way(tmp: Path) -> str:
    (tmp / "plain-file").write_text("x")
    return f"sqlite:///{tmp / 'plain-file' / 'nbflow.db'}"


BAD_URLS = [
    pytest.param(lambda tmp: "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/test",
                 "Cannot open the run store", id="unreachable-postgres"),
    pytest.param(_junk_file, "is not a database", id="not-a-database"),
    pytest.param(lambda tmp: f"sqlite:///{tmp}", "Cannot open the run store", id="a-folder"),
    pytest.param(_file_in_the_way, "Cannot create the folder", id="file-in-the-way"),
    pytest.param(lambda tmp: "nosuchdialect://x/y", "not a valid SQLAlchemy URL", id="unknown-dialect"),
    pytest.param(lambda tmp: "not a url", "not a valid SQLAlchemy URL", id="not-a-url"),
]


@pytest.mark.parametrize(("make_url", "expected"), BAD_URLS)
def test_a_bad_store_gives_one_clear_line(tmp_path: Path, make_url: Any, expected: str) -> None:
    with pytest.raises(StoreError) as info:
        SqlStore(make_url(tmp_path))
    message = str(info.value)
    assert expected in message
    assert "\n" not in message and "s3cret" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.slow
@pytest.mark.parametrize(("make_url", "expected"),
                         [p for p in BAD_URLS if p.id in ("unreachable-postgres", "not-a-database",
                                                          "file-in-the-way")])
def test_the_cli_shows_a_bad_store_as_one_line(tmp_path: Path, make_url: Any, expected: str) -> None:
    env = {**os.environ, "NBFLOW_HOME": str(tmp_path / "home"), "NBFLOW_DATABASE_URL": make_url(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "nbflow", "runs"], check=False, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "s3cret" not in proc.stderr


def test_flush_raises_when_the_writer_died(store_url: str) -> None:
    """A dead writer thread must not let flush() pretend the events were committed."""
    from nbflow.core.events import Event, EventKind, LogLine
    from nbflow.errors import StoreError as _StoreError
    from nbflow.store.sql import SqlStore as _SqlStore

    store = _SqlStore(store_url)
    store.record(Event(EventKind.LOG, "r-dead", data=LogLine(message="first")))
    store.flush()
    store._queue.put(None)  # the writer's stop signal: it exits, events after it stay queued
    store._writer.join(timeout=10)
    store.record(Event(EventKind.LOG, "r-dead", data=LogLine(message="never written")))
    try:
        store.flush()
    except _StoreError as exc:
        assert "stopped before committing" in str(exc)
    else:
        raise AssertionError("flush() returned although the writer was dead")
