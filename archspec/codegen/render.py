"""Generated classes as formatted source: slots resolved to literals or parameters, runs of equal
children written as loops, statements with their shape and YAML line where they fit."""

from __future__ import annotations

import ast

from ..api import Network
from .classes import (
    ClassCall,
    Draft,
    GenClass,
    PlainNode,
    SeqNode,
    docstring,
    learned_tensor,
    shape_text,
    slots_of,
)
from .lowering import Backend
from .naming import safe_text
from .pysrc import Slot, const, signature, statement, unparse
from .pysrc import docstring as doc_lines


class _Resolve(ast.NodeTransformer):
    def __init__(self, cls: GenClass | None, backend: Backend, in_forward: bool, index: dict[int, int]):
        self.cls, self.backend, self.in_forward, self.index = cls, backend, in_forward, index

    def visit_Slot(self, node: Slot):
        param = self.cls.slot_param[self.index[id(node)]] if self.cls and id(node) in self.index else None
        if param is None:
            return const(node.value)
        if self.in_forward:
            return ast.Attribute(ast.Name("self", ast.Load()), param.attr, ast.Load())
        return ast.Name(param.name, ast.Load())

    def visit_Call(self, node: ast.Call):
        keywords = []
        for kw in node.keywords:
            value = self.visit(kw.value)
            default = isinstance(kw.value, Slot) and kw.value.has_default and _is_const(value)
            default = default and (self.cls is None or self.cls.omittable[self.index[id(kw.value)]])
            if default and unparse(value) == unparse(const(kw.value.default)):
                continue  # the framework's default in every instance: leave it out
            keywords.append(ast.keyword(kw.arg, value))
        return ast.Call(self.visit(node.func), [self.visit(a) for a in node.args], keywords)

    def visit_ClassCall(self, node: ClassCall):
        args, kwargs = [], []
        for p, slot in zip(node.cls.params, node.slots):
            value = self.visit(slot)
            if p.has_default and _is_const(value) and unparse(value) == unparse(const(p.default)):
                continue
            if p.has_default:
                kwargs.append(ast.keyword(p.name, value))
            else:
                args.append(value)
        for k, v in self.backend.idioms.ctor_kwargs.items():
            kwargs.append(ast.keyword(k, ast.Name(v, ast.Load())))
        return ast.Call(ast.Name(node.cls.name, ast.Load()), args, kwargs)

    def visit_SeqNode(self, node: SeqNode):
        return self.backend.idioms.sequential(compress([self.visit(i) for i in node.items]))

    def visit_PlainNode(self, node: PlainNode):
        return self.backend.idioms.plain({k: self.visit(v) for k, v in node.items.items()})


def _is_const(node: ast.expr) -> bool:
    return not any(isinstance(n, (ast.Name, ast.Attribute)) for n in ast.walk(node))


def compress(items: list[ast.expr]) -> list[ast.expr]:
    """`a, b, b, b` -> `a, *[b for _ in range(3)]`; constructor calls whose integer arguments step
    evenly (DenseNet's growing inputs) -> `*[Layer(64 + 32 * i, ...) for i in range(n)]`."""
    texts = [unparse(i) for i in items]
    out: list[ast.expr] = []
    i = 0
    while i < len(items):
        j = i + 1
        while j < len(items) and texts[j] == texts[i]:
            j += 1
        if j - i >= 2:
            out.append(_loop(items[i], "_", j - i))
            i = j
            continue
        j = i + 1
        while j < len(items) and _progression(items[i : j + 1]) is not None:
            j += 1
        if j - i >= 3:
            out.append(_loop(_progression(items[i:j]), "i", j - i))  # type: ignore[arg-type]
            i = j
            continue
        out.append(items[i])
        i += 1
    return out


def _loop(elt: ast.expr, var: str, n: int) -> ast.expr:
    gen = ast.comprehension(
        ast.Name(var, ast.Store()), ast.Call(ast.Name("range", ast.Load()), [ast.Constant(n)], []), [], 0
    )
    return ast.Starred(ast.ListComp(elt, [gen]), ast.Load())


