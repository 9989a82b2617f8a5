"""Warm kernels: a small pool per kernel name, started ahead of time, each handed out once.

Starting a kernel is nearly all of a trivial deployment run's time (about 1-2 s), so the daemon
keeps ``size`` kernels per kernel name started and ready (``kernel_info`` answered) before any
run needs one. A run takes a kernel that has never executed anything; after the run the kernel
is shut down, never given to another run (no state leaks between runs), and the pool starts a
replacement in the background.

How a run gets its environment and working folder. A pooled kernel was started before its run
existed, with the daemon's environment (minus ``NBFLOW_RUN_ID``/``NBFLOW_DEPLOYMENT``) in the
pool's folder. Before the first cell, the run's environment is set with ``os.environ.update`` and
its folder with ``os.chdir`` by one *silent* execute request (``silent=True``,
``store_history=False``): it is not a cell, does not count in the execution counter and leaves
no trace in the executed notebook, which looks exactly as a cold run's. A request that sets
variables the interpreter reads only when it starts (``PYTHON*``, ``LD_*``) runs on a cold
kernel instead (``warm_ok``).

Responsibilities of ``KernelPool``:

1. keep ``size`` ready kernels per wanted kernel name (``want``), starting them concurrently on
   the pool's own event loop thread;
2. hand one out (``take``), or None when none is ready (the run then starts its own kernel);
3. shut a used kernel down in the background (``release``) and move its log to the run's log;
4. replace kernels idle longer than ``idle`` seconds (a fresh one is started first; the old
   one is shut down once the new one is ready), and start no more while the ready kernels
   already use ``memory`` bytes;
5. ``close()``: kill every kernel it started (ready, starting or still shutting down), at exit
   too, so a daemon stopped by SIGTERM leaves no kernel processes behind.

``nbflow trigger`` without a daemon uses no pool: its one run would wait for the pool's first
kernel exactly as long as for a kernel of its own, and the spare kernels would only be started
to be killed again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbflow.core.durations import parse_duration
from nbflow.errors import SettingsError

if TYPE_CHECKING:
    from nbflow.settings import Settings

RUN_ONLY = ("NBFLOW_RUN_ID", "NBFLOW_DEPLOYMENT")
"""Variables that belong to one run: a pooled kernel never starts with them."""

START_ONLY = ("PYTHON", "LD_", "DYLD_")
"""Prefixes of variables the interpreter reads only at start: setting them later is too late."""

KERNEL_RSS_GUESS = 80 * 2**20
"""Bytes one fresh ipykernel is assumed to use before one was measured."""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(value: str | int, *, what: str) -> int:
    """Bytes from ``value``: a number of bytes or a text like ``"512MB"``, ``"1GiB"`` (powers of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise SettingsError(f"{what} must not be negative, got {value}; give bytes or e.g. 1GB.")
        return value
    m = _SIZE.match(str(value))
    if m is None:
        raise SettingsError(f"{what} {value!r} is not a size; give bytes (1073741824) or a number "
                            "with a unit KB, MB, GB or TB (512MB, 1GB).", setting=what)
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()[:1]])


@dataclass(frozen=True)
class PoolSettings:
    """How many ready kernels per name, how long one may wait, how much memory ready ones may use."""

    size: int = 2
    idle: float = 600.0
    memory: int = 2**30
    """Bytes (resident) that the ready kernels together may use; 0: no cap."""

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolSettings:
        if settings.kernel_pool < 0:
            raise SettingsError(f"NBFLOW_KERNEL_POOL={settings.kernel_pool} is not valid; set it to "
                                "0 (no pool) or a number of kernels, e.g. 2.",
                                setting="NBFLOW_KERNEL_POOL")
        idle = parse_duration(settings.kernel_pool_idle, what="NBFLOW_KERNEL_POOL_IDLE",
                              minimum=0.0, allow_minimum=False, error=SettingsError)
        memory = parse_size(settings.kernel_pool_memory, what="NBFLOW_KERNEL_POOL_MEMORY")
        return cls(size=settings.kernel_pool, idle=idle, memory=memory)


def warm_ok(env: Mapping[str, str]) -> bool:
    """Whether a run with ``env`` can use a pooled kernel (nothing it sets is read only at start)."""
    return not any(k.startswith(START_ONLY) for k in env)


def setup_code(env: Mapping[str, str], cwd: str) -> str:
    """The silent request that gives a pooled kernel its run's environment and folder."""
    return (f"import os as _nbflow_os\n_nbflow_os.environ.update({dict(env)!r})\n"
            f"_nbflow_os.chdir({cwd!r})\ndel _nbflow_os\n")


_KERNEL_NAMES: dict[tuple[str, float], str | None] = {}


def notebook_kernel(notebook: str, kernel: str | None = None) -> str | None:
    """The kernel name a run of ``notebook`` uses: ``kernel``, else the notebook's kernelspec."""
    if kernel:
        return kernel
    try:
        key = (notebook, os.stat(notebook).st_mtime)
    except OSError:
        return None
    if key not in _KERNEL_NAMES:
        try:
            with open(notebook, encoding="utf-8") as f:
                name = json.load(f).get("metadata", {}).get("kernelspec", {}).get("name")
        except (OSError, ValueError, AttributeError):
            name = None
        _KERNEL_NAMES[key] = name if isinstance(name, str) and name else None
    return _KERNEL_NAMES[key]


