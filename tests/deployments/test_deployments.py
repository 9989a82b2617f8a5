"""deploy(), trigger() and run records: validation before anything runs, real papermill runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from nbflow.api import runs as nf_runs
from nbflow.core.states import State
from nbflow.deployments import service as D
from nbflow.deployments.runs import failure
from nbflow.errors import DeploymentError, ParameterError, ScheduleError

from .conftest import write_notebook

sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return write_notebook(tmp_path / "bare.ipynb", [("x = 1", [])])


@pytest.mark.parametrize("kwargs,error,match", [
    ({"notebook": "missing.ipynb", "every": "1h"}, DeploymentError, "does not exist"),
    ({"notebook": "notes.txt", "every": "1h"}, DeploymentError, "not a notebook"),
    ({"name": "../escape", "every": "1h"}, DeploymentError, "name '../escape' is not valid"),
    ({"name": "a b", "every": "1h"}, DeploymentError, "is not valid"),
    ({"name": "", "every": "1h"}, DeploymentError, "is not valid"),
    ({}, ScheduleError, "needs a schedule"),
    ({"cron": "0 6 * * *", "every": "1h"}, ScheduleError, "only one of"),
    ({"cron": "0 6 * *"}, ScheduleError, "needs five"),
    ({"cron": "0 6 * * *", "tz": "Europe/Pariss"}, ScheduleError, "Time zone 'Europe/Pariss'"),
    ({"every": "fortnightly"}, ScheduleError, "Interval 'fortnightly'"),
    ({"every": "1h", "catchup": "some"}, ScheduleError, "Catch-up policy 'some'"),
    ({"every": "1h", "max_concurrency": 0}, DeploymentError, "max_concurrency"),
    ({"every": "1h", "max_concurrency": True}, DeploymentError, "max_concurrency"),
    ({"every": "1h", "retries": -1}, DeploymentError, "retries"),
    ({"every": "1h", "retry_delay": -5}, DeploymentError, "retry_delay"),
    ({"every": "1h", "timeout": 0}, DeploymentError, "timeout"),
    ({"every": "1h", "timeout": float("nan")}, DeploymentError, "setting timeout must be a finite"),
    ({"every": "1h", "timeout": float("inf")}, DeploymentError, "setting timeout must be a finite"),
    ({"every": "1h", "retry_delay": float("inf")}, DeploymentError, "setting retry_delay must be a finite"),
    ({"every": "1h", "retry_delay": float("nan")}, DeploymentError, "setting retry_delay must be a finite"),
    ({"every": "1h", "kernel": "no-such-kernel"}, DeploymentError, "Kernel 'no-such-kernel' is not installed"),
    ({"every": "1h", "executor": "spark"}, DeploymentError, "Executor 'spark'"),
    ({"every": "1h", "executor": "dask://host"}, DeploymentError, "dask://HOST:PORT"),
    ({"every": "1h", "parameters": {"txt": "a"}}, ParameterError, "no parameter 'txt'.*Did you mean 'text'"),
    ({"every": "1h", "parameters": {"n": "many"}}, ParameterError, "'n' expects an int"),
    ({"every": "1h", "parameters": {"day": "tomorrow"}}, ParameterError, "'day' expects a date"),
])
def test_build_refuses_bad_input_before_anything_runs(notebook, tmp_path, monkeypatch, kwargs, error, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    kwargs = {"notebook": notebook, **kwargs}
    with pytest.raises(error, match=match):
        D.build(**kwargs)


def test_notebook_without_parameters_cell_refuses_parameters(bare):
    with pytest.raises(ParameterError, match="no cell tagged 'parameters'"):
        D.build(bare, every="1h", parameters={"x": 2})
    assert D.build(bare, every="1h").parameters == {}


def test_build_types_parameters_and_defaults_the_name(notebook):
    dep = D.build(notebook, cron="0 6 * * *", tz="Europe/Paris",
                  parameters={"n": "3", "day": "2026-03-29", "items": '["x"]', "text": "5"})
    assert dep.name == "probe"
    assert dict(dep.parameters) == {"n": 3, "day": dt.date(2026, 3, 29), "items": ["x"], "text": "5"}
    assert dep.schedule.describe() == "daily at 06:00 (Europe/Paris)"


def test_deploy_stores_updates_and_lists(session, notebook):
    first = D.deploy(notebook, name="probe", every="1h", parameters={"n": 2})
    again = D.deploy(notebook, name="probe", cron="30 6 * * 1-5", tz="America/New_York",
                     parameters={"day": dt.date(2026, 2, 1)}, retries=2, timeout=60)
    stored = D.get_deployment("probe")
    assert first.schedule.every == 3600 and stored == again
    assert dict(stored.parameters) == {"day": dt.date(2026, 2, 1)}
    assert (stored.retries, stored.timeout, stored.schedule.tz) == (2, 60.0, "America/New_York")
    assert [d.name for d in D.list_deployments()] == ["probe"]
    nxt = stored.next_run(dt.datetime(2026, 3, 6, 12, tzinfo=dt.UTC))
    assert (nxt.weekday(), nxt.hour, nxt.minute, str(nxt.tzinfo)) == (0, 6, 30, "America/New_York")
    assert D.set_paused("probe", True).paused and D.get_deployment("probe").next_run() is None
    assert not D.set_paused("probe", False).paused
    D.delete_deployment("probe")
    with pytest.raises(DeploymentError, match="no deployment 'probe'; deployments: none yet"):
        D.get_deployment("probe")


@pytest.mark.parametrize("call", [
    lambda: D.get_deployment("prob"), lambda: D.set_paused("prob", True),
    lambda: D.delete_deployment("prob"), lambda: D.trigger("prob"),
])
def test_unknown_deployment_names_list_known_ones(session, notebook, call):
    D.deploy(notebook, name="probe", manual=True)
    with pytest.raises(DeploymentError, match="no deployment 'prob'; deployments: probe. Did you mean 'probe'"):
        call()


def test_trigger_refuses_bad_parameters_without_creating_a_run(session, notebook):
    D.deploy(notebook, name="probe", manual=True)
    with pytest.raises(ParameterError, match="'n' expects an int"):
        D.trigger("probe", {"n": "x"})
    assert session.runs(deployment="probe") == []


@pytest.mark.kernel
def test_trigger_runs_the_notebook_and_records_the_run(kernel, session, notebook):
    D.deploy(notebook, name="probe", every="1d", parameters={"text": "deployed", "n": 2})
    run = D.trigger("probe", {"items": '["a\\"b", "{}"]', "day": "2026-03-29"})
    assert run.state is State.SUCCEEDED, run.error
    assert (run.kind, run.deployment, run.name, run.attempt) == ("deployment", "probe", "probe", 1)
    assert dict(run.parameters) == {"text": "deployed", "n": 2, "items": ['a"b', "{}"], "day": "2026-03-29"}
    assert run.output_path == str(Path(session.settings.home) / "runs" / "probe" / f"{run.run_id}.ipynb")
    printed = json.loads("".join(json.loads(Path(run.output_path).read_text())["cells"][3]["outputs"][0]["text"]))
    assert printed == {"text": "deployed", "n": 2, "day": "2026-03-29", "items": ['a"b', "{}"],
                       "run_id": run.run_id}
    assert run.duration and run.duration > 0 and run.started_at <= run.ended_at
    assert [r.run_id for r in session.runs(deployment="probe")] == [run.run_id]
    kinds = [e.kind.value for e in session.store.events(run.run_id)]
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"


@pytest.mark.kernel
@sqlite_only
def test_a_failed_run_keeps_notebook_cell_exception_and_retries(kernel, session, notebook):
    D.deploy(notebook, name="probe", manual=True, parameters={"n": -1}, retries=1, retry_delay=0)
    run = D.trigger("probe")
    assert run.state is State.FAILED and run.attempt == 2
    assert run.error == "Cell 2 raised ValueError: n must not be negative, got -1"
    assert failure(session, run.run_id) == {"cell_index": 2, "exception": "ValueError",
                                           "message": "n must not be negative, got -1",
                                           "timed_out": False}
    assert run.failure == {"cell_index": 2, "exception": "ValueError",
                           "message": "n must not be negative, got -1"}  # on the run record
    assert run.failed_cell == 2
    assert [r.failure for r in nf_runs(deployment="probe")] == [run.failure]
    folder = Path(run.output_path).parent
    assert sorted(p.name for p in folder.glob("*.ipynb")) == sorted(
        [f"{run.run_id}.ipynb", f"{run.run_id}.attempt1.ipynb"])
    logs = [e for e in session.store.events(run.run_id) if e.kind.value == "LOG"]
    assert len(logs) == 1 and "retrying" in logs[0].data.message


@pytest.mark.kernel
@sqlite_only
def test_a_timeout_fails_the_run(kernel, session, notebook):
    D.deploy(notebook, name="slow", manual=True, parameters={"n": 30_000}, timeout=1.5)
    run = D.trigger("slow")
    assert run.state is State.FAILED and run.duration < 20
    assert "timed out after 1.5 s in cell 2" in run.error
    assert failure(session, run.run_id)["timed_out"] is True


@pytest.mark.kernel
@sqlite_only
def test_assets_materialised_in_the_report_link_to_the_deployment_run(kernel, session, report):
    D.deploy(report, name="daily-report", cron="0 6 * * *", tz="Europe/Paris",
             parameters={"region": "EU"})
    run = D.trigger("daily-report", {"region": "US", "products": '["kiwis", "figs"]',
                                     "as_of": "2026-03-29", "top_n": "1"})
    assert run.state is State.SUCCEEDED, run.error
    children = [r for r in session.runs(kind="assets") if r.parent_run_id == run.run_id]
    assert len(children) == 1 and children[0].state is State.SUCCEEDED
    last = session.store.latest_materializations(["regional_sales"])["regional_sales"]
    assert last.run_id == children[0].run_id
    assert session.store.parent_runs([last.run_id]) == {last.run_id: run.run_id}
    value = session.load("regional_sales")
    assert (value["region"], value["as_of"], sorted(value["sales"])) == ("US", "2026-03-29", ["figs", "kiwis"])


@sqlite_only
def test_deployment_runs_retry_through_the_shared_attempt_loop(session, notebook):
    """No kernel: a fake executor fails twice; every attempt's notebook and LOG event is kept."""
    from nbflow.deployments.execute import ExecutionResult
    from nbflow.deployments.runs import claim_run, execute_claimed, owner_tags

    D.deploy(notebook, name="flaky", manual=True, retries=2, retry_delay=0.25)
    dep = D.get_deployment("flaky", session=session)
    assert (dep.retry.retries, dep.retry.retry_delay, dep.retries, dep.retry_delay) == (2, 0.25, 2, 0.25)
    ds = session.store.deployments
    run_id = claim_run(session, ds, dep, 1000.0, {}, tick=False, trigger="manual")
    assert ds.take(run_id, owner=owner_tags(), limit=None)
    calls, slept = [], []

    def fake(request, cancel):  # type: ignore[no-untyped-def]
        calls.append(request)
        Path(request.output_path).parent.mkdir(parents=True, exist_ok=True)
        Path(request.output_path).write_text("{}")
        ok = len(calls) == 3
        return ExecutionResult(ok, request.output_path, 0.1, None if ok else f"Cell 1 raised E{len(calls)}",
                               None if ok else 1, None if ok else "E", None)

    run = execute_claimed(session, ds, dep, run_id, {}, execute=fake, sleep=slept.append)
    assert (run.state, run.attempt, len(calls), slept) == (State.SUCCEEDED, 3, 3, [0.25, 0.25])
    logs = [e.data for e in session.store.events(run_id) if e.kind.value == "LOG"]
    assert [(d.attempt, d.error) for d in logs] == [(1, "Cell 1 raised E1"), (2, "Cell 1 raised E2")]
    assert all("retrying in 0.25 s" in d.message for d in logs)
    folder = Path(run.output_path).parent
    assert sorted(p.name for p in folder.glob("*.ipynb")) == sorted(
        [f"{run_id}.ipynb", f"{run_id}.attempt1.ipynb", f"{run_id}.attempt2.ipynb"])
