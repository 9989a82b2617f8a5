"""Selection strings: parsing, evaluation over a small graph, and the errors users see."""

from __future__ import annotations

import pytest

from nbflow.core.graph import Graph
from nbflow.core.registry import Registry
from nbflow.core.selection import (
    MAX_DEPTH,
    All,
    And,
    Group,
    Kind,
    Lineage,
    Name,
    Not,
    Or,
    Owner,
    Pattern,
    Roots,
    Sinks,
    Tag,
    parse,
    select,
)
from nbflow.core.specs import asset
from nbflow.errors import SelectionError


def _fixture_graph() -> Graph:
    """raw_orders -> orders -> revenue -> report, raw_customers -> customers -> revenue,
    orders -> audit (deps only), and a standalone asset with a non-asset parameter.
    Kinds: raw_orders python+csv, orders pandas; owners: raw_orders ann, revenue a team and bob."""
    reg = Registry()

    @asset(registry=reg, group="sales", tags={"owner": "sales", "tier": "bronze"},
           kinds=["python", "csv"], owners=["ann@x.com"])
    def raw_orders() -> list[int]:
        return [1, 2]

    @asset(registry=reg, group="crm", tags={"owner": "crm"})
    def raw_customers() -> list[str]:
        return ["x"]

    @asset(registry=reg, group="sales", tags={"owner": "sales", "tier": "silver"}, kinds={"pandas"})
    def orders(raw_orders: list[int]) -> list[int]:
        return raw_orders

    @asset(registry=reg, group="crm")
    def customers(raw_customers: list[str]) -> list[str]:
        return raw_customers

    @asset(registry=reg, group="finance", tags={"tier": "gold", "team": "data eng"},
           owners=["team:finance", "bob@x.com"])
    def revenue(orders: list[int], customers: list[str]) -> int:
        return len(orders) * len(customers)

    @asset(registry=reg, group="finance")
    def report(revenue: int) -> str:
        return str(revenue)

    @asset(registry=reg, deps=["orders"])
    def audit() -> None:
        return None

    @asset(registry=reg)
    def standalone(limit: int = 3) -> int:
        return limit

    return reg.graph()


GRAPH = _fixture_graph()

RAW = {"raw_orders", "raw_customers"}
EVERYTHING = set(GRAPH.specs)
SINKS = {"report", "audit", "standalone"}
ROOTS = {"raw_orders", "raw_customers", "standalone"}

