"""The durable floor of an asset step in plain Python, against nbflow's chain, in one run.

    .venv/bin/python benchmarks/floor.py                       # SQLite and PostgreSQL, 1,000 steps, 5 rounds
    .venv/bin/python benchmarks/floor.py --no-postgres --rounds 3
    .venv/bin/python benchmarks/floor.py --profile             # + cProfile of nbflow's SQLite chain

*floor* does exactly the work an asset step needs with nbflow's guarantees and nothing else
(issue 17): pickle the value, write it to a temporary file and rename it into place, then add
four events and one materialisation row per step — rows shaped like nbflow's ``events`` and
``materializations`` tables (nbflow/store/migrations/versions/0001_core.py), JSON ``data`` —
with batched inserts and one commit at the end. SQLite: WAL, ``synchronous=NORMAL`` (as
nbflow opens it), ``executemany``. PostgreSQL (``--pg``, a fresh schema per round, dropped
afterwards): psycopg ``executemany``. The data version is a 16-byte BLAKE2b of the pickle, as a
materialisation row needs one. Schema creation is outside the timing, as nbflow's store is
opened outside it.

*nbflow* is ``Session.materialize("*")`` of benchmarks/bench_chain.py's chain (each asset adds
one to its upstream) into a fresh home and store, timed until every event is committed.

Rounds interleave floor and nbflow on both back ends; medians; the ratio is nbflow / floor per
step. Target (issue 17): at most 2x on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import json
import os
import pickle
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_chain import chain

PG = "postgresql://postgres@127.0.0.1:5432/test"
TARGET = 2.0

SQLITE_DDL = """
CREATE TABLE runs (run_id VARCHAR(40) PRIMARY KEY, kind VARCHAR(16) NOT NULL, name VARCHAR(255),
  state VARCHAR(16) NOT NULL, selection TEXT, created_at FLOAT NOT NULL, started_at FLOAT,
  ended_at FLOAT, heartbeat_at FLOAT, error TEXT);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id VARCHAR(40) NOT NULL,
  kind VARCHAR(24) NOT NULL, step VARCHAR(255), state VARCHAR(16), ts FLOAT NOT NULL, data JSON);
CREATE INDEX ix_events_run ON events (run_id, id);
CREATE INDEX ix_events_step ON events (step, kind);
CREATE TABLE materializations (id INTEGER PRIMARY KEY AUTOINCREMENT, asset VARCHAR(255) NOT NULL,
  partition VARCHAR(255), run_id VARCHAR(40) NOT NULL, ts FLOAT NOT NULL,
  code_version VARCHAR(64) NOT NULL, data_version VARCHAR(64) NOT NULL, input_versions JSON,
  metadata JSON, uri TEXT, io VARCHAR(32), duration FLOAT);
