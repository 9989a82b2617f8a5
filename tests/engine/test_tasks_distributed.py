"""Processes and Dask: tasks (and assets) run in other processes, events stay in the store."""

from __future__ import annotations

import logging
import os
import time

import pytest

import nbflow as nf
from nbflow.core.states import State
from nbflow.engine.executors import make_executor
from nbflow.errors import NbflowError
from nbflow.session.flows import flow
from nbflow.session.tasks import task


def burn(n):  # type: ignore[no-untyped-def]
    """CPU-bound pure Python (holds the GIL: threads would not help)."""
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


@task
def where(x):  # type: ignore[no-untyped-def]
    return os.getpid(), x * 2


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    """A real Dask LocalCluster of two single-threaded worker processes."""
    from distributed import LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                     silence_logs=logging.CRITICAL)
    try:
        yield c
    finally:
        c.close()


@pytest.mark.slow
def test_processes_executor_runs_tasks_elsewhere_and_records_them(session):  # type: ignore[no-untyped-def]
    attempts = []

    @task(retries=1)
    def local_flaky(x):  # defined in a function: travels by value with cloudpickle
        attempts.append(x)  # the list lives in the worker: this process sees nothing
        if x == 1:
            raise ValueError("odd one")
        return x

    @flow(executor="processes", max_workers=2)
    def f():  # type: ignore[no-untyped-def]
        pids = [fut.result() for fut in where.map([1, 2, 3])]
        bad = local_flaky.submit(1)
        return pids, local_flaky.submit(2).result(), bad.wait()

    pids, value, bad_state = f()
    assert [v for _, v in pids] == [2, 4, 6]
    assert os.getpid() not in {p for p, _ in pids}
    assert (value, bad_state, attempts) == (2, State.FAILED, [])
    run = session.runs(limit=1)[0]
    steps = {s.name: (s.state, s.attempts) for s in run.steps}
    assert steps["local_flaky"] == (State.FAILED, 2) and steps["local_flaky-1"] == (State.SUCCEEDED, 1)
    assert [steps[n][0] for n in ("where", "where-1", "where-2")] == [State.SUCCEEDED] * 3


@pytest.mark.dask
@pytest.mark.slow
def test_dask_cluster_runs_eight_cpu_bound_tasks_at_least_1_6_times_faster(session, cluster):  # type: ignore[no-untyped-def]
    @task
    def crunch(size):  # type: ignore[no-untyped-def]
        return burn(size)

    address = cluster.scheduler_address.replace("tcp://", "dask://")

    @flow(executor=address)
    def parallel(sizes: list[int]):  # type: ignore[no-untyped-def]
        return [fut.result() for fut in crunch.map(sizes)]

    parallel([1000, 1000])  # connect and warm the workers (imports) before timing
    ratios = []
    for _ in range(5):  # the best of five: other work on a shared machine slows single tries
        n = 200_000
        started = time.perf_counter()
        burn(n)
        n = int(n * 0.5 / (time.perf_counter() - started))  # about 0.5 s per task here
        started = time.perf_counter()
        expected = [burn(n) for _ in range(8)]
        sequential = time.perf_counter() - started
        started = time.perf_counter()
        assert parallel([n] * 8) == expected
        ratios.append(sequential / (time.perf_counter() - started))
        if ratios[-1] >= 1.6:
            break
    assert max(ratios) >= 1.6, f"Dask on two workers was only {max(ratios):.2f}x faster (tries: {ratios})"
    run = session.runs(limit=1)[0]
    assert len(run.steps) == 8 and {s.state for s in run.steps} == {State.SUCCEEDED}


@pytest.mark.dask
@pytest.mark.slow
def test_dask_executor_starts_a_local_cluster_and_keeps_events_local(session):  # type: ignore[no-untyped-def]
    @task(retries=2, retry_delay=0)
    def unlucky(x):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"no {x}")

    @flow(executor="dask", max_workers=2)
    def f():  # type: ignore[no-untyped-def]
        ok = [fut.result() for fut in where.map([5, 6])]
        return ok, unlucky.submit(1).wait()

    ok, state = f()
    assert [v for _, v in ok] == [10, 12] and os.getpid() not in {p for p, _ in ok}
    assert state is State.FAILED
    run = session.runs(limit=1)[0]
    failed = run.step("unlucky")
    assert (failed.state, failed.attempts, failed.error) == (State.FAILED, 3, "RuntimeError: no 1")


@pytest.mark.dask
@pytest.mark.slow
def test_materialize_assets_on_dask(session, registry):  # type: ignore[no-untyped-def]
    @nf.asset(registry=registry)
    def numbers():  # type: ignore[no-untyped-def]
        return list(range(10)), os.getpid()

    @nf.asset(registry=registry)
    def total(numbers):  # type: ignore[no-untyped-def]
        return sum(numbers[0]), os.getpid()

    result = nf.materialize("*", executor="dask", max_workers=2)
    assert result.ok, result.errors
    value, pid = nf.load("total")
    assert value == 45 and pid != os.getpid()
    assert {s.name: s.state for s in session.get_run(result.run_id).steps} == {
        "numbers": State.SUCCEEDED, "total": State.SUCCEEDED}


@pytest.mark.dask
@pytest.mark.slow
def test_connecting_to_a_missing_scheduler_is_a_clear_error():  # type: ignore[no-untyped-def]
    with pytest.raises(NbflowError, match=r"Cannot connect to the Dask scheduler at tcp://127.0.0.1:1"):
        make_executor("dask://127.0.0.1:1")
