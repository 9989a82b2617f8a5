"""The exceptions nbflow raises, all rooted at ``NbflowError``.

::

    NbflowError
     ├── DefinitionError            an asset, task or flow is defined wrongly
     │    ├── CycleError            the asset graph has a cycle (``a -> b -> a``)
     │    ├── UnknownAssetError     a name that no asset has (also a NotFoundError)
     │    ├── PartitionError        a partitions definition, key, selection or mapping is wrong
     │    └── UserCodeError         a module of definitions raised while it was imported
     ├── NotFoundError              an unknown run, deployment, asset or backfill (kind, name, suggestion)
     ├── SelectionError             a selection string is malformed or matches nothing
     ├── ConflictError              the thing asked for conflicts with its current state (``reason``)
     ├── DbtError                   dbt could not parse or run the project
     │    ├── DbtNodeFailed         dbt reported a model, seed or snapshot as failed
     │    └── DbtTestFailed         a dbt test did not pass
     ├── SettingsError              a setting (an ``NBFLOW_*`` variable) has a value nbflow cannot use
     ├── StoreError                 the run store cannot be opened or written
     │    └── StoreUrlError         the store URL is malformed or names an unsupported database
     │                              (also a SettingsError)
     ├── IOManagerError             a value cannot be stored or loaded
     ├── ParameterError             a parameter is unknown or has the wrong type
     ├── ScheduleError              an invalid cron expression, interval or time zone
     ├── DeploymentError            a deployment is invalid or cannot run
     │    └── UnknownDeploymentError  no deployment has that name (also a NotFoundError)
     ├── TaskError                  a task or flow failed (carries the step and run)
     │    └── TaskTimeout           one attempt ran longer than its ``timeout`` (also a TimeoutError)
     ├── UnhashableInput            a task input has no stable hash (also a TypeError)
     ├── LayoutError                Graphviz failed to lay out the lineage graph
     ├── CellError                  the user's notebook cell raised (carries the traceback)
     └── RunCancelled               a run was cancelled

Messages are whole sentences that name the thing and the fix. Errors carry fields
(``asset``, ``run_id``, ...) so edges (the CLI, magics, the panel) can show them as data.
The CLI maps them to exit codes: usage errors and ``NotFoundError`` exit 2, the rest 1.
"""

from __future__ import annotations


class NbflowError(Exception):
    """Root of every error nbflow raises on purpose."""


class NotFoundError(NbflowError):
    """Something looked up by name does not exist.

    ``kind`` says what was looked up (``run``, ``deployment``, ``asset``, ``backfill``, ...),
    ``name`` what was asked for, ``suggestion`` the closest existing name, if any.
    """

    def __init__(self, message: str, *, kind: str, name: str, suggestion: str | None = None) -> None:
        self.kind = kind
        self.name = name
        self.suggestion = suggestion
        super().__init__(message)


class DefinitionError(NbflowError):
    """An asset, task or flow definition is invalid."""


class CycleError(DefinitionError):
    """The asset graph has a cycle; ``cycle`` lists it with the first name repeated last."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(
            f"The asset graph has a cycle: {' -> '.join(cycle)}. "
            "Remove one of these dependencies to break it."
        )


class UnknownAssetError(DefinitionError, NotFoundError):
    """A name was used as an asset but no asset has it."""

    def __init__(self, message: str, *, name: str, suggestion: str | None = None) -> None:
        NotFoundError.__init__(self, message, kind="asset", name=name, suggestion=suggestion)


class PartitionError(DefinitionError):
    """A partitions definition, partition key, key selection or partition mapping is wrong.

    ``definition`` is the definition's repr, ``key`` the key or selection text at fault,
    ``asset`` the asset whose partitions (or mapping) it is, when known.
    """

    def __init__(self, message: str, *, definition: str | None = None, key: str | None = None,
                 asset: str | None = None) -> None:
        self.definition = definition
        self.key = key
        self.asset = asset
        super().__init__(message)


class UserCodeError(DefinitionError):
    """The user's module (``-f FILE.py``, ``-m MODULE``) raised while it was imported.

    ``traceback`` is the user's part of the traceback, without nbflow's own frames.
    """

    def __init__(self, message: str, *, source: str, traceback: str) -> None:
        self.source = source
        self.traceback = traceback
        super().__init__(message)


class SelectionError(NbflowError):
    """A selection string is malformed (``position`` set) or matches nothing."""

    def __init__(self, message: str, *, selection: str = "", position: int | None = None) -> None:
        self.selection = selection
        self.position = position
        super().__init__(message)


class DbtError(NbflowError):
    """dbt could not parse or run the project (the message says what dbt reported)."""


class DbtNodeFailed(DbtError):
    """dbt reported a model, seed or snapshot as failed (or skipped after a failure)."""


class DbtTestFailed(DbtError):
    """A dbt test did not pass."""


class ConflictError(NbflowError):
    """What was asked cannot be done in the current state (a run that already ended or runs
    elsewhere cannot be cancelled); ``reason`` is a short word for it (``ended``, ``running``)."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class SettingsError(NbflowError):
    """A setting has a value nbflow cannot use; ``setting`` names its variable."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        self.setting = setting
        super().__init__(message)


class StoreError(NbflowError):
    """The run store cannot be opened, migrated or written."""


class StoreUrlError(StoreError, SettingsError):
    """The store URL is malformed or names a database nbflow does not support."""

    def __init__(self, message: str) -> None:
        SettingsError.__init__(self, message, setting="NBFLOW_DATABASE_URL")


class IOManagerError(NbflowError):
    """A value cannot be stored or loaded by an I/O manager."""

    def __init__(self, message: str, *, asset: str | None = None) -> None:
        self.asset = asset
        super().__init__(message)


class ParameterError(NbflowError):
    """A parameter is unknown, missing or of the wrong type."""

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(message)


class ScheduleError(NbflowError):
    """A cron expression, interval or time zone is invalid."""


class DeploymentError(NbflowError):
    """A deployment is invalid or cannot run."""


class UnknownDeploymentError(DeploymentError, NotFoundError):
    """No deployment has the name asked for."""

    def __init__(self, message: str, *, name: str, suggestion: str | None = None) -> None:
        NotFoundError.__init__(self, message, kind="deployment", name=name, suggestion=suggestion)


class TaskError(NbflowError):
    """A task or flow failed; carries the step name and the run id."""

    def __init__(self, message: str, *, step: str | None = None, run_id: str | None = None) -> None:
        self.step = step
        self.run_id = run_id
        super().__init__(message)


class TaskTimeout(TaskError, TimeoutError):
    """One attempt of a task ran longer than its ``timeout``."""


class UnhashableInput(NbflowError, TypeError):
    """A task input has no stable hash, so the call cannot be cached."""

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(message)


class LayoutError(NbflowError):
    """Graphviz failed on a graph; the message carries its stderr."""


class CellError(NbflowError):
    """The user's cell code raised; IPython shows ``traceback`` instead of nbflow's frames."""

    def __init__(self, message: str, traceback: str) -> None:
        super().__init__(message)
        self.traceback = traceback

    def _render_traceback_(self) -> list[str]:
        return (self.traceback or str(self)).rstrip("\n").splitlines()


class RunCancelled(NbflowError):
    """A run was cancelled before it finished."""


class NbflowWarning(UserWarning):
    """Warnings nbflow emits (tests turn them into errors)."""
