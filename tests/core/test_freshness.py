"""The freshness verdict: one table of cases for fresh / stale (with reason) / missing / failed."""

from __future__ import annotations

from typing import Any

import pytest

from nbflow.core.freshness import (
    FAILED,
    FRESH,
    MISSING,
    STALE,
    Failure,
    Verdict,
    has_value,
    stale_reason,
    verdict,
)

BASE: dict[str, Any] = {"code_version": "c1", "last_code_version": "c1", "last_inputs": {"x": "d1"},
                            "last_ts": 100.0, "inputs": {"x": "d1"}, "upstream": {"x": Verdict(FRESH)}}

CASES = {
    "up to date": ({}, FRESH, None),
    "code changed": ({"code_version": "c2"}, STALE, "code changed"),
    "code and input changed: code first": ({"code_version": "c2", "inputs": {"x": "d2"}}, STALE,
                                           "code changed"),
    "upstream data changed": ({"inputs": {"x": "d2"}}, STALE, "upstream 'x' changed"),
    "upstream has no value": ({"inputs": {"x": None}}, STALE, "upstream 'x' is missing"),
    "upstream is stale": ({"upstream": {"x": Verdict(STALE, "code changed")}}, STALE,
                          "upstream 'x' is stale"),
    "upstream failed": ({"upstream": {"x": Verdict(FAILED)}}, STALE, "upstream 'x' is failed"),
    "an input was added": ({"inputs": {"x": "d1", "y": "e1"}}, STALE, "upstream 'y' changed"),
    "an input was removed": ({"inputs": {}}, STALE, "'x' is no longer an upstream asset"),
    "never materialised": ({"last_code_version": None, "last_inputs": {}, "last_ts": None}, MISSING,
                           "never materialised"),
    "stored value gone": ({"value_problem": "its file was deleted"}, MISSING, "its file was deleted"),
    "failed after the last success": ({"failure": Failure(150.0, "r9", "ValueError: bad")}, FAILED,
                                      "run r9 failed: ValueError: bad"),
    "failed before the last success": ({"failure": Failure(50.0, "r1", "ValueError: old")}, FRESH,
                                       None),
    "failed and never materialised": ({"last_code_version": None, "last_inputs": {}, "last_ts": None,
                                           "failure": Failure(5.0, "r2", "boom")}, FAILED,
                                      "run r2 failed: boom"),
}


@pytest.mark.parametrize(("changes", "status", "reason"), list(CASES.values()), ids=list(CASES))
def test_verdict(changes: dict[str, Any], status: str, reason: str | None) -> None:
    v = verdict(**{**BASE, **changes})
    assert (v.status, v.reason) == (status, reason)
    assert v.fresh is (status == FRESH)
    assert v.error == (changes["failure"].error if status == FAILED else None)


@pytest.mark.parametrize(("last", "inputs", "expected"), [
    ({"x": "d1"}, {"x": "d1"}, None),
    ({"x": "d1", "y": "e1"}, {"y": "e1", "x": "d1"}, None),  # order does not matter
    ({"x": "d1"}, {"x": "d2"}, "upstream 'x' changed"),
])
def test_the_runner_part_looks_only_at_code_and_inputs(last: dict[str, str], inputs: dict[str, str],
                                                       expected: str | None) -> None:
    assert stale_reason("c", "c", last, inputs) == expected
    assert stale_reason("c", "other", last, inputs) == "code changed"


@pytest.mark.parametrize(("status", "materialised", "expected"), [
    (FRESH, True, True), (STALE, True, True), (MISSING, False, False), (MISSING, True, False),
    (FAILED, True, True), (FAILED, False, False),
])
def test_has_value(status: str, materialised: bool, expected: bool) -> None:
    assert has_value(status, materialised) is expected
