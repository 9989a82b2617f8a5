"""Tag concurrency limits: held across threads and across processes that share one store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from nbflow.errors import NbflowError
from nbflow.session.flows import flow
from nbflow.session.tasks import limit, task
from tests.engine.conftest import MEMORY, SQL, on_stores

STORES = MEMORY


def test_limit_holds_across_threads(session):  # type: ignore[no-untyped-def]
    limit("db", 2)
    lock = threading.Lock()
    running = [0]
    peak = [0]

    @task(tags=("db", "other"))
    def query(i):  # type: ignore[no-untyped-def]
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return i

    @flow(max_workers=6)
    def f():  # type: ignore[no-untyped-def]
        return [x.result() for x in query.map(range(8))]

    assert f() == list(range(8))
    assert peak[0] == 2
    assert session.store.tasks.limits() == {"db": (2, 0)}  # every slot given back


def test_untagged_and_unlimited_tasks_run_freely(session):  # type: ignore[no-untyped-def]
    limit("db", 1)
    barrier = threading.Barrier(3, timeout=5)

    @task(tags=("cache",))
    def meet(i):  # type: ignore[no-untyped-def]
        barrier.wait()  # would time out if these ran one at a time
        return 1

    @flow(max_workers=3)
    def f():  # type: ignore[no-untyped-def]
        return sum(x.result() for x in meet.map([1, 2, 3]))

    assert f() == 3


def test_a_failing_task_gives_its_slot_back(session):  # type: ignore[no-untyped-def]
    limit("db", 1)

    @task(tags=("db",))
    def fails():  # type: ignore[no-untyped-def]
        raise RuntimeError("x")

    for _ in range(3):
        assert fails(return_state=True).error is not None
    assert session.store.tasks.limits()["db"] == (1, 0)


@pytest.mark.parametrize("slots", [0, -1, 1.5, "2"])
def test_limit_rejects_bad_sizes(session, slots):  # type: ignore[no-untyped-def]
    with pytest.raises(NbflowError, match="must be a whole number >= 1"):
        limit("db", slots)


def test_limit_can_be_changed_and_removed(session):  # type: ignore[no-untyped-def]
    tables = session.store.tasks
    limit("db", 3)
    limit("db", 1)
    limit("api", 5)
    assert tables.limits() == {"api": (5, 0), "db": (1, 0)}
    limit("db", None)
    assert tables.limits() == {"api": (5, 0)}


@on_stores(*SQL)  # writes a slot row of a dead process
def test_slots_of_a_dead_process_are_reclaimed(session):  # type: ignore[no-untyped-def]
    tables = session.store.tasks
    limit("db", 1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from sqlalchemy import insert

    from nbflow.store.schema import concurrency_slots
    from nbflow.store.tasks import _HOST

    with session.store.begin() as conn:
        conn.execute(insert(concurrency_slots).values(
            name="db", holder=f"{_HOST}:{dead.pid}:1", acquired_at=time.time()))
    assert tables.try_acquire(["db"]) is None
    ids = tables.acquire(["db"])  # reaps the dead holder, then takes the slot
    assert len(ids) == 1 and tables.limits()["db"] == (1, 1)
    tables.release(ids)


WORKER = textwrap.dedent("""
    import sys, time
    from nbflow.session.flows import flow
    from nbflow.session.tasks import task

    out = sys.argv[1]

    @task(tags=["gpu"])
    def hold(i):
        start = time.time()
        time.sleep(0.15)
        with open(out, "a") as f:
            f.write(f"{start} {time.time()}\\n")
        return i

    @flow(max_workers=3)
    def work():
        return [f.result() for f in hold.map(range(3))]

    work()
""")


@pytest.mark.slow
@on_stores(*SQL)  # other processes share the store
def test_limit_holds_across_processes(session, tmp_path, store_url):  # type: ignore[no-untyped-def]
    limit("gpu", 1)
    out = tmp_path / "intervals.txt"
    env = {**os.environ, "NBFLOW_DATABASE_URL": store_url, "NBFLOW_HOME": str(session.settings.home)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(out)], env=env) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    intervals = sorted(tuple(map(float, line.split())) for line in out.read_text().splitlines())
    assert len(intervals) == 6
    for (_, end), (start, _) in zip(intervals, intervals[1:]):
        assert start >= end - 0.01, "two tasks tagged 'gpu' ran at the same time"
    assert session.store.tasks.limits() == {"gpu": (1, 0)}


def test_a_task_called_inside_a_task_holding_the_slot_reuses_it(session):  # type: ignore[no-untyped-def]
    limit("db", 1)

    @task(tags=("db",))
    def inner(x):  # type: ignore[no-untyped-def]
        return x + 1

    @task(tags=("db",))
    def outer(x):  # type: ignore[no-untyped-def]
        return inner(x) * 2  # would wait for its own slot forever without re-entry

    @flow
    def f():  # type: ignore[no-untyped-def]
        return outer(1)

    assert f() == 4
    assert session.store.tasks.limits() == {"db": (1, 0)}
