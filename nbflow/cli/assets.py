"""Asset commands: materialize, status, assets, runs, run show."""

from __future__ import annotations

import importlib
import runpy
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

import click
from rich.table import Table

from nbflow.cli.output import clock, console, seconds, styled, when
from nbflow.core.events import Event, EventKind
from nbflow.core.registry import default_registry
from nbflow.core.states import State
from nbflow.errors import DefinitionError, UserCodeError
from nbflow.session import get_session
from nbflow.session.views import recorded_assets, run_view, runs_view

_MAX_ROWS = 50


def load_definitions(file: str | None, module: str | None) -> None:
    """Import the assets of ``-f FILE.py`` or ``-m MODULE`` into the default registry."""
    if file:
        path = Path(file)
        if not path.is_file():
            raise click.UsageError(f"No such file: {file}. Pass -f with the path of a .py file that defines assets.")
        sys.path.insert(0, str(path.resolve().parent))
        try:
            runpy.run_path(str(path), run_name=path.stem)
        except SyntaxError as exc:
            raise DefinitionError(f"{file} line {exc.lineno}: {exc.msg}; fix the syntax error.") from None
        except Exception as exc:  # noqa: BLE001 - the user's code raised: show their traceback
            raise _user_code_error(file, exc) from None
    if module:
        sys.path.insert(0, ".")
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and not module.startswith(exc.name):
                raise _user_code_error(module, exc) from None
            raise click.UsageError(f"Cannot import module {module!r} ({exc}). Run from the folder "
                                   "that holds it, or pass -f FILE.py.") from None
        except SyntaxError as exc:
            raise DefinitionError(f"Module {module!r} ({exc.filename} line {exc.lineno}): "
                                  f"{exc.msg}; fix the syntax error.") from None
        except Exception as exc:  # noqa: BLE001 - the user's code raised: show their traceback
            raise _user_code_error(module, exc) from None


def _user_code_error(source: str, exc: BaseException) -> UserCodeError:
    """The error for a definitions module that raised, with nbflow's and importlib's frames cut."""
    detail = " ".join(str(exc).split())
    return UserCodeError(
        f"{source} raised {type(exc).__name__} while nbflow imported it"
        + (f" ({detail})" if detail else "") + "; fix the error shown in the traceback above.",
        source=source, traceback="".join(traceback.format_exception(type(exc), exc, _user_frames(exc))))


def _user_frames(exc: BaseException) -> TracebackType | None:
    ours = (str(Path(__file__).parents[1]), str(Path(runpy.__file__)),
            str(Path(importlib.__file__).parent), "<frozen ")
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(ours):
        tb = tb.tb_next
    return tb or exc.__traceback__


def _state(value: str | None) -> str | None:
    if value is None or value.upper() in State.__members__:
        return None if value is None else value.upper()
    raise click.BadParameter(f"state {value!r} is unknown; use one of "
                             f"{', '.join(State.__members__)}.")


def definitions_options(fn):  # type: ignore[no-untyped-def]
    fn = click.option("-m", "--module", help="Python module that defines the assets.")(fn)
    fn = click.option("-f", "--file", "file", type=click.Path(dir_okay=False),
                      help="Python file that defines the assets.")(fn)
    return fn


@click.command()
@click.argument("selection", default="*")
@definitions_options
@click.option("--force", is_flag=True, help="Recompute even fresh assets.")
@click.option("--executor", default=None, help="inprocess (default), threads, processes, dask or dask://HOST:PORT.")
@click.option("--max-workers", type=click.IntRange(min=1), default=None,
              help="Parallel steps for threads/processes (1 or more).")
@click.option("--partition", default=None, help="One partition key of the partitioned assets.")
@click.option("--partitions", default=None,
              help="Partitions: keys, ranges FIRST...LAST and * patterns, separated by commas.")
