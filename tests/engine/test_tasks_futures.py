"""submit, map and futures: results, states, dependencies recorded as upstream, failures."""

from __future__ import annotations

import threading
import time

import pytest

from nbflow.core.states import State
from nbflow.engine.futures import TaskFuture, unmapped
from nbflow.engine.tasks import expand_map
from nbflow.errors import ParameterError, TaskError
from nbflow.session.flows import flow
from nbflow.session.tasks import task
from tests.engine.conftest import MEMORY

STORES = MEMORY


@task
def inc(x):  # type: ignore[no-untyped-def]
    return x + 1


@task
def add(x, y):  # type: ignore[no-untyped-def]
    return x + y


@task
def total(values):  # type: ignore[no-untyped-def]
    return sum(values)


def test_submit_returns_a_future_and_records_dependencies(session):  # type: ignore[no-untyped-def]
    @flow
    def f():  # type: ignore[no-untyped-def]
        a = inc.submit(1)
        b = inc.submit(10)
        c = add.submit(a, y=b)
        assert isinstance(c, TaskFuture)
        assert c.wait() is State.SUCCEEDED and c.state is State.SUCCEEDED and c.done()
        return c.result()

    assert f() == 2 + 11
    run = session.runs(limit=1)[0]
    assert {s.name: s.upstream for s in run.steps} == {
        "inc": (), "inc-1": (), "add": ("inc", "inc-1")}


def test_map_zips_iterables_and_repeats_unmapped_values(session):  # type: ignore[no-untyped-def]
    @flow
    def f(xs: list[int]):  # type: ignore[no-untyped-def]
        futures = add.map(xs, unmapped(100))
        return [fut.result() for fut in futures]

    assert f([1, 2, 3]) == [101, 102, 103]
    run = session.runs(limit=1)[0]
    assert sorted(s.name for s in run.steps) == ["add", "add-1", "add-2"]


def test_futures_of_a_map_feed_a_reduce_step(session):  # type: ignore[no-untyped-def]
    @flow
    def f(n: int):  # type: ignore[no-untyped-def]
        parts = inc.map(range(n))
        again = inc.map(parts)               # map over futures: one dependency each
        return total(again)                  # a list of futures is resolved too

    assert f(4) == sum(x + 2 for x in range(4))
    run = session.runs(limit=1)[0]
    ups = {s.name: s.upstream for s in run.steps}
    assert ups["total"] == ("inc-4", "inc-5", "inc-6", "inc-7")
    assert ups["inc-5"] == ("inc-1",)


@pytest.mark.parametrize(("args", "kwargs", "calls"), [
    (([1, 2],), {}, [((1,), {}), ((2,), {})]),
    (([1, 2], "ab"), {}, [((1, "ab"), {}), ((2, "ab"), {})]),       # strings are not mapped
    (([1, 2],), {"k": [3, 4]}, [((1,), {"k": 3}), ((2,), {"k": 4})]),
    ((range(2),), {"k": unmapped([9])}, [((0,), {"k": [9]}), ((1,), {"k": [9]})]),
    ((("a", "b"),), {"d": {"x": 1}}, [(("a",), {"d": {"x": 1}}), (("b",), {"d": {"x": 1}})]),
    (([],), {}, []),
])
def test_expand_map(args, kwargs, calls):  # type: ignore[no-untyped-def]
    assert expand_map("t", args, kwargs) == calls


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (([1, 2], [1]), {}, r"different lengths \(argument 1 has 2, argument 2 has 1\)"),
    ((1,), {"y": "s"}, "needs at least one list"),
])
def test_expand_map_errors(args, kwargs, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ParameterError, match=message):
        expand_map("t", args, kwargs)


def test_a_failed_upstream_skips_its_downstream_and_fails_the_flow(session):  # type: ignore[no-untyped-def]
    @task
    def broken():  # type: ignore[no-untyped-def]
        raise ValueError("broken")

    @flow
    def f():  # type: ignore[no-untyped-def]
        bad = broken.submit()
        after = inc.submit(bad)
        return after.result()

    out = f(return_state=True)
    assert out.state is State.FAILED and isinstance(out.error, TaskError)
    states = {s.name: s.state for s in session.get_run(out.run_id).steps}
    assert states == {"broken": State.FAILED, "inc": State.SKIPPED}


