"""Expansion pass: block calls that read their input's shape (`in_shape`, `in_channels`,
`in_shapes`), instantiated once that shape is known.

Expansion knows no shapes: a block whose parameters, checks or nodes read one of those names is
left empty by instantiate.py, as a *waiting* call (`TGroup.shaped`). This pass builds the graph of
the network so far; as the walk adds nodes in spec order it infers their shapes, and a waiting
call it reaches whose inputs have shapes is instantiated on the spot and walked into, so a chain
of such blocks is done in one walk. What reads a call still waiting is skipped, as after a failed
node. The round's shape inference (shapes.py) then has the last word: a call whose input shape it
infers differently, or that is still waiting while its inputs now have shapes (a reference
forward), is instantiated (again) and another round runs, until one changes nothing.

The pass runs after the base's nodes are expanded and again after each variant's edits, so an edit
reaches inside such a block and a variant that changes what feeds one (a wider stem) instantiates it
again for its new input. So the final shape inference sees every body instantiated for exactly the
shapes its inputs have. A call whose input never gets a shape is error AS206.
"""

from __future__ import annotations

from dataclasses import replace

from .errors import Abort, Diagnostic, Fail
from .graph import Graph, Node, build_with_calls
from .instantiate import instantiate_shaped
from .opbase import Operand, ShapeError, default_layout
from .shapes import NodeInfo, infer
from .tree import Expanded, State, TGroup

Known = tuple[tuple[tuple[int, ...], ...], int]  # the input shapes, and the first one's channels


def resolve_input_shapes(tree: Expanded, state: State) -> None:
    """Instantiate the waiting calls of `tree` (and the stale ones) in rounds; report those left."""
    while True:
        if next(_calls(tree.root, ""), None) is None:
            return
        eager = _Eager(tree, state)
        graph, graph_diags, inputs = build_with_calls(tree, eager)
        info, shape_diags = infer(graph)
        progressed = eager.instantiated
        calls = list(_calls(tree.root, ""))
        for group, path in calls:
            known = _known(inputs.get(id(group)), graph, info)
            if known is not None and _needs(group, known):
                _instantiate(group, path, known, state)
                progressed = True
        if not progressed:
            break
        state.check_time(tree.root.loc)
    _report(calls, inputs, any(d.severity == "error" for d in [*state.diags, *graph_diags, *shape_diags]), state)


def _report(calls, inputs: dict, errors: bool, state: State) -> None:
    """AS206 for each call left waiting whose input exists but has no shape. One whose input does
    not exist either (it reads another waiting call, or a failed reference) is a follow-on of that,
    unless nothing else is reported: then they wait on each other, a cycle."""
    left = [(g, p) for g, p in calls if g.waiting and not g.shaped.failed and id(g) in inputs]
    shown = [(g, p) for g, p in left if inputs[id(g)] is not None] if errors else left
    for group, path in shown:
        state.diags.append(_unknown(group, path, inputs[id(group)], errors))


class _Eager:
    """Shapes inferred while the graph is built, in spec order, so that a chain of waiting calls
    is instantiated in one walk rather than one round each. A node whose inputs are not all known
    yet (a reference forward, or past a failed node) is left to the round's shape inference, which
    is authoritative: a call instantiated here for shapes it disagrees with is instantiated again."""

    def __init__(self, tree: Expanded, state: State):
        self.state = state
        self.instantiated = False
        self.known: dict[str, tuple[tuple[int, ...], str]] = {
            name: (tuple(shape), default_layout(len(shape))) for name, (shape, _) in tree.inputs.items()
        }

    def node(self, node: Node) -> None:
        if node.op is None or any(p not in self.known for p in node.inputs):
            return
        # depth 0: an operand's depth only picks "the shortcut" in messages, and those come from shapes.py
        operands = [Operand(label, *_at(self.known[p])) for p, label in zip(node.inputs, node.labels)]
        try:
            out = node.op.infer(operands)
            layout = node.op.layout(operands, out)
        except ShapeError:  # reported by the round's shape inference
            return
        self.known[node.path] = (tuple(out), layout)

    def call(self, group: TGroup, path: str, producers: list[str]) -> bool:
        if group.shaped is None or group.shaped.shapes is not None or any(p not in self.known for p in producers):
            return False  # a failed call is retried only for the round's (authoritative) shapes
        shapes = tuple(self.known[p][0] for p in producers)
        _instantiate(group, path, (shapes, channels(shapes[0], self.known[producers[0]][1])), self.state)
        self.instantiated = True
        return not group.waiting


