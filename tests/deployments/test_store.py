"""DeploymentStore on SQLite and PostgreSQL: deployments, exclusive tick claims, taking runs."""

from __future__ import annotations

import threading

import pytest

from nbflow.core.states import State
from nbflow.store.deployments import DeploymentStore


@pytest.fixture
def ds(session) -> DeploymentStore:
    return session.store.deployments


def _claim(ds: DeploymentStore, run_id: str, at: float, name: str = "d") -> bool:
    return ds.claim(run_id, deployment=name, scheduled_at=at, parameters={"x": 1},
                    output_path=f"/tmp/{run_id}.ipynb", tags={"trigger": "schedule"})


def test_save_get_update_pause_delete(ds):
    assert ds.save("d", "/nb.ipynb", {"a": 1}, reset_cursor=False, now=100.0) is True
    assert ds.save("d", "/nb2.ipynb", {"a": 2}, reset_cursor=False, now=200.0) is False
    row = ds.get("d")
    assert (row.notebook, dict(row.spec), row.created_at, row.updated_at, row.cursor) == \
        ("/nb2.ipynb", {"a": 2}, 100.0, 200.0, 100.0)
    ds.save("d", "/nb2.ipynb", {"a": 3}, reset_cursor=True, now=300.0)
    assert ds.get("d").cursor == 300.0
    assert ds.set_paused("d", True, now=400.0) and ds.get("d").paused
    assert ds.set_paused("d", False, now=500.0) and ds.get("d").cursor == 500.0
    assert ds.set_paused("nope", True) is False
    assert ds.names() == ["d"]
    assert ds.delete("d") is True and ds.get("d") is None and ds.delete("d") is False


def test_cursor_only_moves_forward(ds):
    ds.save("d", "/nb.ipynb", {}, reset_cursor=False, now=100.0)
    ds.advance_cursor("d", 150.0)
    ds.advance_cursor("d", 120.0)
    assert ds.get("d").cursor == 150.0


def test_a_tick_is_claimed_once(ds, session):
    assert _claim(ds, "r1", 1000.0) is True
    assert _claim(ds, "r2", 1000.0) is False
    assert _claim(ds, "r3", 1000.0, name="other") is True
    run = session.get_run("r1")
    assert (run.kind, run.state, run.deployment, run.scheduled_at.timestamp(), dict(run.parameters)) == \
        ("deployment", State.PENDING, "d", 1000.0, {"x": 1})
    assert ds.recent_ticks("d") == [(1000.0, "CLAIMED", "r1")]


def test_concurrent_claims_of_one_tick_from_threads(ds):
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def claim(i: int) -> None:
        barrier.wait()
        if _claim(ds, f"t{i}", 42.0):
            wins.append(f"t{i}")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert ds.run_counts() == {"PENDING": 1}


def test_take_is_exclusive_and_respects_the_limit(ds):
    ds.save("d", "/nb.ipynb", {}, reset_cursor=False)
    for i in range(3):
        _claim(ds, f"r{i}", float(i))
    assert [q.run_id for q in ds.pending()] == ["r0", "r1", "r2"]
    assert ds.take("r0", owner={"pid": 1}, limit=2) is True
    assert ds.take("r0", owner={"pid": 2}, limit=2) is False  # already taken
    assert ds.take("r1", owner={"pid": 1}, limit=2) is True
    assert ds.take("r2", owner={"pid": 1}, limit=2) is False  # two running: limit reached
    assert ds.take("r2", owner={"pid": 1}, limit=None) is True
    assert ds.take("missing", owner={}, limit=None) is False
    assert {q.run_id: q.tags["pid"] for q in ds.open_runs()} == {"r0": 1, "r1": 1, "r2": 1}


def test_finish_now_closes_open_runs_only(ds, session):
    _claim(ds, "r1", 1.0)
    assert ds.finish_now("r1", State.CRASHED, "it died") is True
    assert ds.finish_now("r1", State.FAILED, "again") is False
    run = session.get_run("r1")
    assert (run.state, run.error) == (State.CRASHED, "it died")
    assert [e.kind.value for e in session.store.events("r1")] == ["RUN_FINISHED"]


def test_last_runs_and_skipped_ticks(ds):
    _claim(ds, "a1", 1.0, name="a")
    _claim(ds, "a2", 2.0, name="a")
    ds.finish_now("a1", State.FAILED, "x")
    ds.record_skipped("a", 3.0)
    ds.record_skipped("a", 3.0)  # idempotent
    last = ds.last_runs()
    assert last["a"][:1] == ("PENDING",) and last["a"][2] == "a2"
    assert [t[1] for t in ds.recent_ticks("a")] == ["SKIPPED", "CLAIMED", "CLAIMED"]


def test_a_store_without_the_cursor_column_gets_advice(ds, session):
    from sqlalchemy import text

    from nbflow.errors import StoreError

    with session.store.begin() as conn:
        conn.execute(text("ALTER TABLE deployments DROP COLUMN cursor"))
    with pytest.raises(StoreError, match="lacks the 'cursor' column; move its SQLite file"):
        ds.all()
