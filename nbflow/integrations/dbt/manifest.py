"""A dbt manifest (``target/manifest.json``) read as plain nodes: assets, sources and tests.

Pure data work over the JSON dict, so a 1,000-model manifest loads without dbt itself: each
model, seed and snapshot becomes a :class:`Node` (asset name, group, tags, meta, description,
parents, code version), each source a :class:`Node` of kind ``source``, each test a
:class:`Test` attached to the node it checks.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BUILT = ("model", "seed", "snapshot")
_NOT_WORD = re.compile(r"\W")


@dataclass(frozen=True)
class Test:
    """A dbt test: its name, severity (``error``/``warn``) and the node it checks."""

    unique_id: str
    name: str
    severity: str
    attached: str
    description: str | None = None


@dataclass(frozen=True)
class Node:
    """A dbt model, seed, snapshot or source as nbflow sees it."""

    unique_id: str
    resource_type: str
    name: str
    """The asset name (the dbt name; a source's table name)."""
    dbt_name: str
    """What ``dbt build --select`` takes (``countries``; ``source:raw.orders`` for a source)."""
    group: str
    schema: str
    identifier: str
    parents: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    code_version: str = ""
    materialized: str | None = None
    path: str | None = None
    tests: tuple[Test, ...] = ()


def asset_name(name: str) -> str:
    """A dbt name as an nbflow asset name (a Python identifier)."""
    out = _NOT_WORD.sub("_", name)
    if not out or out[0].isdigit() or keyword.iskeyword(out):
        out = f"dbt_{out}"
    return out


def code_version(checksum: str, config: Mapping[str, Any]) -> str:
    """dbt's checksum of the file plus its config: editing either changes it."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.blake2b(f"{checksum}\0{text}".encode(), digest_size=8).hexdigest()


def _group(raw: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    if config.get("group"):
        return str(config["group"])
    fqn = raw.get("fqn") or []
    return str(fqn[1]) if len(fqn) > 2 else str(raw.get("package_name") or "dbt")


def read_nodes(manifest: Mapping[str, Any], project: str | None = None) -> list[Node]:
    """Every model, seed, snapshot and source of ``manifest`` with its tests, in file order.

    ``project`` keeps only that package's nodes (dbt packages' own models stay out).
    """
    raw_nodes: Mapping[str, Any] = manifest.get("nodes", {})
    names: dict[str, str] = {}
    taken: set[str] = set()
    built: list[tuple[str, Mapping[str, Any]]] = []
    for uid, raw in raw_nodes.items():
        if raw.get("resource_type") in BUILT and (project is None or raw.get("package_name") == project):
            built.append((uid, raw))
    for uid, raw in built:
        name = asset_name(raw["name"])
        if name in taken:
            name = asset_name(f"{raw.get('package_name')}_{raw['name']}")
        taken.add(name)
        names[uid] = name
    sources: list[tuple[str, Mapping[str, Any]]] = []
    for uid, raw in manifest.get("sources", {}).items():
        name = asset_name(raw["name"])
        if name in taken:
            name = asset_name(f"{raw.get('source_name')}_{raw['name']}")
        taken.add(name)
        names[uid] = name
        sources.append((uid, raw))
    tests: dict[str, list[Test]] = {}
    for uid, raw in raw_nodes.items():
        if raw.get("resource_type") != "test":
            continue
        parents = [p for p in raw.get("depends_on", {}).get("nodes", ()) if p in names]
        attached = raw.get("attached_node") or (parents[0] if parents else None)
        if attached not in names:
            continue
        config = raw.get("config") or {}
        tests.setdefault(attached, []).append(Test(
            uid, raw["name"], str(config.get("severity") or "error").lower(), attached,
            raw.get("description") or None))
    out = []
    for uid, raw in built:
        config = raw.get("config") or {}
        out.append(Node(
            unique_id=uid, resource_type=raw["resource_type"], name=names[uid],
            dbt_name=raw["name"], group=_group(raw, config),
            schema=raw.get("schema") or "main", identifier=raw.get("alias") or raw["name"],
            parents=tuple(dict.fromkeys(names[p] for p in raw.get("depends_on", {}).get("nodes", ())
                                        if p in names)),
            tags=tuple(raw.get("tags") or ()), meta=dict(config.get("meta") or raw.get("meta") or {}),
            description=raw.get("description") or None,
            code_version=code_version((raw.get("checksum") or {}).get("checksum", ""), config),
            materialized=config.get("materialized"), path=raw.get("original_file_path"),
            tests=tuple(tests.get(uid, ()))))
    for uid, raw in sources:
        out.append(Node(
            unique_id=uid, resource_type="source", name=names[uid],
            dbt_name=f"source:{raw.get('source_name')}.{raw['name']}",
            group=str((raw.get("config") or {}).get("group") or raw.get("source_name") or "sources"),
            schema=raw.get("schema") or "main", identifier=raw.get("identifier") or raw["name"],
            tags=tuple(raw.get("tags") or ()), meta=dict(raw.get("meta") or {}),
            description=raw.get("description") or None, path=raw.get("original_file_path"),
            tests=tuple(tests.get(uid, ()))))
    return out
