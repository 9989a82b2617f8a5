"""Ctrl-C on ``nbflow trigger NAME``: the run ends CANCELLED (not FAILED), its kernel is shut
down, the partial notebook is kept, and the kernel never saw the signal.

The test starts a real ``nbflow trigger`` in its own process group and sends SIGINT to the whole
group, as a terminal does with the foreground job on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deployments.conftest import write_notebook

pytestmark = [pytest.mark.kernel, pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)]

SLOW = """\
import json, os, time
with open(os.environ["PROBE"] + ".tmp", "w") as f:
    json.dump({"pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0)}, f)
os.replace(os.environ["PROBE"] + ".tmp", os.environ["PROBE"])
print("started", flush=True)
for _ in range(1200):
    time.sleep(0.05)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_cancels_the_run_and_keeps_the_partial_notebook(session, tmp_path, kernel):
    from nbflow.core.events import EventKind
    from nbflow.deployments.service import deploy

    nb = write_notebook(tmp_path / "slow.ipynb", [
        ("n = 1", ["parameters"]), (SLOW, []), ("print('after')", [])])
    deploy(nb, name="slow", manual=True, kernel=kernel)
    probe = tmp_path / "kernel.json"
    env = {**os.environ, "PROBE": str(probe)}
    proc = subprocess.Popen([sys.executable, "-m", "nbflow", "trigger", "slow"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not probe.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the kernel never reached the slow cell"
            time.sleep(0.1)
        ids = json.loads(probe.read_text())
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)

    assert ids["sid"] != proc.pid and ids["pgid"] != proc.pid  # the kernel has its own session
    assert proc.returncode == 130, (out, err)
    assert "CANCELLED" in out and "cancelled in cell 1" in out
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err

    deadline = time.monotonic() + 10
    while _alive(ids["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(ids["pid"]), "the kernel was left running"

    [run] = session.runs(deployment="slow")
    assert str(run.state) == "CANCELLED"
    assert run.error == "The run was cancelled in cell 1."
    finished = [e for e in session.store.events(run.run_id) if e.kind is EventKind.RUN_FINISHED]
    assert len(finished) == 1 and finished[0].data.cell_index == 1

    cells = json.loads(Path(run.output_path).read_text())["cells"]
    printed = ["".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])]
    assert "started\n" in printed and not any("after" in p for p in printed)
