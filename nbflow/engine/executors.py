"""Executors: where step work runs. A Protocol plus a registry; inprocess and threads built in."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from nbflow.errors import NotFoundError


class Executor(Protocol):
    name: str
    concurrent: bool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]: ...

    def shutdown(self, wait: bool = True) -> None: ...


class InProcessExecutor:
    """Runs each step at once on the calling thread (the default: simplest, fastest per step)."""

    name = "inprocess"
    concurrent = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - the runner turns it into a step failure
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True) -> None:
        pass


class ThreadExecutor:
    """Independent branches in parallel on a thread pool."""

    name = "threads"
    concurrent = True

    def __init__(self, max_workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="nbflow-step")

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


ExecutorFactory = Callable[[int | None, str | None], Executor]
_EXECUTORS: dict[str, ExecutorFactory] = {}


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Make ``executor=name`` available; ``factory(max_workers, address)`` builds one."""
    _EXECUTORS[name] = factory


register_executor("inprocess", lambda workers, address: InProcessExecutor())
register_executor("threads", lambda workers, address: ThreadExecutor(workers))


def make_executor(spec: str | Executor, max_workers: int | None = None) -> Executor:
    """An executor from its name (``threads``) or URL (``dask://host:8786``), or as given."""
    if not isinstance(spec, str):
        return spec
    name, _, address = spec.partition("://")
    if name not in _EXECUTORS:
        _load_plugins()
    factory = _EXECUTORS.get(name)
    if factory is None:
        import difflib

        close = difflib.get_close_matches(name, list(_EXECUTORS), n=1)
        raise NotFoundError(f"There is no executor named {spec!r}; use one of "
                            f"{', '.join(sorted(_EXECUTORS))} (or dask://HOST:PORT)."
                            + (f" Did you mean {close[0]!r}?" if close else ""),
                            kind="executor", name=spec, suggestion=close[0] if close else None)
    return factory(max_workers, address or None)


def _load_plugins() -> None:
    """Register the executors that need heavy imports (processes, Dask) on first use."""
    try:
        import nbflow.engine.distributed  # noqa: F401
    except ImportError:
        pass


def executor_names() -> list[str]:
    _load_plugins()
    return sorted(_EXECUTORS)
