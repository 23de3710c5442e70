"""Stage 4 — graph: the expanded tree to a small immutable IR.

Every reference is resolved lexically (a node's siblings, then its enclosing
groups; a block's body sees only its own nodes and inputs), groups dissolve
into the paths of their members (`layer2.0.conv1`), and nodes are put in a
topological order. Cycles and dangling references are located errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .errors import Diagnostic, Loc, did_you_mean
from .ops import Op, Shape
from .params import short
from .tree import Expanded, Ref, TGroup, TNode, TOp


@dataclass(frozen=True)
class Node:
    path: str  # 'layer2.0.conv1': the attribute path and state_dict prefix in every backend
    op: Op | None  # None only in a graph with errors
    inputs: tuple[str, ...]  # producer paths; a spec input is named by itself ('x')
    labels: tuple[str, ...]  # the references as written, for messages
    loc: Loc
    trace: tuple[Loc, ...] = ()


@dataclass(frozen=True)
class Group:
    path: str
    block: str | None  # the block it instantiates, if any
    loc: Loc
    output: str | None  # the node whose value the group's is


@dataclass(frozen=True)
class Graph:
    name: str
    file: str
    inputs: Mapping[str, Shape]
    nodes: tuple[Node, ...]  # topological order, ties kept in spec order
    outputs: tuple[str, ...]
    groups: tuple[Group, ...] = ()
    params: Mapping[str, object] = field(default_factory=dict)
    training_outputs: frozenset[str] = frozenset()  # outputs returned only in training, e.g. auxiliary heads
    # node paths in the order the spec declares them: modules are registered in this order (a layer
    # may be declared before the one it reads, as torchvision's Swin registers `reduction` before `norm`)
    declared: tuple[str, ...] = ()

    @property
    def eval_outputs(self) -> tuple[str, ...]:
        return tuple(o for o in self.outputs if o not in self.training_outputs)

    def training_only_nodes(self) -> frozenset[str]:
        """Nodes computed only for training-only outputs: skipped in evaluation."""
        return self._ancestors(self.training_outputs) - self._ancestors(self.eval_outputs)

    def _ancestors(self, outputs) -> frozenset[str]:
        needed: set[str] = set(outputs)
        for node in reversed(self.nodes):
            if node.path in needed:
                needed.update(node.inputs)
        return frozenset(needed & {n.path for n in self.nodes})

    def depths(self) -> dict[str, int]:
        """Longest path from the inputs (inputs are 0): of a join's operands, the shallower ones
        are the shortcuts, in messages and in pictures alike."""
        depth = {name: 0 for name in self.inputs}
        for node in self.nodes:
            depth[node.path] = 1 + max((depth.get(p, 0) for p in node.inputs), default=0)
        return depth

    def node(self, path: str) -> Node:
        return self._index[path]

    @property
    def _index(self) -> dict[str, Node]:
        index = self.__dict__.get("_index_cache")
        if index is None:
            index = {n.path: n for n in self.nodes}
            object.__setattr__(self, "_index_cache", index)
        return index


class _Scope:
    def __init__(self, group: TGroup, prefix: str, inputs: dict[str, tuple[str, str]], parent: _Scope | None):
        self.group = group
        self.members = {c.name: c for c in group.children}
        self.prefix = prefix
        self.inputs = inputs  # block input name -> (producer path, label)
        self.closed = group.inputs is not None
        self.parent = parent


class Hooks(Protocol):
    """What inputshape.py watches while the graph is built, in spec order: each node as it is
    added, and each waiting block call reached with its inputs resolved. `call` returns whether it
    instantiated the call; if so, the walk goes on into its body."""

    def node(self, node: Node) -> None: ...

    def call(self, group: TGroup, path: str, producers: list[str]) -> bool: ...


class _Builder:
    def __init__(self, tree: Expanded, hooks: Hooks | None = None):
        self.tree = tree
        self.hooks = hooks
        self.nodes: list[Node] = []
        self.groups: list[Group] = []
        self.diags: list[Diagnostic] = []
        self.group_inputs: dict[int, list[tuple[str, str]]] = {}
        # calls of blocks that read their input's shape: id -> producer paths (None: the input failed)
        self.call_inputs: dict[int, list[str] | None] = {}

    def error(self, code, message, loc, node=None, hint=None, trace=()):
        self.diags.append(Diagnostic(code, message, loc, node=node, hint=hint, trace=trace))

    def out_path(self, t: TNode, path: str) -> str | None:
        """The path of the node whose value a reference to `t` means."""
        if isinstance(t, TOp):
            return path
        assert isinstance(t, TGroup)
        if t.waiting:  # no body yet: nothing to read
            return None
        if t.output is not None:
            names = [c.name for c in t.children]
            first = t.output.text.split(".")[0]
            if first not in names:
                return None
            child = t.children[names.index(first)]
            rest = t.output.text.split(".")[1:]
            return self.descend(child, f"{path}.{first}", rest)
        if not t.children:
            ins = self.group_inputs.get(id(t))
            return ins[0][0] if ins else None
        last = t.children[-1]
        return self.out_path(last, f"{path}.{last.name}")

    def descend(self, t: TNode, path: str, rest: list[str]) -> str | None:
        for part in rest:
            if not isinstance(t, TGroup):
                return None
            match = next((c for c in t.children if c.name == part), None)
            if match is None:
                return None
            t, path = match, f"{path}.{part}"
        return self.out_path(t, path)

    def resolve(self, ref: Ref, scope: _Scope, who: str, trace) -> tuple[str, str] | None:
        parts = ref.text.split(".")
        s: _Scope | None = scope
        visible: list[str] = []
        while s is not None:
            if parts[0] in s.members:
                target = s.members[parts[0]]
                if isinstance(target, TGroup) and target.waiting:  # no body, no value yet: skipped quietly
                    return None
                path = self.descend(target, s.prefix + parts[0], parts[1:])
                if path is None:
                    self.error(
                        "AS401",
                        f"'{ref.text}' names nothing inside '{parts[0]}'",
                        ref.loc,
                        who,
                        "check the path below the group",
                        trace,
                    )
                    return None
                return path, ref.text
            if parts[0] in s.inputs and len(parts) == 1:
                given = s.inputs[parts[0]]  # None: the block's input failed, so this node is skipped
                return (given[0], ref.text) if given is not None else None
            if parts[0] in s.group.disabled:
                self.error(
                    "AS401",
                    f"input '{ref.text}' is switched off by its `when:` here",
                    ref.loc,
                    who,
                    f"'{parts[0]}' at {s.group.disabled[parts[0]]} is disabled; make `in` conditional too",
                    trace,
                )
                return None
            visible += [*s.members, *s.inputs]
            if s.closed:
                break
            s = s.parent
        hint = did_you_mean(parts[0], visible) or f"in scope: {', '.join(dict.fromkeys(visible)) or 'nothing'}"
        if scope.group.block is not None and s is scope:
            hint += " (a block's body sees only its own nodes and inputs)"
        self.error("AS401", f"input '{ref.text}' names no node in scope", ref.loc, who, hint, trace)
        return None

    def walk(self, group: TGroup, scope: _Scope, implicit: list[tuple[str, str]]):
        prev = implicit
        for t in group.children:
            path = scope.prefix + t.name
            ins: list[tuple[str, str]] | None = prev
            if t.refs is not None:
                resolved = [self.resolve(r, scope, path, t.trace) for r in t.refs]
                ins = None if None in resolved else resolved  # type: ignore[assignment]
            if isinstance(t, TOp):
                self.add_op(t, path, ins)
            else:
                self.add_group(t, path, scope, ins)  # type: ignore[arg-type]
            out = self.out_path(t, path)
            # A group without a value failed (and said so): what follows it is skipped, not blamed.
            prev = [(out, t.name)] if out is not None else None

    def add_op(self, t: TOp, path: str, ins):
        op = t.op
        if ins is None:
            op, ins = None, []
        elif op is not None:
            n = len(ins)
            labels = ", ".join(f"'{lab}'" for _, lab in ins) or "nothing"
            if op.arity is not None and n != op.arity:
                self.error(
                    "AS107",
                    f"{op.name} takes {op.arity} input{'s' if op.arity > 1 else ''} but gets {n} ({labels})",
                    t.loc,
                    path,
                    "name the one it should read with `in: NAME`"
                    if op.arity == 1
                    else f"list {op.arity} references in order with `in: [...]`",
                    t.trace,
                )
                op = None
            elif op.arity is None and n < 2:
                self.error(
                    "AS107",
                    f"{op.name} takes two or more inputs but gets {n} ({labels})",
                    t.loc,
                    path,
                    "list them, e.g. `in: [bn3, x]`",
                    t.trace,
                )
                op = None
        self.nodes.append(Node(path, op, tuple(p for p, _ in ins), tuple(lab for _, lab in ins), t.loc, t.trace))
        if self.hooks is not None:
            self.hooks.node(self.nodes[-1])

    def add_group(self, t: TGroup, path: str, scope: _Scope, ins):
        self.group_inputs[id(t)] = ins or []
        if t.inputs is not None and ins and len(ins) != len(t.inputs):
            self.error(
                "AS107",
                f"block '{t.block}' takes {len(t.inputs)} input(s) ({', '.join(t.inputs)}) but gets {len(ins)}",
                t.loc,
                path,
                "pass them in order with `in: [...]`",
                t.trace,
            )
            ins = []
        elif t.shaped is not None:  # (not after an arity error: that is reported, not waited on)
            self.call_inputs[id(t)] = None if ins is None else [p for p, _ in ins]
        if t.waiting and ins and self.hooks is not None:
            self.hooks.call(t, path, [p for p, _ in ins])  # instantiated now if its inputs' shapes are known
        if t.waiting:  # its body waits for its input's shape (inputshape.py reports it if it never comes)
            self.groups.append(Group(path, t.block, t.loc, None))
            return
        if t.inputs is not None:
            if ins is None:  # its input failed: the body is skipped quietly
                bound: dict = dict.fromkeys(t.inputs)
                self.walk(t, _Scope(t, path + ".", bound, scope), None)  # type: ignore[arg-type]
            else:
                bound = {name: (p, lab) for name, (p, lab) in zip(t.inputs, ins)}
                self.walk(t, _Scope(t, path + ".", bound, scope), ins[:1])
        else:
            self.walk(t, _Scope(t, path + ".", {}, scope), ins)
        self.groups.append(Group(path, t.block, t.loc, self.out_path(t, path)))
        if not t.children and t.output is None:
            self.error(
                "AS104", f"group '{path}' has no nodes", t.loc, path, "remove the group or give it nodes", t.trace
            )
        elif t.output is not None and self.out_path(t, path) is None:  # else: its last member failed
            members = [str(c.name) for c in t.children]
            self.error(
                "AS401",
                f"`output: {short(t.output.text)[1:-1]}` names no node of '{path}'",
                t.output.loc,
                path,
                did_you_mean(t.output.text, members) or f"its nodes: {', '.join(members[:12])}",
                t.trace,
            )


def _toposort(nodes: list[Node], sources: set[str], diags: list[Diagnostic]) -> list[Node]:
    by_path = {n.path: n for n in nodes}
    order = {n.path: i for i, n in enumerate(nodes)}
    placed: set[str] = set(sources)
    out: list[Node] = []
    pending = list(nodes)
    # Definition order is already topological unless a node references a later one.
    while pending:
        progressed, rest = False, []
        for n in pending:
            if all(p in placed or p not in by_path for p in n.inputs):
                out.append(n)
                placed.add(n.path)
                progressed = True
            else:
                rest.append(n)
        if not progressed:
            cycle = _find_cycle(rest, by_path)
            first = min(cycle, key=lambda p: order[p])
            shown = " -> ".join([*cycle, cycle[0]])
            diags.append(
                Diagnostic(
                    "AS402",
                    f"nodes form a cycle: {shown}",
                    by_path[first].loc,
                    node=first,
                    hint="a node cannot depend on its own output; check the `in:` of these nodes",
                    trace=by_path[first].trace,
                )
            )
            out.extend(Node(n.path, None, n.inputs, n.labels, n.loc, n.trace) for n in rest)
            break
        pending = rest
    return out


def _find_cycle(rest: list[Node], by_path: dict[str, Node]) -> list[str]:
    stuck = {n.path for n in rest}
    path, seen = [], {}
    current = rest[0].path
    while current not in seen:
        seen[current] = len(path)
        path.append(current)
        current = next(p for p in by_path[current].inputs if p in stuck)
    return path[seen[current] :]


def build_graph(tree: Expanded) -> tuple[Graph, list[Diagnostic]]:
    graph, diags, _ = build_with_calls(tree)
    return graph, diags


def build_with_calls(
    tree: Expanded, hooks: Hooks | None = None
) -> tuple[Graph, list[Diagnostic], dict[int, list[str] | None]]:
    """`build_graph`, and the producers each call of a shape-reading block reads (by the group's id)."""
    b = _Builder(tree, hooks)
    sources = [(name, name) for name in tree.inputs]
    root_scope = _Scope(tree.root, "", {n: (n, n) for n in tree.inputs}, None)
    for name, (_, loc) in tree.inputs.items():
        if name in root_scope.members:
            b.error("AS106", f"input '{name}' has the same name as a node", loc, name, "rename the input or the node")
    b.walk(tree.root, root_scope, sources)
    if tree.outputs is None:
        last = tree.root.children[-1] if tree.root.children else None
        outputs = [b.out_path(last, last.name)] if last is not None else []
        training = set()
    else:
        resolved = [(b.resolve(ref, root_scope, "outputs", ()), ref) for ref in tree.outputs]
        outputs = [r[0] for r, _ in resolved if r]
        training = {r[0] for r, ref in resolved if r and ref.training_only}
        if tree.outputs and all(ref.training_only for ref in tree.outputs):
            b.error(
                "AS507",
                "every output is training-only; evaluation would return nothing",
                tree.outputs[0].loc,
                "outputs",
                "mark the main output without `training_only`",
            )
    outputs = [o for o in outputs if o is not None]
    nodes = _toposort(b.nodes, set(tree.inputs), b.diags)
    b.diags.extend(_unused(nodes, set(outputs)))
    graph = Graph(
        tree.name,
        tree.file,
        {k: v[0] for k, v in tree.inputs.items()},
        tuple(nodes),
        tuple(outputs),
        tuple(b.groups),
        dict(tree.params),
        frozenset(training),
        tuple(n.path for n in b.nodes),
    )
    return graph, b.diags, b.call_inputs


def _unused(nodes: list[Node], outputs: set[str]) -> list[Diagnostic]:
    used = {p for n in nodes for p in n.inputs} | outputs
    return [
        Diagnostic(
            "W001",
            f"the output of '{n.path}' is never used",
            n.loc,
            node=n.path,
            hint="feed it to another node, list it in `outputs`, or remove it",
            trace=n.trace,
        )
        for n in nodes
        if n.path not in used and n.op is not None
    ]
