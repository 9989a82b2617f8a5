"""The store under faults: a database that refuses writes for a while (a full disk) stops the run
with a StoreError and leaves a consistent prefix; crash sweeps never overwrite a run that is
still beating; a run whose process died on this host is CRASHED at once.

The full disk is injected: every INSERT or UPDATE of the store's writer thread (the one that
records events, beats and closes runs) raises ``OperationalError('database or disk is full')``
while a window is open (SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError

from nbflow.core.events import Event, EventKind, RunStarted, StepFinished, StepStarted
from nbflow.core.registry import Registry
from nbflow.core.specs import make_asset
from nbflow.core.states import State
from nbflow.errors import StoreError
from nbflow.session import Session
from nbflow.settings import Settings
from nbflow.store.hosts import this_host
from nbflow.store.schema import events, materializations, runs
from nbflow.store.sql import SqlStore

from ..conftest import require
from .helpers.procs import wait_for

# Faults are injected and the writer's retries waited out (seconds each): the full run has them,
# the fast loop does not.
pytestmark = [pytest.mark.slow]

STEP = 0.02          # seconds each asset of the chain sleeps
FAULT = 4.0          # how long the disk stays full
WRITER_RETRIES = 2.0  # what the writer spends retrying a batch (0.2 + 0.4 + 0.6 + 0.8 s)


class FullDisk:
    """Makes every write of the store's writer fail while open: ``open_for(seconds)`` or ``open()``."""

    def __init__(self, store: SqlStore) -> None:
        self.until = 0.0
        self.opened_at: float | None = None
        event.listen(store.engine, "before_cursor_execute", self._check)

    def open_for(self, seconds: float) -> None:
        self.opened_at = time.monotonic()
        self.until = self.opened_at + seconds

    def open(self) -> None:
        self.open_for(3600)

    def close(self) -> None:
        self.until = 0.0

    def _check(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (time.monotonic() < self.until and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE")
                and threading.current_thread().name == "nbflow-store-writer"):
            raise OperationalError(statement, None, Exception("database or disk is full"))


def chain(length: int, calls: list[str], on_call: dict[int, Any]) -> Registry:
    reg = Registry()
    for i in range(length):
        name, up = f"a{i}", f"a{i - 1}" if i else ""
        scope: dict[str, Any] = {"called": lambda n, i=i: (calls.append(n), on_call.get(i, lambda: None)(),
                                                            time.sleep(STEP))}
        exec(f"def {name}({up}):\n    called({name!r})\n    return {'0' if not i else up + ' + 1'}\n",  # noqa: S102
             scope)
        reg.add(make_asset(scope[name], name=name, code_version="1"))
    return reg


@pytest.fixture
def faulty(store_url: str, home: Path) -> Iterator[tuple[Session, FullDisk, list[str], dict[int, Any]]]:
    calls: list[str] = []
    on_call: dict[int, Any] = {}
    s = Session(Settings.resolve(home=home, database_url=store_url), chain(400, calls, on_call))
    disk = FullDisk(s.store)  # type: ignore[arg-type]
    yield s, disk, calls, on_call
    disk.close()
    try:
        s.close()
    except StoreError:
        pass


def recorded(store: SqlStore, run_id: str) -> list[tuple[str, str | None, str | None]]:
    with store.connect() as conn:
        return [(k, st, s) for k, st, s in conn.execute(
            select(events.c.kind, events.c.step, events.c.state)
            .where(events.c.run_id == run_id).order_by(events.c.id))]


def test_a_full_disk_stops_the_run_and_leaves_a_consistent_prefix(faulty: Any) -> None:
    session, disk, calls, on_call = faulty
    store: SqlStore = session.store
    accepted: list[Event] = []
    session.hooks.subscribe(accepted.append)  # after the store: sees what it accepted
    on_call[20] = lambda: disk.open_for(FAULT)
    t0 = time.monotonic()
    with pytest.raises(StoreError) as info:
        session.materialize("*")
    stopped = time.monotonic() - t0
    message = str(info.value)
    assert "database or disk is full" in message and "stops here" in message and "\n" not in message
    # The run stopped soon after the writer gave up: not hundreds of steps later.
    assert disk.opened_at is not None
    assert time.monotonic() - disk.opened_at < WRITER_RETRIES + 2.0
    assert 20 < len(calls) < 20 + (WRITER_RETRIES + 2.0) / STEP < 400, (len(calls), stopped)
    run_id = accepted[0].run_id
    # Once writes work again, the writer closes the run: FAILED, saying why, one RUN_FINISHED.
    run = wait_for("the run to be closed", lambda: store._failed is None and
                   (r := store.get_run(run_id)) and r.state is State.FAILED and r, timeout=FAULT + 10)
    assert "could not record every event" in (run.error or "")
    rows = recorded(store, run_id)
    assert rows[-1] == (EventKind.RUN_FINISHED, None, State.FAILED)
    assert [k for k, _, _ in rows].count(EventKind.RUN_FINISHED) == 1
    # Everything before that is exactly the first events the engine emitted: no hole.
    emitted = [(str(e.kind), e.step, None if e.state is None else str(e.state)) for e in accepted]
    body = rows[:-1]
    assert 0 < len(body) < len(emitted) and body == emitted[:len(body)]
    # Every materialisation row has its event, and every recorded step that finished has one.
    with store.connect() as conn:
        mats = set(conn.execute(select(materializations.c.asset)
                                .where(materializations.c.run_id == run_id)).scalars())
    assert mats == {s for k, s, _ in body if k == EventKind.MATERIALIZATION}
    assert {s for k, s, st in body if k == EventKind.STEP_FINISHED} <= mats
    # The store records new runs again, and a rerun reuses what was recorded.
    calls.clear()
    on_call.clear()
    result = session.materialize("*")
    assert result.ok
    assert {n for n, st in result.states.items() if st is State.CACHED} == mats
    assert len(calls) == 400 - len(mats)


def test_a_lost_run_start_leaves_no_orphan_events(store_url: str, home: Path) -> None:
    store = SqlStore(store_url)
    disk = FullDisk(store)
    try:
        disk.open()
        store.record(Event(EventKind.RUN_STARTED, "r1", data=RunStarted(kind="assets")))
        with pytest.raises(StoreError, match="database or disk is full"):
            store.flush()
        # While the store has failed, nothing is recorded, for any run...
        with pytest.raises(StoreError, match="stops here"):
            store.record(Event(EventKind.RUN_STARTED, "r2", data=RunStarted(kind="assets")))
        disk.close()
        # ...and no later event of a run that lost one is ever committed.
        with pytest.raises(StoreError, match="run r1 stops here"):
            store.record(Event(EventKind.RUN_FINISHED, "r1", state=State.SUCCEEDED))
        wait_for("the store to recover", lambda: store._failed is None, timeout=10)
        store.record(Event(EventKind.RUN_STARTED, "r3", data=RunStarted(kind="assets")))
        store.record(Event(EventKind.RUN_FINISHED, "r3", state=State.SUCCEEDED))
        store.flush()
        assert store.events("r1") == [] and store.get_run("r1") is None
        assert store.events("r2") == [] and store.get_run("r2") is None
        assert store.get_run("r3").state is State.SUCCEEDED  # type: ignore[union-attr]
    finally:
        disk.close()
        store.close()


def test_batches_behind_a_failed_one_are_not_committed(store_url: str) -> None:
    """The writer gives up on batch 1 while batch 2 waits: batch 2 must not commit alone."""
    store = SqlStore(store_url)
    disk = FullDisk(store)
    try:
        store.record(Event(EventKind.RUN_STARTED, "r", data=RunStarted(kind="assets")))
        store.flush()
        disk.open_for(WRITER_RETRIES + 0.5)
        store.record(Event(EventKind.STEP_STARTED, "r", "a", State.RUNNING, StepStarted(attempt=1)))
        time.sleep(0.1)  # the writer is retrying the batch with a's start
        store.record(Event(EventKind.STEP_FINISHED, "r", "a", State.SUCCEEDED, StepFinished(attempt=1)))
        store.record(Event(EventKind.STEP_STARTED, "r", "b", State.RUNNING, StepStarted(attempt=1)))
        with pytest.raises(StoreError):
            store.flush()
        wait_for("the run to be closed", lambda: store.get_run("r").state is State.FAILED,  # type: ignore[union-attr]
                 timeout=10)
        assert recorded(store, "r") == [(EventKind.RUN_STARTED, None, None),
                                        (EventKind.RUN_FINISHED, None, State.FAILED)]
    finally:
        disk.close()
        store.close()


def test_a_flow_stops_with_a_store_error(session: Any) -> None:
    import nbflow as nf

    disk = FullDisk(session.store)
    ran: list[int] = []

    @nf.task
    def work(i: int) -> int:
        ran.append(i)
        if i == 3:
            disk.open_for(FAULT)
        time.sleep(STEP)
        return i

    @nf.flow
    def many() -> int:
        return sum(work(i) for i in range(400))

    try:
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="database or disk is full"):
            many()
        assert time.monotonic() - t0 < WRITER_RETRIES + 3.0
        assert len(ran) < 3 + (WRITER_RETRIES + 2.0) / STEP < 400
    finally:
        disk.close()


