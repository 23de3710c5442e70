"""A restricted evaluator for `${...}` expressions in specs.

Python's `ast` parses the text; only a whitelisted set of node types is
evaluated, by this module, over plain values. No attribute access, no
arbitrary calls, no `eval`: a spec can compute channel counts, never run code.
Every operation checks its operands first and every result is bounded
(exprlib.py), so `${'a' * 10**9}` fails fast instead of eating memory.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Mapping

from .exprlib import (
    FUNCTIONS,
    MAX_EXPR_LEN,
    MAX_INT_BITS,
    MAX_SEQ,
    MAX_SIZE,
    SHAPE_NAMES,
    Budget,
    Deferred,
    ExprError,
    LimitError,
    SpecBudget,
    is_int,
    is_num,
    is_seq,
    kind,
    need,
    text_of,
)

__all__ = [
    "ExprError",
    "LimitError",
    "SpecBudget",
    "evaluate",
    "substitute",
    "is_expression",
    "FUNCTIONS",
    "MAX_SEQ",
]

FULL = re.compile(r"^\$\{(.*)\}$", re.S)
PART = re.compile(r"\$\{(.*?)\}", re.S)

_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_ORDER = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


def _binop(op: type, a, b, budget: Budget):
    """Type-check, bound, then compute one arithmetic operation."""
    sym = _SYMBOL[op]
    if is_num(a) and is_num(b):
        if op is ast.Pow:
            _check_power(a, b)
        elif (
            op is ast.Mult and is_int(a) and is_int(b) and abs(a).bit_length() + abs(b).bit_length() > MAX_INT_BITS + 1
        ):
            raise LimitError(f"an integer result has more than {MAX_INT_BITS} bits")
        try:
            return _ARITH[op](a, b)
        except ZeroDivisionError:
            raise ExprError("division by zero") from None
        except (OverflowError, ValueError, ArithmeticError) as exc:
            raise ExprError(f"{sym}: {exc}") from None
    if op is ast.Add and is_seq(a) and type(a) is type(b):
        _fits(len(a) + len(b), budget.size(a) + budget.size(b), "joining")
        return a + b
    if op is ast.Add and isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        _fits(len(a) + len(b), budget.size(a) + budget.size(b), "joining")
        return list(a) + list(b)
    if op is ast.Mult and (is_seq(a) and is_int(b) or is_int(a) and is_seq(b)):
        seq, n = (a, b) if is_seq(a) else (b, a)
        n = max(n, 0)
        _fits(
            len(seq) * n, budget.size(seq) * n, f"repeating a {'string' if isinstance(seq, str) else 'list'} {n} times"
        )
        return seq * n
    raise ExprError(f"cannot apply {sym} to {kind(a)} and {kind(b)}")


def _fits(length: int, size: int, what: str):
    if length > MAX_SEQ or size > MAX_SIZE:
        raise LimitError(f"{what} is too large (more than {MAX_SEQ:,} items, or {MAX_SIZE:,} in all)")


def _check_power(a, b):
    if abs(b) > 64:
        raise LimitError(f"exponent {b} is too large (at most 64)")
    need(not (a == 0 and b < 0), "division by zero (0 to a negative power)")
    need(not (a < 0 and isinstance(b, float) and not float(b).is_integer()), "a negative number to a fractional power")


def _compare(op: ast.cmpop, a, b, budget: Budget) -> bool:
    if isinstance(op, (ast.Eq, ast.NotEq)):
        budget.size(a)
        budget.size(b)
        return (a == b) == isinstance(op, ast.Eq)
    if isinstance(op, (ast.In, ast.NotIn)):
        if isinstance(b, str):
            need(isinstance(a, str), f"`in` a string needs a string on the left, not {kind(a)}")
        elif isinstance(b, dict):
            need(isinstance(a, str), f"`in` a mapping needs a string key on the left, not {kind(a)}")
        else:
            need(isinstance(b, (list, tuple)), f"`in` needs a list or a string on the right, not {kind(b)}")
            budget.size(b)
        return (a in b) == isinstance(op, ast.In)
    fn = _ORDER.get(type(op))
    need(fn is not None, "'is' comparisons are not allowed; use == or !=")
    same = (is_num(a) and is_num(b)) or (isinstance(a, str) and isinstance(b, str))
    need(same, f"cannot order {kind(a)} and {kind(b)}; compare numbers with numbers, strings with strings")
    return fn(a, b)


_DISPATCH: dict = {}  # node type -> visitor: one lookup per node instead of a getattr


class _Eval:
    def __init__(self, names: Mapping, budget: Budget):
        # The caller's table, only read: a spec binds each parameter with the ones before it in
        # scope, so a copy per expression made binding O(n^2). Comprehension variables, which
        # shadow it, live in `local` instead.
        self.names = names
        self.local: dict = {}
        self.budget = budget
        self.depth = 0

    def __call__(self, node):
        budget = self.budget
        budget.steps += 1  # Budget.charge, inlined: this runs for every node evaluated
        if budget.steps >= budget.next_check:
            budget.charge(0)
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
        value = node.value
        need(isinstance(value, (int, float, str, bool, type(None))), f"constant {value!r} is not allowed")
        return self.budget.result(value) if isinstance(value, (int, float)) else value

    def visit_Name(self, node):
        table = self.local if node.id in self.local else self.names
        if node.id in table:
            value = table[node.id]
            if type(value) is Deferred:  # a block's input shape, not known yet: the call is deferred
                value.read()
            return value
        if node.id in FUNCTIONS:
            raise ExprError(f"'{node.id}' is a function; call it: {node.id}(...)")
        if node.id in SHAPE_NAMES:
            raise ExprError(
                f"'{node.id}' is the shape of a block's input: it is defined only inside a block "
                "(its parameters' defaults, checks and nodes), not at the top level or in a call's `with:` there"
            )
        from .errors import did_you_mean

        known = sorted({*self.names, *self.local})
        hint = did_you_mean(node.id, known + list(FUNCTIONS))
        scope = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "") if known else "none"
        raise ExprError(f"name '{node.id}' is not defined (in scope: {scope})" + (f"; {hint}" if hint else ""))

    def visit_List(self, node):
        return self.budget.result([self(e) for e in node.elts])

    visit_Tuple = visit_List

    def visit_UnaryOp(self, node):
        value = self(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        need(not isinstance(node.op, ast.Invert), "bitwise operators are not allowed")
        sign = "-" if isinstance(node.op, ast.USub) else "+"
        need(is_num(value), f"cannot apply unary {sign} to {kind(value)}")
        return -value if sign == "-" else +value

    def visit_BinOp(self, node):
        need(type(node.op) in _ARITH, "bitwise and matrix operators are not allowed")
        left, right = self(node.left), self(node.right)
        return self.budget.result(_binop(type(node.op), left, right, self.budget))

    def visit_BoolOp(self, node):
        stop = not isinstance(node.op, ast.And)  # `and` stops at a false value, `or` at a true one
        value = stop
        for v in node.values:
            value = self(v)
            if bool(value) == stop:
                return value
        return value

    def visit_Compare(self, node):
        left = self(node.left)
        for op, comp in zip(node.ops, node.comparators):
            right = self(comp)
            try:
                if not _compare(op, left, right, self.budget):
                    return False
            except TypeError as exc:  # lists of mixed items compared in order
                raise ExprError(f"cannot compare {kind(left)} and {kind(right)}: {exc}") from None
            left = right
        return True

    def visit_IfExp(self, node):
        return self(node.body) if self(node.test) else self(node.orelse)

    def visit_Subscript(self, node):
        value = self(node.value)
        if isinstance(node.slice, ast.Slice):
            need(is_seq(value), f"cannot slice {kind(value)}; slice a list or a string")
            parts = [self(p) if p is not None else None for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            need(all(p is None or is_int(p) for p in parts), "slice bounds must be integers")
            need(parts[2] != 0, "slice step must not be zero")
            return value[slice(*parts)]
        index = self(node.slice)
        if isinstance(value, dict):
            need(isinstance(index, str), f"a mapping is indexed by a string key, not {kind(index)}")
            need(index in value, f"no key {index!r} (keys: {', '.join(map(str, list(value)[:20]))})")
            return value[index]
        need(is_seq(value), f"cannot index {kind(value)}")
        need(is_int(index), f"a list is indexed by an integer, not {kind(index)}")
        need(-len(value) <= index < len(value), f"index {index} is out of range for a length of {len(value)}")
        return value[index]

    def visit_ListComp(self, node):
        """`[expr for name in iterable if cond]`: one generator, plain names as targets."""
        need(
            len(node.generators) == 1 and not node.generators[0].is_async, "only one `for` per comprehension is allowed"
        )
        gen = node.generators[0]
        targets = gen.target.elts if isinstance(gen.target, ast.Tuple) else [gen.target]
        need(all(isinstance(t, ast.Name) for t in targets), "comprehension targets must be plain names")
        iterable = self(gen.iter)
        need(is_seq(iterable), f"cannot iterate over {kind(iterable)}")
        self.depth += 1
        need(self.depth <= 8, "comprehensions nest more than 8 deep")
        out, size = [], 0
        saved = self.local
        self.local = dict(saved)  # this comprehension's variables, gone when it ends
        try:
            for item in iterable:
                values = [item] if len(targets) == 1 else item
                need(
                    len(targets) == 1 or (isinstance(values, (list, tuple)) and len(values) == len(targets)),
                    f"cannot unpack {kind(item)} into {len(targets)} names",
                )
                self.local.update({t.id: v for t, v in zip(targets, values)})
                if all(self(cond) for cond in gen.ifs):
                    value = self(node.elt)
                    size += self.budget.size(value) + 1
                    _fits(len(out) + 1, size, "the comprehension")
                    out.append(value)
        finally:
            self.depth -= 1
            self.local = saved
        return out

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            raise ExprError(f"'{name}' cannot be called; allowed functions: {', '.join(FUNCTIONS)}")
        need(not node.keywords, "keyword arguments are not allowed in spec expressions")
        args = [self(a) for a in node.args]
        try:
            value = FUNCTIONS[node.func.id](self.budget, *args)
        except TypeError:  # a wrong number of arguments: the functions check types themselves
            raise ExprError(f"{node.func.id}() does not take {len(args)} argument{'s' * (len(args) != 1)}") from None
        except ExprError as exc:
            msg = str(exc)
            raise type(exc)(msg if msg.startswith(node.func.id) else f"{node.func.id}(): {msg}") from None
        except (ValueError, OverflowError, ArithmeticError) as exc:
            raise ExprError(f"{node.func.id}(): {exc}") from None
        return self.budget.result(value)


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
    except (RecursionError, MemoryError, ValueError):  # ValueError: a NUL byte in the source
        raise ExprError("the expression cannot be parsed (nested too deeply, or a NUL character)") from None


def evaluate(text: str, names: Mapping, spec: SpecBudget | None = None):
    """Evaluate one expression (the text inside `${...}`), its work counted against `spec` (all
    of one spec's expressions) when given. Raises only `ExprError`. `names` is read, never
    written or copied, so callers may pass a table they keep growing."""
    if len(text) > MAX_EXPR_LEN:
        raise LimitError(f"expression longer than {MAX_EXPR_LEN} characters")
    tree = _parse(text)
    budget = Budget(spec)
    try:
        return _Eval(names, budget)(tree)
    except RecursionError:
        raise LimitError("the expression nests too deeply") from None
    finally:
        budget.done()


def substitute(value, names: Mapping, spec: SpecBudget | None = None):
    """`${e}` alone gives e's value (any type); `${e}` inside text interpolates str(e)."""
    if isinstance(value, str) and "${" in value:
        full = FULL.match(value)
        if full and "${" not in full.group(1):
            inner = full.group(1).strip()
            if inner in names and inner.isidentifier():  # `${planes}`: most expressions are one name
                value = names[inner]
                if type(value) is Deferred:
                    value.read()
                return value
            return evaluate(full.group(1), names, spec)
        budget = Budget(spec)
        total = len(value)

        def part(m):
            nonlocal total
            text = text_of(evaluate(m.group(1), names, spec), budget)
            total += len(text)
            if total > MAX_SEQ:
                raise LimitError(f"the interpolated string is longer than {MAX_SEQ:,} characters")
            return text

        return PART.sub(part, value)
    return value


def is_expression(value) -> bool:
    return isinstance(value, str) and "${" in value
