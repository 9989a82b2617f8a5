"""Sensor reaction latency: commit of a materialisation in one process -> start of the run an
asset sensor in a daemon process requests for it. Prints p50/p95 over N reactions (target p95
<= 2 s; Dagster's default sensor interval is 30 s).

    .venv/bin/python benchmarks/sensor_latency.py [--n 20] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PIPELINE = textwrap.dedent("""
    import nbflow as nf

    @nf.asset
    def raw():
        return 1

    @nf.asset
    def reacted():
        return 2

    @nf.asset_sensor(asset="raw", target="reacted")
    def on_raw(event):
        return nf.RunRequest()
""")

CLI = "from nbflow.cli.main import main; main()"


def start_daemon(home: Path, url: str, pipeline: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NBFLOW_HOME": str(home), "NBFLOW_DATABASE_URL": url,
           "NBFLOW_HEARTBEAT_INTERVAL": "0.5", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-c", CLI, "daemon", "-f", str(pipeline),
                             "--sensor-poll", "0.2", *extra], env=env, cwd=str(pipeline.parent),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def measure(home: Path, url: str, n: int = 20, timeout: float = 30.0) -> list[float]:
    """Seconds from each commit of ``raw`` to the start of the sensor's run, ``n`` times."""
    import nbflow as nf
    from nbflow.core.registry import Registry
    from nbflow.session import Session, set_session
    from nbflow.settings import Settings

    pipeline = home / "pipeline.py"
    home.mkdir(parents=True, exist_ok=True)
    pipeline.write_text(PIPELINE)
    session = Session(Settings.resolve(home=home, database_url=url), Registry())
    old = set_session(session)

    @nf.asset(registry=session.registry)
    def raw() -> int:
        return 1

    daemon = start_daemon(home, url, pipeline)
    latencies = []
    try:
        deadline = time.monotonic() + 60
        while session.store.sensors.get("on_raw") is None:  # the daemon is up and ticking
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError("the daemon did not start: " + (daemon.stdout.read() if daemon.stdout else ""))
            time.sleep(0.1)
        for _ in range(n):
            result = nf.materialize("raw", force=True)  # returns once its events are committed
            committed = time.time()
            mat_id = next(e.id for e in nf.events(kinds=["MATERIALIZATION"], assets="raw", after=0,
                                                  limit=1000, session=session)
                          if e.run_id == result.run_id)
            key = f"event-{mat_id}"
            end = time.monotonic() + timeout
            while True:
                run_id = session.store.sensors.run_keys("on_raw").get(key)
                run = session.store.get_run(run_id) if run_id else None
                if run is not None and run.started_at is not None:
                    latencies.append(max(run.started_at.timestamp() - committed, 0.0))
                    break
                if time.monotonic() > end:
                    raise RuntimeError(f"no run started for {key} within {timeout} s")
                time.sleep(0.02)
    finally:
        daemon.terminate()
        daemon.communicate(timeout=60)
        set_session(old)
        session.close()
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--url", default=None, help="store URL (default: SQLite in a temp home)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        url = args.url or f"sqlite:///{home / 'nbflow.db'}"
        lat = measure(home, url, args.n)
    print(f"store {url.split(':')[0]}: {len(lat)} reactions, commit -> run start "
          f"p50 {statistics.median(lat):.3f} s, p95 {percentile(lat, 95):.3f} s, max {max(lat):.3f} s")


if __name__ == "__main__":
    main()