def materialize(selection: str, file: str | None, module: str | None, force: bool,
                executor: str | None, max_workers: int | None, partition: str | None = None,
                partitions: str | None = None) -> int:
    """Materialise the assets in SELECTION (default: all).

    Example: nbflow materialize 'orders+' -f pipeline.py --partitions 2026-01-01...2026-01-31
    """
    if not file and not module:
        raise click.UsageError("Say where the assets are defined: -f FILE.py or -m MODULE.")
    load_definitions(file, module)
    session = get_session()
    from nbflow.session import select_names

    graph = session.registry.graph()
    names = select_names(graph, selection, session)
    total = None if any(graph.specs[n].partitions is not None or n in graph.mappings
                        for n in names) else len(names)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]materialising[/]"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[step]}"), TimeElapsedColumn(),
                        console=console, transient=True)
    bar = progress.add_task("run", total=total, step="")

    def on_event(e: Event) -> None:
        if e.kind is EventKind.STEP_STARTED:
            progress.update(bar, step=e.step)
        elif e.kind is EventKind.STEP_FINISHED:
            progress.advance(bar)

    unsubscribe = session.hooks.subscribe(on_event)
    try:
        with progress:
            result = session.materialize(selection, force=force, executor=executor,
                                         max_workers=max_workers, partition=partition,
                                         partitions=partitions)
    finally:
        unsubscribe()
    console.print(f"run [bold]{result.run_id}[/]: {styled(result.state)} in {seconds(result.duration)}")
    table = Table()
    table.add_column("asset")
    table.add_column("state")
    table.add_column("error", overflow="fold")
    rows = list(result.states.items())
    shown = rows if len(rows) <= _MAX_ROWS else [r for r in rows if r[0] in result.errors][:_MAX_ROWS]
    for name, state in shown:
        table.add_row(name, styled(state), result.errors.get(name, {}).get("message", ""))
    console.print(table)
    if len(shown) < len(rows):
        counts = ", ".join(f"{n} {s}" for s, n in sorted(result.summary().items()))
        console.print(f"{len(rows)} steps: {counts}")
    for name, err in result.errors.items():
        if err.get("traceback"):
            console.print(f"\n[bold red]{name}[/] failed:\n{err['traceback'].rstrip()}", markup=True)
            break
    return 0 if result.ok else 1


@click.command()
@click.argument("selection", default="*")
@definitions_options
@click.option("--partitions", "by_partition", is_flag=True,
              help="List the partitions of each partitioned asset as ranges per status.")
def status(selection: str, file: str | None, module: str | None,
           by_partition: bool = False) -> int:
    """Show each asset: fresh, stale (and why), missing or failed, with its last materialisation.

    A partitioned asset shows its partitions' counts (fresh, stale, missing, failed) and its
    latest materialised key; --partitions lists their ranges per status.

    Example: nbflow status orders --partitions -f pipeline.py
    """
    load_definitions(file, module)
    session = get_session()
    table = Table()
    for col in ("asset", "status", "reason", "last materialised", "run", "duration", "deployment run"):
        table.add_column(col, overflow="fold")
    if not len(session.registry):
        known = recorded_assets(session)
        if not known:
            console.print("No assets defined and none materialised yet. Pass -f FILE.py or -m MODULE.")
            return 0
        for m in known:
            table.add_row(m["asset"], "recorded", "", when(m["time"]), m["run_id"],
                          seconds(m["duration"]), m["deployment_run_id"] or "-")
        console.print(table)
        console.print("Definitions not loaded: pass -f FILE.py or -m MODULE to see fresh or stale.")
        return 0
    found = session.status(selection)
    if by_partition:
        for s in found:
            if s.partitions is None:
                console.print(f"[bold]{s.name}[/]: not partitioned ({s.status})")
                continue
            ranges = s.partitions.ranges()
            console.print(f"[bold]{s.name}[/]: " + (", ".join(
                f"{text} {st}" for st, text in ranges.items()) or "no partitions"))
        return 0
    policies = any(s.freshness is not None for s in found)
    if policies:  # a freshness column beside status, only when some asset has a policy
        table = Table()
        for col in ("asset", "status", "freshness", "reason", "last materialised", "run",
                    "duration", "deployment run"):
            table.add_column(col, overflow="fold")
    for s in found:
        last = s.last
        extra = [freshness_text(s.freshness)] if policies else []
        if s.partitions is not None:
            p = s.partitions
            counts = ", ".join(f"{p.counts[k]:,} {k}" for k in ("fresh", "stale", "missing", "failed")
                               if p.counts.get(k))
            table.add_row(s.name, styled(s.status), *extra, f"{p.materialized:,}/{p.total:,} "
                          f"materialised: {counts}; latest {p.latest or '-'}"
                          + "".join(f"; {r}" for r in [status_reason(s)] if r.startswith("overdue")),
                          "-", "-", "-", "-")
            continue
        table.add_row(s.name, styled(s.status), *extra, status_reason(s),
                      when(last.ts if last else None),
                      last.run_id if last else "-", seconds(last.duration if last else None),
                      s.deployment_run_id or "-")
    console.print(table)
    return 0


def freshness_text(state: Any) -> str:
    """A ``FreshnessState`` as the status table's cell: overdue (since its deadline) or on time
    (and the next deadline); "-" without a policy. The reason goes to the reason column."""
    if state is None:
        return "-"
    deadline = "" if state.deadline is None else when(state.deadline)
    if state.overdue:
        return "[red]overdue[/]" + (f" since {deadline}" if deadline else "")
    return "[green]on time[/]" + (f", due {deadline}" if deadline else "")


def status_reason(s: Any) -> str:
    """The reason column: why the asset is not fresh, and why it is overdue."""
    if s.freshness is None or not s.freshness.overdue:
        return s.reason or ""
    late = "overdue" if s.freshness.reason == s.reason else f"overdue: {s.freshness.reason}"
    return "; ".join(r for r in (s.reason, late) if r)