SELECT_CASES = [
    # (selection, expected assets)
    ("orders", {"orders"}),
    ("  orders  ", {"orders"}),
    ("*", EVERYTHING),
    ("+orders", {"raw_orders", "orders"}),
    ("orders+", {"orders", "revenue", "report", "audit"}),
    ("+orders+", {"raw_orders", "orders", "revenue", "report", "audit"}),
    ("+revenue", {"revenue", "orders", "customers", *RAW}),
    ("1+revenue", {"revenue", "orders", "customers"}),
    ("2+revenue", {"revenue", "orders", "customers", *RAW}),
    ("9+revenue", {"revenue", "orders", "customers", *RAW}),
    ("0+revenue", {"revenue"}),
    ("2 + revenue", {"revenue", "orders", "customers", *RAW}),
    ("raw_orders+1", {"raw_orders", "orders"}),
    ("raw_orders+2", {"raw_orders", "orders", "revenue", "audit"}),
    ("1+orders+1", {"raw_orders", "orders", "revenue", "audit"}),
    ("+audit", {"audit", "orders", "raw_orders"}),
    ("report+", {"report"}),
    ("+raw_orders", {"raw_orders"}),
    ("group:sales", {"raw_orders", "orders"}),
    ("group:finance", {"revenue", "report"}),
    ("group:default", {"audit", "standalone"}),
    ("group:fin*", {"revenue", "report"}),
    ("group:sales+", {"raw_orders", "orders", "revenue", "report", "audit"}),
    ("+group:finance", {"revenue", "report", "orders", "customers", *RAW}),
    ("tag:owner", {"raw_orders", "orders", "raw_customers"}),
    ("tag:owner=sales", {"raw_orders", "orders"}),
    ("tag:tier=gold", {"revenue"}),
    ("tag:tier=*r*", {"raw_orders", "orders"}),
    ('tag:team="data eng"', {"revenue"}),
    ("tag:'team'='data eng'", {"revenue"}),
    ("raw_*", RAW),
    ("*s", {"orders", "customers", "raw_orders", "raw_customers"}),
    ("r?port", {"report"}),
    ("orders, customers", {"orders", "customers"}),
    ("orders,customers,report", {"orders", "customers", "report"}),
    ("orders or customers", {"orders", "customers"}),
    ("orders+ and group:finance", {"revenue", "report"}),
    ("not group:sales and not group:crm", {"revenue", "report", "audit", "standalone"}),
    ("not orders", EVERYTHING - {"orders"}),
    ("not not orders", {"orders"}),
    ("* and not raw_*", EVERYTHING - RAW),
    ("not (raw_orders or raw_customers)", EVERYTHING - RAW),
    ("+report and not +orders", {"report", "revenue", "customers", "raw_customers"}),
    # and binds tighter than or, or and comma are both union
    ("orders or customers and group:sales", {"orders"}),
    ("(orders or customers) and group:sales", {"orders"}),
    ("(orders or customers) and group:crm", {"customers"}),
    ("orders, customers and group:sales", {"orders"}),
    ("report, orders and tag:tier=silver", {"report", "orders"}),
    ("not orders, orders", EVERYTHING),
    ("+(orders, customers)", {"orders", "customers", *RAW}),
    ("(raw_*)+1", RAW | {"orders", "customers"}),
    ("((orders))", {"orders"}),
    ("standalone", {"standalone"}),
    # upper-case keywords are the same operators
    ("orders OR customers", {"orders", "customers"}),
    ("NOT orders", EVERYTHING - {"orders"}),
    ("NOT NOT orders", {"orders"}),
    ("orders+ AND group:finance", {"revenue", "report"}),
    ("orders or customers AND group:sales", {"orders"}),
    ("* AND NOT raw_* OR raw_orders", (EVERYTHING - RAW) | {"raw_orders"}),
    # key: is a name, a glob or a quoted name
    ("key:orders", {"orders"}),
    ('key:"orders"', {"orders"}),
    ("key:'orders'", {"orders"}),
    ("key:raw_*", RAW),
    ('key:"raw_*"', RAW),
    ("key:*", EVERYTHING),
    ("+key:orders", {"raw_orders", "orders"}),
    ("key:raw_orders+1", {"raw_orders", "orders"}),
    ("key:orders, key:customers", {"orders", "customers"}),
    ("not key:orders", EVERYTHING - {"orders"}),
    # kind: and owner: (globs too)
    ("kind:python", {"raw_orders"}),
    ("kind:csv", {"raw_orders"}),
    ("kind:pandas", {"orders"}),
    ("kind:p*", {"raw_orders", "orders"}),
    ("kind:pandas+", {"orders", "revenue", "report", "audit"}),
    ('owner:"ann@x.com"', {"raw_orders"}),
    ("owner:ann@x.com", {"raw_orders"}),
    ("owner:team:finance", {"revenue"}),
    ('owner:"team:finance"', {"revenue"}),
    ("owner:*@x.com", {"raw_orders", "revenue"}),
    ("owner:team:* or kind:pandas", {"revenue", "orders"}),
    # sinks(): nothing of the selection downstream; roots(): nothing of it upstream
    ("sinks(*)", SINKS),
    ("roots(*)", ROOTS),
    ("sinks(group:sales)", {"orders"}),
    ("roots(group:sales)", {"raw_orders"}),
    ("sinks(raw_orders or revenue)", {"revenue"}),  # transitively: raw_orders reaches revenue
    ("roots(report or raw_orders or audit)", {"raw_orders"}),
    ("roots(+revenue)", RAW),
    ("sinks(+revenue)", {"revenue"}),
    ("sinks(orders+)", {"report", "audit"}),
    ("sinks (orders+)", {"report", "audit"}),
    ("+sinks(group:crm)", {"customers", "raw_customers"}),
    ("sinks(group:crm)+1", {"customers", "revenue"}),
    ("not sinks(*)", EVERYTHING - SINKS),
    ("not kind:*", EVERYTHING - {"raw_orders", "orders"}),
    ("not owner:*", EVERYTHING - {"raw_orders", "revenue"}),
    ("not tag:*", {"customers", "report", "audit", "standalone"}),
    ("sinks(*) and roots(*)", {"standalone"}),
    ("sinks(roots(*))", ROOTS),
    ("roots(sinks(*) or revenue)", {"revenue", "audit", "standalone"}),
]


