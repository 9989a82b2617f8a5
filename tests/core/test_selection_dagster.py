"""Selections against Dagster's answers: where the two languages overlap, nbflow selects what Dagster does.

The graph is the one Dagster's own selection tests use: ``a`` feeds ``b`` and ``b2``, both feed
``c``. ``a`` is tagged ``foo=bar`` and has an owner, ``b`` is tagged ``foo`` (empty value) and has
the kinds python and snowflake, ``c`` is in group ``my_group``, ``b2`` has nothing. The expected
sets restate the results of Dagster's selection-syntax tests (its UI parser tests and its Python
grammar tests, dagster-io/dagster) and what its grammar's precedence implies; only the data is
taken, in this project's own terms. ``DIFFERENCES`` records where nbflow deliberately differs
(the README's selection section has the same table).
"""

from __future__ import annotations

import pytest

from nbflow.core.graph import Graph
from nbflow.core.registry import Registry
from nbflow.core.selection import select
from nbflow.core.specs import asset
from nbflow.errors import SelectionError


def _dagster_graph() -> Graph:
    reg = Registry()
    asset(lambda: None, name="a", tags={"foo": "bar"}, owners=["ann@example.com"], registry=reg)
    asset(lambda a: None, name="b", tags={"foo": ""}, kinds={"python", "snowflake"}, registry=reg)
    asset(lambda a: None, name="b2", registry=reg)
    asset(lambda b, b2: None, name="c", group="my_group", registry=reg)
    return reg.graph()


GRAPH = _dagster_graph()
ALL = {"a", "b", "b2", "c"}
NONE: set[str] = set()

ORACLE = [
    # (selection, the assets Dagster selects)
    ("*", ALL),
    ("key:a", {"a"}),
    ('key:"a"', {"a"}),
    ("(((key:a)))", {"a"}),
    ("key:b*", {"b", "b2"}),
    ("key:a and key:b", NONE),
    ("key:a and key:b and key:c", NONE),
    ("key:a or key:b", {"a", "b"}),
    ("key:a or key:b or key:c", {"a", "b", "c"}),
    ("(key:a or key:b) and (key:b or key:c)", {"b"}),
    ("not key:a", {"b", "b2", "c"}),
    ("NOT key:a", {"b", "b2", "c"}),
    ("not key:a and key:b", {"b"}),  # not binds tighter than and
    ("key:a or key:b and key:c", {"a"}),  # and binds tighter than or
    ("1+key:a", {"a"}),
    ("1+key:b", {"a", "b"}),
    ("1+key:c", {"b", "b2", "c"}),
    ("2+key:c", ALL),
    ("key:a+1", {"a", "b", "b2"}),
    ("key:a+2", ALL),
    ("key:b+1", {"b", "c"}),
    ("key:c+1", {"c"}),
    ("1+key:b+1", {"a", "b", "c"}),
    ("+key:a", {"a"}),
    ("+key:b", {"a", "b"}),
    ("+key:c", ALL),
    ("key:a+", ALL),
    ("key:b+", {"b", "c"}),
    ("key:c+", {"c"}),
    ("+key:b+", {"a", "b", "c"}),
    ("key:a+ and +key:c", ALL),
    ("key:a+ and +key:b", {"a", "b"}),
    ("key:a+ and +key:c and +key:b+", {"a", "b", "c"}),
    ("key:a+ and +key:b+ and +key:c", {"a", "b", "c"}),
    ("key:a+ AND +key:b+ AND +key:c", {"a", "b", "c"}),
    ("+key:a and key:b+ and +key:c+", NONE),
    ("sinks(*)", {"c"}),
    ("sinks(key:a)", {"a"}),
    ("sinks(key:a or key:b)", {"b"}),
    ("sinks(key:a OR key:b)", {"b"}),
    ("roots(*)", {"a"}),
    ("roots(key:c)", {"c"}),
    ("roots(key:a or key:b)", {"a"}),
    ("(roots(key:c) or key:a)+", ALL),
    ("tag:foo=bar", {"a"}),
    ('owner:"ann@example.com"', {"a"}),
    ("group:my_group", {"c"}),
    ('group:"my_group"', {"c"}),
    ("kind:python", {"b"}),
    ("kind:snowflake", {"b"}),
]


@pytest.mark.parametrize(("text", "dagster"), ORACLE, ids=[c[0] for c in ORACLE])
def test_selects_what_dagster_selects(text: str, dagster: set[str]) -> None:
    if not dagster:  # Dagster answers an empty set; nbflow says so as an error
        with pytest.raises(SelectionError, match="matches no asset"):
            select(GRAPH, text)
        return
    got = select(GRAPH, text)
    assert set(got) == dagster
    assert len(got) == len(dagster)


INVALID_IN_BOTH = [
    "+", "not", "and", "key:a key:b", "key:a and and", "key:a and", "tag:foo=", "notafunction()",
    "**key:a", "sinks()", "sinks", "owner", "key:a And key:b", "status:x", "code_location:x",
]


@pytest.mark.parametrize("text", INVALID_IN_BOTH)
def test_refuses_what_dagster_refuses(text: str) -> None:
    with pytest.raises(SelectionError) as info:
        select(GRAPH, text)
    assert info.value.selection == text


DIFFERENCES = [
    # (selection, what Dagster does, what nbflow selects)
    ("a", "syntax error: names need key:", {"a"}),
    ("key:a, key:c", "syntax error: no comma", {"a", "c"}),
    ("tag:foo", "only assets whose 'foo' tag is empty: b", {"a", "b"}),
    ("owner:ann@example.com", "syntax error: '@' needs quotes", {"a"}),
    ("group:my_*", "no globs outside key:", {"c"}),
    ("key:b?", "'?' is no wildcard", {"b2"}),
    ("*+", "syntax error: '*' takes no traversal", ALL),
]


@pytest.mark.parametrize(("text", "dagster", "nbflow"), DIFFERENCES, ids=[c[0] for c in DIFFERENCES])
def test_deliberate_differences(text: str, dagster: str, nbflow: set[str]) -> None:
    assert dagster  # what Dagster does is recorded beside each case
    assert set(select(GRAPH, text)) == nbflow
