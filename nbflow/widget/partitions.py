"""The partition strip: a partitioned asset's partitions as a few coloured bins on its node.

``strip_of`` folds a ``PartitionSummary`` (one verdict per key, in key order) into ``BINS``
bins, each showing the worst verdict among its keys (failed, then stale, then missing, then
fresh), so a failed day in a year of fresh ones stays visible. ``partition_detail`` is what the
details pane shows: counts, ranges per verdict, the first and last key for the range inputs.
"""

from __future__ import annotations

from typing import Any

BINS = 24
WORST = ("failed", "stale", "missing", "fresh")


def strip_of(summary: Any, bins: int = BINS) -> dict[str, Any]:
    """``{"total", "counts", "latest", "bins": [verdict per bin]}`` for the page."""
    statuses: list[str] = list(summary.statuses)
    n = len(statuses)
    rank = {s: i for i, s in enumerate(WORST)}
    width = max(1, -(-n // bins))  # ceil: at most ``bins`` bins, each ``width`` keys
    folded = []
    for lo in range(0, n, width):
        chunk = statuses[lo:lo + width]
        folded.append(min(chunk, key=lambda s: rank.get(s, len(WORST))))
    return {"total": summary.total, "counts": {s: summary.counts.get(s, 0) for s in WORST},
            "latest": summary.latest, "bins": folded}


def partition_detail(summary: Any) -> dict[str, Any]:
    """The details pane's partitions section."""
    keys = summary.keys
    return {**strip_of(summary), "ranges": summary.ranges(),
            "first": keys[0] if keys else None, "last": keys[-1] if keys else None}


__all__ = ["BINS", "WORST", "partition_detail", "strip_of"]
