"""The daemon as a real process with real kernels (``nbflow scheduler`` and its other name,
``nbflow daemon``): --once, ticks pass, SIGTERM, SIGKILL, restart, two daemons at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from nbflow.core.states import State
from nbflow.deployments import service as D
from tests.waiting import wait_for

pytestmark = [pytest.mark.kernel, pytest.mark.slow,
              pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)]

CLI = "from nbflow.cli.main import main; main()"


def start_scheduler(session, *args: str, command: str = "scheduler") -> subprocess.Popen:
    env = {**os.environ, "NBFLOW_HOME": str(session.settings.home),
           "NBFLOW_DATABASE_URL": session.settings.url, "NBFLOW_HEARTBEAT_INTERVAL": "0.5",
           "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-c", CLI, command, "--poll", "0.2", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def runs(session, name: str):
    return session.runs(limit=500, deployment=name)


def kernels_of(pid: int) -> set[int]:
    """The kernel processes below process ``pid`` (a daemon's warm pool and its running runs:
    a pooled kernel gets its run's environment by a request, so /proc does not show it)."""
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    out = set()
    for k in kids:
        try:
            if "ipykernel" in " ".join(k.cmdline()):
                out.add(k.pid)
        except psutil.Error:
            pass
    return out


def alive(pids: set[int]) -> set[int]:
    out = set()
    for p in pids:
        try:
            if psutil.Process(p).status() != psutil.STATUS_ZOMBIE:
                out.add(p)
        except psutil.NoSuchProcess:
            pass
    return out


def kernel_pids(run_id: str) -> set[int]:
    """Processes whose environment carries NBFLOW_RUN_ID=run_id (the run's kernel)."""
    needle = f"NBFLOW_RUN_ID={run_id}".encode()
    found = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if needle in (p / "environ").read_bytes().split(b"\0"):
                    found.add(int(p.name))
            except OSError:
                pass
    return found


def one_tick_due(session, name: str) -> None:
    """Put the cursor just before a tick, so exactly one is due now (and none for an hour)."""
    ds = session.store.deployments
    row = ds.get(name)
    now = time.time()
    ds.save(name, row.notebook, row.spec, reset_cursor=True, now=(now // 3600) * 3600 - 1)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=timeout)
    return out


@pytest.mark.parametrize("command", ["scheduler", "daemon"])
def test_once_runs_the_due_deployment_and_exits(kernel, session, notebook, command):
    D.deploy(notebook, name="due", every="1h", parameters={"n": 3})
    one_tick_due(session, "due")
    proc = start_scheduler(session, "--once", command=command)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "one pass: 1 tick(s) claimed, 1 run(s) started, 0 marked crashed." in out
    assert f"{command} stopped." in out
    [run] = runs(session, "due")
    assert run.state is State.SUCCEEDED and run.parameters["n"] == 3
    assert " started  due run " + run.run_id in out
    assert Path(run.output_path).exists()


def test_ticks_pass_then_sigterm_lets_running_notebooks_finish(kernel, session, notebook):
    D.deploy(notebook, name="tick", every="1s", catchup="none", max_concurrency=1,
             parameters={"n": 2})
    proc = start_scheduler(session, "--max-concurrency", "2", "--grace", "30")
    try:
        wait_for(lambda: sum(r.state is State.SUCCEEDED for r in runs(session, "tick")) >= 2,
                 what="two successful runs")
        wait_for(lambda: any(r.state is State.RUNNING for r in runs(session, "tick")),
                 what="a running notebook")
        out = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopping: no new runs" in out and "scheduler stopped" in out
    states = Counter(r.state for r in runs(session, "tick"))
    assert State.RUNNING not in states and State.CANCELLED not in states and State.FAILED not in states
    assert states[State.SUCCEEDED] >= 3
    ticks = [r.scheduled_at for r in runs(session, "tick")]
    assert len(ticks) == len(set(ticks))
    assert all(t.microsecond == 0 for t in ticks)


def test_sigterm_after_the_grace_cancels_and_kills_the_kernel(kernel, session, notebook):
    D.deploy(notebook, name="slow", every="1h", parameters={"n": 60_000})
    one_tick_due(session, "slow")
    proc = start_scheduler(session, "--grace", "1")
    try:
        run = wait_for(lambda: next((r for r in runs(session, "slow") if r.state is State.RUNNING), None),
                       what="the slow run to start")
        kernels = wait_for(lambda: kernels_of(proc.pid) | kernel_pids(run.run_id), what="its kernel")
        started = time.monotonic()
        out = stop(proc)
        assert time.monotonic() - started < 30
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    final = session.get_run(run.run_id)
    assert final.state is State.CANCELLED and "cancelled" in final.error
    assert Path(final.output_path).exists()
    assert kernel_pids(run.run_id) == set()
    wait_for(lambda: not alive(kernels), timeout=30, what="every kernel of the daemon to exit")


def test_sigkill_then_restart_marks_the_run_crashed(kernel, session, notebook):
    D.deploy(notebook, name="slow", every="1h", parameters={"n": 60_000})
    one_tick_due(session, "slow")
    proc = start_scheduler(session)
    try:
        run = wait_for(lambda: next((r for r in runs(session, "slow") if r.state is State.RUNNING), None),
                       what="the slow run to start")
        kernels = wait_for(lambda: kernels_of(proc.pid) | kernel_pids(run.run_id), what="its kernel")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    # Its owner's pid is dead on this host: the next read says CRASHED, no heartbeat timeout.
    assert session.get_run(run.run_id).state is State.CRASHED
    again = start_scheduler(session, "--once")
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0, out
    crashed = session.get_run(run.run_id)
    assert crashed.state is State.CRASHED and f"pid {proc.pid}" in crashed.error
    # the orphaned kernels (the run's and the pool's) notice their parent is gone and exit
    wait_for(lambda: not alive(kernels) and not kernel_pids(run.run_id), timeout=30,
             what="the orphaned kernels to exit")
    assert [r.run_id for r in runs(session, "slow")] == [run.run_id]


def test_two_scheduler_processes_never_start_a_tick_twice(kernel, session, notebook):
    D.deploy(notebook, name="tick", every="1s", catchup="all", parameters={"n": 1})
    procs = [start_scheduler(session, "--max-concurrency", "2") for _ in range(2)]
    try:
        wait_for(lambda: sum(r.state is State.SUCCEEDED for r in runs(session, "tick")) >= 4,
                 timeout=90, what="four successful runs")
        outs = [stop(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], outs
    all_runs = runs(session, "tick")
    ticks = [r.scheduled_at for r in all_runs]
    assert len(ticks) == len(set(ticks))
    owners = Counter(r.tags.get("pid") for r in all_runs if r.state is State.SUCCEEDED)
    assert set(owners) <= {p.pid for p in procs}
    assert sum(owners.values()) >= 4
    started = [line for out in outs for line in out.splitlines() if " started  tick run " in line]
    assert len(started) == len({line.split()[-1] for line in started})
