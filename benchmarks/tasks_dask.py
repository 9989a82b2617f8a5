"""Dask scale-out: 8 CPU-bound tasks of about 0.5 s, sequential vs a flow on a 2-worker LocalCluster.

    .venv/bin/python benchmarks/tasks_dask.py                  # 3 repeats
    .venv/bin/python benchmarks/tasks_dask.py --tasks 16 --workers 2 --repeats 5

The cluster is started once, outside the timing (``executor="dask://..."`` connects to it);
each repeat recalibrates the work to about 0.5 s per task, times the tasks one after another
in this process, then times a flow that maps them over the cluster.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from nbflow.core.registry import Registry
from nbflow.core.states import State
from nbflow.session import Session, set_session
from nbflow.session.flows import flow
from nbflow.session.tasks import task
from nbflow.settings import Settings


def burn(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


@task
def crunch(n: int) -> int:
    return burn(n)


def main() -> None:
    from distributed import LocalCluster

    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.CRITICAL)
    address = cluster.scheduler_address.replace("tcp://", "dask://")

    @flow(executor=address)
    def parallel(sizes: list[int]) -> list[int]:
        return [f.result() for f in crunch.map(sizes)]

    ratios = []
    with tempfile.TemporaryDirectory() as home:
        session = Session(Settings.resolve(home=Path(home)), Registry())
        set_session(session)
        parallel([1000] * args.workers)  # connect and warm the workers
        for _ in range(args.repeats):
            n = 200_000
            t = time.perf_counter()
            burn(n)
            n = int(n * 0.5 / (time.perf_counter() - t))
            t = time.perf_counter()
            expected = [burn(n) for _ in range(args.tasks)]
            sequential = time.perf_counter() - t
            t = time.perf_counter()
            out = parallel([n] * args.tasks, return_state=True)
            elapsed = time.perf_counter() - t
            assert out.state is State.SUCCEEDED and out.value == expected
            ratios.append(sequential / elapsed)
            print(f"sequential {sequential:.2f} s, Dask ({args.workers} workers) {elapsed:.2f} s: "
                  f"{ratios[-1]:.2f}x")
        session.close()
    cluster.close()
    print(f"median speed-up {statistics.median(ratios):.2f}x over {args.repeats} repeats")


if __name__ == "__main__":
    main()
