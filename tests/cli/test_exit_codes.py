"""Exit codes through click's CliRunner: 0 success, 1 a run failed, 2 usage error or not found
(one clean line naming the thing, no traceback)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nbflow.cli.main import cli

PIPELINE = textwrap.dedent('''
    import nbflow as nf

    @nf.asset
    def raw():
        return [1, 2, 3]

    @nf.asset
    def broken(raw):
        raise ValueError("bad row")
''')

RAISES_AT_IMPORT = textwrap.dedent('''
    import nbflow as nf

    def helper():
        raise RuntimeError("user boom at import")

    helper()
''')


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def one_clean_line(result: Result) -> str:
    """The single error line on stderr (no traceback, nothing else)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def session(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A session on SQLite under ``home`` whose registry is a fresh default registry (the one
    ``-f FILE.py`` defines assets in), installed as the default session."""
    import nbflow.core.registry as registry_module
    from nbflow.core.registry import Registry
    from nbflow.session import Session, set_session
    from nbflow.settings import Settings

    registry = Registry()
    monkeypatch.setattr(registry_module, "_default", registry)
    s = Session(Settings.resolve(home=home), registry)
    old = set_session(s)
    try:
        yield s
    finally:
        set_session(old)
        s.close()


@pytest.fixture
def pipeline(tmp_path: Path, session: object) -> Path:
    path = tmp_path / "pipeline_exit.py"
    path.write_text(PIPELINE)
    return path


def test_success_is_0_and_a_failed_run_is_1(pipeline: Path, session: object) -> None:
    ok = invoke("materialize", "raw", "-f", str(pipeline))
    assert ok.exit_code == 0, ok.output
    assert "SUCCEEDED" in ok.stdout
    failed = invoke("materialize", "*", "-f", str(pipeline))
    assert failed.exit_code == 1
    assert "bad row" in failed.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "show", "nope"], "There is no run 'nope'"),
    (["deployment", "show", "nothing"], "There is no deployment 'nothing'"),
    (["trigger", "nothing"], "There is no deployment 'nothing'"),
    (["deployment", "pause", "nothing"], "There is no deployment 'nothing'"),
    (["deployment", "delete", "nothing"], "There is no deployment 'nothing'"),
])
def test_not_found_is_2_with_one_line(session: object, args: list[str], expected: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert expected in one_clean_line(result)


def test_not_found_names_the_closest_match(session: object, tmp_path: Path) -> None:
    from nbflow.deployments.service import deploy

    nb = tmp_path / "report.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    deploy(nb, name="daily-report", manual=True)
    result = invoke("deployment", "show", "daily-reprot")
    assert result.exit_code == 2
    assert "Did you mean 'daily-report'?" in one_clean_line(result)


def test_an_unknown_asset_is_2_with_the_closest_match(pipeline: Path) -> None:
    result = invoke("materialize", "rwa", "-f", str(pipeline))
    assert result.exit_code == 2
    assert "Did you mean 'raw'?" in one_clean_line(result)


@pytest.mark.parametrize(("args", "expected"), [
    (["runs", "--state", "BOGUS"], "state 'BOGUS' is unknown; use one of PENDING, RUNNING"),
    (["materialize", "raw", "-f", "{pipeline}", "--max-workers", "0", "--executor", "threads"],
     "'--max-workers': 0 is not in the range x>=1"),
    (["materialize", "raw", "-f", "{pipeline}", "--executor", "thread"],
     "There is no executor named 'thread'"),
    (["limit", "db", "0"], "must be a whole number >= 1"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
    (["materialize", "*"], "-f FILE.py or -m MODULE"),
])
def test_usage_errors_are_2_with_one_line(pipeline: Path, args: list[str], expected: str) -> None:
    result = invoke(*[a.replace("{pipeline}", str(pipeline)) for a in args])
    assert result.exit_code == 2
    assert expected in one_clean_line(result)


def _notebook(tmp_path: Path, cells: object, name: str = "nb.ipynb") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return str(path)


@pytest.mark.parametrize(("args", "expected"), [
    (["deploy", "{nb}", "--every", "1h", "--max-concurrency", "0"], "max_concurrency must be a whole number"),
    (["deploy", "{nb}", "--every", "1h", "--retries", "-1"], "retries must be a whole number"),
    (["deploy", "{nb}", "--every", "1h", "--name", "a/b"], "name 'a/b' is not valid"),
    (["deploy", "{nb}", "--every", "1h", "--kernel", "no-such-kernel-xyz"], "Kernel 'no-such-kernel-xyz' is not installed"),
    (["deploy", "{missing}", "--every", "1h"], "does not exist"),
    (["deploy", "{bad}", "--every", "1h"], "cell 0 is not an object"),
])
def test_deployment_errors_are_2_with_one_line(session: object, tmp_path: Path, args: list[str],
                                               expected: str) -> None:
    files = {"{nb}": _notebook(tmp_path, []), "{bad}": _notebook(tmp_path, [1, "x"], "bad.ipynb"),
             "{missing}": str(tmp_path / "missing.ipynb")}
    result = invoke(*[files.get(a, a) for a in args])
    assert result.exit_code == 2
    assert expected in one_clean_line(result)


@pytest.mark.parametrize(("env", "expected"), [
    ({"NBFLOW_HEARTBEAT_TIMEOUT": "soon"}, "NBFLOW_HEARTBEAT_TIMEOUT='soon' is not valid; set it to a number"),
    ({"NBFLOW_HEARTBEAT_INTERVAL": "often"}, "NBFLOW_HEARTBEAT_INTERVAL='often' is not valid"),
    ({"NBFLOW_DATABASE_URL": "postgresql+psycopg://u:pw@db:abc/x"}, "the port must be a number"),
    ({"NBFLOW_DATABASE_URL": "mysql+mysqldb://u@h/db"},
     "uses mysql+mysqldb, which nbflow does not support; nbflow supports SQLite"),
    ({"NBFLOW_DATABASE_URL": "postgresql+asyncpg://u@h/db"}, "PostgreSQL via psycopg"),
    ({"NBFLOW_DATABASE_URL": "nosuchdialect://x/y"}, "not a valid SQLAlchemy URL"),
])
def test_bad_settings_are_2_with_one_line(home: Path, env: dict[str, str], expected: str) -> None:
    from nbflow.session import set_session

    old = set_session(None)  # the command resolves settings from the environment
    try:
        result = invoke("runs", env=env)
    finally:
        set_session(old)
    assert result.exit_code == 2
    line = one_clean_line(result)
    assert expected in line and "pw" not in line


def test_a_broken_store_is_still_1(home: Path, tmp_path: Path) -> None:
    from nbflow.session import set_session

    junk = tmp_path / "junk.db"
    junk.write_text("not a database" * 100)
    old = set_session(None)
    try:
        result = invoke("runs", env={"NBFLOW_DATABASE_URL": f"sqlite:///{junk}"})
    finally:
        set_session(old)
    assert result.exit_code == 1
    assert "is not a database" in one_clean_line(result)


@pytest.mark.parametrize("how", ["file", "module"])
def test_a_module_raising_at_import_shows_the_users_traceback(
        session: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    (tmp_path / "raising_defs.py").write_text(RAISES_AT_IMPORT)
    monkeypatch.chdir(tmp_path)
    args = ["-f", str(tmp_path / "raising_defs.py")] if how == "file" else ["-m", "raising_defs"]
    result = invoke("materialize", "*", *args)
    assert result.exit_code == 2
    err = result.stderr
    assert err.count("Traceback (most recent call last):") == 1
    assert 'raise RuntimeError("user boom at import")' in err and "in helper" in err
    assert "nbflow/cli" not in err and "runpy" not in err and "importlib" not in err
    assert err.strip().splitlines()[-1] == (
        f"Error: {'raising_defs' if how == 'module' else str(tmp_path / 'raising_defs.py')} raised "
        "RuntimeError while nbflow imported it (user boom at import); fix the error shown in the "
        "traceback above.")