def _progression(items: list[ast.expr]) -> ast.expr | None:
    """One call with `start + step * i` for the arguments that step evenly, or None."""
    first = items[0]
    if not all(isinstance(c, ast.Call) for c in items):
        return None
    heads = {unparse(c.func) + repr([k.arg for k in c.keywords]) + str(len(c.args)) for c in items}  # type: ignore[attr-defined]
    if len(heads) != 1:
        return None
    values = [*first.args, *(k.value for k in first.keywords)]  # type: ignore[attr-defined]
    columns = [[*c.args, *(k.value for k in c.keywords)] for c in items]  # type: ignore[attr-defined]
    out, stepped = [], False
    for k, v in enumerate(values):
        col = [unparse(c[k]) for c in columns]
        if len(set(col)) == 1:
            out.append(v)
            continue
        ints = [c[k].value if isinstance(c[k], ast.Constant) and type(c[k].value) is int else None for c in columns]
        if None in ints:
            return None
        step = ints[1] - ints[0]
        if step == 0 or any(b - a != step for a, b in zip(ints, ints[1:])):
            return None
        stepped = True
        term: ast.expr = ast.Name("i", ast.Load())
        if abs(step) != 1:
            term = ast.BinOp(ast.Constant(abs(step)), ast.Mult(), term)
        out.append(
            term if ints[0] == 0 and step > 0 else ast.BinOp(const(ints[0]), ast.Add() if step > 0 else ast.Sub(), term)
        )
    if not stepped:
        return None
    n = len(first.args)  # type: ignore[attr-defined]
    kws = [ast.keyword(k.arg, v) for k, v in zip(first.keywords, out[n:])]  # type: ignore[attr-defined]
    return ast.Call(first.func, out[:n], kws)  # type: ignore[attr-defined]


def _annotation(values: list) -> str:
    kinds = {type(v).__name__ for v in values}
    if kinds <= {"int"}:
        return "int"
    if kinds <= {"float", "int"}:
        return "float"
    if kinds in ({"bool"}, {"str"}):
        return kinds.pop()
    if kinds <= {"tuple"}:
        return "tuple"
    if kinds <= {"int", "tuple"}:
        return "int | tuple"
    return "object"


def render_class(cls: GenClass, net: Network, backend: Backend, model: Draft, extra_init=(), methods=()) -> list[str]:
    idioms = backend.idioms
    d = cls.template
    index = {id(s): j for j, (s, _, _) in enumerate(slots_of(d))}
    base = idioms.base_for(list(d.box.children)) if idioms.base_for else idioms.base
    lines = [f"class {cls.name}({base}):"]
    if d is model:
        text = f"{safe_text(net.graph.name)}, from {safe_text(net.graph.file)}."
    else:
        text = docstring(cls, net, backend)
    lines += doc_lines(text, 4)
    params = ["self"]
    for p in cls.params:
        ann = _annotation(p.values)
        params.append(f"{p.name}: {ann}" + (f" = {unparse(const(p.default))}" if p.has_default else ""))
    params += idioms.init_params
    lines += ["", *signature("__init__", params, "None", 4)]
    body: list[str] = []
    if idioms.super_init:
        body.append("        super().__init__()")
    for p in cls.params:
        if p.attr:
            body += statement(idioms.set_member(p.attr, ast.Name(p.name, ast.Load())), 8)
    resolve = _Resolve(cls, backend, False, index)
    for attr, expr in d.init:
        value = resolve.visit(expr)
        body += statement(idioms.set_member(attr, value, learned_tensor(d.box.children[attr])), 8)
    if idioms.training_attr and any(s.guarded for s in d.forward):
        body.append(f"        {idioms.training_attr}")
    body += [f"        {line}" if line else "" for line in extra_init]
    lines += body or ["        pass"]
    lines += list(methods)
    args = ["self", *(f"{a}: {idioms.tensor}" for a in d.args)]
    ret = _returns(d, net, idioms.tensor)
    lines += ["", *signature(idioms.forward, args, ret, 4)]
    lines += _forward_lines(cls, d, net, backend, index)
    return lines


def _returns(d: Draft, net: Network, tensor: str) -> str:
    def tup(n: int) -> str:
        return tensor if n == 1 else f"tuple[{', '.join([tensor] * n)}]"

    graph = net.graph
    if d.box.path or not graph.training_outputs:
        return tup(d.returns)
    return f"{tup(len(graph.eval_outputs))} | {tup(len(graph.outputs))}"


def _forward_lines(cls: GenClass, d: Draft, net: Network, backend: Backend, index) -> list[str]:
    resolve = _Resolve(cls, backend, True, index)
    out: list[str] = []
    open_guard = False
    for k, s in enumerate(d.forward):
        node = resolve.visit(s.node)
        if s.guarded and not open_guard:
            out.append(f"        if {backend.idioms.training}:")
        open_guard = s.guarded
        indent = 12 if s.guarded else 8
        out += statement(node, indent, _comment(cls, k, net, backend))
    return out


def _comment(cls: GenClass, k: int, net: Network, backend: Backend) -> list[str]:
    """The statement's node, shape and YAML line; shorter forms where the whole does not fit."""
    s = cls.template.forward[k]
    if s.unit is None:
        return []
    shapes = [net.shape(d.forward[k].unit.value) for d in cls.drafts]
    item = s.unit.item
    loc = item.node.loc if hasattr(item, "node") else (item.group.loc if item.group else None)
    where = f" {safe_text(loc.file)}:{loc.line}" if loc is not None else ""
    name = safe_text(".".join(s.unit.access))
    shape = shape_text(cls, shapes, net, backend.idioms.shape, net.layout(s.unit.value))
    return [f"{name} {shape}{where}", f"{name} {shape}", name]
