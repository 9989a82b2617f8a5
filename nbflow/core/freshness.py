"""The freshness verdict of one asset: fresh, stale (with the reason), missing or failed; pure.

The one rule, used by the asset runner's skip (``stale_reason``: only code and inputs), by
``Session.status`` and by the panel's plan (``verdict``: also upstream verdicts and failures):

- **failed**: the last run of the asset failed after its last materialisation;
- **missing**: never materialised (or its stored value is gone or changed: ``value_problem``);
- **stale**: the last materialisation was made with another code version, or with input data
  versions other than the upstream assets' current ones, or an upstream asset is itself stale,
  missing or failed;
- **fresh**: otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FRESH, STALE, MISSING, FAILED = "fresh", "stale", "missing", "failed"
STATUSES = (FRESH, STALE, MISSING, FAILED)


@dataclass(frozen=True)
class Verdict:
    """One asset's status, the reason when it is not fresh, and the error when it failed."""

    status: str
    reason: str | None = None
    error: str | None = None

    @property
    def fresh(self) -> bool:
        return self.status == FRESH


@dataclass(frozen=True)
class Failure:
    """The asset's last failed step: when (epoch seconds), in which run, with which error."""

    ts: float
    run_id: str
    error: str | None


def stale_reason(code_version: str, last_code_version: str,
                 last_inputs: Mapping[str, str], inputs: Mapping[str, str | None]) -> str | None:
    """Why a materialisation made with ``last_code_version`` from ``last_inputs`` is out of date.

    ``inputs`` maps each upstream asset, in order, to its current data version (None: it has
    none). None when the code version and every input version match (the asset is up to date).
    """
    if last_code_version != code_version:
        return "code changed"
    if last_inputs == inputs:
        return None
    for u, version in inputs.items():
        if version is None:
            return f"upstream {u!r} is {MISSING}"
        if last_inputs.get(u) != version:
            return f"upstream {u!r} changed"
    gone = next(iter(u for u in last_inputs if u not in inputs))
    return f"{gone!r} is no longer an upstream asset"


def has_value(status: str, materialised: bool) -> bool:
    """Whether downstream steps can read the asset's stored value as it is.

    Fresh and stale assets have one; a missing one has none; a failed one only when an
    earlier materialisation exists (``materialised``).
    """
    return status in (FRESH, STALE) or (status == FAILED and materialised)


def verdict(*, code_version: str, last_code_version: str | None,
            last_inputs: Mapping[str, str], last_ts: float | None,
            inputs: Mapping[str, str | None], upstream: Mapping[str, Verdict],
            failure: Failure | None = None, value_problem: str | None = None) -> Verdict:
    """The verdict for one asset.

    ``last_*`` describe its last materialisation (``last_code_version=None``: there is none);
    ``inputs`` the upstream assets' current data versions; ``upstream`` their verdicts
    (decided first: walk the graph in topological order); ``failure`` its last failed step;
    ``value_problem`` why its stored value cannot be used (deleted, changed), if it cannot.
    """
    if failure is not None and (last_ts is None or failure.ts > last_ts):
        return Verdict(FAILED, f"run {failure.run_id} failed: {failure.error}", failure.error)
    if last_code_version is None:
        return Verdict(MISSING, "never materialised")
    if value_problem is not None:
        return Verdict(MISSING, value_problem)
    reason = stale_reason(code_version, last_code_version, last_inputs, inputs)
    if reason is not None:
        return Verdict(STALE, reason)
    for u in inputs:
        up = upstream.get(u)
        if up is not None and not up.fresh:
            return Verdict(STALE, f"upstream {u!r} is {up.status}")
    return Verdict(FRESH)


__all__ = ["FAILED", "FRESH", "MISSING", "STALE", "STATUSES", "Failure", "Verdict", "has_value",
           "stale_reason", "verdict"]
