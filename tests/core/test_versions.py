"""Code versions (source, globals, closures, declared) and data versions."""

from __future__ import annotations

import importlib.util
import itertools
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nbflow.core.registry import Registry
from nbflow.core.specs import asset
from nbflow.core.versions import code_version, data_version, normalised_source, token

_modules = itertools.count()

HEADER = """\
from nbflow.core.registry import Registry
from nbflow.core.specs import asset

REG = Registry()
"""


def load_asset(folder: Path, body: str, name: str = "f") -> Callable[..., Any]:
    """Write ``body`` as a module (after a header that makes ``REG``), import it, and return the
    function of asset ``name`` (or the plain function ``name``). Each call is a new file, so
    source is read from disk the way it is for a real pipeline module."""
    module_name = f"nbflow_versions_case_{next(_modules)}"
    path = folder / f"{module_name}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = module.REG.get(name)
    return found.fn if found is not None else getattr(module, name)


BASE = '''
@asset(registry=REG, group="sales")
def f(orders, limit=10):
    """Orders over the limit."""
    big = [o for o in orders if o > limit]
    return len(big) + 1
'''

SOURCE_CASES = {
    # name: (edited source, does the code version change?)
    "identical": (BASE, False),
    "comment added": (BASE.replace("    big =", "    # keep the big ones\n    big ="), False),
    "trailing comment": (BASE.replace("+ 1\n", "+ 1  # one more\n"), False),
    "docstring edited": (BASE.replace("Orders over the limit.", "Big orders."), False),
    "docstring removed": (BASE.replace('    """Orders over the limit."""\n', ""), False),
    "decorator arguments": (BASE.replace('group="sales"', 'group="finance", tags={"a": "b"}'), False),
    "blank lines and spacing": (BASE.replace("big = [o for o in orders if o > limit]",
                                             "big  =  [ o for o in orders\n           if o>limit ]\n")
                                .replace("def f", "\n\ndef f"), False),
    "quote style": (BASE.replace('group="sales"', "group='sales'"), False),
    "redundant parentheses": (BASE.replace("len(big) + 1", "(len(big) + 1)"), False),
    "constant changed": (BASE.replace("+ 1", "+ 2"), True),
    "operator changed": (BASE.replace("o > limit", "o >= limit"), True),
    "default changed": (BASE.replace("limit=10", "limit=20"), True),
    "local renamed": (BASE.replace("big", "large"), True),
    "statement added": (BASE.replace("    return", "    big.sort()\n    return"), True),
}


@pytest.mark.parametrize(("edited", "changes"), SOURCE_CASES.values(), ids=SOURCE_CASES.keys())
def test_code_version_follows_source(tmp_path: Path, edited: str, changes: bool) -> None:
    before = code_version(load_asset(tmp_path, BASE))
    after = code_version(load_asset(tmp_path, edited))
    assert (before != after) is changes
    assert before == code_version(load_asset(tmp_path, BASE)), "the version is deterministic"


def test_decorator_and_comments_are_not_in_normalised_source(tmp_path: Path) -> None:
    text = normalised_source(load_asset(tmp_path, BASE))
    assert "sales" not in text and "Orders over" not in text
    assert "limit" in text and "orders" in text


GLOBAL_BASE = """
RATE = 0.2
COLUMNS = ("a", "b")
UNUSED = 1


def helper(v):
    return v


@asset(registry=REG)
def f(orders):
    return [helper(o) * RATE for o in orders if o in COLUMNS]
"""

GLOBAL_CASES = {
    # name: (edited module, does the code version change?)
    "global read changed": (GLOBAL_BASE.replace("RATE = 0.2", "RATE = 0.3"), True),
    "tuple global changed": (GLOBAL_BASE.replace('("a", "b")', '("a", "c")'), True),
    "global becomes a dict": (GLOBAL_BASE.replace('("a", "b")', '{"a": 1}'), True),
    "unread global changed": (GLOBAL_BASE.replace("UNUSED = 1", "UNUSED = 2"), False),
    "new unread global": (GLOBAL_BASE.replace("UNUSED = 1", "UNUSED = 1\nOTHER = [1, 2]"), False),
    "helper function re-made": (GLOBAL_BASE, False),
}


@pytest.mark.parametrize(("edited", "changes"), GLOBAL_CASES.values(), ids=GLOBAL_CASES.keys())
def test_code_version_follows_plain_globals(tmp_path: Path, edited: str, changes: bool) -> None:
    before = code_version(load_asset(tmp_path, GLOBAL_BASE))
    after = code_version(load_asset(tmp_path, edited))
    assert (before != after) is changes


def test_global_reassigned_in_place_changes_version(tmp_path: Path) -> None:
    """A notebook cell later runs ``RATE = 0.3``: the same function now has another version."""
    fn = load_asset(tmp_path, GLOBAL_BASE)
    before = code_version(fn)
    fn.__globals__["RATE"] = 0.3
    assert code_version(fn) != before
    fn.__globals__["RATE"] = 0.2
    assert code_version(fn) == before


def test_namespace_overrides_function_globals(tmp_path: Path) -> None:
    fn = load_asset(tmp_path, GLOBAL_BASE)
    own = code_version(fn)
    cell_globals = dict(fn.__globals__, RATE=0.5)
    assert code_version(fn, namespace=cell_globals) != own
    assert code_version(fn, namespace=dict(fn.__globals__)) == own


def _counter_factory(k: Any) -> Callable[[], Any]:
    def counted() -> Any:
        return k

    return counted


