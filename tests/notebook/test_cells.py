"""Cell analysis: names read before assigned, and cells compiled into asset functions."""

from __future__ import annotations

import traceback

import pytest

from nbflow.errors import DefinitionError
from nbflow.notebook.cells import compile_cell, names_read

READS = [
    ("plain read", "raw.x", ["raw"]),
    ("assigned first shadows", "raw = 1\nraw + 1", []),
    ("read then assigned", "x = raw + 1\nraw = 2\nraw", ["raw"]),
    ("self update reads", "df = df.dropna()", ["df"]),
    ("augmented assignment reads", "total += 1", ["total"]),
    ("import binds", "import pandas as pd\npd.DataFrame(raw)", ["raw"]),
    ("from import binds", "from math import sqrt\nsqrt(a)", ["a"]),
    ("loop target binds", "for row in rows:\n    row.x\nrow", ["rows"]),
    ("comprehension variable does not leak", "[x for x in items]\nx", ["items", "x"]),
    ("comprehension reads outer", "[x + k for x in items]", ["items", "k"]),
    ("nested comprehension", "{a: b for a in xs for b in a if b > lim}", ["xs", "lim"]),
    ("lambda reads free names", "f = lambda v: v * scale\nf(1)", ["scale"]),
    ("function body reads free names", "def f(v):\n    return v + offset\nf(1)", ["offset"]),
    ("function sees later cell variable", "def f():\n    return c\nc = 2\nf()", []),
    ("walrus binds", "(n := len(xs))\nn", ["len", "xs"]),
    ("except binds", "try:\n    a\nexcept E as e:\n    e", ["a", "E"]),
    ("with binds", "with open(p) as fh:\n    fh.read()", ["open", "p"]),
    ("attribute and call order", "orders.merge(customers, on=key)", ["orders", "customers", "key"]),
    ("class body", "class C:\n    v = base\nC.v", ["base"]),
    ("annotated assignment (annotation unevaluated)", "y: int = x\ny", ["x"]),
    ("del binds nothing new", "a = 1\ndel a", []),
]


@pytest.mark.parametrize("source,expected", [c[1:] for c in READS], ids=[c[0] for c in READS])
def test_names_read(source: str, expected: list[str]) -> None:
    assert names_read(source) == expected


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(DefinitionError, match="line 2"):
        names_read("a = 1\nb = (")


def test_compiled_cell_takes_upstream_as_parameters() -> None:
    ns: dict = {"factor": 3}
    made = compile_cell("doubled = raw * 2\ndoubled * factor", name="scaled", params=["raw"],
                        namespace=ns)
    assert made.fn.__name__ == "scaled"
    assert made.fn(raw=5) == 30
    ns["factor"] = 10           # globals are the live notebook namespace
    assert made.fn(raw=5) == 100
    assert made.reads == ("raw", "factor")


def test_var_picks_the_value() -> None:
    made = compile_cell("a = 1\nb = a + 1\nprint('x')", name="v", params=[], namespace={},
                        var="b")
    assert made.fn() == 2


@pytest.mark.parametrize("source,var,match", [
    ("a = 1", None, "does not end with an expression"),
    ("a = 1", "not a name", "not a Python name"),
    ("yield 1", None, "yield or await"),
    ("x = x + 1\nx", None, "reads 'x' before it assigns"),
])
def test_compile_errors(source: str, var: str | None, match: str) -> None:
    with pytest.raises(DefinitionError, match=match):
        compile_cell(source, name="a", params=[], namespace={}, var=var)


def test_read_then_reassigned_global_uses_notebook_value() -> None:
    ns = {"counter": 4}
    made = compile_cell("counter = counter + 1\ncounter", name="c", params=[], namespace=ns)
    assert made.fn() == 5
    assert made.fn() == 5       # the notebook variable itself is untouched
    assert ns["counter"] == 4


def test_traceback_points_at_the_cell_line() -> None:
    made = compile_cell("a = 1\nb = a / zero\nb", name="boom", params=["zero"], namespace={},
                        filename="<cell-7>")
    with pytest.raises(ZeroDivisionError) as info:
        made.fn(zero=0)
    frames = traceback.extract_tb(info.tb)
    assert (frames[-1].filename, frames[-1].lineno) == ("<cell-7>", 2)
