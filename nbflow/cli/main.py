"""Entry point: the click group, the command modules it loads, and error-to-exit-code mapping.

Exit codes: 0 success, 1 a run failed (or the store failed), 2 usage error.
"""

from __future__ import annotations

import sys
from importlib import import_module

import click

from nbflow.errors import (
    DefinitionError,
    NbflowError,
    ParameterError,
    ScheduleError,
    SelectionError,
)

# Each area adds its commands in its own module and lists it here (one line each).
_COMMAND_MODULES = [
    "nbflow.cli.assets",
    "nbflow.cli.daemon",
    "nbflow.cli.deploy",
    "nbflow.cli.schedule",
    "nbflow.cli.tasks",
]

USAGE_ERRORS = (DefinitionError, SelectionError, ParameterError, ScheduleError)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nbflow-kit", prog_name="nbflow")
def cli() -> None:
    """nbflow: assets, tasks and notebook deployments with one run store.

    Settings come from NBFLOW_HOME (default ~/.nbflow) and NBFLOW_DATABASE_URL.
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
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except USAGE_ERRORS as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(2)
    except NbflowError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
