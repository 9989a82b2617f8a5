"""Asset and check specs, and the ``@asset`` decorator that builds them."""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.core.retry import MAX_DELAY, RetryOnArg, RetryPolicy, make_retry_policy
from nbflow.errors import DefinitionError

if TYPE_CHECKING:
    from nbflow.core.freshness_policy import Freshness
    from nbflow.core.partitions import PartitionsDefinition
    from nbflow.core.registry import Registry

SEVERITIES = ("warn", "error")


@dataclass(frozen=True, eq=False)
class CheckSpec:
    """A data-quality test on an asset's value; ``error`` severity blocks downstream steps."""

    fn: Callable[[Any], Any]
    name: str
    severity: str = "error"
    description: str | None = None


def check(fn: Callable[[Any], Any], *, name: str | None = None, severity: str = "error",
          description: str | None = None) -> CheckSpec:
    """A check for ``@asset(checks=[...])``: ``fn(value)`` returns truthy when the data is good."""
    if severity not in SEVERITIES:
        raise DefinitionError(
            f"Check severity {severity!r} is not one of {', '.join(SEVERITIES)}; "
            "use 'warn' to record only or 'error' to block downstream assets.")
    label = name or str(getattr(fn, "__name__", "check"))
    if label == "<lambda>":
        raise DefinitionError("A check made from a lambda needs a name: nf.check(lambda v: ..., name='positive').")
    return CheckSpec(fn=fn, name=label, severity=severity, description=description)


@dataclass(frozen=True)
class Param:
    """One parameter of an asset function: its upstream name unless it has a default."""

    name: str
    has_default: bool


