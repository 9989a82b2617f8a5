"""The warm kernel pool: a fresh kernel per run (nothing leaks), refill, idle replacement, the
memory cap, the run's env and folder, cancel on a pooled kernel, a real daemon's SIGTERM leaving
no kernel processes, and ``trigger`` without a daemon starting exactly one kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest

from nbflow.deployments.execute import ExecutionRequest, execute_notebook
from nbflow.deployments.kernels import KernelPool, PoolSettings, parse_size, setup_code, warm_ok
from nbflow.errors import SettingsError
from nbflow.settings import Settings
from tests.deployments.conftest import write_notebook
from tests.waiting import wait_for

PROBE = '''\
import json, os, sys
leaked = "planted" in globals()
planted = 1
print(json.dumps({"leaked": leaked, "pid": os.getpid(), "cwd": os.getcwd(),
                  "run_id": os.environ.get("NBFLOW_RUN_ID"), "extra": os.environ.get("EXTRA")}))
'''


def probe(path: Path) -> dict:
    nb = nbformat.read(str(path), as_version=4)
    [output] = [o for o in nb.cells[-1].outputs if o.get("name") == "stdout"]
    return json.loads(output["text"])


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def pool(kernel: str, tmp_path: Path) -> Iterator[KernelPool]:
    p = KernelPool(PoolSettings(size=2, idle=600.0), tmp_path / "kernels", check_every=0.1)
    p.want(kernel)
    assert p.wait_ready(90), p.errors
    try:
        yield p
    finally:
        pids = p.pids()
        p.close()
        assert not [pid for pid in pids if alive(pid)]


@pytest.fixture
def probe_nb(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "helper.py").write_text("VALUE = 42\n")
    return write_notebook(folder / "probe.ipynb", [
        ("n = 1", ["parameters"]), ("import helper\nassert helper.VALUE == 42 and n == 5", []),
        (PROBE, [])])


def run(nb: Path, out: Path, pool: KernelPool | None, **kw) -> object:
    request = ExecutionRequest(str(nb), str(out), parameters={"n": 5},
                               env={"NBFLOW_RUN_ID": out.stem, "EXTRA": "x y"}, **kw)
    return execute_notebook(request, kernels=pool)


@pytest.mark.kernel
def test_each_run_gets_a_fresh_kernel_and_nothing_leaks(pool, probe_nb, tmp_path):
    ready = set(pool.pids())
    first = run(probe_nb, tmp_path / "run1.ipynb", pool)
    wait_for(lambda: pool.ready().get("python3") == 2, what="the refill")
    second = run(probe_nb, tmp_path / "run2.ipynb", pool)
    assert first.ok and second.ok, (first.error, second.error)
    one, two = probe(tmp_path / "run1.ipynb"), probe(tmp_path / "run2.ipynb")
    assert one["leaked"] is False and two["leaked"] is False  # run 1's variable is not in run 2
    assert one["pid"] != two["pid"]
    assert one["pid"] in ready  # taken from the pool, not started for the run
    # a used kernel is shut down, never reused
    wait_for(lambda: not alive(one["pid"]), what="run 1's kernel to exit")
    assert one["pid"] not in pool.pids()


@pytest.mark.kernel
def test_a_pooled_run_gets_its_env_and_folder_and_the_notebook_looks_as_a_cold_one(
        pool, probe_nb, tmp_path):
    warm = run(probe_nb, tmp_path / "warm.ipynb", pool)
    cold = run(probe_nb, tmp_path / "cold.ipynb", None)
    assert warm.ok and cold.ok, (warm.error, cold.error)
    got = probe(tmp_path / "warm.ipynb")
    assert got["run_id"] == "warm" and got["extra"] == "x y"
    assert got["cwd"] == str(probe_nb.parent)
    assert got["pid"] not in {os.getpid()}
    a, b = (nbformat.read(str(tmp_path / f"{n}.ipynb"), as_version=4) for n in ("warm", "cold"))
    assert [c.source for c in a.cells] == [c.source for c in b.cells]
    assert [c.get("execution_count") for c in a.cells] == [c.get("execution_count") for c in b.cells] \
        == [1, 2, 3, 4]  # the silent setup request counts nowhere
    assert set(a.metadata.papermill) == set(b.metadata.papermill)
    assert a.metadata.papermill["parameters"] == b.metadata.papermill["parameters"]
    assert "injected-parameters" in a.cells[1].metadata.tags
    assert all("papermill" in c.metadata for c in a.cells)
    assert (tmp_path / "warm.log").exists()


@pytest.mark.kernel
def test_the_pool_refills_after_each_run(pool, probe_nb, tmp_path):
    before = set(pool.pids())
    result = run(probe_nb, tmp_path / "r.ipynb", pool)
    assert result.ok, result.error
    assert pool.ready()["python3"] < 2 or set(pool.pids()) != before
    assert pool.wait_ready(60)
    assert pool.ready()["python3"] == 2
    assert pool.started >= 3


@pytest.mark.kernel
def test_idle_kernels_are_replaced_by_fresh_ones(kernel, tmp_path):
    pool = KernelPool(PoolSettings(size=1, idle=1.0), tmp_path / "kernels", check_every=0.1)
    try:
        pool.want(kernel)
        assert pool.wait_ready(90), pool.errors
        [first] = pool.pids()
        wait_for(lambda: not alive(first), timeout=60, what="the idle kernel to be replaced")
        assert pool.wait_ready(60)
        assert pool.ready() == {"python3": 1}
        # the process is gone a moment before the pool's shutdown bookkeeping ends
        wait_for(lambda: first not in pool.pids(), timeout=30, what="the pool to forget it")
        assert pool.started >= 2
    finally:
        pids = pool.pids()
        pool.close()
    assert not [p for p in pids if alive(p)]


@pytest.mark.kernel
def test_the_memory_cap_stops_the_pool_from_starting_kernels(kernel, tmp_path):
    pool = KernelPool(PoolSettings(size=2, memory=1000), tmp_path / "kernels", check_every=0.1)
    try:
        pool.want(kernel)
        wait_for(lambda: pool.capped, what="the cap")
        time.sleep(0.3)
        assert pool.pids() == [] and pool.started == 0
    finally:
        pool.close()


@pytest.mark.kernel
def test_a_run_that_sets_start_time_variables_gets_a_cold_kernel(pool, probe_nb, tmp_path):
    ready = set(pool.pids())
    request = ExecutionRequest(str(probe_nb), str(tmp_path / "c.ipynb"), parameters={"n": 5},
                               env={"PYTHONHASHSEED": "0"})
    result = execute_notebook(request, kernels=pool)
    assert result.ok, result.error
    assert probe(tmp_path / "c.ipynb")["pid"] not in ready
    assert ready <= set(pool.pids())


@pytest.mark.kernel
def test_a_timeout_kills_the_pooled_kernel(pool, tmp_path):
    nb = write_notebook(tmp_path / "slow.ipynb", [("import time\ntime.sleep(60)", [])])
    ready = set(pool.pids())
    result = run(nb, tmp_path / "slow-out.ipynb", pool, timeout=2.0)
    assert result.timed_out and result.cell_index == 0
    used = ready - set(pool.pids()) or ready
    wait_for(lambda: not any(alive(p) for p in used - set(pool.pids())), what="the killed kernel")


CLI = "from nbflow.cli.main import main; main()"


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sigterm_of_a_real_daemon_leaves_no_kernel_processes(kernel, session, probe_nb):
    from nbflow.core.states import State
    from nbflow.deployments import service as D
    from nbflow.deployments.runs import claim_run

    D.deploy(probe_nb, name="probe", manual=True, parameters={"n": 5})
    env = {**os.environ, "NBFLOW_HOME": str(session.settings.home),
           "NBFLOW_DATABASE_URL": session.settings.url, "NBFLOW_KERNEL_POOL": "2"}
    proc = subprocess.Popen([sys.executable, "-c", CLI, "daemon", "--poll", "0.1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: set[int] = set()

    def kernels() -> list[int]:
        try:
            pids = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)
                    if "ipykernel" in " ".join(p.cmdline())]
        except psutil.Error:
            return []
        seen.update(pids)
        return pids

    try:
        wait_for(lambda: len(kernels()) >= 2, timeout=90, what="the daemon's pool")
        ds = session.store.deployments
        run_id = claim_run(session, ds, D.get_deployment("probe"), time.time(), {"n": 5},
                           tick=False, trigger="manual")
        record = wait_for(lambda: (r := session.get_run(run_id)) is not None and r.state
                          is State.SUCCEEDED and r, timeout=90, what="the queued run")
        assert probe(Path(record.output_path))["run_id"] == run_id
        wait_for(lambda: len(kernels()) >= 2, timeout=90, what="the refill")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert len(seen) >= 3
    assert [p for p in seen if alive(p)] == []
    leftover = list((Path(session.settings.home) / "kernels").glob("*.log"))
    assert leftover == []


@pytest.mark.kernel
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_trigger_without_a_daemon_starts_one_kernel_and_no_pool(kernel, session, tmp_path):
    import nbflow as nf

    count = ("import os, psutil\nkids = [p for p in psutil.Process(os.getppid()).children()\n"
             "        if 'ipykernel' in ' '.join(p.cmdline())]\nprint(len(kids))")
    nb = write_notebook(tmp_path / "count.ipynb", [(count, [])])
    nf.deploy(nb, name="count", manual=True)
    record = nf.trigger("count")
    assert record.state.name == "SUCCEEDED", record.error
    out = nbformat.read(record.output_path, as_version=4)
    assert out.cells[0].outputs[0]["text"].strip() == "1"
    assert not (Path(session.settings.home) / "kernels").exists()


# ---------------------------------------------------------------------- settings, no kernels
@pytest.mark.parametrize(("env", "expected"), [
    ({}, PoolSettings(2, 600.0, 2**30)),
    ({"NBFLOW_KERNEL_POOL": "0"}, PoolSettings(0, 600.0, 2**30)),
    ({"NBFLOW_KERNEL_POOL": "4", "NBFLOW_KERNEL_POOL_IDLE": "90s",
      "NBFLOW_KERNEL_POOL_MEMORY": "512MB"}, PoolSettings(4, 90.0, 512 * 2**20)),
    ({"NBFLOW_KERNEL_POOL_MEMORY": "0"}, PoolSettings(2, 600.0, 0)),
])
def test_pool_settings_resolve(env, expected, tmp_path):
    assert PoolSettings.from_settings(Settings.resolve(env={**env}, home=tmp_path)) == expected


@pytest.mark.parametrize(("env", "named"), [
    ({"NBFLOW_KERNEL_POOL": "-1"}, "NBFLOW_KERNEL_POOL"),
    ({"NBFLOW_KERNEL_POOL": "two"}, "NBFLOW_KERNEL_POOL"),
    ({"NBFLOW_KERNEL_POOL_IDLE": "soon"}, "NBFLOW_KERNEL_POOL_IDLE"),
    ({"NBFLOW_KERNEL_POOL_IDLE": "0"}, "NBFLOW_KERNEL_POOL_IDLE"),
    ({"NBFLOW_KERNEL_POOL_MEMORY": "lots"}, "NBFLOW_KERNEL_POOL_MEMORY"),
])
def test_bad_pool_settings_name_the_variable(env, named, tmp_path):
    with pytest.raises(SettingsError, match=named):
        PoolSettings.from_settings(Settings.resolve(env=env, home=tmp_path))


@pytest.mark.parametrize(("text", "size"), [("1024", 1024), ("1KB", 1024), ("1.5 GiB", 3 * 2**29),
                                            ("2m", 2 * 2**20), (0, 0)])
def test_parse_size(text, size):
    assert parse_size(text, what="X") == size


@pytest.mark.parametrize(("env", "ok"), [({"NBFLOW_RUN_ID": "r"}, True), ({"PYTHONPATH": "/x"}, False),
                                         ({"LD_PRELOAD": "x"}, False), ({}, True)])
def test_warm_ok(env, ok):
    assert warm_ok(env) is ok


def test_setup_code_sets_env_and_folder_and_leaves_no_name(tmp_path):
    ns: dict = {}
    before = os.getcwd()
    try:
        exec(setup_code({"NBFLOW_TEST_SETUP": "it's"}, str(tmp_path)), ns)
        assert os.environ.pop("NBFLOW_TEST_SETUP") == "it's" and os.getcwd() == str(tmp_path)
    finally:
        os.chdir(before)
    assert set(ns) == {"__builtins__"}
