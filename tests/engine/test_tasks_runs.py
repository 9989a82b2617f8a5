"""Tasks and flows against a real store (SQLite and PostgreSQL): runs, steps, retries, timeouts."""

from __future__ import annotations

import time

import pytest

import nbflow.engine.scope as scope_module
from nbflow.core.events import EventKind
from nbflow.core.states import State
from nbflow.engine.context import context, get_logger
from nbflow.engine.futures import Outcome
from nbflow.engine.retry import Clock
from nbflow.errors import ParameterError, TaskError, TaskTimeout
from nbflow.session.flows import flow
from nbflow.session.tasks import task
from tests.engine.conftest import MEMORY

STORES = MEMORY


@pytest.fixture
def delays(monkeypatch):  # type: ignore[no-untyped-def]
    """Retries sleep on a fake clock that records each delay (random fixed at 0.75)."""
    slept: list[float] = []
    monkeypatch.setattr(scope_module, "CLOCK", Clock(sleep=slept.append, random=lambda: 0.75))
    return slept


def kinds(session, run_id, step=None):  # type: ignore[no-untyped-def]
    return [(e.kind, e.state) for e in session.store.events(run_id) if step is None or e.step == step]


def test_a_task_called_outside_a_flow_is_a_run_of_its_own(session):  # type: ignore[no-untyped-def]
    @task
    def add(x, y):  # type: ignore[no-untyped-def]
        return x + y

    assert add(2, 3) == 5
    [run] = session.runs(limit=5)
    assert (run.kind, run.name, run.state, dict(run.parameters)) == ("task", "add", State.SUCCEEDED,
                                                                      {"x": 2, "y": 3})
    assert [(s.name, s.state, s.attempts, s.kind) for s in run.steps] == [
        ("add", State.SUCCEEDED, 1, "task")]


def test_a_flow_is_one_run_with_a_step_per_task_call(session):  # type: ignore[no-untyped-def]
    @task
    def double(x):  # type: ignore[no-untyped-def]
        return 2 * x

    @flow
    def pipeline(n: int) -> int:
        total = 0
        for i in range(n):        # ordinary control flow
            if i % 2 == 0:
                total += double(i)
        return total

    assert pipeline(5) == 2 * (0 + 2 + 4)
    [run] = session.runs(limit=5)
    assert (run.kind, run.name, run.state, dict(run.parameters)) == ("flow", "pipeline",
                                                                      State.SUCCEEDED, {"n": 5})
    assert [s.name for s in run.steps] == ["double", "double-1", "double-2"]
    assert all(s.state is State.SUCCEEDED and s.kind == "task" for s in run.steps)
    assert session.get_run(run.run_id).run_id == run.run_id


def test_retries_record_every_attempt_with_its_error_and_backoff_delays(session, delays):  # type: ignore[no-untyped-def]
    calls = []

    @task(retries=3, retry_delay=1.0, backoff=2.0, jitter=0.2)
    def flaky():  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) < 4:
            raise ConnectionError(f"try {len(calls)}")
        return "ok"

    @flow
    def f():  # type: ignore[no-untyped-def]
        return flaky()

    out = f(return_state=True)
    assert out.state is State.SUCCEEDED and out.value == "ok"
    # 0.75 from the fake random -> factor 1 + 0.2 * 0.5 = 1.1
    assert delays == pytest.approx([1.1, 2.2, 4.4])
    events = session.store.events(out.run_id)
    retrying = [e for e in events if e.kind is EventKind.STEP_RETRYING]
    assert [e.data.error for e in retrying] == [f"ConnectionError: try {i}" for i in (1, 2, 3)]
    assert [e.data.delay for e in retrying] == pytest.approx([1.1, 2.2, 4.4])
    assert [e.data.attempt for e in events if e.kind is EventKind.STEP_STARTED] == [1, 2, 3, 4]
    step = session.get_run(out.run_id).step("flaky")
    assert (step.state, step.attempts) == (State.SUCCEEDED, 4)


def test_retry_delay_list_gives_one_delay_per_retry(session, delays):  # type: ignore[no-untyped-def]
    @task(retries=4, retry_delay=[0.5, 2, 7])
    def always():  # type: ignore[no-untyped-def]
        raise RuntimeError("down")

    out = always(return_state=True)
    assert out.state is State.FAILED and isinstance(out.error, RuntimeError)
    assert delays == [0.5, 2, 7, 7]
    step = session.get_run(out.run_id).step("always")
    assert (step.state, step.attempts, step.error) == (State.FAILED, 5, "RuntimeError: down")


