"""Fixtures of the panel tests: a three-asset chain on the test session."""

from __future__ import annotations

from typing import Any

import pytest

from nbflow.core.specs import asset


@pytest.fixture
def chain(session: Any) -> Any:
    reg = session.registry

    @asset(registry=reg)
    def raw() -> list[int]:
        return [3, -1, 4]

    @asset(registry=reg)
    def clean(raw: list[int]) -> list[int]:
        return [x for x in raw if x > 0]

    @asset(registry=reg)
    def total(clean: list[int]) -> int:
        return sum(clean)

    return session
