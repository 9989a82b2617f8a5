"""A dbt project as nbflow assets: ``dbt_project(path)`` loads, registers and refreshes it.

Every model, seed and snapshot becomes an asset (kind ``dbt``, ``io="duckdb"``), every
source an external asset (unless an nbflow asset of that name is defined: then that asset,
say a notebook cell that loads the raw table, is the source), every test a check of the
node it tests. Code versions are dbt's checksum plus config (``manifest.code_version``).
The project watches its files: the registry asks before every graph read, and a changed file
re-parses the project (dbt's partial parsing) and registers the new versions, so an edited
model and its downstream show as stale. How builds run: see ``steps``; partitioned models
and the vars their windows give dbt: see ``partitions``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbflow.core.specs import AssetSpec, check, make_asset
from nbflow.engine.context import context
from nbflow.engine.partitioned import split_step
from nbflow.errors import DbtError, DbtNodeFailed, DefinitionError, IOManagerError
from nbflow.integrations.dbt import duckdb_io
from nbflow.integrations.dbt.duckdb_io import Relation
from nbflow.integrations.dbt.manifest import Node, read_nodes
from nbflow.integrations.dbt.partitions import as_definition, partition_vars, partitioned_models
from nbflow.integrations.dbt.runner import Invoker
from nbflow.integrations.dbt.steps import (
    DbtStep,
    RunTracker,
    SourceStep,
    TestCheck,
    plan_batch,
    set_results,
)

if TYPE_CHECKING:
    from nbflow.session import Session

VALUES = ("dataframe", "relation")
_WATCHED = ("model-paths", "seed-paths", "snapshot-paths", "test-paths", "macro-paths")


class DbtProject:
    """One dbt project registered in a session: its nodes, runner and file watch."""

    def __init__(self, project_dir: str | os.PathLike[str], *, session: Session,
                 profiles_dir: str | os.PathLike[str] | None = None, target: str | None = None,
                 database: str | None = None, values: str = "dataframe",
                 vars: Mapping[str, Any] | None = None, watch: bool = True,
                 manifest: Mapping[str, Any] | None = None, partitions: Any = None,
                 partitioned: str | Iterable[str] | None = None) -> None:
        self.dir = Path(project_dir).resolve()
        if not (self.dir / "dbt_project.yml").is_file():
            raise DefinitionError(f"There is no dbt_project.yml in {str(self.dir)!r}; pass the "
                                  "folder that holds the dbt project.")
        if values not in VALUES:
            raise DefinitionError(f"values={values!r} is not one of {', '.join(VALUES)}.")
        self.session = session
        self.registry = session.registry
        self.values = values
        self.partitions = as_definition(partitions)
        self.partitioned = partitioned
        self._partitioned: set[str] = set()
        profiles = Path(profiles_dir).resolve() if profiles_dir is not None else (
            self.dir if (self.dir / "profiles.yml").is_file() else None)
        self.invoker = Invoker(self.dir, profiles, target, vars)
        self._database = database
        self.nodes: dict[str, Node] = {}
        self.tracker = RunTracker()
        self._unsubscribe = session.hooks.subscribe(self.tracker)
        self._lock = threading.RLock()
        self._stamp: tuple[tuple[str, int], ...] = ()
        self._checking = False
        if manifest is None:
            self.parse()
        else:  # already parsed (target/manifest.json): dbt parses again on the first build
            if database is None:
                raise DefinitionError("A dbt project loaded from a manifest needs database=PATH "
                                      "(its DuckDB file).")
            self.load_manifest(manifest)
            self._stamp = self._files()
        if watch:
            self.registry.watch(self.refresh)

    # ------------------------------------------------------------------ loading
    def parse(self) -> None:
        """Parse the project with dbt and register its nodes."""
        with self._lock:
            stamp = self._files()
            self.load_manifest(self.invoker.parse())
            self._stamp = stamp

    def load_manifest(self, manifest: Mapping[str, Any]) -> list[str]:
        """Register the nodes of a parsed manifest (JSON data); the asset names."""
        project = (manifest.get("metadata") or {}).get("project_name")
        nodes = read_nodes(manifest, project)
        database = self._database or _database_path(self.invoker)
        self._partitioned = partitioned_models(nodes, self.partitions, self.partitioned,
                                               str(project or self.dir))
        old = set(self.nodes)
        self.nodes = {}
        for node in nodes:
            mine = self.registry.get(node.name)
            if node.resource_type == "source" and mine is not None and mine.kind != "dbt_source":
                self.nodes[node.name] = node  # an nbflow asset of that name is the source
                continue
            spec = self._spec(node)
            self.nodes[node.name] = node
            duckdb_io.bind(node.name, Relation(database, node.schema, node.identifier),
                           _values(node, self.values))
            self.registry.add(spec)
        for gone in old - set(self.nodes):
            was = self.registry.get(gone)
            if was is not None and was.kind in ("dbt", "dbt_source"):
                self.registry.remove(gone)
        return list(self.nodes)

    def _spec(self, node: Node) -> AssetSpec:
        checks = [check(TestCheck(t.unique_id, t.name), name=t.name, severity=t.severity,
                        description=t.description) for t in node.tests]
        source = node.resource_type == "source"
        fn = SourceStep(self, node.name) if source else DbtStep(self, node.name)
        meta = {"dbt_unique_id": node.unique_id, "dbt_resource_type": node.resource_type,
                "relation": f"{node.schema}.{node.identifier}", **dict(node.meta)}
        if node.path:
            meta["dbt_path"] = node.path
        return make_asset(
            fn, name=node.name, deps=node.parents, group=node.group,
            tags={t: "" for t in node.tags}, metadata=meta,
            code_version=node.code_version or None, io="duckdb",
            description=node.description or f"dbt {node.resource_type} {node.dbt_name}",
            checks=checks, kind="dbt_source" if source else "dbt",
            kinds=("dbt", "duckdb", *((node.materialized,) if node.materialized else ())),
            partitions=self.partitions if node.name in self._partitioned else None)

    # ------------------------------------------------------------------ watching
    def _files(self) -> tuple[tuple[str, int], ...]:
        out = [("dbt_project.yml", _mtime(self.dir / "dbt_project.yml"))]
        for sub in _paths(self.dir):
            for root, _dirs, files in os.walk(self.dir / sub):
                for f in files:
                    if f.endswith((".sql", ".yml", ".yaml", ".csv", ".py")):
                        p = os.path.join(root, f)
                        out.append((p, _mtime(Path(p))))
        return tuple(sorted(out))

    def refresh(self) -> bool:
        """Re-parse when a project file changed since the last parse; whether it did."""
        if self._checking:
            return False
        with self._lock:
            self._checking = True
            try:
                if self._files() == self._stamp:
                    return False
                self.parse()
                return True
            finally:
                self._checking = False

    # ------------------------------------------------------------------ running
    def _is_dbt(self, name: str) -> bool:
        node = self.nodes.get(name)
        spec = self.registry.get(name)
        return node is not None and node.resource_type != "source" and spec is not None \
            and spec.kind == "dbt"

    def _partition_of(self, name: str) -> tuple[str, str | None, dict[str, str]]:
        """The step running ``name`` on this thread, its partition key and that key's vars."""
        ctx = context()
        if ctx.asset != name or ctx.step is None:
            if name in self._partitioned:
                raise DbtError(f"dbt model {name!r} is partitioned; materialise it with "
                               "partition=KEY or partitions=SELECTION.")
            return name, None, {}
        step, part = ctx.step, split_step(ctx.step)[1]
        if part is None:
            return step, None, {}
        return step, part, partition_vars(part, ctx.partition_time_window)

    def run_step(self, name: str) -> Any:
        """Build ``name`` (with its batch, once per run; one partition) and return its value."""
        step, part, vars = self._partition_of(name)
        info = self.tracker.run_of(step)
        node = self.nodes[name]
        with self.invoker.lock:
            results = info.results_of(part) if info is not None else {}
            if info is None or step not in info.built:
                graph = self.registry.graph()
                batch = plan_batch(step, info, graph, self._is_dbt)
                select = [self.nodes[split_step(n)[0]].dbt_name for n in batch]
                self._check_lock()
                try:
                    results.update(self.invoker.build(select, vars=vars) if vars
                                   else self.invoker.build(select))
                except DbtError as exc:
                    message = duckdb_io.translate(self._path(), exc)
                    raise DbtError(message) if message else exc
                if info is not None:
                    info.built.update(batch)
        r = results.get(node.unique_id)
        set_results(results)
        if r is None:
            raise DbtNodeFailed(f"dbt did not build {node.resource_type} {node.dbt_name!r}; "
                                "check that it is enabled and selected by its name.")
        if not r.ok:
            message = r.message or r.status
            lock = duckdb_io.translate(self._path(), Exception(message))
            raise DbtNodeFailed(lock or f"dbt {node.resource_type} {node.dbt_name!r} "
                                f"{r.status}: {message}")
        duckdb_io.note({k: v for k, v in (
            ("dbt_status", r.status), ("rows_affected", r.rows),
            ("dbt_execution_time", r.execution_time), ("dbt_started_at", r.started_at),
            ("dbt_completed_at", r.completed_at), ("dbt_vars", vars or None)) if v is not None})
        return self._value(name)

    def _value(self, name: str) -> Any:
        relation, values = duckdb_io._relations[name]
        if values == "dataframe" and self._read_by_python(name):
            return relation.df()
        return relation

    def _read_by_python(self, name: str) -> bool:
        graph = self.registry.graph()
        return any(name in graph.inputs[d].values() for d in graph.downstream[name]
                   if graph.specs[d].kind not in ("dbt", "dbt_source"))

    def observe_source(self, name: str) -> Relation:
        relation = duckdb_io._relations[name][0]
        if not relation.exists():
            raise DbtNodeFailed(
                f"dbt source {self.nodes[name].dbt_name!r} has no table {relation.name} in "
                f"{relation.path!r}; load it first, or define an nbflow asset named {name!r} "
                "that loads it (a notebook cell).")
        return relation

    def _path(self) -> str:
        for relation, _ in (duckdb_io._relations.get(n, (None, "")) for n in self.nodes):
            if relation is not None:
                return relation.path
        return str(self.dir)

    def _check_lock(self) -> None:
        """Fail with what to do, before dbt starts, when another process holds the file."""
        path = self._path()
        if not os.path.exists(path):
            return
        try:
            with duckdb_io.connect(path):
                pass
        except IOManagerError as exc:
            raise DbtError(str(exc)) from None

    def close(self) -> None:
        self._unsubscribe()


