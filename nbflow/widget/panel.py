"""LineagePanel: the anywidget that shows the lineage graph live and materialises on click.

Python holds the truth in synced traits (``svg`` once per graph change, ``states`` as a small
name -> label dict); ``panel.js`` draws them and sends custom messages back:

    {"action": "select", "name": N}
    {"action": "materialize", "name": N, "scope": "this" | "upstream" | "downstream", "force": B}
    {"action": "materialize_stale"}   {"action": "cancel"}   {"action": "refresh"}
    {"action": "forget", "name": N}   {"action": "runs"}   {"action": "run", "run_id": R}
    {"action": "ping", "nonce": K}    (answered {"pong": K}: the page's check after a restart)

The Runs tab reads ``runs`` (recent runs, kept live from events by ``RunBook``) and ``run``
(the chosen run's detail, re-read while it is in progress).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from nbflow.core.events import Event, EventKind, RunFinished, RunStarted
from nbflow.session.views import json_safe
from nbflow.widget import layout as layout_module
from nbflow.widget.layout import INSTALL_HINT, Layout, layout_graph, render_svg
from nbflow.widget.partitions import partition_detail, strip_of
from nbflow.widget.plan import upstream_to_build
from nbflow.widget.runner import Runner, RunRequest
from nbflow.widget.runs import RunBook, describe_run
from nbflow.widget.states import NodeStates

THROTTLE_S = 0.04          # at most ~25 state pushes a second, whatever the event rate
LIVE_RUNS = 5              # the newest runs whose detail is pushed unasked
RUN_DETAIL_S = 0.3         # a run in progress: its detail is re-read at most this often
_HERE = Path(__file__).parent
_live: weakref.WeakSet[LineagePanel] = weakref.WeakSet()
_told_install = False


class LineagePanel(anywidget.AnyWidget):
    """The live lineage graph of a session's assets; click a node to materialise it."""

    _esm = _HERE / "panel.js"
    _css = _HERE / "panel.css"

    svg = traitlets.Unicode("").tag(sync=True)
    states = traitlets.Dict().tag(sync=True)
    stamp = traitlets.Float(0.0).tag(sync=True)
    """Epoch seconds of the newest event folded into ``states`` (the page measures lag from it)."""
    built_at = traitlets.Float(0.0).tag(sync=True)
    running = traitlets.Bool(False).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    notice = traitlets.Unicode("").tag(sync=True)
    details = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    selection = traitlets.Unicode("*").tag(sync=True)
    engine = traitlets.Unicode("").tag(sync=True)
    runs: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    """Recent runs, newest first (``nbflow.widget.runs.row_of``)."""
    run = traitlets.Dict().tag(sync=True)
    """The detail of the run chosen in the Runs tab (``describe_run``)."""
    strips = traitlets.Dict().tag(sync=True)
    """Partitioned assets -> their partition strip (``nbflow.widget.partitions.strip_of``)."""
    live_runs = traitlets.Dict().tag(sync=True)
    """Details of the runs started while this panel is open (the newest ``LIVE_RUNS``), pushed
    unasked as their events arrive: while a cell runs, the kernel reads no message from the
    page, so a click on a running run is answered from these."""

    def __init__(self, session: Any = None, selection: str = "*", *,
                 namespace: dict[str, Any] | None = None, layout_engine: str = "auto",
                 **kwargs: Any) -> None:
        built = time.time()
        super().__init__(selection=selection, built_at=built, **kwargs)
        if session is None:
            from nbflow.session import get_session
            session = get_session()
        self.session = session
        self.namespace = namespace
        self._layout_engine = layout_engine
        self._lock = threading.RLock()
        self._nodes = NodeStates()
        self._shape: tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None = None
        self._groups: tuple[str, ...] = ()
        self.graph_layout: Layout | None = None
        self._timer: threading.Timer | None = None
        self._last_push = 0.0
        self._dirty_stamp = 0.0
        self._outside_runs: set[str] = set()
        self._runs = RunBook()
        self._runs_dirty = False
        self._run_timer: threading.Timer | None = None
        self._backfills = 0  # backfills started from the panel and still running
        self._live_ids: dict[str, bool] = {}  # run id -> still to re-read (not ended when last read)
        self._closed = False
        self.last_result: Any = None
        self.last_error: BaseException | None = None
        self.runner = Runner(session, on_start=self._run_started, on_finish=self._run_finished)
        self.refresh()
        self.load_runs()
        self._unsubscribe = session.hooks.subscribe(self._on_event)
        self.on_msg(self._on_message)
        _live.add(self)

    # -- graph and resting states ----------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the graph (new layout only if it changed) and every asset's status."""
        from nbflow.core.selection import select
        from nbflow.errors import NbflowError

        graph = self.session.registry.graph()
        try:
            names = tuple(select(graph, self.selection)) if len(graph) else ()
        except NbflowError as exc:   # e.g. a selection whose assets are not defined yet
            names = ()
            self.message = str(exc).splitlines()[0]
        chosen = set(names)
        edges = tuple((u, n) for n in names for u in graph.upstream[n] if u in chosen)
        groups = tuple(graph.specs[n].group or "" for n in names)
        # Status reads the store: do it outside the lock so event pushes are never held up.
        read = self.session.status(self.selection) if names else []
        statuses = {s.name: s.status for s in read}
        strips = {s.name: strip_of(s.partitions) for s in read if s.partitions is not None}
        with self._lock:
            if (names, edges) != self._shape or groups != self._groups:
                self._relayout(names, edges, groups)
            self._nodes.set_status(statuses)
            labels = self._nodes.labels()
        if strips != self.strips:
            self.strips = strips
        self.states = labels
        if self.selected:
            self._show_details(self.selected)

    def _relayout(self, names: tuple[str, ...], edges: tuple[tuple[str, str], ...],
                  groups: tuple[str, ...] = ()) -> None:
        global _told_install
        placed = layout_graph(names, edges, engine=self._layout_engine,
                              groups=dict(zip(names, groups, strict=False)))
        self._shape = (names, edges)
        self._groups = groups
        self.graph_layout = placed
        self._nodes.set_names(names)
        self.engine = placed.engine if names else ""
        # Only a drawn graph laid out without dot because dot is missing earns the hint (an
        # empty graph or one past DOT_LIMIT does not); it goes once it no longer applies.
        missing_dot = (bool(names) and placed.engine == "layered" and self._layout_engine == "auto"
                       and layout_module.find_dot() is None)
        if missing_dot and (not _told_install or self.notice == INSTALL_HINT):
            _told_install = True
            self.notice = INSTALL_HINT
        elif not missing_dot and self.notice == INSTALL_HINT:
            self.notice = ""
        # no nodes: no SVG, and the page says how to define a first asset
        self.svg = render_svg(placed, self._nodes.labels()) if names else ""

    # -- live events -----------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        with self._lock:
            changed = self._nodes.apply(event)
            if changed:
                self._dirty_stamp = max(self._dirty_stamp, event.ts)
            if self._runs.apply(event):
                self._runs_dirty = changed = True
        if changed:
            self._schedule_push()
        if event.kind is not EventKind.MATERIALIZATION:
            with self._lock:
                if event.kind is EventKind.RUN_STARTED:
                    self._live_ids[event.run_id] = True
                    for old in list(self._live_ids)[:-LIVE_RUNS]:
                        del self._live_ids[old]
                elif event.run_id in self._live_ids:
                    self._live_ids[event.run_id] = True
                live = event.run_id in self._live_ids
            if live or self.run.get("run_id") == event.run_id:
                self._schedule_run_detail()
        # A run of assets started outside the panel (a magic, nf.materialize): say so, and
        # settle from the store when it ends.
        if event.kind is EventKind.RUN_STARTED:
            if self.runner.busy or self._backfills or not isinstance(event.data, RunStarted) \
                    or event.data.kind != "assets":
                return  # the panel's own runs (clicks, its backfills) say how they went themselves
            self._outside_runs.add(event.run_id)
            label = event.data.selection or event.data.name or ""
            self.message = f"Run {event.run_id} of {label}..."
        elif event.kind is EventKind.RUN_FINISHED and event.run_id in self._outside_runs:
            self._outside_runs.discard(event.run_id)
            state = getattr(event.state, "value", event.state) or "FINISHED"
            error = event.data.error if isinstance(event.data, RunFinished) else None
            self.message = f"Run {event.run_id}: {state}" + (f" ({error})." if error else ".")
            threading.Thread(target=self._settle_after_run, daemon=True).start()

    def _schedule_push(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._timer is not None:
                return
            wait = max(0.0, THROTTLE_S - (now - self._last_push))
            if wait == 0.0:
                self._timer = None
            else:
                self._timer = threading.Timer(wait, self._push)
                self._timer.daemon = True
                self._timer.start()
                return
        self._push()

    def _push(self) -> None:
        if self._closed:
            return
        with self._lock:
            self._timer = None
            self._last_push = time.monotonic()
            labels = self._nodes.labels()
            stamp = self._dirty_stamp
            runs = self._runs.list() if self._runs_dirty else None
            self._runs_dirty = False
        if runs is None:
            self.hold_sync_and_set(states=labels, stamp=stamp)
        else:
            self.hold_sync_and_set(states=labels, stamp=stamp, runs=runs)

    # -- the Runs tab ----------------------------------------------------------------------------

    def load_runs(self) -> None:
        """Re-read the recent runs from the store (live ones it has not recorded yet stay)."""
        from nbflow.session.views import runs_view

        store = getattr(self.session, "store", None)
        if store is None:
            return
        summaries = runs_view(self.session, limit=self._runs.limit)
        with self._lock:
            self._runs.load(list(summaries))
            self._runs_dirty = False
            rows = self._runs.list()
        self.runs = rows

    def show_run(self, run_id: str) -> None:
        """Put one run's detail in the Runs tab (``run``); an empty id clears it."""
        if not run_id:
            self.run = {}
            return
        store = getattr(self.session, "store", None)
        flush = getattr(store, "flush", None)
        if flush is not None:
            flush()
        self.run = describe_run(self.session, run_id)

    def _schedule_run_detail(self) -> None:
        with self._lock:
            if self._run_timer is not None:
                return
            self._run_timer = threading.Timer(RUN_DETAIL_S, self._reread_run)
            self._run_timer.daemon = True
            self._run_timer.start()

    def _reread_run(self) -> None:
        with self._lock:
            self._run_timer = None
        if self._closed:
            return
        try:
            with self._lock:
                due = [run_id for run_id, again in self._live_ids.items() if again]
                keep = list(self._live_ids)
            shown = str(self.run.get("run_id") or "")
            if due or shown:
                flush = getattr(getattr(self.session, "store", None), "flush", None)
                if flush is not None:
                    flush()
            if due:
                fresh = {run_id: describe_run(self.session, run_id) for run_id in due}
                with self._lock:
                    for run_id, detail in fresh.items():
                        if run_id in self._live_ids and detail.get("state") not in ("RUNNING", "PENDING"):
                            self._live_ids[run_id] = False  # ended: this was its last read
                live = {k: v for k, v in {**self.live_runs, **fresh}.items() if k in keep}
                self.live_runs = live
            if shown and shown not in due:
                self.run = describe_run(self.session, shown)
            elif shown:
                self.run = fresh[shown]
        except Exception as exc:  # noqa: BLE001 - a background thread: show it, never lose it
            self.message = f"{type(exc).__name__}: {exc}".splitlines()[0]

    def forget(self, name: str) -> list[str]:
        """Remove ``name`` from the graph (``session.forget``; its history stays in the store)."""
        redefined = self.session.forget(name)
        if self.selected == name:
            self.selected = ""
            self.details = {}
        self.refresh()
        also = f"; {', '.join(redefined)} no longer read{'s' if len(redefined) == 1 else ''} it" if redefined else ""
        self.message = f"Forgot {name!r} (its history stays in the store){also}."
        return list(redefined)

    def hold_sync_and_set(self, **values: Any) -> None:
        with self.hold_sync():
            for key, value in values.items():
                setattr(self, key, value)

    def _settle_after_run(self) -> None:
        if self._closed:
            return
        try:
            store = getattr(self.session, "store", None)
            flush = getattr(store, "flush", None)
            if flush is not None:
                flush()
            self.running = self.runner.busy
            self.refresh()
            self.load_runs()
        except Exception as exc:  # noqa: BLE001 - a background thread: show it, never lose it
            if not self._closed:
                self.message = f"{type(exc).__name__}: {exc}".splitlines()[0]

    # -- runs ------------------------------------------------------------------------------------

    def materialize(self, name: str | None = None, scope: str = "this",
                    force: bool | None = None, *, partitions: str | None = None) -> RunRequest:
        """Start a run in the worker thread: one node (``this``, ``upstream``, ``downstream``)
        or, with no name, everything stale or missing in the panel's selection.

        ``force`` rebuilds fresh assets too; by default ``this`` forces and the wider scopes
        rebuild only what is stale or missing. ``partitions`` (``"2026-01-01...2026-01-31"``)
        runs those partitions of a partitioned node, fresh ones CACHED unless ``force``."""
        if partitions is not None and name is not None:
            if name not in self.session.registry.graph():
                raise KeyError(f"{name!r} is not an asset of this panel")
            return self.runner.submit(RunRequest(name, force=bool(force), names=(name,),
                                                 partitions=partitions))
        if name is None:
            request = RunRequest(self.selection, force=False, names=self._shape[0] if self._shape else ())
        else:
            graph = self.session.registry.graph()
            if name not in graph:
                raise KeyError(f"{name!r} is not an asset of this panel")
            if scope == "this":
                build, _notes = upstream_to_build(self.session, name)
                names = (*build, name)
                request = RunRequest(", ".join(names), force=True if force is None else force,
                                     names=names)
            elif scope == "upstream":
                request = RunRequest(f"+{name}", force=bool(force),
                                     names=(*graph.sorted(graph.upstream_of([name])), name))
            elif scope == "downstream":
                request = RunRequest(f"{name}+", force=bool(force),
                                     names=(name, *graph.sorted(graph.downstream_of([name]))))
            else:
                raise ValueError(f"scope must be this, upstream or downstream, not {scope!r}")
        return self.runner.submit(request)

    def backfill(self, name: str, partitions: str, *, submit: bool = False) -> str:
        """Start a backfill of ``name`` over ``partitions`` in a thread of its own (one run per
        partition; the plan is in the store first); the message line follows its progress.
        ``submit`` only writes the plan: the daemon runs it."""
        from nbflow.session.backfills import plan_backfill, run_backfill, submit_backfill

        plan = plan_backfill(self.session, name, partitions)
        backfill_id = submit_backfill(self.session, plan)
        if submit:
            self.message = (f"Backfill {backfill_id} of {name} ({len(plan.steps)} steps) submitted: "
                            f"the daemon runs it (`nbflow backfill show {backfill_id}`).")
            return backfill_id
        self.message = f"Backfill {backfill_id} of {name}: 0 of {len(plan.steps)} steps..."

        def progress(done: int, total: int) -> None:
            self.message = f"Backfill {backfill_id} of {name}: {done} of {total} steps..."

        def work() -> None:
            try:
                row = run_backfill(self.session, backfill_id, progress=progress)
                counts = self.session.store.backfills.counts(backfill_id)
                shown = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
                said = f"Backfill {backfill_id} of {name}: {row.state} ({shown})."
            except Exception as exc:  # noqa: BLE001 - a background thread: show it, never lose it
                said = f"Backfill {backfill_id}: {type(exc).__name__}: {exc}".splitlines()[0]
            self._backfills -= 1
            if self._closed:
                return
            try:  # the graph and runs first: the message is the last word (tests wait for it)
                self.refresh()
                self.load_runs()
            finally:
                self.message = said

        self._backfills += 1
        threading.Thread(target=work, name=f"nbflow-panel-backfill-{backfill_id}", daemon=True).start()
        return backfill_id

    def cancel(self) -> bool:
        """Stop the running materialisation after its current step."""
        stopped = self.runner.cancel()
        if stopped:
            self.message = "Cancelling after the current step..."
        return stopped

    def wait(self, timeout: float | None = 60) -> bool:
        """Block until the panel's runs are done (for scripts and tests)."""
        done = self.runner.wait(timeout)
        time.sleep(THROTTLE_S * 2)
        return done

    def _run_started(self, request: RunRequest) -> None:
        with self._lock:
            self._nodes.queue(request.names)
            self._dirty_stamp = time.time()
        self.hold_sync_and_set(running=True, message=f"Running {request.selection}...")
        self._schedule_push()

    def _run_finished(self, request: RunRequest, result: Any, error: BaseException | None) -> None:
        self.last_result, self.last_error = result, error
        if error is not None:
            message = f"{type(error).__name__}: {error}".splitlines()[0]
        else:
            message = summarize(result)
            self._bind_values(result)
        store = getattr(self.session, "store", None)
        if store is not None and hasattr(store, "flush"):
            store.flush()
        self.refresh()
        self.load_runs()
        self.hold_sync_and_set(running=self.runner.pending > 0, message=message)

    def _bind_values(self, result: Any) -> None:
        from nbflow.widget.values import bind

        bind(self.namespace if self.namespace is not None else _user_namespace(), result)

    # -- messages from the page ------------------------------------------------------------------

    def _on_message(self, _widget: Any, content: Mapping[str, Any], _buffers: Any) -> None:
        action = content.get("action")
        try:
            if action == "ping":  # the page checks that this kernel is still the one behind it
                self.send({"pong": content.get("nonce")})
            elif action == "select":
                self.selected = str(content.get("name") or "")
                self._show_details(self.selected)
            elif action == "materialize":
                force = content.get("force")
                parts = content.get("partitions")
                self.materialize(str(content["name"]), str(content.get("scope", "this")),
                                 None if force is None else bool(force),
                                 partitions=None if parts is None else str(parts))
            elif action == "backfill":
                self.backfill(str(content["name"]), str(content.get("partitions") or "*"),
                              submit=bool(content.get("submit")))
            elif action == "materialize_stale":
                self.materialize(None)
            elif action == "cancel":
                self.cancel()
            elif action == "refresh":
                self.refresh()
                self.load_runs()
            elif action == "forget":
                self.forget(str(content["name"]))
            elif action == "runs":
                self.load_runs()
            elif action == "run":
                self.show_run(str(content.get("run_id") or ""))
        except Exception as exc:  # noqa: BLE001 - the panel shows errors as data
            self.message = f"{type(exc).__name__}: {exc}".splitlines()[0]

    def _show_details(self, name: str) -> None:
        if not name:
            self.details = {}
            return
        self.details = describe_asset(self.session, name, self._nodes)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The live widget, plus a static SVG of the graph for places that cannot run it.

        GitHub, nbviewer, a papermill output and the run history show the SVG (the graph and
        its states when the cell ran); JupyterLab shows the live panel.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict) and self.graph_layout is not None and self._shape and self._shape[0]:
            data["image/svg+xml"] = render_svg(self.graph_layout, dict(self.states))
            counts: dict[str, int] = {}
            for label in self.states.values():
                counts[label] = counts.get(label, 0) + 1
            shown = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
            data["text/plain"] = f"nbflow lineage panel: {len(self._shape[0])} assets ({shown})"
        return bundle

    def close(self) -> None:
        self._closed = True
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
        _live.discard(self)
        super().close()


