"""I/O managers: store asset values as bytes under a base path or fsspec URL, content-addressed."""

from __future__ import annotations

import contextlib
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
        # uri -> (size, mtime_ns, data version) of local files whose bytes were hashed
        self._verified: dict[str, tuple[int, int, str]] = {}
        if self.local:
            self.base = self.base.removeprefix("file://")
            self._fs = None
        else:
            import fsspec

            self._fs, _ = fsspec.core.url_to_fs(self.base)

    def write(self, relpath: str, payload: bytes, version: str | None = None) -> str:
        """Write ``payload`` (whose data version is ``version``, when known) under ``relpath``."""
        if self.local:
            folder, _, name = f"{self.base}/{relpath}".rpartition("/")
            if folder not in self._dirs:
                os.makedirs(folder, exist_ok=True)
                self._dirs.add(folder)
            path = f"{folder}/{name}"
            # Content-addressed, so rewriting the same name writes the same bytes; the rename is
            # atomic, so a crash never leaves half a value under the final name.
            tmp = f"{folder}/.{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            try:
                with open(tmp, "wb") as f:
                    f.write(payload)
                os.replace(tmp, path)
                st = os.stat(path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)  # a full disk must not leave half-written files behind
                raise
            # Written from these bytes just now: later checks need not hash the file again.
            if version is not None:
                self._verified[path] = (st.st_size, st.st_mtime_ns, version)
            return path
        url = f"{self.base}/{relpath}"
        assert self._fs is not None
        with self._fs.open(url, "wb") as f:
            f.write(payload)
        return url

    def read(self, uri: str) -> bytes:
        """The file's bytes; ``FileNotFoundError`` when it is gone."""
        if "://" not in uri:
            return Path(uri).read_bytes()
        import fsspec

        with fsspec.open(uri, "rb") as f:
            return f.read()  # type: ignore[no-any-return]

    def problem(self, uri: str, expected: str) -> str | None:
        """Why the file at ``uri`` does not hold the value of data version ``expected``, or None.

        Local files are hashed once per (size, modification time); a remote file is only
        checked to exist (reading every remote value for a status would cost too much).
        """
        if "://" in uri:
            try:
                import fsspec

                fs, path = fsspec.core.url_to_fs(uri)
                return None if fs.exists(path) else f"its stored file {uri} is gone"
            except Exception as exc:  # noqa: BLE001 - unreachable storage: say so, do not crash
                return f"its stored file {uri} cannot be checked ({type(exc).__name__}: {exc})"
        try:
            st = os.stat(uri)
        except FileNotFoundError:
            return f"its stored file {uri} is gone"
        except OSError as exc:
            return f"its stored file {uri} cannot be read ({exc.strerror})"
        seen = self._verified.get(uri)
        if seen is not None and seen[0] == st.st_size and seen[1] == st.st_mtime_ns:
            actual = seen[2]
        else:
            try:
                actual = data_version(Path(uri).read_bytes())
            except OSError as exc:
                return f"its stored file {uri} cannot be read ({exc.strerror})"
            self._verified[uri] = (st.st_size, st.st_mtime_ns, actual)
        if actual != expected:
            return f"its stored file {uri} was changed outside nbflow (its bytes do not match the recorded data version)"
        return None

    def read_checked(self, uri: str, expected: str | None, asset: str | None) -> bytes:
        """The file's bytes, checked against data version ``expected`` when one is given."""
        what = f"asset {asset!r}" if asset else "the value"
        fix = f"nbflow materialize {asset} --force" if asset else "materialise the asset again"
        try:
            payload = self.read(uri)
        except FileNotFoundError:
            raise IOManagerError(f"The stored value of {what} is gone ({uri}); rebuild it with "
                                 f"`{fix}`.", asset=asset) from None
        if expected is not None and data_version(payload) != expected:
            raise IOManagerError(
                f"The stored value of {what} was changed outside nbflow: {uri} does not match "
                f"its recorded data version {expected}. Rebuild it with `{fix}`.", asset=asset)
        return payload


class FileIO:
    """Base of the built-in managers: encode a value to bytes, content-addressed files, checks."""

    name = "file"
    suffix = "bin"

    def __init__(self, base: str) -> None:
        self.files = _Files(base)

    def encode(self, asset: str, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, payload: bytes) -> Any:
        raise NotImplementedError

    def store(self, asset: str, value: Any) -> Stored:
        payload = self.encode(asset, value)
        version = data_version(payload)
        return Stored(self.files.write(f"{asset}.{version}.{self.suffix}", payload, version), version,
                      describe(value))

    def load(self, uri: str, *, data_version: str | None = None, asset: str | None = None) -> Any:
        payload = self.files.read_checked(uri, data_version, asset)
        try:
            return self.decode(payload)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is a damaged value
            what = f"asset {asset!r}" if asset else "the value"
            raise IOManagerError(
                f"The stored value of {what} at {uri} cannot be read by the {self.name!r} I/O "
                f"manager ({type(exc).__name__}: {exc}); rebuild it with "
                f"`nbflow materialize {asset or 'NAME'} --force`.", asset=asset) from None

    def verify(self, uri: str, data_version: str) -> str | None:
        return self.files.problem(uri, data_version)


class PickleIO(FileIO):
    """Any picklable value, as ``<base>/<asset>.<data version>.pkl``."""

    name = "pickle"
    suffix = "pkl"

    def encode(self, asset: str, value: Any) -> bytes:
        try:
            return pickle.dumps(value, protocol=5)
        except Exception as exc:
            raise IOManagerError(
                f"Asset {asset!r} returned a {type(value).__name__}, which the 'pickle' I/O manager "
                f"cannot store ({exc}). Return plain data (or a DataFrame with io='parquet').",
                asset=asset) from None

    def decode(self, payload: bytes) -> Any:
        return pickle.loads(payload)


class ParquetIO(FileIO):
    """pandas DataFrames as Parquet files (via pyarrow)."""

    name = "parquet"
    suffix = "parquet"

    def encode(self, asset: str, value: Any) -> bytes:
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
        return buf.getvalue()

    def decode(self, payload: bytes) -> Any:
        import pandas as pd

        return pd.read_parquet(_io.BytesIO(payload), engine="pyarrow")


def load_value(manager: IOManager, uri: str, data_version: str | None, asset: str) -> Any:
    """Load a stored value, checked against its recorded data version where the manager can."""
    if isinstance(manager, FileIO):
        return manager.load(uri, data_version=data_version, asset=asset)
    try:
        return manager.load(uri)
    except IOManagerError:
        raise
    except FileNotFoundError:
        raise IOManagerError(f"The stored value of asset {asset!r} is gone ({uri}); rebuild it "
                             f"with `nbflow materialize {asset} --force`.", asset=asset) from None


def value_problem(manager: IOManager, uri: str, data_version: str) -> str | None:
    """Why a recorded value is not there as recorded (gone, changed), or None when it is."""
    verify = getattr(manager, "verify", None)
    return verify(uri, data_version) if callable(verify) else None


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
