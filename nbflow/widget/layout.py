"""Layout: place the lineage graph with Graphviz ``dot`` (or a layered fallback) and draw it as SVG.

Positions come from ``dot -Tplain``; the SVG is drawn here so both layouts give the same DOM:
one ``<g id="nbflow-node-NAME" class="nbflow-node state-..." data-name="NAME">`` per asset with
a name line, a state line and a state badge, so the panel's script can restyle nodes without a
new layout. Assets of one ``group`` are drawn inside a labelled box (a ``cluster_`` subgraph
for ``dot``; the bounding box of the group's nodes for the fallback).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from nbflow.errors import LayoutError

Point = tuple[float, float]

FONT_PX = 13
CHAR_PX = 7.6           # average glyph width at FONT_PX in the panel's sans-serif font
NODE_H = 44.0
PAD = 12.0
MARGIN = 8.0
LONGEST_STATE = "check failed"
BADGE_PX = 12.0         # room on the right for the state badge
DOT_LIMIT = 800
"""Above this many assets ``auto`` uses the layered layout: dot's time grows faster than linearly
(500 assets: 0.4 s, 2,000: ~20 s), the layered layout's linearly (2,000: ~40 ms)."""
INSTALL_HINT = ("Graphviz `dot` was not found, so the panel uses a simple layered layout. "
                "For the better one install Graphviz: `apt install graphviz`, "
                "`conda install -c conda-forge graphviz` or `brew install graphviz`.")


@dataclass(frozen=True)
class NodeBox:
    """An asset's box: top-left corner and size in SVG pixels."""

    name: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class EdgePath:
    """An edge as a cubic Bézier chain: ``points[0]`` then groups of three control points."""

    tail: str
    head: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class ClusterBox:
    """A group's box around its nodes (with room for its label above them)."""

    group: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    nodes: Mapping[str, NodeBox]
    edges: tuple[EdgePath, ...]
    engine: str
    """``dot`` or ``layered`` (the fallback)."""
    clusters: tuple[ClusterBox, ...] = ()


BADGES = {"missing": "○", "fresh": "●", "stale": "!", "queued": "…", "running": "↻",
          "succeeded": "✓", "failed": "✗", "check failed": "⚠"}
"""A shape per state label, so states differ by more than colour."""
STEP_BADGES = {**BADGES, "cached": "◆", "skipped": "–", "cancelled": "⊘"}
"""Badges of a run's task graph: the panel's labels plus a step's cached, skipped, cancelled."""
CLUSTER_PAD = 10.0
DEFAULT_GROUP = "default"
"""The group of an asset that names none: not boxed."""
CLUSTER_LABEL = 18.0


def node_width(name: str) -> float:
    """Width that fits the name and the longest state label."""
    return max(len(name), len(LONGEST_STATE)) * CHAR_PX + 2 * PAD + BADGE_PX


def find_dot() -> str | None:
    """The ``dot`` executable, if Graphviz is installed."""
    return shutil.which("dot")


def layout_graph(nodes: Sequence[str], edges: Iterable[tuple[str, str]], *,
                 engine: str = "auto", dot: str | None = None,
                 groups: Mapping[str, str | None] | None = None) -> Layout:
    """Lay the graph out left to right with ``dot``.

    ``engine="auto"`` falls back to the layered layout when ``dot`` is missing, fails, or the
    graph has more than ``DOT_LIMIT`` assets; ``engine="dot"`` raises ``LayoutError`` instead.
    ``groups`` maps names to their group; each group but ``default`` (or none) is boxed.
    """
    known = set(nodes)
    edges = [(a, b) for a, b in edges if a in known and b in known]
    grouped = {n: g for n, g in (groups or {}).items() if g and g != DEFAULT_GROUP and n in known}
    if engine not in ("auto", "dot", "layered"):
        raise ValueError(f"engine must be auto, dot or layered, not {engine!r}")
    exe = None if engine == "layered" else (dot or find_dot())
    if engine == "dot" and exe is None:
        raise LayoutError(INSTALL_HINT)
    if exe is not None and nodes and (engine == "dot" or len(nodes) <= DOT_LIMIT):
        try:
            return _with_clusters(_dot_layout(exe, nodes, edges, grouped), grouped)
        except (LayoutError, OSError, subprocess.TimeoutExpired):
            if engine == "dot":
                raise
    return _with_clusters(_layered_layout(nodes, edges, grouped), grouped)


