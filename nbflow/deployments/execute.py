"""Execute one notebook with papermill and a real kernel; parameters travel as data, not code.

``execute_notebook(request)`` is a module-level function over picklable dataclasses, so the
scheduler can run it in a thread or ship it to a Dask worker. It never raises for a failing
notebook: the ``ExecutionResult`` carries the failing cell's index, exception name and message,
and the executed notebook is written in every case (also when a timeout or a cancel kills the
kernel).

With a ``KernelPool`` (the daemon's), the run takes a ready kernel that has never run anything:
papermill still executes the notebook (its engine "nbflow-warm" is papermill's nbclient engine
handed the pooled kernel manager), the run's environment and folder are set by one silent
request before the first cell (see ``kernels.py``), and the kernel is shut down after the run.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbflow.core.codec import dumps
from nbflow.deployments.parameters import INJECTED_TAG, find_parameters_cell, injected_source

if TYPE_CHECKING:
    from nbflow.deployments.kernels import KernelPool, WarmKernel


@dataclass(frozen=True)
class ExecutionRequest:
    """What to run: the notebook, typed parameter values, the kernel environment, limits."""

    notebook: str
    output_path: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    kernel: str | None = None
    timeout: float | None = None
    cwd: str | None = None
    html: bool = False
    start_timeout: float = 60.0
    log_path: str | None = None
    """Where the kernel's own stdout and stderr go (default: beside the output, ``.log``)."""


@dataclass(frozen=True)
class ExecutionResult:
    """How it went. ``cell_index`` counts cells of the source notebook, from 0."""

    ok: bool
    output_path: str
    duration: float
    error: str | None = None
    cell_index: int | None = None
    exception: str | None = None
    message: str | None = None
    timed_out: bool = False
    cancelled: bool = False
    html_path: str | None = None


def prepare_notebook(nb: Any, values: Mapping[str, Any]) -> tuple[Any, int | None]:
    """Insert the ``injected-parameters`` cell after the ``parameters`` cell (papermill's place).

    Returns the notebook and the injected cell's index (None when nothing was injected). An
    injected cell left by an earlier papermill run is removed first.
    """
    import nbformat

    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    if not values:
        return nb, None
    index = find_parameters_cell(nb)
    at = 0 if index is None else index + 1
    cell = nbformat.v4.new_code_cell(source=injected_source(values))
    cell.metadata["tags"] = [INJECTED_TAG]
    nb.cells.insert(at, cell)
    nb.metadata.setdefault("nbflow", {})["parameters"] = dumps(dict(values))
    return nb, at


def _kernel_manager_class(env: Mapping[str, str], started: list[Any], log: Any) -> type:
    """An AsyncKernelManager that starts its kernel with ``env`` and reports itself."""
    from jupyter_client.manager import AsyncKernelManager

    extra = dict(env)

    class _RunKernelManager(AsyncKernelManager):  # type: ignore[misc]
        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            kw["env"] = {**os.environ, **kw.get("env", {}), **extra}
            kw["stdout"] = kw["stderr"] = log
            # its own session: a terminal's Ctrl-C reaches nbflow (which cancels), never the kernel
            kw["start_new_session"] = True
            started.append(self)
            return await super()._async_pre_start_kernel(**kw)

    return _RunKernelManager


