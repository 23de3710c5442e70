"""Values, bounds and functions of `${...}` expressions (the evaluator is in expr.py).

Specs are untrusted, so every operation checks its operands' types before it runs and
every result is measured against the limits below before it is built. Each limit is a
`LimitError` (error AS205), every other failure an `ExprError` (AS201); nothing else
escapes. docs/spec.md#limits lists the same numbers.
"""

from __future__ import annotations

import math
import time

MAX_EXPR_LEN = 1000  # characters between ${ and }
MAX_INT_BITS = 256  # integers, in bits
MAX_SEQ = 100_000  # items of a list, characters of a string
MAX_SIZE = 1_000_000  # a value's items and characters, nested lists counted in full
MAX_NESTING = 32  # lists inside lists
MAX_STEPS = 200_000  # units of work of one expression (an item visited, a node evaluated)
MAX_SPEC_STEPS = 5_000_000  # units of work of all a spec's expressions (a cheap one repeated 100,000 times)
MAX_SECONDS = 5.0  # wall time of one expression: a backstop, the step counts are the deterministic bound


class ExprError(Exception):
    """Evaluation failed; the message says what and is shown to the user (AS201)."""

    code = "AS201"


class LimitError(ExprError):
    """The expression passed one of the bounds on work and size (AS205)."""

    code = "AS205"


def kind(value) -> str:
    """A value's type in the words of the spec language."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def is_num(v) -> bool:
    return isinstance(v, (int, float))  # bool is an int: True + 1 == 2, as in Python


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_seq(v) -> bool:
    return isinstance(v, (list, tuple, str))


class SpecBudget:
    """What all of one spec's expressions may spend together: steps, and a wall-clock backstop."""

    def __init__(self, deadline: float | None = None):
        self.deadline = deadline if deadline is not None else time.monotonic() + 3600.0
        self.steps = 0


class Budget:
    """Work done by one evaluation, within its own bounds and what is left of the spec's."""

    def __init__(self, spec: SpecBudget | None = None):
        self.spec = spec
        now = time.monotonic()
        self.deadline = min(now + MAX_SECONDS, spec.deadline) if spec is not None else now + MAX_SECONDS
        self.limit = min(MAX_STEPS, MAX_SPEC_STEPS - spec.steps) if spec is not None else MAX_STEPS
        self.steps = 0
        self.next_check = min(1024, self.limit + 1)  # the step count at which to look at the limits again

    def charge(self, n: int = 1):
        self.steps += n
        if self.steps > self.limit:
            if self.limit < MAX_STEPS:
                raise LimitError(f"the spec's expressions do more than {MAX_SPEC_STEPS:,} steps of work in all")
            raise LimitError(f"the expression does more than {MAX_STEPS:,} steps of work")
        if self.steps >= self.next_check:
            self.next_check = min(self.steps + 1024, self.limit + 1)
            if time.monotonic() > self.deadline:
                raise LimitError(f"the expression ran past its time limit ({MAX_SECONDS:g} s, or the spec's)")

    def done(self):
        """Count this evaluation's work against the spec's."""
        if self.spec is not None:
            self.spec.steps += self.steps
            self.steps = 0

    def size(self, value, limit: int = MAX_SIZE) -> int:
        """Items and characters in `value`, counting shared sub-lists each time; stops past `limit`."""
        total, stack = 0, [(value, 0)]
        while stack:
            v, depth = stack.pop()
            if isinstance(v, str):
                total += len(v)
            elif isinstance(v, (list, tuple, dict)):
                if depth >= MAX_NESTING:
                    raise LimitError(f"a value nests lists more than {MAX_NESTING} deep")
                items = list(v.items()) if isinstance(v, dict) else v
                total += len(items)
                self.charge(len(items))
                stack.extend((x, depth + 1) for x in items)
            else:
                total += 1
            if total > limit:
                raise LimitError(f"a value is larger than {limit:,} items and characters")
        return total

    def result(self, value):
        """Check a value just made against the bounds; pass it through."""
        if type(value) is int:  # the common case first
            if value.bit_length() > MAX_INT_BITS:
                raise LimitError(f"an integer result has more than {MAX_INT_BITS} bits")
            return value
        if is_int(value) and value.bit_length() > MAX_INT_BITS:
            raise LimitError(f"an integer result has more than {MAX_INT_BITS} bits")
        if isinstance(value, float) and not math.isfinite(value):
            raise ExprError(f"the result is {value}, not a finite number")
        if is_seq(value) and len(value) > MAX_SEQ:
            raise LimitError(f"a result is longer than {MAX_SEQ:,} items")
        if isinstance(value, (list, tuple, dict)):
            self.size(value)
        return value


class NeedsShape(Exception):  # noqa: N818 - a signal, not an error: the caller defers and retries
    """An expression read a block's input shape before it is known. Not an `ExprError`: the block
    call that owns `token` catches it and is instantiated again once shapes are inferred."""

    def __init__(self, token: object, name: str):
        super().__init__(name)
        self.token, self.name = token, name


class Deferred:
    """The value of `in_shape`, `in_channels` or `in_shapes` while the block's input shape is not
    known yet; reading it raises `NeedsShape` (expr.py), so it never reaches an operation."""

    __slots__ = ("name", "token")

    def __init__(self, token: object, name: str):
        self.token, self.name = token, name

    def read(self):
        raise NeedsShape(self.token, self.name)


# The names a block's expressions read its input's shape by (instantiate.shape_names binds them).
SHAPE_NAMES = ("in_shape", "in_channels", "in_shapes")


def need(ok: bool, message: str):
    if not ok:
        raise ExprError(message)


def text_of(value, budget: Budget) -> str:
    """`str(value)`, measured first: a list repeated by reference can print to gigabytes."""
    budget.size(value, MAX_SEQ)
    return str(value)


