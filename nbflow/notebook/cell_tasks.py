"""Cell tasks: ``%%task NAME`` makes the cell a parameterless task and runs it as a recorded run."""

from __future__ import annotations

import traceback
import types
from typing import Any

from nbflow.core.tasks import make_task
from nbflow.errors import CellError
from nbflow.notebook.cells import compile_cell


def user_traceback(exc: BaseException, code: types.CodeType | None) -> str:
    """The traceback from the user's own frame down (nbflow's frames above it left out)."""
    tb = exc.__traceback__
    probe = tb
    while probe is not None and probe.tb_frame.f_code is not code:
        probe = probe.tb_next
    return "".join(traceback.format_exception(type(exc), exc, probe or tb))


def run_cell_task(name: str, source: str, *, namespace: dict[str, Any], filename: str = "<cell>",
                  retries: int = 0, cache: str | None = None,
                  cache_ttl: str | None = None) -> Any:
    """Compile the cell into task ``name``, run it (a run of its own in the store), return its value."""
    from nbflow.session.tasks import Task

    made = compile_cell(source, name=name, params=[], namespace=namespace, filename=filename,
                        require_value=False)
    task = Task(make_task(made.fn, name=name, retries=retries, cache=cache, cache_ttl=cache_ttl,
                          source=source, description="%%task cell"))
    from nbflow.core.events import StepRetrying
    from nbflow.session import get_session

    def show_retry(e: Any) -> None:
        if isinstance(p := e.data, StepRetrying) and p.task == name:
            delay = p.delay
            print(f"Attempt {p.attempt} of {retries + 1} failed: {p.error}; "
                  f"retrying" + (f" in {delay:g} s." if delay else "."))

    unsubscribe = get_session().hooks.subscribe(show_retry)
    try:
        outcome = task(return_state=True)
    finally:
        unsubscribe()
    if not outcome.ok:
        error = outcome.error
        if error is None:
            raise CellError(f"Task {name!r} ended {outcome.state.value} in run {outcome.run_id}.", "")
        raise CellError(f"Task {name!r} failed in run {outcome.run_id}: {type(error).__name__}: {error}",
                        user_traceback(error, made.fn.__code__))
    return outcome.value


__all__ = ["run_cell_task", "user_traceback"]
