"""Python source as syntax: literals, templates, and a formatter that prints `ast` statements the
way `ruff format` would at 120 columns (double quotes, right-hand splits, magic trailing commas).

Spec values reach generated code only as `Slot`s (literals, later constants or class parameters);
identifiers only through `naming.Namespace`; user text only through `naming.safe_text`.
"""

from __future__ import annotations

import ast
import math
from typing import Any

WIDTH = 120


class CodegenError(ValueError):
    """A value the generated code cannot hold (the spec stage should have rejected it)."""


NO_DEFAULT = object()


class Slot(ast.expr):
    """A literal from the spec. Equal structures that differ only in slot values share a class;
    the slots that differ become constructor parameters named after `hint`."""

    _fields = ()

    def __init__(self, value: Any, hint: str = "value", kind: str = "", default: Any = NO_DEFAULT) -> None:
        super().__init__()
        self.value = _checked(value)
        self.hint = hint
        self.kind = kind  # "channels" for sizes of a feature axis: named in_channels/out_channels/width
        self.default = default  # a keyword argument with this value everywhere is left out

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


def _checked(value):
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodegenError(f"{value!r} cannot be written as a literal")
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_checked(v) for v in value)
    raise CodegenError(f"{type(value).__name__} {value!r} cannot be written as a literal")


def const(value) -> ast.expr:
    """A literal as syntax: numbers, strings, booleans, None and tuples of them."""
    value = _checked(value)
    if isinstance(value, tuple):
        return ast.Tuple([const(v) for v in value], ast.Load())
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def name(dotted: str) -> ast.expr:
    """`nn.Conv2d` as syntax. Only for the backends' own names, never spec text."""
    head, *rest = dotted.split(".")
    out: ast.expr = ast.Name(head, ast.Load())
    for part in rest:
        out = ast.Attribute(out, part, ast.Load())
    return out


def call(func: str | ast.expr, *args: ast.expr, **kwargs: ast.expr) -> ast.Call:
    func = name(func) if isinstance(func, str) else func
    return ast.Call(func, list(args), [ast.keyword(k, v) for k, v in kwargs.items()])


def method(name_: str, obj: ast.expr, *args: ast.expr, **kwargs: ast.expr) -> ast.Call:
    """`obj.name_(*args, **kwargs)` as syntax: `x.permute(0, 2, 3, 1)`."""
    return call(ast.Attribute(obj, name_, ast.Load()), *args, **kwargs)


def index(x: ast.expr, axis: int, item: ast.expr) -> ast.expr:
    """`x[:, :, item]`, with `item` on `axis` (0 is the batch), as a person writes it."""
    parts = [ast.Slice() for _ in range(axis)] + [item]
    return ast.Subscript(x, ast.Tuple(parts, ast.Load()) if len(parts) > 1 else parts[0], ast.Load())


def join(op: ast.operator, args: list[ast.expr]) -> ast.expr:
    """`a + b + c` (left to right, as Python evaluates it) for op `ast.Add()`."""
    out = args[0]
    for a in args[1:]:
        out = ast.BinOp(out, op, a)
    return out


def template(source: str, **parts: ast.expr) -> ast.expr:
    """An expression from a backend's own template; `{name}` holes are filled with syntax."""
    marked = source
    for key in parts:
        marked = marked.replace("{" + key + "}", f"__hole_{key}")
    tree = ast.parse(marked, mode="eval").body

    class Fill(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name):
            if node.id.startswith("__hole_"):
                return parts[node.id[len("__hole_") :]]
            return node

    return Fill().visit(tree)


# --- printing -----------------------------------------------------------------------------------


