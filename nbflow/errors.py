"""The exceptions nbflow raises, all rooted at ``NbflowError``.

::

    NbflowError
     ├── DefinitionError          an asset, task or flow is defined wrongly
     │    ├── CycleError          the asset graph has a cycle (``a -> b -> a``)
     │    └── UnknownAssetError   a name that no asset has
     ├── SelectionError           a selection string is malformed or matches nothing
     ├── StoreError               the run store cannot be opened or written
     ├── IOManagerError           a value cannot be stored or loaded
     ├── ParameterError           a parameter is unknown or has the wrong type
     ├── ScheduleError            an invalid cron expression, interval or time zone
     ├── DeploymentError          a deployment is missing or cannot run
     ├── TaskError                a task or flow failed (carries the step and run)
     └── RunCancelled             a run was cancelled

Messages are whole sentences that name the thing and the fix. Errors carry fields
(``asset``, ``run_id``, ...) so edges (the CLI, magics, the panel) can show them as data.
"""

from __future__ import annotations


class NbflowError(Exception):
    """Root of every error nbflow raises on purpose."""


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


class UnknownAssetError(DefinitionError):
    """A name was used as an asset but no asset has it."""

    def __init__(self, message: str, *, name: str, suggestion: str | None = None) -> None:
        self.name = name
        self.suggestion = suggestion
        super().__init__(message)


class SelectionError(NbflowError):
    """A selection string is malformed (``position`` set) or matches nothing."""

    def __init__(self, message: str, *, selection: str = "", position: int | None = None) -> None:
        self.selection = selection
        self.position = position
        super().__init__(message)


class StoreError(NbflowError):
    """The run store cannot be opened, migrated or written."""


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
    """A deployment does not exist or cannot run."""


class TaskError(NbflowError):
    """A task or flow failed; carries the step name and the run id."""

    def __init__(self, message: str, *, step: str | None = None, run_id: str | None = None) -> None:
        self.step = step
        self.run_id = run_id
        super().__init__(message)


class RunCancelled(NbflowError):
    """A run was cancelled before it finished."""


class NbflowWarning(UserWarning):
    """Warnings nbflow emits (tests turn them into errors)."""