def _values(node: Node, default: str) -> str:
    own = (node.meta.get("nbflow") or {}) if isinstance(node.meta.get("nbflow"), Mapping) else {}
    value = own.get("values", default)
    return value if value in VALUES else default


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _paths(project_dir: Path) -> list[str]:
    """The folders dbt reads (from dbt_project.yml; dbt's defaults otherwise)."""
    defaults = {"model-paths": ["models"], "seed-paths": ["seeds"],
                "snapshot-paths": ["snapshots"], "test-paths": ["tests"],
                "macro-paths": ["macros"]}
    try:
        import yaml  # type: ignore[import-untyped]

        conf = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    except Exception:  # noqa: BLE001 - dbt reports a broken file when it parses
        conf = {}
    out: list[str] = []
    for key in _WATCHED:
        value = conf.get(key, defaults[key])
        out.extend(value if isinstance(value, list) else [value])
    return out


def _database_path(invoker: Invoker) -> str:
    """The DuckDB file the project writes to: the profile's ``path``, made absolute."""
    path = invoker.database_path()
    if path is None:
        raise DefinitionError(f"The dbt profile of {str(invoker.project_dir)!r} is not a "
                              "dbt-duckdb profile with a path; nbflow reads dbt models from "
                              "DuckDB, so use type: duckdb or pass database=PATH.")
    return path


