"""dbt benchmarks: registering a generated 1,000-model manifest, and a warm one-model build.

    .venv/bin/python benchmarks/dbt_bench.py

Targets (issue 16): the manifest loads into the registry in at most 1 s and 200 MB
(tracemalloc peak of the load), and a warm single-model materialise (manifest parsed once,
reused) takes at most 0.5 s end to end (median of 5).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("DBT_VERSION_CHECK", "False")

import nbflow as nf
from nbflow.integrations.dbt import DbtProject


def manifest(models: int) -> dict[str, Any]:
    """A manifest shaped like dbt's: a source, a seed, ``models`` models in layers, 2 tests each."""
    nodes: dict[str, Any] = {"seed.big.lookup": {
        "resource_type": "seed", "name": "lookup", "package_name": "big", "fqn": ["big", "lookup"],
        "checksum": {"checksum": "s"}, "config": {"materialized": "seed"}, "schema": "main",
        "depends_on": {"nodes": []}}}
    for i in range(models):
        parents = ["source.big.raw.events"] if i < 10 else [f"model.big.m{i - 10}", f"model.big.m{i // 2}"]
        if i % 7 == 0:
            parents.append("seed.big.lookup")
        folder = ["staging", "intermediate", "marts"][min(i // 300, 2)]
        nodes[f"model.big.m{i}"] = {
            "resource_type": "model", "name": f"m{i}", "package_name": "big",
            "fqn": ["big", folder, f"m{i}"], "checksum": {"checksum": f"{i:064x}"},
            "config": {"materialized": "view", "tags": ["nightly"], "meta": {"owner": "team:data"}},
            "tags": ["nightly"], "description": f"Model {i}.", "schema": "main",
            "original_file_path": f"models/{folder}/m{i}.sql",
            "depends_on": {"nodes": sorted(set(parents))}}
        for t in ("unique", "not_null"):
            nodes[f"test.big.{t}_m{i}_id"] = {
                "resource_type": "test", "name": f"{t}_m{i}_id", "package_name": "big",
                "config": {"severity": "ERROR"}, "attached_node": f"model.big.m{i}",
                "depends_on": {"nodes": [f"model.big.m{i}"]}}
    return {"metadata": {"project_name": "big"}, "nodes": nodes,
            "sources": {"source.big.raw.events": {"name": "events", "source_name": "raw",
                                                  "schema": "main", "identifier": "events"}}}


def _load(tmp: Path, data: dict[str, Any], n: int) -> None:
    session = nf.Session(settings=nf.Settings.resolve(home=str(tmp / f"home{n}")),
                         registry=nf.Registry())
    DbtProject(tmp / "big", session=session, database=str(tmp / "big.duckdb"), manifest=data)
    session.registry.graph()
    assert len(session.registry) == 1002


def bench_load(tmp: Path) -> tuple[float, float]:
    """Seconds of the first load in this process (imports included), then the peak memory
    of a second load under tracemalloc (which slows Python, so it is not timed)."""
    (tmp / "big").mkdir()
    (tmp / "big" / "dbt_project.yml").write_text("name: big\nprofile: big\n")
    data = manifest(1000)
    started = time.perf_counter()
    _load(tmp, data, 0)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    _load(tmp, data, 1)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def bench_warm(tmp: Path) -> float:
    import duckdb

    project = tmp / "shop"
    shutil.copytree(ROOT / "notebooks" / "dbt", project,
                    ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"))
    os.environ["SHOP_DUCKDB"] = str(project / "shop.duckdb")
    con = duckdb.connect(str(project / "shop.duckdb"))
    con.execute("create table raw_orders as select 1 as id, 'FR' as country, 2.0 as amount, "
                "'2026-01-01' as ordered_at")
    con.close()
    session = nf.Session(settings=nf.Settings.resolve(home=str(tmp / "home2")), registry=nf.Registry())
    nf.dbt_project(project, session=session)
    assert session.materialize("*").ok
    times = []
    for _ in range(5):
        started = time.perf_counter()
        result = session.materialize("revenue_by_region", force=True)
        times.append(time.perf_counter() - started)
        assert result.ok, result.errors
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        seconds, peak = bench_load(Path(d))
        print(f"load 1,000-model manifest: {seconds:.3f} s, peak {peak:.1f} MB (targets 1 s, 200 MB)")
        warm = bench_warm(Path(d))
        print(f"warm single-model materialise: {warm:.3f} s median of 5 (target 0.5 s)")
        if seconds > 1 or peak > 200 or warm > 0.5:
            sys.exit(1)


if __name__ == "__main__":
    main()
