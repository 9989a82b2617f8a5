"""Notebook parameters: read the ``parameters`` cell, parse ``key=value`` text, validate values.

Pure functions over the notebook's JSON (stdlib only): no kernel is started here, so bad input
is refused before any run begins. Values are later handed to the kernel as data (see
``encode_values``, the codec's exact JSON in base64), never as code.

Two sources of values, two rules. A Python value (``nf.deploy(parameters=...)``,
``nf.trigger``) arrives exactly as given when the parameter has no type; text typed on a
command line comes wrapped in ``Text`` and, for a parameter with no type, follows papermill's
``-p`` rule (``resolve_text``). Typed parameters convert text (either source) and check values.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import difflib
import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbflow.core.codec import decoder_source, dumps
from nbflow.errors import ParameterError

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
TYPES = ("str", "int", "float", "bool", "list", "dict", "date", "datetime", "any")

_ANNOTATIONS = {
    "str": "str", "int": "int", "float": "float", "bool": "bool",
    "list": "list", "List": "list", "tuple": "list", "Tuple": "list", "set": "list",
    "dict": "dict", "Dict": "dict", "Mapping": "dict",
    "date": "date", "datetime.date": "date", "dt.date": "date",
    "datetime": "datetime", "datetime.datetime": "datetime", "dt.datetime": "datetime",
    "Any": "any", "object": "any",
}


@dataclass(frozen=True)
class Parameter:
    """One name of a notebook's ``parameters`` cell with its default and expected type."""

    name: str
    type: str
    default: Any = None
    optional: bool = False

    def describe(self) -> str:
        """``region: str = 'EU'``, for listings and messages."""
        kind = f"{self.type} | None" if self.optional else self.type
        return f"{self.name}: {kind} = {self.default!r}"