def dbt_project(project_dir: str | os.PathLike[str], *, profiles_dir: str | os.PathLike[str] | None = None,
                target: str | None = None, database: str | None = None, values: str = "dataframe",
                vars: Mapping[str, Any] | None = None, session: Session | None = None,
                partitions: Any = None, partitioned: str | Iterable[str] | None = None
                ) -> DbtProject:
    """Register a dbt project's models, seeds, snapshots, sources and tests as assets.

    ``profiles_dir`` defaults to the project folder when it holds a ``profiles.yml`` (else
    dbt's own default); ``target`` picks the profile's target; ``database`` is the DuckDB
    file (default: the profile's path). ``values="relation"`` gives downstream Python assets
    the :class:`Relation` instead of a DataFrame (per model: ``meta: {nbflow: {values:
    relation}}``). ``vars`` are passed to every dbt call.

    ``partitions`` (a definition such as ``nf.DailyPartitions(start="2026-01-01")``, or its
    text form ``"daily:2026-01-01"``) partitions the models named by ``partitioned`` (names,
    or ``"*"`` for every model), else the models whose config says ``meta: {nbflow:
    {partitioned: true}}``. Each partition's build gets the vars ``nbflow_partition``,
    ``nbflow_window_start`` and ``nbflow_window_end``. Example: ``nf.dbt_project("dbt",
    target="dev")`` then ``nf.materialize("+revenue_by_region")``.
    """
    if session is None:
        from nbflow.session import get_session

        session = get_session()
    return DbtProject(project_dir, session=session, profiles_dir=profiles_dir, target=target,
                      database=database, values=values, vars=vars, partitions=partitions,
                      partitioned=partitioned)

