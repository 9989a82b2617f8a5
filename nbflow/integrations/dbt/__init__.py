"""dbt models as assets: ``dbt_project(path)`` and the pieces it is made of."""

from __future__ import annotations

from nbflow.errors import DbtError
from nbflow.integrations.dbt.duckdb_io import Relation
from nbflow.integrations.dbt.project import DbtProject, dbt_project

__all__ = ["DbtError", "DbtProject", "Relation", "dbt_project"]
