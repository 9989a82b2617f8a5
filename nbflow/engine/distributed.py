"""Executors that run step work in other processes: ``processes`` and Dask (``dask``, ``dask://``).

Work is shipped as one cloudpickle payload (so functions defined in a notebook or a script's
``__main__`` travel by value) together with the caller's ``sys.path`` (so functions from the
caller's modules import in the worker). Events stay with the orchestrating process: these
executors only run a function and hand back its result as a ``concurrent.futures.Future``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from nbflow.engine.executors import register_executor
from nbflow.errors import NbflowError


def pack(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """The call as bytes a worker can run with ``run_packed``."""
    import cloudpickle

    try:
        call = cloudpickle.dumps((fn, args, kwargs), protocol=5)
    except Exception as e:
        name = getattr(fn, "__name__", repr(fn))
        raise NbflowError(
            f"Cannot send {name!r} to another process: {type(e).__name__}: {e}. Pass values that "
            "pickle (no open files, locks or connections), or use executor='threads'.") from None
    # The path travels outside the call: it must be in place before the call is unpickled
    # (functions pickled by reference import their module then).
    return pickle.dumps((list(sys.path), call), protocol=5)


def run_packed(payload: bytes) -> Any:
    """Run a packed call in a worker (module level, so it pickles by reference)."""
    import cloudpickle

    path, call = pickle.loads(payload)
    for entry in reversed(path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    fn, args, kwargs = cloudpickle.loads(call)
    return fn(*args, **kwargs)


def _run_packed_pickled(payload: bytes) -> bytes:
    """``run_packed`` for a process pool: the result goes back through cloudpickle too."""
    import cloudpickle

    return cloudpickle.dumps(run_packed(payload), protocol=5)  # type: ignore[no-any-return]


class ProcessExecutor:
    """A pool of worker processes on this machine (CPU-bound work, no GIL contention)."""

    name = "processes"
    concurrent = True
    remote = True

    def __init__(self, max_workers: int | None = None) -> None:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        # Not fork: this process runs threads (the store's writer), and forking them is unsafe.
        self._pool = ProcessPoolExecutor(max_workers=max_workers or os.cpu_count() or 2,
                                         mp_context=multiprocessing.get_context(method))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        inner = self._pool.submit(_run_packed_pickled, pack(fn, args, kwargs))
        outer: Future[Any] = _Linked(inner)
        outer.set_running_or_notify_cancel()

        def done(f: Future[Any]) -> None:
            if f.cancelled():
                outer._cancel_now()  # type: ignore[attr-defined]
                return
            error = f.exception()
            if error is not None:
                outer.set_exception(error)
                return
            import cloudpickle

            try:
                outer.set_result(cloudpickle.loads(f.result()))
            except Exception as e:
                outer.set_exception(e)

        inner.add_done_callback(done)
        return outer

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


class _Linked(Future):  # type: ignore[type-arg]
    """A future whose ``cancel()`` cancels the work it stands for (a pool or Dask future)."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self._inner = inner

    def cancel(self) -> bool:
        try:
            self._inner.cancel()
        except Exception:
            pass
        return self._cancel_now()

    def _cancel_now(self) -> bool:
        with self._condition:
            if self._state == "FINISHED":
                return False
            self._state = "CANCELLED"
            self._condition.notify_all()
        self._invoke_callbacks()  # type: ignore[attr-defined]
        return True


class DaskExecutor:
    """Dask: ``dask`` starts a ``LocalCluster``; ``dask://HOST:PORT`` connects to a scheduler."""

    name = "dask"
    concurrent = True
    remote = True

    def __init__(self, max_workers: int | None = None, address: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise NbflowError("executor='dask' needs Dask: pip install 'nbflow-kit[dask]'.") from None
        self._cluster: Any = None
        self._pending: dict[int, Any] = {}
        self._lock = threading.Lock()
        if address:
            target = address if "://" in address else f"tcp://{address}"
            try:
                self._client = Client(target, timeout=10, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise NbflowError(
                    f"Cannot connect to the Dask scheduler at {target} ({e}); check that it runs "
                    "and the address is right, or use executor='dask' for a local cluster.") from None
            self.address = target
            return
        self._cluster = LocalCluster(n_workers=max_workers or min(os.cpu_count() or 2, 4),
                                     threads_per_worker=1, processes=True, dashboard_address=":0",
                                     silence_logs=logging.CRITICAL)
        self._client = Client(self._cluster, set_as_default=False)
        self.address = self._cluster.scheduler_address

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        dask_future = self._client.submit(run_packed, pack(fn, args, kwargs), pure=False)
        outer = _Linked(dask_future)
        outer.set_running_or_notify_cancel()
        ident = id(outer)
        with self._lock:  # a Dask future that is garbage-collected cancels its task
            self._pending[ident] = dask_future

        def done(f: Any) -> None:
            with self._lock:
                self._pending.pop(ident, None)
            if outer.done():
                return
            try:
                if f.status == "cancelled":
                    outer._cancel_now()
                elif f.status == "error":
                    outer.set_exception(f.exception())
                else:
                    outer.set_result(f.result())
            except BaseException as e:
                if not outer.done():
                    outer.set_exception(e)

        dask_future.add_done_callback(done)
        return outer

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            pending = list(self._pending.values())
        if not wait:
            for f in pending:
                f.cancel()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


register_executor("processes", lambda workers, address: ProcessExecutor(workers))
register_executor("dask", lambda workers, address: DaskExecutor(workers, address))

__all__ = ["DaskExecutor", "ProcessExecutor", "pack", "run_packed"]