@dataclass(eq=False)
class WarmKernel:
    """One pooled kernel: its manager, its log file, when it was ready."""

    name: str
    km: Any
    log_path: Path
    log: Any
    ready_at: float = 0.0
    moved_log: bool = False
    pid: int | None = None
    rss: int = field(default=0)


def _manager_class() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class _PoolKernelManager(AsyncKernelManager):  # type: ignore[misc]
        """Starts its kernel in a session of its own, with the neutral env, logging to a file."""

        log_file: Any = None

        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            kw["env"] = {k: v for k, v in {**os.environ, **kw.get("env", {})}.items()
                         if k not in RUN_ONLY}
            kw["stdout"] = kw["stderr"] = self.log_file
            # its own session: signals to the daemon's terminal never reach a kernel
            kw["start_new_session"] = True
            return await super()._async_pre_start_kernel(**kw)

    return _PoolKernelManager


def _kill(pid: int | None) -> None:
    """SIGKILL a kernel's process group (the kernel and anything it spawned)."""
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _pid(kernel: WarmKernel) -> int | None:
    """The kernel's process id, also while it is still starting."""
    return kernel.pid or getattr(kernel.km.provisioner, "pid", None)


def _append(source: Path, target: Path) -> None:
    with contextlib.suppress(OSError), open(target, "ab") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out)


def _rss(pid: int | None) -> int:
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except Exception:  # noqa: BLE001 - a kernel that is gone uses nothing
        return 0


