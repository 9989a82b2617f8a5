"""The demo (main job): run the example notebooks headlessly as deployments on the SQLite default.

1. `notebooks/etl.ipynb` is deployed and triggered: papermill runs it in a real kernel, and its
   `%%asset` cells materialise the orders assets into the store, linked to the deployment run.
2. `notebooks/report.ipynb` is deployed on a daily cron with a parameter, triggered with another
   value, and the scheduler makes one pass over due work.
3. The store is asked what happened: runs, deployments, asset status, one run in detail.

The store lives in NBFLOW_HOME (default: .nbflow-demo in the repository); delete it to start over.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBFLOW = str(Path(sys.executable).parent / "nbflow")


def nbflow(title: str, *args: str, capture: bool = False) -> str:
    print(f"\n\033[1m$ nbflow {' '.join(args)}\033[0m   # {title}", flush=True)
    out = subprocess.run([NBFLOW, *args], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE if capture else None)
    if capture:
        print(out.stdout, end="")
    if out.returncode != 0:
        sys.exit(f"demo step failed with exit code {out.returncode}: nbflow {' '.join(args)}")
    return out.stdout or ""


def main() -> None:
    os.environ.setdefault("NBFLOW_HOME", str(ROOT / ".nbflow-demo"))
    print(f"NBFLOW_HOME={os.environ['NBFLOW_HOME']}  (SQLite store: nbflow.db inside it)")
    nbflow("deploy the ETL notebook, run on demand", "deploy", "notebooks/etl.ipynb",
           "--name", "orders-etl", "--manual")
    out = nbflow("run it headlessly: its %%asset cells materialise the orders assets",
                 "trigger", "orders-etl", capture=True)
    nbflow("deploy the report: daily at 06:00 Paris time, region EU", "deploy",
           "notebooks/report.ipynb", "--name", "daily-report", "--cron", "0 6 * * *",
           "--tz", "Europe/Paris", "-p", "region=EU")
    nbflow("run the report now for another region", "trigger", "daily-report", "-p", "region=US",
           "-p", 'products=["kiwis", "figs", "limes"]')
    nbflow("one scheduler pass over due work (the next tick is tomorrow)", "scheduler", "--once")
    nbflow("deployments and their next runs", "deployments")
    nbflow("the history", "runs", "--limit", "8")
    nbflow("the assets the ETL run materialised", "status")
    run_id = next((w for line in out.splitlines() for w in line.split() if len(w) == 16
                   and all(c in "0123456789abcdef" for c in w)), None)
    if run_id:
        nbflow("the ETL deployment run in detail", "run", "show", run_id)
    print(f"\nExecuted notebooks are kept under {os.environ['NBFLOW_HOME']}/runs/.")


if __name__ == "__main__":
    main()