@pytest.mark.parametrize(("text", "expected"), SELECT_CASES, ids=[c[0] for c in SELECT_CASES])
def test_select(text: str, expected: set[str]) -> None:
    got = select(GRAPH, text)
    assert set(got) == expected
    assert len(got) == len(expected)
    assert got == [n for n in GRAPH.order if n in expected], "not in topological order"


@pytest.mark.parametrize(("text", "expected"), SELECT_CASES, ids=[c[0] for c in SELECT_CASES])
def test_render_round_trips(text: str, expected: set[str]) -> None:
    tree = parse(text)
    assert parse(str(tree)) == tree
    assert set(select(GRAPH, str(tree))) == expected


PARSE_CASES = [
    ("a", Name("a")),
    ("*", All()),
    ("raw_*", Pattern("raw_*")),
    ("+a", Lineage(Name("a"), upstream=None)),
    ("a+", Lineage(Name("a"), downstream=None)),
    ("+a+", Lineage(Name("a"), upstream=None, downstream=None)),
    ("2+a", Lineage(Name("a"), upstream=2)),
    ("a+3", Lineage(Name("a"), downstream=3)),
    ("2+a+", Lineage(Name("a"), upstream=2, downstream=None)),
    ("group:x", Group("x")),
    ("group:x+", Lineage(Group("x"), downstream=None)),
    ("tag:k", Tag("k")),
    ("tag:k=v", Tag("k", "v")),
    ("tag:k=", None),
    ('tag:k="a b"', Tag("k", "a b")),
    (r'tag:k="say \"hi\""', Tag("k", 'say "hi"')),
    ('tag:k=""', Tag("k", "")),
    ("a, b", Or((Name("a"), Name("b")))),
    ("a or b, c", Or((Name("a"), Name("b"), Name("c")))),
    ("a and b and c", And((Name("a"), Name("b"), Name("c")))),
    ("a or b and c", Or((Name("a"), And((Name("b"), Name("c")))))),
    ("a and b or c", Or((And((Name("a"), Name("b"))), Name("c")))),
    ("(a or b) and c", And((Or((Name("a"), Name("b"))), Name("c")))),
    ("not a and b", And((Not(Name("a")), Name("b")))),
    ("not (a and b)", Not(And((Name("a"), Name("b"))))),
    ("not a+", Not(Lineage(Name("a"), downstream=None))),
    ("+(a, b)", Lineage(Or((Name("a"), Name("b"))), upstream=None)),
    ("a\tand\nb", And((Name("a"), Name("b")))),
    ("données", Name("données")),
    ("a OR b", Or((Name("a"), Name("b")))),
    ("a AND b", And((Name("a"), Name("b")))),
    ("NOT a", Not(Name("a"))),
    ("not not a", Name("a")),
    ("not not not a", Not(Name("a"))),
    ("not (not a)", Name("a")),
    ("key:a", Name("a")),
    ('key:"my asset"', Name("my asset")),
    ("key:AND", Name("AND")),
    ("key:a*", Pattern("a*")),
    ("key:*", All()),
    ("key:a+", Lineage(Name("a"), downstream=None)),
    ("kind:python", Kind("python")),
    ('kind:"big query"', Kind("big query")),
    ("owner:ann@x.com", Owner("ann@x.com")),
    ("owner:team:sales", Owner("team:sales")),
    ("sinks(a)", Sinks(Name("a"))),
    ("roots(a, b)", Roots(Or((Name("a"), Name("b"))))),
    ("sinks(*)+", Lineage(Sinks(All()), downstream=None)),
    ("not roots(*)", Not(Roots(All()))),
    ("sinks", Name("sinks")),
    ("sinks or roots", Or((Name("sinks"), Name("roots")))),
]


@pytest.mark.parametrize(("text", "tree"), [c for c in PARSE_CASES if c[1] is not None],
                         ids=[c[0] for c in PARSE_CASES if c[1] is not None])
