"""Access commands: ``nbflow token create|list|revoke`` and ``nbflow audit``."""

from __future__ import annotations

import json
import time

import click
from rich.table import Table

from nbflow.cli.output import console, when
from nbflow.session.access import ROLES, create_token, list_tokens, revoke_token
from nbflow.session.audit import audit_view


@click.group()
def token() -> None:
    """API tokens for `nbflow server`."""


@token.command("create")
@click.option("--name", required=True, help="A name for the token, e.g. ci.")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="viewer reads; operator also runs; editor also changes; admin also manages tokens.")
@click.option("--expires", default=None, help="Lifetime, e.g. 30d (default: never expires).")
def token_create(name: str, role: str, expires: str | None) -> int:
    """Make a token and print it once (only its hash is stored).

    Example: nbflow token create --name ci --role operator --expires 30d
    """
    value = create_token(name, role, expires)
    click.echo(value)
    click.echo(f"Token {name!r} ({role}) made; it is shown only now: keep it safe.", err=True)
    return 0


@token.command("list")
def token_list() -> int:
    """List the tokens: name, role, prefix, created, expires, last used.

    Example: nbflow token list
    """
    rows = list_tokens()
    if not rows:
        console.print("No tokens yet; make one with `nbflow token create --name NAME --role viewer`.")
        return 0
    table = Table()
    for col in ("name", "role", "prefix", "created", "expires", "last used"):
        table.add_column(col)
    for t in rows:
        table.add_row(t["name"], t["role"], t["prefix"], when(t["created_at"]),
                      when(t["expires_at"]) if t["expires_at"] else "never", when(t["last_used_at"]))
    console.print(table)
    return 0


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> int:
    """Revoke token NAME at once.

    Example: nbflow token revoke ci
    """
    revoke_token(name)
    console.print(f"Token {name!r} revoked.")
    return 0


@click.command()
@click.option("--since", default="1d", show_default=True, help="How far back, e.g. 2h, 7d.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit(since: str, limit: int, as_json: bool) -> int:
    """Show the audit log, newest first: who changed what, through which edge, and the outcome.

    Example: nbflow audit --since 7d
    """
    from nbflow.core.durations import parse_duration
    from nbflow.errors import ParameterError
    from nbflow.session import get_session

    seconds = parse_duration(since, what="--since", error=ParameterError)
    rows = audit_view(get_session(), since=time.time() - seconds, limit=limit)
    if as_json:
        for r in rows:
            click.echo(json.dumps(r))
        return 0
    if not rows:
        console.print(f"No audit rows in the last {since}.")
        return 0
    table = Table()
    for col in ("time", "actor", "verb", "target", "outcome", "parameters"):
        table.add_column(col)
    for r in rows:
        outcome = r["outcome"] if r["error"] is None else f"{r['outcome']}: {r['error']}"
        table.add_row(when(r["time"]), r["actor"], r["verb"], r["target"] or "-", outcome,
                      json.dumps(r["parameters"]) if r["parameters"] else "")
    console.print(table)
    return 0


COMMANDS = [token, audit]