def _kill_kernel(started: list[Any]) -> None:
    """SIGKILL the kernel's process group (the kernel and anything it spawned)."""
    for km in started:
        provisioner = getattr(km, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        if not pid:
            continue
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


WARM_ENGINE = "nbflow-warm"
"""The papermill engine that runs a notebook on a pooled kernel."""

WELCOME_TIMEOUT = 2.0
"""Seconds a new client waits for a pooled kernel's iopub_welcome before the generic wait."""


def _register_warm_engine() -> None:
    """papermill's nbclient engine, but on the pooled kernel manager it is handed (``km``)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    if WARM_ENGINE in papermill_engines._engines:
        return
    from jupyter_core.utils import run_sync
    from traitlets import Unicode

    class _WarmClient(PapermillNotebookClient):  # type: ignore[misc]
        setup_code = Unicode("").tag(config=True)

        async def async_start_new_kernel_client(self) -> Any:
            from queue import Empty

            from nbclient.util import run_hook

            # The pooled kernel answered kernel_info when the pool started it; what a new client
            # needs is its IOPub subscription, announced by ipykernel's iopub_welcome (the
            # generic wait_for_ready would also idle 0.2 s flushing IOPub).
            kc = self.kc = self.km.client()
            kc.start_channels()
            try:
                try:
                    await kc.iopub_channel.get_msg(timeout=WELCOME_TIMEOUT)
                except Empty:  # a kernel that sends no welcome: the generic wait
                    await kc.wait_for_ready(timeout=self.startup_timeout)
                kc.allow_stdin = False
                if self.setup_code:  # silent: no execute_input, no execution count, no cell
                    msg_id = kc.execute(self.setup_code, silent=True, store_history=False,
                                        allow_stdin=False)
                    reply = await self.async_wait_for_reply(msg_id)
                    content = (reply or {}).get("content", {})
                    if content.get("status") != "ok":
                        raise RuntimeError("The pooled kernel could not take the run's environment "
                                           f"and folder: {content.get('ename')}: "
                                           f"{content.get('evalue')}")
            except BaseException:
                kc.stop_channels()
                self.kc = None
                raise
            await run_hook(self.on_notebook_start, notebook=self.nb)
            return kc

        start_new_kernel_client = run_sync(async_start_new_kernel_client)

        def execute(self, **kwargs: Any) -> Any:
            try:
                return super().execute(**kwargs)
            finally:  # the kernel manager is the pool's, so nbclient leaves the channels open
                if self.kc is not None:
                    self.kc.stop_channels()
                    self.kc = None

    class _WarmEngine(NBClientEngine):  # type: ignore[misc]
        """``NBClientEngine.execute_managed_notebook`` with the client above."""

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None,
                                     start_timeout: int = 60, execution_timeout: Any = None,
                                     **kwargs: Any) -> Any:
            from papermill.log import logger
            from papermill.utils import merge_kwargs, remove_args

            kwargs = remove_args(["input_path"], **kwargs)
            safe = remove_args(["timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(safe, timeout=execution_timeout or kwargs.get("timeout"),
                                 startup_timeout=start_timeout, kernel_name=kernel_name,
                                 log=logger, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file)
            return _WarmClient(nb_man, **final).execute()

    papermill_engines.register(WARM_ENGINE, _WarmEngine)


def _take_warm(kernels: KernelPool | None, request: ExecutionRequest, nb: Any,
               log_path: Path) -> WarmKernel | None:
    from nbflow.deployments.kernels import warm_ok

    if kernels is None or not warm_ok(request.env):
        return None
    name = request.kernel or nb.metadata.get("kernelspec", {}).get("name")
    return kernels.take(name, log_path) if name else None


def execute_notebook(
    request: ExecutionRequest, *, cancel: threading.Event | None = None,
    kernels: KernelPool | None = None,
) -> ExecutionResult:
    """Run ``request.notebook`` to ``request.output_path``; never raises for notebook errors.

    With ``kernels``, a ready kernel of the pool runs it when there is one (else a new kernel).
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _quiet_papermill()
    started_at = time.monotonic()
    out = Path(request.output_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(request.notebook, as_version=4)
    nb, injected_at = prepare_notebook(nb, request.parameters)
    started: list[Any] = []
    stop = threading.Event()
    why: list[str] = []

    def watchdog() -> None:
        deadline = None if request.timeout is None else started_at + request.timeout
        while not stop.is_set():
            if cancel is not None and cancel.is_set():
                why.append("cancelled")
                break
            if deadline is not None and time.monotonic() >= deadline:
                why.append("timeout")
                break
            stop.wait(0.05)
        else:
            return
        _kill_kernel(started)

    guard = threading.Thread(target=watchdog, name="nbflow-notebook-watchdog", daemon=True)
    guard.start()
    cwd = request.cwd or str(Path(request.notebook).resolve().parent)
    error: BaseException | None = None
    log_path = Path(request.log_path or out.with_suffix(".log"))
    warm = _take_warm(kernels, request, nb, log_path)
    try:
        if warm is not None:
            from nbflow.deployments.kernels import setup_code

            _register_warm_engine()
            started.append(warm.km)
            if why:  # cancelled while the kernel was being taken
                _kill_kernel(started)
            papermill.execute_notebook(
                nb, str(out.resolve()), parameters=None, kernel_name=warm.name,
                progress_bar=False, log_output=False, start_timeout=int(request.start_timeout),
                engine_name=WARM_ENGINE, km=warm.km, setup_code=setup_code(request.env, cwd),
            )
        else:
            with open(log_path, "ab") as log:
                papermill.execute_notebook(
                    nb, str(out), parameters=None, kernel_name=request.kernel, cwd=cwd,
                    progress_bar=False, log_output=False, start_timeout=int(request.start_timeout),
                    kernel_manager_class=_kernel_manager_class(request.env, started, log),
                )
    except BaseException as exc:  # noqa: BLE001 - every failure becomes data on the result
        error = exc
    finally:
        stop.set()
        guard.join()
        if warm is not None and kernels is not None:
            kernels.release(warm, log_path)
    duration = time.monotonic() - started_at
    html_path = _write_html(out) if request.html and out.exists() else None

    def source_index(i: int | None) -> int | None:
        if i is None or injected_at is None or i < injected_at:
            return i
        return None if i == injected_at else i - 1

    if why:
        cell = _running_cell(out)
        idx = source_index(cell)
        where = f" in cell {idx}" if idx is not None else ""
        if why[0] == "timeout":
            text = (f"The notebook timed out after {request.timeout:g} s{where}; "
                    "its kernel was killed. Raise the deployment's timeout or speed it up.")
            return ExecutionResult(False, str(out), duration, text, idx, "TimeoutError",
                                   f"timed out after {request.timeout:g} s", timed_out=True,
                                   html_path=html_path)
        return ExecutionResult(False, str(out), duration, f"The run was cancelled{where}.", idx,
                               "RunCancelled", "cancelled", cancelled=True, html_path=html_path)
    if error is None:
        return ExecutionResult(True, str(out), duration, html_path=html_path)
    if isinstance(error, PapermillExecutionError):
        idx = source_index(error.cell_index)
        text = f"Cell {idx} raised {error.ename}: {error.evalue}"
        return ExecutionResult(False, str(out), duration, text, idx, error.ename, error.evalue,
                               html_path=html_path)
    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        raise error
    name = type(error).__name__
    text = f"The notebook could not run: {name}: {error}"
    return ExecutionResult(False, str(out), duration, text, source_index(_running_cell(out)),
                           name, str(error), html_path=html_path)


def _quiet_papermill() -> None:
    """papermill logs kernel deaths as warnings; the result carries them, so keep stderr clean."""
    import logging

    logger = logging.getLogger("papermill")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def _running_cell(path: Path) -> int | None:
    """Index of the last cell papermill started in the saved notebook (the one interrupted)."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - no saved notebook means no cell to name
        return None
    last = None
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            last = i
    return last


def _write_html(path: Path) -> str | None:
    try:
        import nbformat
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(path), as_version=4))
    except Exception:  # noqa: BLE001 - HTML is optional; the .ipynb is the record
        return None
    target = path.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return str(target)


__all__ = ["ExecutionRequest", "ExecutionResult", "execute_notebook", "prepare_notebook"]