# ------------------------------------------------------------------------------ crash sweeps
def test_a_sweep_never_crashes_a_run_that_beats_meanwhile(store_url: str) -> None:
    """A beat commits while the sweep waits for the row: the sweep must see it and skip the run."""
    store = SqlStore(store_url)
    try:
        store.create_run("r", kind="flow", state=State.RUNNING, heartbeat_at=time.time() - 100)
        swept: list[str] = []
        with store.begin() as conn:  # another process's beat, holding the row (or the lock)
            conn.execute(update(runs).where(runs.c.run_id == "r").values(heartbeat_at=time.time()))
            sweeper = threading.Thread(target=lambda: swept.extend(store.sweep_crashed(timeout=10)))
            sweeper.start()
            time.sleep(0.5)  # the sweep is waiting for the beat's transaction
        sweeper.join(30)
        assert swept == []
        assert store.get_run("r").state is State.RUNNING  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_swept_run_that_finishes_late_keeps_one_run_finished(store_url: str) -> None:
    store = SqlStore(store_url, heartbeat_interval=60.0, heartbeat_timeout=120.0)
    other = SqlStore(store_url)
    try:
        store.record(Event(EventKind.RUN_STARTED, "r", data=RunStarted(kind="assets"), ts=time.time() - 100))
        store.flush()
        with store.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == "r").values(heartbeat_at=time.time() - 100))
        assert other.sweep_crashed(timeout=10) == ["r"]
        store.record(Event(EventKind.RUN_FINISHED, "r", state=State.SUCCEEDED))
        store.flush()
        kinds = [(e.kind, e.state) for e in store.events("r")]
        assert kinds.count((EventKind.RUN_FINISHED, State.CRASHED)) == 1
        assert [k for k, _ in kinds].count(EventKind.RUN_FINISHED) == 1
        assert kinds[-1] == (EventKind.LOG, None)
        assert "SUCCEEDED" in store.events("r")[-1].data.message
        assert store.get_run("r").state is State.CRASHED  # type: ignore[union-attr]
    finally:
        store.close()
        other.close()