def test_parse(text: str, tree: object) -> None:
    assert parse(text) == tree


RENDER_CASES = [
    # (tree, its text): names that are not bare words are written with key:
    (Name("my asset"), 'key:"my asset"'),
    (Name("AND"), "key:AND"),
    (Name("42"), "key:42"),
    (Name("sinks"), "sinks"),
    (Pattern("raw *"), 'key:"raw *"'),
    (Owner("team:sales"), 'owner:"team:sales"'),
    (Owner("ann@x.com"), "owner:ann@x.com"),
    (Kind("python"), "kind:python"),
    (Lineage(Sinks(Or((Name("a"), Name("b")))), upstream=2), "2+sinks(a or b)"),
    (Not(Roots(And((Name("a"), Kind("k"))))), "not roots(a and kind:k)"),
]


@pytest.mark.parametrize(("tree", "text"), RENDER_CASES, ids=[c[1] for c in RENDER_CASES])
def test_render(tree: object, text: str) -> None:
    assert str(tree) == text
    assert parse(text) == tree


def test_parse_records_name_positions() -> None:
    tree = parse("orders and  not raw_*")
    assert isinstance(tree, And)
    name, negated = tree.operands
    assert isinstance(name, Name) and name.position == 1
    assert isinstance(negated, Not) and isinstance(negated.operand, Pattern)
    assert negated.operand.position == len("orders and  not ") + 1


SYNTAX_CASES = [
    # (selection, 1-based position, fragment of the detail)
    ("a and (b", 9, "expected ')'"),
    ("", 1, "the selection is empty"),
    ("   ", 4, "the selection is empty"),
    ("(", 2, "but found the end of the selection"),
    ("a and", 6, "expected an asset name"),
    ("a,", 3, "expected an asset name"),
    (", a", 1, "but found ','"),
    ("a b", 3, "join two selections with ','"),
    ("a + b", 5, "expected ',', 'and', 'or' or the end"),
    ("a)", 2, "but found ')'"),
    ("a and or b", 7, "but found 'or'"),
    ("not", 4, "expected an asset name"),
    ("a & b", 3, "write 'and' instead of '&'"),
    ("a | b", 3, "write 'or' instead of '|'"),
    ("!a", 1, "write 'not' instead of '!'"),
    ("a - b", 3, "write 'and not NAME'"),
    ("a.b", 2, "unexpected character '.'"),
    ("2 a", 3, "expected '+' after the depth 2"),
    ("3", 2, "expected '+' after the depth 3"),
    ("a+2b", 3, "but found '2b'"),
    ("a++", 3, "but found '+'"),
    ("++a", 2, "expected an asset name"),
    ("grop:x", 1, "did you mean 'group:'?"),
    ("colour:x", 1, "unknown selector 'colour:'; use 'key:', 'group:', 'tag:', 'kind:', 'owner:' or 'status:'"),
    ("status:x", 8, "'status:x' is not a status; use 'status:fresh', 'status:stale'"),
    ("is:x", 1, "unknown selector 'is:'; that is Dagster's, nbflow selects with 'key:'"),
    ("group:", 7, "expected a group name after 'group:'"),
    ("group: x", 7, "expected a group name after 'group:'"),
    ("tag:", 5, "expected a tag key after 'tag:'"),
    ("tag:=v", 5, "expected a tag key after 'tag:'"),
    ("tag:k=", 7, "expected a tag value after '='"),
    ('tag:k="open', 7, "never closed"),
    ("(a, (b)", 8, "expected ')'"),
    ("a And b", 3, "'And' is not a keyword; keywords are all lower or all upper case: write 'and' or 'AND'"),
    ("Not a", 1, "keywords are all lower or all upper case: write 'not' or 'NOT'"),
    ("a Or b", 3, "write 'or'"),
    ("AND", 1, "but found 'AND'"),
    ("a AND", 6, "but found the end of the selection"),
    ("a OR OR b", 6, "but found 'OR'"),
    ("key:", 5, "expected an asset name after 'key:'"),
    ("kind:", 6, "expected a kind after 'kind:'"),
    ("owner:", 7, "expected an owner after 'owner:'"),
    ('key:"a', 5, "never closed"),
    ("sinks(", 7, "but found the end of the selection"),
    ("sinks(a", 8, "expected ')' to close the '(' of sinks("),
    ("roots(a b)", 9, "expected ')' to close the '(' of roots("),
    ("sinks()", 7, "but found ')'"),
    ("a sinks(b)", 3, "join two selections with ','"),
    ("key:a key:b", 7, "join two selections with ','"),
    ("kay:a", 1, "did you mean 'key:'?"),
    ("kinds:a", 1, "did you mean 'kind:'?"),
    ("owners:a", 1, "did you mean 'owner:'?"),
    ("tag:<null>", 5, "'<null>' is Dagster's; write 'not tag:*' for the assets without any tag"),
    ("kind:<null>", 6, "write 'not kind:*'"),
    ("(" * 51 + "a" + ")" * 51, 51, f"nests more than {MAX_DEPTH} parentheses or calls deep"),
    ("(" * 165 + "a" + ")" * 165, 51, "remove some"),
    ("sinks(" * 60 + "a" + ")" * 60, 301, f"nests more than {MAX_DEPTH}"),
    ("a and " + "(not " * 51 + "a" + ")" * 51, 257, f"nests more than {MAX_DEPTH}"),
]


