"""Backfills from the shell: ``nbflow backfill SELECTION --partitions ...``, ``nbflow backfills``,
``nbflow backfill show|cancel|resume ID``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from nbflow.cli.assets import definitions_options, load_definitions
from nbflow.cli.output import console, when
from nbflow.session import get_session
from nbflow.session.backfills import (
    POLICIES,
    cancel_backfill,
    get_backfill,
    plan_backfill,
    resume_backfill,
    run_backfill,
    submit_backfill,
)
from nbflow.store.backfills import SUCCEEDED, BackfillRow, StepRow

_STATE_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "CANCELLED": "yellow", "CANCELING": "yellow",
                "RUNNING": "cyan", "REQUESTED": "cyan", "PENDING": "dim", "SKIPPED": "yellow"}


def _when(ts: float | None) -> str:
    return when(None if ts is None else datetime.fromtimestamp(ts, UTC))


def _styled(state: str) -> str:
    colour = _STATE_STYLE.get(state)
    return f"[{colour}]{state}[/]" if colour else state


def _ranges(parts: list[str]) -> str:
    """Partition texts as ``first...last`` runs of neighbours in plan order (a few shown)."""
    if not parts:
        return ""
    if len(parts) <= 3:
        return ", ".join(parts)
    return f"{parts[0]}...{parts[-1]} ({len(parts)})"


def _run_here(session: Any, backfill_id: str) -> BackfillRow:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn(f"[bold]backfill {backfill_id}[/]"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
    bar = progress.add_task("steps", total=None)

    def advance(done: int, total: int) -> None:
        progress.update(bar, completed=done, total=total)

    with progress:
        return run_backfill(session, backfill_id, progress=advance)


def _report(session: Any, row: BackfillRow) -> int:
    counts = session.store.backfills.counts(row.id)
    shown = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
    console.print(f"backfill [bold]{row.id}[/]: {_styled(row.state)} ({shown})", highlight=False)
    if row.error:
        console.print(f"  {row.error}", highlight=False)
    return 0 if row.state == SUCCEEDED else 1


class _Backfill(click.Group):
    """``nbflow backfill SELECTION ...`` starts one; ``nbflow backfill show ID`` and the others
    act on one (a first word that is not a subcommand is the selection)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_Backfill)
def backfill() -> None:
    """Backfill assets over partitions, or show, cancel or resume a backfill.

    \b
    nbflow backfill SELECTION --partitions RANGE -f FILE.py [--policy single_run] [--dry-run] [--submit]
    nbflow backfill show ID
    nbflow backfill cancel ID
    nbflow backfill resume ID -f FILE.py [--submit]

    Example: nbflow backfill 'orders+' --partitions 2026-01-01...2026-12-31 -f pipeline.py
    """


@backfill.command("start", hidden=True)
@click.argument("selection")
@click.option("--partitions", required=True,
              help="The partitions: a key, a list (a,b), a range (2026-01-01...2026-01-31) or '*'.")
@definitions_options
@click.option("--policy", type=click.Choice(POLICIES), default="per_partition", show_default=True,
              help="One run per partition, or every partition in one run.")
@click.option("--max-per-run", type=click.IntRange(min=1), default=None,
              help="Partitions per run (per_partition policy).")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs at once (one at a time when an asset reads its own earlier partitions).")
@click.option("--force", is_flag=True, help="Rebuild fresh partitions too.")
@click.option("--dry-run", is_flag=True, help="Print the plan; write and run nothing.")
@click.option("--submit", is_flag=True, help="Write the plan and let the daemon run it.")
def start(selection: str, partitions: str, file: str | None, module: str | None, policy: str,
          max_per_run: int | None, concurrency: int, force: bool, dry_run: bool,
          submit: bool) -> int:
    """Backfill SELECTION over PARTITIONS."""
    if not file and not module:
        raise click.UsageError("Say where the assets are defined: -f FILE.py or -m MODULE.")
    load_definitions(file, module)
    session = get_session()
    plan = plan_backfill(session, selection, partitions, policy=policy,
                         max_partitions_per_run=max_per_run)
    if dry_run:
        console.print(plan.describe(), highlight=False)
        return 0
    backfill_id = submit_backfill(session, plan, concurrency=concurrency, force=force)
    if submit:
        console.print(f"backfill [bold]{backfill_id}[/]: {len(plan.steps)} step(s) in "
                      f"{plan.batches} run(s) submitted; the daemon (`nbflow daemon -f ...`) "
                      f"runs it. Follow it with `nbflow backfill show {backfill_id}`.")
        return 0
    return _report(session, _run_here(session, backfill_id))