@pytest.mark.parametrize(("retry_on", "error", "attempts"), [
    ((ConnectionError,), ConnectionError("net"), 3),
    ((ConnectionError,), ValueError("bad"), 1),
    (KeyError, KeyError("k"), 3),
    ((OSError, KeyError), TimeoutError("slow"), 3),  # TimeoutError is an OSError
])
def test_retry_on_filters_which_errors_retry(session, delays, retry_on, error, attempts):  # type: ignore[no-untyped-def]
    @task(retries=2, retry_on=retry_on)
    def fails():  # type: ignore[no-untyped-def]
        raise error

    out = fails(return_state=True)
    assert out.state is State.FAILED and out.error is error
    assert session.get_run(out.run_id).step("fails").attempts == attempts


def test_an_unhandled_task_failure_fails_the_flow_and_raises_the_error(session):  # type: ignore[no-untyped-def]
    @task
    def boom():  # type: ignore[no-untyped-def]
        raise ValueError("no good")

    @flow
    def f():  # type: ignore[no-untyped-def]
        boom()

    with pytest.raises(ValueError, match="no good"):
        f()
    [run] = session.runs(limit=1)
    assert (run.state, run.error) == (State.FAILED, "ValueError: no good")
    assert run.step("boom").state is State.FAILED


def test_a_handled_failure_does_not_fail_the_flow(session):  # type: ignore[no-untyped-def]
    @task
    def boom():  # type: ignore[no-untyped-def]
        raise ValueError("no good")

    @flow
    def f():  # type: ignore[no-untyped-def]
        state = boom(return_state=True)
        try:
            boom()
        except ValueError:
            pass
        return state

    out = f()
    assert isinstance(out, Outcome) and out.state is State.FAILED
    with pytest.raises(ValueError):
        out.result()
    [run] = session.runs(limit=1)
    assert run.state is State.SUCCEEDED
    assert [s.state for s in run.steps] == [State.FAILED, State.FAILED]


def test_timeouts_fail_the_attempt_and_can_be_retried(session, delays):  # type: ignore[no-untyped-def]
    @task(timeout=0.2, retries=1)
    def slow():  # type: ignore[no-untyped-def]
        time.sleep(2)

    started = time.perf_counter()
    out = slow(return_state=True)
    assert time.perf_counter() - started < 1.5
    assert out.state is State.FAILED and isinstance(out.error, TaskTimeout)
    assert "timed out after 0.2 s" in str(out.error)
    step = session.get_run(out.run_id).step("slow")
    assert (step.attempts, step.state) == (2, State.FAILED)


def test_flow_timeout_fails_the_run(session):  # type: ignore[no-untyped-def]
    @flow(timeout=0.2)
    def stuck():  # type: ignore[no-untyped-def]
        time.sleep(2)

    with pytest.raises(TaskTimeout, match="Flow 'stuck' timed out after 0.2 s"):
        stuck()
    assert session.runs(limit=1)[0].state is State.FAILED


def test_flow_retries_run_the_function_again(session, delays):  # type: ignore[no-untyped-def]
    tries = []

    @flow(retries=2, retry_delay=3)
    def shaky():  # type: ignore[no-untyped-def]
        tries.append(1)
        if len(tries) < 2:
            raise RuntimeError("first time")
        return len(tries)

    assert shaky() == 2
    assert delays == [3]
    [run] = session.runs(limit=1)
    assert run.state is State.SUCCEEDED
    logs = [e.data.message for e in session.store.events(run.run_id) if e.kind is EventKind.LOG]
    assert logs and "Flow attempt 1 failed (RuntimeError: first time)" in logs[0]


@pytest.mark.parametrize(("args", "kwargs", "parameter", "expected"), [
    (("many",), {}, "n", "int"),
    ((3,), {"rate": "fast"}, "rate", "float"),
    ((3,), {"names": ["a", 1.5]}, "names", "list[str]"),
    ((3,), {"names": "abc"}, "names", "list[str]"),
])
def test_flow_parameters_are_validated_before_the_run_starts(session, args, kwargs, parameter, expected):  # type: ignore[no-untyped-def]
    ran = []

    @flow
    def typed(n: int, rate: float = 1.0, names: list[str] = ()):  # type: ignore[assignment]
        ran.append(1)

    with pytest.raises(ParameterError, match=rf"Parameter '{parameter}' of flow 'typed' must be "
                                             rf"{expected.replace('[', '.').replace(']', '.')}") as info:
        typed(*args, **kwargs)
    assert info.value.parameter == parameter
    assert ran == [] and session.runs(limit=5) == []


