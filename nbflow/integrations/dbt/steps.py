"""dbt nodes as steps of nbflow's asset runner: one ``dbt build`` per batch of dbt steps.

How dbt fits the asset runner: every dbt model, seed and snapshot is an ordinary asset whose
function is a :class:`DbtStep`. The runner starts steps as usual (events, staleness, skips);
when the first dbt step of a run starts, its function runs one ``dbt build --select`` for
that node *and* every selected dbt node after it whose selected upstream is in the batch or
already succeeded in this run (so consecutive dbt nodes share one dbt call, while a dbt
model downstream of a notebook cell waits for that cell). Later dbt steps of the batch find
their result already there and return at once. Which run a step belongs to, and its
selection and finished steps, come from the session's event hooks (:class:`RunTracker`).

Partitioned dbt models (see ``partitions``) have one step per partition, ``model[key]``; a
batch then holds only steps of one partition key (its window goes to dbt as vars), and
unpartitioned dbt steps batch only with each other. dbt's results are kept per partition key.

A node dbt reports as failed or skipped fails its step (so nbflow skips its downstream, dbt
or notebook); dbt tests are the asset's checks and read their results from the batch.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.core.events import Event, EventKind, RunStarted
from nbflow.core.partition_mappings import IdentityMapping
from nbflow.core.states import State
from nbflow.engine.partitioned import split_step, step_id
from nbflow.errors import DbtTestFailed

if TYPE_CHECKING:
    from nbflow.integrations.dbt.project import DbtProject
    from nbflow.integrations.dbt.runner import NodeResult

_OK = (State.SUCCEEDED, State.CACHED)
_local = threading.local()


@dataclass
class RunInfo:
    steps: list[str]
    states: dict[str, State] = field(default_factory=dict)
    results: dict[str, NodeResult] = field(default_factory=dict)
    """dbt's results in this run for unpartitioned steps, by unique id."""
    partition_results: dict[str, dict[str, NodeResult]] = field(default_factory=dict)
    """dbt's results in this run for partitioned steps: partition key -> unique id -> result."""
    built: set[str] = field(default_factory=set)
    """The steps (asset names, or ``asset[key]``) a ``dbt build`` of this run already covered."""

    def results_of(self, partition: str | None) -> dict[str, NodeResult]:
        """The results of builds of ``partition`` (None: of unpartitioned steps)."""
        if partition is None:
            return self.results
        return self.partition_results.setdefault(partition, {})


class RunTracker:
    """Follows the session's events: each run's selection, finished steps and dbt results."""

    def __init__(self) -> None:
        self.runs: dict[str, RunInfo] = {}
        self.started: dict[str, str] = {}  # step -> the run that started it last

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.RUN_STARTED:
            steps = event.data.steps if isinstance(event.data, RunStarted) else None
            if steps is not None:
                self.runs[event.run_id] = RunInfo(list(steps))
        elif kind is EventKind.STEP_STARTED and event.step is not None:
            self.started[event.step] = event.run_id
        elif kind is EventKind.STEP_FINISHED and event.step is not None:
            info = self.runs.get(event.run_id)
            if info is not None and event.state is not None:
                info.states[event.step] = event.state
        elif kind is EventKind.RUN_FINISHED:
            self.runs.pop(event.run_id, None)

    def run_of(self, step: str) -> RunInfo | None:
        run_id = self.started.get(step)
        return None if run_id is None else self.runs.get(run_id)


class DbtStep:
    """The function of a dbt model, seed or snapshot asset (runs its batch's ``dbt build``)."""

    def __init__(self, project: DbtProject, name: str) -> None:
        self.project = project
        self.name = name
        self.__name__ = name

    def __call__(self) -> Any:
        return self.project.run_step(self.name)

    def __repr__(self) -> str:
        return f"<dbt step {self.name!r}>"


class SourceStep:
    """The function of a dbt source asset: observes that its table is there."""

    def __init__(self, project: DbtProject, name: str) -> None:
        self.project = project
        self.name = name
        self.__name__ = name

    def __call__(self) -> Any:
        return self.project.observe_source(self.name)


class TestCheck:
    """A dbt test as an nbflow check: passes when dbt reported it ``pass`` in this batch."""

    def __init__(self, unique_id: str, name: str) -> None:
        self.unique_id = unique_id
        self.__name__ = name

    def __call__(self, value: Any) -> bool:
        results: Mapping[str, NodeResult] = getattr(_local, "results", {})
        r = results.get(self.unique_id)
        if r is None:
            raise DbtTestFailed(f"dbt test {self.__name__!r} did not run in this build.")
        if r.status == "pass":
            return True
        failing = f"{r.failures} failing row(s)" if r.failures else r.status
        raise DbtTestFailed(f"{failing}" + (f": {r.message}" if r.message else ""))


def set_results(results: Mapping[str, NodeResult]) -> None:
    """Make ``results`` the ones the checks of the step on this thread read."""
    _local.results = results


def _upstream_steps(graph: Any, asset: str, upstream: str, partition: str | None,
                    by_asset: Mapping[str, list[str]]) -> list[str]:
    """The selected steps of ``upstream`` that step ``asset[partition]`` waits for."""
    steps = by_asset.get(upstream, [])
    mapping = graph.mappings.get(asset, {}).get(upstream)
    if partition is not None and isinstance(mapping, IdentityMapping):
        own = step_id(upstream, partition)
        return [own] if own in steps else []
    return steps  # another mapping, or an unpartitioned reader: every selected step of it


def plan_batch(step: str, info: RunInfo | None, graph: Any, is_dbt: Any) -> list[str]:
    """``step`` and the selected dbt steps after it that can run in the same ``dbt build``.

    Steps are asset names or ``asset[key]``; a batch keeps to one partition key (or to
    unpartitioned steps), since one build gets one set of vars.
    """
    if info is None:
        return [step]
    try:
        start = info.steps.index(step)
    except ValueError:
        return [step]
    partition = split_step(step)[1]
    by_asset: dict[str, list[str]] = {}
    for s in info.steps:
        by_asset.setdefault(split_step(s)[0], []).append(s)
    batch = [step]
    members = {step}
    for n in info.steps[start + 1:]:
        asset, part = split_step(n)
        if part != partition or not is_dbt(asset) or n in info.states or n in info.built:
            continue
        ups = [u for a in graph.upstream[asset]
               for u in _upstream_steps(graph, asset, a, part, by_asset)]
        if not any(u in members for u in ups):
            continue  # ready on its own: the runner decides whether it is stale
        if all(u in members or info.states.get(u) in _OK for u in ups):
            batch.append(n)
            members.add(n)
    return batch
