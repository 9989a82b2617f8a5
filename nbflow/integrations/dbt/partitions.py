"""Partitioned dbt models: which models are partitioned, and the vars a partition gives dbt.

``dbt_project(path, partitions=nf.DailyPartitions(start=...))`` partitions the models that
ask for it: those named by ``partitioned=`` (names, or ``"*"`` for every model), else those
whose dbt config says ``meta: {nbflow: {partitioned: true}}`` (in the model's YAML, its
``config()`` or a folder's ``+meta`` in ``dbt_project.yml``). Seeds, snapshots and sources
are never partitioned. Each partition of such a model is a step ``model[key]``; its ``dbt
build`` gets the partition as vars (:data:`VARS`), so the model's SQL picks its window with
``{{ var('nbflow_window_start') }}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from nbflow.core.partitions import PartitionsDefinition, parse_partitions
from nbflow.errors import DefinitionError
from nbflow.integrations.dbt.manifest import Node

VARS = ("nbflow_partition", "nbflow_window_start", "nbflow_window_end")
"""The partition key's text, and the time window's start and end (ISO 8601, with the UTC
offset of the definition's zone; end exclusive). Static and dynamic keys have no window."""


def as_definition(partitions: Any) -> PartitionsDefinition | None:
    """``partitions=`` of ``dbt_project`` as a definition (its short text form is accepted)."""
    if partitions is None or isinstance(partitions, PartitionsDefinition):
        return partitions
    if isinstance(partitions, str):
        return parse_partitions(partitions)
    raise DefinitionError(
        f"partitions={partitions!r} of dbt_project is not a partitions definition; pass "
        "nf.DailyPartitions(start='2026-01-01') or text such as 'daily:2026-01-01'.")


def _marked(node: Node) -> bool:
    own = node.meta.get("nbflow")
    return isinstance(own, Mapping) and own.get("partitioned") is True


def partitioned_models(nodes: Iterable[Node], definition: PartitionsDefinition | None,
                       partitioned: str | Iterable[str] | None, project: str) -> set[str]:
    """The asset names of the models to partition, checked against the project's nodes."""
    nodes = list(nodes)
    models = {n.name: n for n in nodes if n.resource_type == "model"}
    others = {n.name: n for n in nodes if n.resource_type != "model"}
    if partitioned is None:
        chosen = {name for name, n in models.items() if _marked(n)}
    elif partitioned == "*":
        chosen = set(models)
    else:
        names = [partitioned] if isinstance(partitioned, str) else list(partitioned)
        chosen = set()
        for name in names:
            if name in others:
                raise DefinitionError(
                    f"partitioned= names dbt {others[name].resource_type} {name!r} of {project!r}; "
                    "only models can be partitioned, so leave it out.")
            if name not in models:
                known = ", ".join(sorted(models)[:8]) or "none"
                raise DefinitionError(
                    f"partitioned= names {name!r}, which is not a model of dbt project "
                    f"{project!r}; name its models (e.g. {known}) or pass partitioned='*'.")
            chosen.add(name)
    for name, n in others.items():
        if _marked(n):
            raise DefinitionError(
                f"dbt {n.resource_type} {name!r} of {project!r} has meta nbflow.partitioned, "
                "but only models can be partitioned; remove it there.")
    if definition is None and chosen:
        first = sorted(chosen)[0]
        raise DefinitionError(
            f"dbt model {first!r} of {project!r} is partitioned (meta nbflow.partitioned or "
            "partitioned=), but dbt_project() got no partitions definition; pass "
            "partitions=nf.DailyPartitions(start='2026-01-01') (or another definition).")
    if definition is not None and not chosen:
        raise DefinitionError(
            f"dbt_project({project!r}, partitions={definition!r}) partitions no model; mark "
            "models with config meta: {nbflow: {partitioned: true}}, or pass "
            "partitioned=['model', ...] (or '*' for every model).")
    return chosen


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def partition_vars(key: str, window: tuple[Any, Any] | None) -> dict[str, str]:
    """The dbt vars of partition ``key`` (its text form) with its time window, if it has one."""
    out = {VARS[0]: key}
    if window is not None:
        out[VARS[1]], out[VARS[2]] = _iso(window[0]), _iso(window[1])
    return out


__all__ = ["VARS", "as_definition", "partition_vars", "partitioned_models"]