def _at(known: tuple[tuple[int, ...], str]) -> tuple[tuple[int, ...], int, str]:
    shape, layout = known
    return shape, 0, layout


def _calls(group: TGroup, prefix: str):
    """(group, path) of every call of a shape-reading block, outermost first."""
    for child in group.children:
        if isinstance(child, TGroup):
            path = f"{prefix}{child.name}"
            if child.shaped is not None:
                yield child, path
            yield from _calls(child, path + ".")


def _known(producers: list[str] | None, graph: Graph, info: dict[str, NodeInfo]) -> Known | None:
    """The shapes of a call's inputs, if every one is inferred."""
    if not producers:
        return None
    shapes = []
    for p in producers:
        shape = graph.inputs.get(p) or (info[p].shape if p in info else None)
        if shape is None:
            return None
        shapes.append(tuple(shape))
    first = info.get(producers[0])
    return tuple(shapes), channels(shapes[0], getattr(first, "layout", "") if first is not None else "")


def channels(shape: tuple[int, ...], layout: str) -> int:
    """The channel (or feature) count of a value: its C axis, else its feature axis (D of tokens,
    F of features), else its first axis (a spec input's images are (C, H, W))."""
    if len(layout) == len(shape):
        for axis in "CDF":
            if axis in layout:
                return shape[layout.index(axis)]
    return shape[0]


def _needs(group: TGroup, known: Known) -> bool:
    """Whether the call must be instantiated (again): it waits, or its input shape has changed."""
    assert group.shaped is not None
    return group.shaped.shapes != known[0]


def _instantiate(group: TGroup, path: str, known: Known, state: State) -> None:
    call = group.shaped
    assert call is not None
    if group.edited and call.shapes is not None:  # re-instantiating would drop the edit made inside it
        state.diags.append(_edited(group, path, known))
        group.children, group.shaped = [], replace(call, shapes=known[0], failed=True)
        return
    try:
        instantiate_shaped(group, known)
    except Abort:
        raise
    except Fail as f:  # reported at the call; what reads it is skipped quietly
        state.diags.extend(d if d.node else d.with_node(path) for d in f.diagnostics)
        group.children, group.shaped = [], replace(call, shapes=known[0], failed=True)


def _unknown(group: TGroup, path: str, producers: list[str] | None, errors: bool) -> Diagnostic:
    call = group.shaped
    assert call is not None
    if errors:
        hint = "an error reported before this one leaves it unknown: fix that first, and this block is checked too"
    else:
        hint = (
            "its input depends on this block's own output, or on another block waiting for its shape "
            "(a cycle through `in:`); a block can read the shape only of values computed before it"
        )
    what = f"its input '{producers[0]}'" if producers else "its input"
    return Diagnostic(
        "AS206",
        f"block '{call.block}' reads its input's shape ({call.reads}), but the shape of {what} is unknown",
        group.loc,
        node=path,
        hint=hint,
        trace=group.trace,
    )


def _edited(group: TGroup, path: str, known: Known) -> Diagnostic:
    call = group.shaped
    assert call is not None
    shown = ", ".join("(N, " + ", ".join(map(str, s)) + ")" for s in known[0])
    return Diagnostic(
        "AS206",
        f"block '{call.block}' reads its input's shape, which the edits change to {shown}, "
        "and an edit changes a node inside it: instantiated for the new shape, it would lose that edit",
        group.loc,
        node=path,
        hint=f"replace the whole call (`replace: {{{path}: ...}}`) instead of editing inside it",
        trace=group.trace,
    )
