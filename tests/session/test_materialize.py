"""materialize(): states, failures, skipping, caching, staleness and history on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

import nbflow as nf
from nbflow.core.states import State
from nbflow.errors import NbflowError, SelectionError


def define_diamond(registry, calls):  # type: ignore[no-untyped-def]
    @nf.asset(registry=registry)
    def raw():
        calls.append("raw")
        return [1, 2, 3]

    @nf.asset(registry=registry)
    def left(raw):
        calls.append("left")
        return [x * 2 for x in raw]

    @nf.asset(registry=registry)
    def right(raw, scale=10):
        calls.append("right")
        return [x * scale for x in raw]

    @nf.asset(registry=registry)
    def joined(left, right):
        calls.append("joined")
        return left + right


def test_materialize_runs_everything_and_returns_values(session, registry):
    calls: list[str] = []
    define_diamond(registry, calls)
    result = nf.materialize()
    assert result.ok and result.state is State.SUCCEEDED
    assert result.states == {n: State.SUCCEEDED for n in ("raw", "left", "right", "joined")}
    assert result["joined"] == [2, 4, 6, 10, 20, 30]
    assert calls.index("raw") < calls.index("left") < calls.index("joined")
    assert nf.load("joined") == [2, 4, 6, 10, 20, 30]


def test_fresh_assets_are_cached_without_a_call(session, registry):
    calls: list[str] = []
    define_diamond(registry, calls)
    nf.materialize()
    calls.clear()
    again = nf.materialize()
    assert again.ok and set(again.states.values()) == {State.CACHED} and calls == []
    assert again["joined"] == [2, 4, 6, 10, 20, 30]  # loaded from storage on demand
    forced = nf.materialize("raw", force=True)
    assert forced.states == {"raw": State.SUCCEEDED} and calls == ["raw"]


def test_failure_skips_downstream_but_independent_branches_run(session, registry):
    @nf.asset(registry=registry)
    def raw():
        return 1

    @nf.asset(registry=registry)
    def broken(raw):
        raise RuntimeError("upstream API down")

    @nf.asset(registry=registry)
    def after(broken):
        return 2

    @nf.asset(registry=registry)
    def after_after(after):
        return 3

    @nf.asset(registry=registry)
    def independent(raw):
        return raw + 1

    result = nf.materialize()
    assert not result.ok and result.state is State.FAILED
    assert result.states["broken"] is State.FAILED
    assert result.states["after"] is State.SKIPPED and result.states["after_after"] is State.SKIPPED
    assert result.states["independent"] is State.SUCCEEDED
    assert "upstream API down" in result.errors["broken"]["message"]
    assert "raise RuntimeError" in result.errors["broken"]["traceback"]
    assert "nbflow/engine" not in result.errors["broken"]["traceback"]  # the user's frames only
    with pytest.raises(NbflowError, match="ended FAILED"):
        result["broken"]
    run = nf.get_run(result.run_id)
    assert run.state is State.FAILED
    assert run.step("broken").error == "RuntimeError: upstream API down"
    assert run.step("after").state is State.SKIPPED


@pytest.mark.parametrize("executor", ["inprocess", "threads"])
def test_executors_give_the_same_result(session, registry, executor):
    calls: list[str] = []
    define_diamond(registry, calls)
    result = nf.materialize(executor=executor, max_workers=4)
    assert result.ok and result["joined"] == [2, 4, 6, 10, 20, 30]


def test_threads_run_independent_branches_in_parallel(session, registry):
    barrier = threading.Barrier(2, timeout=10)

    @nf.asset(registry=registry)
    def a():
        barrier.wait()  # only returns if b runs at the same time
        return 1

    @nf.asset(registry=registry)
    def b():
        barrier.wait()
        return 2

    assert nf.materialize(executor="threads", max_workers=2).ok


def test_same_data_version_keeps_downstream_fresh(session, registry):
    source = {"rows": [1, 2, 3], "calls": 0}

    @nf.asset(registry=registry)
    def upstream():
        return sorted(source["rows"])

    @nf.asset(registry=registry)
    def downstream(upstream):
        source["calls"] += 1
        return sum(upstream)

    nf.materialize()
    source["rows"] = [3, 2, 1]  # recomputed, same sorted value, same data version
    result = nf.materialize(["upstream", "downstream"], force=False)
    assert result.states["upstream"] is State.CACHED
    forced = nf.materialize("upstream", force=True)
    assert forced.states["upstream"] is State.SUCCEEDED
    again = nf.materialize("downstream")
    assert again.states["downstream"] is State.CACHED and source["calls"] == 1
    source["rows"] = [4]
    nf.materialize("upstream", force=True)
    assert [s.status for s in nf.status("downstream")] == ["stale"]
    assert nf.materialize("downstream").states["downstream"] is State.SUCCEEDED and source["calls"] == 2


def test_status_reports_missing_fresh_stale_and_failed(session, registry):
    @nf.asset(registry=registry)
    def a():
        return 1

    @nf.asset(registry=registry)
    def b(a):
        return a + 1

    @nf.asset(registry=registry)
    def c(b):
        return b + 1

    assert {s.name: s.status for s in nf.status()} == {"a": "missing", "b": "missing", "c": "missing"}
    first = nf.materialize()
    statuses = {s.name: s for s in nf.status()}
    assert {n: s.status for n, s in statuses.items()} == {"a": "fresh", "b": "fresh", "c": "fresh"}
    assert statuses["b"].last.run_id == first.run_id and statuses["b"].last.duration is not None

    @nf.asset(registry=registry)  # the "cell" is edited: new code, new code version
    def b(a):  # noqa: F811
        return a + 100

    statuses = {s.name: s for s in nf.status()}
    assert (statuses["a"].status, statuses["b"].status, statuses["c"].status) == ("fresh", "stale", "stale")
    assert statuses["b"].reason == "code changed"
    assert statuses["c"].reason == "upstream 'b' is stale"
    rerun = nf.materialize("b+")
    assert rerun.states == {"b": State.SUCCEEDED, "c": State.SUCCEEDED} and rerun["c"] == 102

    @nf.asset(registry=registry)
    def c(b):  # noqa: F811
        raise ValueError("bad row")

    nf.materialize("c")
    failed = {s.name: s for s in nf.status()}["c"]
    assert failed.status == "failed" and "bad row" in (failed.error or "")


def test_code_version_follows_globals_and_declared_versions(session, registry):
    import types

    module = types.ModuleType("user_module")
    exec("THRESHOLD = 3\ndef big(raw):\n    return [x for x in raw if x > THRESHOLD]\n", module.__dict__)

    @nf.asset(registry=registry)
    def raw():
        return [1, 5, 9]

    registry.add(nf.asset(module.big, registry=registry))
    nf.materialize()
    module.THRESHOLD = 6  # a global the function reads
    assert {s.name: s.status for s in nf.status()}["big"] == "stale"
    assert nf.materialize("big")["big"] == [9]

    @nf.asset(registry=registry, code_version="v1")
    def pinned(raw):
        return len(raw)

    nf.materialize("pinned")

    @nf.asset(registry=registry, code_version="v1")
    def pinned(raw):  # noqa: F811 - new body, same declared version: still fresh
        return len(raw) * 2

    assert {s.name: s.status for s in nf.status()}["pinned"] == "fresh"


def test_materialisations_record_versions_and_inputs(session, registry):
    @nf.asset(registry=registry)
    def a():
        return {"x": 1}

    @nf.asset(registry=registry, metadata={"owner": "ann"})
    def b(a):
        return [a["x"]] * 3

    result = nf.materialize()
    latest = session.store.latest_materializations()
    assert latest["b"].input_versions == {"a": latest["a"].data_version}
    assert latest["b"].run_id == result.run_id and latest["b"].metadata["owner"] == "ann"
    assert latest["b"].metadata["length"] == 3
    assert len(latest["a"].data_version) == 32 and latest["a"].code_version


def test_unselected_missing_upstream_fails_with_a_hint(session, registry):
    @nf.asset(registry=registry)
    def a():
        return 1

    @nf.asset(registry=registry)
    def b(a):
        return a

    result = nf.materialize("b")
    assert result.states == {"b": State.FAILED}
    assert "'+b'" in result.errors["b"]["message"]


def test_selection_errors(session, registry):
    @nf.asset(registry=registry)
    def orders():
        return 1

    with pytest.raises(SelectionError, match="Did you mean 'orders'"):
        nf.materialize("ordrs")
    with pytest.raises(SelectionError):
        nf.materialize("group:nope")


def test_cancel_stops_after_the_current_step(session, registry):
    cancel = threading.Event()

    @nf.asset(registry=registry)
    def first():
        cancel.set()
        return 1

    @nf.asset(registry=registry)
    def second(first):
        return 2

    result = session.materialize(cancel=cancel)
    assert result.states == {"first": State.SUCCEEDED, "second": State.CANCELLED}
    assert result.state is State.CANCELLED
    assert nf.get_run(result.run_id).state is State.CANCELLED


def test_retries_on_assets_are_recorded_per_attempt(session, registry):
    tries = {"n": 0}

    @nf.asset(registry=registry, retries=2)
    def flaky():
        tries["n"] += 1
        if tries["n"] < 3:
            raise ConnectionError("try again")
        return "ok"

    result = nf.materialize()
    assert result.ok and tries["n"] == 3
    assert nf.get_run(result.run_id).step("flaky").attempts == 3


def test_asset_retry_waits_its_delay_without_blocking_other_steps(session, registry):
    import time

    seen: list[tuple[str, str | None, float, dict]] = []
    session.hooks.subscribe(lambda e: seen.append((e.kind.value, e.step, time.monotonic(), e.to_data())))
    tries = {"n": 0}

    @nf.asset(registry=registry, retries=1, retry_delay=0.8)
    def flaky():
        tries["n"] += 1
        if tries["n"] == 1:
            raise ConnectionError("try again")
        return "ok"

    @nf.asset(registry=registry)
    def one():
        time.sleep(0.05)
        return 1

    @nf.asset(registry=registry)
    def two(one):
        time.sleep(0.05)
        return one + 1

    @nf.asset(registry=registry)
    def three(two):
        return two + 1

    result = nf.materialize(executor="threads")
    assert result.ok and tries["n"] == 2
    retrying = [e for e in seen if e[0] == "STEP_RETRYING"]
    assert [(e[1], e[3]["attempt"], e[3]["delay"]) for e in retrying] == [("flaky", 1, 0.8)]
    again = next(e for e in seen if e[0] == "STEP_STARTED" and e[1] == "flaky" and e[3]["attempt"] == 2)
    three_done = next(e for e in seen if e[0] == "STEP_FINISHED" and e[1] == "three")
    assert again[2] - retrying[0][2] >= 0.75           # it waited the policy's delay
    assert three_done[2] - retrying[0][2] < 0.6         # while the chain went on meanwhile
    assert three_done[2] < again[2]


def test_asset_retry_on_predicate_decides_which_failures_retry(session, registry):
    calls = {"n": 0}

    @nf.asset(registry=registry, retries=3, retry_on=lambda e: "transient" in str(e))
    def picky():
        calls["n"] += 1
        raise ValueError("transient" if calls["n"] == 1 else "permanent")

    result = nf.materialize()
    assert result.states["picky"] is State.FAILED and calls["n"] == 2
    assert "permanent" in result.errors["picky"]["message"]


def test_asset_retry_on_classes_see_the_users_exception(session, registry):
    calls = {"n": 0}

    @nf.asset(registry=registry, retries=2, retry_on=ConnectionError)
    def net():
        calls["n"] += 1
        raise ConnectionError("down") if calls["n"] == 1 else KeyError("gone")

    result = nf.materialize()
    assert result.states["net"] is State.FAILED and calls["n"] == 2


def test_cancel_while_an_asset_waits_to_retry(session, registry):
    cancel = threading.Event()

    @nf.asset(registry=registry, retries=1, retry_delay=30)
    def slow_retry():
        cancel.set()
        raise ConnectionError("down")

    import time

    t = time.monotonic()
    result = nf.materialize(cancel=cancel)
    assert time.monotonic() - t < 5
    assert result.states == {"slow_retry": State.CANCELLED}


def test_checks_block_downstream(session, registry):
    @nf.asset(registry=registry, checks=[nf.check(lambda v: min(v) >= 0, name="non_negative"),
                                          nf.check(lambda v: len(v) > 5, name="enough_rows", severity="warn")])
    def amounts():
        return [3, -1]

    @nf.asset(registry=registry)
    def total(amounts):
        return sum(amounts)

    result = nf.materialize()
    assert result.states == {"amounts": State.FAILED, "total": State.SKIPPED}
    assert result.errors["amounts"]["check"] == "non_negative"
    kinds = [(e.kind.value, e.data.name, e.data.passed) for e in session.store.events(result.run_id)
             if e.kind.value == "CHECK"]
    assert kinds == [("CHECK", "non_negative", False), ("CHECK", "enough_rows", False)]


def test_runs_history_newest_first_with_filters(session, registry):
    @nf.asset(registry=registry)
    def ok():
        return 1

    @nf.asset(registry=registry)
    def bad():
        raise ValueError("x")

    first = nf.materialize("ok")
    second = nf.materialize("bad")
    records = nf.runs(limit=10)
    assert [r.run_id for r in records] == [second.run_id, first.run_id]
    assert [r.run_id for r in nf.runs(state="FAILED")] == [second.run_id]
    assert nf.runs(limit=1)[0].run_id == second.run_id
    run = nf.get_run(first.run_id)
    assert run.duration is not None and run.duration >= 0 and run.steps[0].name == "ok"
    assert run.started_at <= run.ended_at
    with pytest.raises(NbflowError, match="no run"):
        nf.get_run("does-not-exist")


def test_load_errors_name_the_fix(session, registry):
    @nf.asset(registry=registry)
    def orders():
        return 1

    with pytest.raises(NbflowError, match="never been materialised"):
        nf.load("orders")
    with pytest.raises(NbflowError, match="Did you mean 'orders'"):
        nf.load("order")


def test_deployment_run_id_links_materialisations(session, registry, monkeypatch):
    @nf.asset(registry=registry)
    def report():
        return 1

    monkeypatch.setenv("NBFLOW_RUN_ID", "deploy-run-1")
    nf.materialize()
    assert nf.status()[0].deployment_run_id == "deploy-run-1"


def test_a_value_changed_or_deleted_behind_nbflows_back_is_missing_and_rebuilt(session) -> None:
    """status says missing (with the reason), materialize rebuilds it, downstream never reads it."""
    import os
    from pathlib import Path

    import nbflow as nf

    calls: list[str] = []

    @nf.asset(registry=session.registry)
    def base() -> list[int]:
        calls.append("base")
        return list(range(20))

    @nf.asset(registry=session.registry)
    def total(base: list[int]) -> int:
        calls.append("total")
        return sum(base)

    assert session.materialize("*").ok
    uri = session.store.latest_materializations(["base"])["base"].uri
    data = bytearray(Path(uri).read_bytes())
    data[-3] ^= 0x01                                      # same length, other bytes
    Path(uri).write_bytes(bytes(data))
    st = {s.name: (s.status, s.reason) for s in session.status()}
    assert st["base"][0] == "missing" and "changed outside nbflow" in st["base"][1]
    assert st["total"] == ("stale", "upstream 'base' is missing")
    calls.clear()
    result = session.materialize("*")
    assert result.states["base"].value == "SUCCEEDED" and calls[0] == "base"
    assert session.load("total") == sum(range(20))
    os.remove(session.store.latest_materializations(["base"])["base"].uri)
    assert {s.name: s.status for s in session.status()}["base"] == "missing"
    assert session.materialize("base").states["base"].value == "SUCCEEDED"   # not CACHED
