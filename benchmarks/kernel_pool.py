"""Deployment runs on the daemon's warm kernel pool against bare papermill, interleaved.

    .venv/bin/python benchmarks/kernel_pool.py              # 5 rounds, medians
    .venv/bin/python benchmarks/kernel_pool.py --rounds 7 --check   # exit 1 above the targets

A fresh NBFLOW_HOME with a trivial notebook deployed (manual). ``nbflow daemon --poll P`` runs
as a real process with its kernel pool (NBFLOW_KERNEL_POOL=2). Each round:

- *daemon*: this process queues a run (a PENDING row, as a sensor or the API does) and polls
  the store every 5 ms until the run is SUCCEEDED: trigger-to-SUCCEEDED, including the
  daemon's poll for queued runs (at most P), the run's events, papermill on a pooled kernel
  and the executed notebook written;
- *papermill*: ``papermill.execute_notebook`` of the same notebook in this process (already
  imported and warmed up), starting its own kernel as papermill always does.

Between rounds it waits until the pool has refilled (the daemon keeps 2 kernels ready).
Targets (issue 17): daemon median at most 0.5 s and at least 4 times faster than papermill.
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

TARGET_SECONDS = 0.5
TARGET_RATIO = 4.0


def write_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("x = 1 + 1\nx"))
    nbformat.write(nb, str(path))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--poll", type=float, default=0.05, help="the daemon's --poll (seconds)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nbflow-kernel-pool-"))
    home = work / "home"
    env = {**os.environ, "NBFLOW_HOME": str(home), "NBFLOW_KERNEL_POOL": "2"}
    env.pop("NBFLOW_DATABASE_URL", None)
    os.environ.update({"NBFLOW_HOME": str(home)})
    os.environ.pop("NBFLOW_DATABASE_URL", None)

    import papermill

    import nbflow as nf
    from nbflow.core.states import TERMINAL, State
    from nbflow.deployments import service
    from nbflow.deployments.runs import claim_run
    from nbflow.session import get_session

    notebook = write_notebook(work / "trivial.ipynb")
    nf.deploy(notebook, name="trivial", manual=True)
    session = get_session()
    ds = session.store.deployments
    dep = service.get_deployment("trivial")
    log = open(work / "daemon.log", "w")  # noqa: SIM115
    daemon = subprocess.Popen([sys.executable, "-m", "nbflow", "daemon", "--poll", str(args.poll)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)

    def through_daemon() -> float:
        t = time.perf_counter()
        run_id = claim_run(session, ds, dep, time.time(), {}, tick=False, trigger="benchmark")
        while True:
            run = session.store.get_run(run_id)
            if run is not None and run.state in TERMINAL:
                break
            time.sleep(0.005)
        took = time.perf_counter() - t
        if run.state is not State.SUCCEEDED:
            raise SystemExit(f"The benchmark run {run_id} ended {run.state}: {run.error}")
        return took

    def bare_papermill(i: int) -> float:
        t = time.perf_counter()
        papermill.execute_notebook(str(notebook), str(work / f"papermill-{i}.ipynb"),
                                   progress_bar=False, log_output=False)
        return time.perf_counter() - t

    def wait_refilled() -> None:  # two kernels of the pool: processes the daemon started
        import psutil

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kids = [p for p in psutil.Process(daemon.pid).children()
                    if "ipykernel" in " ".join(p.cmdline())]
            if len(kids) >= 2:
                time.sleep(1.5)  # started is not ready: leave time for kernel_info
                return
            time.sleep(0.1)

    try:
        wait_refilled()
        through_daemon()  # warm-up: the daemon's first run imports papermill
        bare_papermill(-1)
        times: dict[str, list[float]] = {"daemon": [], "papermill": []}
        for i in range(args.rounds):
            wait_refilled()
            times["daemon"].append(through_daemon())
            times["papermill"].append(bare_papermill(i))
    finally:
        daemon.terminate()
        daemon.wait(60)
        log.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["papermill"] / med["daemon"]
    print(f"trivial notebook, {args.rounds} interleaved rounds, daemon --poll {args.poll:g}")
    for k, v in times.items():
        print(f"  {k:<10} median {med[k]:.3f} s  ({', '.join(f'{x:.3f}' for x in v)})")
    print(f"  papermill / daemon: {ratio:.1f}x (targets: daemon <= {TARGET_SECONDS} s, >= {TARGET_RATIO}x)")
    missed = med["daemon"] > TARGET_SECONDS or ratio < TARGET_RATIO
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
