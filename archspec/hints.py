"""Hints that look at the whole graph, after shape inference.

A join (add, multiply, concat) whose operands disagree is often a join that reads the wrong
node: the right one is then computed and never used. When an unused node in the same block
has exactly the shape that makes the join valid, the hint names it instead of suggesting a
projection that would only paper over the mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .errors import Diagnostic
from .graph import Graph, Node
from .opbase import default_layout
from .ops import Operand, Shape, ShapeError, fmt
from .shapes import NodeInfo

_JOIN_CODES = ("AS501", "AS502")


def graph_hints(graph: Graph, nodes: Mapping[str, NodeInfo], diags: list[Diagnostic]) -> list[Diagnostic]:
    """`diags` with the hint of each join mismatch replaced where an unused node would fit."""
    if not any(d.code in _JOIN_CODES for d in diags):
        return diags
    used = {p for n in graph.nodes for p in n.inputs} | set(graph.outputs)
    unused = [n.path for n in graph.nodes if n.path not in used and n.path in nodes]
    shapes: dict[str, Shape] = {**graph.inputs, **{p: i.shape for p, i in nodes.items()}}
    layouts = {k: default_layout(len(v)) for k, v in graph.inputs.items()}
    layouts.update({p: i.layout for p, i in nodes.items()})
    depth = graph.depths()
    outputs = {g.path: g.output for g in graph.groups}
    out = []
    for d in diags:
        if d.code in _JOIN_CODES and d.node and unused:
            hint = _unused_fits(graph.node(d.node), unused, (shapes, layouts), depth, outputs)
            d = replace(d, hint=hint) if hint else d
        out.append(d)
    return out


def _unused_fits(node: Node, unused: list[str], known, depth, outputs) -> str | None:
    shapes, layouts = known
    if node.op is None or any(p not in shapes for p in node.inputs):
        return None
    scope = node.path.rpartition(".")[0]
    operands = [Operand(label, shapes[p], depth[p], layouts[p]) for p, label in zip(node.inputs, node.labels)]
    for candidate in unused:
        if scope and not candidate.startswith(scope + "."):
            continue
        name = _reference(candidate, scope, outputs)
        for i, wrong in enumerate(operands):
            if shapes[candidate] == wrong.shape:
                continue
            fits = Operand(name, shapes[candidate], depth[candidate], layouts[candidate])
            trial = [*operands[:i], fits, *operands[i + 1 :]]
            try:
                node.op.infer(trial)
            except ShapeError:
                continue
            return (
                f"did you mean '{name}' instead of '{wrong.label}'? '{name}' is {fmt(shapes[candidate])}, "
                "which fits, and nothing reads it"
            )
    return None


def _reference(path: str, scope: str, outputs: Mapping[str, str | None]) -> str:
    """How the join's block would name `path`: the outermost group whose output it is ('se' for
    'layer1.0.se.excite'), or its own path within the block."""
    rel = path[len(scope) + 1 :] if scope else path
    parts = rel.split(".")
    for k in range(1, len(parts)):
        prefix = ".".join(parts[:k])
        if outputs.get(f"{scope}.{prefix}" if scope else prefix) == path:
            return prefix
    return rel
