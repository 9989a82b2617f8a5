"""Output helpers shared by commands: the console, state colours, times and durations."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from typing import Any

from rich.console import Console

# Off a terminal (CI logs, pipes) rich would wrap at 80 columns; tables read better wider.
_width = None if os.isatty(1) else int(os.environ.get("COLUMNS", "0")) or max(shutil.get_terminal_size((140, 24)).columns, 140)
console = Console(highlight=False, soft_wrap=False, width=_width)
err_console = Console(stderr=True, highlight=False)

STATE_STYLE = {
    "SUCCEEDED": "green", "CACHED": "cyan", "FAILED": "bold red", "CRASHED": "bold red",
    "SKIPPED": "yellow", "CANCELLED": "yellow", "RUNNING": "blue", "PENDING": "dim",
    "RETRYING": "magenta", "fresh": "green", "stale": "yellow", "missing": "dim", "failed": "bold red",
}


def styled(state: Any) -> str:
    text = str(getattr(state, "value", state))
    style = STATE_STYLE.get(text)
    return f"[{style}]{text}[/]" if style else text


def when(dt: datetime | str | None) -> str:
    """A time (a datetime, or ISO text from a view) in the local zone, to the minute."""
    if dt is None:
        return "-"
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return dt.astimezone().strftime("%Y-%m-%d %H:%M")


def clock(dt: datetime | str) -> str:
    """A time of day in the local zone, to the second."""
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return dt.astimezone().strftime("%H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"
