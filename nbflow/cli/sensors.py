"""Sensor commands: ``nbflow sensors`` and ``nbflow sensor show|reset-cursor|pause|resume NAME``."""

from __future__ import annotations

import datetime as dt

import click
from rich.table import Table

from nbflow.cli.output import console


def _when(ts: float | None) -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


@click.command("sensors")
def sensors() -> int:
    """List the sensors the daemon has run: kind, cursor, paused, last tick and last error.

    Example: nbflow sensors
    """
    from nbflow.automation.sensor_views import list_sensors

    rows = list_sensors()
    if not rows:
        console.print("No sensors yet; a sensor appears once `nbflow daemon -f FILE.py` runs it.")
        return 0
    table = Table("sensor", "kind", "cursor", "state", "last tick", "last error")
    for r in rows:
        table.add_row(r["name"], r["kind"], r["cursor"] or "-", "paused" if r["paused"] else "active",
                      _when(r["last_tick_at"]), (r["last_error"] or "")[:80])
    console.print(table)
    return 0


@click.group("sensor")
def sensor() -> None:
    """Inspect and control one sensor."""


@sensor.command("show")
@click.argument("name")
def show(name: str) -> int:
    """Show a sensor's cursor, state, last error and newest ticks.

    Example: nbflow sensor show new_orders
    """
    from nbflow.automation.sensor_views import sensor_detail

    d = sensor_detail(name)
    console.print(f"sensor   {d['name']} ({d['kind']})", highlight=False)
    console.print(f"state    {'paused' if d['paused'] else 'active'}", highlight=False)
    console.print(f"cursor   {d['cursor'] if d['cursor'] is not None else '-'}", highlight=False)
    console.print(f"last     {_when(d['last_tick_at'])}", highlight=False)
    console.print(f"run keys {d['run_keys']} claimed", highlight=False)
    if d["last_error"]:
        console.print(f"error    {d['last_error']}", highlight=False, markup=False)
    if d["ticks"]:
        table = Table("time", "status", "runs", "reason")
        for t in d["ticks"]:
            table.add_row(_when(t["ts"]), t["status"], ", ".join(t["run_ids"]) or "-", t["reason"] or "")
        console.print(table)
    return 0


@sensor.command("reset-cursor")
@click.argument("name")
@click.option("--to", "cursor", default=None, help="Set the cursor to this value instead of none.")
def reset_cursor(name: str, cursor: str | None) -> int:
    """Forget a sensor's cursor (or set it with --to); its next tick starts from there.
    Run keys already claimed stay claimed, so keyed requests are not launched twice.

    Example: nbflow sensor reset-cursor new_orders
    """
    from nbflow.automation.sensor_views import reset_cursor as reset

    reset(name, cursor)
    console.print(f"Sensor {name}: cursor {'reset' if cursor is None else f'set to {cursor}'}.",
                  highlight=False)
    return 0


@sensor.command("pause")
@click.argument("name")
def pause(name: str) -> int:
    """Stop ticking a sensor (every daemon) until it is resumed.

    Example: nbflow sensor pause new_orders
    """
    from nbflow.automation.sensor_views import set_paused

    set_paused(name, True)
    console.print(f"Sensor {name} paused.", highlight=False)
    return 0


@sensor.command("resume")
@click.argument("name")
def resume(name: str) -> int:
    """Tick a paused sensor again.

    Example: nbflow sensor resume new_orders
    """
    from nbflow.automation.sensor_views import set_paused

    set_paused(name, False)
    console.print(f"Sensor {name} resumed.", highlight=False)
    return 0


COMMANDS = [sensors, sensor]
