"""The task cache against a real store: hits, misses, code and global changes, TTL, refresh, clear."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

import nbflow.engine.steps as steps_module
from nbflow.core.states import State
from nbflow.errors import NbflowWarning
from nbflow.session.flows import flow
from nbflow.session.tasks import clear_cache, task
from tests.engine.conftest import MEMORY, SQL, on_stores

STORES = MEMORY

RATE = 2


def test_a_hit_returns_the_stored_result_without_running(session):  # type: ignore[no-untyped-def]
    calls = []

    @task(cache="inputs")
    def square(x):  # type: ignore[no-untyped-def]
        calls.append(x)
        return {"value": x * x}

    @flow
    def f(xs: list[int]):  # type: ignore[no-untyped-def]
        return [square(x) for x in xs]

    assert f([2, 3]) == [{"value": 4}, {"value": 9}]
    assert f([3, 4, 2]) == [{"value": 9}, {"value": 16}, {"value": 4}]
    assert calls == [2, 3, 4]
    run = session.runs(limit=1)[0]
    assert [s.state for s in run.steps] == [State.CACHED, State.SUCCEEDED, State.CACHED]
    first = f([2])[0]
    first["value"] = -1  # a caller mutating its copy does not change the cache
    assert f([2]) == [{"value": 4}]


def test_inputs_plus_code_misses_when_a_global_changes(session, monkeypatch):  # type: ignore[no-untyped-def]
    calls = []

    @task(cache="inputs+code")
    def scaled(x):  # type: ignore[no-untyped-def]
        calls.append(x)
        return x * RATE

    assert scaled(5) == 10 and scaled(5) == 10 and calls == [5]
    monkeypatch.setitem(globals(), "RATE", 3)
    assert scaled(5) == 15 and calls == [5, 5]
    monkeypatch.setitem(globals(), "RATE", 2)
    assert scaled(5) == 10 and calls == [5, 5]  # back to the first version: a hit again


def test_inputs_plus_code_misses_when_the_code_changes(session):  # type: ignore[no-untyped-def]
    calls = []
    ns: dict = {"calls": calls}
    first = "def f(x):\n    calls.append(1)\n    return x + 1\n"
    second = "def f(x):\n    calls.append(2)\n    return x + 2\n"
    exec(first, ns)
    one = task(ns["f"], name="versioned", cache="inputs+code").with_options(source=first)
    exec(second, ns)
    two = task(ns["f"], name="versioned", cache="inputs+code").with_options(source=second)
    assert one(1) == 2 and one(1) == 2 and two(1) == 3 and two(1) == 3
    assert calls == [1, 2]


def test_inputs_policy_ignores_code_changes(session, monkeypatch):  # type: ignore[no-untyped-def]
    calls = []

    @task(cache="inputs")
    def scaled(x):  # type: ignore[no-untyped-def]
        calls.append(x)
        return x * RATE

    assert scaled(5) == 10
    monkeypatch.setitem(globals(), "RATE", 3)
    assert scaled(5) == 10 and calls == [5]


def test_ttl_expires_entries(session, monkeypatch):  # type: ignore[no-untyped-def]
    now = [1_000_000.0]

    fake = SimpleNamespace(time=lambda: now[0], perf_counter=time.perf_counter)
    monkeypatch.setattr(steps_module, "time", fake)
    calls = []

    @task(cache="inputs", cache_ttl="1h")
    def fetch(x):  # type: ignore[no-untyped-def]
        calls.append(x)
        return x

    fetch(1)
    now[0] += 3599
    fetch(1)
    assert calls == [1]
    now[0] += 2
    fetch(1)
    assert calls == [1, 1]


def test_refresh_cache_runs_and_replaces_the_entry(session):  # type: ignore[no-untyped-def]
    counter = iter(range(100))

    @task(cache="inputs")
    def tick(x):  # type: ignore[no-untyped-def]
        return next(counter)

    assert tick(1) == 0 and tick(1) == 0
    assert tick(1, refresh_cache=True) == 1
    assert tick(1) == 1
    assert tick.with_options(refresh_cache=True)(1) == 2


def test_key_function_and_clear(session):  # type: ignore[no-untyped-def]
    calls = []

    @task(cache=lambda args: args["url"].lower())
    def get(url, attempt=0):  # type: ignore[no-untyped-def]
        calls.append(url)
        return len(url)

    @task(cache="inputs")
    def other(x):  # type: ignore[no-untyped-def]
        calls.append(x)
        return x

    assert get("HTTP://A") == get("http://a", attempt=3) == 8
    other(1)
    assert calls == ["HTTP://A", 1]
    assert clear_cache(get) == 1
    get("http://a")
    other(1)
    assert calls == ["HTTP://A", 1, "http://a"]
    assert clear_cache() == 2
    other(1)
    assert calls[-1] == 1


def test_unhashable_input_warns_and_runs_uncached(session):  # type: ignore[no-untyped-def]
    calls = []

    @task(cache="inputs")
    def consume(stream, lock):  # type: ignore[no-untyped-def]
        calls.append(1)
        return sum(stream)

    with pytest.warns(NbflowWarning, match="Argument 'stream'.*Caching is off for this call"):
        assert consume((x for x in range(4)), None) == 6
    with pytest.warns(NbflowWarning, match="Argument 'lock'"):
        consume([1], threading.Lock())
    assert calls == [1, 1]
    assert session.runs(limit=1)[0].steps[0].state is State.SUCCEEDED


def test_unpicklable_results_warn_and_are_not_cached(session):  # type: ignore[no-untyped-def]
    @task(cache="inputs")
    def make_lock(x):  # type: ignore[no-untyped-def]
        return threading.Lock()

    with pytest.warns(NbflowWarning, match="cannot be pickled"):
        make_lock(1)
    with pytest.warns(NbflowWarning, match="cannot be pickled"):
        make_lock(1)  # ran again: nothing was stored


@on_stores(*SQL)  # a second session on the same store
def test_cached_steps_show_as_cached_and_hit_across_flows_and_sessions(session):  # type: ignore[no-untyped-def]
    from nbflow.session import Session, set_session

    @task(cache="inputs")
    def load(x):  # type: ignore[no-untyped-def]
        return [x] * 3

    @flow
    def f():  # type: ignore[no-untyped-def]
        return load(1)

    f()
    other = Session(session.settings, session.registry)  # another kernel on the same store
    set_session(other)
    try:
        assert f() == [1, 1, 1]
        run = other.runs(limit=1)[0]
    finally:
        set_session(session)
        other.close()
    assert run.step("load").state is State.CACHED


def test_persisted_results_can_be_loaded_by_run_and_step(session):  # type: ignore[no-untyped-def]
    from nbflow.errors import NbflowError
    from nbflow.session.tasks import load_result

    @task(persist=True)
    def kept(x):  # type: ignore[no-untyped-def]
        return {"x": x}

    @task
    def dropped(x):  # type: ignore[no-untyped-def]
        return x

    @flow
    def f():  # type: ignore[no-untyped-def]
        return kept(1), kept(2), dropped(3)

    out = f(return_state=True)
    assert load_result(out.run_id, "kept-1") == {"x": 2}
    with pytest.raises(NbflowError, match="Step 'dropped' of run .* has no stored result"):
        load_result(out.run_id, "dropped")
    assert kept(1) == {"x": 1}
    assert session.runs(limit=1)[0].steps[0].state is State.SUCCEEDED  # persist alone is no cache


@on_stores(*SQL)  # breaks the SQL store's TaskTables
def test_a_store_failure_while_caching_keeps_the_result_and_warns(session, monkeypatch):  # type: ignore[no-untyped-def]
    from nbflow.errors import StoreError
    from nbflow.store.tasks import TaskTables

    def broken(self, entry):  # type: ignore[no-untyped-def]
        raise StoreError("disk full")

    monkeypatch.setattr(TaskTables, "put_entry", broken)

    @task(cache="inputs")
    def value(x):  # type: ignore[no-untyped-def]
        return x * 3

    with pytest.warns(NbflowWarning, match="could not be stored \\(StoreError: disk full\\)"):
        assert value(2) == 6
    assert session.runs(limit=1)[0].state is State.SUCCEEDED


def test_an_entry_that_no_longer_loads_is_a_miss(session):  # type: ignore[no-untyped-def]
    from nbflow.core.tasks import CacheEntry
    from nbflow.engine.caching import cache_key

    calls = []

    @task(cache="inputs")
    def value(x):  # type: ignore[no-untyped-def]
        calls.append(x)
        return x

    key = cache_key(value.spec, {"x": 1})
    session.store.tasks.put_entry(CacheEntry(key=key, task="value", payload=b"not a pickle",
                                                    created_at=time.time(), expires_at=None))
    assert value(1) == 1 and calls == [1]
    assert value(1) == 1 and calls == [1]  # the good result replaced the broken entry
