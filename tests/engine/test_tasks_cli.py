"""The task commands: nbflow cache list/clear, nbflow limit, nbflow limits."""

from __future__ import annotations

import pytest

from nbflow.cli.main import main
from nbflow.session.tasks import task


def nbflow(capsys, *argv):  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out = capsys.readouterr()
    return info.value.code, out.out + out.err


def test_cache_list_and_clear(session, capsys):  # type: ignore[no-untyped-def]
    @task(cache="inputs")
    def fetch(x):  # type: ignore[no-untyped-def]
        return x

    @task(cache="inputs")
    def parse(x):  # type: ignore[no-untyped-def]
        return x

    assert nbflow(capsys, "cache", "list") == (0, "No cached task results.\n")
    fetch(1), fetch(2), parse(1)
    code, out = nbflow(capsys, "cache", "list")
    assert code == 0 and "fetch" in out and "parse" in out
    assert nbflow(capsys, "cache", "clear", "fetch") == (0, "Cleared 2 cached results of task 'fetch'.\n")
    assert [t for t, _, _ in session.store.tasks.cache_summary()] == ["parse"]
    assert nbflow(capsys, "cache", "clear") == (0, "Cleared 1 cached result of all tasks.\n")


@pytest.mark.parametrize(("argv", "code", "expected", "limits"), [
    (["limit", "db", "2"], 0, "At most 2 tasks tagged 'db' run at once.", {"db": (2, 0)}),
    (["limit", "db"], 0, "Tag 'db' has no concurrency limit", {}),
    (["limit", "db", "0"], 2, "must be a whole number >= 1", {}),
    (["limit", "db", "many"], 2, "'many' is not a valid integer", {}),
    (["limits"], 0, "No concurrency limits", {}),
])
def test_limit_commands(session, capsys, argv, code, expected, limits):  # type: ignore[no-untyped-def]
    got_code, out = nbflow(capsys, *argv)
    assert got_code == code and expected in out
    assert session.store.tasks.limits() == limits


def test_limit_show_remove_and_reset(session, capsys):  # type: ignore[no-untyped-def]
    tables = session.store.tasks
    nbflow(capsys, "limit", "db", "3")
    held = tables.acquire(["db"])
    assert nbflow(capsys, "limit", "db") == (0, "Tag 'db': 1 of 3 slots in use.\n")
    code, out = nbflow(capsys, "limits")
    assert code == 0 and "db" in out and "3" in out
    assert nbflow(capsys, "limit", "db", "--reset") == (0, "Freed 1 slot of tag 'db'.\n")
    assert tables.limits() == {"db": (3, 0)} and held
    assert nbflow(capsys, "limit", "db", "--remove") == (0, "Tag 'db' has no concurrency limit now.\n")
    assert tables.limits() == {}


def test_run_show_prints_a_flow_graph_and_its_logs(session, capsys):  # type: ignore[no-untyped-def]
    from nbflow.engine.context import get_logger
    from nbflow.session.flows import flow

    @task
    def step(x):  # type: ignore[no-untyped-def]
        get_logger().info("handling [b]%s[/b]", x)  # markup-looking text printed as is
        return x

    @flow
    def graph():  # type: ignore[no-untyped-def]
        return step.submit(step.submit(1)).result()

    out_state = graph(return_state=True)
    code, out = nbflow(capsys, "run", "show", out_state.run_id)
    assert code == 0
    assert "step-1" in out and "handling [b]1[/b]" in out
    row = next(line for line in out.splitlines() if "step-1" in line and "SUCCEEDED" in line)
    assert "│ step " in row.replace("step-1", "")  # the upstream column names 'step'
