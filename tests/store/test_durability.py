"""Durability: a run killed with SIGKILL leaves a consistent store, shows CRASHED, and a rerun reuses
every recorded materialisation; when materialize returns, its events are committed.

Every test runs real child processes (tests/store/helpers/chain.py) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nbflow.core.events import EventKind
from nbflow.core.registry import Registry
from nbflow.core.states import State
from nbflow.core.versions import data_version
from nbflow.engine.io import io_manager
from nbflow.session import Session
from nbflow.settings import Settings
from nbflow.store.schema import events, materializations, runs

from .helpers.procs import (
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TIMEOUT,
    calls,
    child_env,
    materialized,
    run_chain,
    start_chain,
    wait_for,
)


@pytest.fixture
def parent(store_url: str, home: Path) -> Iterator[Session]:
    """The test's own view of the store, with the same short heartbeat timeout as the children."""
    s = Session(Settings.resolve(home=home, database_url=store_url,
                                 heartbeat_interval=HEARTBEAT_INTERVAL,
                                 heartbeat_timeout=HEARTBEAT_TIMEOUT), Registry())
    yield s
    s.close()


def chain_names(n: int) -> list[str]:
    return [f"a{i}" for i in range(n)]


def assert_consistent(session: Session, chain: list[str]) -> set[str]:
    """Check the store a killed run left behind; return the names with a materialisation.

    Every materialisation row points at a stored value that exists, loads and hashes to the
    row's data version; each row has its MATERIALIZATION event; per run, RUN_STARTED comes first,
    a RUN_FINISHED (if any) last, and each step goes STEP_STARTED -> MATERIALIZATION ->
    STEP_FINISHED; the materialised assets form a prefix of the chain.
    """
    store, base = session.store, session.settings.storage_base
    with store.connect() as conn:
        mats = conn.execute(select(materializations).order_by(materializations.c.id)).mappings().all()
        rows = conn.execute(select(events).order_by(events.c.id)).mappings().all()
    for m in mats:
        assert Path(m["uri"]).is_file(), f"materialisation of {m['asset']} points at a missing file"
        assert data_version(Path(m["uri"]).read_bytes()) == m["data_version"]
        assert io_manager(m["io"], base).load(m["uri"]) == chain.index(m["asset"])
    by_run: dict[str, list[Any]] = {}
    for r in rows:
        by_run.setdefault(r["run_id"], []).append(r)
    mat_events = {(r["run_id"], r["step"]) for r in rows if r["kind"] == EventKind.MATERIALIZATION}
    assert {(m["run_id"], m["asset"]) for m in mats} == mat_events
    for run_id, evs in by_run.items():
        kinds = [e["kind"] for e in evs]
        assert kinds[0] == EventKind.RUN_STARTED and kinds.count(EventKind.RUN_STARTED) == 1
        assert kinds.count(EventKind.RUN_FINISHED) <= 1
        if EventKind.RUN_FINISHED in kinds:
            assert kinds[-1] == EventKind.RUN_FINISHED
        assert [e["ts"] for e in evs] == sorted(e["ts"] for e in evs)
        for step in {e["step"] for e in evs if e["step"]}:
            seq = [e["kind"] for e in evs if e["step"] == step]
            assert seq in ([EventKind.STEP_STARTED],
                           [EventKind.STEP_STARTED, EventKind.MATERIALIZATION],
                           [EventKind.STEP_STARTED, EventKind.MATERIALIZATION, EventKind.STEP_FINISHED],
                           [EventKind.STEP_FINISHED]), f"{run_id} {step}: {seq}"
    done = {m["asset"] for m in mats}
    assert done == set(chain[:len(done)]), "a step was materialised before its upstream"
    return done


def rerun_reuses(session: Session, env: dict[str, str], chain: list[str], done: set[str],
                 calls_file: Path) -> None:
    """A new process reuses every recorded materialisation (CACHED, not called), computes the rest."""
    code, out, err = run_chain(env, "--length", str(len(chain)))
    assert code == 0, err
    result = json.loads(out)
    assert result["state"] == State.SUCCEEDED
    assert {n for n, s in result["states"].items() if s == State.CACHED} == done
    assert {n for n, s in result["states"].items() if s == State.SUCCEEDED} == set(chain) - done
    assert calls(calls_file) == [n for n in chain if n not in done]
    assert session.load(chain[-1]) == len(chain) - 1


