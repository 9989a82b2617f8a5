"""Entry point: the click group, the command modules it loads, and error-to-exit-code mapping.

Exit codes: 0 success, 1 a run failed (or the store failed), 2 usage error or not found (one
line naming the thing, and the closest match where there is one).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, NoReturn

import click

from nbflow.errors import (
    DefinitionError,
    DeploymentError,
    NbflowError,
    NotFoundError,
    ParameterError,
    ScheduleError,
    SelectionError,
    SettingsError,
    UserCodeError,
)
from nbflow.session.audit import cli_actor, set_actor

# Each area adds its commands in its own module and lists it here (one line each).
_COMMAND_MODULES = [
    "nbflow.cli.assets",
    "nbflow.cli.backfills",
    "nbflow.cli.daemon",
    "nbflow.cli.deploy",
    "nbflow.cli.partitions",
    "nbflow.cli.schedule",
    "nbflow.cli.sensors",
    "nbflow.cli.server",
    "nbflow.cli.tasks",
    "nbflow.cli.tokens",
]

USAGE_ERRORS = (DefinitionError, SelectionError, ParameterError, ScheduleError, DeploymentError,
                NotFoundError, SettingsError)
"""Errors in what the user asked for (exit 2); any other ``NbflowError`` exits 1."""


def _fail(message: str, code: int) -> NoReturn:
    click.secho(f"Error: {message}", fg="red", err=True)
    raise click.exceptions.Exit(code)


def _usage_line(exc: click.UsageError) -> str:
    hint = f" See '{exc.ctx.command_path} --help'." if exc.ctx is not None else ""
    return f"{exc.format_message()}{hint}"


class _Root(click.Group):
    """The root group: the boundary where errors and command results become exit codes, so
    ``main`` and click's ``CliRunner`` see the same codes and messages."""

    def invoke(self, ctx: click.Context) -> Any:
        set_actor(cli_actor())  # audit rows of this command name the CLI and its user
        try:
            rv = super().invoke(ctx)
        except click.UsageError as exc:  # one line, like nbflow's own usage errors
            _fail(_usage_line(exc), exc.exit_code)
        except USAGE_ERRORS as exc:
            if isinstance(exc, UserCodeError):  # the user's own traceback, then the one line
                click.echo(exc.traceback.rstrip(), err=True)
            _fail(str(exc), 2)
        except NbflowError as exc:
            _fail(str(exc), 1)
        if isinstance(rv, int) and not isinstance(rv, bool) and rv:
            raise click.exceptions.Exit(rv)
        return rv


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nbflow-kit", prog_name="nbflow")
def cli() -> None:
    """nbflow: assets, tasks and notebook deployments with one run store.

    Settings come from NBFLOW_HOME (default ~/.nbflow) and NBFLOW_DATABASE_URL.
    Exit codes: 0 success, 1 a run failed, 2 usage error or not found.
    """


def _register() -> None:
    for name in _COMMAND_MODULES:
        module = import_module(name)
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; nbflow errors become one clean line and an exit code."""
    try:
        code = cli.main(args=argv, prog_name="nbflow", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # before any command runs (e.g. an option of the group)
        click.secho(f"Error: {_usage_line(exc)}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
