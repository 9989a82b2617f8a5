"""Versions: code versions of functions and cells, data versions of stored bytes."""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
import types
import weakref
from collections.abc import Callable
from typing import Any

_PLAIN = (int, float, complex, str, bytes, bool, type(None))
# Keyed by the function object, not its code object: code objects compare equal across
# redefinitions that differ only in defaults or annotations (a cell re-run with limit=20).
_source_cache: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def data_version(payload: bytes) -> str:
    """The data version of a stored value: a hash of its bytes."""
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def token(value: Any, _depth: int = 0) -> str | None:
    """A stable text for hashable plain data: numbers, strings, bytes, and tuples or frozensets
    of them.

    ``None`` means the value takes no part in a code version: modules, functions, objects, and
    mutable containers (a list a function appends to must not change its version on every call).
    """
    if isinstance(value, _PLAIN):
        return f"{type(value).__name__}:{value!r}"
    if _depth > 4:
        return None
    if isinstance(value, tuple):
        parts = [token(v, _depth + 1) for v in value]
        return None if None in parts else f"tuple[{','.join(parts)}]"  # type: ignore[arg-type]
    if isinstance(value, frozenset):
        parts = [token(v, _depth + 1) for v in value]
        return None if None in parts else f"frozenset[{','.join(sorted(parts))}]"  # type: ignore[type-var, arg-type]
    return None


def normalised_source(fn: Callable[..., Any], source: str | None = None) -> str:
    """Source text stripped of decorators, comments, docstrings and layout (an AST dump).

    Falls back to the bytecode when no source can be found (a function made by ``exec``).
    """
    if source is not None:
        return _normalise(source)
    try:
        cached = _source_cache.get(fn)
    except TypeError:  # not weakly referenceable: no caching
        cached = None
    if cached is not None:
        return cached
    try:
        text = _normalise(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = repr((code.co_code, code.co_consts, code.co_names)) if code else repr(fn)
    try:
        _source_cache[fn] = text
    except TypeError:
        pass
    return text


def _normalise(source: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source.strip()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.decorator_list = []
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and len(body) > 1:
                node.body = body[1:]
    return ast.dump(tree, annotate_fields=False)


def read_names(code: types.CodeType) -> list[str]:
    """Global names a code object (and the code nested in it) reads."""
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.extend(read_names(const))
    return names


def code_version(fn: Callable[..., Any], *, declared: str | None = None,
                 source: str | None = None, namespace: dict[str, Any] | None = None) -> str:
    """The declared version, else a hash of the normalised source plus the plain-data values of
    the globals and closure variables the code reads."""
    if declared is not None:
        return declared
    h = hashlib.blake2b(normalised_source(fn, source).encode(), digest_size=8)
    code = getattr(fn, "__code__", None)
    env = namespace if namespace is not None else getattr(fn, "__globals__", {})
    if code is not None:
        for name in sorted(set(read_names(code))):
            if name in env:
                t = token(env[name])
                if t is not None:
                    h.update(f"\0{name}={t}".encode())
        for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
            try:
                t = token(cell.cell_contents)
            except ValueError:  # an empty cell
                t = None
            if t is not None:
                h.update(f"\0{name}~{t}".encode())
    return h.hexdigest()
