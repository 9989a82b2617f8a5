"""Import time: ``python -c "import nbflow"`` against ``python -c "pass"``, medians of N runs.

    .venv/bin/python benchmarks/bench_import.py               # 21 runs of each, interleaved
    .venv/bin/python benchmarks/bench_import.py --runs 31 --check   # exit 1 above the target

Each command runs in a fresh interpreter (the venv's, unless ``--python``); the runs alternate
so a burst of load on the machine hits both alike. Also timed: ``from nbflow import asset`` (the
first line of a definitions file), and a list of heavy modules that ``import nbflow`` must not
load (they are imported lazily, when first used).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

TARGET = 0.15  # seconds more than a bare interpreter (issue 2, "Speed")
COMMANDS = {
    "pass": "pass",
    "import nbflow": "import nbflow",
    "from nbflow import asset": "from nbflow import asset",
}
HEAVY = ("sqlalchemy", "alembic", "pandas", "pyarrow", "IPython", "papermill", "dask", "rich",
         "click", "pydantic", "fsspec", "nbformat")


def once(python: str, code: str, env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([python, "-c", code], env=env, check=True)
    return time.perf_counter() - t


def heavy_modules_loaded(python: str, env: dict[str, str]) -> list[str]:
    code = ("import sys, nbflow; print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
            f"set({HEAVY!r}))))")
    return subprocess.run([python, "-c", code], env=env, check=True, capture_output=True,
                          text=True).stdout.split()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="runs of each command (>= 15)")
    ap.add_argument("--python", default=sys.executable, help="the interpreter to time")
    ap.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = ap.parse_args()
    if args.runs < 15:
        ap.error("--runs must be at least 15 for a stable median")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP", "PYTHONPROFILEIMPORTTIME")}
    for code in COMMANDS.values():  # warm the file cache and the bytecode caches
        once(args.python, code, env)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, code in COMMANDS.items():
            times[name].append(once(args.python, code, env))
    base = statistics.median(times["pass"])
    print(f"{args.python}; median of {args.runs} runs each")
    for name, ts in times.items():
        med = statistics.median(ts)
        extra = "" if name == "pass" else f"  (+{med - base:.3f} s)"
        print(f"  python -c {name!r:28} {med:.3f} s  [min {min(ts):.3f}, max {max(ts):.3f}]{extra}")
    over = statistics.median(times["import nbflow"]) - base
    heavy = heavy_modules_loaded(args.python, env)
    print(f"import nbflow costs {over:.3f} s over a bare interpreter (target <= {TARGET} s): "
          f"{'met' if over <= TARGET else 'MISSED'}")
    print(f"heavy modules loaded by import nbflow: {', '.join(heavy) or 'none'}")
    return 1 if args.check and (over > TARGET or heavy) else 0


if __name__ == "__main__":
    sys.exit(main())
