"""The module tree of a network and, for each group that can be called as one module, its program.

Node paths are attribute paths, so groups become containers. A container is *callable* (a module
with its own forward) when only its output leaves it and it runs wholly in training or wholly in
evaluation; then its children are called in dependency order. A container that cannot be called
as a unit (a sibling reads one of its inner nodes, calls would interleave, or a member's name is a
key like `block1-0` rather than an attribute name) keeps its path as a plain container (a module
dict) and its children are called by the nearest callable ancestor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api import Network
from ..graph import Group, Node
from ..spec import is_attribute_name


@dataclass(eq=False)
class Leaf:
    name: str
    node: Node

    @property
    def path(self) -> str:
        return self.node.path


@dataclass(eq=False)
class Container:
    name: str
    path: str  # "" for the model
    group: Group | None
    children: dict[str, Leaf | Container] = field(default_factory=dict)
    callable: bool = True
    leaves: frozenset[str] = frozenset()
    height: int = 0
    # set for callable containers
    inputs: list[str] = field(default_factory=list)  # producer paths read from outside, in first-use order
    units: list[Unit] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ordered: bool = False  # its program is final (a child's never depends on its parent)


@dataclass(eq=False)
class Unit:
    """One call in a container's forward: a leaf op or a callable descendant."""

    access: tuple[str, ...]  # attribute chain from the container
    item: Leaf | Container
    reads: list[str]
    value: str  # the node path whose value the call produces
    training: bool  # runs only in training (auxiliary heads)


def build_tree(net: Network) -> Container:
    graph = net.graph
    groups = {g.path: g for g in graph.groups}
    root = Container("", "", None)
    rank = {p: i for i, p in enumerate(graph.declared)}
    for node in sorted(graph.nodes, key=lambda n: rank.get(n.path, -1)):
        *parents, leaf = node.path.split(".")
        box, prefix = root, ""
        for part in parents:
            prefix = f"{prefix}.{part}" if prefix else part
            child = box.children.get(part)
            if not isinstance(child, Container):
                child = box.children[part] = Container(part, prefix, groups.get(prefix))
            box = child
        box.children[leaf] = Leaf(leaf, node)
    _annotate(root)
    _mark_callable(net, root)
    _programs(net, root)
    return root


def containers(root: Container):
    """Every container, children before parents."""
    for child in root.children.values():
        if isinstance(child, Container):
            yield from containers(child)
    yield root


def _annotate(box: Container) -> None:
    leaves: set[str] = set()
    height = 0
    for child in box.children.values():
        if isinstance(child, Leaf):
            leaves.add(child.path)
        else:
            _annotate(child)
            leaves |= child.leaves
            height = max(height, child.height + 1)
    box.leaves, box.height = frozenset(leaves), height


def _mark_callable(net: Network, root: Container) -> None:
    graph = net.graph
    read_by: dict[str, set[str]] = {}
    for node in graph.nodes:
        for p in node.inputs:
            read_by.setdefault(p, set()).add(node.path)
    training = graph.training_only_nodes()
    for box in containers(root):
        if box is root:
            continue
        out = box.group.output if box.group is not None else None
        leaving = {p for p in box.leaves if p in graph.outputs or read_by.get(p, set()) - box.leaves}
        mixed = bool(box.leaves & training) and not box.leaves <= training
        # A member named like `block1-0` is no attribute: it lives in a module dict (nn.ModuleDict,
        # nnx.Dict) under its name, and the nearest callable ancestor calls it by key.
        keyed = not all(is_attribute_name(name) for name in box.children)
        box.callable = out in box.leaves and leaving <= {out} and not mixed and not keyed


def _units(box: Container, prefix: tuple[str, ...] = ()) -> list[Unit]:
    out: list[Unit] = []
    for child in box.children.values():
        access = (*prefix, child.name)
        if isinstance(child, Leaf):
            out.append(Unit(access, child, list(child.node.inputs), child.path, False))
        elif child.callable:
            out.append(Unit(access, child, [], child.group.output, False))  # type: ignore[union-attr]
        else:
            out += _units(child, access)
    return out


def _programs(net: Network, root: Container) -> None:
    """Call order of each callable container, top-down (a parent may dissolve a child that would
    need to interleave with its siblings)."""
    graph = net.graph
    index = {n.path: i for i, n in enumerate(graph.nodes)}
    training = graph.training_only_nodes()
    stack = [root]
    while stack:
        box = stack.pop()
        if box.callable:
            _order(box, index, training, graph, root)
        stack += [c for c in box.children.values() if isinstance(c, Container)]


def _order(box: Container, index, training, graph, root) -> None:
    if box.ordered:
        return
    while True:
        units = _units(box)
        owner = {}
        for u in units:
            if isinstance(u.item, Container):
                _order(u.item, index, training, graph, root)  # its reads are its inputs
                u.reads = list(u.item.inputs)
                for p in u.item.leaves:
                    owner[p] = u
            else:
                owner[u.item.path] = u
        ordered, cycle = _toposort(units, owner, index)
        if not cycle:
            break
        for u in cycle:
            if isinstance(u.item, Container):
                u.item.callable = False
    inside_training = box is not root and box.leaves <= training  # its caller guards the whole call
    for u in ordered:
        leaves = u.item.leaves if isinstance(u.item, Container) else {u.item.path}
        u.training = bool(leaves) and set(leaves) <= training and not inside_training
    box.units = ordered
    if box is root:
        box.inputs = list(graph.inputs)
        box.outputs = list(graph.outputs)
    else:
        seen: dict[str, None] = {}
        for u in ordered:
            for p in u.reads:
                if p not in box.leaves:
                    seen.setdefault(p)
        box.inputs = list(seen)
        box.outputs = [box.group.output]  # type: ignore[union-attr]
    box.ordered = True


def _toposort(units: list[Unit], owner: dict, index: dict) -> tuple[list[Unit], list[Unit]]:
    def first(u: Unit) -> int:
        leaves = u.item.leaves if isinstance(u.item, Container) else {u.item.path}
        return min(index[p] for p in leaves)

    deps = {id(u): {id(owner[p]) for p in u.reads if p in owner and owner[p] is not u} for u in units}
    placed: set[int] = set()
    pending = sorted(units, key=first)
    out: list[Unit] = []
    while pending:
        ready = next((u for u in pending if deps[id(u)] <= placed), None)
        if ready is None:
            return out, pending
        out.append(ready)
        placed.add(id(ready))
        pending.remove(ready)
    return out, []
