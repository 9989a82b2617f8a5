"""I/O managers: store asset values as bytes under a base path or fsspec URL, content-addressed."""

from __future__ import annotations

import io as _io
import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nbflow.core.versions import data_version
from nbflow.errors import IOManagerError


@dataclass(frozen=True)
class Stored:
    uri: str
    data_version: str
    metadata: dict[str, Any] = field(default_factory=dict)


class IOManager(Protocol):
    name: str

    def store(self, asset: str, value: Any) -> Stored: ...

    def load(self, uri: str) -> Any: ...


def describe(value: Any) -> dict[str, Any]:
    """Metadata worth showing: row count and columns for data frames, length for sequences."""
    meta: dict[str, Any] = {"type": f"{type(value).__module__}.{type(value).__qualname__}"}
    columns = getattr(value, "columns", None)
    shape = getattr(value, "shape", None)
    if columns is not None and shape is not None:
        meta["rows"] = int(shape[0])
        meta["columns"] = [str(c) for c in list(columns)[:50]]
    elif shape is not None:
        meta["shape"] = [int(x) for x in shape]
    elif isinstance(value, (list, tuple, dict, set, str, bytes)):
        meta["length"] = len(value)
    return meta


class _Files:
    """Write and read whole files under a local path or an fsspec URL."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.local = "://" not in base or base.startswith("file://")
        self._dirs: set[str] = set()
        if self.local:
            self.base = self.base.removeprefix("file://")
            self._fs = None
        else:
            import fsspec

            self._fs, _ = fsspec.core.url_to_fs(self.base)

    def write(self, relpath: str, payload: bytes) -> str:
        if self.local:
            folder, _, name = f"{self.base}/{relpath}".rpartition("/")
            if folder not in self._dirs:
                os.makedirs(folder, exist_ok=True)
                self._dirs.add(folder)
            path = f"{folder}/{name}"
            # Content-addressed, so rewriting the same name writes the same bytes; the rename is
            # atomic, so a crash never leaves half a value under the final name.
            tmp = f"{folder}/.{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "wb") as f:
                f.write(payload)
            os.replace(tmp, path)
            return path
        url = f"{self.base}/{relpath}"
        assert self._fs is not None
        with self._fs.open(url, "wb") as f:
            f.write(payload)
        return url

    def read(self, uri: str) -> bytes:
        try:
            if "://" not in uri:
                return Path(uri).read_bytes()
            import fsspec

            with fsspec.open(uri, "rb") as f:
                return f.read()  # type: ignore[no-any-return]
        except FileNotFoundError:
            raise IOManagerError(f"The stored value at {uri} is gone; materialise the asset again "
                                 "(nbflow materialize NAME --force).") from None


class PickleIO:
    """Any picklable value, as ``<base>/<asset>.<data version>.pkl``."""

    name = "pickle"

    def __init__(self, base: str) -> None:
        self.files = _Files(base)

    def store(self, asset: str, value: Any) -> Stored:
        try:
            payload = pickle.dumps(value, protocol=5)
        except Exception as exc:
            raise IOManagerError(
                f"Asset {asset!r} returned a {type(value).__name__}, which the 'pickle' I/O manager "
                f"cannot store ({exc}). Return plain data (or a DataFrame with io='parquet').",
                asset=asset) from None
        version = data_version(payload)
        return Stored(self.files.write(f"{asset}.{version}.pkl", payload), version, describe(value))

    def load(self, uri: str) -> Any:
        return pickle.loads(self.files.read(uri))


class ParquetIO:
    """pandas DataFrames as Parquet files (via pyarrow)."""

    name = "parquet"

    def __init__(self, base: str) -> None:
        self.files = _Files(base)

    def store(self, asset: str, value: Any) -> Stored:
        import pandas as pd

        if not isinstance(value, pd.DataFrame):
            raise IOManagerError(
                f"Asset {asset!r} returned a {type(value).__name__}, but the 'parquet' I/O manager "
                "stores only pandas DataFrames; use io='pickle' for this asset.", asset=asset)
        buf = _io.BytesIO()
        try:
            value.to_parquet(buf, engine="pyarrow")
        except Exception as exc:
            raise IOManagerError(
                f"Asset {asset!r}: the 'parquet' I/O manager cannot write this DataFrame ({exc}); "
                "use io='pickle' for it.", asset=asset) from None
        payload = buf.getvalue()
        version = data_version(payload)
        return Stored(self.files.write(f"{asset}.{version}.parquet", payload), version, describe(value))

    def load(self, uri: str) -> Any:
        import pandas as pd

        return pd.read_parquet(_io.BytesIO(self.files.read(uri)), engine="pyarrow")


_IO_MANAGERS: dict[str, Callable[[str], IOManager]] = {}


def register_io_manager(name: str, factory: Callable[[str], IOManager]) -> None:
    """Make ``io=name`` available; ``factory(base)`` builds the manager for a storage base."""
    _IO_MANAGERS[name] = factory


register_io_manager("pickle", PickleIO)
register_io_manager("parquet", ParquetIO)

_cache: dict[tuple[str, str], IOManager] = {}


def io_manager(name: str, base: str) -> IOManager:
    try:
        return _cache[(name, base)]
    except KeyError:
        pass
    factory = _IO_MANAGERS.get(name)
    if factory is None:
        raise IOManagerError(f"There is no I/O manager named {name!r}; use one of "
                             f"{', '.join(sorted(_IO_MANAGERS))} or register one with "
                             "nbflow.register_io_manager(name, factory).")
    manager = _cache[(name, base)] = factory(base)
    return manager


def io_names() -> list[str]:
    return sorted(_IO_MANAGERS)
