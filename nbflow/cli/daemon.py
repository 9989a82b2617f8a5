"""The daemon command, under two names: ``nbflow daemon`` and ``nbflow scheduler`` (the same)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from nbflow.cli.output import console, styled

_DOC = """Run the daemon in the foreground: deployments on their schedules, submitted
backfills (`nbflow backfill ... --submit`), and the sensors and freshness policies of
-f FILE.py / -m MODULE{alias}. An asset past its freshness deadline is recorded as a
FRESHNESS event (and again when it recovers).

Sensors (and the assets they materialise) are found like assets for `nbflow materialize`:
the file or module is imported once at start; its @nbflow.sensor, @nbflow.asset_sensor and
@nbflow.run_status_sensor definitions are ticked, and asset runs they request use its assets.

SIGTERM or Ctrl-C stops taking new work, lets running notebooks finish for --grace seconds,
then cancels them; a second signal cancels at once. Notebooks run on kernels started ahead of
time (NBFLOW_KERNEL_POOL per kernel name, default 2); the pool's kernels are shut down on exit. A failing pass is reported and retried
with back-off.

Example: nbflow {name} -f pipeline.py --max-concurrency 4
"""


def _serve(name: str, once: bool, max_concurrency: int, poll: float, grace: float,
           file: str | None = None, module: str | None = None, sensor_poll: float = 0.25) -> int:
    from nbflow.automation.backfills import BackfillSource
    from nbflow.automation.daemon import Daemon
    from nbflow.automation.freshness import FreshnessSource
    from nbflow.automation.schedules import ScheduleSource
    from nbflow.automation.sensor_source import SensorSource, SensorTick
    from nbflow.automation.sensors import default_sensors
    from nbflow.cli.assets import load_definitions
    from nbflow.core.events import Event, RunFinished, RunStarted
    from nbflow.deployments.kernels import KernelPool
    from nbflow.session import get_session
    from nbflow.session.freshness import has_policies

    load_definitions(file, module)
    session = get_session()
    # a pool pays off only for a daemon that keeps running: --once starts its runs at once
    kernels = None if once else KernelPool.from_settings(session.settings)
    schedules = ScheduleSource(session, max_concurrency=max_concurrency, poll=poll, kernels=kernels)
    backfills = BackfillSource(session, poll=poll)
    sources: list[Any] = [schedules, backfills]
    sensors = None
    if default_sensors().names():
        sensors = SensorSource(session, poll=sensor_poll, max_concurrency=max_concurrency)
        sensors.on_deployment_run = schedules.wake
        sources.append(sensors)
    freshness = None
    if has_policies(session.registry.graph()):
        freshness = FreshnessSource(session, poll=poll)
        sources.append(freshness)
    daemon = Daemon(sources)
    names: dict[str, str] = {}

    def log(e: Event) -> None:
        p = e.data
        if isinstance(p, RunStarted) and p.kind == "deployment":
            names[e.run_id] = str(p.name)
            console.print(f"{when_now()} started  {names[e.run_id]} run {e.run_id}")
        elif isinstance(p, RunFinished) and e.run_id in names:
            extra = f": {p.error}" if p.error else ""
            console.print(f"{when_now()} {styled(e.state)} {names.pop(e.run_id)} run {e.run_id}{extra}")

    def on_error(source: str, exc: BaseException, pause: float) -> None:
        what = "pass failed" if len(daemon.sources) == 1 else f"{source} pass failed"
        console.print(f"{when_now()} [red]{what}[/] ({type(exc).__name__}: {exc}); "
                      f"retrying in {pause:g} s")

    def on_stop() -> None:
        console.print(f"{when_now()} stopping: no new runs; waiting up to {grace:g} s for "
                      f"{len(daemon.running())} running notebook(s).")

    def on_tick(t: SensorTick) -> None:
        runs = f": run(s) {', '.join(t.run_ids)}" if t.run_ids else ""
        reason = f" ({t.reason})" if t.reason else ""
        colour = "red" if t.status == "FAILED" else "cyan"
        console.print(f"{when_now()} sensor {t.sensor} [{colour}]{t.status}[/]{runs}{reason}",
                      highlight=False)

    if sensors is not None:
        sensors.on_tick = on_tick
    if freshness is not None:
        freshness.on_change = lambda c: console.print(
            f"{when_now()} freshness {c.asset} [{'red' if c.state.overdue else 'green'}]"
            f"{c.state.state}[/]" + (f" ({c.state.reason})" if c.state.reason else ""),
            highlight=False)
    session.hooks.subscribe(log)
    daemon.on_error = on_error
    schedules.on_crashed = lambda ids: console.print(
        f"{when_now()} marked CRASHED (their scheduler or process died): {', '.join(ids)}")
    with daemon.signals(on_stop):
        try:
            if once:
                reports = daemon.run_once()
                report = reports[schedules.name]
                console.print(f"{when_now()} one pass: {len(report.claimed)} tick(s) claimed, "
                              f"{len(report.started)} run(s) started, "
                              f"{len(report.crashed)} marked crashed.")
            else:
                watched = f", sensors: {', '.join(default_sensors().names())}" if sensors else ""
                console.print(f"{when_now()} {name} started (pid {os.getpid()}, "
                              f"max concurrency {max_concurrency}{watched}); Ctrl-C to stop.")
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
    def run(once: bool, max_concurrency: int, poll: float, grace: float, file: str | None,
            module: str | None, sensor_poll: float) -> int:
        return _serve(name, once, max_concurrency, poll, grace, file, module, sensor_poll)

    run.__doc__ = _DOC.format(name=name, alias=alias)
    options: list[Any] = [
        click.option("--once", is_flag=True, help="One pass over due work, wait for it, then exit."),
        click.option("--max-concurrency", type=int, default=4, show_default=True,
                     help="Notebooks this daemon runs at once."),
        click.option("--poll", type=float, default=1.0, show_default=True,
                     help="Seconds between looks for queued runs."),
        click.option("--grace", type=float, default=30.0, show_default=True,
                     help="On SIGTERM, seconds to let running notebooks finish before cancelling them."),
        click.option("-f", "--file", "file", type=click.Path(dir_okay=False),
                     help="Python file that defines sensors (and the assets they materialise)."),
        click.option("-m", "--module", help="Python module that defines sensors and assets."),
        click.option("--sensor-poll", type=float, default=0.25, show_default=True,
                     help="Seconds between looks at the event stream for sensors."),
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