def describe_asset(session: Any, name: str, nodes: NodeStates) -> dict[str, Any]:
    """The details pane's content for one asset: its view (``nbflow.session.views``) with the
    panel's live label and error, and a preview of the stored value."""
    from nbflow.errors import NotFoundError
    from nbflow.session.views import asset_view

    try:
        view = asset_view(session, name, history=HISTORY)
    except NotFoundError:
        return {"name": name, "label": "unknown", "error": f"{name!r} is no longer defined."}
    out: dict[str, Any] = {
        "name": name, "label": nodes.label(name), "kind": view["kind"], "group": view["group"],
        "description": view["description"], "upstream": view["upstream"],
        "downstream": view["downstream"], "status": view["status"], "reason": view["reason"],
        "error": _in_cells(nodes.errors.get(name) or view["error"]),
    }
    last = view["last"]
    if last is not None:
        out["last"] = {
            "time": _iso(last["time"]), "ts": _epoch(last["time"]), "duration": last["duration"],
            "run_id": last["run_id"], "code_version": last["code_version"],
            "data_version": last["data_version"], "metadata": last["metadata"],
            "uri": last["uri"],
        }
    out["history"] = [{"ts": _epoch(m["time"]), "duration": m["duration"],
                       "rows": m["metadata"].get("rows"), "run_id": m["run_id"]}
                      for m in view["history"]]
    out["preview"] = _preview(session, name) if last is not None else None
    spec = session.registry.graph().specs.get(name)
    if spec is not None and (spec.partitions is not None or spec.freshness is not None):
        [status] = session.status([name])
        if status.partitions is not None:
            out["partitions"] = partition_detail(status.partitions)
        late = status.freshness
        if late is not None:  # its freshness policy: overdue since, or on time until, a deadline
            out["freshness"] = {"overdue": late.overdue, "reason": late.reason,
                                "deadline": None if late.deadline is None else late.deadline.timestamp()}
    return out