CLOSURE_CASES = [
    # (value in the first closure, value in the second, do the versions differ?)
    (1, 1, False),
    (1, 2, True),
    ("eu", "us", True),
    ((1, 2), (1, 2), False),
    ({"a": 1}, {"a": 2}, False),  # mutable containers are not hashable: not part of the version
    (frozenset({"a", "b"}), frozenset({"b", "a"}), False),
    (frozenset({"a"}), frozenset({"b"}), True),
    (object(), object(), False),  # no stable token: not part of the version
]


@pytest.mark.parametrize(("first", "second", "differ"), CLOSURE_CASES,
                         ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CLOSURE_CASES)])
def test_code_version_follows_closure_values(first: Any, second: Any, differ: bool) -> None:
    a, b = _counter_factory(first), _counter_factory(second)
    assert (code_version(a) != code_version(b)) is differ


def test_empty_closure_cell_is_ignored() -> None:
    def outer() -> tuple[str, Callable[[], int]]:
        def inner() -> int:
            return later

        version = code_version(inner)  # ``later`` is not bound yet: its cell is empty
        later = 1
        return version, inner

    version, inner = outer()
    assert version != code_version(inner), "once bound, the closure value counts"


DECLARED_CASES = ["1", "2026-01-01", "v2"]


@pytest.mark.parametrize("declared", DECLARED_CASES)
def test_declared_code_version_wins(tmp_path: Path, declared: str) -> None:
    plain = load_asset(tmp_path, BASE)
    edited = load_asset(tmp_path, SOURCE_CASES["constant changed"][0])
    assert code_version(plain, declared=declared) == declared
    assert code_version(edited, declared=declared) == declared
    reg = Registry()
    spec = asset(lambda: 1, name="x", code_version=declared, registry=reg)
    assert code_version(spec.fn, declared=spec.code_version) == declared


def test_declared_code_version_is_text() -> None:
    spec = asset(lambda: 1, name="x", code_version=3, registry=Registry())  # type: ignore[arg-type]
    assert spec.code_version == "3"


CELL_BASE = "total = sum(orders)  # add up\ntotal * RATE\n"

CELL_CASES = {
    "same": (CELL_BASE, False),
    "comment": (CELL_BASE.replace("# add up", "# sum them"), False),
    "spacing": (CELL_BASE.replace("total * RATE", "total*RATE"), False),
    "code": (CELL_BASE.replace("RATE", "RATE * 2"), True),
}


@pytest.mark.parametrize(("edited", "changes"), CELL_CASES.values(), ids=CELL_CASES.keys())
def test_code_version_of_cell_source(edited: str, changes: bool) -> None:
    def cell(orders: list[int]) -> float:
        return sum(orders) * RATE

    namespace = {"RATE": 0.5}
    before = code_version(cell, source=CELL_BASE, namespace=namespace)
    after = code_version(cell, source=edited, namespace=namespace)
    assert (before != after) is changes
    assert code_version(cell, source=CELL_BASE, namespace={"RATE": 0.6}) != before


def _compiled(source: str) -> types.FunctionType:
    """A function with no source on disk (as ``exec`` would make)."""
    module = compile(source, "<generated>", "exec")
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    return types.FunctionType(code, {})


def test_function_without_source_uses_bytecode() -> None:
    one = _compiled("def g(x):\n    return x + 1\n")
    same = _compiled("def g(x):\n    return x + 1\n")
    other = _compiled("def g(x):\n    return x + 2\n")
    assert code_version(one) == code_version(same)
    assert code_version(one) != code_version(other)


RATE = 0.5

DATA_CASES = [
    # (first payload, second payload, equal versions?)
    (b"", b"", True),
    (b"abc", b"abc", True),
    (b"abc", b"abd", False),
    (b"abc", b"abc ", False),
    (bytes(range(256)) * 100, bytes(range(256)) * 100, True),
    (b"\x00", b"\x01", False),
]


@pytest.mark.parametrize(("first", "second", "equal"), DATA_CASES,
                         ids=[f"case{i}" for i in range(len(DATA_CASES))])
def test_data_version(first: bytes, second: bytes, equal: bool) -> None:
    v1, v2 = data_version(first), data_version(second)
    assert (v1 == v2) is equal
    assert data_version(first) == v1, "stable across calls"
    assert len(v1) == 32 and int(v1, 16) >= 0


TOKEN_CASES = [
    # (value, other value, same token?) -- None in "same" means: value has no token
    (1, 1, True),
    (1, 1.0, False),
    (True, 1, False),
    ("a", b"a", False),
    ((1, 2), [1, 2], False),
    (frozenset({3, 1, 2}), frozenset({2, 3, 1}), True),
    (frozenset({1}), (1,), False),
    (None, None, True),
]


@pytest.mark.parametrize(("value", "other", "same"), TOKEN_CASES,
                         ids=[f"case{i}" for i in range(len(TOKEN_CASES))])
def test_token(value: Any, other: Any, same: bool) -> None:
    assert token(value) is not None
    assert (token(value) == token(other)) is same


@pytest.mark.parametrize("value", [object(), len, [1, 2], {"k": 1}, {1, 2}, ((((((1,),),),),),),
                                   types.SimpleNamespace(a=1)],
                         ids=["object", "builtin", "list (mutable)", "dict (mutable)", "set (mutable)",
                              "too-deep", "namespace"])
def test_values_without_stable_token(value: Any) -> None:
    assert token(value) is None
