"""Task commands: ``nbflow cache list|clear`` and ``nbflow limit`` / ``nbflow limits``."""

from __future__ import annotations

import click
from rich.table import Table

from nbflow.cli.output import console, when
from nbflow.session import get_session
from nbflow.session.tasks import clear_cache, reset_limit
from nbflow.session.tasks import limit as set_limit
from nbflow.session.views import caches_view, limits_view


@click.group()
def cache() -> None:
    """Cached task results."""


@cache.command("list")
def cache_list() -> int:
    """List the tasks with cached results, how many and the newest.

    Example: nbflow cache list
    """
    rows = caches_view(get_session())
    if not rows:
        console.print("No cached task results.")
        return 0
    table = Table()
    for col in ("task", "entries", "newest"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["task"], str(row["entries"]), when(row["newest"]))
    console.print(table)
    return 0


@cache.command("clear")
@click.argument("task", required=False)
def cache_clear(task: str | None) -> int:
    """Forget the cached results of TASK (of every task when TASK is left out).

    Example: nbflow cache clear fetch
    """
    n = clear_cache(task)
    what = f"task {task!r}" if task else "all tasks"
    console.print(f"Cleared {n} cached result{'s' if n != 1 else ''} of {what}.")
    return 0


@click.command()
@click.argument("tag")
@click.argument("slots", required=False, type=int)
@click.option("--remove", is_flag=True, help="Remove the limit of TAG.")
@click.option("--reset", is_flag=True,
              help="Free every slot of TAG (after a crash on another machine left some taken).")
def limit(tag: str, slots: int | None, remove: bool, reset: bool) -> int:
    """Let at most SLOTS tasks tagged TAG run at once, across every process sharing the store.

    Example: nbflow limit db 2
    """
    if reset:
        n = reset_limit(tag)
        console.print(f"Freed {n} slot{'s' if n != 1 else ''} of tag {tag!r}.")
        if slots is None and not remove:
            return 0
    if remove:
        set_limit(tag, None)
        console.print(f"Tag {tag!r} has no concurrency limit now.")
        return 0
    if slots is None:
        current = next((row for row in limits_view(get_session()) if row["tag"] == tag), None)
        if current is None:
            console.print(f"Tag {tag!r} has no concurrency limit; set one with: nbflow limit {tag} N")
        else:
            console.print(f"Tag {tag!r}: {current['in_use']} of {current['limit']} slots in use.")
        return 0
    set_limit(tag, slots)
    console.print(f"At most {slots} task{'s' if slots != 1 else ''} tagged {tag!r} run at once.")
    return 0


@click.command()
def limits() -> int:
    """List the concurrency limits and how many of their slots are taken.

    Example: nbflow limits
    """
    rows = limits_view(get_session())
    if not rows:
        console.print("No concurrency limits; set one with: nbflow limit TAG N")
        return 0
    table = Table()
    for col in ("tag", "limit", "in use"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["tag"], str(row["limit"]), str(row["in_use"]))
    console.print(table)
    return 0


COMMANDS = [cache, limit, limits]