HISTORY = 5
PREVIEW_ROWS = 5
PREVIEW_CHARS = 1500


def _preview(session: Any, name: str) -> dict[str, Any] | None:
    """A look at the stored value: first rows and schema for a DataFrame, else its repr."""
    try:
        value = session.load(name)
    except Exception as exc:  # noqa: BLE001 - a value that cannot be loaded says why
        return {"kind": "error", "text": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    columns = getattr(value, "columns", None)
    if columns is not None and hasattr(value, "head") and hasattr(value, "dtypes"):
        head = value.head(PREVIEW_ROWS)
        return {"kind": "table", "shape": list(getattr(value, "shape", ())),
                "columns": [str(c) for c in columns],
                "dtypes": [str(t) for t in value.dtypes],
                "rows": [[json_safe(v) for v in row] for row in head.itertuples(index=False)]}
    text = repr(value)
    if len(text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS] + "…"
    return {"kind": "repr", "type": type(value).__name__, "text": text}


def _epoch(ts: Any) -> float | None:
    if ts is None:
        return None
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    return ts.timestamp() if isinstance(ts, datetime) else float(ts)


def summarize(result: Any) -> str:
    """One line about a finished run: ``Run 1a2b: 3 succeeded, 1 cached.``"""
    if result is None:
        return ""
    counts: dict[str, int] = {}
    for state in dict(getattr(result, "states", {})).values():
        key = str(getattr(state, "value", state)).lower()
        counts[key] = counts.get(key, 0) + 1
    parts = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing to do"
    return f"Run {getattr(result, 'run_id', '?')}: {parts}."


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if isinstance(ts, datetime):
        return ts.isoformat(timespec="seconds")
    return datetime.fromtimestamp(float(ts)).astimezone().isoformat(timespec="seconds")


def _in_cells(text: str | None) -> str | None:
    """A traceback with notebook cells' frames written ``Cell In[n], line k``, as IPython does."""
    if not text:
        return text
    try:
        from IPython import get_ipython
    except ImportError:
        return text
    from nbflow.widget.tracebacks import cell_numbers, in_cells

    return in_cells(text, cell_numbers(get_ipython()))


def _user_namespace() -> dict[str, Any] | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.user_ns


def refresh_panels() -> None:
    """Refresh every live panel (the magics call this after defining or running a cell)."""
    for p in list(_live):
        try:
            p.refresh()
        except Exception as exc:  # noqa: BLE001 - shown in that panel, the others still refresh
            p.message = f"{type(exc).__name__}: {exc}".splitlines()[0]


def panel(selection: str = "*", *, session: Any = None, layout_engine: str = "auto") -> LineagePanel:
    """The live lineage panel for ``selection`` (every asset by default); display it in a cell.

    ``layout_engine`` is ``auto`` (Graphviz ``dot`` when installed), ``dot`` or ``layered``.
    """
    return LineagePanel(session=session, selection=selection, layout_engine=layout_engine)


__all__ = ["LineagePanel", "describe_asset", "json_safe", "panel", "refresh_panels", "summarize"]
