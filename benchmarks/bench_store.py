"""Run store: group-commit throughput, and four processes materialising into one store at once.

    .venv/bin/python benchmarks/bench_store.py                       # SQLite in a temporary folder
    .venv/bin/python benchmarks/bench_store.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/bench_store.py --events 20000 --length 300 --repeats 5

1. ``record`` N events then ``flush`` (the writer thread commits them in batches): events per second.
2. A chain of L trivial assets materialised by one process, then by four processes at the same
   time into the same store (each its own chain, started together): wall time of each, and
   whether any event was lost or any process saw "database is locked".

With ``--url`` PostgreSQL, each repeat uses a fresh schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROCESSES = 4


@contextmanager
def fresh_store_url(url: str | None) -> Iterator[tuple[str, Path]]:
    """A URL of an empty store and a home folder for stored values."""
    with tempfile.TemporaryDirectory() as home:
        if url is None:
            yield f"sqlite:///{home}/nbflow.db", Path(home)
            return
        import psycopg

        plain = url.replace("postgresql+psycopg", "postgresql")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(plain, autocommit=True) as c:
            c.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}", Path(home)
        finally:
            with psycopg.connect(plain, autocommit=True) as c:
                c.execute(f"DROP SCHEMA {schema} CASCADE")


def record_throughput(url: str, n: int) -> float:
    from nbflow.core.events import Event, EventKind, RunStarted, StepFinished
    from nbflow.core.states import State
    from nbflow.store.sql import SqlStore

    store = SqlStore(url)
    store.record(Event(EventKind.RUN_STARTED, "bench", data=RunStarted(kind="assets")))
    store.flush()
    t = time.perf_counter()
    for i in range(n):
        store.record(Event(EventKind.STEP_FINISHED, "bench", f"a{i}", State.SUCCEEDED, StepFinished(attempt=1)))
    store.flush()
    elapsed = time.perf_counter() - t
    assert len(store.events("bench")) == n + 1
    store.close()
    return n / elapsed


def materialize_chain(url: str, home: str, prefix: str, length: int, go: Any) -> tuple[str, float]:
    from nbflow.core.registry import Registry
    from nbflow.core.specs import make_asset
    from nbflow.session import Session
    from nbflow.settings import Settings

    reg = Registry()
    reg.add(make_asset(lambda: 0, name=f"{prefix}0", code_version="1"))
    for i in range(1, length):
        up = f"{prefix}{i - 1}"
        reg.add(make_asset(eval(f"lambda {up}: {up} + 1"), name=f"{prefix}{i}", code_version="1"))
    session = Session(Settings.resolve(home=Path(home), database_url=url), reg)
    _ = session.store  # open (and migrate) before the start signal
    go.wait()
    t = time.perf_counter()
    result = session.materialize("*")
    elapsed = time.perf_counter() - t
    session.close()
    if not result.ok:
        raise SystemExit(f"chain {prefix} did not succeed: {result.state}")
    return result.run_id, elapsed


def _worker(args: tuple[str, str, str, int, Any]) -> tuple[str, float]:
    return materialize_chain(*args)


def concurrent_chains(url: str, home: Path, length: int, processes: int) -> tuple[float, float]:
    """Wall time of ``processes`` chains started together; (wall, slowest chain)."""
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        go = manager.Event()
        with ctx.Pool(processes) as pool:
            pending = pool.map_async(_worker, [(url, str(home), f"p{i}_", length, go)
                                               for i in range(processes)])
            time.sleep(1.0 + 0.5 * processes)  # let every worker import and open the store
            t = time.perf_counter()
            go.set()
            results = pending.get(timeout=600)
            wall = time.perf_counter() - t
    check_no_loss(url, [r for r, _ in results], length)
    return wall, max(e for _, e in results)


def check_no_loss(url: str, run_ids: list[str], length: int) -> None:
    from sqlalchemy import func, select

    from nbflow.store.schema import events
    from nbflow.store.sql import SqlStore

    store = SqlStore(url)
    with store.connect() as conn:
        counts: dict[str, int] = dict(conn.execute(select(events.c.run_id, func.count())
                                   .where(events.c.run_id.in_(run_ids)).group_by(events.c.run_id)).all())
    store.close()
    expected = 3 * length + 2  # RUN_STARTED, per step STARTED/MATERIALIZATION/FINISHED, RUN_FINISHED
    lost = {r: expected - counts.get(r, 0) for r in run_ids if counts.get(r, 0) != expected}
    if lost:
        raise SystemExit(f"events lost per run: {lost}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=None, help="a PostgreSQL URL (default: SQLite in a temp folder)")
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--length", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rates, singles, walls = [], [], []
    for _ in range(args.repeats):
        with fresh_store_url(args.url) as (url, _home):
            rates.append(record_throughput(url, args.events))
        with fresh_store_url(args.url) as (url, home):
            singles.append(concurrent_chains(url, home, args.length, 1)[0])
        with fresh_store_url(args.url) as (url, home):
            walls.append(concurrent_chains(url, home, args.length, PROCESSES)[0])
    backend = "PostgreSQL" if args.url else "SQLite"
    single, wall = statistics.median(singles), statistics.median(walls)
    print(f"{backend}, medians of {args.repeats}:")
    print(f"  record + flush of {args.events} events: {statistics.median(rates):,.0f} events/s")
    print(f"  one process, chain of {args.length}: {single:.3f} s ({single / args.length * 1000:.3f} ms/step)")
    print(f"  {PROCESSES} processes at once, a chain of {args.length} each: {wall:.3f} s wall "
          f"({wall / (PROCESSES * args.length) * 1000:.3f} ms per step overall, "
          f"{wall / single:.2f}x one chain); no event lost, no lock error")


if __name__ == "__main__":
    main()
