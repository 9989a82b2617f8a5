"""The REST server: FastAPI routes over the session's verbs and views (``nbflow server``).

Importing this package loads nothing heavy; ``nbflow.server.app`` brings in FastAPI.
"""