def test_a_failure_nobody_looked_at_fails_the_flow(session):  # type: ignore[no-untyped-def]
    @task
    def broken():  # type: ignore[no-untyped-def]
        raise ValueError("silent")

    @flow
    def ignores():  # type: ignore[no-untyped-def]
        broken.submit()
        return "done"

    @flow
    def looks():  # type: ignore[no-untyped-def]
        return broken.submit().wait()

    with pytest.raises(TaskError, match="never looked at its future.*ValueError: silent"):
        ignores()
    assert looks() is State.FAILED
    assert [r.state for r in session.runs(limit=2)] == [State.SUCCEEDED, State.FAILED]


def test_future_states_move_from_pending_to_running_to_done(session):  # type: ignore[no-untyped-def]
    gate = threading.Event()
    seen = []

    @task
    def waits():  # type: ignore[no-untyped-def]
        gate.wait(5)
        return 1

    @flow
    def f():  # type: ignore[no-untyped-def]
        fut = waits.submit()
        deadline = time.time() + 5
        while fut.state is not State.RUNNING and time.time() < deadline:
            time.sleep(0.005)
        seen.append(fut.state)
        gate.set()
        seen.append(fut.wait())
        return fut.result(timeout=5)

    assert f() == 1
    assert seen == [State.RUNNING, State.SUCCEEDED]


def test_flow_waits_for_submitted_steps_before_it_ends(session):  # type: ignore[no-untyped-def]
    done = []

    @task
    def slow(x):  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        done.append(x)
        return x

    @flow
    def f():  # type: ignore[no-untyped-def]
        futs = slow.map([1, 2, 3])
        futs[0].wait()  # looked at one; the others still belong to the run
        return "returned early"

    assert f() == "returned early"
    assert sorted(done) == [1, 2, 3]
    run = session.runs(limit=1)[0]
    assert [s.state for s in run.steps] == [State.SUCCEEDED] * 3


def test_submit_outside_a_flow_is_a_run_of_its_own(session):  # type: ignore[no-untyped-def]
    fut = inc.submit(41)
    assert fut.result(timeout=10) == 42
    futs = inc.map([1, 2])
    assert [f.result(timeout=10) for f in futs] == [2, 3]
    runs = session.runs(limit=5)
    assert len(runs) == 3 and {r.kind for r in runs} == {"task"}
    assert {r.run_id for r in runs} == {fut.run_id, futs[0].run_id, futs[1].run_id}


def test_result_with_timeout_and_raise_on_failure(session):  # type: ignore[no-untyped-def]
    gate = threading.Event()

    @task
    def blocked():  # type: ignore[no-untyped-def]
        gate.wait(5)
        raise RuntimeError("late")

    fut = blocked.submit()
    with pytest.raises(TaskError, match="did not finish within 0.05 s"):
        fut.result(timeout=0.05)
    gate.set()
    err = fut.result(timeout=5, raise_on_failure=False)
    assert isinstance(err, RuntimeError) and fut.exception() is err
    with pytest.raises(RuntimeError, match="late"):
        fut.result()


def test_submitted_steps_see_their_own_context(session):  # type: ignore[no-untyped-def]
    from nbflow.engine.context import context

    @task
    def who(x):  # type: ignore[no-untyped-def]
        c = context()
        return c.run_id, c.step, c.flow, dict(c.parameters)

    @flow
    def f():  # type: ignore[no-untyped-def]
        futs = who.map([1, 2])
        return [(fut.step, fut.result()) for fut in futs]

    out = f(return_state=True)
    assert out.value == [("who", (out.run_id, "who", "f", {"x": 1})),
                         ("who-1", (out.run_id, "who-1", "f", {"x": 2}))]


def test_keyboard_interrupt_cancels_the_flow_and_propagates(session):  # type: ignore[no-untyped-def]
    @task
    def interrupted():  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    @flow
    def f():  # type: ignore[no-untyped-def]
        interrupted()

    with pytest.raises(KeyboardInterrupt):
        f()
    run = session.runs(limit=1)[0]
    assert run.state is State.CANCELLED and run.step("interrupted").state is State.CANCELLED
