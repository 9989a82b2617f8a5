"""Sensors: the decorators, what a sensor returns, and one evaluation (``tick``) that launches nothing.

Three kinds, one shape (``Sensor``):

- ``@sensor(interval="30s", target="orders+")`` (or ``deployment="daily-report"``): called every
  interval; reads and moves its own cursor through ``nbflow.context()``;
- ``@asset_sensor(asset="raw_orders")``: called with each new MATERIALIZATION event of the asset
  (from any process on the store); its cursor is the event id;
- ``@run_status_sensor(on=["FAILED"], of="deployment:daily-report")`` (or an asset selection):
  called with the record of each run that ended in one of those states; cursor = event id.

A sensor returns ``RunRequest``s, a ``SkipReason``, a list (or generator) of them, or nothing.
``my_sensor.tick(cursor=None)`` evaluates it once and returns a ``SensorResult`` (the requests,
the skip reason, the new cursor) without launching anything: the daemon's tick source
(``automation/sensor_source.py``) uses the same evaluation and then claims and launches.
Event-driven sensors read at most ``batch`` events per evaluation, so a burst never overwhelms
one tick; the rest follow at once on the next.

Definitions register in a ``SensorRegistry`` (the default one unless ``registry=`` is given),
filled when the module or notebook that defines them runs, like assets.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbflow.core.durations import parse_duration
from nbflow.core.events import EventKind
from nbflow.core.states import State
from nbflow.errors import DefinitionError, NbflowError

if TYPE_CHECKING:
    from nbflow.core.records import RunRecord
    from nbflow.engine.context import RunContext
    from nbflow.session import Session

DEFAULT_INTERVAL = 30.0
"""Seconds between ticks of an interval sensor when none is given."""
EVENT_INTERVAL = 5.0
"""Seconds between looks of an event-driven sensor when no new event woke it sooner."""
DEFAULT_TIMEOUT = 60.0
"""Seconds one tick of a sensor may take before it is reported as hanging."""
DEFAULT_BATCH = 100
"""The most events one tick of an asset or run-status sensor handles."""


@dataclass(frozen=True)
class RunRequest:
    """What a sensor asks to run: its target (the sensor's, unless ``target`` or ``deployment``
    is given here). ``run_key`` makes the request exactly-once per sensor across restarts and
    daemons; ``parameters`` go to a deployment (and are recorded on an asset run); ``partition``
    (a key of the target's partitioned assets, e.g. ``"2026-01-05"``) runs only that one."""

    run_key: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    partition: str | None = None
    target: str | None = None
    deployment: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkipReason:
    """A sensor's answer "nothing to run", with why (recorded on its tick)."""

    reason: str = ""


@dataclass(frozen=True)
class SensorResult:
    """One evaluation of a sensor: what it would request, why it skipped, its new cursor."""

    sensor: str
    requests: tuple[RunRequest, ...] = ()
    skip_reason: str | None = None
    cursor: str | None = None
    cursor_changed: bool = False
    events: int = 0
    """How many stream events the evaluation handled (asset and run-status sensors)."""
    more: bool = False
    """True when more events are waiting than one batch took (tick again at once)."""


class SensorContext:
    """What ``nbflow.context()`` returns inside a sensor: the sensor, its cursor, ``set_cursor``."""

    def __init__(self, sensor: Sensor, cursor: str | None) -> None:
        self.sensor = sensor.name
        self.kind = sensor.kind
        self._cursor = cursor
        self.cursor_changed = False

    @property
    def cursor(self) -> str | None:
        """The position the sensor kept after its last tick (None at first)."""
        return self._cursor

    def set_cursor(self, cursor: str | None) -> None:
        """Keep ``cursor`` (a string) for the next tick; stored when this tick's result is."""
        if self.kind != "sensor":
            raise NbflowError(f"The cursor of {self.kind.replace('_', '-')} sensor {self.sensor!r} "
                              "is the id of the last event it handled and nbflow keeps it; reset it "
                              f"with `nbflow sensor reset-cursor {self.sensor}`.")
        if cursor is not None and not isinstance(cursor, str):
            raise NbflowError(f"Sensor {self.sensor!r} set its cursor to {type(cursor).__name__} "
                              f"{cursor!r}; a cursor is a string: use json.dumps(...) or str(...).")
        self._cursor = cursor
        self.cursor_changed = True


_current: contextvars.ContextVar[SensorContext | None] = contextvars.ContextVar(
    "nbflow_sensor", default=None)


def context() -> SensorContext | RunContext:
    """Inside a sensor: its ``SensorContext`` (``cursor``, ``set_cursor``); elsewhere the run
    context of the calling code (run id, step, flow and task, parameters)."""
    ctx = _current.get()
    if ctx is not None:
        return ctx
    from nbflow.engine.context import context as run_context

    return run_context()


class SensorRegistry:
    """Sensors by name; a name defined again replaces the old definition (a re-run cell)."""

    def __init__(self) -> None:
        self._sensors: dict[str, Sensor] = {}
        self._lock = threading.Lock()

    def add(self, sensor: Sensor) -> None:
        with self._lock:
            self._sensors[sensor.name] = sensor

    def get(self, name: str) -> Sensor | None:
        return self._sensors.get(name)

    def names(self) -> list[str]:
        return sorted(self._sensors)

    def all(self) -> list[Sensor]:
        return [self._sensors[n] for n in self.names()]

    def clear(self) -> None:
        with self._lock:
            self._sensors.clear()


_default = SensorRegistry()


def default_sensors() -> SensorRegistry:
    """The registry the decorators use unless given ``registry=``."""
    return _default


class Sensor:
    """A defined sensor; call ``tick()`` to see what it would request now."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None, kind: str, interval: Any,
                 target: str | None, deployment: str | None, timeout: Any, batch: int,
                 asset: str | None = None, on: Sequence[str] = (), of: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.kind = kind
        where = f"sensor {self.name!r}"
        default = DEFAULT_INTERVAL if kind == "sensor" else EVENT_INTERVAL
        self.interval = parse_duration(default if interval is None else interval,
                                       what=f"The interval of {where}", minimum=0.0, allow_minimum=False)
        self.timeout = parse_duration(DEFAULT_TIMEOUT if timeout is None else timeout,
                                      what=f"The timeout of {where}", minimum=0.0, allow_minimum=False)
        if target is not None and deployment is not None:
            raise DefinitionError(f"Sensor {self.name!r} has both target= and deployment=; give "
                                  "one: an asset selection to materialise or a deployment to trigger.")
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            raise DefinitionError(f"The batch of sensor {self.name!r} must be a whole number >= 1, "
                                  f"got {batch!r}.")
        self.target = target
        self.deployment = deployment
        self.batch = batch
        self.asset = asset
        self.on = tuple(State(str(s).upper()) for s in on)
        self.of = of
        self._takes_context = _takes_argument(fn, "context")

    def __repr__(self) -> str:
        return f"<Sensor {self.name!r} ({self.kind})>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    # ------------------------------------------------------------------ evaluation
    def tick(self, cursor: str | None = None, *, session: Session | None = None) -> SensorResult:
        """Evaluate once from ``cursor`` and return what it would request; launches nothing and
        stores nothing. Asset and run-status sensors read the event stream of ``session``'s
        store (the default session's): ``cursor=None`` starts from the first event."""
        if self.kind == "sensor":
            return self._evaluate_plain(cursor)
        from nbflow.session import get_session

        return self._evaluate_events(cursor, session or get_session())

    def _call(self, ctx: SensorContext, *args: Any) -> list[RunRequest | SkipReason]:
        token = _current.set(ctx)
        try:
            kwargs = {"context": ctx} if self._takes_context else {}
            value = self.fn(*args, **kwargs)
            return _normalise(self.name, value)
        finally:
            _current.reset(token)

    def _evaluate_plain(self, cursor: str | None) -> SensorResult:
        ctx = SensorContext(self, cursor)
        items = self._call(ctx)
        requests = tuple(i for i in items if isinstance(i, RunRequest))
        skips = [i.reason for i in items if isinstance(i, SkipReason)]
        return SensorResult(self.name, requests, skips[0] if skips and not requests else None,
                            ctx.cursor, ctx.cursor_changed)

    def _evaluate_events(self, cursor: str | None, session: Session) -> SensorResult:
        after = _event_cursor(self.name, cursor)
        kinds = [EventKind.MATERIALIZATION] if self.kind == "asset" else [EventKind.RUN_FINISHED]
        store = session.store
        store.flush()
        batch = store.events_after(after, kinds=kinds,
                                   assets=[self.asset] if self.asset else None, limit=self.batch + 1)
        more = len(batch) > self.batch
        batch = batch[:self.batch]
        requests: list[RunRequest] = []
        skips: list[str] = []
        matcher = _run_matcher(self, session) if self.kind == "run_status" else None
        for se in batch:
            ctx = SensorContext(self, str(se.id))
            if matcher is not None:
                if se.state not in self.on:
                    continue
                run = store.get_run(se.run_id)
                if run is None or not matcher(run):
                    continue
                items = self._call(ctx, run)
            else:
                items = self._call(ctx, se)
            keyed = [i for i in items if isinstance(i, RunRequest)]
            for n, r in enumerate(keyed):
                # A reaction is keyed by its event unless the sensor keys it: exactly-once.
                key = r.run_key if r.run_key is not None else f"event-{se.id}" + (f"-{n}" if n else "")
                requests.append(_with_key(r, key))
            skips += [i.reason for i in items if isinstance(i, SkipReason)]
        new = str(batch[-1].id) if batch else cursor
        return SensorResult(self.name, tuple(requests), skips[-1] if skips and not requests else None,
                            new, new != cursor, len(batch), more)


def _with_key(r: RunRequest, key: str) -> RunRequest:
    import dataclasses

    return r if r.run_key == key else dataclasses.replace(r, run_key=key)


def _event_cursor(name: str, cursor: str | None) -> int:
    if cursor in (None, ""):
        return 0
    try:
        return int(str(cursor))
    except ValueError:
        raise NbflowError(f"The cursor of sensor {name!r} is {cursor!r}, not an event id; reset "
                          f"it with `nbflow sensor reset-cursor {name}`.") from None


def _run_matcher(sensor: Sensor, session: Session) -> Callable[[RunRecord], bool]:
    of = sensor.of
    if of is None or of == "*":
        return lambda run: True
    if of.startswith("deployment:"):
        dep = of.removeprefix("deployment:")
        return lambda run: run.deployment == dep
    from nbflow.session.session import select_names

    names = set(select_names(session.registry.graph(), of))
    return lambda run: run.kind == "assets" and any(s.name in names for s in run.steps)


def _normalise(name: str, value: Any) -> list[RunRequest | SkipReason]:
    if value is None:
        return []
    if isinstance(value, (RunRequest, SkipReason)):
        return [value]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise NbflowError(f"Sensor {name!r} returned {type(value).__name__} {value!r:.60}; return "
                          "nbflow.RunRequest(...), nbflow.SkipReason('...'), a list of them, or None.")
    items = list(value)
    for item in items:
        if not isinstance(item, (RunRequest, SkipReason)):
            raise NbflowError(f"Sensor {name!r} returned a list holding {type(item).__name__} "
                              f"{item!r:.60}; a list may hold only nbflow.RunRequest and "
                              "nbflow.SkipReason.")
    return items


def _takes_argument(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _define(kind: str, fn: Callable[..., Any] | None, registry: SensorRegistry | None,
            **options: Any) -> Any:
    def wrap(f: Callable[..., Any]) -> Sensor:
        s = Sensor(f, kind=kind, **options)
        (registry or _default).add(s)
        return s

    return wrap(fn) if fn is not None else wrap


def sensor(fn: Callable[..., Any] | None = None, *, name: str | None = None,
           interval: float | str | None = None, target: str | None = None,
           deployment: str | None = None, timeout: float | str | None = None,
           registry: SensorRegistry | None = None) -> Any:
    """A function the daemon calls every ``interval`` (default 30 s) that returns run requests
    for ``target`` (an asset selection to materialise) or ``deployment`` (to trigger); it
    keeps its position with ``nbflow.context().cursor`` / ``set_cursor(...)``."""
    return _define("sensor", fn, registry, name=name, interval=interval, target=target,
                   deployment=deployment, timeout=timeout, batch=DEFAULT_BATCH)


def asset_sensor(fn: Callable[..., Any] | None = None, *, asset: str, name: str | None = None,
                 target: str | None = None, deployment: str | None = None,
                 interval: float | str | None = None, timeout: float | str | None = None,
                 batch: int = DEFAULT_BATCH, registry: SensorRegistry | None = None) -> Any:
    """A function called with each new materialisation event of ``asset`` (recorded by any
    process on the store), within about a second of its commit while the daemon runs."""
    if not isinstance(asset, str) or not asset:
        raise DefinitionError("An asset sensor needs the asset it watches: asset_sensor(asset='raw_orders').")
    return _define("asset", fn, registry, name=name, interval=interval, target=target,
                   deployment=deployment, timeout=timeout, batch=batch, asset=asset)


def run_status_sensor(fn: Callable[..., Any] | None = None, *, on: Sequence[str] | str = ("FAILED",),
                      of: str | None = None, name: str | None = None, target: str | None = None,
                      deployment: str | None = None, interval: float | str | None = None,
                      timeout: float | str | None = None, batch: int = DEFAULT_BATCH,
                      registry: SensorRegistry | None = None) -> Any:
    """A function called with the record of each run that ends in a state of ``on``, of
    ``of``: ``"deployment:NAME"``, an asset selection, or every run (None)."""
    states = [on] if isinstance(on, str) else list(on)
    bad = [s for s in states if str(s).upper() not in State.__members__]
    if bad or not states:
        raise DefinitionError(f"run_status_sensor(on=...) takes run states, got {states!r}; use "
                              f"some of {', '.join(State.__members__)}.")
    return _define("run_status", fn, registry, name=name, interval=interval, target=target,
                   deployment=deployment, timeout=timeout, batch=batch, on=states, of=of)


__all__ = ["DEFAULT_TIMEOUT", "RunRequest", "Sensor", "SensorContext", "SensorRegistry",
           "SensorResult", "SkipReason", "asset_sensor", "context", "default_sensors",
           "run_status_sensor", "sensor"]