def _with_clusters(placed: Layout, groups: Mapping[str, str]) -> Layout:
    """Add each group's box: its nodes' bounding box, padded, with a label band on top."""
    members: dict[str, list[NodeBox]] = {}
    for name, group in groups.items():
        if name in placed.nodes:
            members.setdefault(group, []).append(placed.nodes[name])
    boxes = []
    for group in sorted(members):
        ns = members[group]
        x0 = min(b.x for b in ns) - CLUSTER_PAD
        y0 = min(b.y for b in ns) - CLUSTER_PAD - CLUSTER_LABEL
        x1 = max(b.x + b.width for b in ns) + CLUSTER_PAD
        y1 = max(b.y + b.height for b in ns) + CLUSTER_PAD
        boxes.append(ClusterBox(group, x0, y0, x1 - x0, y1 - y0))
    if not boxes:
        return placed
    # A box may reach past the drawing's edge: shift everything so it stays on the page.
    dx = max(0.0, MARGIN - min(b.x for b in boxes))
    dy = max(0.0, MARGIN - min(b.y for b in boxes))
    if dx or dy:
        placed = _shift(placed, dx, dy)
        boxes = [ClusterBox(b.group, b.x + dx, b.y + dy, b.width, b.height) for b in boxes]
    width = max(placed.width, max(b.x + b.width for b in boxes) + MARGIN)
    height = max(placed.height, max(b.y + b.height for b in boxes) + MARGIN)
    return Layout(width, height, placed.nodes, placed.edges, placed.engine, tuple(boxes))


def _shift(placed: Layout, dx: float, dy: float) -> Layout:
    nodes = {n: NodeBox(n, b.x + dx, b.y + dy, b.width, b.height) for n, b in placed.nodes.items()}
    edges = tuple(EdgePath(e.tail, e.head, tuple((x + dx, y + dy) for x, y in e.points))
                  for e in placed.edges)
    return Layout(placed.width + dx, placed.height + dy, nodes, edges, placed.engine, placed.clusters)


# -- Graphviz ------------------------------------------------------------------------------------