CREATE INDEX ix_materializations_asset ON materializations (asset, partition, id);
"""
PG_DDL = (SQLITE_DDL.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
          .replace("FLOAT", "DOUBLE PRECISION").replace(" JSON", " JSONB"))


def steps(n: int, storage: Path, run_id: str) -> tuple[list[tuple], list[tuple]]:
    """The per-step durable work: value file plus the rows to insert (4 events, 1 materialisation)."""
    ev: list[tuple] = []
    mats: list[tuple] = []
    dumps = json.dumps
    value = 0
    prev_name, prev_version = None, None
    folder = str(storage)
    for i in range(n):
        t0 = time.time()
        name = f"a{i}"
        value = 0 if i == 0 else value + 1
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        version = hashlib.blake2b(payload, digest_size=16).hexdigest()
        path = f"{folder}/{name}.{version}.pkl"
        tmp = f"{folder}/.{name}.{version}.tmp"
        with open(tmp, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
        upstream = [prev_name] if prev_name else []
        inputs = {prev_name: prev_version} if prev_name else {}
        duration = time.time() - t0
        meta = {"type": "builtins.int"}
        ev.append((run_id, "STEP_STARTED", name, "RUNNING", t0,
                   dumps({"attempt": 1, "kind": "asset", "upstream": upstream})))
        ev.append((run_id, "MATERIALIZATION", name, None, t0, dumps(
            {"code_version": "1", "data_version": version, "input_versions": inputs,
             "metadata": meta, "uri": path, "io": "pickle", "duration": duration})))
        ev.append((run_id, "OUTPUT_STORED", name, None, t0, dumps({"uri": path, "io": "pickle"})))
        ev.append((run_id, "STEP_FINISHED", name, "SUCCEEDED", t0,
                   dumps({"attempt": 1, "duration": duration})))
        mats.append((name, None, run_id, t0, "1", version, dumps(inputs), dumps(meta), path,
                     "pickle", duration))
        prev_name, prev_version = name, version
    return ev, mats


EV_SQL = "INSERT INTO events (run_id, kind, step, state, ts, data) VALUES ({p})"
MAT_SQL = ("INSERT INTO materializations (asset, partition, run_id, ts, code_version, data_version, "
           "input_versions, metadata, uri, io, duration) VALUES ({p})")
RUN_SQL = "INSERT INTO runs (run_id, kind, name, state, selection, created_at, started_at) VALUES ({p})"
END_SQL = "UPDATE runs SET state = 'SUCCEEDED', ended_at = {p} WHERE run_id = {p}"


def floor_sqlite(n: int) -> float:
    with tempfile.TemporaryDirectory() as home:
        db = sqlite3.connect(f"{home}/floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SQLITE_DDL)
        storage = Path(home) / "storage"
        storage.mkdir()
        t = time.perf_counter()
        run_id = uuid.uuid4().hex[:16]
        ev, mats = steps(n, storage, run_id)
        db.execute("BEGIN IMMEDIATE")
        db.execute(RUN_SQL.format(p="?,?,?,?,?,?,?"), (run_id, "assets", "*", "RUNNING", "*", t, t))
        db.executemany(EV_SQL.format(p="?,?,?,?,?,?"), ev)
        db.executemany(MAT_SQL.format(p="?,?,?,?,?,?,?,?,?,?,?"), mats)
        db.execute(END_SQL.format(p="?"), (time.time(), run_id))
        db.execute("COMMIT")
        elapsed = time.perf_counter() - t
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 4 * n
        db.close()
    return elapsed


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    import psycopg

    schema = f"floor_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")


def floor_pg(n: int) -> float:
    import psycopg

    with pg_schema() as schema, tempfile.TemporaryDirectory() as home, \
            psycopg.connect(PG, options=f"-csearch_path={schema}") as db:
        db.execute(PG_DDL)
        db.commit()
        storage = Path(home) / "storage"
        storage.mkdir()
        t = time.perf_counter()
        run_id = uuid.uuid4().hex[:16]
        ev, mats = steps(n, storage, run_id)
        with db.cursor() as cur:
            cur.execute(RUN_SQL.format(p="%s,%s,%s,%s,%s,%s,%s"), (run_id, "assets", "*", "RUNNING", "*", t, t))
            cur.executemany(EV_SQL.format(p="%s,%s,%s,%s,%s,%s"), ev)
            cur.executemany(MAT_SQL.format(p=",".join(["%s"] * 11)), mats)
            cur.execute(END_SQL.format(p="%s"), (time.time(), run_id))
        db.commit()
        elapsed = time.perf_counter() - t
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 4 * n
    return elapsed


def nbflow_chain(n: int, url: str | None = None, profile: cProfile.Profile | None = None) -> float:
    from nbflow.session import Session
    from nbflow.settings import Settings

    with tempfile.TemporaryDirectory() as home:
        session = Session(Settings.resolve(home=Path(home), database_url=url), chain(n))
        _ = session.store  # open (and migrate) outside the timing, as the floor's schema
        if profile:
            profile.enable()
        t = time.perf_counter()
        result = session.materialize("*")
        elapsed = time.perf_counter() - t
        if profile:
            profile.disable()
        assert result.ok and len(result.states) == n
        assert len(session.get_run(result.run_id).steps) == n
        session.close()
    return elapsed


@contextlib.contextmanager
def nbflow_pg_url() -> Iterator[str]:
    with pg_schema() as schema:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"


def nbflow_pg(n: int) -> float:
    with nbflow_pg_url() as url:
        return nbflow_chain(n, url)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--profile", action="store_true", help="cProfile nbflow's SQLite chain (after the rounds)")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    n = args.steps
    cases = {"floor SQLite": floor_sqlite, "nbflow SQLite": nbflow_chain}
    if not args.no_postgres:
        cases |= {"floor PostgreSQL": floor_pg, "nbflow PostgreSQL": nbflow_pg}
    for fn in cases.values():  # warm up imports, the disk cache and the server
        fn(50)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(args.rounds):
        for name, fn in cases.items():
            times[name].append(fn(n))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1] / n * 1000:.4f}" for k, v in times.items())
              + " ms/step", flush=True)
    med = {k: statistics.median(v) / n * 1000 for k, v in times.items()}
    print(f"\n{n}-step chain, medians of {args.rounds} interleaved rounds (ms per step):")
    for k, v in med.items():
        print(f"  {k:<18} {v:8.4f} ms/step  ({v * n / 1000:.3f} s per run)")
    missed = False
    for backend in ("SQLite", "PostgreSQL"):
        if f"floor {backend}" in med:
            ratio = med[f"nbflow {backend}"] / med[f"floor {backend}"]
            missed |= ratio > TARGET
            print(f"  nbflow / floor on {backend}: {ratio:.2f}x (target <= {TARGET:g}x)")
    if args.profile:
        prof = cProfile.Profile()
        nbflow_chain(n, profile=prof)
        print(f"\ncProfile of nbflow's {n}-step SQLite chain (materialize only; the writer thread "
              "is not profiled), top by cumulative time:")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
