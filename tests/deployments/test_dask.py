"""--executor dask://HOST:PORT: the notebook runs on a worker of a real Dask LocalCluster."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nbflow.core.states import State
from nbflow.deployments import service as D

from .conftest import write_notebook

pytestmark = [pytest.mark.dask, pytest.mark.kernel, pytest.mark.slow,
              pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)]


@pytest.fixture
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                      dashboard_address=None) as lc, Client(lc) as client:
        yield lc, client


def test_a_deployment_runs_its_notebook_on_a_dask_worker(kernel, session, tmp_path, cluster):
    lc, client = cluster
    worker_pids = set(client.run(os.getpid).values())
    nb = write_notebook(tmp_path / "where.ipynb", [
        ("region = 'EU'", ["parameters"]),
        (("import json, os\nprint(json.dumps({'parent': os.getppid(), 'region': region, "
          "'run': os.environ['NBFLOW_RUN_ID']}))"), []),
    ])
    address = "dask://" + lc.scheduler_address.removeprefix("tcp://")
    D.deploy(nb, name="remote", manual=True, executor=address)
    run = D.trigger("remote", {"region": "a'b\"c"})
    assert run.state is State.SUCCEEDED, run.error
    text = "".join(json.loads(Path(run.output_path).read_text())["cells"][2]["outputs"][0]["text"])
    printed = json.loads(text)
    assert printed == {"parent": printed["parent"], "region": "a'b\"c", "run": run.run_id}
    assert printed["parent"] in worker_pids


def test_an_unreachable_dask_scheduler_fails_the_run_with_a_clear_error(session, notebook, monkeypatch):
    monkeypatch.setattr("nbflow.deployments.runs.DASK_CONNECT_TIMEOUT", 1.0)
    D.deploy(notebook, name="remote", manual=True, executor="dask://127.0.0.1:9")
    run = D.trigger("remote")
    assert run.state is State.FAILED
    assert run.error.startswith("The notebook could not be started:")
    assert "127.0.0.1:9" in run.error
