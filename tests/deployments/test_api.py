"""The Python surface of deployments: ``nbflow.deploy(...)`` is a plain function however it is reached."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import nbflow, sys, types
{before}
assert isinstance(nbflow.deploy, types.FunctionType), type(nbflow.deploy)
dep = nbflow.deploy({nb!r}, name="api", every="1h", parameters={{"n": 2}})
print(type(dep).__name__, dep.name, dep.parameters["n"], dep.schedule.describe())
"""


@pytest.mark.parametrize("before", [
    "",
    "import nbflow.deployments.service, nbflow.deployments.runs",
    "import nbflow.automation.daemon",
    "from nbflow.deployments import service",
])
def test_nbflow_deploy_is_a_function_before_and_after_submodule_imports(notebook, home, before):
    out = subprocess.run([sys.executable, "-c", CODE.format(before=before, nb=str(notebook))],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Deployment api 2 every hour"]


def test_importing_the_deployments_package_loads_nothing_heavy():
    code = ("import sys, nbflow.deployments\n"
            "print(','.join(m for m in ('papermill', 'sqlalchemy', 'croniter', 'nbformat', 'distributed')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
