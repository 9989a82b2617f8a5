"""Integrations: other tools' definitions as nbflow assets (dbt)."""
