"""Classes of the generated file: one per block structure, shared by the instances that differ
only in values (channels, strides, ...), which become the class's constructor parameters.

Containers are drafted bottom-up (by height, so every child's class exists first): a draft is the
container's constructor and forward as syntax, with the spec's values as `Slot`s. Drafts with
the same syntax once slots are masked are one class; the slots whose values differ between its
instances are its parameters.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass, field

from ..api import Network
from .lowering import Backend
from .naming import Namespace, camel, safe_text
from .pysrc import Slot, _Unparser, join
from .structure import Container, Leaf, Unit, containers


class ClassCall(ast.expr):
    """An instance of a generated class; its arguments are slots of the enclosing draft."""

    _fields = ()

    def __init__(self, cls: GenClass, slots: list[Slot]) -> None:
        super().__init__()
        self.cls, self.slots = cls, slots


class SeqNode(ast.expr):
    """Children called one after another (nn.Sequential); runs of equal items become loops."""

    _fields = ()

    def __init__(self, items: list[ast.expr]) -> None:
        super().__init__()
        self.items = items


class PlainNode(ast.expr):
    """A container without a forward, for a group that cannot be called as one module."""

    _fields = ()

    def __init__(self, items: dict[str, ast.expr]) -> None:
        super().__init__()
        self.items = items


@dataclass
class Stmt:
    node: ast.stmt
    unit: Unit | None = None
    guarded: bool = False


@dataclass
class Draft:
    box: Container
    kind: str  # "class" or "sequential"
    init: list[tuple[str, ast.expr]] = field(default_factory=list)
    forward: list[Stmt] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    returns: int = 1
    expr: ast.expr | None = None  # for "sequential"
    slot_list: list[tuple[Slot, str, bool]] | None = None  # computed once, by slots_of
    key: str = ""
    cls: GenClass | None = None


@dataclass
class Param:
    name: str
    kind: str
    values: list  # one per instance
    default: object = None
    has_default: bool = False
    attr: str | None = None  # stored on self when forward uses it


@dataclass
class GenClass:
    name: str
    drafts: list[Draft]
    params: list[Param] = field(default_factory=list)
    slot_param: list[Param | None] = field(default_factory=list)  # per slot index
    omittable: list[bool] = field(default_factory=list)  # per slot: the same default in every instance

    @property
    def template(self) -> Draft:
        return self.drafts[0]


# --- drafting ---------------------------------------------------------------------------------


def _sequential(box: Container, backend: Backend) -> bool:
    """A chain of modules over numbered children, each called on the previous output alone
    (`layer(x)`: not attention's `layer(x, x, x)`): nn.Sequential needs no class of its own."""
    names = list(box.children)
    if names != [str(i) for i in range(len(names))] or len(box.units) != len(names) or len(box.inputs) != 1:
        return False
    prev = box.inputs[0]
    for unit in box.units:
        if unit.reads != [prev] or unit.training or len(unit.access) != 1:
            return False
        if learned_tensor(unit.item):  # a learned tensor is not a layer
            return False
        if isinstance(unit.item, Leaf) and not _called_alone(unit.item.node, backend):
            return False
        prev = unit.value
    return prev == box.outputs[0] and [u.access[0] for u in box.units] == names


def learned_tensor(child: Leaf | Container) -> bool:
    """A learned tensor of its own (a `parameter` node): registered as a parameter, not a layer."""
    return isinstance(child, Leaf) and not child.node.op.reads_input


def _called_alone(node, backend: Backend) -> bool:
    """Whether the backend calls the node's layer as `layer(x)`, as a sequential container does."""
    layer, x = ast.Name("layer", ast.Load()), ast.Name("x", ast.Load())
    called = backend.call(node, layer, [x])
    return ast.dump(called) == ast.dump(ast.Call(layer, [x], []))


def _ctor(child: Leaf | Container, backend: Backend, drafts: dict[int, Draft]) -> ast.expr | None:
    if isinstance(child, Leaf):
        return backend.module(child.node)
    if not child.callable:
        items = {k: e for k, c in child.children.items() if (e := _ctor(c, backend, drafts)) is not None}
        return PlainNode(items)
    draft = drafts[id(child)]
    if draft.kind == "sequential":
        return draft.expr
    cls = draft.cls
    index = cls.drafts.index(draft)
    return ClassCall(cls, [Slot(p.values[index], p.name, p.kind) for p in cls.params])


def _access(unit: Unit, backend: Backend) -> ast.expr:
    tensor = learned_tensor(unit.item)
    *path, last = unit.access
    if not path:
        return backend.idioms.member(last, tensor)
    expr = backend.idioms.member(path[0])
    for part in path[1:]:
        expr = backend.idioms.item(expr, part, False)
    return backend.idioms.item(expr, last, tensor)


def draft(box: Container, net: Network, backend: Backend, drafts: dict[int, Draft]) -> Draft:
    if box.path and _sequential(box, backend):
        items = [_ctor(c, backend, drafts) for c in box.children.values()]
        if all(i is not None for i in items):
            d = Draft(box, "sequential", expr=SeqNode(items))  # type: ignore[arg-type]
            d.key = "seq:" + masked(d.expr)
            return d
    d = Draft(box, "class")
    for name, child in box.children.items():
        expr = _ctor(child, backend, drafts)
        if expr is not None:
            d.init.append((name, expr))
    _forward(d, net, backend)
    d.key = "\n".join(
        [
            *(f"{n}={masked(e)}" for n, e in d.init),
            *(f"{s.guarded}:{masked(s.node)}" for s in d.forward),
            str(len(d.args)),
        ]
    )
    return d


def _forward(d: Draft, net: Network, backend: Backend) -> None:
    box = d.box
    graph = net.graph
    ns = Namespace(backend.idioms.taken)
    var: dict[str, str] = {}
    for p in box.inputs:
        var[p] = ns.create(p if not box.path else "x" if len(box.inputs) == 1 else _label(box, p), default="x")
    d.args = [var[p] for p in box.inputs]
    last: dict[str, int] = {}
    for i, u in enumerate(box.units):
        for p in u.reads:
            last[p] = i
    for o in box.outputs:
        last[o] = len(box.units)
    layers = {name for name, _ in d.init}  # children constructed as layers (the others are expressions)
    main = _main_chain(box)
    joins = {p for u in box.units if len(u.reads) > 1 for p in u.reads}
    holds: dict[str, int] = {v: last.get(p, -1) for p, v in var.items()}  # name -> last use of its value
    neutral = set(var.values())  # input names and `out`: reassigned along the main chain
    for i, u in enumerate(box.units):
        args = [ast.Name(var[p], ast.Load()) for p in u.reads]
        first = u.reads[0] if u.reads else None
        if u.value in main and first is not None and var[first] in neutral and last.get(first) == i:
            target = var[first]  # reassigned, as torchvision writes `x = self.conv1(x)`
        elif u.value in main and u.value not in joins:
            target = "out" if holds.get("out", -1) < i and "out" in ns.used else ns.create("out")
            neutral.add(target)
        else:
            target = ns.create(u.access[-1], default="out")  # a branch: named after its node
        holds[target] = last.get(u.value, -1)
        var[u.value] = target
        if isinstance(u.item, Leaf):
            node = u.item.node
            has_layer = u.access[0] in layers if len(u.access) == 1 else backend.module(node) is not None
            module = _access(u, backend) if has_layer else None
            if backend.augmented(node) and target == var.get(first or ""):
                stmt: ast.stmt = ast.AugAssign(ast.Name(target, ast.Store()), ast.Add(), join(ast.Add(), args[1:]))
            else:
                value = backend.call(node, module, args)
                if isinstance(value, ast.Name) and value.id == target:  # an identity: nothing to compute
                    var[u.value] = target
                    continue
                stmt = _assign(target, value)
        else:
            stmt = _assign(target, ast.Call(_access(u, backend), args, []))
        d.forward.append(Stmt(stmt, u, u.training))
    outs = [ast.Name(var[o], ast.Load()) for o in box.outputs]
    if box.path:
        d.forward.append(Stmt(ast.Return(outs[0])))
        return
    d.returns = len(graph.outputs)
    if graph.training_outputs:
        d.forward.append(Stmt(ast.Return(_tuple(outs)), guarded=True))
        outs = [ast.Name(var[o], ast.Load()) for o in graph.eval_outputs]
    d.forward.append(Stmt(ast.Return(_tuple(outs))))


def _tuple(items: list[ast.expr]) -> ast.expr:
    return items[0] if len(items) == 1 else ast.Tuple(items, ast.Load())


def _assign(target: str, value: ast.expr) -> ast.stmt:
    return ast.Assign([ast.Name(target, ast.Store())], value, lineno=0)


def _label(box: Container, producer: str) -> str:
    """A block input's name as its body writes it (`x`, `skip`)."""
    for u in box.units:
        if isinstance(u.item, Leaf) and producer in u.item.node.inputs:
            label = u.item.node.labels[u.item.node.inputs.index(producer)]
            return label.rsplit(".", 1)[-1]
    return "x"


def _main_chain(box: Container) -> set[str]:
    by_value = {u.value: u for u in box.units}
    out, v = set(), box.outputs[0] if box.outputs else None
    while v in by_value and v not in out:
        out.add(v)
        reads = by_value[v].reads
        v = reads[0] if reads else None
    return out


def masked(node: ast.AST) -> str:
    """Syntax with every slot masked: equal for drafts that can share a class."""
    return _Masked().visit(node)


class _Masked(_Unparser):
    def visit_Slot(self, n: Slot) -> None:
        self.write(f"__slot_{n.kind}")

    def visit_ClassCall(self, n: ClassCall) -> None:
        self.write(f"__class_{id(n.cls)}(")
        for s in n.slots:
            self.traverse(s)
            self.write(",")
        self.write(")")

    def visit_SeqNode(self, n: SeqNode) -> None:
        self.write("__seq(")
        for item in n.items:
            self.traverse(item)
            self.write(",")
        self.write(")")

    def visit_PlainNode(self, n: PlainNode) -> None:
        self.write("__plain(")
        for k, v in n.items.items():
            self.write(f"{k!r}=")
            self.traverse(v)
            self.write(",")
        self.write(")")


def slots_of(d: Draft) -> list[tuple[Slot, str, bool]]:
    """(slot, owner child, used in forward) in a fixed order."""
    if d.slot_list is not None:
        return d.slot_list
    out: list[tuple[Slot, str, bool]] = []
    d.slot_list = out

    def walk(node, owner, fwd):
        if isinstance(node, Slot):
            out.append((node, owner, fwd))
        elif isinstance(node, ClassCall):
            for s in node.slots:
                walk(s, owner, fwd)
        elif isinstance(node, SeqNode):
            for i, item in enumerate(node.items):
                walk(item, f"{owner}_{i}", fwd)
        elif isinstance(node, PlainNode):
            for k, item in node.items.items():
                walk(item, f"{owner}_{k}", fwd)
        else:
            for child in ast.iter_child_nodes(node):
                walk(child, owner, fwd)

    for name, expr in d.init:
        walk(expr, name, False)
    for s in d.forward:
        walk(s.node, s.unit.access[-1] if s.unit else "out", True)
    return out


# --- classes ----------------------------------------------------------------------------------


def classes(root: Container, net: Network, backend: Backend) -> tuple[list[GenClass], Draft, bool]:
    """Every generated class, dependencies first; the model's draft is the root's; whether any group
    is a plain chain (written with the framework's sequential container)."""
    drafts: dict[int, Draft] = {}
    out: list[GenClass] = []
    names = Namespace(backend.idioms.taken)
    model_name = _model_name(net, backend)
    names.reserve(model_name)
    firsts: dict[str, set[str]] = {}  # a block's first-named variant's children
    order = {n.path: i for i, n in enumerate(net.graph.nodes)}
    by_height: dict[int, list[Container]] = {}
    for box in containers(root):
        if box.callable:
            by_height.setdefault(box.height, []).append(box)
    for height in sorted(by_height):
        level = sorted(by_height[height], key=lambda b: min(order[p] for p in b.leaves))
        groups: dict[str, list[Draft]] = {}
        for box in level:
            d = drafts[id(box)] = draft(box, net, backend, drafts)
            if d.kind == "class":
                groups.setdefault(d.key, []).append(d)
        for ds in groups.values():
            first = ds[0].box
            cls = GenClass(model_name if first is root else "", ds)
            for d in ds:
                d.cls = cls
            _parameters(cls, net, backend.idioms.reserved)
            out.append(cls)
        _name(out, names, firsts)
    return out, drafts[id(root)], any(d.kind == "sequential" for d in drafts.values())


def _model_name(net: Network, backend: Backend) -> str:
    from .naming import class_name

    return class_name(net.graph.name, backend.idioms.taken)


def _base(box: Container) -> str:
    if box.group is not None and box.group.block:
        return camel(box.group.block) or "Block"
    return camel(box.name) if not box.name.isdigit() else "Block"


def _name(out: list[GenClass], names: Namespace, firsts: dict[str, set[str]]) -> None:
    """Names for this level's classes: the block's name; variants of one block are named after the
    child that sets them apart (`BottleneckWithDownsample`), the most used variant keeps the name."""
    fresh = [c for c in out if not c.name]
    by_base: dict[str, list[GenClass]] = {}
    for c in fresh:
        by_base.setdefault(_base(c.template.box), []).append(c)
    for base, group in by_base.items():
        group.sort(key=lambda c: -len(c.drafts))
        if base not in firsts:
            firsts[base] = set(group[0].template.box.children)
            group[0].name = names.create(base, default="Block")
        plain = firsts[base]
        for c in group:
            if c.name:
                continue
            extra = [k for k in c.template.box.children if k not in plain]
            wanted = base + "With" + camel(extra[0]) if extra and camel(extra[0]) else base
            c.name = names.create(wanted, default="Block")


def _parameters(cls: GenClass, net: Network, reserved: frozenset[str]) -> None:
    per = [slots_of(d) for d in cls.drafts]
    n = len(cls.drafts)
    template = per[0]
    params: list[Param] = []
    by_vector: dict[tuple, Param] = {}
    cls.slot_param = []
    cls.omittable = [all(repr(p[j][0].default) == repr(s.default) for p in per) for j, (s, _, _) in enumerate(template)]
    taken = Namespace({"rngs", *cls.template.box.children, "self", *reserved})
    channel_groups = []
    for j, (slot, owner, fwd) in enumerate(template):
        values = [p[j][0].value for p in per]
        if n == 1 or all(v == values[0] for v in values):
            cls.slot_param.append(None)
            continue
        key = (slot.kind or slot.hint, tuple(map(repr, values)))
        param = by_vector.get(key)
        if param is None:
            param = Param("", slot.kind, values)
            param.name = f"{owner}:{slot.hint}"
            by_vector[key] = param
            params.append(param)
            if slot.kind == "channels":
                channel_groups.append(param)
        if fwd:
            param.attr = param.attr or "?"
        cls.slot_param.append(param)
    _param_names(cls, params, channel_groups, net, taken)
    for p in params:
        counts = Counter(map(repr, p.values))
        common, count = counts.most_common(1)[0]
        if p.kind != "channels" and count * 2 > n:
            p.has_default = True
            p.default = next(v for v in p.values if repr(v) == common)
    cls.params = sorted(params, key=lambda p: p.has_default)


def _param_names(cls: GenClass, params, channel_groups, net: Network, taken: Namespace) -> None:
    ins, outs = [], []
    for d in cls.drafts:
        box = d.box
        first_in = net.shape(box.inputs[0]) if box.inputs else ()
        ins.append(first_in[0] if first_in else None)
        out = net.shape(box.outputs[0]) if box.outputs else ()
        outs.append(out[0] if out else None)
    hints = Counter(p.name.split(":")[1] for p in params if p.kind != "channels")
    widths = [p for p in channel_groups if p.values != ins and p.values != outs]
    for p in params:
        owner, hint = p.name.split(":")
        if p.kind == "channels" and p.values == ins:
            wanted = "in_channels"
        elif p.kind == "channels" and p.values == outs:
            wanted = "out_channels"
        elif p.kind == "channels" and len(widths) == 1:
            wanted = "width"
        elif p.kind == "channels":
            wanted = f"{owner}_channels"
        elif hints[hint] == 1:
            wanted = hint
        else:
            wanted = f"{owner}_{hint}"
        p.name = taken.create(wanted, default="p")
        if p.attr:
            p.attr = p.name


def docstring(cls: GenClass, net: Network, backend: Backend) -> str:
    box = cls.template.box
    fmt = backend.idioms.shape
    group = box.group
    what = f"Block '{safe_text(group.block)}'" if group and group.block else "Group"
    where = f" (first used at {safe_text(group.loc.file)}:{group.loc.line})" if group else ""
    ins = ", ".join(
        shape_text(cls, [net.shape(d.box.inputs[k]) for d in cls.drafts], net, fmt, net.layout(box.inputs[k]))
        for k in range(len(box.inputs))
    )
    outs = [net.shape(d.box.outputs[0]) for d in cls.drafts]
    out = shape_text(cls, outs, net, fmt, net.layout(box.outputs[0]))
    paths = [safe_text(d.box.path) for d in cls.drafts]
    used = ", ".join(paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
    return f"{what}{where}: {ins} -> {out}.\n\nInstances: {used}."


def shape_text(cls: GenClass, shapes: list[tuple], net: Network, fmt, layout: str) -> str:
    """A shape across a class's instances: numbers where they agree, parameter names or the
    input's H and W where they follow them. `fmt(shape, layout)` lays it out as the framework does."""
    first_inputs = [net.shape(d.box.inputs[0]) if d.box.inputs else () for d in cls.drafts]
    if all(s == shapes[0] for s in shapes):
        return fmt(shapes[0], layout)
    box = cls.drafts[0].box
    in_layout = net.layout(box.inputs[0]) if box.inputs else ""
    dims = []
    for k in range(len(shapes[0])):
        column = [s[k] if k < len(s) else None for s in shapes]
        # the input axis this one came from: the same letter (a permuted H stays H), else the same place
        same = in_layout.find(layout[k]) if len(layout) == len(shapes[0]) and "?" not in layout else -1
        dims.append(_dim(cls, column, first_inputs, same if same >= 0 else k, len(shapes[0]), in_layout))
    return fmt(tuple(dims), layout)


def _dim(cls: GenClass, column, first_inputs, k: int, rank: int, in_layout: str = ""):
    if all(v == column[0] for v in column):
        return column[0]
    for p in cls.params:
        if p.values == column:
            return p.name
    labels = ("C", "H", "W") if rank == 3 else tuple(f"D{i}" for i in range(rank))
    if len(in_layout) == rank and "?" not in in_layout and in_layout != "CHW":
        labels = tuple(in_layout)
    strides = [p for p in cls.params if all(type(v) is int and v > 0 for v in p.values)]
    for j in sorted(range(rank), key=lambda j: j != k):
        base = [s[j] if len(s) > j else None for s in first_inputs]
        for div in (1, 2, 4):
            if all(b is not None and v == b // div for v, b in zip(column, base)):
                return labels[j] if div == 1 else f"{labels[j]}/{div}"
        for p in strides:
            if all(b is not None and v in (b // s, -(-b // s)) for v, b, s in zip(column, base, p.values)):
                return f"{labels[j]}/{p.name}"
    return "?"
