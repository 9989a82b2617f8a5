"""Layout: dot and the layered fallback place every node, left to right, and draw the same DOM."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from nbflow.widget.layout import (
    LayoutError,
    layout_graph,
    node_width,
    parse_plain,
    render_svg,
    state_class,
)
from tests.conftest import dot_available, require

GRAPHS = [
    ("single", ["a"], []),
    ("chain", ["a", "b", "c"], [("a", "b"), ("b", "c")]),
    ("diamond", ["a", "b", "c", "d"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]),
    ("two roots", ["x", "y", "z"], [("x", "z"), ("y", "z")]),
    ("keyword names", ["node", "edge", "graph"], [("node", "edge"), ("edge", "graph")]),
]
ENGINES = ["layered", pytest.param("dot", marks=pytest.mark.slow)]


def _overlap(a, b) -> bool:
    return not (a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y
                or b.y + b.height <= a.y)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("names,edges", [g[1:] for g in GRAPHS], ids=[g[0] for g in GRAPHS])
def test_layout_places_every_node_left_to_right(engine: str, names: list[str],
                                                edges: list[tuple[str, str]]) -> None:
    if engine == "dot":
        require("Graphviz dot", dot_available(), "apt install graphviz")
    placed = layout_graph(names, edges, engine=engine)
    assert placed.engine == engine
    assert set(placed.nodes) == set(names)
    for a, b in edges:
        assert placed.nodes[a].x + placed.nodes[a].width <= placed.nodes[b].x
    boxes = list(placed.nodes.values())
    assert not any(_overlap(p, q) for i, p in enumerate(boxes) for q in boxes[i + 1:])
    for box in boxes:
        assert 0 <= box.x and box.x + box.width <= placed.width + 0.5
        assert 0 <= box.y and box.y + box.height <= placed.height + 0.5
        assert box.width >= node_width(box.name) - 0.5
    assert sorted((e.tail, e.head) for e in placed.edges) == sorted(edges)


def test_svg_has_stable_ids_classes_and_state_labels() -> None:
    placed = layout_graph(["raw", "clean"], [("raw", "clean")], engine="layered")
    svg = render_svg(placed, {"raw": "fresh", "clean": "check failed"})
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    nodes = {g.get("data-name"): g for g in root.iterfind(".//s:g", ns) if g.get("data-name")}
    assert nodes["raw"].get("id") == "nbflow-node-raw"
    assert nodes["clean"].get("class") == "nbflow-node state-check-failed"
    texts = {n: [t.text for t in g.iterfind("s:text", ns)] for n, g in nodes.items()}
    assert texts == {"raw": ["raw", "fresh"], "clean": ["clean", "check failed"]}
    assert render_svg(placed, {"raw": "fresh", "clean": "check failed"}) == svg   # deterministic
    assert state_class("check failed") == "state-check-failed"


def test_missing_dot_is_a_clear_error_when_dot_is_demanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nbflow.widget.layout.find_dot", lambda: None)
    with pytest.raises(LayoutError, match="apt install graphviz"):
        layout_graph(["a"], [], engine="dot")
    assert layout_graph(["a"], [], engine="auto").engine == "layered"


def test_parse_plain_flips_y_and_converts_inches() -> None:
    text = ("graph 1 3 2\nnode a 0.5 1.5 1 0.5 a solid box black lightgrey\n"
            "node b 2.5 0.5 1 0.5 b solid box black lightgrey\n"
            "edge a b 4 1 1.5 1.5 1.5 2 0.5 2 0.5 solid black\nstop\n")
    placed = parse_plain(text)
    a, b = placed.nodes["a"], placed.nodes["b"]
    assert (round(a.width), round(a.height)) == (72, 36)
    assert a.y < b.y            # a is higher on the page (y grows downwards in SVG)
    assert placed.edges[0].points[0][0] == pytest.approx(72 + 8)
    assert re.search(r'class="nbflow-edge"[^>]* d="M[\d.]+,[\d.]+C', render_svg(placed))


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="engine"):
        layout_graph(["a"], [], engine="neato")


def test_auto_falls_back_when_dot_fails(tmp_path) -> None:
    broken = tmp_path / "dot"
    broken.write_text("#!/bin/sh\necho 'Error: boom' >&2\nexit 1\n")
    broken.chmod(0o755)
    assert layout_graph(["a", "b"], [("a", "b")], engine="auto", dot=str(broken)).engine == "layered"
    with pytest.raises(LayoutError, match="Graphviz dot failed on the lineage graph: Error: boom"):
        layout_graph(["a", "b"], [("a", "b")], engine="dot", dot=str(broken))


def test_auto_uses_the_fallback_for_huge_graphs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nbflow.widget.layout.DOT_LIMIT", 3)
    names = ["a", "b", "c", "d"]
    assert layout_graph(names, [], engine="auto", dot="/nonexistent/dot").engine == "layered"


GROUPED = (["raw", "clean", "report", "other"],
           [("raw", "clean"), ("clean", "report"), ("other", "report")],
           {"raw": "ingest", "clean": "ingest", "report": "sales", "other": "default"})


def _inside(box, c) -> bool:
    return (c.x <= box.x and box.x + box.width <= c.x + c.width
            and c.y <= box.y and box.y + box.height <= c.y + c.height)


@pytest.mark.parametrize("engine", ENGINES)
def test_groups_are_boxes_around_exactly_their_nodes(engine: str) -> None:
    if engine == "dot":
        require("Graphviz dot", dot_available(), "apt install graphviz")
    names, edges, groups = GROUPED
    placed = layout_graph(names, edges, engine=engine, groups=groups)
    clusters = {c.group: c for c in placed.clusters}
    assert sorted(clusters) == ["ingest", "sales"]
    for name, box in placed.nodes.items():
        for group, c in clusters.items():
            assert _inside(box, c) == (groups.get(name) == group), (name, group)
    for c in clusters.values():
        assert 0 <= c.x and c.x + c.width <= placed.width + 0.5
        assert 0 <= c.y and c.y + c.height <= placed.height + 0.5
    svg = render_svg(placed)
    assert svg.count('class="nbflow-cluster"') == 2
    assert 'data-group="ingest"' in svg and ">sales</text>" in svg


def test_dot_source_puts_each_group_in_a_cluster_subgraph() -> None:
    from nbflow.widget.layout import dot_source

    names, edges, groups = GROUPED
    text = dot_source(names, edges, groups)
    assert text.count("subgraph cluster_") == 2
    ingest = text[text.index('label="ingest"'):]
    ingest = ingest[:ingest.index("}")]
    assert '"raw"' in ingest and '"clean"' in ingest and '"report"' not in ingest
    assert "subgraph" not in dot_source(names, edges)
    assert layout_graph(names, edges, engine="layered").clusters == ()


def test_every_state_has_its_own_badge_shape() -> None:
    from nbflow.widget.layout import BADGES
    from nbflow.widget.states import LABELS

    assert set(BADGES) == set(LABELS)
    assert len(set(BADGES.values())) == len(BADGES)
    placed = layout_graph(["a"], [], engine="layered")
    assert '<g class="nbflow-badge"' in render_svg(placed, {"a": "succeeded"})
    assert f">{BADGES['succeeded']}</text>" in render_svg(placed, {"a": "succeeded"})
