"""The value codec: typed values to JSON text and back, exactly; and ``preview``, a lossy view.

Two different jobs, kept apart on purpose:

- ``dumps``/``loads`` are **exact**: ``loads(dumps(v)) == v`` with the same types, for None,
  bool, int, float (also ``nan``/``inf``), str, list, tuple, dict (any keys the codec can
  encode), ``datetime.date`` and ``datetime.datetime`` (a ``zoneinfo`` zone is kept). Used for
  deployment parameters, the stored deployment spec and the payload handed to a kernel.
  Values that need more than plain JSON become tagged objects ``{"__nbflow_type__": KIND,
  "value": ...}``; a user dict that holds the tag key itself (or keys that are not strings)
  is escaped as a ``dict`` tag holding its pairs, so it comes back unchanged.
- ``preview`` is **for display**: JSON-ready, dates as ISO text, non-finite floats and
  unknown objects as text, long strings and big or deep containers shortened. Used for run
  records and the panel. Never decode a preview.

``loads`` is self-contained (stdlib imports inside it, no other names than ``TAG``) so the
kernel payload can carry its exact source (see ``decoder_source``): one decoder everywhere.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
import math
from collections.abc import Mapping
from typing import Any

TAG = "__nbflow_type__"
"""The key that marks a tagged value."""

def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {TAG: "float", "value": repr(float(value))}
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        key = getattr(value.tzinfo, "key", None)
        out: dict[str, Any]
        if isinstance(key, str):  # a zoneinfo.ZoneInfo: the wall time and the zone, exactly
            out = {TAG: "datetime", "value": value.replace(tzinfo=None).isoformat(), "tz": key}
        else:
            out = {TAG: "datetime", "value": value.isoformat()}
        if value.fold:
            out["fold"] = 1
        return out
    if isinstance(value, dt.date):
        return {TAG: "date", "value": value.isoformat()}
    if isinstance(value, Mapping):
        if TAG in value or not all(isinstance(k, str) for k in value):
            return {TAG: "dict", "value": [[_encode(k), _encode(v)] for k, v in value.items()]}
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {TAG: "tuple", "value": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    raise TypeError(
        f"cannot encode {type(value).__name__}; use None, bool, int, float, str, list, tuple, "
        "dict, date or datetime")


def dumps(value: Any) -> str:
    """Exact JSON text for ``value`` (ASCII only, keys in order); ``TypeError`` if it has no form."""
    return json.dumps(_encode(value), ensure_ascii=True, allow_nan=False)


def _decode_text(text):  # type: ignore[no-untyped-def]
    # Self-contained and without annotations: ``decoder_source`` hands its source to kernels.
    import datetime
    import json

    def fail(obj):  # type: ignore[no-untyped-def]
        return ValueError(f"{obj!r} is not a value encoded by nbflow (unknown or malformed "
                          f"{TAG!r} object); it was changed or written by something else.")

    def decode(obj):  # type: ignore[no-untyped-def]
        if isinstance(obj, list):
            return [decode(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if TAG not in obj:
            return {k: decode(v) for k, v in obj.items()}
        kind, raw = obj.get(TAG), obj.get("value")
        try:
            if kind == "date" and isinstance(raw, str):
                return datetime.date.fromisoformat(raw)
            if kind == "datetime" and isinstance(raw, str):
                value = datetime.datetime.fromisoformat(raw)
                if "tz" in obj:
                    import zoneinfo

                    value = value.replace(tzinfo=zoneinfo.ZoneInfo(obj["tz"]))
                return value.replace(fold=1) if obj.get("fold") else value
            if kind == "float" and raw in ("nan", "inf", "-inf"):
                return float(raw)
            if kind == "tuple" and isinstance(raw, list):
                return tuple(decode(v) for v in raw)
            if kind == "dict" and isinstance(raw, list):
                return {decode(k): decode(v) for k, v in raw}
        except (TypeError, ValueError, LookupError) as exc:
            raise fail(obj) from exc
        raise fail(obj)

    return decode(json.loads(text))


def loads(text: str) -> Any:
    """The value ``dumps`` encoded; ``ValueError`` for text that is not the codec's JSON."""
    return _decode_text(text)


def decoder_source(name: str = "loads") -> str:
    """Standalone Python source of ``loads`` (named ``name``), for code that runs in a kernel."""
    tree = ast.parse(inspect.getsource(_decode_text))
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    fn.name = name
    body = ast.parse(f"TAG = {TAG!r}").body + list(fn.body)
    fn.body = body  # type: ignore[assignment]
    return ast.unparse(tree) + "\n"


TEXT_LIMIT, ITEM_LIMIT, DEPTH_LIMIT, OBJECT_LIMIT = 1000, 100, 4, 200
"""``preview``'s bounds: characters of a string, entries of a container, levels of nesting,
characters of an unknown object's text."""


def preview(value: Any, *, full: bool = False) -> Any:
    """A JSON-ready view of ``value`` for people: lossy, never to be decoded.

    Dates become ISO text; non-finite floats and unknown objects their ``str``; tuples and
    sets lists; keys text. Unless ``full``, strings are cut at ``TEXT_LIMIT`` characters and
    containers with more than ``ITEM_LIMIT`` entries or deeper than ``DEPTH_LIMIT`` levels
    become shortened text.
    """
    return _preview(value, full, 0)


def _cut(text: str, limit: int, full: bool) -> str:
    return text if full or len(text) <= limit else text[:limit] + "..."


def _preview(v: Any, full: bool, level: int) -> Any:
    if v is None or isinstance(v, (bool, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(float(v))
    if isinstance(v, str):
        return _cut(v, TEXT_LIMIT, full)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    small = full or (level < DEPTH_LIMIT and len(v) <= ITEM_LIMIT) if hasattr(v, "__len__") else False
    if small and isinstance(v, Mapping):
        return {str(k): _preview(x, full, level + 1) for k, x in v.items()}
    if small and isinstance(v, (list, tuple, set, frozenset)):
        return [_preview(x, full, level + 1) for x in v]
    return _cut(str(v), OBJECT_LIMIT, full)


__all__ = ["DEPTH_LIMIT", "ITEM_LIMIT", "OBJECT_LIMIT", "TAG", "TEXT_LIMIT", "decoder_source", "dumps",
           "loads", "preview"]
