"""Graph building: upstream from parameters and deps=, order, unknown names, cycles, redefinition."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import pytest

from nbflow.core.graph import Graph, build_graph
from nbflow.core.registry import Registry
from nbflow.core.specs import AssetSpec, asset
from nbflow.errors import CycleError, DefinitionError, UnknownAssetError

# An asset in a case table: (name, parameters that name upstream assets, deps=, parameters with
# a default). Parameters become real function parameters, so the decorator sees them.
Def = tuple[str, Sequence[str], Sequence[str], Sequence[str]]


def define(reg: Registry, name: str, uses: Sequence[str] = (), deps: Sequence[str] = (),
           defaults: Sequence[str] = ()) -> AssetSpec:
    """Define asset ``name`` whose function takes ``uses`` and then ``defaults`` (with a default)."""

    def fn(**values: Any) -> None:
        return None

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    fn.__name__ = name
    fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(u, kind) for u in uses]
        + [inspect.Parameter(d, kind, default=0) for d in defaults])
    spec: AssetSpec = asset(fn, deps=list(deps), registry=reg)
    return spec


def build(defs: Sequence[Def]) -> Graph:
    reg = Registry()
    for name, uses, deps, defaults in defs:
        define(reg, name, uses, deps, defaults)
    return reg.graph()


def a(name: str, *uses: str, deps: Sequence[str] = (), defaults: Sequence[str] = ()) -> Def:
    return (name, uses, deps, defaults)


def earliest_ready_order(defs: Sequence[Def]) -> list[str]:
    """The reference order: repeatedly take the earliest-defined asset whose upstream is done."""
    ups = {n: {*uses, *deps} & {d[0] for d in defs} for n, uses, deps, _ in defs}
    done: list[str] = []
    while len(done) < len(defs):
        done.append(next(n for n, *_ in defs if n not in done and ups[n] <= set(done)))
    return done


ORDER_CASES = {
    "chain defined backwards": [a("c", "b"), a("b", "a"), a("a")],
    "diamond": [a("d", "b", "c"), a("c", "top"), a("b", "top"), a("top")],
    "independent roots": [a("z"), a("y"), a("x")],
    "already topological": [a("a"), a("b", "a"), a("c"), a("d", "b", "c")],
    "deps only": [a("report", deps=["clean"]), a("clean")],
    "deps and parameters": [a("r", "p", deps=["q"]), a("q", "p"), a("p")],
    "late root": [a("b", "a"), a("a"), a("c")],
    "wide fan-in": [a("sink", *[f"s{i}" for i in range(8)]), *[a(f"s{i}") for i in range(8)]],
    "two chains interleaved": [a("x2", "x1"), a("y2", "y1"), a("x1"), a("y1"), a("x3", "x2")],
}


@pytest.mark.parametrize("defs", ORDER_CASES.values(), ids=ORDER_CASES.keys())
def test_topological_order(defs: list[Def]) -> None:
    graph = build(defs)
    order = list(graph.order)
    assert sorted(order) == sorted(d[0] for d in defs)
    for name in order:
        for up in graph.upstream[name]:
            assert order.index(up) < order.index(name), f"{up} must come before {name}"
    assert order == earliest_ready_order(defs)


def test_definition_order_is_kept_when_already_topological() -> None:
    defs = ORDER_CASES["already topological"]
    assert list(build(defs).order) == [d[0] for d in defs]


EDGE_CASES = [
    # (definitions, asset, expected upstream, expected loaded inputs)
    ([a("raw"), a("clean", "raw")], "clean", ("raw",), {"raw": "raw"}),
    ([a("raw"), a("clean", deps=["raw"])], "clean", ("raw",), {}),
    ([a("x"), a("y"), a("z", "x", deps=["y"])], "z", ("x", "y"), {"x": "x"}),
    ([a("x"), a("z", "x", deps=["x"])], "z", ("x",), {"x": "x"}),
    ([a("raw"), a("clean", "raw", defaults=["limit"])], "clean", ("raw",), {"raw": "raw"}),
    ([a("clean", defaults=["limit", "mode"])], "clean", (), {}),
    # a parameter with a default that names an asset still loads it
    ([a("raw"), a("clean", defaults=["raw"])], "clean", ("raw",), {"raw": "raw"}),
    # a parameter with a default named after the asset itself is just a parameter
    ([a("clean", defaults=["clean"])], "clean", (), {}),
]


@pytest.mark.parametrize(("defs", "name", "upstream", "inputs"), EDGE_CASES,
                         ids=[f"case{i}" for i in range(len(EDGE_CASES))])
def test_upstream_and_inputs(defs: list[Def], name: str, upstream: tuple[str, ...],
                             inputs: dict[str, str]) -> None:
    graph = build(defs)
    assert graph.upstream[name] == upstream
    assert dict(graph.inputs[name]) == inputs
    for up in upstream:
        assert name in graph.downstream[up]


UNKNOWN_CASES = [
    # (definitions, unknown name, suggestion, fragments of the message)
    ([a("raw_orders"), a("orders", "raw_ordrs")], "raw_ordrs", "raw_orders",
     ["Asset 'orders' has a parameter 'raw_ordrs', which is not a defined asset.",
      "Did you mean 'raw_orders'?", "give the parameter a default"]),
    ([a("raw_orders"), a("orders", deps=["raw_order"])], "raw_order", "raw_orders",
     ["Asset 'orders' lists in deps= 'raw_order'", "Did you mean 'raw_orders'?",
      "remove it from deps"]),
    ([a("orders", "customers")], "customers", None,
     ["Asset 'orders' has a parameter 'customers', which is not a defined asset. Define"]),
    ([a("a"), a("b", "a", "zzz_unrelated")], "zzz_unrelated", None, ["parameter 'zzz_unrelated'"]),
]


@pytest.mark.parametrize(("defs", "name", "suggestion", "fragments"), UNKNOWN_CASES,
                         ids=[c[1] for c in UNKNOWN_CASES])
def test_unknown_upstream_suggests_closest(defs: list[Def], name: str, suggestion: str | None,
                                           fragments: list[str]) -> None:
    with pytest.raises(UnknownAssetError) as info:
        build(defs)
    err = info.value
    assert isinstance(err, DefinitionError)
    assert err.name == name
    assert err.suggestion == suggestion
    for fragment in fragments:
        assert fragment in str(err)
    if suggestion is None:
        assert "Did you mean" not in str(err)


def rotations(cycle: Sequence[str]) -> set[str]:
    """Every way to write ``cycle`` (a list without the repeated first name) as ``a -> b -> a``."""
    return {" -> ".join([*cycle[i:], *cycle[:i], cycle[i]]) for i in range(len(cycle))}


CYCLE_CASES = {
    # name: (definitions, the cycle in data-flow order: x -> y means y uses x)
    "two": ([a("a", "b"), a("b", "a")], ["a", "b"]),
    "three": ([a("a", "c"), a("b", "a"), a("c", "b")], ["a", "b", "c"]),
    "three via deps": ([a("a", deps=["c"]), a("b", "a"), a("c", deps=["b"])], ["a", "b", "c"]),
    "self-loop via deps": ([a("a", deps=["a"])], ["a"]),
    "self-loop via parameter": ([a("a", "a")], ["a"]),
    "with a root and a tail": ([a("root"), a("tail", "y"), a("x", "root", "z"), a("y", "x"),
                                a("z", "y")], ["x", "y", "z"]),
    "two cycles": ([a("p", "q"), a("q", "p"), a("m", "n"), a("n", "m")], ["p", "q"]),
}


@pytest.mark.parametrize(("defs", "cycle"), CYCLE_CASES.values(), ids=CYCLE_CASES.keys())
def test_cycle_is_printed(defs: list[Def], cycle: list[str]) -> None:
    with pytest.raises(CycleError) as info:
        build(defs)
    err = info.value
    assert isinstance(err, DefinitionError)
    assert err.cycle[0] == err.cycle[-1]
    written = " -> ".join(err.cycle)
    assert written in rotations(cycle)
    assert str(err) == (f"The asset graph has a cycle: {written}. "
                        "Remove one of these dependencies to break it.")


def test_redefinition_replaces() -> None:
    reg = Registry()
    define(reg, "raw")
    define(reg, "other")
    define(reg, "clean", ["raw"])
    before = reg.graph()
    assert before.upstream["clean"] == ("raw",)

    redefined = define(reg, "clean", ["other"])  # the cell run again, edited
    assert len(reg) == 3
    assert reg.get("clean") is redefined
    after = reg.graph()
    assert after is not before
    assert after.upstream["clean"] == ("other",)
    assert after.downstream["raw"] == ()
    assert after.downstream["other"] == ("clean",)
    assert reg.graph() is after, "the graph is cached until the next change"


def test_redefinition_can_break_and_fix_a_cycle() -> None:
    reg = Registry()
    define(reg, "a")
    define(reg, "b", ["a"])
    define(reg, "a", ["b"])
    with pytest.raises(CycleError):
        reg.graph()
    define(reg, "a")
    assert reg.graph().order == ("a", "b")


def test_registries_are_isolated() -> None:
    first, second = Registry(), Registry()
    define(first, "only_here")
    assert "only_here" in first and "only_here" not in second
    assert len(second.graph()) == 0


def test_remove_and_clear() -> None:
    reg = Registry()
    define(reg, "a")
    define(reg, "b")
    reg.remove("a")
    assert reg.names() == ["b"] and list(reg.graph().order) == ["b"]
    reg.clear()
    assert len(reg.graph()) == 0


WALK_CASES = [
    # (start, direction, depth, expected) over raw -> clean -> model -> report, raw -> audit
    (["raw"], "down", None, {"clean", "model", "report", "audit"}),
    (["raw"], "down", 1, {"clean", "audit"}),
    (["raw"], "down", 2, {"clean", "model", "audit"}),
    (["raw"], "down", 0, set()),
    (["report"], "up", None, {"raw", "clean", "model"}),
    (["report"], "up", 1, {"model"}),
    (["report", "audit"], "up", 1, {"model", "raw"}),
    (["clean"], "up", None, {"raw"}),
    (["report"], "down", None, set()),
]


@pytest.mark.parametrize(("start", "direction", "depth", "expected"), WALK_CASES,
                         ids=[f"{c[1]}-{c[2]}-{'+'.join(c[0])}" for c in WALK_CASES])
def test_upstream_and_downstream_walks(start: list[str], direction: str, depth: int | None,
                                       expected: set[str]) -> None:
    graph = build([a("raw"), a("clean", "raw"), a("model", "clean"), a("report", "model"),
                   a("audit", deps=["raw"])])
    walk = graph.upstream_of if direction == "up" else graph.downstream_of
    assert walk(start, depth) == expected


def test_view_is_plain_data() -> None:
    reg = Registry()

    @asset(registry=reg, group="g", tags={"k": "v"})
    def src() -> int:
        """The source."""
        return 1

    @asset(registry=reg, deps=["src"])
    def use() -> int:
        return 2

    view = reg.graph().view()
    assert [n["name"] for n in view["nodes"]] == ["src", "use"]
    assert view["nodes"][0] == {"name": "src", "group": "g", "tags": {"k": "v"}, "kind": "function",
                                "description": "The source.", "io": "pickle", "checks": []}
    assert view["edges"] == [["src", "use"]]


def test_build_graph_from_specs_directly() -> None:
    reg = Registry()
    define(reg, "x")
    define(reg, "y", ["x"])
    graph = build_graph(list(reg))
    assert graph.order == ("x", "y") and "y" in graph and len(graph) == 2
