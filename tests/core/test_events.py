"""Event payloads: one frozen dataclass per kind, to stored JSON and back, old rows tolerated."""

from __future__ import annotations

import dataclasses
import json
import pickle
from typing import Any

import pytest

from nbflow.core.events import (
    PAYLOADS,
    CheckEvaluated,
    Event,
    EventKind,
    FreshnessChanged,
    LogLine,
    Materialized,
    Payload,
    RunFinished,
    RunStarted,
    StepFinished,
    StepRetrying,
    StepStarted,
    payload_from,
)
from nbflow.core.states import State

# One payload per kind with every field set, as the emitters fill them.
FULL: dict[EventKind, Payload] = {
    EventKind.RUN_STARTED: RunStarted(
        kind="deployment", name="daily", selection="orders+", steps=["a", "b"],
        partitions="2026-01-01", parameters={"region": "EU", "n": 3}, tags={"owner": "x"},
        parent_run_id="p1", deployment="daily", scheduled_at=1.5, output_path="/r/x.ipynb",
        attempt=2),
    EventKind.RUN_FINISHED: RunFinished(
        error="Cell 1 raised E", output_path="/r/x.ipynb", html_path="/r/x.html", cell_index=1,
        exception="E", message="boom", timed_out=False, attempt=2, duration=0.5),
    EventKind.STEP_STARTED: StepStarted(attempt=1, kind="task", task="fetch", upstream=["u"],
                                        asset="orders", partition="2026-01-01"),
    EventKind.STEP_FINISHED: StepFinished(
        attempt=3, kind="asset", task="t", upstream=["u"], error="E: x", traceback="tb",
        check="non_negative", cached_from="r0", duration=0.25, asset="orders",
        partition="2026-01-01"),
    EventKind.STEP_RETRYING: StepRetrying(attempt=1, error="E: x", delay=1.1, kind="task",
                                          task="fetch", upstream=["u"]),
    EventKind.MATERIALIZATION: Materialized(
        code_version="c1", data_version="d1", input_versions={"up": "u1"},
        metadata={"rows": 3}, uri="/v/a.pkl", io="pickle", duration=0.1, asset="orders",
        partition="2026-01-01"),
    EventKind.CHECK: CheckEvaluated(name="pos", passed=False, severity="warn", message="2 rows"),
    EventKind.LOG: LogLine(level="WARNING", message="m", logger="nbflow.run", attempt=1,
                           error="E", ended="SUCCEEDED"),
    EventKind.FRESHNESS: FreshnessChanged(overdue=True, deadline=1774760400.0,
                                          reason="never materialised", partition="2026-03-28",
                                          policy="materialised within 6h"),
}


def test_every_kind_has_its_own_payload_type() -> None:
    assert set(PAYLOADS) == set(EventKind)
    assert len(set(PAYLOADS.values())) == len(EventKind)
    for kind, cls in PAYLOADS.items():
        assert cls.KIND is kind
        assert dataclasses.is_dataclass(cls) and issubclass(cls, Payload)
        assert not hasattr(cls(), "__dict__")  # slotted
        with pytest.raises(dataclasses.FrozenInstanceError):
            cls().__setattr__(dataclasses.fields(cls)[0].name, "x")
    assert set(FULL) == set(EventKind)


@pytest.mark.parametrize("kind", list(EventKind), ids=str)
def test_a_full_payload_survives_json_both_ways(kind: EventKind) -> None:
    payload = FULL[kind]
    assert isinstance(payload, PAYLOADS[kind])
    data = payload.to_data()
    assert set(data) == {f.name for f in dataclasses.fields(payload)}  # nothing is None here
    stored = json.loads(json.dumps(data))  # as the JSON column gives it back
    assert payload_from(kind, stored) == payload
    assert payload_from(str(kind), stored) == payload
    assert type(payload).from_data(stored) == payload
    # Checks come back from worker processes (and Dask) inside the step's output.
    assert pickle.loads(pickle.dumps(payload)) == payload


@pytest.mark.parametrize("kind", list(EventKind), ids=str)
def test_an_empty_payload_is_the_defaults(kind: EventKind) -> None:
    cls = PAYLOADS[kind]
    assert payload_from(kind, None) == payload_from(kind, {}) == cls()
    assert payload_from(kind, cls().to_data()) == cls()


def test_none_fields_are_left_out_of_the_stored_json() -> None:
    assert StepFinished(attempt=1, duration=0.5).to_data() == {"attempt": 1, "duration": 0.5}
    assert RunFinished().to_data() == {}
    assert RunStarted().to_data() == {"kind": "assets"}
    # A check's row always had its four keys, message included.
    assert CheckEvaluated(name="pos").to_data() == {
        "name": "pos", "passed": True, "severity": "error", "message": None}


OLD_ROWS: list[tuple[EventKind, dict[Any, Any], Payload]] = [
    # Missing keys take the defaults the readers used to apply.
    (EventKind.RUN_STARTED, {"name": "x"}, RunStarted(kind="assets", name="x")),
    (EventKind.STEP_FINISHED, {"error": "boom"}, StepFinished(error="boom")),
    (EventKind.CHECK, {"name": "pos"}, CheckEvaluated(name="pos", passed=True, severity="error")),
    # Keys no payload field holds (older or foreign writers, odd keys) are ignored.
    (EventKind.RUN_STARTED, {"kind": "flow", "plan": ["a"], "legacy": 1, "3": "x"},
     RunStarted(kind="flow")),
    (EventKind.LOG, {"level": "INFO", "message": "hi", "pair": [1, 2], 3: "x"},
     LogLine(level="INFO", message="hi")),
    (EventKind.MATERIALIZATION, {"code_version": "c", "data_version": "d", "extra": {"a": 1}},
     Materialized(code_version="c", data_version="d")),
    (EventKind.RUN_FINISHED, {"error": None, "cell_index": 2, "exception": "E", "message": "m"},
     RunFinished(cell_index=2, exception="E", message="m")),
]


@pytest.mark.parametrize(("kind", "row", "expected"), OLD_ROWS,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(OLD_ROWS)])
def test_an_old_row_still_rebuilds(kind: EventKind, row: dict[Any, Any], expected: Payload) -> None:
    assert payload_from(kind, row) == expected


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="NOPE"):
        payload_from("NOPE", {})


def test_a_run_finished_names_how_its_notebook_failed() -> None:
    assert RunFinished(error="x").failure() is None
    assert RunFinished(cell_index=0, exception="E", message="m", timed_out=True).failure() == {
        "cell_index": 0, "exception": "E", "message": "m"}


def test_an_event_without_a_payload_stores_an_empty_mapping() -> None:
    assert Event(EventKind.RUN_FINISHED, "r", state=State.SUCCEEDED).to_data() == {}
    e = Event(EventKind.STEP_FINISHED, "r", "a", State.FAILED, StepFinished(error="boom"))
    assert e.to_data() == {"error": "boom"}
