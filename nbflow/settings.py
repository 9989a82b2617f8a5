"""Settings declared once as data, resolved from arguments, then ``NBFLOW_*`` variables.

Nothing here reads the environment at import time: edges call ``Settings.resolve()``.
"""

from __future__ import annotations

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
            "Seconds between heartbeats of a running run.", float),
    Setting("heartbeat_timeout", "NBFLOW_HEARTBEAT_TIMEOUT", 60.0,
            "Seconds without a heartbeat after which a running run is shown CRASHED.", float),
    Setting("storage", "NBFLOW_STORAGE", None,
            "Base path or fsspec URL for stored values; default: HOME/storage."),
)


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path("~/.nbflow").expanduser())
    database_url: str | None = None
    executor: str = "inprocess"
    heartbeat_interval: float = 5.0
    heartbeat_timeout: float = 60.0
    storage: str | None = None

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


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting: the CLI and the README list these."""
    return [(s.env, str(s.default), s.help) for s in SETTINGS]


__all__ = ["SETTINGS", "Setting", "Settings", "describe"]
