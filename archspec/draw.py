"""`archspec graph`: pictures of a network in Graphviz DOT, Mermaid, or SVG (through `dot`).

Nodes show their path, op and output shape; spec groups and blocks are clusters; shortcut
edges (an add's or concat's operand that skips ahead) are drawn dashed and coloured:
blue for residual additions, green for dense concatenations. `depth` collapses every group
deeper than that many path components into one box with its node count, parameters and
output shape.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from .api import Network
from .ops import fmt
from .report import human


class DrawError(Exception):
    pass


@dataclass(frozen=True)
class Box:
    id: str  # the node or collapsed group path
    title: str
    detail: str  # op, or the collapsed group's contents
    shape: str
    kind: str  # op name, or 'group'


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    skip: str | None  # 'residual' | 'dense' | 'gate' for a shortcut edge


@dataclass(frozen=True)
class View:
    name: str
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    clusters: dict  # group path -> member box ids and subgroup paths, in order
    inputs: tuple[tuple[str, str], ...]  # (name, shape)


_JOIN_KIND = {"add": "residual", "concat": "dense", "multiply": "gate"}


def view(net: Network, depth: int | None = None) -> View:
    """Boxes, edges and clusters of `net`, groups below `depth` path components collapsed."""
    graph = net.graph
    unit = {n.path: _unit(n.path, depth) for n in graph.nodes}
    inside: dict[str, list[str]] = {}
    for path, u in unit.items():
        inside.setdefault(u, []).append(path)
    boxes: dict[str, Box] = {}
    for u, paths in inside.items():
        if paths == [u]:
            node = graph.node(u)
            boxes[u] = Box(u, u, node.op.name, fmt(net.nodes[u].shape), node.op.name)
        else:
            detail = f"{len(paths)} nodes, {human(sum(net.nodes[p].params for p in paths))} params"
            boxes[u] = Box(u, u, detail, fmt(net.shape(u)), "group")
    level = graph.depths()
    edges: dict[tuple, Edge] = {}
    for node in graph.nodes:
        dst = unit[node.path]
        main = max(node.inputs, key=level.__getitem__, default=None)
        for src_path in node.inputs:
            src = unit.get(src_path, src_path)  # model inputs keep their name
            key = (src, dst)
            if src == dst or (key in edges and not edges[key].skip):
                continue  # inside one box; or a plain connection between two boxes outweighs a shortcut
            skip = _JOIN_KIND.get(node.op.name, "skip") if node.op.arity != 1 and src_path != main else None
            edges[key] = Edge(src, dst, skip)
    clusters: dict[str, list[str]] = {}
    for u in boxes:
        parts = u.split(".")
        for i in range(1, len(parts)):
            children = clusters.setdefault(".".join(parts[:i]), [])
            child = ".".join(parts[: i + 1])
            if child not in children:
                children.append(child)
    inputs = tuple((k, fmt(v)) for k, v in graph.inputs.items())
    return View(graph.name, tuple(boxes.values()), tuple(edges.values()), clusters, inputs)


def _lines(b: Box) -> list[str]:
    """A box's label: its name (the last path component of a node), its op unless the name
    says it already, and its output shape."""
    title = b.title if b.kind == "group" else b.title.rsplit(".", 1)[-1]
    return [title, b.shape] if title == b.detail else [title, b.detail, b.shape]


def _unit(path: str, depth: int | None) -> str:
    parts = path.split(".")
    return path if depth is None or len(parts) <= depth else ".".join(parts[:depth])


def walk(v: View):
    """Clusters and boxes in the network's order, nested: ('open', group, depth),
    ('box', Box, depth), ('close', group, depth). Both text formats are written from this."""
    boxes = {b.id: b for b in v.boxes}

    def visit(item: str, depth: int):
        if item in v.clusters and item not in boxes:
            yield "open", item, depth
            for child in v.clusters[item]:
                yield from visit(child, depth + 1)
            yield "close", item, depth
        elif item in boxes:
            yield "box", boxes[item], depth

    for head in dict.fromkeys(b.id.split(".")[0] for b in v.boxes):
        yield from visit(head, 1)


# --- DOT ----------------------------------------------------------------------------------------

_FILL = {
    "conv2d": "#cfe2ff",
    "conv_transpose2d": "#cfe2ff",
    "linear": "#ffe5b4",
    "batchnorm2d": "#fff3bf",
    "maxpool2d": "#d3f9d8",
    "avgpool2d": "#d3f9d8",
    "adaptive_avgpool2d": "#d3f9d8",
    "global_avgpool2d": "#d3f9d8",
    "add": "#e7f5ff",
    "concat": "#ebfbee",
    "multiply": "#f3f0ff",
    "group": "#f1f3f5",
}
_EDGE = {"residual": "#1c7ed6", "dense": "#2f9e44", "gate": "#7048e8", "skip": "#868e96"}


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(v: View) -> str:
    out = [
        f"digraph {_q(v.name)} {{",
        "  graph [rankdir=TB, fontname=Helvetica, fontsize=11, nodesep=0.25, ranksep=0.3, compound=true];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=10, fillcolor="#ffffff"];',
        '  edge [color="#495057", arrowsize=0.6];',
    ]
    for name, shape in v.inputs:
        label = _q(f"{name}\n{shape}")
        out.append(f'  {_q(name)} [shape=oval, fillcolor="#e9ecef", label={label}];')
    for event, item, depth in walk(v):
        indent = "  " * depth
        if event == "open":
            out.append(f"{indent}subgraph {_q('cluster_' + item)} {{")
            out.append(f'{indent}  label={_q(item)}; style="rounded,dashed"; color="#adb5bd"; fontcolor="#495057";')
        elif event == "close":
            out.append(f"{indent}}}")
        else:
            label = "\n".join(_lines(item))
            fill = _FILL.get(item.kind, "#ffffff")
            shape = ", shape=ellipse" if item.kind in _JOIN_KIND else ""
            out.append(f'{indent}{_q(item.id)} [label={_q(label)}, fillcolor="{fill}"{shape}, tooltip={_q(item.id)}];')
    for e in v.edges:
        style = f' [style=dashed, color="{_EDGE[e.skip]}", penwidth=1.4]' if e.skip else ""
        out.append(f"  {_q(e.src)} -> {_q(e.dst)}{style};")
    out.append("}")
    return "\n".join(out) + "\n"


# --- Mermaid ------------------------------------------------------------------------------------


def _mid(path: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", path)


def _mlabel(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def to_mermaid(v: View) -> str:
    out = ["flowchart TD"]
    for name, shape in v.inputs:
        out.append(f"  {_mid('input.' + name)}([{_mlabel(f'{name}<br/>{shape}')}])")
    for event, item, depth in walk(v):
        indent = "  " * depth
        if event == "open":
            out.append(f"{indent}subgraph {_mid('g.' + item)}[{_mlabel(item)}]")
        elif event == "close":
            out.append(f"{indent}end")
        else:
            open_, close = ("((", "))") if item.kind in _JOIN_KIND else ("[", "]")
            out.append(f"{indent}{_mid(item.id)}{open_}{_mlabel('<br/>'.join(_lines(item)))}{close}")
    boxes = {b.id for b in v.boxes}
    inputs = {name for name, _ in v.inputs}
    styles = []
    for i, e in enumerate(v.edges):
        src = _mid("input." + e.src) if e.src in inputs and e.src not in boxes else _mid(e.src)
        arrow = f"-. {e.skip} .->" if e.skip else "-->"
        out.append(f"  {src} {arrow} {_mid(e.dst)}")
        if e.skip:
            styles.append(f"  linkStyle {i} stroke:{_EDGE[e.skip]},stroke-width:2px")
    return "\n".join(out + styles) + "\n"


# --- SVG ----------------------------------------------------------------------------------------


def to_svg(v: View, timeout: float = 120) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise DrawError(
            "--format svg needs Graphviz's `dot` program, which is not on PATH; install Graphviz "
            "(apt install graphviz, brew install graphviz, conda install graphviz), or write "
            "--format dot and render it elsewhere"
        )
    proc = subprocess.run([dot, "-Tsvg"], input=to_dot(v), capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        raise DrawError(f"dot failed: {proc.stderr.strip()}")
    return proc.stdout


# Mermaid's defaults: a diagram over either limit is not rendered ("Maximum text size in diagram
# exceeded", "Too many edges"), as in GitHub's Markdown.
MERMAID_MAX_TEXT = 50_000
MERMAID_MAX_EDGES = 500


def _fits(text: str, v: View) -> bool:
    return len(text) <= MERMAID_MAX_TEXT and len(v.edges) <= MERMAID_MAX_EDGES


def fitted_mermaid(net: Network, depth: int | None) -> tuple[str, str | None]:
    """Mermaid text and a note for stderr. Without `depth`, a network past Mermaid's default
    limits is collapsed to the deepest depth that fits; with one, a warning says it will not render."""
    v = view(net, depth)
    text = to_mermaid(v)
    if _fits(text, v):
        return text, None
    size = f"{len(text):,} characters, {len(v.edges)} edges"
    limits = f"Mermaid's defaults are maxTextSize {MERMAID_MAX_TEXT:,} and maxEdges {MERMAID_MAX_EDGES}"
    if depth is not None:
        return text, f"warning: at --depth {depth} the diagram has {size}; {limits}, so it will not render"
    deepest = max(len(n.path.split(".")) for n in net.graph.nodes)
    for d in range(deepest - 1, 0, -1):
        small = view(net, d)
        collapsed = to_mermaid(small)
        if _fits(collapsed, small):
            return collapsed, f"note: the full diagram has {size}; {limits}: collapsed to --depth {d}"
    return text, f"warning: the diagram has {size}; {limits}, so it will not render"
