"""The demo (main job): materialise the example pipeline's assets and show what the store knows.

Runs on the embedded SQLite default under NBFLOW_HOME (default: .nbflow-demo in the repo).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def step(title: str, *args: str) -> None:
    print(f"\n\033[1m$ nbflow {' '.join(args)}\033[0m  # {title}", flush=True)
    code = subprocess.call([str(BIN / "nbflow"), *args], cwd=ROOT)
    if code not in (0,):
        sys.exit(code)


def main() -> None:
    os.environ.setdefault("NBFLOW_HOME", str(ROOT / ".nbflow-demo"))
    print(f"NBFLOW_HOME={os.environ['NBFLOW_HOME']} (SQLite store: nbflow.db inside it)")
    step("define and list the assets", "assets", "-f", "notebooks/pipeline.py")
    step("materialise everything", "materialize", "*", "-f", "notebooks/pipeline.py")
    step("again: every asset is fresh, so nothing runs", "materialize", "*", "-f", "notebooks/pipeline.py")
    step("where each asset stands", "status", "-f", "notebooks/pipeline.py")
    step("the history", "runs", "--limit", "5")


if __name__ == "__main__":
    main()
