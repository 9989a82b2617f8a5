"""Dynamic partition keys from the shell: ``nbflow partitions add|remove|list NAME KEY...``."""

from __future__ import annotations

import click

from nbflow.cli.output import console
from nbflow.session import get_session


@click.group()
def partitions() -> None:
    """Add, remove and list the keys of dynamic partitions (DynamicPartitions("NAME")).

    Example: nbflow partitions add customers acme globex
    """


@partitions.command("add")
@click.argument("name")
@click.argument("keys", nargs=-1, required=True)
def add(name: str, keys: tuple[str, ...]) -> int:
    """Add KEYS to dynamic partitions NAME (keys already there are kept once).

    Example: nbflow partitions add customers acme
    """
    added = get_session().partitions(name).add(list(keys))
    console.print(f"{name}: added {len(added)} of {len(keys)} key(s)"
                  + (f" ({', '.join(added)})" if added else ""))
    return 0


@partitions.command("remove")
@click.argument("name")
@click.argument("keys", nargs=-1, required=True)
def remove(name: str, keys: tuple[str, ...]) -> int:
    """Remove KEYS from dynamic partitions NAME (their materialisations stay recorded).

    Example: nbflow partitions remove customers acme
    """
    gone = get_session().partitions(name).remove(list(keys))
    console.print(f"{name}: removed {len(gone)} of {len(keys)} key(s)"
                  + (f" ({', '.join(gone)})" if gone else ""))
    return 0


@partitions.command("list")
@click.argument("name")
def list_keys(name: str) -> int:
    """List the keys of dynamic partitions NAME, in the order they were added.

    Example: nbflow partitions list customers
    """
    keys = get_session().partitions(name).keys()
    if not keys:
        console.print(f"{name}: no keys; add some with `nbflow partitions add {name} KEY`.")
    for k in keys:
        click.echo(k)
    return 0


COMMANDS = [partitions]
