"""One set of record -> derive assertions for every RunStore (memory, SQLite, PostgreSQL), so the
in-memory store cannot drift from the SQL one; its task cache and slots; the store registry; and
a Session on the in-memory store materialising assets and running flows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import nbflow as nf
from nbflow.core.events import (
    Event,
    EventKind,
    LogLine,
    Materialized,
    RunFinished,
    RunStarted,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from nbflow.core.states import State
from nbflow.core.tasks import CacheEntry
from nbflow.errors import NbflowError, ParameterError, RunCancelled, StoreError
from nbflow.store import open_store, register_store
from nbflow.store.base import RunStore
from nbflow.store.memory import MemoryStore
from tests.conftest import drop_pg_schema, fresh_pg_url
from tests.store.test_store import T0, finished, materialization, record, started, step


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def run_store(request: pytest.FixtureRequest, home: Path) -> Iterator[RunStore]:
    """The same test on a new MemoryStore, a SQLite file and a fresh PostgreSQL schema."""
    url = {"memory": "memory://", "sqlite": f"sqlite:///{home / 'nbflow.db'}"}.get(request.param)
    url = url or fresh_pg_url()
    store = open_store(url, heartbeat_interval=60.0, heartbeat_timeout=30.0)
    try:
        yield store
    finally:
        store.close()
        if request.param == "postgresql":
            drop_pg_schema(url)


def steps_of(store: RunStore, run_id: str) -> dict[str, tuple[Any, ...]]:
    run = store.get_run(run_id)
    assert run is not None
    return {s.name: (s.state, s.attempts, s.error, s.kind, s.upstream, s.duration) for s in run.steps}


# ---------------------------------------------------------------------------------- the registry
def test_open_store_picks_the_store_by_url_scheme(home: Path) -> None:
    from nbflow.store.sql import SqlStore

    memory, other = open_store("memory://"), open_store("memory://")
    sql = open_store(f"sqlite:///{home / 'x.db'}")
    try:
        assert isinstance(memory, MemoryStore) and memory is not other  # each one new and empty
        assert isinstance(sql, SqlStore)
        with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
            open_store("nosuchdialect://x/y")  # an unregistered scheme is the SQL store's to judge
    finally:
        sql.close()


def test_a_registered_store_is_opened_for_its_scheme() -> None:
    opened: list[tuple[str, dict[str, Any]]] = []

    def factory(url: str, **kwargs: Any) -> RunStore:
        opened.append((url, kwargs))
        return MemoryStore(url, **kwargs)

    register_store("probe", factory)
    store = open_store("probe://here", heartbeat_timeout=5.0)
    assert opened == [("probe://here", {"heartbeat_timeout": 5.0})]
    assert store.heartbeat_timeout == 5.0


def test_the_memory_store_keeps_no_deployments() -> None:
    with pytest.raises(StoreError, match="keeps no deployments.*SQLite or PostgreSQL"):
        MemoryStore().deployments  # noqa: B018


# ---------------------------------------------------------------------------------- events
def test_events_come_back_as_the_json_column_keeps_them(run_store: RunStore) -> None:
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    record(run_store, started("r1", T0, parameters={"when": when, "n": (1, 2)},
                              tags={"pair": (1, 2), "when": when, 3: "x"}),
           Event(EventKind.LOG, "r1", "a", None, LogLine(level="INFO", message="hi"), ts=T0 + 1),
           Event(EventKind.LOG, "r1", None, None, LogLine(), ts=T0 + 2),
           step("r1", "a", T0 + 3, version="v1"), finished("r1", T0 + 5))
    evs = run_store.events("r1")
    assert [(e.kind, e.step, e.state) for e in evs] == [
        (EventKind.RUN_STARTED, None, None), (EventKind.LOG, "a", None), (EventKind.LOG, None, None),
        (EventKind.STEP_STARTED, "a", State.RUNNING), (EventKind.MATERIALIZATION, "a", None),
        (EventKind.STEP_FINISHED, "a", State.SUCCEEDED), (EventKind.RUN_FINISHED, None, State.SUCCEEDED)]
    assert isinstance(evs[0].data, RunStarted)
    assert evs[0].data.tags == {"pair": [1, 2], "when": str(when), "3": "x"}
    assert evs[1].data == LogLine(level="INFO", message="hi")
    assert evs[2].data == LogLine()
    assert [e.ts for e in evs] == pytest.approx([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 3.5, T0 + 4, T0 + 5])
    run = run_store.get_run("r1")
    assert run is not None and dict(run.parameters) == {"when": str(when), "n": [1, 2]}
    assert run_store.events("nope") == []


def test_a_bad_event_is_reported_by_flush_and_loses_only_itself(run_store: RunStore) -> None:
    broken = Event(EventKind.MATERIALIZATION, "r1", "a", None, Materialized(uri="x"), ts=T0 + 1)  # no versions
    for e in (started("r1", T0), broken, step("r1", "b", T0 + 2, version="v")[1], finished("r1", T0 + 3)):
        run_store.record(e)
    with pytest.raises(StoreError, match="could not record events") as info:
        run_store.flush()
    assert "\n" not in str(info.value)
    run_store.flush()  # reported once
    assert [(e.kind, e.step) for e in run_store.events("r1")] == [
        (EventKind.RUN_STARTED, None), (EventKind.MATERIALIZATION, "b"), (EventKind.RUN_FINISHED, None)]
    assert set(run_store.latest_materializations()) == {"b"}
    record(run_store, started("r2", T0 + 5))  # the store goes on
    assert [r.run_id for r in run_store.runs()] == ["r2", "r1"]


# ---------------------------------------------------------------------------------- runs
@pytest.fixture
def history(run_store: RunStore) -> RunStore:
    """Five finished runs an hour ago (r0 oldest) and one that is running now."""
    record(run_store,
           started("r0", T0), step("r0", "a", T0, version="v0"), finished("r0", T0 + 2),
           started("r1", T0 + 10, deployment="daily"), finished("r1", T0 + 12),
           started("r2", T0 + 20), step("r2", "a", T0 + 20, State.FAILED, error="ValueError: bad"),
           finished("r2", T0 + 22, State.FAILED, "1 step(s) failed: a"),
           started("r3", T0 + 30, deployment="daily"), finished("r3", T0 + 31, State.FAILED),
           started("r4", T0 + 40, kind="flow"), finished("r4", T0 + 41),
           started("live", time.time()))
    return run_store


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
    ({"kind": "flow", "state": "FAILED"}, []),
])
def test_runs_newest_first_with_filters(history: RunStore, filters: dict[str, Any],
                                        expected: list[str]) -> None:
    assert [r.run_id for r in history.runs(**filters)] == expected


def test_runs_without_steps(history: RunStore) -> None:
    runs = {r.run_id: r for r in history.runs(with_steps=False)}
    assert runs["r0"].steps == () and runs["r0"].state is State.SUCCEEDED
    assert [s.name for s in history.runs()[-1].steps] == ["a"]


def test_get_run_has_its_fields_and_steps(history: RunStore) -> None:
    r2 = history.get_run("r2")
    assert r2 is not None
    assert (r2.kind, r2.name, r2.state, r2.error, r2.duration, r2.attempt) == (
        "assets", "r2", State.FAILED, "1 step(s) failed: a", 2.0, 1)
    assert r2.started_at == r2.created_at == datetime.fromtimestamp(T0 + 20, tz=UTC)
    assert steps_of(history, "r2") == {"a": (State.FAILED, 1, "ValueError: bad", "asset", (), 1.0)}
    assert history.get_run("r1").deployment == "daily"  # type: ignore[union-attr]
    live = history.get_run("live")
    assert live is not None and live.state is State.RUNNING and live.ended_at is None
    assert history.get_run("nope") is None
    assert sorted(history.find_run_ids("r")) == ["r0", "r1", "r2", "r3", "r4"]
    assert history.find_run_ids("li") == ["live"] and history.find_run_ids("x") == []
    assert history.find_run_ids("%") == [] and history.find_run_ids("r_") == []  # literal, not LIKE


def test_run_started_carries_the_run_fields(run_store: RunStore) -> None:
    record(run_store,
           started("d1", T0, kind="deployment", deployment="report", scheduled_at=T0 - 60,
                   parameters={"region": "EU"}, tags={"team": "sales"}, attempt=2,
                   output_path="/runs/report/d1.ipynb"),
           Event(EventKind.RUN_FINISHED, "d1", state=State.FAILED, ts=T0 + 5, data=RunFinished(
               error="ValueError: boom", cell_index=3, exception="ValueError",
               message="boom", output_path="/runs/report/d1-final.ipynb")),
           started("ok", T0 + 10), finished("ok", T0 + 11))
    d1 = run_store.get_run("d1")
    assert d1 is not None
    assert (d1.kind, d1.deployment, d1.attempt, dict(d1.parameters), dict(d1.tags)) == (
        "deployment", "report", 2, {"region": "EU"}, {"team": "sales"})
    assert d1.scheduled_at == datetime.fromtimestamp(T0 - 60, tz=UTC)
    assert (d1.state, d1.error, d1.output_path) == (State.FAILED, "ValueError: boom", "/runs/report/d1-final.ipynb")
    assert dict(d1.failure) == {"cell_index": 3, "exception": "ValueError", "message": "boom"}
    assert d1.failed_cell == 3
    ok = run_store.get_run("ok")
    assert ok is not None and dict(ok.failure) == {} and ok.error is None and ok.output_path is None


def test_a_created_run_is_updated_by_its_run_started(run_store: RunStore) -> None:
    run_store.create_run("claimed", kind="deployment", name="report", deployment="report",
                         scheduled_at=T0, parameters={"x": 1})
    pending = run_store.get_run("claimed")
    assert pending is not None and (pending.state, pending.started_at, pending.attempt) == (State.PENDING, None, 1)
    now = time.time()
    record(run_store, started("claimed", now, kind="ignored", name="ignored"))
    run = run_store.get_run("claimed")
    assert run is not None
    assert (run.state, run.kind, run.name, dict(run.parameters)) == (State.RUNNING, "deployment", "report", {"x": 1})
    assert run.started_at == datetime.fromtimestamp(now, tz=UTC)
    assert [r.run_id for r in run_store.runs(deployment="report")] == ["claimed"]


# ---------------------------------------------------------------------------------- steps
def test_steps_count_attempts_and_keep_the_last_error(run_store: RunStore) -> None:
    record(run_store, started("r", T0),
           Event(EventKind.STEP_STARTED, "r", "a", State.RUNNING, StepStarted(attempt=1, kind="task"), ts=T0 + 1),
           Event(EventKind.STEP_RETRYING, "r", "a", State.RETRYING, StepRetrying(attempt=1, error="e1"), ts=T0 + 2),
           Event(EventKind.STEP_STARTED, "r", "a", State.RUNNING, StepStarted(attempt=2), ts=T0 + 3),
           Event(EventKind.STEP_RETRYING, "r", "a", State.RETRYING, StepRetrying(attempt=2, error="e2"), ts=T0 + 4),
           Event(EventKind.STEP_STARTED, "r", "a", State.RUNNING, StepStarted(attempt=3), ts=T0 + 5),
           Event(EventKind.STEP_FINISHED, "r", "a", State.FAILED, StepFinished(attempt=3, error="e3"), ts=T0 + 6),
           Event(EventKind.STEP_FINISHED, "r", "b", State.SKIPPED, StepFinished(error="upstream 'a'"), ts=T0 + 6),
           Event(EventKind.STEP_STARTED, "r", "c", State.RUNNING,
                 StepStarted(attempt=1, kind="asset", upstream=["a", "b"]), ts=T0 + 7),
           Event(EventKind.STEP_FINISHED, "r", "c", State.CACHED, StepFinished(attempt=1, upstream=["b"]), ts=T0 + 8),
           Event(EventKind.STEP_FINISHED, "r", "d", State.SUCCEEDED, StepFinished(attempt=4, kind="task"), ts=T0 + 8),
           finished("r", T0 + 9, State.FAILED))
    assert steps_of(run_store, "r") == {
        "a": (State.FAILED, 3, "e3", "task", (), 5.0),
        "b": (State.SKIPPED, 0, "upstream 'a'", "asset", (), 0.0),
        "c": (State.CACHED, 1, None, "asset", ("b",), 1.0),
        "d": (State.SUCCEEDED, 4, None, "task", (), 0.0)}
    assert list(steps_of(run_store, "r")) == ["a", "b", "c", "d"]  # in the order they began


def test_a_retrying_step_shows_its_retry_while_the_run_goes_on(run_store: RunStore) -> None:
    record(run_store, started("r", time.time()),
           Event(EventKind.STEP_STARTED, "r", "a", State.RUNNING, StepStarted(attempt=1)),
           Event(EventKind.STEP_RETRYING, "r", "a", State.RETRYING, StepRetrying(attempt=1, error="flaky", delay=5)))
    run = run_store.get_run("r")
    assert run is not None and run.state is State.RUNNING
    assert (run.step("a").state, run.step("a").attempts, run.step("a").error) == (State.RETRYING, 1, "flaky")


@pytest.mark.parametrize(("run_state", "expected"), [
    (State.CANCELLED, {"done": State.SUCCEEDED, "busy": State.CANCELLED, "retry": State.CANCELLED,
                       "bad": State.FAILED}),
    (State.FAILED, {"done": State.SUCCEEDED, "busy": State.RUNNING, "retry": State.RETRYING,
                    "bad": State.FAILED}),
    (State.SUCCEEDED, {"done": State.SUCCEEDED, "busy": State.RUNNING, "retry": State.RETRYING,
                       "bad": State.FAILED}),
])
def test_steps_a_cancel_interrupted_take_the_run_state(run_store: RunStore, run_state: State,
                                                        expected: dict[str, State]) -> None:
    record(run_store, started("r", T0), step("r", "done", T0 + 1),
           step("r", "bad", T0 + 1, State.FAILED, error="x"),
           Event(EventKind.STEP_STARTED, "r", "busy", State.RUNNING, StepStarted(attempt=1), ts=T0 + 2),
           Event(EventKind.STEP_STARTED, "r", "retry", State.RUNNING, StepStarted(attempt=1), ts=T0 + 2),
           Event(EventKind.STEP_RETRYING, "r", "retry", State.RETRYING, StepRetrying(attempt=1, error="e"), ts=T0 + 3),
           finished("r", T0 + 4, run_state, "KeyboardInterrupt: " if run_state is State.CANCELLED else None))
    run = run_store.get_run("r")
    assert run is not None and run.state is run_state
    assert {s.name: s.state for s in run.steps} == expected
    assert [r.run_id for r in run_store.runs(state=str(run_state))] == ["r"]


# ---------------------------------------------------------------------------------- crashes
def test_a_run_whose_heartbeat_stopped_is_crashed_and_swept_once(run_store: RunStore) -> None:
    run_store.create_run("dead", kind="flow", state=State.RUNNING, started_at=T0, heartbeat_at=T0)
    record(run_store, Event(EventKind.STEP_STARTED, "dead", "t", State.RUNNING, StepStarted(attempt=1), ts=T0),
           started("mine", time.time()), started("done", T0 + 5), finished("done", T0 + 6))
    run_store.create_run("pending-now", kind="flow")  # heartbeat now: alive
    assert run_store.get_run("dead").state is State.CRASHED  # type: ignore[union-attr]
    assert [r.run_id for r in run_store.runs(state="CRASHED")] == ["dead"]
    assert [r.run_id for r in run_store.runs(state="PENDING")] == ["pending-now"]
    # "mine" was started by this store: its process (this one) keeps it alive.
    assert [r.run_id for r in run_store.runs(state="RUNNING")] == ["mine"]
    assert run_store.sweep_crashed() == ["dead"]
    assert run_store.sweep_crashed() == []
    run = run_store.get_run("dead")
    assert run is not None and run.state is State.CRASHED and run.ended_at is not None
    assert "heartbeat" in (run.error or "")
    assert {s.name: s.state for s in run.steps} == {"t": State.CRASHED}
    assert [(e.kind, e.state, e.data) for e in run_store.events("dead")][-1] == (
        EventKind.RUN_FINISHED, State.CRASHED, RunFinished(error="heartbeat timeout"))
    assert run_store.get_run("pending-now").state is State.PENDING  # type: ignore[union-attr]
    assert run_store.get_run("mine").state is State.RUNNING  # type: ignore[union-attr]
    run_store.heartbeat("pending-now")
    assert run_store.sweep_crashed(timeout=-1) == []  # "mine" and "pending-now" are this process's


def test_a_taken_tick_cannot_be_created_twice(run_store: RunStore) -> None:
    run_store.create_run("t1", kind="deployment", deployment="d", scheduled_at=T0)
    run_store.create_run("t2", kind="deployment", deployment="d", scheduled_at=T0 + 60)
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(StoreError if isinstance(run_store, MemoryStore) else IntegrityError):
        run_store.create_run("t3", kind="deployment", deployment="d", scheduled_at=T0)
    assert sorted(r.run_id for r in run_store.runs()) == ["t1", "t2"]


# ---------------------------------------------------------------------------------- materialisations
def test_latest_materializations_and_history(run_store: RunStore) -> None:
    record(run_store, started("r1", T0), materialization("r1", "a", T0, "a1"),
           materialization("r1", "b", T0, "b1"),
           started("r2", T0 + 10), materialization("r2", "a", T0 + 10, "a2"),
           materialization("r2", "b", T0 + 11, "b-p", partition="2024-01-01"),
           materialization("r2", "p", T0 + 12, "p-only", partition="2024-01-02"))
    latest = run_store.latest_materializations()
    assert {n: (m.run_id, m.data_version) for n, m in latest.items()} == {"a": ("r2", "a2"), "b": ("r1", "b1")}
    a = latest["a"]
    assert (a.asset, a.code_version, dict(a.input_versions), dict(a.metadata), a.uri, a.io, a.duration,
            a.partition) == ("a", "c1", {"up": "u1"}, {"rows": 3}, "/values/a.a2.pkl", "pickle", 0.25, None)
    assert a.ts == datetime.fromtimestamp(T0 + 10, tz=UTC)
    assert list(run_store.latest_materializations(["b", "zz"])) == ["b"]
    assert run_store.latest_materializations([]) == {}
    assert [m.data_version for m in run_store.materializations("a")] == ["a2", "a1"]
    assert [m.data_version for m in run_store.materializations("a", limit=1)] == ["a2"]
    assert [(m.data_version, m.partition) for m in run_store.materializations("b")] == [
        ("b-p", "2024-01-01"), ("b1", None)]
    assert run_store.materializations("zz") == []


def test_a_materialization_without_optional_fields_gets_the_defaults(run_store: RunStore) -> None:
    record(run_store, started("r", T0), Event(EventKind.MATERIALIZATION, "r", "a", None,
                                              Materialized(code_version="c", data_version="d"), ts=T0))
    m = run_store.latest_materializations()["a"]
    assert (dict(m.input_versions), dict(m.metadata), m.uri, m.io, m.duration) == ({}, {}, "", "pickle", None)


def test_last_failures_per_asset_in_asset_runs_only(run_store: RunStore) -> None:
    record(run_store,
           started("r1", T0), step("r1", "a", T0, State.FAILED, error="old"), finished("r1", T0 + 2, State.FAILED),
           started("r2", T0 + 10), step("r2", "a", T0 + 10, State.FAILED, error="new"),
           step("r2", "b", T0 + 10, version="b1"), finished("r2", T0 + 12, State.FAILED),
           started("f1", T0 + 20, kind="flow"), step("f1", "a", T0 + 20, State.FAILED, error="a task"),
           step("f1", "c", T0 + 20, State.FAILED, error="task c"), finished("f1", T0 + 22, State.FAILED))
    failures = run_store.last_failures()
    assert set(failures) == {"a"}
    ts, run_id, error = failures["a"]
    assert (run_id, error) == ("r2", "new") and ts == pytest.approx(T0 + 11)


# ---------------------------------------------------------------------------------- parent runs
def test_parent_and_child_runs(run_store: RunStore) -> None:
    record(run_store, started("dep", T0, kind="deployment", deployment="report"),
           started("c2", T0 + 2, parent_run_id="dep"), step("c2", "x", T0 + 2, version="x1"),
           finished("c2", T0 + 4),
           started("c1", T0 + 1, parent_run_id="dep"), finished("c1", T0 + 1.5, State.FAILED),
           started("solo", T0 + 3), finished("solo", T0 + 3.5),
           finished("dep", T0 + 9))
    children = run_store.child_runs("dep")
    assert [(r.run_id, r.state, r.parent_run_id) for r in children] == [
        ("c1", State.FAILED, "dep"), ("c2", State.SUCCEEDED, "dep")]
    assert [s.name for s in children[1].steps] == ["x"]
    assert run_store.child_runs("solo") == [] and run_store.child_runs("nope") == []
    assert run_store.parent_runs(["c1", "c2", "solo", "nope", "c1"]) == {"c1": "dep", "c2": "dep"}
    assert run_store.parent_runs([]) == {}


# ---------------------------------------------------------------------------------- task cache
def entry(key: str, task: str, created: float, *, run_id: str | None = None, step: str | None = None,
          payload: bytes = b"v", expires: float | None = None) -> CacheEntry:
    return CacheEntry(key=key, task=task, payload=payload, created_at=created, expires_at=expires,
                      run_id=run_id, step=step)


def test_task_cache_entries(run_store: RunStore) -> None:
    tasks = run_store.tasks
    assert tasks.get_entry("k1") is None and tasks.cache_summary() == []
    tasks.put_entry(entry("k1", "fetch", T0, run_id="r1", step="fetch", payload=b"one"))
    tasks.put_entry(entry("k2", "fetch", T0 + 5, run_id="r1", step="fetch", payload=b"two", expires=T0 + 60))
    tasks.put_entry(entry("k3", "parse", T0 + 1, run_id="r2", step="parse-1"))
    assert tasks.get_entry("k2") == entry("k2", "fetch", T0 + 5, run_id="r1", step="fetch",
                                          payload=b"two", expires=T0 + 60)
    assert tasks.find_entry("r1", "fetch").payload == b"two"  # type: ignore[union-attr]
    assert tasks.find_entry("r2", "parse") is None
    assert tasks.cache_summary() == [("fetch", 2, pytest.approx(T0 + 5)), ("parse", 1, pytest.approx(T0 + 1))]
    tasks.put_entry(entry("k1", "fetch", T0 + 9, payload=b"again"))  # the same key: replaced
    assert tasks.get_entry("k1").payload == b"again"  # type: ignore[union-attr]
    assert tasks.cache_summary()[0] == ("fetch", 2, pytest.approx(T0 + 9))
    assert tasks.clear_entries("fetch") == 2 and tasks.get_entry("k2") is None
    assert tasks.clear_entries("fetch") == 0
    assert tasks.clear_entries() == 1 and tasks.cache_summary() == []


# ---------------------------------------------------------------------------------- slots
def test_limits_and_slots_all_or_nothing(run_store: RunStore) -> None:
    tasks = run_store.tasks
    assert tasks.try_acquire(["db"]) == [] and tasks.limited(["db"]) == {}  # no limit: no slot needed
    tasks.set_limit("db", 2)
    tasks.set_limit("gpu", 1)
    assert tasks.limits() == {"db": (2, 0), "gpu": (1, 0)}
    assert tasks.limited(["gpu", "db", "other"]) == {"db": 2, "gpu": 1}
    first = tasks.try_acquire(["db", "gpu", "other"], run_id="r", step="s")
    assert first is not None and len(first) == 2
    assert tasks.limits() == {"db": (2, 1), "gpu": (1, 1)}
    assert tasks.try_acquire(["gpu", "db"]) is None  # gpu is full: db is not taken either
    assert tasks.limits() == {"db": (2, 1), "gpu": (1, 1)}
    second = tasks.try_acquire(["db"])
    assert second is not None and len(second) == 1 and tasks.try_acquire(["db"]) is None
    tasks.release(first)
    tasks.release([])
    assert tasks.limits() == {"db": (2, 1), "gpu": (1, 0)}
    assert tasks.reap_dead_holders() == 0  # every holder is this live process
    assert tasks.reset_slots("db") == 1 and tasks.limits() == {"db": (2, 0), "gpu": (1, 0)}
    tasks.set_limit("gpu", None)
    assert tasks.limits() == {"db": (2, 0)}


@pytest.mark.parametrize(("name", "slots", "error"), [
    ("db", 0, ParameterError), ("db", -1, ParameterError), ("db", True, ParameterError),
    ("db", 1.5, ParameterError), ("", 1, NbflowError),
])
def test_a_bad_limit_is_refused(run_store: RunStore, name: str, slots: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="limit"):
        run_store.tasks.set_limit(name, slots)
    assert run_store.tasks.limits() == {}


def test_acquire_waits_for_a_released_slot_and_can_be_cancelled(run_store: RunStore) -> None:
    tasks = run_store.tasks
    tasks.set_limit("db", 1)
    held = tasks.acquire(["db"])
    waits: list[str] = []
    got: list[list[int]] = []
    waiter = threading.Thread(target=lambda: got.append(tasks.acquire(["db"], on_wait=lambda: waits.append("w"))))
    waiter.start()
    time.sleep(0.3)
    assert got == [] and waits == ["w"]  # told once that it waits
    tasks.release(held)
    waiter.join(timeout=10)
    assert len(got) == 1 and tasks.limits() == {"db": (1, 1)}
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started_at = time.monotonic()
    with pytest.raises(RunCancelled, match="concurrency slot"):
        tasks.acquire(["db"], cancel=cancel)
    assert time.monotonic() - started_at < 5
    tasks.release(got[0])
    assert tasks.limits() == {"db": (1, 0)}


# ---------------------------------------------------------------------------------- a session on it
def test_a_session_on_the_memory_store_materialises_assets(memory_session: Any) -> None:
    registry = memory_session.registry
    calls: list[str] = []

    @nf.asset(registry=registry)
    def raw() -> list[int]:
        calls.append("raw")
        return [1, 2, 3]

    @nf.asset(registry=registry)
    def doubled(raw: list[int]) -> list[int]:
        calls.append("doubled")
        return [x * 2 for x in raw]

    @nf.asset(registry=registry)
    def broken(raw: list[int]) -> int:
        raise ValueError("bad row")

    assert isinstance(memory_session.store, MemoryStore)
    first = nf.materialize()
    assert first.states == {"raw": State.SUCCEEDED, "doubled": State.SUCCEEDED, "broken": State.FAILED}
    assert first["doubled"] == [2, 4, 6] and nf.load("doubled") == [2, 4, 6]
    again = nf.materialize(["raw", "doubled"])
    assert again.states == {"raw": State.CACHED, "doubled": State.CACHED} and calls == ["raw", "doubled"]
    assert {s.name: s.status for s in nf.status()} == {"raw": "fresh", "doubled": "fresh", "broken": "failed"}
    run = nf.get_run(first.run_id[:6])
    assert run.state is State.FAILED and run.step("broken").error == "ValueError: bad row"
    assert [r.run_id for r in nf.runs()] == [again.run_id, first.run_id]


def test_a_session_on_the_memory_store_runs_flows(memory_session: Any) -> None:
    attempts: list[int] = []

    @nf.task(retries=2)
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) < 2:
            raise ConnectionError("try again")
        return x * 10

    @nf.task(cache="inputs", tags=["db"])
    def square(x: int) -> int:
        return x * x

    @nf.flow
    def pipeline(n: int) -> int:
        return flaky(n) + sum(f.result() for f in square.map(range(n)))

    nf.limit("db", 1)
    assert pipeline(3) == 30 + 0 + 1 + 4
    run = memory_session.store.runs(kind="flow", limit=1)[0]
    assert (run.kind, run.name, run.state, dict(run.parameters)) == ("flow", "pipeline", State.SUCCEEDED, {"n": 3})
    assert (run.step("flaky").state, run.step("flaky").attempts) == (State.SUCCEEDED, 2)
    assert [s.state for s in run.steps if s.name.startswith("square")] == [State.SUCCEEDED] * 3
    assert memory_session.store.tasks.limits() == {"db": (1, 0)}  # every slot given back
    assert pipeline(3) == 35
    cached = memory_session.store.runs(kind="flow", limit=1)[0]
    assert [s.state for s in cached.steps if s.name.startswith("square")] == [State.CACHED] * 3
    assert [t for t, _, _ in memory_session.store.tasks.cache_summary()] == ["square"]
