"""The composition root: ``Session`` (settings + registry + engine + store + hooks), its verbs
and views, and the thin ``Task``/``Flow`` wrappers users call."""

from nbflow.session.session import Session, get_session, select_names, set_session

__all__ = ["Session", "get_session", "select_names", "set_session"]
