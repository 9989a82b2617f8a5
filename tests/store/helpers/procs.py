"""Start helper scripts in their own processes and read what they left in the store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

HERE = Path(__file__).parent
CHAIN = HERE / "chain.py"
HEARTBEAT_INTERVAL = 0.2
HEARTBEAT_TIMEOUT = 2.0  # ten missed beats: a busy machine does not fake a crash


def child_env(home: Path, url: str, calls: Path, **extra: str) -> dict[str, str]:
    """The environment of a child: its store, home, fast heartbeats and the calls file."""
    env = {k: v for k, v in os.environ.items() if k != "NBFLOW_RUN_ID"}
    env.update(NBFLOW_HOME=str(home), NBFLOW_DATABASE_URL=url, CALLS=str(calls),
               NBFLOW_HEARTBEAT_INTERVAL=str(HEARTBEAT_INTERVAL),
               NBFLOW_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT), **extra)
    return env


def start_chain(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(CHAIN), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_chain(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = start_chain(env, *args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 30.0,
             proc: subprocess.Popen[str] | None = None) -> Any:
    """Poll ``predicate`` until it is truthy; fail naming ``what`` (and the child's stderr)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the child exited ({proc.returncode}) before {what}: "
                                 f"{proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def materialized(store: Any) -> set[str]:
    """Names of the assets with at least one materialisation row."""
    from nbflow.store.schema import materializations

    with store.connect() as conn:
        return set(conn.execute(select(materializations.c.asset).distinct()).scalars())


def count_rows(store: Any, table: Any, **where: Any) -> int:
    q = select(func.count()).select_from(table)
    for column, value in where.items():
        q = q.where(table.c[column] == value)
    with store.connect() as conn:
        return int(conn.execute(q).scalar_one())


def calls(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