@backfill.command("show")
@click.argument("backfill_id", metavar="ID")
def show(backfill_id: str) -> int:
    """Show a backfill: its state, its steps per state and its runs.

    Example: nbflow backfill show 4e7053fb5486
    """
    session = get_session()
    row = get_backfill(session, backfill_id)
    steps = session.store.backfills.steps(backfill_id)
    console.print(f"backfill [bold]{row.id}[/]: {_styled(row.state)}", highlight=False)
    for label, value in (("selection", row.selection), ("partitions", row.partitions),
                         ("policy", row.policy + (f", {row.per_run} per run" if row.per_run > 1 else "")),
                         ("created", _when(row.created_at)), ("ended", _when(row.ended_at) if row.ended_at else ""),
                         ("runner", row.owner or ""), ("error", row.error or "")):
        if value:
            console.print(f"  {label:<11}{value}", highlight=False)
    table = Table()
    for col in ("asset", "state", "steps", "partitions"):
        table.add_column(col, overflow="fold")
    groups: dict[tuple[str, str], list[StepRow]] = {}
    for s in steps:
        groups.setdefault((s.asset, s.state), []).append(s)
    for (asset, state), rows in groups.items():
        table.add_row(asset, _styled(state), str(len(rows)),
                      _ranges([s.partition for s in rows if s.partition]))
    console.print(table)
    runs = list(dict.fromkeys(s.run_id for s in steps if s.run_id))
    if runs:
        console.print(f"  {len(runs)} run(s): {', '.join(runs[:5])}" + (" ..." if len(runs) > 5 else ""),
                      highlight=False)
    return 0


@backfill.command("cancel")
@click.argument("backfill_id", metavar="ID")
def cancel(backfill_id: str) -> int:
    """Cancel a backfill: no new runs; the running one stops after its current step.

    Example: nbflow backfill cancel 4e7053fb5486
    """
    state = cancel_backfill(get_session(), backfill_id)
    then = "" if state == "CANCELLED" else " (its runner stops after the current step)"
    console.print(f"backfill [bold]{backfill_id}[/]: {_styled(state)}{then}", highlight=False)
    return 0


@backfill.command("resume")
@click.argument("backfill_id", metavar="ID")
@definitions_options
@click.option("--submit", is_flag=True, help="Let the daemon run it instead of this process.")
def resume(backfill_id: str, file: str | None, module: str | None, submit: bool) -> int:
    """Run again the steps of a cancelled or failed backfill that did not succeed.

    Example: nbflow backfill resume 4e7053fb5486 -f pipeline.py
    """
    if not submit and not file and not module:
        raise click.UsageError("Say where the assets are defined (-f FILE.py or -m MODULE), "
                               "or pass --submit to let the daemon run it.")
    session = get_session()
    get_backfill(session, backfill_id)
    if not submit:
        load_definitions(file, module)
    n = resume_backfill(session, backfill_id)
    if submit:
        console.print(f"backfill [bold]{backfill_id}[/]: {n} step(s) to run again, submitted.")
        return 0
    return _report(session, _run_here(session, backfill_id))


@click.command("backfills")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def backfills(limit: int) -> int:
    """List recent backfills, newest first.

    Example: nbflow backfills
    """
    session = get_session()
    rows = session.store.backfills.recent(limit)
    if not rows:
        console.print("No backfills yet; start one with `nbflow backfill SELECTION --partitions ...`.")
        return 0
    table = Table()
    for col in ("id", "state", "selection", "partitions", "policy", "done", "created"):
        table.add_column(col, overflow="fold")
    for r in rows:
        counts = session.store.backfills.counts(r.id)
        total = sum(counts.values())
        table.add_row(r.id, _styled(r.state), r.selection, r.partitions, r.policy,
                      f"{counts.get(SUCCEEDED, 0)}/{total}", _when(r.created_at))
    console.print(table)
    return 0


COMMANDS = [backfill, backfills]
