"""binder/ installs every package the example notebooks import (and Graphviz for the panel)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+")


def _dist(requirement: str) -> str:
    match = _NAME.match(requirement.strip())
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def notebook_imports(path: Path) -> set[str]:
    """Top-level modules a notebook imports (``%load_ext x`` counts as importing x)."""
    found: set[str] = set()
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = []
        for line in cell.source.splitlines():
            if line.startswith("%load_ext"):
                found.add(line.split()[1].split(".")[0])
            lines.append("" if line.lstrip().startswith(("%", "!")) else line)
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def binder_packages() -> set[str]:
    """Distributions the Binder image gets: conda + pip entries, and what postBuild installs."""
    env = yaml.safe_load((BINDER / "environment.yml").read_text())
    names: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names.update(_dist(d) for d in dep.get("pip", []))
        else:
            names.add(_dist(dep.split("=")[0].split(">")[0].split("<")[0]))
    post = (BINDER / "postBuild").read_text()
    installs = re.search(r"pip install[^\n]*\"\.\[([a-z,]+)\]\"", post)
    assert installs, "postBuild must pip install the project with its extras"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names.add(_dist(project["name"]))
    reqs = list(project["dependencies"])
    for extra in installs.group(1).split(","):
        reqs += project["optional-dependencies"][extra]
    names.update(_dist(r) for r in reqs)
    return names


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_binder_installs_every_import_of(path: Path) -> None:
    dists = packages_distributions()
    provided = binder_packages()
    missing = []
    for module in sorted(notebook_imports(path)):
        if module in sys.stdlib_module_names:
            continue
        candidates = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if module == "nbflow":
            candidates = {"nbflow-kit"}
        if not candidates & provided:
            missing.append(f"{module} (from {sorted(candidates)})")
    assert missing == [], f"binder/ does not install: {missing}"


def test_binder_has_graphviz_and_an_executable_postbuild() -> None:
    assert "graphviz" in binder_packages()
    env = yaml.safe_load((BINDER / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    assert (BINDER / "postBuild").stat().st_mode & 0o111


def test_import_scan_sees_imports_and_extensions(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "%load_ext nbflow\nimport pandas as pd\nfrom sklearn.linear_model import X\n!pip list")])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert notebook_imports(path) == {"nbflow", "pandas", "sklearn"}