@dataclass(frozen=True, eq=False)
class AssetSpec:
    """A software-defined asset: a function whose parameters name its upstream assets."""

    name: str
    fn: Callable[..., Any]
    params: tuple[Param, ...] = ()
    deps: tuple[str, ...] = ()
    group: str = "default"
    tags: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    code_version: str | None = None
    io: str = "pickle"
    description: str | None = None
    checks: tuple[CheckSpec, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """How a failed step is retried (attempts, delays, backoff, jitter, ``retry_on``)."""
    source: str | None = None
    """Source text for the code version when ``fn`` has none on disk (a notebook cell)."""
    kind: str = "function"
    """``function`` or ``cell``: how the asset was defined (the panel and status show it)."""
    kinds: tuple[str, ...] = ()
    """What the asset is computed with or stored in (``python``, ``pandas``): ``kind:`` selects on it."""
    owners: tuple[str, ...] = ()
    """Who answers for the asset (``ann@x.com``, ``team:sales``): ``owner:`` selects on it."""
    partitions: PartitionsDefinition | None = None
    """The asset's slices (``DailyPartitions(...)``); None: one value, unpartitioned."""
    partition_mapping: Mapping[str, Any] = field(default_factory=dict)
    """Upstream asset (or parameter) name -> how a partition picks that asset's partitions;
    ``"*"`` applies to every upstream asset not named."""
    single_call: bool = False
    """Partitioned only: the partitions a run builds go to one call of the function, which
    reads ``context().partition_keys`` / ``partition_range`` and returns ``{key: value}``."""
    freshness: Freshness | None = None
    """How late the asset may be (``core/freshness_policy.py``); None: no policy."""

    @property
    def retries(self) -> int:
        """How many times a failed step is tried again (``retry.retries``)."""
        return self.retry.retries

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<asset {self.name!r}>"


def _params(fn: Callable[..., Any]) -> tuple[Param, ...]:
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DefinitionError(
                f"Asset function {fn.__name__!r} takes *{p.name}; an asset's parameters must "
                "each name one upstream asset (or have a default).")
        if p.kind is p.POSITIONAL_ONLY:  # upstream values are passed by name
            raise DefinitionError(
                f"Asset function {fn.__name__!r} takes {p.name!r} as positional-only; upstream "
                "values are passed by name, so remove the '/'.")
        out.append(Param(p.name, p.default is not p.empty))
    return tuple(out)


def make_asset(fn: Callable[..., Any], *, name: str | None = None, deps: Sequence[str] = (),
               group: str | None = None, tags: Mapping[str, str] | None = None,
               metadata: Mapping[str, Any] | None = None, code_version: str | None = None,
               io: str = "pickle", description: str | None = None,
               checks: Sequence[CheckSpec] = (), retries: int = 0,
               retry_delay: float | Sequence[float] = 0.0, backoff: float = 1.0,
               jitter: float = 0.0, retry_on: RetryOnArg = (Exception,),
               max_delay: float = MAX_DELAY, source: str | None = None,
               kind: str = "function", kinds: Sequence[str] = (),
               owners: Sequence[str] = (), partitions: Any = None,
               partition_mapping: Any = None, single_call: bool = False,
               freshness: Any = None) -> AssetSpec:
    """Build an ``AssetSpec`` from a function, validating the arguments."""
    if not callable(fn):
        raise DefinitionError(f"@asset needs a function, got {type(fn).__name__}.")
    label = name or fn.__name__
    if not label.isidentifier():
        raise DefinitionError(
            f"Asset name {label!r} is not a Python identifier; downstream parameters refer to "
            "assets by name, so use letters, digits and underscores.")
    if keyword.iskeyword(label):  # no parameter can name it, and 'and'/'or'/'not' are selection words
        raise DefinitionError(f"Asset name {label!r} is a Python keyword; choose another name.")
    if isinstance(deps, str):
        deps = [d.strip() for d in deps.split(",") if d.strip()]
    deps = [d.name if isinstance(d, AssetSpec) else d for d in deps]
    for d in deps:
        if not isinstance(d, str):
            raise DefinitionError(f"deps of asset {label!r} must be asset names or assets, got {d!r}.")
    if tags is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise DefinitionError(f"Tags of asset {label!r} must map strings to strings, got {dict(tags)!r}.")
    if not isinstance(retries, int) or retries < 0:
        raise DefinitionError(f"retries of asset {label!r} must be a whole number >= 0, got {retries!r}.")
    try:
        retry = make_retry_policy(retries, retry_delay, backoff, jitter, retry_on, max_delay)
    except DefinitionError as e:
        raise DefinitionError(f"Asset {label!r}: {e}") from None
    kinds, owners = _labels(label, "kinds", kinds), _labels(label, "owners", owners)
    for owner in owners:
        if not _is_owner(owner):
            raise DefinitionError(
                f"Owner {owner!r} of asset {label!r} is neither an email address nor a team; "
                "write it as 'ann@example.com' or 'team:sales'.")
    for c in checks:
        if not isinstance(c, CheckSpec):
            raise DefinitionError(f"checks of asset {label!r} must be made with nf.check(...), got {c!r}.")
    defn, mapping = _partitioning(label, partitions, partition_mapping)
    if single_call and defn is None:
        raise DefinitionError(f"Asset {label!r} has single_call=True but no partitions; "
                              "single_call gives a run's partitions to one call, so add "
                              "partitions=... or drop single_call.")
    if single_call and label in mapping and any(p.name == label for p in _params(fn)):
        raise DefinitionError(f"Asset {label!r} reads its own earlier partitions, so they must "
                              "be built one after another; drop single_call=True.")
    from nbflow.core.freshness_policy import as_freshness

    policy = as_freshness(freshness, asset=label)
    return AssetSpec(
        name=label, fn=fn, params=_params(fn), deps=tuple(deps), group=group or "default",
        tags=dict(tags or {}), metadata=dict(metadata or {}),
        code_version=None if code_version is None else str(code_version), io=io,
        description=description if description is not None else inspect.getdoc(fn),
        checks=tuple(checks), retry=retry, source=source, kind=kind, kinds=kinds, owners=owners,
        partitions=defn, partition_mapping=mapping, single_call=bool(single_call),
        freshness=policy)


def _partitioning(label: str, partitions: Any, mapping: Any) -> tuple[Any, dict[str, Any]]:
    """``partitions=`` as a definition (or its short text form) and ``partition_mapping=`` as a
    dict of upstream name -> mapping (a single mapping applies to every upstream: ``"*"``)."""
    from nbflow.core.partition_mappings import as_mapping
    from nbflow.core.partitions import PartitionsDefinition, parse_partitions
    from nbflow.errors import PartitionError

    try:
        if isinstance(partitions, str):
            partitions = parse_partitions(partitions)
        if partitions is not None and not isinstance(partitions, PartitionsDefinition):
            raise DefinitionError(
                f"partitions of asset {label!r} must be a partitions definition such as "
                f"nf.DailyPartitions(start='2026-01-01') or text such as 'daily:2026-01-01', "
                f"got {partitions!r}.")
        if mapping is None:
            return partitions, {}
        if not isinstance(mapping, Mapping):
            mapping = {"*": mapping}
        out = {}
        for name, m in mapping.items():
            if not isinstance(name, str):
                raise DefinitionError(
                    f"partition_mapping of asset {label!r} must map upstream asset names to "
                    f"mappings, got the key {name!r}.")
            out[name] = as_mapping(m)
        return partitions, out
    except PartitionError as e:
        raise PartitionError(f"Asset {label!r}: {e}", definition=e.definition, key=e.key,
                             asset=label) from None


def _labels(label: str, what: str, values: Sequence[str]) -> tuple[str, ...]:
    """``kinds=``/``owners=`` as a tuple of distinct non-empty strings, in the order given."""
    example = "['python', 'pandas']" if what == "kinds" else "['ann@example.com', 'team:sales']"
    if isinstance(values, str) or not isinstance(values, (list, tuple, set, frozenset)):
        raise DefinitionError(f"{what} of asset {label!r} must be a list of strings such as "
                              f"{example}, got {values!r}.")
    for v in values:
        if not isinstance(v, str) or not v.strip() or v != v.strip():
            raise DefinitionError(f"{what} of asset {label!r} must be non-empty strings without "
                                  f"surrounding spaces, such as {example}; got {v!r}.")
    return tuple(dict.fromkeys(sorted(values) if isinstance(values, (set, frozenset)) else values))


def _is_owner(owner: str) -> bool:
    """An email address (``ann@example.com``) or a team (``team:sales``), as Dagster has them."""
    if owner.startswith("team:"):
        team = owner[len("team:"):]
        return bool(team) and not any(c.isspace() for c in team)
    local, at, domain = owner.partition("@")
    return bool(local and at and domain) and "@" not in domain and not any(c.isspace() for c in owner)


def asset(fn: Callable[..., Any] | None = None, *, name: str | None = None, deps: Sequence[str] = (),
          group: str | None = None, tags: Mapping[str, str] | None = None,
          metadata: Mapping[str, Any] | None = None, code_version: str | None = None,
          io: str = "pickle", description: str | None = None, checks: Sequence[CheckSpec] = (),
          retries: int = 0, retry_delay: float | Sequence[float] = 0.0, backoff: float = 1.0,
          jitter: float = 0.0, retry_on: RetryOnArg = (Exception,), max_delay: float = MAX_DELAY,
          kinds: Sequence[str] = (), owners: Sequence[str] = (), partitions: Any = None,
          partition_mapping: Any = None, single_call: bool = False, freshness: Any = None,
          registry: Registry | None = None) -> Any:
    """Declare an asset: ``@asset`` or ``@asset(name=..., io="parquet", ...)``.

    Upstream assets come from the parameter names; ``deps`` adds upstream names whose values
    are not loaded. Defining the same name again replaces the earlier definition.
    ``retries``, ``retry_delay``, ``backoff``, ``jitter``, ``retry_on`` and ``max_delay`` form
    the step's retry policy, as for tasks. ``partitions`` (a definition or its short form,
    ``"daily:2026-01-01"``) slices the asset; ``partition_mapping`` (``{"upstream": mapping}``,
    or one mapping for every upstream) says which upstream partitions each partition reads.
    ``single_call=True`` gives all the partitions a run builds to one call (a backfill with
    ``policy="single_run"`` builds a whole range so): the function reads
    ``context().partition_keys`` and ``partition_range``, gets each partitioned input as a dict
    key -> value over the range, and returns a dict key -> value, one per partition.
    ``freshness`` (``"6h"`` or ``nf.Freshness(max_lag=..., cron=..., tz=...)``) says how late
    it may be: ``nf.status()`` shows it overdue past that deadline.
    """

    def wrap(f: Callable[..., Any]) -> AssetSpec:
        from nbflow.core.registry import default_registry

        spec = make_asset(f, name=name, deps=deps, group=group, tags=tags, metadata=metadata,
                          code_version=code_version, io=io, description=description,
                          checks=checks, retries=retries, retry_delay=retry_delay,
                          backoff=backoff, jitter=jitter, retry_on=retry_on, max_delay=max_delay,
                          kinds=kinds, owners=owners, partitions=partitions,
                          partition_mapping=partition_mapping, single_call=single_call,
                          freshness=freshness)
        (registry if registry is not None else default_registry()).add(spec)
        return spec

    return wrap(fn) if fn is not None else wrap
