"""A restricted evaluator for `${...}` expressions in specs.

Python's `ast` parses the text; only a whitelisted set of node types is
evaluated, by this module, over plain values. No attribute access, no
arbitrary calls, no `eval`: a spec can compute channel counts, never run code.
Sizes are bounded so `${'a' * 10**9}` fails fast instead of eating memory.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re

MAX_EXPR_LEN = 1000
MAX_INT_BITS = 256
MAX_SEQ = 100_000

FULL = re.compile(r"^\$\{(.*)\}$", re.S)
PART = re.compile(r"\$\{(.*?)\}", re.S)


class ExprError(Exception):
    """Evaluation failed; the message says what and is shown to the user."""


def _int(x=0):
    if isinstance(x, float) and not math.isfinite(x):
        raise ExprError(f"int() of {x}")
    return int(x)


FUNCTIONS = {
    "int": _int,
    "float": float,
    "round": round,
    "min": min,
    "max": max,
    "abs": abs,
    "len": len,
    "sum": sum,
    "str": str,
    "bool": bool,
    "floor": math.floor,
    "ceil": math.ceil,
    "sqrt": math.sqrt,
    "range": lambda *a: list(range(*a)),
    "enumerate": lambda seq: [list(p) for p in enumerate(seq)],
    "zip": lambda *seqs: [list(p) for p in zip(*seqs)],
}

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _size(value) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _check_result(value):
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise ExprError(f"integer result has more than {MAX_INT_BITS} bits")
    if _size(value) > MAX_SEQ:
        raise ExprError(f"result is longer than {MAX_SEQ:,} items")
    return value


def _bounded(visit):
    """Results that can grow (arithmetic, calls, comprehensions) are checked against the bounds."""

    @functools.wraps(visit)
    def checked(self, node):
        return _check_result(visit(self, node))

    return checked


_DISPATCH: dict = {}


class _Eval:
    def __init__(self, names: dict):
        self.names = names

    def __call__(self, node):
        method = _DISPATCH.get(type(node))
        if method is None:
            method = getattr(_Eval, "visit_" + type(node).__name__, None)
            if method is None:
                raise ExprError(f"{_describe(node)} is not allowed in a spec expression")
            _DISPATCH[type(node)] = method
        return method(self, node)

    def visit_Expression(self, node):
        return self(node.body)

    def visit_Constant(self, node):
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise ExprError(f"constant {node.value!r} is not allowed")
        return node.value

    def visit_Name(self, node):
        if node.id in self.names:
            return self.names[node.id]
        if node.id in FUNCTIONS:
            raise ExprError(f"'{node.id}' is a function; call it: {node.id}(...)")
        from .errors import did_you_mean

        known = sorted(self.names)
        hint = did_you_mean(node.id, known + list(FUNCTIONS))
        scope = ", ".join(known) if known else "none"
        raise ExprError(f"name '{node.id}' is not defined (in scope: {scope})" + (f"; {hint}" if hint else ""))

    def visit_List(self, node):
        return [self(e) for e in node.elts]

    visit_Tuple = visit_List

    def visit_UnaryOp(self, node):
        value = self(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return +value
        raise ExprError("bitwise operators are not allowed")

    @_bounded
    def visit_BinOp(self, node):
        fn = _BINOPS.get(type(node.op))
        if fn is None:
            raise ExprError("bitwise and matrix operators are not allowed")
        left, right = self(node.left), self(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 64:
            raise ExprError(f"exponent {right} is too large (at most 64)")
        if isinstance(node.op, ast.Mult):
            for seq, n in ((left, right), (right, left)):
                if _size(seq) and isinstance(n, int) and _size(seq) * n > MAX_SEQ:
                    raise ExprError(f"repeating a sequence {n} times is too large")
        try:
            return fn(left, right)
        except ZeroDivisionError:
            raise ExprError("division by zero") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(str(exc)) from None

    def visit_BoolOp(self, node):
        if isinstance(node.op, ast.And):
            value = True
            for v in node.values:
                value = self(v)
                if not value:
                    return value
            return value
        value = False
        for v in node.values:
            value = self(v)
            if value:
                return value
        return value

    def visit_Compare(self, node):
        left = self(node.left)
        for op, comp in zip(node.ops, node.comparators):
            fn = _CMPOPS.get(type(op))
            if fn is None:
                raise ExprError("'is' comparisons are not allowed; use == or !=")
            right = self(comp)
            try:
                if not fn(left, right):
                    return False
            except TypeError as exc:
                raise ExprError(str(exc)) from None
            left = right
        return True

    def visit_IfExp(self, node):
        return self(node.body) if self(node.test) else self(node.orelse)

    def visit_Subscript(self, node):
        value = self(node.value)
        index = self(node.slice) if not isinstance(node.slice, ast.Slice) else self._slice(node.slice)
        try:
            return value[index]
        except (IndexError, KeyError, TypeError) as exc:
            raise ExprError(f"cannot index {value!r} with {index!r}: {exc}") from None

    def _slice(self, s):
        return slice(*(self(p) if p is not None else None for p in (s.lower, s.upper, s.step)))

    @_bounded
    def visit_ListComp(self, node):
        """`[expr for name in iterable if cond]`: one generator, plain names as targets."""
        if len(node.generators) != 1 or node.generators[0].is_async:
            raise ExprError("only one `for` per comprehension is allowed")
        gen = node.generators[0]
        targets = gen.target.elts if isinstance(gen.target, ast.Tuple) else [gen.target]
        if not all(isinstance(t, ast.Name) for t in targets):
            raise ExprError("comprehension targets must be plain names")
        iterable = self(gen.iter)
        if not isinstance(iterable, (list, tuple, str)):
            raise ExprError(f"cannot iterate over {iterable!r}")
        out = []
        saved = dict(self.names)
        try:
            for item in iterable:
                values = [item] if len(targets) == 1 else list(item)
                if len(values) != len(targets):
                    raise ExprError(f"cannot unpack {item!r} into {len(targets)} names")
                self.names.update({t.id: v for t, v in zip(targets, values)})
                if all(self(cond) for cond in gen.ifs):
                    out.append(self(node.elt))
        finally:
            self.names.clear()
            self.names.update(saved)
        return out

    @_bounded
    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            raise ExprError(f"'{name}' cannot be called; allowed functions: {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise ExprError("keyword arguments are not allowed in spec expressions")
        args = [self(a) for a in node.args]
        if node.func.id == "range" and len(range(*args)) > MAX_SEQ:
            raise ExprError(f"range longer than {MAX_SEQ:,}")
        try:
            return FUNCTIONS[node.func.id](*args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(f"{node.func.id}(): {exc}") from None


def _describe(node) -> str:
    return {
        "Attribute": "attribute access",
        "Lambda": "lambda",
        "GeneratorExp": "a comprehension",
        "DictComp": "a comprehension",
        "SetComp": "a comprehension",
        "NamedExpr": "assignment",
        "Starred": "unpacking",
        "Dict": "a dict literal",
        "Set": "a set literal",
        "JoinedStr": "an f-string",
        "Await": "await",
    }.get(type(node).__name__, type(node).__name__)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.Expression:
    # A block's expressions are parsed once, not once per instance.
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"invalid expression syntax: {exc.msg}") from None


def evaluate(text: str, names: dict):
    """Evaluate one expression (the text inside `${...}`)."""
    if len(text) > MAX_EXPR_LEN:
        raise ExprError(f"expression longer than {MAX_EXPR_LEN} characters")
    return _Eval(dict(names))(_parse(text))


def substitute(value, names: dict):
    """`${e}` alone gives e's value (any type); `${e}` inside text interpolates str(e)."""
    if isinstance(value, str) and "${" in value:
        full = FULL.match(value)
        if full and "${" not in full.group(1):
            return evaluate(full.group(1), names)
        return PART.sub(lambda m: str(evaluate(m.group(1), names)), value)
    return value


def is_expression(value) -> bool:
    return isinstance(value, str) and "${" in value
