"""Settings declared once as data, resolved from arguments, then ``NBFLOW_*`` variables.

Nothing here reads the environment at import time: edges call ``Settings.resolve()``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nbflow.errors import SettingsError


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    help: str
    cast: Any = str


SETTINGS: tuple[Setting, ...] = (
    Setting("home", "NBFLOW_HOME", "~/.nbflow",
            "Folder for the SQLite store, stored values and executed notebooks.", Path),
    Setting("database_url", "NBFLOW_DATABASE_URL", None,
            "Any SQLAlchemy URL for the run store; default: SQLite at HOME/nbflow.db."),
    Setting("executor", "NBFLOW_EXECUTOR", "inprocess",
            "Default executor: inprocess, threads, processes, dask or dask://HOST:PORT."),
    Setting("heartbeat_interval", "NBFLOW_HEARTBEAT_INTERVAL", 5.0,
            "Seconds between heartbeats of a running run (above 0).", float),
    Setting("heartbeat_timeout", "NBFLOW_HEARTBEAT_TIMEOUT", 60.0,
            "Seconds without a heartbeat after which a running run is shown CRASHED; at least "
            "3 times the heartbeat interval. A run whose process is gone on this host is "
            "CRASHED at once.", float),
    Setting("storage", "NBFLOW_STORAGE", None,
            "Base path or fsspec URL for stored values; default: HOME/storage."),
    Setting("kernel_pool", "NBFLOW_KERNEL_POOL", 2,
            "Ready kernels the daemon keeps per kernel name for deployment runs; 0: none.", int),
    Setting("kernel_pool_idle", "NBFLOW_KERNEL_POOL_IDLE", "10m",
            "A pooled kernel ready for longer than this is replaced by a fresh one (e.g. 10m)."),
    Setting("kernel_pool_memory", "NBFLOW_KERNEL_POOL_MEMORY", "1GB",
            "Memory (resident) the pool's ready kernels may use together; 0: no cap."),
)


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path("~/.nbflow").expanduser())
    database_url: str | None = None
    executor: str = "inprocess"
    heartbeat_interval: float = 5.0
    heartbeat_timeout: float = 60.0
    storage: str | None = None
    kernel_pool: int = 2
    kernel_pool_idle: str = "10m"
    kernel_pool_memory: str = "1GB"

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Arguments first, then ``NBFLOW_*`` environment variables, then defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for s in SETTINGS:
            raw = overrides.get(s.name)
            if raw is None:
                raw = env.get(s.env) or s.default
            if raw is not None:
                raw = _cast(s, raw)
                if isinstance(raw, Path):
                    raw = raw.expanduser().resolve()
            values[s.name] = raw
        check_heartbeat(values["heartbeat_interval"], values["heartbeat_timeout"],
                        given={s.name for s in SETTINGS
                               if overrides.get(s.name) is not None or env.get(s.env)})
        return cls(**values)

    @property
    def url(self) -> str:
        """The store URL: the setting, else SQLite under home."""
        return self.database_url or f"sqlite:///{self.home / 'nbflow.db'}"

    @property
    def storage_base(self) -> str:
        return self.storage or str(self.home / "storage")

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _cast(s: Setting, raw: Any) -> Any:
    """``raw`` as the setting's type; a ``SettingsError`` naming the variable when it is not."""
    try:
        return s.cast(raw)
    except (TypeError, ValueError, OverflowError):
        kind = f"a number of seconds, e.g. {s.default:g}" if s.cast is float else "a valid value"
        raise SettingsError(f"{s.env}={raw!r} is not valid; set it to {kind}, or unset it for "
                            "the default.", setting=s.env) from None


HEARTBEAT_MARGIN = 3
"""The heartbeat timeout is at least this many heartbeat intervals: a run is never shown
CRASHED because one or two beats came late."""


def check_heartbeat(interval: float, timeout: float, given: set[str] | frozenset[str] = frozenset()) -> None:
    """Refuse heartbeat settings that would show live runs CRASHED (or never show a crash)."""
    if not (math.isfinite(interval) and interval > 0):
        raise SettingsError(f"NBFLOW_HEARTBEAT_INTERVAL={interval:g} is not valid; set it to a "
                            "positive number of seconds, e.g. 5, or unset it for the default.",
                            setting="NBFLOW_HEARTBEAT_INTERVAL")
    if not (math.isfinite(timeout) and timeout >= HEARTBEAT_MARGIN * interval):
        # Name the variable the user set; when both (or neither) were set, the timeout.
        env = ("NBFLOW_HEARTBEAT_INTERVAL" if "heartbeat_interval" in given
               and "heartbeat_timeout" not in given else "NBFLOW_HEARTBEAT_TIMEOUT")
        raise SettingsError(
            f"{env}={interval if env.endswith('INTERVAL') else timeout:g} is not valid: the "
            f"heartbeat timeout ({timeout:g} s) must be a finite number of seconds at least "
            f"{HEARTBEAT_MARGIN} times the heartbeat interval ({interval:g} s), or running "
            f"runs are shown CRASHED between two beats; set NBFLOW_HEARTBEAT_TIMEOUT to "
            f"{HEARTBEAT_MARGIN * interval:g} or more, or unset both for the defaults (5 and 60).",
            setting=env)


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting: the CLI and the README list these."""
    return [(s.env, str(s.default), s.help) for s in SETTINGS]


__all__ = ["HEARTBEAT_MARGIN", "SETTINGS", "Setting", "Settings", "check_heartbeat", "describe"]
