"""Concurrency: four processes materialising into one store at once lose nothing and never see
"database is locked"; a reader in a fifth process keeps working meanwhile.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nbflow.core.events import EventKind
from nbflow.core.registry import Registry
from nbflow.core.states import State
from nbflow.session import Session
from nbflow.settings import Settings
from nbflow.store.schema import events, materializations

from .helpers.procs import child_env, start_chain, wait_for

PROCESSES = 4
LENGTH = 200


@pytest.mark.slow
def test_four_processes_share_one_store(store_url: str, home: Path, tmp_path: Path) -> None:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    # The store does not exist yet: the four children also race to create and migrate it.
    procs = [start_chain(child_env(home, store_url, tmp_path / f"calls-{i}"), "--prefix", f"p{i}_",
                         "--length", str(LENGTH), "--barrier", str(barrier))
             for i in range(PROCESSES)]
    try:
        wait_for("every child at the barrier",
                 lambda: len(list(barrier.glob("ready.*"))) == PROCESSES, timeout=60)
        (barrier / "go").touch()
        reader = Session(Settings.resolve(home=home, database_url=store_url), Registry())
        reads = 0
        while any(p.poll() is None for p in procs):
            reader.runs(limit=10)  # a CLI or panel reading while the writers write
            reads += 1
            time.sleep(0.05)
        reader.close()
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert reads > 0
    for p, (out, err) in zip(procs, outputs):
        assert "database is locked" not in err
        assert p.returncode == 0, err
    results = [json.loads(out) for out, _ in outputs]
    assert all(r["state"] == State.SUCCEEDED for r in results)
    run_ids = {r["run_id"] for r in results}
    assert len(run_ids) == PROCESSES

    session = Session(Settings.resolve(home=home, database_url=store_url), Registry())
    try:
        with session.store.connect() as conn:
            per_kind = conn.execute(select(events.c.run_id, events.c.kind, func.count())
                                    .group_by(events.c.run_id, events.c.kind)).all()
            mats: dict[str, int] = dict(conn.execute(select(materializations.c.run_id, func.count())
                                     .group_by(materializations.c.run_id)).all())
        expected = {EventKind.RUN_STARTED: 1, EventKind.STEP_STARTED: LENGTH,
                    EventKind.MATERIALIZATION: LENGTH, EventKind.STEP_FINISHED: LENGTH,
                    EventKind.RUN_FINISHED: 1}
        counted: dict[str, dict[str, int]] = {}
        for run_id, kind, n in per_kind:
            counted.setdefault(run_id, {})[kind] = n
        assert counted == {r: expected for r in run_ids}
        assert mats == {r: LENGTH for r in run_ids}
        runs = session.runs(limit=10)
        assert {r.run_id for r in runs} == run_ids
        assert all(r.state is State.SUCCEEDED and len(r.steps) == LENGTH for r in runs)
        latest = session.store.latest_materializations()
        assert len(latest) == PROCESSES * LENGTH
        assert {latest[f"p{i}_{LENGTH - 1}"].run_id for i in range(PROCESSES)} == run_ids
    finally:
        session.close()


def test_one_process_many_writer_threads(store_url: str, home: Path) -> None:
    """Several sessions in one process (notebook + panel + scheduler) share a store file."""
    from concurrent.futures import ThreadPoolExecutor

    from nbflow.core.specs import make_asset

    sessions = []
    for i in range(3):
        reg = Registry()
        reg.add(make_asset(lambda i=i: i, name=f"t{i}_a", code_version="1"))
        reg.add(make_asset(eval(f"lambda t{i}_a: t{i}_a + 1"), name=f"t{i}_b", code_version="1"))
        sessions.append(Session(Settings.resolve(home=home, database_url=store_url), reg))
    try:
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda s: [s.materialize("*", force=True) for _ in range(20)],
                                    sessions))
        run_ids = {r.run_id for rs in results for r in rs}
        assert len(run_ids) == 60
        assert all(r.ok for rs in results for r in rs)
        check = sessions[0].store
        with check.connect() as conn:
            counts: dict[str, int] = dict(conn.execute(select(events.c.run_id, func.count())
                                       .group_by(events.c.run_id)).all())
        assert counts == {r: 2 + 3 * 2 for r in run_ids}
    finally:
        for s in sessions:
            s.close()

