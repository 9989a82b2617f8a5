"""Fuzzing selections: any text gives a result or a SelectionError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nbflow.core.selection import MAX_DEPTH, parse, select
from nbflow.errors import SelectionError
from tests.core.test_selection import EVERYTHING, GRAPH

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = ["orders", "raw_orders", "revenue", "report", "audit", "raw_*", "*", "r?port", "zzz",
         "and", "or", "not", "AND", "OR", "NOT", "And", "(", ")", ",", "+", "2", "0", "99",
         "key:", "group:", "tag:", "kind:", "owner:", "status:", "sinks(", "roots(", "sinks",
         "=", '"', "'", "\\", "sales", "python", "team:finance", "ann@x.com", "tier=gold", "&", "-"]


def _outcome(text: str) -> set[str] | None:
    """The selected assets, or None for a SelectionError; any other exception fails the test."""
    try:
        return set(select(GRAPH, text))
    except SelectionError as err:
        assert err.selection == text
        assert str(err).startswith(f"Selection {text!r} ")
        if err.position is not None:
            assert 1 <= err.position <= len(text) + 1
        return None


@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
@example("(" * 165 + "orders" + ")" * 165)
@example("not " * 1000 + "orders")
@example("orders+" + "9" * 5000)
def test_any_text_selects_or_raises_selection_error(text: str) -> None:
    _outcome(text)


@FUZZ
@given(st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join))
def test_token_soup_selects_or_raises_selection_error(text: str) -> None:
    _outcome(text)


@FUZZ
@given(st.lists(st.sampled_from(WORDS), max_size=25).map("".join))
def test_glued_token_soup_selects_or_raises_selection_error(text: str) -> None:
    _outcome(text)


@FUZZ
@given(st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join))
def test_what_parses_renders_back_to_the_same_tree(text: str) -> None:
    try:
        tree = parse(text)
    except SelectionError:
        return
    again = parse(str(tree))
    assert again == tree
    assert _outcome(str(tree)) == _outcome(text)


WRAPPERS = [("(", ")"), ("not ", ""), ("NOT (", ")"), ("sinks(", ")"), ("roots(", ")"),
            ("+(", ")"), ("(", ")+1"), ("(orders or ", ")"), ("not not (", ")")]


@FUZZ
@given(st.lists(st.sampled_from(WRAPPERS), max_size=300), st.sampled_from(["orders", "*", "group:sales"]))
def test_deep_nesting_selects_or_says_it_nests_too_deep(wrappers: list[tuple[str, str]], inner: str) -> None:
    text = "".join(w[0] for w in wrappers) + inner + "".join(w[1] for w in reversed(wrappers))
    calls = sum(1 for w in wrappers if "(" in w[0])
    got = _outcome(text)
    if calls > MAX_DEPTH:
        with pytest.raises(SelectionError, match=f"nests more than {MAX_DEPTH} parentheses"):
            parse(text)
    elif got is not None:
        assert got <= EVERYTHING
    else:  # within the limit, only a selection that matches nothing may fail
        with pytest.raises(SelectionError, match="matches no asset"):
            select(GRAPH, text)


@FUZZ
@given(st.integers(min_value=0, max_value=3000))
def test_not_chains_of_any_length_alternate(count: int) -> None:
    got = set(select(GRAPH, "not " * count + "orders"))
    assert got == ({"orders"} if count % 2 == 0 else EVERYTHING - {"orders"})


@FUZZ
@given(st.integers(min_value=0, max_value=400))
def test_parentheses_up_to_the_limit_and_no_further(depth: int) -> None:
    text = "(" * depth + "orders" + ")" * depth
    if depth <= MAX_DEPTH:
        assert select(GRAPH, text) == ["orders"]
    else:
        with pytest.raises(SelectionError) as info:
            select(GRAPH, text)
        assert info.value.position == MAX_DEPTH + 1
