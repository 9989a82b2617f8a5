"""Runs tab: the recent runs (assets, flows, tasks, deployments) from the store, kept live by events.

``RunBook`` starts from ``runs_view`` and folds the event stream in, so a run that starts in
this kernel (a click, a magic, a flow called in a cell) shows up and changes state without a
store read. ``describe_run`` is one run's detail for the pane: ``run_view`` with epoch times,
cache hits counted, and for a flow run its task graph (steps, with the futures they waited for
as edges) drawn small.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from nbflow.core.events import Event, EventKind, RunFinished, RunStarted

LIMIT = 30
LOG_LINES = 200
STEP_LABELS = {"PENDING": "queued", "RUNNING": "running", "RETRYING": "running",
               "SUCCEEDED": "succeeded", "CACHED": "cached", "FAILED": "failed",
               "CRASHED": "failed", "SKIPPED": "skipped", "CANCELLED": "cancelled"}
"""A step's state as the label its node shows in a run's task graph."""


def epoch(ts: Any) -> float | None:
    """ISO text, a datetime or epoch seconds as epoch seconds (the page shows local time)."""
    if ts is None or ts == "":
        return None
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    return ts.timestamp() if isinstance(ts, datetime) else float(ts)


def _first_line(text: Any) -> str | None:
    return str(text).strip().splitlines()[0] if text else None


def row_of(summary: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the runs list from a ``RunSummary``."""
    counts: dict[str, int] = {}
    for step in summary["steps"]:
        counts[step["state"]] = counts.get(step["state"], 0) + 1
    return {"run_id": summary["run_id"], "kind": summary["kind"], "name": summary["name"] or "",
            "state": summary["state"], "started": epoch(summary["started_at"] or summary["created_at"]),
            "duration": summary["duration"], "deployment": summary["deployment"],
            "parent": summary["parent_run_id"], "error": _first_line(summary["error"]),
            "steps": len(summary["steps"]), "counts": counts}


class RunBook:
    """Recent runs by id, newest first; ``apply`` folds one event in. Callers hold a lock."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.rows: dict[str, dict[str, Any]] = {}
        self._steps: dict[str, dict[str, str]] = {}

    def load(self, summaries: list[Mapping[str, Any]]) -> None:
        """Replace what is known with the store's view (live runs it does not have yet stay)."""
        live = {k: v for k, v in self.rows.items() if v["state"] in ("RUNNING", "PENDING")}
        self.rows = {s["run_id"]: row_of(s) for s in summaries}
        for run_id, row in live.items():
            if run_id not in self.rows:
                self.rows[run_id] = row
        self._steps = {k: v for k, v in self._steps.items() if k in self.rows}

    def apply(self, event: Event) -> bool:
        """Fold one event in; True when the list changed."""
        kind, run_id = event.kind, event.run_id
        if kind is EventKind.RUN_STARTED:
            data = event.data if isinstance(event.data, RunStarted) else RunStarted()
            self.rows[run_id] = {
                "run_id": run_id, "kind": str(data.kind),
                "name": str(data.name or data.selection or ""), "state": "RUNNING",
                "started": event.ts, "duration": None, "deployment": data.deployment,
                "parent": data.parent_run_id, "error": None, "steps": 0, "counts": {}}
            self._steps[run_id] = {}
            self._trim()
            return True
        row = self.rows.get(run_id)
        if row is None:
            return False
        if kind is EventKind.RUN_FINISHED:
            state = event.state
            row["state"] = str(getattr(state, "value", state) or "SUCCEEDED")
            row["error"] = _first_line(event.data.error if isinstance(event.data, RunFinished) else None)
            if row["started"] is not None:
                row["duration"] = max(0.0, event.ts - row["started"])
            return True
        if kind in (EventKind.STEP_STARTED, EventKind.STEP_FINISHED, EventKind.STEP_RETRYING) and event.step:
            steps = self._steps.setdefault(run_id, {})
            if kind is EventKind.STEP_FINISHED:
                steps[event.step] = str(getattr(event.state, "value", event.state) or "SUCCEEDED")
            else:
                steps[event.step] = "RETRYING" if kind is EventKind.STEP_RETRYING else "RUNNING"
            counts: dict[str, int] = {}
            for label in steps.values():
                counts[label] = counts.get(label, 0) + 1
            row["counts"], row["steps"] = counts, len(steps)
            return True
        return False

    def _trim(self) -> None:
        for run_id in [r["run_id"] for r in self.list()[self.limit:]]:
            self.rows.pop(run_id, None)
            self._steps.pop(run_id, None)

    def list(self) -> list[dict[str, Any]]:
        """Newest first."""
        return sorted(self.rows.values(), key=lambda r: -(r["started"] or 0.0))


def describe_run(session: Any, run_id: str) -> dict[str, Any]:
    """The Runs tab's detail of one run: steps (state, attempts, cache hit, duration, error),
    logs, child runs and, for a flow run, its task graph as a small SVG."""
    from nbflow.errors import NotFoundError
    from nbflow.session.views import run_view

    try:
        view = run_view(session, run_id)
    except NotFoundError:
        return {"run_id": run_id, "missing": f"Run {run_id} is not in the store (yet)."}
    steps = [{"name": s["name"], "kind": s["kind"], "state": s["state"], "attempts": s["attempts"],
              "cached": s["state"] == "CACHED", "started": epoch(s["started_at"]),
              "duration": s["duration"], "upstream": s["upstream"], "error": s["error"]}
             for s in view["steps"]]
    out: dict[str, Any] = {
        **row_of(view), "selection": view["selection"], "parameters": view["parameters"],
        "output_path": view["output_path"], "failure": view["failure"],
        "full_error": view["error"], "steps": steps,
        "cache_hits": sum(1 for s in steps if s["cached"]),
        "children": [row_of(c) for c in view["children"]],
        "logs": [{"ts": epoch(entry["time"]), "step": entry["step"], "level": entry["level"],
                  "message": entry["message"]} for entry in view["logs"][-LOG_LINES:]],
        "graph": task_graph_svg(steps) if view["kind"] == "flow" and steps else "",
    }
    return out


def task_graph_svg(steps: list[dict[str, Any]]) -> str:
    """A flow run's steps laid out left to right, an edge from each future a step waited for."""
    from nbflow.widget.layout import layout_graph, render_svg

    names = [s["name"] for s in steps]
    known = set(names)
    edges = [(u, s["name"]) for s in steps for u in s["upstream"] if u in known]
    placed = layout_graph(names, edges, engine="layered")
    labels = {s["name"]: STEP_LABELS.get(s["state"], "queued") for s in steps}
    return render_svg(placed, labels, id_prefix="nbflow-step-")


__all__ = ["LIMIT", "STEP_LABELS", "RunBook", "describe_run", "epoch", "row_of", "task_graph_svg"]