def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_source(nodes: Sequence[str], edges: Sequence[tuple[str, str]],
               groups: Mapping[str, str] | None = None) -> str:
    """The DOT text: fixed-size boxes so the layout does not depend on fonts; one
    ``subgraph cluster_N`` per group (with a label-sized top margin) so groups stay together."""
    groups = groups or {}
    lines = ["digraph nbflow {", "rankdir=LR; nodesep=0.25; ranksep=0.6;",
             f"node [shape=box fixedsize=true height={NODE_H / 72:.4f}];"]
    members: dict[str, list[str]] = {}
    for n in nodes:
        g = groups.get(n)
        if g and g != DEFAULT_GROUP:
            members.setdefault(g, []).append(n)
        else:
            lines.append(f"{_quote(n)} [width={node_width(n) / 72:.4f}];")
    for i, group in enumerate(sorted(members)):
        lines.append(f"subgraph cluster_{i} {{ label={_quote(group)}; margin={CLUSTER_PAD + 4:.0f};")
        lines += [f"  {_quote(n)} [width={node_width(n) / 72:.4f}];" for n in members[group]]
        lines.append("}")
    lines += [f"{_quote(a)} -> {_quote(b)};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines)


def _dot_layout(exe: str, nodes: Sequence[str], edges: Sequence[tuple[str, str]],
                groups: Mapping[str, str] | None = None) -> Layout:
    done = subprocess.run([exe, "-Tplain"], input=dot_source(nodes, edges, groups).encode(),
                          capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise LayoutError(f"Graphviz dot failed on the lineage graph: "
                          f"{done.stderr.decode(errors='replace').strip()}")
    return parse_plain(done.stdout.decode())


def parse_plain(text: str) -> Layout:
    """Read ``dot -Tplain`` output (inches, origin bottom-left) into SVG pixels."""
    boxes: dict[str, NodeBox] = {}
    paths: list[EdgePath] = []
    height = width = 0.0
    for line in text.splitlines():
        parts = shlex.split(line)
        if not parts:
            continue
        if parts[0] == "graph":
            width, height = float(parts[2]) * 72, float(parts[3]) * 72
        elif parts[0] == "node":
            name = parts[1]
            cx, cy, w, h = (float(v) * 72 for v in parts[2:6])
            boxes[name] = NodeBox(name, cx - w / 2 + MARGIN, height - cy - h / 2 + MARGIN, w, h)
        elif parts[0] == "edge":
            count = int(parts[3])
            raw = parts[4:4 + 2 * count]
            pts = tuple((float(raw[i]) * 72 + MARGIN, height - float(raw[i + 1]) * 72 + MARGIN)
                        for i in range(0, len(raw), 2))
            paths.append(EdgePath(parts[1], parts[2], pts))
    return Layout(width + 2 * MARGIN, height + 2 * MARGIN, boxes, tuple(paths), "dot")


# -- fallback ------------------------------------------------------------------------------------

def _ranks(nodes: Sequence[str], ups: Mapping[str, list[str]]) -> dict[str, int]:
    """Longest path from a root, in one pass over a topological order (Kahn's); the nodes of a
    cycle (which a registry never holds) go after everything else instead of looping."""
    downs: dict[str, list[str]] = {n: [] for n in nodes}
    waiting = {n: len(ups[n]) for n in nodes}
    for n in nodes:
        for u in ups[n]:
            downs[u].append(n)
    rank = {n: 0 for n in nodes}
    ready = [n for n in nodes if not waiting[n]]
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        for d in downs[n]:
            rank[d] = max(rank[d], rank[n] + 1)
            waiting[d] -= 1
            if not waiting[d]:
                ready.append(d)
    if done < len(nodes):
        top = max(rank.values(), default=0) + 1
        for n in nodes:
            if waiting[n]:
                rank[n] = max(rank[n], top)
    return rank


def _layered_layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]],
                    groups: Mapping[str, str] | None = None) -> Layout:
    """Longest-path layers left to right, ordered within a layer by group, then by the mean of
    their inputs (so a group's nodes sit together and its box overlaps others less)."""
    groups = groups or {}
    group_slot = {g: float(i) for i, g in enumerate(sorted(set(groups.values())))}
    ups: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        ups[b].append(a)
    rank = _ranks(nodes, ups)
    layers: dict[int, list[str]] = {}
    for n in nodes:
        layers.setdefault(rank[n], []).append(n)
    slot: dict[str, float] = {}
    for r in sorted(layers):
        members = layers[r]
        members.sort(key=lambda n: (group_slot.get(groups.get(n, ""), -1.0),
                                    (sum(slot.get(u, 0.0) for u in ups[n]) / len(ups[n])) if ups[n] else 0.0))
        for i, n in enumerate(members):
            slot[n] = float(i)
    gap_x, gap_y = (40.0 + 2 * CLUSTER_PAD, 14.0) if groups else (40.0, 14.0)
    group_gap = 2 * CLUSTER_PAD + CLUSTER_LABEL   # room between two groups' boxes in a column
    tops: dict[int, list[float]] = {}
    for r, members in layers.items():
        y, ys = 0.0, []
        for i, n in enumerate(members):
            if i and groups.get(n) != groups.get(members[i - 1]):
                y += group_gap
            ys.append(y)
            y += NODE_H + gap_y
        tops[r] = ys
    extent = {r: ys[-1] + NODE_H for r, ys in tops.items()}
    total_h = max(extent.values(), default=0.0)
    boxes: dict[str, NodeBox] = {}
    x = MARGIN
    for r in sorted(layers):
        members = layers[r]
        col_w = max(node_width(n) for n in members)
        offset = (total_h - extent[r]) / 2
        for n, top in zip(members, tops[r], strict=True):
            w = node_width(n)
            boxes[n] = NodeBox(n, x + (col_w - w) / 2, MARGIN + offset + top, w, NODE_H)
        x += col_w + gap_x
    paths = []
    for a, b in edges:
        s, t = boxes[a], boxes[b]
        p0 = (s.x + s.width, s.y + s.height / 2)
        p3 = (t.x - 10, t.y + t.height / 2)
        mid = (p0[0] + p3[0]) / 2
        paths.append(EdgePath(a, b, (p0, (mid, p0[1]), (mid, p3[1]), p3)))
    width = x - gap_x + MARGIN if boxes else 2 * MARGIN
    return Layout(width, total_h + 2 * MARGIN, boxes, tuple(paths), "layered")


