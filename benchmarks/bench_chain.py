"""Chain of N trivial assets on the SQLite store: per-step overhead, cached re-run, linearity.

    .venv/bin/python benchmarks/bench_chain.py              # 1,000 and 10,000 steps, 3 repeats
    .venv/bin/python benchmarks/bench_chain.py --sizes 500 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from nbflow.core.registry import Registry
from nbflow.core.specs import make_asset
from nbflow.session import Session
from nbflow.settings import Settings


def chain(n: int) -> Registry:
    reg = Registry()
    reg.add(make_asset(lambda: 0, name="a0"))
    for i in range(1, n):
        prev = f"a{i - 1}"
        fn = eval(f"lambda {prev}: {prev} + 1")  # noqa: S307 - a trivial step with a named parameter
        reg.add(make_asset(fn, name=f"a{i}", code_version="1"))
    return reg


def run(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as home:
        session = Session(Settings.resolve(home=Path(home)), chain(n))
        session.store  # open (and migrate) outside the timing
        t = time.perf_counter()
        first = session.materialize("*")
        cold = time.perf_counter() - t
        assert first.ok and len(first.states) == n
        t = time.perf_counter()
        again = session.materialize("*")
        cached = time.perf_counter() - t
        assert set(again.states.values()) == {again.states["a0"]} and again.states["a0"].value == "CACHED"
        assert len(session.get_run(first.run_id).steps) == n
        session.close()
    return cold, cached


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    results = {}
    for n in args.sizes:
        colds, cacheds = zip(*(run(n) for _ in range(args.repeats)))
        cold, cached = statistics.median(colds), statistics.median(cacheds)
        results[n] = cold
        print(f"chain of {n:>6}: {cold:7.3f} s  = {cold / n * 1000:.3f} ms/step;  "
              f"all-CACHED re-run {cached:6.3f} s  (medians of {args.repeats})")
    if 1000 in results and 10000 in results:
        print(f"10,000 / 1,000 time ratio: {results[10000] / results[1000]:.1f} (target <= 11)")


if __name__ == "__main__":
    main()
