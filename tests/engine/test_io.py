"""I/O managers: pickle and parquet, local and fsspec (memory://), and values they cannot store."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

import nbflow as nf
from nbflow.core.registry import Registry
from nbflow.engine.io import ParquetIO, PickleIO, io_manager
from nbflow.errors import IOManagerError
from nbflow.session import Session
from nbflow.settings import Settings


@pytest.mark.parametrize("base", ["local", "memory://nbflow-tests"])
@pytest.mark.parametrize("value", [1, "text", {"a": [1, 2]}, b"\x00\xff", None])
def test_pickle_round_trip(tmp_path: Path, base: str, value: object) -> None:
    manager = PickleIO(str(tmp_path) if base == "local" else base)
    stored = manager.store("thing", value)
    assert manager.load(stored.uri) == value
    assert manager.store("thing", value).data_version == stored.data_version  # same bytes, same version


def test_parquet_round_trip_and_metadata(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": [1, 2, 3], "amount": [9.5, 0.0, -1.25]})
    stored = ParquetIO(str(tmp_path)).store("orders", df)
    assert stored.uri.endswith(".parquet")
    pd.testing.assert_frame_equal(ParquetIO(str(tmp_path)).load(stored.uri), df)
    assert stored.metadata["rows"] == 3 and stored.metadata["columns"] == ["id", "amount"]


@pytest.mark.parametrize(("io", "value", "hint"), [
    ("pickle", threading.Lock(), "io='parquet'"),
    ("pickle", (x for x in range(3)), "Return plain data"),
    ("parquet", [1, 2, 3], "use io='pickle'"),
])
def test_unstorable_values_name_asset_type_and_fix(tmp_path: Path, io: str, value: object, hint: str) -> None:
    with pytest.raises(IOManagerError) as err:
        io_manager(io, str(tmp_path)).store("orders", value)
    message = str(err.value)
    assert "'orders'" in message and type(value).__name__ in message and hint in message


def test_unknown_io_manager_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(IOManagerError, match="parquet, pickle"):
        io_manager("csv", str(tmp_path))


def test_materialize_with_parquet_and_memory_storage(tmp_path: Path) -> None:
    reg = Registry()

    @nf.asset(registry=reg, io="parquet")
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"amount": [3, 4]})

    @nf.asset(registry=reg)
    def total(orders: pd.DataFrame) -> int:
        return int(orders.amount.sum())

    session = Session(Settings.resolve(home=tmp_path, storage="memory://nbflow-run"), reg)
    result = session.materialize()
    assert result.ok and result["total"] == 7
    assert session.store.latest_materializations()["orders"].uri.startswith("memory://")
    pd.testing.assert_frame_equal(session.load("orders"), pd.DataFrame({"amount": [3, 4]}))
    session.close()


def test_failed_store_fails_the_step_with_the_message(tmp_path: Path) -> None:
    reg = Registry()

    @nf.asset(registry=reg, io="parquet")
    def not_a_frame():
        return [1, 2]

    session = Session(Settings.resolve(home=tmp_path), reg)
    result = session.materialize()
    assert not result.ok and "use io='pickle'" in result.errors["not_a_frame"]["message"]
    session.close()


# ---------------------------------------------------------------- values changed behind nbflow


def _corrupt_same_length(path: str) -> None:
    data = bytearray(Path(path).read_bytes())
    data[-2] ^= 0xFF
    Path(path).write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_value_is_refused_by_name_file_and_fix(tmp_path: Path, damage: str) -> None:
    manager = PickleIO(str(tmp_path))
    stored = manager.store("orders", {"rows": list(range(50))})
    assert manager.verify(stored.uri, stored.data_version) is None
    if damage == "flip":
        _corrupt_same_length(stored.uri)
    elif damage == "truncate":
        Path(stored.uri).write_bytes(Path(stored.uri).read_bytes()[:10])
    else:
        Path(stored.uri).unlink()
    with pytest.raises(IOManagerError) as exc:
        manager.load(stored.uri, data_version=stored.data_version, asset="orders")
    text = str(exc.value)
    assert "'orders'" in text and stored.uri in text and "nbflow materialize orders --force" in text
    assert exc.value.asset == "orders"
    reason = manager.verify(stored.uri, stored.data_version)
    assert reason is not None and stored.uri in reason
    assert ("gone" in reason) == (damage == "delete")


def test_a_truncated_value_without_a_version_is_still_an_io_error(tmp_path: Path) -> None:
    manager = PickleIO(str(tmp_path))
    stored = manager.store("orders", list(range(100)))
    Path(stored.uri).write_bytes(Path(stored.uri).read_bytes()[:7])
    with pytest.raises(IOManagerError, match="cannot be read by the 'pickle' I/O manager"):
        manager.load(stored.uri, asset="orders")


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    manager = PickleIO(str(tmp_path))

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        manager.store("orders", [1, 2, 3])
    assert list(tmp_path.iterdir()) == []


def test_load_checks_the_recorded_data_version(home: Path) -> None:
    reg = Registry()

    @nf.asset(registry=reg)
    def orders() -> list[int]:
        return [1, 2, 3]

    s = Session(Settings.resolve(home=home), reg)
    try:
        assert s.materialize("*").ok
        uri = s.store.latest_materializations(["orders"])["orders"].uri
        _corrupt_same_length(uri)
        with pytest.raises(IOManagerError, match="changed outside nbflow"):
            s.load("orders")
    finally:
        s.close()
