"""DuckDB relations as asset values: the ``duckdb`` I/O manager, its data versions and file locks.

A dbt model's value is its relation in the DuckDB file. Storing it records the relation (no
bytes are copied) and a data version hashed from the rows in DuckDB; loading it reads the
relation as a pandas DataFrame, or returns the :class:`Relation` itself when the model asked
for relations (``values="relation"``). Opening the file goes through :func:`connect`, which
turns DuckDB's "Could not set lock on file" into an error that says which process holds the
file and what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nbflow.engine.io import Stored, register_io_manager
from nbflow.engine.partitioned import split_step
from nbflow.errors import IOManagerError

_PID = re.compile(r"PID (\d+)")


@dataclass(frozen=True)
class Relation:
    """A table or view in a DuckDB file (what a dbt model or source is)."""

    path: str
    schema: str
    identifier: str

    @property
    def name(self) -> str:
        """The quoted name to use in SQL: ``"main"."orders"``."""
        return f'"{self.schema}"."{self.identifier}"'

    def __str__(self) -> str:
        return self.name

    def df(self) -> Any:
        """The relation's rows as a pandas DataFrame."""
        with connect(self.path) as con:
            return con.execute(f"select * from {self.name}").df()

    def exists(self) -> bool:
        with connect(self.path) as con:
            row = con.execute(
                "select count(*) from information_schema.tables where table_schema = ? "
                "and table_name = ?", [self.schema, self.identifier]).fetchone()
        return bool(row and row[0])


def lock_message(path: str, error: BaseException) -> str:
    """What to do when another process holds DuckDB file ``path``."""
    pid = _PID.search(str(error))
    holder = f"process {pid.group(1)}" if pid else "another process"
    return (f"DuckDB file {path!r} is locked by {holder} (DuckDB allows one writing process per "
            "file). Close the connection there (con.close(), or restart that kernel), or "
            "materialise from the process that holds it: inside one process, connections "
            "opened with duckdb.connect(path) are shared with dbt and need no closing.")


def config_message(path: str) -> str:
    return (f"DuckDB file {path!r} is open in this process with another configuration (for "
            "example read_only=True), so dbt cannot open it. Close that connection "
            "(con.close()) and open it again with duckdb.connect(path) without options; "
            "a connection with the default configuration is shared with dbt.")


def translate(path: str, error: BaseException) -> str | None:
    """Our message for a DuckDB locking error, or None when ``error`` is something else."""
    text = str(error)
    if "Could not set lock on file" in text or "Conflicting lock" in text:
        return lock_message(path, error)
    if "different configuration" in text:
        return config_message(path)
    return None


@contextlib.contextmanager
def connect(path: str) -> Iterator[Any]:
    """A connection to ``path`` with DuckDB's default configuration (shared in-process)."""
    import duckdb

    try:
        con = duckdb.connect(path)
    except Exception as exc:
        message = translate(path, exc)
        if message is None:
            raise
        raise IOManagerError(message) from None
    try:
        yield con
    finally:
        con.close()


def relation_version(relation: Relation) -> tuple[str, dict[str, Any]]:
    """A data version hashed from the relation's columns and rows, with its row count."""
    with connect(relation.path) as con:
        cur = con.execute(f"select * from {relation.name} limit 0")
        columns = [(d[0], str(d[1])) for d in cur.description]
        count, digest = con.execute(
            f"select count(*), bit_xor(hash(t)) from {relation.name} t").fetchone()
    h = hashlib.blake2b(repr((columns, count, digest)).encode(), digest_size=16)
    return h.hexdigest(), {"rows": int(count), "columns": [c for c, _ in columns[:50]],
                           "relation": relation.name}


_lock = threading.Lock()
_local = threading.local()


def note(metadata: dict[str, Any]) -> None:
    """Metadata for the next value stored on this thread (dbt's status, rows and timings)."""
    _local.metadata = metadata
_relations: dict[str, tuple[Relation, str]] = {}
"""asset -> (its relation, 'dataframe' or 'relation'): filled by dbt projects when they load."""


def bind(asset: str, relation: Relation, values: str) -> None:
    """Make asset ``asset`` stored as ``relation`` (called for each dbt node as it registers)."""
    with _lock:
        _relations[asset] = (relation, values)


def _uri(relation: Relation, values: str) -> str:
    return f"duckdb:{relation.path}#{relation.schema}.{relation.identifier}?{values}"


def _parse(uri: str) -> tuple[Relation, str]:
    body = uri.removeprefix("duckdb:")
    path, _, rest = body.rpartition("#")
    name, _, values = rest.partition("?")
    schema, _, identifier = name.partition(".")
    return Relation(path, schema, identifier), values or "dataframe"


class DuckDBIO:
    """``io="duckdb"``: the value lives in DuckDB; the store keeps where and which version."""

    name = "duckdb"

    def __init__(self, base: str) -> None:
        self.base = base

    def store(self, asset: str, value: Any) -> Stored:
        asset = split_step(asset)[0]  # a partition's step, orders[2026-01-05], is its model's relation
        if isinstance(value, Relation):
            relation, values = value, _relations.get(asset, (value, "dataframe"))[1]
        else:
            try:
                relation, values = _relations[asset]
            except KeyError:
                raise IOManagerError(
                    f"Asset {asset!r} uses io='duckdb' but is not a dbt node and returned "
                    f"{type(value).__name__}; return an nbflow Relation, or use io='parquet'.",
                    asset=asset) from None
        version, meta = relation_version(relation)
        meta.update(getattr(_local, "metadata", None) or {})
        _local.metadata = None
        return Stored(_uri(relation, values), version, meta)

    def load(self, uri: str) -> Any:
        relation, values = _parse(uri)
        if values == "relation":
            return relation
        try:
            return relation.df()
        except IOManagerError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. the table was dropped
            raise IOManagerError(f"Cannot read {relation.name} from {relation.path!r}: {exc}; "
                                 "materialise the dbt model again.") from None


register_io_manager("duckdb", DuckDBIO)
