"""CPU used by an idle scheduler (deployments defined, nothing due), as a share of one core.

    .venv/bin/python benchmarks/deploy_idle.py                 # 5 deployments, 30 s measured
    .venv/bin/python benchmarks/deploy_idle.py --seconds 60 --deployments 20

Starts ``nbflow scheduler`` (default poll 1 s) as a real process on a temporary home with daily
cron deployments, waits 5 s for it to settle, then reads its user+system CPU time from
/proc/PID/stat over the measured window. Target: under 1 % of a core.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--deployments", type=int, default=5)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="nbflow-idle-"))
    os.environ["NBFLOW_HOME"] = str(home)
    os.environ.pop("NBFLOW_DATABASE_URL", None)

    from nbflow.deployments.service import deploy

    for i in range(args.deployments):
        deploy(ROOT / "notebooks" / "report.ipynb", name=f"idle-{i}", cron=f"{i % 60} 3 * * *",
               tz="Europe/Paris")
    proc = subprocess.Popen([str(BIN / "nbflow"), "scheduler"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        time.sleep(5)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.seconds)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    share = (c1 - c0) / (t1 - t0) * 100
    print(f"deployments: {args.deployments}; window: {t1 - t0:.1f} s; scheduler CPU: {c1 - c0:.3f} s "
          f"= {share:.2f} % of one core (target < 1 %); exit code after SIGTERM: {proc.returncode}")
    sys.exit(0 if share < 1.0 and proc.returncode == 0 else 1)


if __name__ == "__main__":
    main()
