"""``nbflow server``: the REST API on uvicorn (FastAPI and uvicorn are imported only here)."""

from __future__ import annotations

import ipaddress
from importlib import import_module

import click

from nbflow.cli.output import console


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("-f", "--file", "file", default=None, help="A .py file that defines assets.")
@click.option("-m", "--module", default=None, help="A module that defines assets.")
@click.option("--no-auth", is_flag=True,
              help="On a loopback address only: ask no token; every request acts as admin.")
def server(host: str, port: int, file: str | None, module: str | None, no_auth: bool) -> int:
    """Serve the REST API (docs at /api/docs, schema at /api/openapi.json).

    Every endpoint but /api/health needs a token (`nbflow token create`). Without any token
    the server refuses to start, unless it listens on a loopback address and --no-auth is
    given; off loopback it always needs a token.

    Example: nbflow server --host 0.0.0.0 --port 8765 -f pipeline.py
    """
    try:
        import uvicorn

        # By name: cli and server are sibling edges in the layer contract; this command only
        # starts the other edge, it uses nothing of it but its entry point.
        create_app = import_module("nbflow.server.app").create_app
    except ImportError as exc:
        raise click.UsageError(f"The server needs FastAPI and uvicorn ({exc}); "
                               "pip install 'nbflow-kit[server]'.") from None
    from nbflow.cli.assets import load_definitions
    from nbflow.session import get_session
    from nbflow.session.access import Principal, count_tokens
    from nbflow.session.audit import current_actor

    load_definitions(file, module)
    session = get_session()
    tokens = count_tokens(session=session)
    loopback = is_loopback(host)
    if no_auth and not loopback:
        raise click.UsageError(f"--no-auth is refused on {host}, which is not a loopback "
                               "address; create a token with `nbflow token create --name admin "
                               "--role admin` and drop --no-auth.")
    if not no_auth and tokens == 0:
        where = ("" if loopback else f" and {host} is reachable from other machines")
        raise click.UsageError(f"There is no API token{where}; create one first with `nbflow "
                               "token create --name admin --role admin`"
                               + (" (or pass --no-auth on loopback)." if loopback else "."))
    open_as = None
    if no_auth:
        user = current_actor().split(":", 1)[1]
        open_as = Principal(name="no-auth", role="admin", label=f"server:{user}")
    app = create_app(session, open_as=open_as)
    console.print(f"nbflow server on http://{host}:{port} (docs: /api/docs)"
                  + (" without tokens (--no-auth)" if no_auth else ""))
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


COMMANDS = [server]
