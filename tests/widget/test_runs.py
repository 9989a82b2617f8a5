"""The panel's Runs tab: RunBook folds events into the recent runs; a run's detail with its task graph."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import nbflow as nf
from nbflow.core.events import PAYLOADS, Event, EventKind
from nbflow.core.specs import asset
from nbflow.core.states import State
from nbflow.session.views import runs_view
from nbflow.widget.panel import LineagePanel
from nbflow.widget.runs import RunBook, describe_run, row_of
from tests.widget.test_panel import click, wait_for


def ev(event_kind: EventKind, run_id: str = "r1", step: str | None = None,
       state: State | None = None, ts: float = 100.0, **data: Any) -> Event:
    return Event(event_kind, run_id, step=step, state=state, data=PAYLOADS[event_kind](**data), ts=ts)


@pytest.mark.parametrize(("events", "expected"), [
    ([ev(EventKind.RUN_STARTED, kind="flow", name="crawl")],
     {"kind": "flow", "name": "crawl", "state": "RUNNING", "steps": 0, "duration": None}),
    ([ev(EventKind.RUN_STARTED, kind="assets", selection="a+"),
      ev(EventKind.STEP_STARTED, step="a"), ev(EventKind.STEP_FINISHED, step="a", state=State.CACHED),
      ev(EventKind.STEP_STARTED, step="b")],
     {"name": "a+", "state": "RUNNING", "steps": 2, "counts": {"CACHED": 1, "RUNNING": 1}}),
    ([ev(EventKind.RUN_STARTED, kind="task", name="fetch"), ev(EventKind.STEP_RETRYING, step="fetch")],
     {"counts": {"RETRYING": 1}}),
    ([ev(EventKind.RUN_STARTED, kind="flow", name="f"),
      ev(EventKind.RUN_FINISHED, state=State.FAILED, ts=102.5, error="1 step(s) failed: x\nmore")],
     {"state": "FAILED", "duration": 2.5, "error": "1 step(s) failed: x"}),
])
def test_run_book_follows_events(events: list[Event], expected: dict[str, Any]) -> None:
    book = RunBook()
    changed = [book.apply(e) for e in events]
    assert all(changed)
    (row,) = book.list()
    assert {k: row[k] for k in expected} == expected


def test_run_book_ignores_steps_of_unknown_runs_and_keeps_live_runs_over_a_reload() -> None:
    book = RunBook(limit=2)
    assert not book.apply(ev(EventKind.STEP_STARTED, run_id="elsewhere", step="a"))
    for i in range(3):
        book.apply(ev(EventKind.RUN_STARTED, run_id=f"r{i}", ts=100.0 + i, kind="assets"))
    assert [r["run_id"] for r in book.list()] == ["r2", "r1"]      # newest first, trimmed
    book.load([])                                                 # the store has not got them yet
    assert [r["run_id"] for r in book.list()] == ["r2", "r1"]
    book.apply(ev(EventKind.RUN_FINISHED, run_id="r2", state=State.SUCCEEDED, ts=103.0))
    book.load([])
    assert [r["run_id"] for r in book.list()] == ["r1"]           # finished: the store decides


def test_a_flow_run_has_steps_attempts_cache_hits_logs_and_a_task_graph(session: Any) -> None:
    calls = {"n": 0}

    @nf.task(retries=1, retry_delay=0)
    def flaky_inc(x: int) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("first try fails")
        return x + 1

    @nf.task
    def add(a: int, b: int) -> int:
        return a + b

    @nf.flow
    def pipeline(n: int) -> int:
        a = flaky_inc.submit(n)
        b = flaky_inc.submit(a)
        return add(a, b)

    assert pipeline(1) == 5
    session.store.flush()
    (summary,) = [s for s in map(row_of, runs_view(session)) if s["kind"] == "flow"]
    detail = describe_run(session, summary["run_id"])
    assert detail["kind"] == "flow" and detail["name"] == "pipeline" and detail["state"] == "SUCCEEDED"
    steps = {s["name"]: s for s in detail["steps"]}
    assert steps["flaky_inc"]["attempts"] == 2
    assert steps["add"]["upstream"] == ["flaky_inc", "flaky_inc-1"]
    assert detail["cache_hits"] == 0
    svg = detail["graph"]
    assert svg.count('class="nbflow-node state-succeeded"') == 3
    assert 'id="nbflow-step-add"' in svg and 'id="nbflow-node-' not in svg
    assert svg.count('class="nbflow-edge"') == 3
    assert describe_run(session, "nope")["missing"].startswith("Run nope is not in the store")


def test_the_panel_lists_a_flow_run_live_and_shows_its_detail(chain: Any) -> None:
    gate = threading.Event()

    @nf.task
    def wait_here() -> int:
        gate.wait(10)
        return 1

    @nf.flow
    def slow_flow() -> int:
        return wait_here()

    p = LineagePanel(chain, namespace={})
    worker = threading.Thread(target=slow_flow)
    worker.start()
    wait_for(lambda: any(r["name"] == "slow_flow" and r["counts"] == {"RUNNING": 1} for r in p.runs))
    (live,) = [r for r in p.runs if r["name"] == "slow_flow"]
    assert live["kind"] == "flow" and live["state"] == "RUNNING"
    click(p, action="run", run_id=live["run_id"])
    assert p.run["run_id"] == live["run_id"]
    gate.set()
    worker.join(10)
    wait_for(lambda: [r["state"] for r in p.runs if r["name"] == "slow_flow"] == ["SUCCEEDED"])
    # the chosen run's detail is re-read while it changes
    wait_for(lambda: p.run.get("state") == "SUCCEEDED" and p.run["steps"][0]["state"] == "SUCCEEDED")
    assert "nbflow-step-wait_here" in p.run["graph"]
    p.close()


def test_a_running_runs_detail_is_pushed_unasked(chain: Any) -> None:
    # While a cell runs, the kernel reads no message from the page: the detail of a run started
    # under the panel must already be there when the user clicks it.
    gate = threading.Event()

    @nf.task
    def hold() -> int:
        gate.wait(10)
        return 1

    @nf.flow
    def held_flow() -> int:
        return hold()

    p = LineagePanel(chain, namespace={})
    worker = threading.Thread(target=held_flow)
    worker.start()
    try:
        wait_for(lambda: any(d.get("name") == "held_flow" and [s["state"] for s in d["steps"]] == ["RUNNING"]
                             for d in p.live_runs.values()))
        assert p.run == {}  # nobody asked
    finally:
        gate.set()
        worker.join(10)
    wait_for(lambda: [d["state"] for d in p.live_runs.values() if d.get("name") == "held_flow"] == ["SUCCEEDED"])
    (detail,) = [d for d in p.live_runs.values() if d["name"] == "held_flow"]
    assert detail["steps"][0]["state"] == "SUCCEEDED" and "nbflow-step-hold" in detail["graph"]
    p.close()


def test_the_panel_answers_the_pages_ping(chain: Any) -> None:
    p = LineagePanel(chain, namespace={})
    sent: list[Any] = []
    p.send = sent.append  # type: ignore[method-assign]
    click(p, action="ping", nonce=7)
    assert sent == [{"pong": 7}]
    p.close()


def test_panel_runs_come_from_the_store_and_its_own_clicks(chain: Any) -> None:
    nf.materialize("raw")
    p = LineagePanel(chain, namespace={})
    assert [(r["kind"], r["state"], r["steps"]) for r in p.runs] == [("assets", "SUCCEEDED", 1)]
    p.materialize("total", "upstream", force=True)
    assert p.wait(20)
    wait_for(lambda: len(p.runs) == 2)
    assert p.runs[0]["counts"] == {"SUCCEEDED": 3}
    p.close()


def test_forget_from_the_menu_removes_the_node_and_keeps_history(chain: Any) -> None:
    reg = chain.registry

    @asset(registry=reg)
    def extra() -> int:
        return 1

    nf.materialize("extra")
    p = LineagePanel(chain, namespace={})
    assert "extra" in p.states
    click(p, action="select", name="extra")
    click(p, action="forget", name="extra")
    assert "extra" not in p.states and 'data-name="extra"' not in p.svg
    assert p.selected == "" and p.details == {}
    assert "Forgot 'extra'" in p.message and "history stays" in p.message
    assert chain.store.latest_materializations(["extra"])     # history stays in the store
    click(p, action="forget", name="clean")                     # read by a function asset: refused
    assert "clean" in p.states
    assert p.message and "Forgot" not in p.message
    p.close()
