"""Fixtures for automation tests: the deployment fixtures (notebooks, the fake executor, the
kernel), shared from tests/deployments/conftest.py rather than copied."""

from __future__ import annotations

from tests.deployments.conftest import FakeExecute, kernel, notebook, write_notebook

__all__ = ["FakeExecute", "kernel", "notebook", "write_notebook"]