# --- functions -------------------------------------------------------------------------------


def _int(budget, x=0):
    need(is_num(x) or isinstance(x, str), f"int() takes a number or a string, not {kind(x)}")
    if isinstance(x, float):
        need(math.isfinite(x), f"int() of {x}")
    if isinstance(x, str):
        need(len(x) <= 100, "int() of a string longer than 100 characters")
        try:
            return int(x)
        except ValueError:
            raise ExprError(f"int() cannot read {x!r} as an integer") from None
    return int(x)


def _float(budget, x=0.0):
    need(is_num(x) or isinstance(x, str), f"float() takes a number or a string, not {kind(x)}")
    if isinstance(x, str):
        need(len(x) <= 100, "float() of a string longer than 100 characters")
        try:
            return float(x)
        except ValueError:
            raise ExprError(f"float() cannot read {x!r} as a number") from None
    try:
        return float(x)
    except OverflowError:
        raise ExprError("float(): the integer is too large for a number") from None


def _round(budget, x, digits=None):
    need(is_num(x), f"round() takes a number, not {kind(x)}")
    need(digits is None or (is_int(digits) and abs(digits) <= 400), "round()'s digits must be an integer up to 400")
    if isinstance(x, float) and digits is None:
        need(math.isfinite(x), f"round() of {x}")
    return round(x, digits) if digits is not None else round(x)


def _extreme(fn, name):
    def call(budget, *args):
        items = args[0] if len(args) == 1 else list(args)
        need(len(args) >= 1, f"{name}() needs a list or at least two arguments")
        need(isinstance(items, (list, tuple)), f"{name}() of one argument takes a list, not {kind(items)}")
        need(len(items) > 0, f"{name}() of an empty list")
        numbers = all(is_num(v) for v in items)
        need(numbers or all(isinstance(v, str) for v in items), f"{name}() compares numbers, or strings")
        budget.charge(len(items))
        return fn(items)

    return call


def _abs(budget, x):
    need(is_num(x), f"abs() takes a number, not {kind(x)}")
    return abs(x)


def _len(budget, x):
    need(is_seq(x) or isinstance(x, dict), f"len() takes a list or a string, not {kind(x)}")
    return len(x)


def _sum(budget, items, start=0):
    need(isinstance(items, (list, tuple)), f"sum() takes a list, not {kind(items)}")
    need(is_num(start) and all(is_num(v) for v in items), "sum() adds numbers; join lists with `+`")
    budget.charge(len(items))
    total = start
    for v in items:
        total = budget.result(total + v)
    return total


def _str(budget, x=""):
    return text_of(x, budget)


def _bool(budget, x=False):
    return bool(x)


def _math(fn, name):
    def call(budget, x):
        need(is_num(x), f"{name}() takes a number, not {kind(x)}")
        if isinstance(x, float):
            need(math.isfinite(x), f"{name}() of {x}")
        need(name != "sqrt" or x >= 0, "sqrt() of a negative number")
        return fn(x)

    return call


def _make_divisible(budget, v, divisor, min_value=None):
    """torchvision.models._utils._make_divisible: `v` rounded to the nearest multiple of `divisor`,
    at least `min_value` (default `divisor`), and never more than 10% below `v`."""
    need(is_num(v) and not isinstance(v, bool), f"make_divisible() takes a number, not {kind(v)}")
    need(is_int(divisor) and divisor > 0, "make_divisible()'s divisor must be a positive integer")
    need(min_value is None or is_num(min_value), f"make_divisible()'s min_value is a number, not {kind(min_value)}")
    if isinstance(v, float):
        need(math.isfinite(v), f"make_divisible() of {v}")
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # make sure that rounding down does not go down by more than 10%
        new_v += divisor
    return new_v


def _log(budget, x, base=None):
    need(is_num(x) and x > 0, f"log() takes a positive number, not {x if is_num(x) else kind(x)}")
    need(base is None or (is_num(base) and base > 0 and base != 1), "log()'s base is a positive number other than 1")
    return math.log(x) if base is None else math.log(x, base)


def _exp(budget, x):
    need(is_num(x), f"exp() takes a number, not {kind(x)}")
    need(x <= 700, f"exp({x}) is too large for a number")
    return math.exp(x)


def _range(budget, *args):
    need(1 <= len(args) <= 3, "range() takes 1 to 3 integers")
    need(all(is_int(a) for a in args), "range() takes integers")
    need(len(args) < 3 or args[2] != 0, "range() step must not be zero")
    r = range(*args)
    if len(r) > MAX_SEQ:
        raise LimitError(f"range longer than {MAX_SEQ:,}")
    budget.charge(len(r))
    return list(r)


def _enumerate(budget, seq):
    need(is_seq(seq), f"enumerate() takes a list or a string, not {kind(seq)}")
    budget.charge(len(seq))
    return [[i, v] for i, v in enumerate(seq)]


def _zip(budget, *seqs):
    need(all(is_seq(s) for s in seqs), "zip() takes lists or strings")
    out = [list(p) for p in zip(*seqs)]
    budget.charge(len(out) * max(1, len(seqs)))
    return out


FUNCTIONS = {
    "int": _int,
    "float": _float,
    "round": _round,
    "min": _extreme(min, "min"),
    "max": _extreme(max, "max"),
    "abs": _abs,
    "len": _len,
    "sum": _sum,
    "str": _str,
    "bool": _bool,
    "floor": _math(math.floor, "floor"),
    "ceil": _math(math.ceil, "ceil"),
    "sqrt": _math(math.sqrt, "sqrt"),
    "log": _log,
    "exp": _exp,
    "make_divisible": _make_divisible,
    "range": _range,
    "enumerate": _enumerate,
    "zip": _zip,
}
