"""The CLI: commands, output, exit codes (0 ok, 1 run failed, 2 usage error), python -m nbflow."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Each test runs `python -m nbflow` as its own process (a second or more apiece): the full run
# has them; the fast loop tests the commands in-process (CliRunner) in the other files.
pytestmark = [pytest.mark.slow]

PIPELINE = textwrap.dedent('''
    import nbflow as nf

    @nf.asset(group="sales", tags={"owner": "ann"})
    def raw():
        """Raw numbers."""
        return [1, 2, 3]

    @nf.asset
    def doubled(raw):
        return [x * 2 for x in raw]

    @nf.asset
    def broken(doubled):
        raise ValueError("bad input row 7")
''')


def nbflow(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("NBFLOW_")}
    env.update(NBFLOW_HOME=str(home), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "nbflow", *args], capture_output=True, text=True, check=False,
                          env=env, cwd=cwd, timeout=120)


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.py"
    path.write_text(PIPELINE)
    return path


def test_materialize_summary_and_exit_codes(pipeline: Path, home: Path) -> None:
    ok = nbflow("materialize", "+doubled", "-f", str(pipeline), home=home)
    assert ok.returncode == 0, ok.stderr
    assert "SUCCEEDED" in ok.stdout and "doubled" in ok.stdout
    failed = nbflow("materialize", "*", "-f", str(pipeline), home=home)
    assert failed.returncode == 1
    assert "bad input row 7" in failed.stdout and "FAILED" in failed.stdout
    assert "raise ValueError" in failed.stdout  # the user's traceback is shown once
    cached = nbflow("materialize", "raw", "-f", str(pipeline), home=home)
    assert cached.returncode == 0 and "CACHED" in cached.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["materialize", "dubled"], "Did you mean 'doubled'"),
    (["materialize", "raw and ("], "syntax error at position"),
    (["materialize", "group:nothing"], "group"),
])
def test_usage_errors_exit_2_with_one_line(pipeline: Path, home: Path, args: list[str], message: str) -> None:
    out = nbflow(*args, "-f", str(pipeline), home=home)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_missing_definitions_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    out = nbflow("materialize", "*", home=home)
    assert out.returncode == 2 and "-f FILE.py" in out.stderr
    out = nbflow("materialize", "*", "-f", str(tmp_path / "nope.py"), home=home)
    assert out.returncode == 2 and "No such file" in out.stderr


def test_status_assets_runs_and_run_show(pipeline: Path, home: Path) -> None:
    nbflow("materialize", "*", "-f", str(pipeline), home=home)
    status = nbflow("status", "-f", str(pipeline), home=home)
    assert status.returncode == 0
    lines = {line.split()[1]: line for line in status.stdout.splitlines() if line.startswith("│")}
    assert "fresh" in lines["raw"] and "failed" in lines["broken"]
    assets = nbflow("assets", "-f", str(pipeline), home=home)
    assert "sales" in assets.stdout and "owner=ann" in assets.stdout and "Raw numbers." in assets.stdout
    runs = nbflow("runs", home=home)
    assert runs.returncode == 0 and "FAILED" in runs.stdout
    run_id = next(line.split()[1] for line in runs.stdout.splitlines() if "FAILED" in line)
    show = nbflow("run", "show", run_id[:8], home=home)
    assert show.returncode == 0
    assert "broken" in show.stdout and "ValueError: bad input row 7" in show.stdout
    assert "SKIPPED" not in show.stdout or "broken" in show.stdout
    missing = nbflow("run", "show", "zzzz", home=home)
    assert missing.returncode == 2 and "no run" in missing.stderr


def test_help_lists_every_command(home: Path) -> None:
    out = nbflow("--help", home=home)
    for command in ("materialize", "status", "assets", "runs", "run"):
        assert command in out.stdout


def test_unreachable_store_is_one_line(home: Path, tmp_path: Path) -> None:
    import os

    bad = tmp_path / "not-a-db.db"
    bad.write_text("hello, I am a text file" * 50)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBFLOW_")}
    env.update(NBFLOW_HOME=str(home), NBFLOW_DATABASE_URL=f"sqlite:///{bad}")
    out = subprocess.run([sys.executable, "-m", "nbflow", "runs"], capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert "not a database" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_run_show_lists_runs_started_inside_a_run(home: Path, pipeline: Path) -> None:
    import os

    env_run = "parent0123456789"
    from nbflow.core.events import Event, EventKind, RunStarted
    from nbflow.core.states import State
    from nbflow.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{home / 'nbflow.db'}")
    store.record(Event(EventKind.RUN_STARTED, env_run, data=RunStarted(kind="deployment", name="report",
                                                              deployment="report")))
    store.record(Event(EventKind.RUN_FINISHED, env_run, state=State.SUCCEEDED))
    store.close()
    out = subprocess.run([sys.executable, "-m", "nbflow", "materialize", "+doubled", "-f", str(pipeline)],
                         capture_output=True, text=True,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("NBFLOW_")},
                              "NBFLOW_HOME": str(home), "NBFLOW_RUN_ID": env_run, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    show = nbflow("run", "show", env_run, home=home)
    assert "runs started inside it" in show.stdout
    assert "doubled SUCCEEDED" in show.stdout and "raw SUCCEEDED" in show.stdout
    runs = nbflow("runs", home=home)
    assert "in report" in runs.stdout
