"""Overhead of running a deployment over calling papermill directly on the same notebook.

    .venv/bin/python benchmarks/deploy_trigger.py                 # 7 repeats, both levels
    .venv/bin/python benchmarks/deploy_trigger.py --repeats 11 --notebook notebooks/report.ipynb

Two comparisons, interleaved so machine noise hits both sides alike:

* command line: ``nbflow trigger daily-report`` vs ``papermill report.ipynb out.ipynb -p region EU``
  (each a fresh process, so both pay their imports);
* library: ``nbflow.deployments.trigger("daily-report")`` vs ``papermill.execute_notebook(...)`` in one
  warm process (the deployment path adds validation, the run record, events, the heartbeat).

Both execute the example report (it materialises an asset into the store), under one temporary
NBFLOW_HOME. Prints the medians and the overhead ratio (target: at most 10 %).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--notebook", default=str(ROOT / "notebooks" / "report.ipynb"))
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="nbflow-bench-"))
    os.environ["NBFLOW_HOME"] = str(home)
    os.environ.pop("NBFLOW_DATABASE_URL", None)
    env = {**os.environ, "COLUMNS": "200"}
    out = home / "papermill-out.ipynb"

    import papermill

    import nbflow.deployments as deploy_pkg
    from nbflow.core.states import State
    from nbflow.deployments.service import deploy, trigger

    deploy(args.notebook, name="daily-report", manual=True, parameters={"region": "EU"})
    deploy_pkg  # noqa: B018 - imported for its side effect of loading the package

    def cli_nbflow() -> None:
        subprocess.run([str(BIN / "nbflow"), "trigger", "daily-report"], env=env, check=True,
                       capture_output=True)

    def cli_papermill() -> None:
        subprocess.run([str(BIN / "papermill"), "--no-progress-bar", "--cwd", str(Path(args.notebook).parent), args.notebook, str(out), "-p", "region", "EU"],
                       env=env, check=True, capture_output=True)

    def lib_nbflow() -> None:
        run = trigger("daily-report")
        assert run.state is State.SUCCEEDED, run.error

    def lib_papermill() -> None:
        papermill.execute_notebook(args.notebook, str(out), parameters={"region": "EU"},
                                   progress_bar=False, cwd=str(Path(args.notebook).parent))

    for fn in (cli_nbflow, cli_papermill, lib_nbflow, lib_papermill):  # warm caches once
        fn()
    results: dict[str, list[float]] = {k: [] for k in ("cli_nbflow", "cli_papermill",
                                                       "lib_nbflow", "lib_papermill")}
    for _ in range(args.repeats):
        for name, fn in (("cli_nbflow", cli_nbflow), ("cli_papermill", cli_papermill),
                         ("lib_nbflow", lib_nbflow), ("lib_papermill", lib_papermill)):
            results[name].append(timed(fn))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"notebook: {args.notebook}; repeats: {args.repeats}; NBFLOW_HOME={home}")
    for level in ("cli", "lib"):
        a, b = med[f"{level}_nbflow"], med[f"{level}_papermill"]
        print(f"{level:>3}: nbflow {a:.3f} s  papermill {b:.3f} s  overhead {100 * (a / b - 1):+.1f} %"
              f"  (nbflow runs: {', '.join(f'{x:.2f}' for x in results[f'{level}_nbflow'])};"
              f" papermill: {', '.join(f'{x:.2f}' for x in results[f'{level}_papermill'])})")


if __name__ == "__main__":
    main()