def load_notebook_json(path: str | Path) -> dict[str, Any]:
    """The notebook document as JSON, with a clear error when it cannot be read."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"Notebook '{p}' does not exist; check the path.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(
            f"Notebook '{p}' cannot be read as a Jupyter notebook ({exc}); "
            "open and save it in Jupyter first."
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise ParameterError(f"Notebook '{p}' is not a Jupyter notebook (it has no cells).")
    bad = next((i for i, c in enumerate(doc["cells"]) if not isinstance(c, dict)), None)
    if bad is not None:
        raise ParameterError(f"Notebook '{p}' is not a Jupyter notebook (cell {bad} is not an "
                             "object); open and save it in Jupyter first.")
    return doc


def cell_source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def cell_tags(cell: Mapping[str, Any]) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return [str(t) for t in tags]


def find_parameters_cell(doc: Mapping[str, Any]) -> int | None:
    """Index of the first code cell tagged ``parameters``, or None."""
    for i, cell in enumerate(doc.get("cells", [])):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in cell_tags(cell):
            return i
    return None


def read_parameters(notebook: str | Path | Mapping[str, Any]) -> tuple[Parameter, ...] | None:
    """The parameters a notebook declares, or None when it has no ``parameters`` cell."""
    doc = notebook if isinstance(notebook, Mapping) else load_notebook_json(notebook)
    index = find_parameters_cell(doc)
    if index is None:
        return None
    source = cell_source(doc["cells"][index])
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError as exc:
        raise ParameterError(
            f"The parameters cell (cell {index}) is not valid Python: {exc.msg} on line "
            f"{exc.lineno}; fix the cell so it only assigns default values."
        ) from None
    found: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            kind, optional = _annotation_type(node.annotation)
            default = _default(node.value)
            if kind is None:
                kind = _type_of(default)
            found[node.target.id] = Parameter(node.target.id, kind, default, optional)
        elif isinstance(node, ast.Assign):
            default = _default(node.value)
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = Parameter(target.id, _type_of(default), default,
                                                 default is None)
    return tuple(found.values())


def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


class _NotLiteral:
    """A default that is an expression, not a literal (the notebook computes it)."""

    def __repr__(self) -> str:
        return "<expression>"


def _default(node: ast.expr | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    value = _date_call(node)
    return _NotLiteral() if value is None else value


def _date_call(node: ast.expr) -> dt.date | None:
    """``date(2026, 1, 1)``, ``datetime.date.fromisoformat('...')`` and friends."""
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    name = ast.unparse(node.func)
    try:
        args = [ast.literal_eval(a) for a in node.args]
        if name in ("date", "datetime.date", "dt.date"):
            return dt.date(*args)
        if name in ("datetime", "datetime.datetime", "dt.datetime"):
            return dt.datetime(*args)
        if name.endswith("date.fromisoformat"):
            return dt.date.fromisoformat(*args)
        if name.endswith("datetime.fromisoformat"):
            return dt.datetime.fromisoformat(*args)
    except (ValueError, TypeError):
        return None
    return None


def _annotation_type(node: ast.expr) -> tuple[str | None, bool]:
    """(type, optional) from an annotation such as ``int``, ``list[str]``, ``date | None``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        rest = [s for s in sides if not (isinstance(s, ast.Constant) and s.value is None)]
        if len(rest) == 1:
            return _annotation_type(rest[0])[0], True
        return "any", False
    if isinstance(node, ast.Subscript):
        base = ast.unparse(node.value)
        if base in ("Optional", "typing.Optional"):
            return _annotation_type(node.slice)[0], True
        return _ANNOTATIONS.get(base.removeprefix("typing.")), False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return _annotation_type(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None, False
    return _ANNOTATIONS.get(ast.unparse(node).removeprefix("typing.")), False


def _type_of(value: Any) -> str:
    # bool before int and datetime before date: each is a subclass of the other
    for kind, cls in (("bool", bool), ("int", int), ("float", float), ("str", str),
                      ("datetime", dt.datetime), ("date", dt.date), ("dict", dict)):
        if isinstance(value, cls):
            return kind
    if isinstance(value, (list, tuple, set)):
        return "list"
    return "any"


@dataclass(frozen=True)
class Text:
    """A value typed on a command line (``-p NAME=VALUE``): parsed by the parameter's type, or
    by papermill's ``-p`` rule (``resolve_text``) when the parameter has no type."""

    raw: str


def resolve_text(raw: str) -> Any:
    """papermill's ``-p`` rule for a parameter with no type: ``True``/``False``/``None`` (and
    ``true``/``false``/``null``), then ``int(raw)``, then ``float(raw)``, else the exact text."""
    if raw in ("True", "true"):
        return True
    if raw in ("False", "false"):
        return False
    if raw in ("None", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def _article(kind: str) -> str:
    return "an" if kind in ("int", "any") else "a"


def parse_text(param: Parameter, raw: str) -> Any:
    """Parse one ``-p`` value (always text) to the parameter's type (no type: ``resolve_text``)."""
    kind = param.type
    if kind == "any":
        return resolve_text(raw)
    if param.optional and raw.strip().lower() in ("none", "null"):
        return None
    try:
        if kind == "str":
            return raw
        if kind == "int":
            return int(raw.strip().replace("_", ""), 10)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            low = raw.strip().lower()
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
            raise ValueError(raw)
        if kind in ("list", "dict"):
            value = json.loads(raw)
            if not isinstance(value, list if kind == "list" else dict):
                raise ValueError(raw)
            return value
        if kind == "date":
            return dt.date.fromisoformat(raw.strip())
        if kind == "datetime":
            return dt.datetime.fromisoformat(raw.strip())
    except (ValueError, json.JSONDecodeError):
        raise ParameterError(_type_message(param, raw), parameter=param.name) from None
    raise AssertionError(f"unknown parameter type {kind!r}")  # pragma: no cover - TYPES is closed


_HINTS = {
    "int": "a whole number such as 10",
    "float": "a number such as 2.5",
    "bool": "true or false",
    "list": 'a JSON list such as ["a", "b"]',
    "dict": 'a JSON object such as {"k": 1}',
    "date": "an ISO date such as 2026-01-31",
    "datetime": "an ISO date-time such as 2026-01-31T06:00:00",
    "str": "text",
}


def _type_message(param: Parameter, value: Any) -> str:
    return (f"Parameter '{param.name}' expects {_article(param.type)} {param.type} "
            f"({_HINTS.get(param.type, 'any value')}), got {value!r}.")


def coerce_value(param: Parameter, value: Any) -> Any:
    """Check a Python value against the parameter's type: a value for a parameter with no type
    is kept exactly; a ``str`` for a typed one is parsed like ``-p``; ``Text`` always is."""
    if isinstance(value, Text):
        value = parse_text(param, value.raw)
        _check_encodable(param.name, value)
        return value
    if isinstance(value, str) and param.type not in ("str", "any"):
        return parse_text(param, value)
    if value is None and param.optional:
        return None
    kind = param.type
    ok = {
        "any": lambda v: True,
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, (list, tuple)),
        "dict": lambda v: isinstance(v, dict),
        "date": lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
        "datetime": lambda v: isinstance(v, dt.datetime),
    }[kind]
    if not ok(value):
        raise ParameterError(_type_message(param, value), parameter=param.name)
    if kind == "float":
        value = float(value)
    elif kind == "list":
        value = list(value)
    _check_encodable(param.name, value)
    return value


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["region=EU", "n=3"]`` -> ``{"region": "EU", "n": "3"}``; the value may contain '='."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ParameterError(
                f"Parameter {item!r} must be given as name=value, e.g. -p region=EU.",
                parameter=name or None,
            )
        out[name] = value
    return out


