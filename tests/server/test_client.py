"""nbflow.Client against a live server returns nbflow's own record types and errors."""

from __future__ import annotations

import pytest

import nbflow as nf
from nbflow.core.records import AssetStatus, RunRecord
from nbflow.core.states import State
from nbflow.errors import ConflictError, NotFoundError
from tests.server.conftest import Live
from tests.server.test_api import define


def test_the_client_speaks_the_modules_verbs(live: Live) -> None:
    define(live)
    with nf.Client(live.url, live.tokens["operator"]) as client:
        assert [(s.name, s.status) for s in client.status()] == [("raw", "missing"),
                                                                  ("total", "missing")]
        result = client.materialize("*")
        assert result.ok and result.states == {"raw": State.SUCCEEDED, "total": State.SUCCEEDED}
        statuses = client.status()
        assert all(isinstance(s, AssetStatus) and s.status == "fresh" for s in statuses)
        assert statuses[1].last is not None and statuses[1].last.run_id == result.run_id
        runs = client.runs(limit=5)
        assert isinstance(runs[0], RunRecord) and runs[0].run_id == result.run_id
        assert client.get_run(result.run_id[:6]) == live.session.get_run(result.run_id)
        with pytest.raises(NotFoundError) as missing:
            client.get_run("nope")
        assert missing.value.kind == "run"
        with pytest.raises(ConflictError):
            client.cancel(result.run_id)


def test_the_client_returns_freshness_as_status_does(live: Live) -> None:
    from nbflow.core.specs import asset

    @asset(freshness="6h", registry=live.session.registry)
    def daily() -> int:
        return 1

    @asset(registry=live.session.registry)
    def plain() -> int:
        return 1

    with nf.Client(live.url, live.tokens["operator"]) as client:
        before = {s.name: s for s in client.status()}
        assert before["daily"].freshness.overdue
        assert before["daily"].freshness.reason == "never materialised"
        assert before["plain"].freshness is None
        assert client.materialize("*").ok
        [here] = [s for s in live.session.status() if s.name == "daily"]
        there = {s.name: s for s in client.status()}["daily"]
        assert there.freshness == here.freshness and not there.freshness.overdue
        assert there.freshness.deadline is not None
