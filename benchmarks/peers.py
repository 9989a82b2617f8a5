"""nbflow against Dagster and Prefect on the same shapes, each peer in a venv of its own.

    .venv/bin/python benchmarks/peers.py                        # install (first time) and run, 3 rounds
    .venv/bin/python benchmarks/peers.py --work /tmp/peers --rounds 5 --chain 200 --tasks 500
    .venv/bin/python benchmarks/peers.py --install-only         # just create the peers' venvs

The peers are never installed in the project's venv: ``--work`` (default
``~/.cache/nbflow-peers``) gets ``dagster/`` and ``prefect/`` venvs made with this Python's base
interpreter and ``pip install dagster`` / ``pip install prefect`` from PyPI (only when the venv
does not import it yet), and a worker script per peer. Shapes, the same N for all three:

- *asset chain, durable*: N assets, each adds one to its upstream. nbflow: ``Session.materialize``
  on a fresh SQLite home (pickle files, every event committed). Dagster: ``materialize`` of
  the chain on ``DagsterInstance.local_temp`` (SQLite run and event storage, the filesystem
  I/O manager) - its durable default.
- *tasks in a flow*: one flow calls a trivial task N times. nbflow: ``@flow``/``@task`` on a
  fresh SQLite home. Prefect 3: ``@flow``/``@task`` against its ephemeral local server (SQLite
  under the work folder), warmed up by one flow run first.
- *mapped tasks*: one flow maps the trivial task over N items and sums the results.

Each round runs nbflow in this process and each peer in a fresh process of its venv (timed
inside the worker, so imports and the ephemeral server's start are not counted), interleaved;
medians; the ratio is peer / nbflow per step ("nbflow is Nx faster").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PEERS = {"dagster": ["dagster"], "prefect": ["prefect"]}

DAGSTER_WORKER = r'''
import json, sys, tempfile, time, warnings
warnings.filterwarnings("ignore")
from dagster import AssetIn, DagsterInstance, asset, materialize

def chain(n):
    out = [asset(name="a0")(lambda: 0)]
    for i in range(1, n):
        def fn(up):
            return up + 1
        out.append(asset(name=f"a{i}", ins={"up": AssetIn(f"a{i-1}")})(fn))
    return out

n = int(sys.argv[1])
with tempfile.TemporaryDirectory() as d:
    with DagsterInstance.local_temp(tempdir=d) as instance:
        materialize(chain(3), instance=instance)  # warm-up
        assets = chain(n)
        t = time.perf_counter()
        result = materialize(assets, instance=instance)
        elapsed = time.perf_counter() - t
        assert result.success
        assert len(result.get_asset_materialization_events()) == n
print(json.dumps({"chain": elapsed / n}))
'''

PREFECT_WORKER = r'''
import json, sys, time
from prefect import flow, task

@task
def trivial(x):
    return x + 1

@flow
def calls(n):
    return sum(trivial(i) for i in range(n))

@flow
def mapped(n):
    return sum(trivial.map(list(range(n))).result())

n = int(sys.argv[1])
calls(3); mapped(3)  # warm-up: starts the ephemeral server, creates the flows
t = time.perf_counter(); assert calls(n) == sum(range(1, n + 1)); c = time.perf_counter() - t
t = time.perf_counter(); assert mapped(n) == sum(range(1, n + 1)); m = time.perf_counter() - t
print(json.dumps({"calls": c / n, "map": m / n}))
'''


def venv_python(work: Path, peer: str) -> Path:
    return work / peer / "bin" / "python"


def ensure(work: Path, peer: str) -> Path:
    py = venv_python(work, peer)
    module = PEERS[peer][0]
    if py.exists() and subprocess.run([py, "-c", f"import {module}"], capture_output=True, check=False).returncode == 0:
        return py
    base = getattr(sys, "_base_executable", sys.executable)
    print(f"creating {work / peer} and installing {' '.join(PEERS[peer])} (a few minutes)...", flush=True)
    subprocess.run([base, "-m", "venv", str(work / peer)], check=True)
    t = time.perf_counter()
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS[peer]],
                   check=True)
    version = subprocess.run([py, "-c", f"import {module}; print({module}.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    print(f"  {module} {version} installed in {time.perf_counter() - t:.0f} s", flush=True)
    return py


def peer_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBFLOW_", "PYTHONPATH"))}
    home = work / "prefect-home"
    env.update({
        "PREFECT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "ERROR",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    })
    env.pop("PREFECT_API_URL", None)
    env.pop("DAGSTER_HOME", None)
    return env


def run_worker(py: Path, script: Path, n: int, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([py, str(script), str(n)], env=env, capture_output=True, text=True, timeout=900, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{script.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def nbflow_shapes(chain_n: int, tasks_n: int) -> dict[str, float]:
    from bench_chain import chain

    from nbflow.core.registry import Registry
    from nbflow.session import Session, set_session
    from nbflow.session.flows import flow
    from nbflow.session.tasks import task
    from nbflow.settings import Settings

    @task
    def trivial(x: int) -> int:
        return x + 1

    @flow
    def calls(n: int) -> int:
        return sum(trivial(i) for i in range(n))

    @flow
    def mapped(n: int) -> int:
        return sum(f.result() for f in trivial.map(list(range(n))))

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as home:
        session = Session(Settings.resolve(home=Path(home)), chain(chain_n))
        _ = session.store
        t = time.perf_counter()
        assert session.materialize("*").ok
        out["chain"] = (time.perf_counter() - t) / chain_n
        session.close()
    with tempfile.TemporaryDirectory() as home:
        session = Session(Settings.resolve(home=Path(home)), Registry())
        set_session(session)
        _ = session.store
        calls(3)
        t = time.perf_counter()
        assert calls(tasks_n) == sum(range(1, tasks_n + 1))
        out["calls"] = (time.perf_counter() - t) / tasks_n
        t = time.perf_counter()
        assert mapped(tasks_n) == sum(range(1, tasks_n + 1))
        out["map"] = (time.perf_counter() - t) / tasks_n
        session.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("~/.cache/nbflow-peers").expanduser())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chain", type=int, default=100, help="assets in the chain (Dagster: ~50 ms each)")
    ap.add_argument("--tasks", type=int, default=200, help="tasks called / mapped (Prefect: ~5 ms each)")
    ap.add_argument("--install-only", action="store_true")
    args = ap.parse_args()
    work = args.work.expanduser().resolve()
    if work == Path(sys.prefix).resolve() or Path(sys.prefix).resolve() in work.parents:
        raise SystemExit(f"--work {work} is inside the project's venv; choose a folder of its own.")
    work.mkdir(parents=True, exist_ok=True)
    pys = {peer: ensure(work, peer) for peer in PEERS}
    if args.install_only:
        return 0
    (work / "dagster_worker.py").write_text(DAGSTER_WORKER)
    (work / "prefect_worker.py").write_text(PREFECT_WORKER)
    env = peer_env(work)
    rows: dict[str, list[float]] = {k: [] for k in
                                    ("nbflow chain", "nbflow calls", "nbflow map", "dagster chain",
                                     "prefect calls", "prefect map")}
    nbflow_shapes(10, 10)  # warm-up
    for r in range(args.rounds):
        nb = nbflow_shapes(args.chain, args.tasks)
        dg = run_worker(pys["dagster"], work / "dagster_worker.py", args.chain, env)
        pf = run_worker(pys["prefect"], work / "prefect_worker.py", args.tasks, env)
        for k, v in nb.items():
            rows[f"nbflow {k}"].append(v)
        rows["dagster chain"].append(dg["chain"])
        rows["prefect calls"].append(pf["calls"])
        rows["prefect map"].append(pf["map"])
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1] * 1e3:.3f}" for k, v in rows.items()) + " ms",
              flush=True)
    med = {k: statistics.median(v) * 1e3 for k, v in rows.items()}
    print(f"\nmedians of {args.rounds} rounds, ms per step (chain of {args.chain}, {args.tasks} tasks):")
    for shape, peer in (("chain", "dagster"), ("calls", "prefect"), ("map", "prefect")):
        ours, theirs = med[f"nbflow {shape}"], med[f"{peer} {shape}"]
        print(f"  {shape:<6} nbflow {ours:8.3f} ms   {peer} {theirs:8.3f} ms   nbflow {theirs / ours:6.0f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
