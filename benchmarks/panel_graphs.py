"""Random lineage DAGs for the panel benchmarks (each asset reads up to two recent ones)."""

from __future__ import annotations

import random

from nbflow.core.registry import Registry
from nbflow.core.specs import make_asset


def dag_edges(n: int, seed: int = 3, fan_in: int = 2, window: int = 40) -> list[tuple[int, list[int]]]:
    rng = random.Random(seed)
    return [(i, sorted(rng.sample(range(max(0, i - window), i), k=min(i, fan_in)))) for i in range(n)]


def dag_source(n: int, seed: int = 3) -> str:
    """Python source that defines the DAG's assets with ``@nbflow.asset`` (for a notebook cell)."""
    lines = ["import nbflow"]
    for i, ups in dag_edges(n, seed):
        params = ", ".join(f"a{j:03d}" for j in ups)
        lines += ["@nbflow.asset", f"def a{i:03d}({params}):", f"    return {i}", ""]
    return "\n".join(lines)


def dag_registry(n: int, seed: int = 3) -> Registry:
    reg = Registry()
    namespace: dict[str, object] = {}
    for i, ups in dag_edges(n, seed):
        name = f"a{i:03d}"
        params = ", ".join(f"a{j:03d}" for j in ups)
        exec(f"def {name}({params}):\n    return {i}", namespace)   # noqa: S102 - benchmark data
        reg.add(make_asset(namespace[name], name=name, code_version="1"))  # type: ignore[arg-type]
    return reg