def _dq(text: str) -> str:
    """A string literal in double quotes, as ruff format writes it."""
    r = repr(text)
    if r[0] == '"':
        return r
    return '"' + r[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'


class _Unparser(ast._Unparser):  # type: ignore[name-defined,misc]
    def _write_constant(self, value):
        if isinstance(value, str):
            self.write(_dq(value))
        else:
            super()._write_constant(value)

    def visit_Slice(self, node):
        """ruff format's slices: a colon is spaced like a binary operator when a bound is more than
        a name or a number (`x[: self.stop]`), with no space on an omitted side."""
        bounds = [node.lower, node.upper, *([node.step] if node.step else [])]
        if all(b is None or _simple(b) for b in bounds):
            return super().visit_Slice(node)
        for i, b in enumerate(bounds):
            if i:
                self.write((" " if bounds[i - 1] is not None else "") + ":" + (" " if b is not None else ""))
            if b is not None:
                self.traverse(b)

    def visit_Slot(self, node):  # unresolved slots print as their value (single-instance classes)
        self.traverse(const(node.value))

    def visit__Pair(self, node):
        self.traverse(node.key)
        self.write(": ")
        self.traverse(node.value)


def _simple(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, (ast.Name, ast.Constant, Slot))


class _Pair(ast.expr):
    """One `key: value` of a dict literal, so a long dict splits one item per line."""

    _fields = ("key", "value")

    def __init__(self, key: ast.expr, value: ast.expr) -> None:
        super().__init__()
        self.key, self.value = key, value


def unparse(node: ast.AST) -> str:
    return _Unparser().visit(ast.fix_missing_locations(node))


def _items(node: ast.expr) -> tuple[str, list[ast.AST], str] | None:
    """Opening text, items and closing bracket of a splittable expression."""
    if isinstance(node, ast.Call):
        return unparse(node.func) + "(", [*node.args, *node.keywords], ")"
    if isinstance(node, ast.List):
        return "[", list(node.elts), "]"
    if isinstance(node, ast.Dict) and None not in node.keys:
        return "{", [_Pair(k, v) for k, v in zip(node.keys, node.values)], "}"
    if isinstance(node, ast.Tuple) and len(node.elts) > 1:
        return "(", list(node.elts), ")"
    if isinstance(node, ast.Starred) and isinstance(node.value, (ast.List, ast.ListComp, ast.Call)):
        inner = _items(node.value)
        if inner:
            return "*" + inner[0], inner[1], inner[2]
    return None


def split(node: ast.AST, prefix: str, indent: int, suffix: str = "") -> list[str]:
    """Lines of `prefix + node + suffix` at `indent`, split at the last bracket when too long."""
    pad = " " * indent
    flat = pad + prefix + unparse(node) + suffix
    if len(flat) <= WIDTH:
        return [flat]
    if isinstance(node, ast.keyword):
        return split(node.value, prefix + (f"{node.arg}=" if node.arg else "**"), indent, suffix)
    if isinstance(node, _Pair):
        return split(node.value, prefix + unparse(node.key) + ": ", indent, suffix)
    if isinstance(node, ast.Starred) and not isinstance(node.value, (ast.List, ast.ListComp)):
        return split(node.value, prefix + "*", indent, suffix)
    comp = node.value if isinstance(node, ast.Starred) else node
    if isinstance(comp, ast.ListComp):
        star = "*" if isinstance(node, ast.Starred) else ""
        inner = pad + "    "
        body = unparse(comp)[1:-1]
        if len(inner + body) <= WIDTH:
            return [f"{pad}{prefix}{star}[", inner + body, f"{pad}]{suffix}"]
        gens = "".join(unparse(g) for g in comp.generators).strip()
        return [f"{pad}{prefix}{star}[", *split(comp.elt, "", indent + 4), inner + gens, f"{pad}]{suffix}"]
    parts = _items(node)
    if parts is None:
        return [flat]  # nothing to split at; callers keep such expressions short
    opening, items, closing = parts
    inner = pad + "    "
    texts = [unparse(i) if not isinstance(i, ast.keyword) else _kw(i) for i in items]
    joined = ", ".join(texts)
    head = f"{pad}{prefix}{opening}"
    tail = f"{pad}{closing}{suffix}"
    if not items:
        return [flat]
    if len(inner + joined) <= WIDTH:
        return [head, inner + joined, tail]
    if len(items) == 1:
        return [head, *split(items[0], "", indent + 4), tail]
    lines = [head]
    for item in items:
        lines += split(item, "", indent + 4, ",")
    return [*lines, tail]


def _kw(k: ast.keyword) -> str:
    return (f"{k.arg}=" if k.arg else "**") + unparse(k.value)


def statement(stmt: ast.stmt, indent: int, comments: list[str] | tuple = ()) -> list[str]:
    """One statement's lines, with the first of `comments` that fits (long statements get none)."""
    pad = " " * indent
    text = unparse(stmt)
    if len(pad + text) <= WIDTH:
        fits = [c for c in comments if len(f"{pad}{text}  # {c}") <= WIDTH]
        return [f"{pad}{text}  # {fits[0]}" if fits else pad + text]
    if isinstance(stmt, ast.Assign):
        return split(stmt.value, " = ".join(unparse(t) for t in stmt.targets) + " = ", indent)
    if isinstance(stmt, ast.AugAssign):
        return split(stmt.value, f"{unparse(stmt.target)} {_AUG[type(stmt.op)]}= ", indent)
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        return split(stmt.value, "return ", indent)
    if isinstance(stmt, ast.Expr):
        return split(stmt.value, "", indent)
    return [pad + text]


_AUG = {ast.Add: "+", ast.Mult: "*", ast.Sub: "-"}


def signature(fn: str, params: list[str], returns: str, indent: int) -> list[str]:
    """`def fn(params) -> returns:` split like ruff format when too long."""
    pad = " " * indent
    flat = f"{pad}def {fn}({', '.join(params)}) -> {returns}:"
    if len(flat) <= WIDTH:
        return [flat]
    joined = ", ".join(params)
    if len(pad + "    " + joined) <= WIDTH:
        return [f"{pad}def {fn}(", f"{pad}    {joined}", f"{pad}) -> {returns}:"]
    return [f"{pad}def {fn}(", *(f"{pad}    {p}," for p in params), f"{pad}) -> {returns}:"]


def docstring(text: str, indent: int) -> list[str]:
    """A docstring from already-safe text (see naming.safe_text): one line if it fits."""
    import textwrap

    pad = " " * indent
    lines = []
    for line in text.strip().splitlines():
        lines += textwrap.wrap(line, WIDTH - indent - 3, break_long_words=False) or [""]
    if len(lines) == 1 and len(f'{pad}"""{lines[0]}"""') <= WIDTH:
        return [f'{pad}"""{lines[0]}"""']
    out = [f'{pad}"""{lines[0]}']
    out += [f"{pad}{line}" if line else "" for line in lines[1:]]
    return [*out, f'{pad}"""']
