"""``nbflow.Client``: the module's verbs over the REST API of ``nbflow server``.

``Client(url, token)`` answers with the same record types as ``nbflow`` itself (``RunRecord``,
``AssetStatus``, ``MaterializeResult``), rebuilt from the server's JSON; deployments come back
as the deployment views (plain dicts). Errors come back as nbflow's own error classes (a 404 is a
``NotFoundError``, a 422 a ``ParameterError``...). httpx is imported when a client is made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Self

from nbflow.core.freshness_policy import FreshnessState
from nbflow.core.records import AssetStatus, MaterializationRecord, RunRecord, StepRecord
from nbflow.core.states import TERMINAL, State
from nbflow.errors import (
    ConflictError,
    NbflowError,
    NotFoundError,
    ParameterError,
    SelectionError,
    StoreError,
)
from nbflow.session.result import MaterializeResult


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _step(s: Mapping[str, Any]) -> StepRecord:
    return StepRecord(name=s["name"], state=State(s["state"]), attempts=s["attempts"],
                      started_at=_time(s["started_at"]), ended_at=_time(s["ended_at"]),
                      error=s["error"], kind=s["kind"], upstream=tuple(s["upstream"]))


def run_record(r: Mapping[str, Any]) -> RunRecord:
    """A ``RunRecord`` from a run summary or run view."""
    return RunRecord(
        run_id=r["run_id"], kind=r["kind"], state=State(r["state"]), name=r["name"],
        created_at=_time(r["created_at"]), started_at=_time(r["started_at"]),
        ended_at=_time(r["ended_at"]), steps=tuple(_step(s) for s in r["steps"]),
        selection=r.get("selection"), deployment=r["deployment"],
        scheduled_at=_time(r["scheduled_at"]), parameters=r.get("parameters") or {},
        error=r["error"], output_path=r.get("output_path"), attempt=r["attempt"],
        parent_run_id=r["parent_run_id"], tags=r.get("tags") or {},
        failure=r.get("failure") or {})


def _materialization(m: Mapping[str, Any]) -> MaterializationRecord:
    return MaterializationRecord(
        asset=m["asset"], run_id=m["run_id"], ts=_time(m["time"]),  # type: ignore[arg-type]
        code_version=m["code_version"], data_version=m["data_version"],
        input_versions=m["input_versions"], metadata=m["metadata"], uri=m["uri"], io=m["io"],
        duration=m["duration"], partition=m["partition"])


def asset_status(a: Mapping[str, Any]) -> AssetStatus:
    """An ``AssetStatus`` from an item of ``GET /api/assets``."""
    f = a.get("freshness")
    return AssetStatus(name=a["name"], status=a["status"], reason=a["reason"],
                       last=None if a["last"] is None else _materialization(a["last"]),
                       error=a["error"], deployment_run_id=a["deployment_run_id"],
                       freshness=None if f is None else FreshnessState(
                           overdue=f["overdue"], deadline=_time(f["deadline"]),
                           reason=f["reason"], partition=f["partition"]))


_ERRORS: dict[int, type[NbflowError]] = {409: ConflictError, 503: StoreError}


def _raise(status: int, body: Any) -> None:
    message = body.get("message") if isinstance(body, dict) else None
    message = message or f"The server answered {status}: {body!r}."
    if status == 404:
        raise NotFoundError(message, kind=body.get("kind") or "resource",
                            name=body.get("name") or "", suggestion=body.get("suggestion"))
    if status == 422 and body.get("field") == "selection":
        raise SelectionError(message, selection="")
    if status in (400, 422):
        raise ParameterError(message, parameter=body.get("field"))
    if status == 409:
        raise ConflictError(message, reason=body.get("error", "conflict"))
    raise _ERRORS.get(status, NbflowError)(message)


class Client:
    """The verbs of ``nbflow`` against a server: ``Client("http://host:8765", token)``.

    Example: ``nf.Client("http://127.0.0.1:8765", os.environ["NBFLOW_API_TOKEN"]).runs(5)``
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 300.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url + "/api", headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise NbflowError(f"Cannot reach the nbflow server at {self.url} ({exc}); start it "
                              "with `nbflow server` or fix the URL.") from None
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text}
        if response.status_code in (401, 403):
            raise NbflowError(body.get("message") if isinstance(body, dict) else str(body))
        if response.status_code >= 400:
            _raise(response.status_code, body)
        return body

    # ------------------------------------------------------------------ assets
    def status(self, selection: str = "*") -> list[AssetStatus]:
        """Every selected asset: fresh / stale (and why) / missing / failed."""
        return [asset_status(a) for a in self._call("GET", "/assets",
                                                    params={"selection": selection})]

    def asset(self, name: str) -> dict[str, Any]:
        """The asset view: definition, status and materialisation history."""
        return dict(self._call("GET", f"/assets/{name}"))

    def materialize(self, selection: str = "*", *, force: bool = False) -> MaterializeResult:
        """Materialise on the server and wait; values stay there (``result[name]`` refuses)."""
        r = self._call("POST", "/materialize", json={"selection": selection, "force": force})
        return MaterializeResult(run_id=r["run_id"], state=State(r["state"]),
                                 states={k: State(v) for k, v in r["states"].items()},
                                 errors=r["errors"], duration=r["duration"], session=None)

    # ------------------------------------------------------------------ runs
    def runs(self, limit: int = 20, state: str | None = None, deployment: str | None = None,
             kind: str | None = None) -> list[RunRecord]:
        """Recent runs, newest first, each with its steps (pages fetched as needed)."""
        out: list[RunRecord] = []
        cursor: str | None = None
        while len(out) < limit:
            params = {k: v for k, v in {"limit": min(limit - len(out), 200), "before": cursor,
                                        "state": state, "deployment": deployment,
                                        "kind": kind}.items() if v is not None}
            page = self._call("GET", "/runs", params=params)
            out.extend(run_record(r) for r in page["runs"])
            cursor = page["next"]
            if cursor is None:
                break
        return out

    def get_run(self, run_id: str) -> RunRecord:
        """One run and its steps; a unique prefix of the id is enough."""
        return run_record(self._call("GET", f"/runs/{run_id}"))

    def cancel(self, run_id: str) -> RunRecord:
        """Cancel a run that has not started; ``ConflictError`` with the reason otherwise."""
        return run_record(self._call("POST", f"/runs/{run_id}/cancel"))

    # ------------------------------------------------------------------ deployments
    def deploy(self, notebook: str, **options: Any) -> dict[str, Any]:
        """Define or update a deployment of a notebook path on the server; its view."""
        return dict(self._call("POST", "/deployments", json={"notebook": notebook, **options}))

    def deployments(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/deployments"))

    def deployment(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/deployments/{name}"))

    def pause(self, name: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/deployments/{name}/pause"))

    def resume(self, name: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/deployments/{name}/resume"))

    def delete_deployment(self, name: str) -> None:
        self._call("DELETE", f"/deployments/{name}")

    def trigger(self, name: str, parameters: Mapping[str, Any] | None = None,
                wait: bool = True, *, poll: float = 0.5) -> RunRecord | str:
        """Run deployment ``name`` now; with ``wait`` the finished run, else its run id."""
        run_id = str(self._call("POST", f"/deployments/{name}/trigger",
                                json={"parameters": dict(parameters or {})})["run_id"])
        if not wait:
            return run_id
        while True:
            run = self.get_run(run_id)
            if run.state in TERMINAL:
                return run
            time.sleep(poll)

    # ------------------------------------------------------------------ tasks, access
    def limit(self, tag: str, slots: int | None) -> None:
        self._call("PUT", f"/limits/{tag}", json={"slots": slots})

    def clear_cache(self, task: str | None = None) -> int:
        params = {} if task is None else {"task": task}
        return int(self._call("DELETE", "/caches", params=params)["count"])

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self._call("GET", "/audit", params={"limit": limit}))

    def events(self, after: int = 0, *, follow: bool = False) -> Iterator[dict[str, Any]]:
        """The store's events after stream id ``after`` (``follow`` keeps waiting for more)."""
        with self._http.stream("GET", "/events", params={"after": after, "follow": follow},
                               timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                _raise(response.status_code, response.json())
            for line in response.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])


__all__ = ["Client", "asset_status", "run_record"]
