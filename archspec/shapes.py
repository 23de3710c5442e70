"""Stage 5 — shapes: static shape, parameter and MAC inference over the IR.

One pass in topological order. A node whose inputs failed is skipped without
a second message, so each independent mistake is reported once.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Diagnostic
from .graph import Graph
from .opbase import MAX_DIM, default_layout
from .ops import Operand, Shape, ShapeError, fmt


@dataclass(frozen=True)
class NodeInfo:
    path: str
    op: str
    shape: Shape  # without the batch dimension
    params: int
    macs: int
    layout: str = ""  # one letter per axis, e.g. "CHW", "TD", "HWC" (see opbase.default_layout)


def infer(graph: Graph) -> tuple[dict[str, NodeInfo], list[Diagnostic]]:
    shapes: dict[str, Shape] = dict(graph.inputs)
    layouts = {k: default_layout(len(v)) for k, v in graph.inputs.items()}
    depth = graph.depths()  # of an add's operands, the shallower one is the shortcut
    info: dict[str, NodeInfo] = {}
    diags: list[Diagnostic] = []
    for node in graph.nodes:
        if node.op is None or any(p not in shapes for p in node.inputs):
            continue
        operands = [Operand(label, shapes[p], depth[p], layouts[p]) for p, label in zip(node.inputs, node.labels)]
        try:
            out = node.op.infer(operands)
            layout = node.op.layout(operands, out)
        except ShapeError as err:
            diags.append(Diagnostic(err.code, err.message, node.loc, node=node.path, hint=err.hint, trace=node.trace))
            continue
        if any(d > MAX_DIM for d in out):  # a backend's C code overflows past int32
            diags.append(
                Diagnostic(
                    "AS507",
                    f"{node.op.name} output {fmt(out)} has a dimension above {MAX_DIM:,}",
                    node.loc,
                    node=node.path,
                    hint="no framework allocates such a tensor; check the sizes and scale factors before this node",
                    trace=node.trace,
                )
            )
            continue
        in_shapes = [o.shape for o in operands]
        shapes[node.path], layouts[node.path] = out, layout
        params, macs = node.op.count_params(in_shapes, out), node.op.count_macs(in_shapes, out)
        info[node.path] = NodeInfo(node.path, node.op.name, out, params, macs, layout)
    return info, diags
