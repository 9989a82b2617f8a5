"""``nbflow backfill SELECTION --partitions ...``, ``nbflow backfills`` and ``nbflow backfill
show|cancel|resume ID`` (CliRunner) on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nbflow.cli.main import cli
from nbflow.core import registry as registries

PIPELINE = textwrap.dedent("""
    import nbflow as nf

    daily = nf.DailyPartitions(start="2026-01-01")

    @nf.asset(partitions=daily)
    def raw():
        return nf.context().partition_key.day

    @nf.asset(partitions=daily)
    def clean(raw):
        if raw == 13:
            raise ValueError("unlucky day")
        return raw * 2
""")


@pytest.fixture(autouse=True)
def definitions_land_in_the_session(session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``-f FILE.py`` registers into the default registry: make it the session's (its own)."""
    monkeypatch.setattr(registries, "_default", session.registry)


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


def test_dry_run_run_list_show_and_resume(session: Any, tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.py"
    pipeline.write_text(PIPELINE)
    plan = run("backfill", "raw+", "--partitions", "2026-01-10...2026-01-15", "-f", str(pipeline), "--dry-run")
    assert "12 step(s) in 6 runs (per_partition)" in plan and "run 1: raw, clean for 2026-01-10" in plan
    assert run("backfills").startswith("No backfills yet")

    out = run("backfill", "raw+", "--partitions", "2026-01-10...2026-01-15", "-f", str(pipeline), code=1)
    backfill_id = re.search(r"backfill (\w+): FAILED", out).group(1)
    assert "(1 failed, 11 succeeded)" in out and "1 of 12 step(s) did not succeed" in out
    listed = run("backfills")
    assert backfill_id in listed and "FAILED" in listed and "11/12" in listed
    shown = run("backfill", "show", backfill_id)
    assert "partitions 2026-01-10...2026-01-15" in shown
    assert re.search(r"clean\s+│\s+FAILED\s+│\s+1\s+│\s+2026-01-13", shown), shown
    assert "6 run(s):" in shown

    # still failing on resume: the same backfill, the same one step fails again
    again = run("backfill", "resume", backfill_id, "-f", str(pipeline), code=1)
    assert f"backfill {backfill_id}: FAILED (1 failed, 11 succeeded)" in again
    assert len(session.store.backfills.recent()) == 1
    assert run("backfill", "cancel", backfill_id, code=1).count("has ended (FAILED)") == 1


def test_submit_then_cancel_before_any_daemon_runs_it(session: Any, tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.py"
    pipeline.write_text(PIPELINE)
    out = run("backfill", "raw", "--partitions", "2026-02-01...2026-02-28", "-f", str(pipeline), "--submit")
    backfill_id = re.search(r"backfill (\w+): 28 step\(s\) in 28 run\(s\) submitted", out).group(1)
    assert "CANCELLED" in run("backfill", "cancel", backfill_id)
    assert session.store.backfills.counts(backfill_id) == {"CANCELLED": 28}
    assert "28 step(s) to run again, submitted" in run("backfill", "resume", backfill_id, "--submit")
    assert session.store.backfills.get(backfill_id).state == "REQUESTED"


def test_bad_input_is_one_line_and_exit_2(session: Any, tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.py"
    pipeline.write_text(PIPELINE)
    assert "There is no backfill 'nope'" in run("backfill", "show", "nope", code=2)
    assert "-f FILE.py or -m MODULE" in run("backfill", "raw", "--partitions", "*", code=2)
    assert "Missing option '--partitions'" in run("backfill", "raw", "-f", str(pipeline), code=2)
    out = run("backfill", "raw", "--partitions", "2026-1-5", "-f", str(pipeline), code=2)
    assert "2026-1-5" in out and "Traceback" not in out
    assert "'sometimes' is not one of" in run("backfill", "raw", "--partitions", "*", "-f", str(pipeline),
                                              "--policy", "sometimes", code=2)