def validate_parameters(
    declared: tuple[Parameter, ...] | None,
    values: Mapping[str, Any],
    *,
    notebook: str = "the notebook",
) -> dict[str, Any]:
    """Typed values for ``values`` (text or Python objects), checked against ``declared``."""
    if not values:
        return {}
    if declared is None:
        raise ParameterError(
            f"Notebook '{notebook}' has no cell tagged 'parameters', so it accepts no "
            f"parameters (got {', '.join(sorted(values))}). Tag the cell holding the defaults "
            "with 'parameters' (JupyterLab: property inspector, cell tags).",
            parameter=next(iter(sorted(values))),
        )
    by_name = {p.name: p for p in declared}
    out: dict[str, Any] = {}
    for name, value in values.items():
        param = by_name.get(name)
        if param is None:
            known = ", ".join(sorted(by_name)) or "none"
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ParameterError(
                f"Notebook '{notebook}' has no parameter '{name}'; its parameters are: "
                f"{known}.{hint}",
                parameter=name,
            )
        out[name] = coerce_value(param, value)
    return out


def _check_encodable(name: str, value: Any) -> None:
    try:
        dumps(value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"Parameter '{name}' holds a value that cannot be passed to a notebook "
            f"({type(value).__name__}); use str, int, float, bool, list, dict, date or datetime.",
            parameter=name,
        ) from None


def encode_values(values: Mapping[str, Any]) -> str:
    """Base64 of ``codec.dumps(values)``: only [A-Za-z0-9+/=], so it can sit in a code cell safely."""
    return base64.b64encode(dumps(dict(values)).encode("ascii")).decode("ascii")


def injected_source(values: Mapping[str, Any]) -> str:
    """The code of the injected cell: it only decodes a base64 JSON payload into globals.

    The decoder is the codec's own ``loads`` (its source, so the kernel needs no nbflow).
    """
    payload = encode_values(values)
    decoder = textwrap.indent(decoder_source("loads"), "    ")
    return (
        "# Parameters injected by nbflow: decoded from data, never pasted as code.\n"
        "def _nbflow_parameters(payload):\n"
        "    import base64\n"
        f"{decoder}"
        "    return loads(base64.b64decode(payload).decode('ascii'))\n"
        f"globals().update(_nbflow_parameters('{payload}'))\n"
        "del _nbflow_parameters\n"
    )


__all__ = [
    "INJECTED_TAG", "PARAMETERS_TAG", "Parameter", "Text", "coerce_value", "encode_values",
    "find_parameters_cell", "injected_source", "load_notebook_json",
    "parse_assignments", "parse_text", "read_parameters", "resolve_text", "validate_parameters",
]