def test_flow_parameters_are_converted_and_recorded(session):  # type: ignore[no-untyped-def]
    @flow
    def typed(n: int, rate: float = 1.0, tags: list[str] | None = None):  # type: ignore[no-untyped-def]
        return n, rate, tags

    assert typed("3", rate=2) == (3, 2.0, None)
    assert dict(session.runs(limit=1)[0].parameters) == {"n": 3, "rate": 2.0, "tags": None}
    with pytest.raises(ParameterError, match="cannot be called like this"):
        typed(1, 2, 3, 4)


def test_context_and_logger_inside_tasks_and_flows(session):  # type: ignore[no-untyped-def]
    seen = {}

    @task
    def inner(x):  # type: ignore[no-untyped-def]
        seen["task"] = context()
        get_logger().info("working on %s", x)
        return x

    @flow(name="outer-flow")
    def outer(x: int):  # type: ignore[no-untyped-def]
        seen["flow"] = context()
        get_logger().warning("flow says hi")
        return inner(x)

    assert context().run_id is None
    outer(7)
    t, f = seen["task"], seen["flow"]
    assert (t.flow, t.task, t.step, t.attempt, dict(t.parameters)) == ("outer-flow", "inner", "inner", 1, {"x": 7})
    assert (f.flow, f.task, f.step, dict(f.parameters)) == ("outer-flow", None, None, {"x": 7})
    assert t.run_id == f.run_id == session.runs(limit=1)[0].run_id
    logs = [(e.step, e.data.level, e.data.message) for e in session.store.events(t.run_id)
            if e.kind is EventKind.LOG]
    assert logs == [(None, "WARNING", "flow says hi"), ("inner", "INFO", "working on 7")]


def test_a_flow_called_inside_a_flow_is_a_child_run(session):  # type: ignore[no-untyped-def]
    @flow
    def child():  # type: ignore[no-untyped-def]
        return context().run_id

    @flow
    def parent():  # type: ignore[no-untyped-def]
        return context().run_id, child()

    parent_id, child_id = parent()
    assert parent_id != child_id
    assert session.get_run(child_id).parent_run_id == parent_id


def test_return_state_and_refresh_cache_stay_arguments_when_the_function_takes_them(session):  # type: ignore[no-untyped-def]
    @task
    def takes(return_state=False):  # type: ignore[no-untyped-def]
        return ("mine", return_state)

    assert takes(return_state=True) == ("mine", True)


def test_with_options_changes_a_copy(session):  # type: ignore[no-untyped-def]
    @task
    def base():  # type: ignore[no-untyped-def]
        return 1

    other = base.with_options(name="renamed", retries=2)
    assert (other.name, other.spec.retry.retries, base.name, base.spec.retry.retries) == (
        "renamed", 2, "base", 0)
    with pytest.raises(ParameterError, match="unknown options"):
        base.with_options(retrys=2)
    assert other() == 1 and session.runs(limit=1)[0].name == "renamed"


def test_task_errors_name_the_step_and_run(session):  # type: ignore[no-untyped-def]
    @task
    def fails():  # type: ignore[no-untyped-def]
        raise KeyError("x")

    @task
    def after(v):  # type: ignore[no-untyped-def]
        return v

    @flow
    def f():  # type: ignore[no-untyped-def]
        return after.submit(fails.submit()).result()

    with pytest.raises(TaskError) as info:
        f()
    assert info.value.step == "after" and "input from step 'fails' ended FAILED" in str(info.value)


def test_a_timed_out_flow_starts_no_more_tasks(session):  # type: ignore[no-untyped-def]
    import threading

    ran = []
    later = threading.Event()

    @task
    def side_effect():  # type: ignore[no-untyped-def]
        ran.append(1)

    @flow(timeout=0.1)
    def slow_then_work():  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        try:
            side_effect()
        finally:
            later.set()

    out = slow_then_work(return_state=True)
    assert out.state is State.FAILED and isinstance(out.error, TaskTimeout)
    assert later.wait(5)
    assert ran == []
