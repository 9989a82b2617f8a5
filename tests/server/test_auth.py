"""Every endpoint but health answers 401 without a valid token and 403 below its role."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.conftest import ROLES, Live

# (method, path, least role, JSON body): every route of the API
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("GET", "/api/assets", "viewer", None),
    ("GET", "/api/graph", "viewer", None),
    ("GET", "/api/assets/nope", "viewer", None),
    ("POST", "/api/materialize", "operator", {"selection": "nope"}),
    ("GET", "/api/runs", "viewer", None),
    ("GET", "/api/runs/nope", "viewer", None),
    ("POST", "/api/runs/nope/cancel", "operator", None),
    ("GET", "/api/deployments", "viewer", None),
    ("GET", "/api/deployments/nope", "viewer", None),
    ("POST", "/api/deployments", "editor", {"notebook": "missing.ipynb"}),
    ("PUT", "/api/deployments/nope", "editor", {"notebook": "missing.ipynb"}),
    ("POST", "/api/deployments/nope/pause", "editor", None),
    ("POST", "/api/deployments/nope/resume", "editor", None),
    ("DELETE", "/api/deployments/nope", "editor", None),
    ("POST", "/api/deployments/nope/trigger", "operator", {"parameters": {}}),
    ("GET", "/api/caches", "viewer", None),
    ("DELETE", "/api/caches", "editor", None),
    ("GET", "/api/limits", "viewer", None),
    ("PUT", "/api/limits/db", "editor", {"slots": 2}),
    ("POST", "/api/limits/db/reset", "editor", None),
    ("GET", "/api/tokens", "admin", None),
    ("POST", "/api/tokens", "admin", {"name": "x1", "role": "viewer"}),
    ("DELETE", "/api/tokens/nope", "admin", None),
    ("GET", "/api/audit", "viewer", None),
    ("GET", "/api/events?follow=false", "viewer", None),
]


def test_the_table_covers_every_route(live: Live) -> None:
    schema = httpx.get(f"{live.url}/api/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    covered = set()
    for method, path, _, _ in ENDPOINTS:
        bare = path.split("?")[0]
        match = [(m, p) for m, p in routes if m == method and _same(p, bare)]
        assert match, (method, path)
        covered.update(match)
    assert routes - covered == {("GET", "/api/health")}


def _same(template: str, path: str) -> bool:
    a, b = template.split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


def test_health_needs_no_token(live: Live) -> None:
    r = httpx.get(f"{live.url}/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize(("method", "path", "least", "body"), ENDPOINTS)
def test_every_endpoint_checks_the_token_and_the_role(live: Live, method: str, path: str,
                                                      least: str, body: Any) -> None:
    with live.client(None) as anonymous:
        r = anonymous.request(method, path, json=body)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "Unauthorized" and "nbflow token create" in r.json()["message"]
        assert r.headers["www-authenticate"] == "Bearer"
        bad = anonymous.request(method, path, json=body,
                                headers={"Authorization": "Bearer nbf_0000_wrong"})
        assert bad.status_code == 401
    for role in ROLES:
        with live.client(role) as client:
            r = client.request(method, path, json=body)
        if ROLES.index(role) < ROLES.index(least):
            assert r.status_code == 403, (role, r.text)
            assert least in r.json()["message"]
        else:
            assert r.status_code not in (401, 403), (role, r.text)
            assert r.status_code < 500, r.text


def test_a_revoked_or_expired_token_stops_working(live: Live) -> None:
    from nbflow.session.access import create_token, revoke_token

    token = create_token("short", "viewer", "0.5s", session=live.session)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live.url}/api/runs", headers=headers).status_code == 200
    import time

    time.sleep(0.6)
    assert httpx.get(f"{live.url}/api/runs", headers=headers).status_code == 401
    with live.client("viewer") as c:
        assert c.get("/api/runs").status_code == 200
        revoke_token("t-viewer", session=live.session)
        assert c.get("/api/runs").status_code == 401


def test_only_a_hash_of_the_token_is_stored(live: Live) -> None:
    from sqlalchemy import select

    from nbflow.store.schema import tokens

    with live.session.store.connect() as conn:
        rows = conn.execute(select(tokens)).mappings().all()
    stored = " ".join(str(v) for r in rows for v in r.values())
    assert len(rows) == 4
    for token in live.tokens.values():
        assert token not in stored and token.split("_", 2)[2] not in stored
