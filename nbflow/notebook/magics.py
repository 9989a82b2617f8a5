"""Magics: ``%%asset``, ``%%task``, ``%materialize`` and ``%nbflow`` (argument parsing and one call each).

Errors nbflow raises on purpose become a one-line ``UsageError``; an exception from the user's
own cell code shows the user's traceback.
"""

from __future__ import annotations

import threading
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from nbflow.errors import CellError, NbflowError
from nbflow.notebook import cell_assets
from nbflow.notebook.tables import result_table, status_table
from nbflow.widget.tracebacks import cell_numbers, in_cells
from nbflow.widget.values import bind, show


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS  # --wait is the default now; kept so old notebooks still run


def _usage(exc: BaseException) -> UsageError:
    return UsageError(" ".join(str(exc).split("\n")[0].split()))


def _session() -> Any:
    from nbflow.session import get_session

    return get_session()


def _refresh_panels() -> None:
    from nbflow.widget.panel import refresh_panels

    refresh_panels()


@magics_class
class NbflowMagics(Magics):
    """nbflow's notebook magics."""

    @magic_arguments()
    @argument("name", help="The asset's name; the value is bound to it in the notebook.")
    @argument("--io", default="pickle", help="I/O manager that stores the value (pickle, parquet, ...).")
    @argument("--deps", default=None, help="Extra upstream assets, comma-separated, whose values are not loaded.")
    @argument("--var", default=None, help="Variable that holds the value (default: the last expression).")
    @argument("--group", default=None, help="Asset group.")
    @argument("--tags", default=None, help="Tags as key=value,key2=value2.")
    @argument("--code-version", default=None, help="Declared code version (default: a hash of the cell).")
    @argument("--partitions", default=None,
              help="Partitions: daily:2026-01-01 (also hourly:, weekly:, monthly:, @ZONE), "
                   "static:a,b,c or dynamic:NAME; the cell reads nbflow.context().partition_key.")
    @argument("--partition", default=None,
              help="Partitions to run now: a key, a range 2026-01-01...2026-01-07 or a pattern "
                   "(default: every key).")
    @argument("--define-only", action="store_true", help="Register the asset without running it.")
    @cell_magic
    def asset(self, line: str, cell: str) -> Any:
        """Make the cell an asset. Upstream assets are the asset names the cell reads; running
        the cell registers it and materialises it (upstream assets with no value first).

        Example::

            %%asset clean_orders --io parquet
            clean_orders = raw_orders[raw_orders.amount > 0]
            clean_orders

            %%asset daily_orders --partitions daily:2026-01-01 --partition 2026-01-05
            day = nbflow.context().partition_key
            raw_orders[raw_orders.day == day]
        """
        args = self._parse(self.asset, line)
        shell = self.shell
        assert shell is not None
        source = shell.transform_cell(cell)
        filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)
        session = _session()
        try:
            cell_assets.define_cell_asset(
                session, args.name, source, namespace=shell.user_ns, filename=filename,
                io=args.io, deps=cell_assets.parse_names(args.deps), var=args.var, group=args.group,
                tags=cell_assets.parse_tags(args.tags), code_version=args.code_version,
                partitions=args.partitions)
        except NbflowError as exc:
            raise _usage(exc) from None
        _refresh_panels()
        if args.define_only:
            upstream = session.registry.graph().upstream[args.name]
            print(f"Defined asset {args.name!r}" + (f" (upstream: {', '.join(upstream)})." if upstream else "."))
            return None
        try:
            done = cell_assets.run_cell_asset(session, args.name, partitions=args.partition)
        except CellError as exc:
            exc.traceback = in_cells(exc.traceback, cell_numbers(shell))
            raise
        except NbflowError as exc:
            raise _usage(exc) from None
        finally:
            _refresh_panels()
        for note in done.notes:
            print(note)
        shell.user_ns[args.name] = done.value
        if args.var:
            shell.user_ns[args.var] = done.value
        # Displayed with a display id, so a later run from the panel or %materialize updates it.
        show(args.name, done.value)
        return None

    @magic_arguments()
    @argument("name", help="The task's name.")
    @argument("--retries", type=int, default=0, help="Retries after a failure.")
    @argument("--cache", default=None, help="Cache policy: inputs or inputs+code.")
    @argument("--cache-ttl", default=None, help="How long a cached result stays valid (e.g. 1h).")
    @cell_magic
    def task(self, line: str, cell: str) -> Any:
        """Make the cell a parameterless task and run it now, recorded as a run in the store.

        Example::

            %%task fetch_rates --retries 2
            rates = requests.get(URL).json()
            rates
        """
        args = self._parse(self.task, line)
        shell = self.shell
        assert shell is not None
        source = shell.transform_cell(cell)
        filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)
        from nbflow.notebook.cell_tasks import run_cell_task

        try:
            value = run_cell_task(
                args.name, source, namespace=shell.user_ns, filename=filename,
                retries=args.retries, cache=args.cache, cache_ttl=args.cache_ttl)
        except CellError as exc:
            exc.traceback = in_cells(exc.traceback, cell_numbers(shell))
            raise
        except NbflowError as exc:
            raise _usage(exc) from None
        shell.user_ns[args.name] = value
        return value

    @magic_arguments()
    @argument("selection", nargs="*", help="Assets to materialise, e.g. 'orders+' (default: all).")
    @argument("--force", action="store_true", help="Run fresh assets too.")
    @argument("--background", action="store_true",
              help="Return at once and build in a worker thread (the next cell may read old values).")
    @argument("--wait", action="store_true", help=argparse_suppress())
    @line_magic
    def materialize(self, line: str) -> Any:
        """Materialise a selection and wait for it, like any cell: progress shows in the cell,
        the panel updates live, and the stop button cancels after the current step (the run
        ends CANCELLED). Values land in the notebook when the run ends. ``--background``
        returns at once instead and builds in a worker thread.

        Example: ``%materialize clean_orders+``
        """
        args = self._parse(self.materialize, line)
        selection = " ".join(args.selection) or "*"
        session = _session()
        shell = self.shell
        assert shell is not None
        from nbflow.core.selection import select

        try:
            select(session.registry.graph(), selection)
        except NbflowError as exc:
            raise _usage(exc) from None
        if not args.background:
            from nbflow.notebook.running import run_blocking

            handle = display(f"Materialising {selection}...", display_id=True)
            try:
                result = run_blocking(session, selection, force=args.force, label=selection,
                                      update=None if handle is None else handle.update)
            except NbflowError as exc:
                raise _usage(exc) from None
            finally:
                _refresh_panels()
            _bind(shell.user_ns, result)
            return result_table(result)
        handle = display(f"Materialising {selection} in the background...", display_id=True)

        def work() -> None:
            try:
                result = session.materialize(selection, force=args.force)
            except Exception as exc:  # noqa: BLE001 - shown where the run was started
                if handle is not None:
                    handle.update(f"Run of {selection} failed: {type(exc).__name__}: {exc}")
                return
            finally:
                _refresh_panels()
            _bind(shell.user_ns, result)
            if handle is not None:
                handle.update(result_table(result))

        threading.Thread(target=work, name="nbflow-materialize", daemon=True).start()
        return None

    @magic_arguments()
    @argument("command", choices=["status", "panel", "forget", "dbt"],
              help="status: the table of assets; panel: the lineage panel; forget NAME: remove "
                   "an asset; dbt PATH: register a dbt project's models as assets.")
    @argument("selection", nargs="*", help="Assets to show (default: all); for forget, the asset.")
    @line_magic
    def nbflow(self, line: str) -> Any:
        """``%nbflow status [SELECTION]`` prints every asset's state; ``%nbflow panel`` shows the
        panel; ``%nbflow forget NAME`` removes an asset from the graph (its history stays in the
        store; cells reading it read the notebook variable instead)."""
        args = self._parse(self.nbflow, line)
        selection = " ".join(args.selection) or "*"
        session = _session()
        try:
            if args.command == "panel":
                from nbflow.widget.panel import panel

                return panel(selection, session=session)
            if args.command == "dbt":
                if len(args.selection) != 1:
                    raise UsageError("Name the dbt project's folder: %nbflow dbt PATH.")
                from nbflow.integrations.dbt import dbt_project

                project = dbt_project(args.selection[0], session=session)
                print(f"Registered {len(project.nodes)} dbt assets from {str(project.dir)!r}.")
                _refresh_panels()
                return None
            if args.command == "forget":
                if len(args.selection) != 1:
                    raise UsageError("Name the one asset to forget: %nbflow forget NAME.")
                rewired = session.forget(args.selection[0])
                print(f"Forgot asset {args.selection[0]!r}; its history stays in the store."
                      + (f" Now reading the notebook variable instead: {', '.join(rewired)}."
                         if rewired else ""))
                _refresh_panels()
                return None
            return status_table(session.status(selection))
        except NbflowError as exc:
            raise _usage(exc) from None

    @staticmethod
    def _parse(fn: Any, line: str) -> Any:
        try:
            return parse_argstring(fn, line)
        except UsageError:
            raise
        except SystemExit:     # argparse's own exit on a bad option
            raise UsageError(f"Bad arguments: {line!r}; see %{fn.__name__}? for the options.") from None


def _bind(namespace: dict[str, Any], result: Any) -> None:
    """Put the values of the assets a run produced into the notebook (and update their outputs)."""
    bind(namespace, result)


__all__ = ["NbflowMagics"]