@click.command()
@definitions_options
def assets(file: str | None, module: str | None) -> int:
    """List the defined assets with their upstream assets, group and I/O manager.

    Example: nbflow assets -f pipeline.py
    """
    load_definitions(file, module)
    graph = default_registry().graph()
    if not len(graph):
        console.print("No assets defined. Pass -f FILE.py or -m MODULE.")
        return 0
    table = Table()
    for col in ("asset", "upstream", "group", "io", "tags", "description"):
        table.add_column(col, overflow="fold")
    for name in graph.order:
        spec = graph.specs[name]
        table.add_row(name, ", ".join(graph.upstream[name]) or "-", spec.group, spec.io,
                      ", ".join(f"{k}={v}" for k, v in spec.tags.items()) or "-",
                      (spec.description or "").split("\n")[0])
    console.print(table)
    return 0


@click.command()
@click.option("--limit", default=20, show_default=True, help="How many runs to show.")
@click.option("--state", default=None, callback=lambda _c, _p, v: _state(v),
              help="Only runs in this state (e.g. FAILED).")
@click.option("--deployment", default=None, help="Only runs of this deployment.")
def runs(limit: int, state: str | None, deployment: str | None) -> int:
    """List recent runs, newest first.

    Example: nbflow runs --state FAILED --limit 5
    """
    table = Table()
    for col in ("run", "kind", "name", "state", "started", "duration", "steps", "deployment"):
        table.add_column(col, overflow="fold")
    records = runs_view(get_session(), limit=limit, state=state, deployment=deployment)
    names = {r["run_id"]: r["deployment"] for r in records if r["deployment"]}
    for r in records:
        parent = r["parent_run_id"]
        via = r["deployment"] or (f"in {names.get(parent) or parent}" if parent else "-")
        table.add_row(r["run_id"], r["kind"], r["name"] or "-", styled(r["state"]),
                      when(r["started_at"]), seconds(r["duration"]), str(len(r["steps"])), via)
    if not records:
        console.print("No runs yet.")
        return 0
    console.print(table)
    return 0


@click.group()
def run() -> None:
    """Inspect one run."""


@run.command("show")
@click.argument("run_id")
def run_show(run_id: str) -> int:
    """Show a run's steps, states, durations and errors (a unique id prefix is enough).

    Example: nbflow run show 3f2a
    """
    from rich.markup import escape

    r = run_view(get_session(), run_id)
    console.print(f"[bold]run {r['run_id']}[/]  {r['kind']}  {r['name'] or ''}")
    console.print(f"state {styled(r['state'])}  started {when(r['started_at'])}  "
                  f"duration {seconds(r['duration'])}"
                  + (f"  deployment {r['deployment']}" if r["deployment"] else ""))
    if r["scheduled_at"] or r["attempt"] > 1:
        console.print(f"scheduled {when(r['scheduled_at'])}  attempt {r['attempt']}")
    if r["parameters"]:
        console.print("parameters " + ", ".join(f"{k}={v!r}" for k, v in r["parameters"].items()))
    if r["output_path"]:
        console.print(f"output {r['output_path']}")
    if r["error"]:
        console.print(f"[red]error[/] {r['error']}")
    failure = r["failure"]
    if failure:
        console.print(f"failed in cell {failure.get('cell_index')}: "
                      f"{failure.get('exception')}: {failure.get('message')}")
    if r["steps"]:
        table = Table()
        for col in ("step", "state", "attempts", "started", "duration", "upstream", "error"):
            table.add_column(col, overflow="fold")
        for s in r["steps"]:
            table.add_row(s["name"], styled(s["state"]), str(s["attempts"]), when(s["started_at"]),
                          seconds(s["duration"]), ", ".join(s["upstream"]) or "-", s["error"] or "")
        console.print(table)
    children = r["children"]
    if children:
        table = Table(title="runs started inside it", title_justify="left")
        for col in ("run", "kind", "name", "state", "duration", "steps"):
            table.add_column(col)
        for c in children:
            table.add_row(c["run_id"], c["kind"], c["name"] or "-", styled(c["state"]),
                          seconds(c["duration"]),
                          ", ".join(f"{s['name']} {s['state']}" for s in c["steps"][:6])
                          + (" ..." if len(c["steps"]) > 6 else ""))
        console.print(table)
    if not r["steps"] and not children:
        console.print("No steps recorded.")
    # The run's LOG events (``nbflow.get_logger()`` inside flows and tasks).
    if r["logs"]:
        console.print("[bold]logs[/]")
    for e in r["logs"]:
        console.print(f"{clock(e['time'])} {escape(e['step'] or '-')} {e['level']} "
                      f"{escape(e['message'])}")
    return 0


COMMANDS = [materialize, status, assets, runs, run]