class KernelPool:
    """Ready kernels per kernel name; see the module docstring for its responsibilities."""

    def __init__(self, settings: PoolSettings, folder: Path | str, *,
                 start_timeout: float = 60.0, check_every: float = 0.5) -> None:
        self.settings = settings
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.start_timeout = start_timeout
        self.check_every = check_every
        self._lock = threading.Lock()
        self._wanted: set[str] = set()
        self._ready: dict[str, list[WarmKernel]] = {}
        self._starting: dict[str, int] = {}
        self._alive: set[WarmKernel] = set()  # every kernel started and not yet shut down
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors: dict[str, str] = {}
        """The last start failure per kernel name (the pool retries on its next check)."""
        self.started = 0
        """Kernels started so far (ready or not)."""
        self.capped = False
        """Whether the memory cap kept the pool from starting a kernel at its last check."""
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="nbflow-kernel-pool", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    @classmethod
    def from_settings(cls, settings: Settings) -> KernelPool | None:
        """The pool for a daemon with ``settings`` (under HOME/kernels), or None when size is 0."""
        pool = PoolSettings.from_settings(settings)
        return cls(pool, Path(settings.home) / "kernels") if pool.size > 0 else None

    # ------------------------------------------------------------------ the public verbs
    def want(self, *names: str | None) -> None:
        """Keep ready kernels of these names from now on."""
        new = {n for n in names if n} - self._wanted
        if new and not self._closed:
            with self._lock:
                self._wanted |= new
            self._kick()

    def take(self, name: str, log_path: str | Path | None = None) -> WarmKernel | None:
        """A ready kernel of ``name`` that has run nothing (None when none is ready).

        With ``log_path``, the kernel's output log becomes that file when it does not exist yet
        (the kernel keeps writing to it); otherwise it is appended there on ``release``.
        """
        self.want(name)
        with self._lock:
            ready = self._ready.get(name, [])
            kernel = None
            while ready:
                candidate = ready.pop(0)  # the oldest: the newest stay ready the longest
                if candidate.km.provisioner is not None and candidate.km.provisioner.process \
                        and candidate.km.provisioner.process.poll() is None:
                    kernel = candidate
                    break
                self._later(self._shutdown(candidate, None))
        self._kick()
        if kernel is not None and log_path is not None:
            target = Path(log_path)
            if not target.exists():
                try:
                    os.replace(kernel.log_path, target)
                    kernel.log_path, kernel.moved_log = target, True
                except OSError:  # another file system: appended on release instead
                    pass
        return kernel

    def release(self, kernel: WarmKernel, log_path: str | Path | None = None) -> None:
        """Shut a taken kernel down in the background; it is never handed out again."""
        self._later(self._shutdown(kernel, None if kernel.moved_log else log_path))

    def ready(self) -> dict[str, int]:
        """Ready kernels per name."""
        with self._lock:
            return {name: len(ks) for name, ks in self._ready.items()}

    def pids(self) -> list[int]:
        """Process ids of every kernel this pool started that is not shut down yet."""
        with self._lock:
            return sorted(p for p in map(_pid, self._alive) if p)

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until every wanted name has ``size`` ready kernels (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                full = all(len(self._ready.get(n, [])) >= self.settings.size for n in self._wanted)
            if full:
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout: float = 10.0) -> None:
        """Kill every kernel this pool started and stop its thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
            with contextlib.suppress(Exception):
                future.result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        with self._lock:  # whatever is left (the loop did not answer): kill it from here
            left = list(self._alive)
            self._alive.clear()
        for kernel in left:
            _kill(_pid(kernel))
            with contextlib.suppress(Exception):
                kernel.log.close()

    # ------------------------------------------------------------------ the pool's loop
    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._check_soon)
        self._loop.run_forever()
        self._loop.close()

    def _kick(self) -> None:
        if not self._closed:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self._loop.call_soon_threadsafe(self._check)

    def _later(self, coro: Any) -> None:
        """Run ``coro`` on the pool's loop (from any thread)."""
        def spawn() -> None:
            task = self._loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        try:
            self._loop.call_soon_threadsafe(spawn)
        except RuntimeError:  # closed: the coroutine will never run
            coro.close()

    def _check_soon(self) -> None:
        if self._closed:
            return
        self._check()
        self._loop.call_later(self.check_every, self._check_soon)

    def _check(self) -> None:
        """Replace kernels idle too long, refill every wanted name (on the pool's loop)."""
        if self._closed:
            return
        now = time.monotonic()
        s = self.settings
        retire: list[WarmKernel] = []
        start: list[str] = []
        with self._lock:
            rss = sum(k.rss or KERNEL_RSS_GUESS for ks in self._ready.values() for k in ks)
            rss += KERNEL_RSS_GUESS * sum(self._starting.values())
            self.capped = False
            for name in sorted(self._wanted):
                ready = self._ready.setdefault(name, [])
                fresh = [k for k in ready if now - k.ready_at < s.idle]
                stale = [k for k in ready if now - k.ready_at >= s.idle]
                # an idle kernel is retired once a fresh one can stand in for it
                while stale and len(fresh) + len(stale) > s.size:
                    retire.append(stale.pop(0))
                self._ready[name] = stale + fresh
                missing = s.size - len(fresh) - self._starting.get(name, 0)
                for _ in range(max(missing, 0)):
                    if s.memory and rss + KERNEL_RSS_GUESS > s.memory:
                        self.capped = True
                        break
                    rss += KERNEL_RSS_GUESS
                    self._starting[name] = self._starting.get(name, 0) + 1
                    start.append(name)
        for kernel in retire:
            self._later(self._shutdown(kernel, None))
        for name in start:
            self._later(self._start(name))

    async def _start(self, name: str) -> None:
        stamp = f"{name}-{os.getpid()}-{time.monotonic_ns()}"
        log_path = self.folder / f"{stamp}.log"
        # the kernel writes to it for its whole life; opening a local file does not block for long
        log = open(log_path, "ab")  # noqa: SIM115, ASYNC230
        km = _manager_class()(kernel_name=name)
        km.log_file = log
        kernel = WarmKernel(name, km, log_path, log)
        ok = False
        try:
            with self._lock:
                self._alive.add(kernel)
                self.started += 1
            await km.start_kernel(cwd=str(self.folder))
            kernel.pid = getattr(km.provisioner, "pid", None)
            kc = km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=self.start_timeout)
            finally:
                kc.stop_channels()
            kernel.ready_at = time.monotonic()
            kernel.rss = _rss(kernel.pid)
            ok = True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - kept as data; the next check retries
            self.errors[name] = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._starting[name] = max(self._starting.get(name, 1) - 1, 0)
                if ok and not self._closed:
                    self._ready.setdefault(name, []).append(kernel)
                    self.errors.pop(name, None)
            if not ok or self._closed:
                await self._shutdown(kernel, None, now=True)
        if ok:
            self._check()  # an idle kernel it replaces can go now

    async def _shutdown(self, kernel: WarmKernel, log_path: str | Path | None, *,
                        now: bool = False) -> None:
        """Shut ``kernel`` down (gracefully: user code may still flush files), then its log."""
        km = kernel.km
        try:
            if km.has_kernel:
                await asyncio.wait_for(km.shutdown_kernel(now=now), timeout=10.0)
        except Exception:  # noqa: BLE001 - a kernel that will not stop is killed
            _kill(_pid(kernel))
            with contextlib.suppress(Exception):
                await km.cleanup_resources()
        finally:
            with self._lock:
                self._alive.discard(kernel)
            with contextlib.suppress(Exception):
                kernel.log.close()
        if log_path is not None and kernel.log_path.exists():
            await asyncio.to_thread(_append, kernel.log_path, Path(log_path))
        if not kernel.moved_log:
            with contextlib.suppress(OSError):
                kernel.log_path.unlink()

    async def _close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with self._lock:
            kernels = list(self._alive)
            self._ready.clear()
        for kernel in kernels:  # a fresh kernel holds nothing: kill, do not ask
            _kill(_pid(kernel))
        await asyncio.gather(*(self._shutdown(k, None, now=True) for k in kernels),
                             return_exceptions=True)


__all__ = ["KernelPool", "PoolSettings", "WarmKernel", "notebook_kernel", "parse_size",
           "setup_code", "warm_ok"]
