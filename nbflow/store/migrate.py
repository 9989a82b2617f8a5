"""Migrate: bring a store's schema to the latest revision when it is opened.

Opening an up-to-date store costs one plain SQL query: the head revision is read from the
migration scripts' ``revision``/``down_revision`` lines (no alembic import), and alembic is
imported only when a store actually needs an upgrade.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Connection, inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")

_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(?:['\"]([^'\"]+)['\"]|None)", re.MULTILINE)


def revision_chain(folder: Path = MIGRATIONS / "versions") -> list[str]:
    """Every revision, oldest first, from the scripts' ``revision`` and ``down_revision`` lines.

    Raises ``ValueError`` when the scripts do not form one straight line (a branch, a gap or a
    script without a revision): alembic would refuse them too, and HEAD would be ambiguous.
    """
    parent: dict[str, str | None] = {}
    for script in sorted(folder.glob("*.py")):
        if script.name.startswith("_"):
            continue
        source = script.read_text(encoding="utf-8")
        rev, down = _REVISION.search(source), _DOWN.search(source)
        if rev is None or down is None:
            raise ValueError(f"The migration script {script} has no revision or down_revision "
                             "line; give it both, as alembic's template does.")
        parent[rev.group(1)] = down.group(1)
    child = {down: rev for rev, down in parent.items()}
    if len(child) != len(parent):
        raise ValueError(f"The migrations in {folder} branch (two scripts share a down_revision); "
                         "merge them into one line.")
    chain: list[str] = []
    at: str | None = None
    while at in child:
        at = child[at]
        chain.append(at)
    if len(chain) != len(parent):
        raise ValueError(f"The migrations in {folder} do not form one line from a first revision "
                         "(down_revision = None); fix their down_revision lines.")
    return chain


HEAD = revision_chain()[-1]
"""The latest revision in migrations/versions (a test checks it against alembic's head)."""


def current_revision(conn: Connection) -> str | None:
    """The store's revision from ``alembic_version`` (None for a store without one)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        exists = conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                   "AND name = 'alembic_version'")).scalar() is not None
    elif dialect == "postgresql":
        exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is not None
    else:
        exists = inspect(conn).has_table("alembic_version")
    if not exists:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Run alembic's upgrade on ``conn`` (inside the caller's transaction)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def alembic_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""
