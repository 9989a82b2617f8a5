"""Tasks in flows on the SQLite store: per-task cost of calls, mapped tasks, cache hits.

    .venv/bin/python benchmarks/tasks_flow.py                   # all three, 3 repeats each
    .venv/bin/python benchmarks/tasks_flow.py --only calls --tasks 2000 --repeats 5

calls: one flow calls a trivial task N times; the time is the whole flow call (every event
       committed when it returns) divided by N.
map:   one flow maps a trivial task over N items on threads; then a SQL query counts the
       steps of the run in a terminal state (each must have exactly one STEP_FINISHED).
cache: a task with cache="inputs" is called N times with an argument it has already seen,
       inside one flow (median per hit), and outside a flow (each call a run of its own).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from nbflow.core.registry import Registry
from nbflow.core.states import TERMINAL, State
from nbflow.session import Session, set_session
from nbflow.session.flows import flow
from nbflow.session.tasks import task
from nbflow.settings import Settings
from nbflow.store.schema import events


@task
def trivial(x: int) -> int:
    return x + 1


@task(cache="inputs")
def cached(x: int) -> int:
    return x + 1


def fresh_session(home: str) -> Session:
    session = Session(Settings.resolve(home=Path(home)), Registry())
    set_session(session)
    session.store  # open and migrate outside the timing
    return session


def bench_calls(n: int) -> float:
    @flow
    def calls(n: int) -> int:
        total = 0
        for i in range(n):
            total += trivial(i)
        return total

    with tempfile.TemporaryDirectory() as home:
        session = fresh_session(home)
        t = time.perf_counter()
        out = calls(n, return_state=True)
        elapsed = time.perf_counter() - t
        assert out.state is State.SUCCEEDED
        run = session.get_run(out.run_id)
        assert len(run.steps) == n and {s.state for s in run.steps} == {State.SUCCEEDED}
        session.close()
    return elapsed / n


def bench_map(n: int) -> tuple[float, int]:
    @flow(executor="threads")
    def mapped(n: int) -> int:
        return sum(f.result() for f in trivial.map(range(n)))

    with tempfile.TemporaryDirectory() as home:
        session = fresh_session(home)
        t = time.perf_counter()
        out = mapped(n, return_state=True)
        elapsed = time.perf_counter() - t
        assert out.state is State.SUCCEEDED and out.value == sum(range(1, n + 1))
        # The check the issue asks for: every task recorded, each in exactly one terminal state.
        q = (select(events.c.step, func.count())
             .where(events.c.run_id == out.run_id, events.c.kind == "STEP_FINISHED",
                    events.c.state.in_([str(s) for s in TERMINAL]))
             .group_by(events.c.step))
        with session.store.connect() as conn:
            finished = dict(conn.execute(q).all())
            started = conn.execute(select(func.count(func.distinct(events.c.step))).where(
                events.c.run_id == out.run_id, events.c.kind == "STEP_STARTED")).scalar()
        assert len(finished) == n == started, (len(finished), started)
        assert set(finished.values()) == {1}
        session.close()
    return elapsed / n, len(finished)


def bench_cache(n: int) -> tuple[float, float]:
    hits_in_flow: list[float] = []

    @flow
    def hits(n: int) -> None:
        cached(1)  # the miss that fills the cache
        for _ in range(n):
            t = time.perf_counter()
            cached(1)
            hits_in_flow.append(time.perf_counter() - t)

    with tempfile.TemporaryDirectory() as home:
        session = fresh_session(home)
        hits(n)
        run = session.runs(limit=1)[0]
        assert sum(s.state is State.CACHED for s in run.steps) == n
        alone = []
        for _ in range(min(n, 1000)):
            t = time.perf_counter()
            cached(1)
            alone.append(time.perf_counter() - t)
        session.close()
    return statistics.median(hits_in_flow), statistics.median(alone)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["calls", "map", "cache"], default=None)
    args = ap.parse_args()
    n, reps = args.tasks, args.repeats
    results: dict[str, Any] = {}
    if args.only in (None, "calls"):
        per = [bench_calls(n) for _ in range(reps)]
        results["calls"] = statistics.median(per)
        print(f"{n:,} tasks called in a flow: {results['calls'] * 1e3:.3f} ms per task "
              f"(median of {reps}: {', '.join(f'{p * 1e3:.3f}' for p in per)})")
    if args.only in (None, "map"):
        per_map = [bench_map(n) for _ in range(reps)]
        results["map"] = statistics.median(p for p, _ in per_map)
        print(f"{n:,} tasks mapped on threads: {results['map'] * 1e3:.3f} ms per task; recorded in a "
              f"terminal state: {', '.join(f'{c:,}' for _, c in per_map)} of {n:,}")
    if args.only in (None, "cache"):
        per_cache = [bench_cache(n) for _ in range(reps)]
        in_flow = statistics.median(p for p, _ in per_cache)
        alone = statistics.median(a for _, a in per_cache)
        print(f"cache hit: {in_flow * 1e3:.3f} ms inside a flow, {alone * 1e3:.3f} ms as a task "
              f"run of its own (medians)")


if __name__ == "__main__":
    main()
