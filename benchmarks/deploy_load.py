"""50 runs due at once, one scheduler pass with --max-concurrency 4: all complete, none twice.

    .venv/bin/python benchmarks/deploy_load.py                       # 50 runs, concurrency 4
    .venv/bin/python benchmarks/deploy_load.py --runs 50 --concurrency 4 --notebook notebooks/report.ipynb
    .venv/bin/python benchmarks/deploy_load.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

A deployment of the notebook on ``--every 1m --catchup all`` gets its cursor moved back by N
minutes, so N ticks are due; then ``nbflow scheduler --once --max-concurrency 4`` runs as a real
process. Checks afterwards: N runs, N distinct scheduled times, all SUCCEEDED, one executed
notebook each. Prints the wall time and the throughput (runs per minute).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def fresh_schema(url: str) -> str:
    """A new, empty PostgreSQL schema for this run (dropped at the end)."""
    import psycopg

    schema = f"bench_deploy_{int(time.time())}"
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--notebook", default=str(ROOT / "notebooks" / "report.ipynb"))
    ap.add_argument("--url", default=None, help="store URL (default: SQLite in a temporary home)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="nbflow-load-"))
    os.environ["NBFLOW_HOME"] = str(home)
    if args.url:
        os.environ["NBFLOW_DATABASE_URL"] = fresh_schema(args.url) if "postgresql" in args.url else args.url
    else:
        os.environ.pop("NBFLOW_DATABASE_URL", None)
    name = f"load-{int(time.time())}"

    from nbflow.deployments.service import deploy
    from nbflow.session import get_session

    deploy(args.notebook, name=name, every="1m", catchup="all", parameters={"region": "EU"})
    session = get_session()
    ds = session.store.deployments
    row = ds.get(name)
    now = time.time()
    ds.save(name, row.notebook, row.spec, reset_cursor=True, now=(now // 60) * 60 - args.runs * 60 + 1)
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "nbflow"), "scheduler", "--once", "--max-concurrency",
                           str(args.concurrency)], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, check=False)
    wall = time.perf_counter() - start
    runs = session.runs(limit=10 * args.runs, deployment=name)
    states = Counter(r.state.value for r in runs)
    ticks = {r.scheduled_at for r in runs}
    notebooks = list((home / "runs" / name).glob("*.ipynb"))
    ok = (proc.returncode == 0 and len(runs) == args.runs and len(ticks) == args.runs
          and states == {"SUCCEEDED": args.runs} and len(notebooks) == args.runs)
    durations = sorted(r.duration or 0 for r in runs)
    print(f"store: {session.settings.url.split('?')[0]}; notebook: {Path(args.notebook).name}")
    print(f"runs due: {args.runs}; max concurrency: {args.concurrency}; scheduler exit: {proc.returncode}")
    print(f"runs recorded: {len(runs)}; distinct ticks: {len(ticks)}; states: {dict(states)}; "
          f"executed notebooks: {len(notebooks)}")
    print(f"wall: {wall:.1f} s; throughput: {args.runs / wall * 60:.1f} runs/min; "
          f"run duration median {durations[len(durations) // 2]:.2f} s")
    print("OK: all complete, none twice, none lost" if ok else "FAILED CHECK\n" + proc.stdout[-2000:])
    session.close()
    if args.url and "search_path%3D" in os.environ["NBFLOW_DATABASE_URL"]:
        import psycopg

        schema = os.environ["NBFLOW_DATABASE_URL"].rsplit("%3D", 1)[1]
        with psycopg.connect(args.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
            c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