# ------------------------------------------------------------------------------ dead owners
CHILD = """
import sys, time
from nbflow.core.events import Event, EventKind, RunStarted
from nbflow.store.sql import SqlStore
s = SqlStore(sys.argv[1])
s.record(Event(EventKind.RUN_STARTED, sys.argv[2], data=RunStarted(kind="assets")))
s.flush()
print("ready", flush=True)
time.sleep(120)
"""


def start_owner(url: str, run_id: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, url, run_id], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


def test_a_run_whose_process_died_on_this_host_is_crashed_at_once(store_url: str) -> None:
    killed, alive = start_owner(store_url, "killed"), start_owner(store_url, "alive")
    store = SqlStore(store_url)  # the default 60 s heartbeat timeout
    try:
        with store.connect() as conn:
            owner = conn.execute(select(runs.c.host, runs.c.pid).where(runs.c.run_id == "killed")).one()
        assert tuple(owner) == (this_host(), killed.pid)
        # A run of another host with a dead pid number keeps the heartbeat rule.
        store.create_run("elsewhere", kind="flow", state=State.RUNNING, host="other-host",
                         pid=killed.pid)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(10)
        assert store.get_run("killed").state is State.CRASHED  # type: ignore[union-attr]
        assert store.get_run("alive").state is State.RUNNING  # type: ignore[union-attr]
        assert store.get_run("elsewhere").state is State.RUNNING  # type: ignore[union-attr]
        assert [r.run_id for r in store.runs(state="CRASHED")] == ["killed"]
        assert {r.run_id for r in store.runs(state="RUNNING")} == {"alive", "elsewhere"}
        assert store.sweep_crashed() == ["killed"]
        assert store.sweep_crashed() == []
        run = store.get_run("killed")
        assert run is not None and f"pid {killed.pid}" in (run.error or "")
        assert [(e.kind, e.state) for e in store.events("killed")][-1] == (EventKind.RUN_FINISHED, State.CRASHED)
    finally:
        for p in (killed, alive):
            if p.poll() is None:
                p.kill()
                p.wait(10)
        store.close()