@pytest.mark.parametrize(("text", "position", "fragment"), SYNTAX_CASES,
                         ids=[repr(c[0]) for c in SYNTAX_CASES])
def test_syntax_error_points_at_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(SelectionError) as info:
        parse(text)
    err = info.value
    assert err.position == position
    assert err.selection == text
    first, shown, caret = str(err).split("\n")
    assert first.startswith(f"Selection {text!r} has a syntax error at position {position}: ")
    assert fragment in first
    assert first.endswith((".", "?"))
    assert shown == "  " + text.replace("\t", " ")
    assert caret == " " * (position + 1) + "^"
    # select() reports the same error before looking at the graph
    with pytest.raises(SelectionError, match="syntax error"):
        select(GRAPH, text)


DEEP_CASES = [
    # (selection, expected): deep but within the limits, evaluated exactly
    ("(" * MAX_DEPTH + "orders" + ")" * MAX_DEPTH, {"orders"}),
    ("sinks(" * MAX_DEPTH + "group:sales" + ")" * MAX_DEPTH, {"orders"}),
    ("not " * 1000 + "orders", {"orders"}),
    ("NOT " * 1001 + "orders", EVERYTHING - {"orders"}),
    ("(not " * MAX_DEPTH + "orders" + ")" * MAX_DEPTH, {"orders"}),
    (" or ".join(["orders"] * 5000), {"orders"}),
    (" and ".join(["+report"] * 5000), {"report", "revenue", "orders", "customers", *RAW}),
    ("raw_orders+" + "9" * 5000, {"raw_orders", "orders", "revenue", "report", "audit"}),
]


@pytest.mark.parametrize(("text", "expected"), DEEP_CASES, ids=[f"{c[0][:12]}..{len(c[0])}" for c in DEEP_CASES])
def test_deep_selections_are_evaluated_without_recursion(text: str, expected: set[str]) -> None:
    assert set(select(GRAPH, text)) == expected


def test_syntax_error_message_matches_documented_example() -> None:
    with pytest.raises(SelectionError) as info:
        parse("a and (b")
    assert str(info.value) == (
        "Selection 'a and (b' has a syntax error at position 9: expected ')'.\n"
        "  a and (b\n"
        "          ^")


UNKNOWN_CASES = [
    # (selection, unknown name, suggestion or None, its 1-based position)
    ("orderz", "orderz", "orders", 1),
    ("+revenu", "revenu", "revenue", 2),
    ("orders, reprot+", "reprot", "report", 9),
    ("not custmers", "custmers", "customers", 5),
    ("group:sales and (raw_order)", "raw_order", "raw_orders", 18),
    ("zzz", "zzz", None, 1),
    ("finance+", "finance", "group:finance", 1),
    ("owner", "owner", "tag:owner", 1),
    ("And", "And", "and", 1),
    ("key:ordrs", "ordrs", "orders", 5),
    ('key:"my asset"', "my asset", None, 6),
    ("sinks(raw_orders) or key:'revenu'", "revenu", "revenue", 27),
    ("python", "python", "kind:python", 1),
    ("sinks", "sinks", "sinks(*)", 1),
    ("roots+", "roots", "roots(*)", 1),
]


