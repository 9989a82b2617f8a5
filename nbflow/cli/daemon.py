"""The daemon command, under two names: ``nbflow daemon`` and ``nbflow scheduler`` (the same)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from nbflow.cli.output import console, styled

_DOC = """Run the daemon in the foreground: deployments on their schedules{alias}.

SIGTERM or Ctrl-C stops taking new work, lets running notebooks finish for --grace seconds,
then cancels them; a second signal cancels at once. A failing pass is reported and retried
with back-off.

Example: nbflow {name} --max-concurrency 4
"""


def _serve(name: str, once: bool, max_concurrency: int, poll: float, grace: float) -> int:
    from nbflow.automation.daemon import Daemon
    from nbflow.automation.schedules import ScheduleSource
    from nbflow.core.events import Event, EventKind
    from nbflow.session import get_session

    session = get_session()
    schedules = ScheduleSource(session, max_concurrency=max_concurrency, poll=poll)
    daemon = Daemon([schedules])
    names: dict[str, str] = {}

    def log(e: Event) -> None:
        if e.kind is EventKind.RUN_STARTED and e.data.get("kind") == "deployment":
            names[e.run_id] = str(e.data.get("name"))
            console.print(f"{when_now()} started  {names[e.run_id]} run {e.run_id}")
        elif e.kind is EventKind.RUN_FINISHED and e.run_id in names:
            extra = f": {e.data.get('error')}" if e.data.get("error") else ""
            console.print(f"{when_now()} {styled(e.state)} {names.pop(e.run_id)} run {e.run_id}{extra}")

    def on_error(source: str, exc: BaseException, pause: float) -> None:
        what = "pass failed" if len(daemon.sources) == 1 else f"{source} pass failed"
        console.print(f"{when_now()} [red]{what}[/] ({type(exc).__name__}: {exc}); "
                      f"retrying in {pause:g} s")

    def on_stop() -> None:
        console.print(f"{when_now()} stopping: no new runs; waiting up to {grace:g} s for "
                      f"{len(daemon.running())} running notebook(s).")

    session.hooks.subscribe(log)
    daemon.on_error = on_error
    schedules.on_crashed = lambda ids: console.print(
        f"{when_now()} marked CRASHED (their scheduler or process died): {', '.join(ids)}")
    with daemon.signals(on_stop):
        try:
            if once:
                report = daemon.run_once()[schedules.name]
                console.print(f"{when_now()} one pass: {len(report.claimed)} tick(s) claimed, "
                              f"{len(report.started)} run(s) started, "
                              f"{len(report.crashed)} marked crashed.")
            else:
                console.print(f"{when_now()} {name} started (pid {os.getpid()}, "
                              f"max concurrency {max_concurrency}); Ctrl-C to stop.")
                daemon.serve()
            cancelled = daemon.drain(grace)
            if cancelled:
                console.print(f"{when_now()} cancelled {len(cancelled)} run(s) still going "
                              f"after {grace:g} s.")
        finally:
            daemon.close()
    console.print(f"{when_now()} {name} stopped.")
    sys.stdout.flush()
    return 0


def _command(name: str, alias: str) -> click.Command:
    def run(once: bool, max_concurrency: int, poll: float, grace: float) -> int:
        return _serve(name, once, max_concurrency, poll, grace)

    run.__doc__ = _DOC.format(name=name, alias=alias)
    options: list[Any] = [
        click.option("--once", is_flag=True, help="One pass over due work, wait for it, then exit."),
        click.option("--max-concurrency", type=int, default=4, show_default=True,
                     help="Notebooks this daemon runs at once."),
        click.option("--poll", type=float, default=1.0, show_default=True,
                     help="Seconds between looks for queued runs."),
        click.option("--grace", type=float, default=30.0, show_default=True,
                     help="On SIGTERM, seconds to let running notebooks finish before cancelling them."),
    ]
    for option in reversed(options):
        run = option(run)
    return click.command(name)(run)


daemon = _command("daemon", "; `nbflow scheduler` is the same command")
scheduler = _command("scheduler", "; the same command as `nbflow daemon`")


def when_now() -> str:
    import datetime as dt

    return dt.datetime.now().strftime("%H:%M:%S")


COMMANDS = [daemon, scheduler]