# -- drawing -------------------------------------------------------------------------------------

def _path(points: Sequence[Point]) -> str:
    head, rest = points[0], points[1:]
    d = [f"M{head[0]:.1f},{head[1]:.1f}"]
    for i in range(0, len(rest) - len(rest) % 3, 3):
        (a, b), (c, e), (f, g) = rest[i:i + 3]
        d.append(f"C{a:.1f},{b:.1f} {c:.1f},{e:.1f} {f:.1f},{g:.1f}")
    return "".join(d)


def state_class(label: str) -> str:
    """CSS class of a state label: ``check failed`` -> ``state-check-failed``."""
    return "state-" + label.replace(" ", "-")


def render_svg(layout: Layout, states: Mapping[str, str] | None = None, *,
               id_prefix: str = "nbflow-node-") -> str:
    """The SVG for ``layout``; ``states`` maps names to labels (default ``missing``).
    ``id_prefix`` starts each node's element id (a run's task graph uses its own).

    Everything drawn sits in one ``<g class="nbflow-viewport">`` that the page pans and zooms
    with a transform (no relayout, no redraw).
    """
    states = states or {}
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="nbflow-svg" data-engine="{layout.engine}" '
            f'width="{layout.width:.0f}" height="{layout.height:.0f}" '
            f'viewBox="0 0 {layout.width:.1f} {layout.height:.1f}">'),
           ('<defs><marker id="nbflow-arrow" viewBox="0 0 10 10" refX="0" refY="5" '
            'markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" '
            'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker></defs>'),
           '<g class="nbflow-viewport"><g class="nbflow-clusters">']
    for c in layout.clusters:
        group = escape(c.group)
        out.append(f'<g class="nbflow-cluster" data-group="{group}">'
                   f'<rect x="{c.x:.1f}" y="{c.y:.1f}" width="{c.width:.1f}" height="{c.height:.1f}" rx="8"/>'
                   f'<text x="{c.x + 8:.1f}" y="{c.y + 14:.1f}">{group}</text></g>')
    out.append('</g><g class="nbflow-edges">')
    for e in layout.edges:
        out.append(f'<path class="nbflow-edge" data-tail="{escape(e.tail)}" data-head="{escape(e.head)}" '
                   f'd="{_path(e.points)}" marker-end="url(#nbflow-arrow)"/>')
    out.append('</g><g class="nbflow-nodes">')
    for n in layout.nodes.values():
        label = states.get(n.name, "missing")
        name = escape(n.name)
        out.append(
            f'<g id="{id_prefix}{name}" class="nbflow-node {state_class(label)}" data-name="{name}" '
            f'transform="translate({n.x:.1f},{n.y:.1f})" tabindex="0" role="button">'
            f'<title>{name}</title>'
            f'<rect width="{n.width:.1f}" height="{n.height:.1f}" rx="6"/>'
            f'<text class="nbflow-name" x="{n.width / 2:.1f}" y="{n.height / 2 - 4:.1f}">{name}</text>'
            f'<text class="nbflow-state" x="{n.width / 2:.1f}" y="{n.height / 2 + 12:.1f}">{label}</text>'
            f'<g class="nbflow-badge" transform="translate({n.width - 9:.1f},9)"><circle r="7"/>'
            f'<text y="4">{STEP_BADGES.get(label, "?")}</text></g>'
            '</g>')
    out.append("</g></g></svg>")
    return "".join(out)


__all__ = ["BADGES", "INSTALL_HINT", "STEP_BADGES", "ClusterBox", "EdgePath", "Layout", "LayoutError", "NodeBox", "dot_source",
           "find_dot", "layout_graph", "node_width", "parse_plain", "render_svg", "state_class"]