@pytest.mark.parametrize(("text", "name", "suggestion", "position"), UNKNOWN_CASES,
                         ids=[c[0] for c in UNKNOWN_CASES])
def test_unknown_name_suggests_closest(text: str, name: str, suggestion: str | None,
                                       position: int) -> None:
    with pytest.raises(SelectionError) as info:
        select(GRAPH, text)
    err = info.value
    message = str(err)
    assert message.startswith(f"Selection {text!r} names no asset {name!r}.")
    assert err.selection == text
    assert err.position == position
    assert text[position - 1:].startswith(name)
    if suggestion:
        assert f"Did you mean {suggestion!r}?" in message or f"'{suggestion}'?" in message
    else:
        assert "Did you mean" not in message
        assert all(n in message for n in GRAPH.order), "should list the assets that exist"


def test_unknown_name_message_matches_documented_example() -> None:
    with pytest.raises(SelectionError) as info:
        select(GRAPH, "orderz")
    assert str(info.value) == "Selection 'orderz' names no asset 'orderz'. Did you mean 'orders'?"


NOTHING_CASES = [
    # (selection, fragments the message must hold)
    ("group:nope", ["No asset is in group 'nope'."]),
    ("group:sale", ["did you mean 'group:sales'?"]),
    ("tag:tiers", ["No asset has the tag 'tiers'; did you mean 'tag:tier'?"]),
    ("tag:tier=platinum", []),
    ("orders and customers", []),
    ("not *", []),
    ("nothing_*", []),
    ("group:x*", []),
    ("kind:pyhton", ["No asset has the kind 'pyhton'; did you mean 'kind:python'?"]),
    ("kind:rust", ["No asset has the kind 'rust'; the kinds are csv, pandas, python."]),
    ("owner:bob@x.org", ["No asset has the owner 'bob@x.org'; did you mean 'owner:bob@x.com'?"]),
    ("owner:team:x*", []),
    ("sinks(*) and roots(group:sales)", []),
]


@pytest.mark.parametrize(("text", "fragments"), NOTHING_CASES, ids=[c[0] for c in NOTHING_CASES])
def test_selection_matching_nothing_lists_groups_and_tags(text: str, fragments: list[str]) -> None:
    with pytest.raises(SelectionError) as info:
        select(GRAPH, text)
    err = info.value
    message = str(err)
    assert message.startswith(f"Selection {text!r} matches no asset.")
    assert err.selection == text and err.position is None
    groups = sorted({s.group for s in GRAPH.specs.values()})
    tags = sorted({f"{k}={v}" for s in GRAPH.specs.values() for k, v in s.tags.items()})
    assert f"Groups that exist: {', '.join(groups)};" in message
    assert f"tags that exist: {', '.join(tags)}." in message
    for fragment in fragments:
        assert fragment in message


def test_empty_graph() -> None:
    empty = Registry().graph()
    assert select(empty, "*") == []
    with pytest.raises(SelectionError, match="no assets are defined"):
        select(empty, "group:x")
    with pytest.raises(SelectionError, match="names no asset 'orders'. No assets are defined"):
        select(empty, "orders")


def test_long_listings_are_cut() -> None:
    reg = Registry()
    for i in range(30):
        asset(lambda: None, name=f"a{i:02d}", group=f"g{i:02d}", registry=reg)
    graph = reg.graph()
    with pytest.raises(SelectionError) as info:
        select(graph, "group:nope")
    assert "and 18 more" in str(info.value)
    assert "g29" not in str(info.value)
    with pytest.raises(SelectionError) as info:
        select(graph, "qqqq")
    assert "a00, a01" in str(info.value) and "and 18 more" in str(info.value)


def test_select_follows_registry_changes() -> None:
    reg = Registry()
    asset(lambda: 1, name="a", registry=reg)
    assert select(reg.graph(), "a+") == ["a"]

    def b(a: int) -> int:
        return a

    asset(b, registry=reg)
    assert select(reg.graph(), "a+") == ["a", "b"]
