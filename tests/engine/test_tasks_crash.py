"""A flow killed with SIGKILL mid-way leaves a consistent store and shows CRASHED."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from nbflow.core.events import EventKind
from nbflow.core.states import State
from nbflow.session.flows import flow
from nbflow.session.tasks import task

VICTIM = textwrap.dedent("""
    import time
    from nbflow.session.flows import flow
    from nbflow.session.tasks import task

    @task(cache="inputs")
    def first(x):
        return x * 2

    @task
    def hangs(x):
        time.sleep(600)

    @flow
    def doomed(n: int):
        for i in range(n):
            first(i)
        hangs(1)

    doomed(50)
""")


@pytest.mark.slow
def test_sigkill_mid_flow_leaves_a_consistent_store_and_a_crashed_run(session, store_url):  # type: ignore[no-untyped-def]
    env = {**os.environ, "NBFLOW_DATABASE_URL": store_url, "NBFLOW_HOME": str(session.settings.home),
           "NBFLOW_HEARTBEAT_INTERVAL": "0.2", "NBFLOW_HEARTBEAT_TIMEOUT": "1.5"}
    proc = subprocess.Popen([sys.executable, "-c", VICTIM], env=env)
    store = session.store
    run = None
    deadline = time.time() + 60
    try:
        while time.time() < deadline:  # wait until the hanging step has started and is stored
            runs = store.runs(limit=1)
            if runs and any(s.name == "hangs" for s in runs[0].steps):
                run = runs[0]
                break
            time.sleep(0.1)
        assert run is not None, "the flow never reached its hanging step"
        assert run.state is State.RUNNING
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    store.heartbeat_timeout = 1.5
    time.sleep(2.0)
    crashed = session.get_run(run.run_id)
    assert crashed.state is State.CRASHED
    steps = {s.name: s.state for s in crashed.steps}
    assert steps.pop("hangs") is State.CRASHED
    assert len(steps) == 50 and set(steps.values()) == {State.SUCCEEDED}
    assert [r.run_id for r in session.runs(limit=5, state="CRASHED")] == [run.run_id]
    # Consistent: every step that started has its events, and the store takes new writes.
    events = store.events(run.run_id)
    assert sum(e.kind is EventKind.STEP_FINISHED for e in events) == 50
    assert store.sweep_crashed(timeout=1.5) == [run.run_id]
    assert session.get_run(run.run_id).state is State.CRASHED

    @task(cache="inputs", name="first")
    def first(x):  # type: ignore[no-untyped-def]
        raise AssertionError("the rerun reuses the cached results of the crashed run")

    @flow
    def rerun():  # type: ignore[no-untyped-def]
        return [first(i) for i in range(50)]

    assert rerun() == [2 * i for i in range(50)]
    assert {s.state for s in session.runs(limit=1)[0].steps} == {State.CACHED}
