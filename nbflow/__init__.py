"""nbflow: orchestration that lives in Jupyter (placeholder; filled in below)."""