# ------------------------------------------------------------------------------ read-only home
READER = """
from nbflow.core.events import Event, EventKind
from nbflow.core.registry import Registry
from nbflow.errors import StoreError
from nbflow.session import Session
from nbflow.settings import Settings

s = Session(Settings.resolve(), Registry())
print("runs", [(r.run_id, r.state.value) for r in s.runs()])
print("load", s.load("a1"))
print("status", sorted(s.store.latest_materializations()))
try:
    s.store.record(Event(EventKind.RUN_STARTED, "w"))
except StoreError as e:
    print("write", e)
"""


def test_a_read_only_home_can_be_read_and_says_so_on_write(tmp_path: Path) -> None:
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="nbflow-ro-"))
    try:
        s = Session(Settings.resolve(home=home, database_url=None), chain(2, [], {}))
        run_id = s.materialize("*").run_id
        s.close()
        env = {**os.environ, "NBFLOW_HOME": str(home)}
        env.pop("NBFLOW_DATABASE_URL", None)
        command = [sys.executable, "-c", READER]
        if os.geteuid() == 0:  # root writes anywhere: mount the home read-only for the reader
            mount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
            command = ["unshare", "-m", "sh", "-c", mount, str(home), *command]
            probe = subprocess.run([*command[:6], "true"], capture_output=True, check=False)
            require("a read-only bind mount", probe.returncode == 0,
                    f"unshare -m with mount failed: {probe.stderr!r}")
        else:
            for p in (home, *home.rglob("*")):
                p.chmod(0o555 if p.is_dir() else 0o444)
        out = subprocess.run(command, env=env, text=True, capture_output=True, timeout=60,
                             check=False)
        assert out.returncode == 0, out.stderr
        lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
        assert lines["runs"] == str([(run_id, "SUCCEEDED")])
        assert lines["load"] == "1"
        assert lines["status"] == "['a0', 'a1']"
        assert "read-only" in lines["write"] and str(home) in lines["write"]
        assert "chmod" in lines["write"] and "NBFLOW_HOME" in lines["write"]
        assert "database is running" not in out.stdout + out.stderr
    finally:
        for p in (home, *home.rglob("*")):
            p.chmod(0o755 if p.is_dir() else 0o644)
        import shutil

        shutil.rmtree(home, ignore_errors=True)

