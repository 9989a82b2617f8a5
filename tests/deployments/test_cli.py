"""Deployment commands through the real CLI entry point: output, exit codes, bad input."""

from __future__ import annotations

import time

import pytest

from nbflow.cli.main import main
from nbflow.core.states import State

sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


@sqlite_only
def test_deploy_list_show_pause_resume_delete(session, notebook, capsys):
    code, out, _ = run(capsys, "deploy", str(notebook), "--name", "daily", "--cron", "0 6 * * *",
                       "--tz", "Europe/Paris", "-p", "n=3", "-p", "text=a b=c", "--retries", "1")
    assert code == 0 and "Deployed daily (probe.ipynb): daily at 06:00 (Europe/Paris); next run" in out
    assert "CET" in out or "CEST" in out
    code, out, _ = run(capsys, "deploy", str(notebook), "--name", "daily", "--every", "15m")
    assert code == 0 and "Updated daily (probe.ipynb): every 15 minutes" in out
    code, out, _ = run(capsys, "deployments")
    assert code == 0 and "daily" in out and "every 15 minutes" in out and "probe.ipynb" in out
    code, out, _ = run(capsys, "deployment", "pause", "daily")
    assert code == 0 and "Paused daily." in out
    code, out, _ = run(capsys, "deployment", "show", "daily")
    assert code == 0 and "paused" in out and "catch-up     latest" in out
    code, out, _ = run(capsys, "deployment", "resume", "daily")
    assert code == 0 and "Resumed daily; next run" in out
    code, out, _ = run(capsys, "deployment", "delete", "daily")
    assert code == 0 and "Deleted daily." in out
    code, out, _ = run(capsys, "deployments")
    assert code == 0 and "No deployments yet" in out


@sqlite_only
@pytest.mark.parametrize("args,message", [
    (["deploy", "{nb}", "--every", "1h", "-p", "n=ten"], "Parameter 'n' expects an int"),
    (["deploy", "{nb}", "--every", "1h", "-p", "nn=1"], "has no parameter 'nn'; its parameters are: day, items, n, text"),
    (["deploy", "{nb}", "--every", "1h", "-p", "novalue"], "must be given as name=value"),
    (["deploy", "{nb}", "--cron", "0 6 * * *", "--tz", "Nowhere/City"], "Time zone 'Nowhere/City' is unknown"),
    (["deploy", "{nb}", "--cron", "0 6 * *"], "needs five"),
    (["deploy", "{nb}", "--every", "0.5s"], "Interval must be at least 1 seconds"),   # weeks are valid now (one duration grammar)
    (["deploy", "{nb}"], "needs a schedule"),
    (["deploy", "{nb}", "--every", "1h", "--manual"], "only one of"),
    (["deploy", "{nb}", "--every", "1h", "--name", "a/b"], "name 'a/b' is not valid"),
    (["deploy", "missing.ipynb", "--every", "1h"], "does not exist"),
    (["deploy", "{nb}", "--every", "1h", "--executor", "dask://nohost"], "dask://HOST:PORT"),
    (["trigger", "nothing"], "There is no deployment 'nothing'"),
    (["deployment", "show", "nothing"], "There is no deployment 'nothing'"),
    (["trigger", "probe", "-p", "day=someday"], "Parameter 'day' expects a date"),
])
def test_bad_input_is_one_clean_line_and_a_nonzero_exit(session, notebook, capsys, args, message):
    from nbflow.deployments.service import deploy

    deploy(notebook, name="probe", manual=True)
    code, out, err = run(capsys, *[a.replace("{nb}", str(notebook)) for a in args])
    assert code in (1, 2)
    assert message in err and "Traceback" not in err + out
    assert session.runs(deployment="probe") == []


@pytest.mark.kernel
@sqlite_only
def test_trigger_prints_the_outcome_and_exit_code(kernel, session, notebook, capsys):
    code, _, _ = run(capsys, "deploy", str(notebook), "--name", "probe", "--manual")
    assert code == 0
    code, out, _ = run(capsys, "trigger", "probe", "-p", "text=it's {ok}")
    assert code == 0 and "SUCCEEDED" in out and "notebook: " in out
    code, out, _ = run(capsys, "trigger", "probe", "-p", "n=-1")
    assert code == 1 and "FAILED" in out
    assert "Cell 2 raised ValueError: n must not be negative, got -1" in out
    code, out, _ = run(capsys, "runs", "--deployment", "probe")
    assert code == 0 and out.count("deployment") >= 2


@pytest.mark.kernel
@sqlite_only
def test_trigger_no_wait_runs_in_the_background(kernel, session, notebook, capsys):
    run(capsys, "deploy", str(notebook), "--name", "probe", "--manual")
    code, out, _ = run(capsys, "trigger", "probe", "--no-wait", "-p", "n=4")
    assert code == 0 and "in the background" in out
    run_id = out.split("Started run ")[1].split()[0]
    deadline = time.monotonic() + 60
    while session.get_run(run_id).state in (State.PENDING, State.RUNNING) and time.monotonic() < deadline:
        time.sleep(0.2)
    record = session.get_run(run_id)
    assert record.state is State.SUCCEEDED, record.error
    assert record.parameters["n"] == 4 and record.tags["trigger"] == "manual"
