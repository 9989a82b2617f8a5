"""dbt in-process: parse once, then ``dbt build --select ...`` with the parsed manifest reused.

dbt's programmatic runner (``dbtRunner``) runs in this process; the manifest from the last
``dbt parse`` is passed to every build, so a build of one model does not parse the project
again. :class:`Invoker` re-parses only when asked to (the project watches its files).
dbt's anonymous usage statistics and version check are turned off unless the user set them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbflow.errors import DbtError

QUIET_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DBT_VERSION_CHECK": "False"}



@dataclass(frozen=True)
class NodeResult:
    """How one dbt node ended in a build: dbt's status, message, rows and timings."""

    unique_id: str
    status: str
    message: str | None = None
    rows: int | None = None
    failures: int | None = None
    started_at: float | None = None
    completed_at: float | None = None
    execution_time: float | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("success", "pass")


def quiet_env() -> None:
    """Turn dbt's usage statistics and version check off, unless the user set them."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def _timing(result: Any) -> tuple[float | None, float | None]:
    for t in getattr(result, "timing", ()) or ():
        if t.name == "execute" and t.started_at and t.completed_at:
            return t.started_at.timestamp(), t.completed_at.timestamp()
    return None, None


def node_result(result: Any) -> NodeResult:
    response = getattr(result, "adapter_response", None) or {}
    rows = response.get("rows_affected") if isinstance(response, Mapping) else None
    started, completed = _timing(result)
    return NodeResult(
        unique_id=result.node.unique_id, status=str(getattr(result.status, "value", result.status)),
        message=result.message, rows=None if rows is None or rows < 0 else int(rows),
        failures=getattr(result, "failures", None), started_at=started, completed_at=completed,
        execution_time=getattr(result, "execution_time", None))


def release_duckdb() -> None:
    """Close dbt-duckdb's cached database handle, so the file is free between dbt runs.

    dbt-duckdb keeps one handle per process after a run; while it is open another process
    (a second kernel, the CLI) cannot open the file. It is opened again by the next run.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager
    except ImportError:
        return
    with manager._LOCK:
        env, manager._ENV = manager._ENV, None
    if env is not None:
        try:
            env.close()
        except Exception:  # noqa: BLE001, S110 - already closed: nothing to release
            pass


class Invoker:
    """One dbt project's runner: its directories, target, the parsed manifest, one build at a time."""

    def __init__(self, project_dir: Path, profiles_dir: Path | None, target: str | None,
                 vars: Mapping[str, Any] | None = None) -> None:
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.target = target
        self.vars = dict(vars or {})
        self.manifest: Any = None
        self.lock = threading.RLock()  # dbt keeps global state: one invocation at a time

    def _args(self, command: Sequence[str], extra: Mapping[str, Any] | None = None) -> list[str]:
        args = [*command, "--project-dir", str(self.project_dir), "--quiet",
                "--log-level-file", "none"]
        if self.profiles_dir is not None:
            args += ["--profiles-dir", str(self.profiles_dir)]
        if self.target:
            args += ["--target", self.target]
        merged = {**self.vars, **(extra or {})}
        if merged:
            args += ["--vars", json.dumps(merged)]
        return args

    def _invoke(self, command: Sequence[str], callbacks: Sequence[Callable[[Any], None]] = (),
                vars: Mapping[str, Any] | None = None) -> Any:
        quiet_env()
        from dbt.cli.main import dbtRunner

        with self.lock:
            runner = dbtRunner(manifest=self.manifest, callbacks=list(callbacks))
            try:
                return runner.invoke(self._args(command, vars))
            finally:
                release_duckdb()

    def parse(self) -> dict[str, Any]:
        """Parse the project (dbt's partial parsing applies); the manifest as JSON data."""
        with self.lock:
            self.manifest = None
            res = self._invoke(["parse"])
            if not res.success or res.result is None:
                raise DbtError(f"dbt could not parse the project in {str(self.project_dir)!r}: "
                               f"{res.exception or 'see the messages above'}; fix it and load "
                               "it again.")
            self.manifest = res.result
            return dict(self.manifest.writable_manifest().to_dict(omit_none=True))

    def database_path(self) -> str | None:
        """The profile's DuckDB file as an absolute path (``None`` for other adapters)."""
        if self.manifest is None:
            return None
        try:
            from dbt.adapters.factory import get_adapter_by_type

            credentials = get_adapter_by_type("duckdb").config.credentials
        except Exception:  # noqa: BLE001 - not a dbt-duckdb project
            return None
        path = getattr(credentials, "path", None)
        if not path or path == ":memory:" or "://" in path:
            return path or None
        return os.path.abspath(path)

    def build(self, select: Sequence[str], callbacks: Sequence[Callable[[Any], None]] = (),
              vars: Mapping[str, Any] | None = None) -> dict[str, NodeResult]:
        """``dbt build --select <select>``; each node's result by unique id.

        ``vars`` are added to the project's own for this build (``--vars``): a partition's
        window. The parsed manifest is still reused, since dbt renders ``var()`` when it
        compiles, not when it parses.
        """
        with self.lock:
            if self.manifest is None:
                self.parse()
            res = self._invoke(["build", "--select", *select, "--no-write-json"], callbacks, vars)
        results = getattr(res.result, "results", None)
        if results is None:
            raise DbtError(f"dbt build --select {' '.join(select)} did not run: "
                           f"{res.exception or 'see the messages above'}.")
        return {r.node.unique_id: node_result(r) for r in results}