@pytest.mark.slow
def test_sigkill_mid_step_then_crashed_then_rerun_reuses(parent: Session, store_url: str, home: Path,
                                                         tmp_path: Path) -> None:
    n, block = 12, 7
    chain = chain_names(n)
    first_calls = tmp_path / "calls-1"
    proc = start_chain(child_env(home, store_url, first_calls), "--length", str(n), "--block", str(block))
    try:
        wait_for("the child to reach the blocking step", first_calls.with_suffix(".blocked").exists,
                 proc=proc)
        wait_for("the steps before it to be committed",
                 lambda: materialized(parent.store) == set(chain[:block]), proc=proc)
        run_id = wait_for("the run row", lambda: [r.run_id for r in parent.runs()], proc=proc)[0]
        # Blocked for longer than the timeout, yet alive: its heartbeats keep it RUNNING.
        time.sleep(HEARTBEAT_TIMEOUT * 1.25)
        assert parent.get_run(run_id).state is State.RUNNING
        assert parent.store.sweep_crashed() == []
        assert parent.runs(state="RUNNING")[0].run_id == run_id
    finally:
        proc.kill()  # SIGKILL; a no-op if the child already exited
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert calls(first_calls) == chain[:block + 1]

    assert assert_consistent(parent, chain) == set(chain[:block])
    time.sleep(HEARTBEAT_TIMEOUT + 0.3)
    run = parent.get_run(run_id)
    assert run.state is State.CRASHED
    assert [s.state for s in run.steps] == [State.SUCCEEDED] * block + [State.CRASHED]
    assert [r.run_id for r in parent.runs(state="CRASHED")] == [run_id]
    assert parent.store.sweep_crashed() == [run_id]
    assert parent.store.sweep_crashed() == []
    assert parent.get_run(run_id).state is State.CRASHED
    assert [e.state for e in parent.store.events(run_id) if e.kind is EventKind.RUN_FINISHED] == [State.CRASHED]
    assert_consistent(parent, chain)

    rerun_reuses(parent, child_env(home, store_url, tmp_path / "calls-2"), chain, set(chain[:block]),
                 tmp_path / "calls-2")


@pytest.mark.slow
def test_sigkill_at_an_arbitrary_point_of_a_long_chain(parent: Session, store_url: str, home: Path,
                                                       tmp_path: Path) -> None:
    """Killed while the writer is busy: whatever was committed is consistent and reused."""
    chain = chain_names(1500)  # at least 3 s with the sleep: the kill comes well before the end
    proc = start_chain(child_env(home, store_url, tmp_path / "calls-1", STEP_SLEEP="0.002"),
                       "--length", str(len(chain)))
    try:
        wait_for("some materialisations", lambda: len(materialized(parent.store)) >= 100,
                 timeout=60, proc=proc)
    finally:
        proc.kill()  # SIGKILL; a no-op if the child already exited
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the chain finished before the kill; make it longer"
    done = assert_consistent(parent, chain)
    assert 100 <= len(done) < len(chain)
    started = calls(tmp_path / "calls-1")
    assert set(done) <= set(started)
    time.sleep(HEARTBEAT_TIMEOUT + 0.3)
    (killed,) = parent.runs()
    assert killed.state is State.CRASHED
    rerun_reuses(parent, child_env(home, store_url, tmp_path / "calls-2"), chain, done,
                 tmp_path / "calls-2")
    # The rerun's session swept the killed run when it opened the store: CRASHED is now stored.
    with parent.store.connect() as conn:
        stored = conn.execute(select(runs.c.state).where(runs.c.run_id == killed.run_id)).scalar_one()
    assert stored == State.CRASHED


def test_events_are_committed_when_materialize_returns(parent: Session, store_url: str, home: Path,
                                                       tmp_path: Path) -> None:
    """The child leaves with os._exit(0) right after materialize: no atexit flush can help."""
    n = 300
    code, out, err = run_chain(child_env(home, store_url, tmp_path / "calls"), "--length", str(n),
                               "--exit-now")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    evs = parent.store.events(run_id)
    finished = [e.step for e in evs if e.kind is EventKind.STEP_FINISHED and e.state is State.SUCCEEDED]
    assert finished == chain_names(n)
    assert sum(e.kind is EventKind.MATERIALIZATION for e in evs) == n
    assert evs[-1].kind is EventKind.RUN_FINISHED and evs[-1].state is State.SUCCEEDED
    assert len(evs) == 3 * n + 2
    run = parent.get_run(run_id)
    assert run.state is State.SUCCEEDED and run.ended_at is not None
    assert set(parent.store.latest_materializations()) == set(chain_names(n))
