"""Panel node states: resting status plus the overlay a run's events lay on top."""

from __future__ import annotations

import pytest

from nbflow.core.events import PAYLOADS, Event, EventKind
from nbflow.core.states import State
from nbflow.widget.states import NodeStates


def ev(kind: EventKind, step: str | None = None, state: State | None = None, **data) -> Event:
    return Event(kind, "run1", step, state, PAYLOADS[kind](**data))


CASES = [
    ("resting status shows", {"a": "stale"}, [], "stale"),
    ("planned steps are queued", {"a": "fresh"}, [ev(EventKind.RUN_STARTED, steps=["a"])], "queued"),
    ("started is running", {}, [ev(EventKind.RUN_STARTED, steps=["a"]),
                                ev(EventKind.STEP_STARTED, "a", State.RUNNING)], "running"),
    ("succeeded in this run", {"a": "missing"}, [ev(EventKind.STEP_FINISHED, "a", State.SUCCEEDED)],
     "succeeded"),
    ("cached is fresh", {"a": "stale"}, [ev(EventKind.STEP_FINISHED, "a", State.CACHED)], "fresh"),
    ("failed", {"a": "fresh"}, [ev(EventKind.STEP_FINISHED, "a", State.FAILED, error="boom")], "failed"),
    ("blocking check failed", {}, [ev(EventKind.CHECK, "a", passed=False, severity="error", name="pos"),
                                   ev(EventKind.STEP_FINISHED, "a", State.FAILED, error="check")],
     "check failed"),
    ("warning check keeps success", {}, [ev(EventKind.CHECK, "a", passed=False, severity="warn"),
                                         ev(EventKind.STEP_FINISHED, "a", State.SUCCEEDED)], "succeeded"),
    ("cancelled goes back to status", {"a": "stale"},
     [ev(EventKind.RUN_STARTED, steps=["a"]), ev(EventKind.STEP_FINISHED, "a", State.CANCELLED)], "stale"),
    ("queued cleared when the run ends", {"a": "missing"},
     [ev(EventKind.RUN_STARTED, steps=["a"]), ev(EventKind.RUN_FINISHED, state=State.CANCELLED)], "missing"),
]


@pytest.mark.parametrize("resting,events,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_label_after_events(resting: dict[str, str], events: list[Event], expected: str) -> None:
    nodes = NodeStates(["a", "b"])
    nodes.set_status(resting)
    for e in events:
        nodes.apply(e)
    assert nodes.label("a") == expected
    assert nodes.label("b") == "missing"


def test_stale_status_wins_over_an_earlier_success() -> None:
    nodes = NodeStates(["a"])
    nodes.apply(ev(EventKind.STEP_FINISHED, "a", State.SUCCEEDED))
    assert nodes.label("a") == "succeeded"
    nodes.set_status({"a": "stale"})        # an upstream cell was edited and re-run
    assert nodes.label("a") == "stale"


def test_failure_keeps_error_and_traceback_for_the_details_pane() -> None:
    nodes = NodeStates(["a"])
    nodes.apply(ev(EventKind.STEP_FINISHED, "a", State.FAILED, error="ValueError: x",
                   traceback="Traceback ...\nValueError: x"))
    assert nodes.errors["a"].startswith("ValueError: x\n\nTraceback")


def test_events_for_other_steps_change_nothing() -> None:
    nodes = NodeStates(["a"])
    assert nodes.apply(ev(EventKind.STEP_STARTED, "task-x", State.RUNNING)) is False
    assert nodes.labels() == {"a": "missing"}
