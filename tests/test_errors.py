"""The error tree: every exception class nbflow defines lives in nbflow/errors.py and is drawn
in its docstring; NotFoundError carries kind, name and suggestion."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from nbflow import errors

ROOT = Path(errors.__file__).parent


def _classes() -> list[type[BaseException]]:
    return [c for _, c in inspect.getmembers(errors, inspect.isclass)
            if issubclass(c, BaseException) and c.__module__ == "nbflow.errors"]


def test_every_exception_is_drawn_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    missing = [c.__name__ for c in _classes() if c is not errors.NbflowWarning and c.__name__ not in doc]
    assert missing == []


def test_no_exception_class_is_defined_outside_errors_py() -> None:
    """Public exceptions live in errors.py (private control-flow ones, named _X, may stay local)."""
    outside = []
    for path in ROOT.rglob("*.py"):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if any(b.endswith(("Error", "Exception", "Timeout")) or b == "UnhashableInput"
                       for b in bases) or node.name.endswith(("Error", "Timeout")):
                    outside.append(f"{path.relative_to(ROOT)}:{node.name}")
    allowed = {"engine/assets.py:StepFailure"}  # a worker's message + traceback in transit
    assert set(outside) <= allowed, sorted(set(outside) - allowed)


@pytest.mark.parametrize(("cls", "bases"), [
    (errors.UnknownAssetError, (errors.DefinitionError, errors.NotFoundError)),
    (errors.UnknownDeploymentError, (errors.DeploymentError, errors.NotFoundError)),
    (errors.StoreUrlError, (errors.StoreError, errors.SettingsError)),
    (errors.TaskTimeout, (errors.TaskError, TimeoutError)),
    (errors.UnhashableInput, (errors.NbflowError, TypeError)),
    (errors.LayoutError, (errors.NbflowError,)),
    (errors.CellError, (errors.NbflowError,)),
    (errors.UserCodeError, (errors.DefinitionError,)),
])
def test_the_tree(cls: type, bases: tuple[type, ...]) -> None:
    assert all(issubclass(cls, b) for b in bases)
    assert issubclass(cls, errors.NbflowError)


@pytest.mark.parametrize(("exc", "kind", "name", "suggestion"), [
    (errors.NotFoundError("There is no run 'x'.", kind="run", name="x"), "run", "x", None),
    (errors.NotFoundError("No backfill 'b1'.", kind="backfill", name="b1", suggestion="b2"), "backfill", "b1", "b2"),
    (errors.UnknownAssetError("No asset 'ordrs'.", name="ordrs", suggestion="orders"), "asset", "ordrs", "orders"),
    (errors.UnknownDeploymentError("No deployment 'd'.", name="d"), "deployment", "d", None),
])
def test_not_found_fields(exc: errors.NotFoundError, kind: str, name: str, suggestion: str | None) -> None:
    assert (exc.kind, exc.name, exc.suggestion) == (kind, name, suggestion)
    assert str(exc).endswith(".")


def test_moved_errors_are_still_importable_where_they_were() -> None:
    from nbflow.engine.caching import UnhashableInput
    from nbflow.engine.retry import TaskTimeout
    from nbflow.notebook.cell_assets import CellError
    from nbflow.widget.layout import LayoutError

    assert (UnhashableInput, TaskTimeout, CellError, LayoutError) == (
        errors.UnhashableInput, errors.TaskTimeout, errors.CellError, errors.LayoutError)


def test_lookups_raise_not_found(session: object) -> None:
    from nbflow.deployments.service import get_deployment

    s = session
    with pytest.raises(errors.NotFoundError) as run:
        s.get_run("nope")  # type: ignore[attr-defined]
    assert (run.value.kind, run.value.name) == ("run", "nope")
    with pytest.raises(errors.NotFoundError) as dep:
        get_deployment("nothing", session=s)  # type: ignore[arg-type]
    assert (dep.value.kind, dep.value.name) == ("deployment", "nothing")
    with pytest.raises(errors.NotFoundError) as asset:
        s.load("nothing")  # type: ignore[attr-defined]
    assert (asset.value.kind, asset.value.name) == ("asset", "nothing")


@pytest.mark.parametrize(("env", "setting"), [
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "soon"}, "NBFLOW_HEARTBEAT_TIMEOUT"),
    ({"NBFLOW_HEARTBEAT_INTERVAL": "1e999999x"}, "NBFLOW_HEARTBEAT_INTERVAL"),
])
def test_a_bad_setting_is_a_settings_error(env: dict[str, str], setting: str) -> None:
    from nbflow.settings import Settings

    with pytest.raises(errors.SettingsError) as info:
        Settings.resolve(env)
    assert info.value.setting == setting and setting in str(info.value)
