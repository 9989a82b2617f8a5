"""Magics through IPython's in-process test shell: %%asset, %materialize, %nbflow status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError

from nbflow.notebook.cell_assets import CellError


@pytest.fixture
def ip(session: Any) -> Iterator[Any]:
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "nbflow")
    before = set(shell.user_ns)
    yield shell
    for name in set(shell.user_ns) - before:
        shell.user_ns.pop(name, None)


def run(ip: Any, cell: str) -> Any:
    """Run a cell; re-raise what it raised so tests can assert on it."""
    result = ip.run_cell(cell)
    if not result.success:
        raise result.error_in_exec or result.error_before_exec
    return result.result


def statuses(session: Any) -> dict[str, tuple[str, str | None]]:
    return {s.name: (s.status, s.reason) for s in session.status()}


def test_cell_asset_runs_binds_and_records(ip: Any, session: Any) -> None:
    run(ip, "%%asset raw\n[3, -1, 4]")
    assert run(ip, "%%asset clean --group sales --tags owner=ana\nkept = [x for x in raw if x > 0]\nkept") is None
    assert ip.user_ns["clean"] == [3, 4]
    graph = session.registry.graph()
    assert graph.upstream["clean"] == ("raw",)
    spec = graph.specs["clean"]
    assert (spec.kind, spec.group, dict(spec.tags)) == ("cell", "sales", {"owner": "ana"})
    assert session.load("clean") == [3, 4]
    assert statuses(session) == {"raw": ("fresh", None), "clean": ("fresh", None)}
    runs = session.runs(limit=5)
    assert {r.steps[-1].name for r in runs} == {"raw", "clean"}


def test_names_assigned_before_reading_shadow_assets(ip: Any, session: Any) -> None:
    run(ip, "%%asset raw\n1")
    run(ip, "%%asset other\nraw = 10\nraw * 2")
    assert session.registry.graph().upstream["other"] == ()
    assert ip.user_ns["other"] == 20


def test_edited_cell_makes_it_and_downstream_stale(ip: Any, session: Any) -> None:
    run(ip, "%%asset raw\n[1, 2]")
    run(ip, "%%asset total\nsum(raw)")
    run(ip, "%%asset report\nf'total={total}'")
    run(ip, "%%asset raw --define-only\n[1, 2, 3]")
    found = statuses(session)
    assert found["raw"] == ("stale", "code changed")
    assert found["total"][0] == "stale" and "raw" in (found["total"][1] or "")
    assert found["report"][0] == "stale"
    run(ip, "%%asset raw\n[1, 2, 3]")
    found = statuses(session)
    assert found["raw"] == ("fresh", None)
    assert found["total"] == ("stale", "upstream 'raw' changed")


def test_missing_upstream_is_built_first_and_stale_upstream_used_with_a_note(
        ip: Any, session: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, "%%asset base --define-only\n5")
    run(ip, "%%asset double\nbase * 2")
    assert ip.user_ns["double"] == 10
    assert statuses(session)["base"] == ("fresh", None)
    run(ip, "%%asset base --define-only\n6")            # now stale: code changed
    capsys.readouterr()
    run(ip, "%%asset double\nbase * 2")
    out = capsys.readouterr().out
    assert "upstream 'base' is stale (code changed)" in out
    assert ip.user_ns["double"] == 10                   # the stale value was used as is


def test_var_picks_the_value_and_binds_both(ip: Any, session: Any) -> None:
    run(ip, "%%asset numbers --var xs\nxs = list(range(4))\nprint('made')")
    assert ip.user_ns["numbers"] == [0, 1, 2, 3] == ip.user_ns["xs"]


def test_user_exception_shows_the_users_traceback(ip: Any, session: Any) -> None:
    with pytest.raises(CellError) as info:
        run(ip, "%%asset boom\nx = 1\nx / 0")
    rendered = "\n".join(info.value._render_traceback_())
    assert "ZeroDivisionError: division by zero" in rendered
    assert "x / 0" in rendered
    assert "nbflow/engine" not in rendered
    import re

    assert re.search(r"Cell In\[\d+\], line 2, in boom", rendered), rendered   # like IPython's own
    assert "ipython-input" not in rendered and "ipykernel_" not in rendered
    assert statuses(session)["boom"][0] == "failed"


USAGE = [
    ("bad name", "%%asset 2bad\n1", "not a Python identifier"),
    ("no value", "%%asset nothing\nx = 1", "does not end with an expression"),
    ("unknown deps", "%%asset a --deps nope\n1", "'nope', which is not a defined asset"),
    ("bad tags", "%%asset a --tags owner\n1", "not KEY=VALUE"),
    ("syntax error", "%%asset a\nx = (", "syntax error on line 1"),
    ("unknown option", "%%asset a --frobnicate\n1", "unrecognized arguments"),
    ("bad selection", "%materialize nope --wait", "names no asset 'nope'"),
    ("bad status command", "%nbflow frob", "invalid choice"),
]


@pytest.mark.parametrize("cell,match", [c[1:] for c in USAGE], ids=[c[0] for c in USAGE])
def test_magic_errors_are_one_line_usage_errors(ip: Any, session: Any, cell: str, match: str) -> None:
    with pytest.raises(UsageError) as info:
        run(ip, cell)
    assert match in str(info.value)
    assert "\n" not in str(info.value)


def test_upstream_failure_is_a_usage_error_naming_it(ip: Any, session: Any) -> None:
    run(ip, "%%asset src --define-only\n1 / 0")
    with pytest.raises(UsageError, match="upstream 'src' failed"):
        run(ip, "%%asset use\nsrc + 1")


def test_materialize_wait_and_status_tables(ip: Any, session: Any) -> None:
    run(ip, "%%asset a --define-only\n1")
    run(ip, "%%asset b --define-only\na + 1")
    table = ip.run_line_magic("materialize", "b+ --wait")
    assert [r[:2] for r in table.rows] == [("b", "FAILED")]   # 'a' was never materialised
    table = ip.run_line_magic("materialize", "* --wait")
    assert [r[:2] for r in table.rows] == [("a", "SUCCEEDED"), ("b", "SUCCEEDED")]
    assert ip.user_ns["b"] == 2
    status = ip.run_line_magic("nbflow", "status")
    assert [r[:2] for r in status.rows] == [("a", "fresh"), ("b", "fresh")]
    assert "<table" in status._repr_html_() and "b" in repr(status)


def test_status_shows_freshness_only_with_a_policy(ip: Any, session: Any) -> None:
    run(ip, "%%asset plain --define-only\n1")
    assert ip.run_line_magic("nbflow", "status").header[:3] == ("asset", "status", "reason")
    run(ip, "import nbflow as nf")
    run(ip, "@nf.asset(freshness='1h', registry=nf.get_session().registry)\ndef hourly():\n    return 1")
    status = ip.run_line_magic("nbflow", "status")
    assert status.header[:3] == ("asset", "status", "freshness")
    rows = {r[0]: r for r in status.rows}
    assert rows["plain"][2] == "-"
    assert rows["hourly"][1:4] == ("missing", "overdue", "never materialised")  # late already
    ip.run_line_magic("materialize", "hourly --wait")
    rows = {r[0]: r for r in ip.run_line_magic("nbflow", "status").rows}
    assert rows["hourly"][2].startswith("on time, due ")


def test_materialize_blocks_so_the_next_cell_reads_the_new_value(ip: Any, session: Any) -> None:
    run(ip, "import time")
    run(ip, "%%asset s\ntime.sleep(0.3)\ntime.time()")
    run(ip, "old = s")
    table = run(ip, "%materialize s --force")
    assert [r[:2] for r in table.rows] == [("s", "SUCCEEDED")]
    assert run(ip, "s != old") is True
    assert ip.user_ns["s"] == session.load("s")


def test_interrupting_materialize_cancels_after_the_current_step(ip: Any, session: Any) -> None:
    import _thread
    import threading

    run(ip, "import threading\nstarted = threading.Event()\nrelease = threading.Event()")
    run(ip, "%%asset first --define-only\nstarted.set()\nrelease.wait(10)\n1")
    run(ip, "%%asset second --define-only\nfirst + 1")

    def interrupt() -> None:
        ip.user_ns["started"].wait(10)
        _thread.interrupt_main()                     # the stop button
        threading.Timer(0.3, ip.user_ns["release"].set).start()

    threading.Thread(target=interrupt, daemon=True).start()
    table = ip.run_line_magic("materialize", "*")
    states = dict(r[:2] for r in table.rows)
    assert states == {"first": "SUCCEEDED", "second": "CANCELLED"}   # the step in flight finished
    last = session.runs(limit=1)[0]
    assert last.state.value == "CANCELLED"


def test_materialize_runs_in_the_background(ip: Any, session: Any) -> None:
    import threading
    import time

    run(ip, "import threading\ngate = threading.Event()")
    run(ip, "%%asset slow --define-only\ngate.wait(10)\n'done'")
    assert ip.run_line_magic("materialize", "slow --background") is None   # returns at once
    assert "slow" not in ip.user_ns or ip.user_ns["slow"] != "done"
    ip.user_ns["gate"].set()
    deadline = time.monotonic() + 10
    while ip.user_ns.get("slow") != "done" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ip.user_ns["slow"] == "done"
    for t in threading.enumerate():
        if t.name == "nbflow-materialize":
            t.join(5)
            assert not t.is_alive()


def test_task_cell_retries_and_is_recorded(ip: Any, session: Any, capsys: Any) -> None:
    run(ip, "calls = []")
    value = run(ip, "%%task fetch --retries 2\ncalls.append(1)\nif len(calls) < 2:\n"
                    "    raise ValueError('flaky')\nlen(calls)")
    assert value == 2 == ip.user_ns["fetch"]
    last = session.runs(limit=1)[0]
    assert (last.kind, last.name, last.state.value) == ("task", "fetch", "SUCCEEDED")
    assert last.steps[0].attempts == 2
    assert "Attempt 1 of 3 failed: ValueError: flaky; retrying." in capsys.readouterr().out


def test_task_cell_cache_hit_skips_the_body(ip: Any, session: Any) -> None:
    run(ip, "hits = []")
    cell = "%%task once --cache inputs+code\nhits.append(1)\n'value'"
    assert run(ip, cell) == run(ip, cell) == "value"
    assert ip.user_ns["hits"] == [1]
    assert session.runs(limit=1)[0].steps[0].state.value == "CACHED"


def test_task_cell_failure_shows_the_users_traceback(ip: Any, session: Any) -> None:
    with pytest.raises(CellError) as info:
        run(ip, "%%task broken\nvalue = {}\nvalue['missing']")
    rendered = "\n".join(info.value._render_traceback_())
    assert "KeyError: 'missing'" in rendered and "value['missing']" in rendered
    assert "Cell In[" in rendered and "ipython-input" not in rendered
    assert "nbflow/session" not in rendered
    assert session.runs(limit=1)[0].state.value == "FAILED"


@pytest.mark.parametrize("cell,match", [
    ("%%task t --cache sometimes\n1", "cache of task 't' must be"),
    ("%%task t --retries -1\n1", "retries"),
])
def test_task_magic_errors_are_usage_errors(ip: Any, session: Any, cell: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        run(ip, cell)


def test_declared_code_version_keeps_an_edited_cell_fresh(ip: Any, session: Any) -> None:
    run(ip, "%%asset pinned --code-version 1\n[1]")
    run(ip, "%%asset pinned --code-version 1 --define-only\n[1]  # reformatted, same meaning")
    assert statuses(session)["pinned"] == ("fresh", None)
    run(ip, "%%asset pinned --code-version 2 --define-only\n[1]")
    assert statuses(session)["pinned"] == ("stale", "code changed")


def test_extension_loads_through_the_extension_manager(ip: Any) -> None:
    # what `c.InteractiveShellApp.extensions = ["nbflow"]` in an IPython profile does
    ip.extension_manager.reload_extension("nbflow")
    assert {"asset", "task"} <= set(ip.magics_manager.magics["cell"])
    assert {"materialize", "nbflow"} <= set(ip.magics_manager.magics["line"])


def test_changing_a_constant_the_cell_reads_makes_it_stale(ip: Any, session: Any) -> None:
    run(ip, "RATE = 2")
    run(ip, "%%asset scaled\n10 * RATE")
    assert statuses(session)["scaled"] == ("fresh", None)
    run(ip, "RATE = 3")
    assert statuses(session)["scaled"] == ("stale", "code changed")


def test_nbflow_panel_shows_the_cell_assets(ip: Any, session: Any) -> None:
    run(ip, "%%asset first\n1")
    run(ip, "%%asset second\nfirst + 1")
    shown = ip.run_line_magic("nbflow", "panel")
    try:
        assert shown.states == {"first": "fresh", "second": "fresh"}
        run(ip, "%%asset first\n2")                 # the magic refreshes live panels
        assert shown.states == {"first": "succeeded", "second": "stale"}
    finally:
        shown.close()


# ---------------------------------------------------------------- cells own their assets


def run_in(ip: Any, cell: str, cell_id: str) -> Any:
    """Run a cell as Jupyter does, with its cell id."""
    result = ip.run_cell(cell, cell_id=cell_id)
    if not result.success:
        raise result.error_in_exec or result.error_before_exec
    return result.result


def test_renaming_a_cell_removes_the_old_asset_and_says_so(ip: Any, session: Any, capsys: Any) -> None:
    run_in(ip, "%%asset raw\n[1, 2]", "c1")
    run_in(ip, "%%asset total\nsum(raw)", "c2")
    assert session.registry.graph().upstream["total"] == ("raw",)
    capsys.readouterr()
    run_in(ip, "%%asset raw_v2\n[1, 2, 3]", "c1")             # the same cell, renamed
    out = capsys.readouterr().out
    assert "Removed asset 'raw': this cell no longer defines it (this cell now defines 'raw_v2')" in out
    graph = session.registry.graph()
    assert "raw" not in graph and "raw_v2" in graph
    assert graph.upstream["total"] == ()                       # no longer wired to the old asset
    assert "'total' now reads the notebook variable 'raw'" in out
    assert session.materialize("*").ok                         # "materialise stale" runs no ghost
    assert [r.steps for r in session.runs(limit=1)][0][-1].name in {"total", "raw_v2"}
    assert {st.name for st in session.runs(limit=1)[0].steps} == {"raw_v2", "total"}


def test_a_plain_cell_owns_the_decorator_assets_it_defines(ip: Any, session: Any) -> None:
    run_in(ip, "import nbflow as nf\n@nf.asset(registry=nf.get_session().registry)\ndef a():\n    return 1", "p1")
    assert "a" in session.registry
    run_in(ip, "@nf.asset(registry=nf.get_session().registry)\ndef b():\n    return 2", "p1")
    assert "a" not in session.registry and "b" in session.registry


def test_a_failed_cell_keeps_what_it_owned(ip: Any, session: Any) -> None:
    run_in(ip, "%%asset one\n1", "f1")
    with pytest.raises(UsageError):
        run_in(ip, "%%asset two --io csvx\n2", "f1")
    assert "one" in session.registry and "two" not in session.registry


def test_forget_removes_an_asset_but_keeps_its_history(ip: Any, session: Any, capsys: Any) -> None:
    import nbflow as nf

    run(ip, "%%asset base\n5")
    run(ip, "%%asset doubled\nbase * 2")
    ip.run_line_magic("nbflow", "forget base")
    assert "Forgot asset 'base'" in capsys.readouterr().out
    assert "base" not in session.registry
    assert session.registry.graph().upstream["doubled"] == ()
    assert session.load("base") == 5                           # history stays in the store
    with pytest.raises(nf.NbflowError, match="Did you mean 'doubled'"):
        nf.forget("doubeld")


def test_forget_refuses_when_a_function_asset_reads_it(session: Any) -> None:
    import nbflow as nf

    @nf.asset(registry=session.registry)
    def up() -> int:
        return 1

    @nf.asset(registry=session.registry)
    def down(up: int) -> int:
        return up + 1

    with pytest.raises(nf.DefinitionError, match="'down', defined by a function"):
        nf.forget("up")
    assert session.registry.graph().upstream["down"] == ("up",)   # nothing changed


@pytest.mark.parametrize("cell,match", [
    ("%%asset x --io csvx\n1", "--io 'csvx' is not an I/O manager"),
    ("%%asset x\nx + 1", "reads 'x', its own value"),
    ("%%asset x\nraw_ordrs + 1", "Did you mean the asset 'raw_orders'"),
])
def test_a_failed_definition_registers_nothing(ip: Any, session: Any, cell: str, match: str) -> None:
    run(ip, "%%asset raw_orders\n1")
    shape = session.registry.graph().order
    with pytest.raises(UsageError, match=match):
        run(ip, cell)
    assert session.registry.graph().order == shape


def test_an_asset_cells_output_follows_its_value(ip: Any, session: Any, monkeypatch: Any) -> None:
    """The displayed value is updated in place (a display id) when the asset is rebuilt."""
    shown: list[tuple[str, Any]] = []

    class Handle:
        def update(self, value: Any) -> None:
            shown.append(("update", value))

    def display(value: Any, display_id: bool = False) -> Handle:
        assert display_id
        shown.append(("display", value))
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    run(ip, "box = [1]")
    run(ip, "%%asset grows\nlist(box)")
    run(ip, "box.append(2)")
    ip.run_line_magic("materialize", "grows --force")
    assert shown == [("display", [1]), ("update", [1, 2])]
    assert ip.user_ns["grows"] == [1, 2]


PARTITIONED = [
    ("daily range", "--partitions daily:2026-01-01 --partition 2026-01-02...2026-01-04",
     "nf.context().partition_key.day", {dt.date(2026, 1, d): d for d in (2, 3, 4)}),
    ("static", "--partitions static:a,b,c", "nf.context().partition_key * 2",
     {"a": "aa", "b": "bb", "c": "cc"}),
    ("dynamic", "--partitions dynamic:shops", "nf.context().partition_key.upper()",
     {"acme": "ACME", "globex": "GLOBEX"}),
]


@pytest.mark.parametrize("options,body,value", [c[1:] for c in PARTITIONED],
                         ids=[c[0] for c in PARTITIONED])
def test_partitioned_cell_runs_once_per_partition(ip: Any, session: Any, options: str, body: str,
                                                   value: dict[str, Any]) -> None:
    session.partitions("shops").add(["acme", "globex"])
    run(ip, "import nbflow as nf")
    run(ip, f"%%asset orders {options}\n{body}")
    assert ip.user_ns["orders"] == value
    assert session.registry.graph().specs["orders"].partitions is not None
    assert {k: session.load("orders", partition=k) for k in value} == value
    run(ip, "%%asset total\nlen(orders)")  # an unpartitioned reader gets key -> value
    assert ip.user_ns["total"] == len(value)
    [st, _total] = session.status()
    assert st.partitions.counts["fresh"] == len(value)


PARTITION_USAGE = [
    ("bad definition", "%%asset p --partitions yearly:2026\n1", "are not understood"),
    ("not partitioned", "%%asset p --partition a\n1", "is not partitioned"),
    ("unknown key", "%%asset p --partitions static:a,b --partition z\n1", "'z'"),
]


@pytest.mark.parametrize("cell,match", [c[1:] for c in PARTITION_USAGE],
                         ids=[c[0] for c in PARTITION_USAGE])
def test_partition_option_errors_are_usage_errors(ip: Any, session: Any, cell: str, match: str) -> None:
    with pytest.raises(UsageError, match=match) as info:
        run(ip, cell)
    assert "\n" not in str(info.value)


def test_failing_partition_shows_the_users_traceback(ip: Any, session: Any) -> None:
    run(ip, "import nbflow as nf")
    with pytest.raises(CellError, match=r"partition p\[b\]") as info:
        run(ip, "%%asset p --partitions static:a,b\nk = nf.context().partition_key\nassert k != 'b', 'bad b'\nk")
    assert "bad b" in str(info.value.traceback)
