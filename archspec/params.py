"""Expansion pass: parameters bound — a spec's defaults and overrides, a block call's arguments,
`checks:` evaluated, inputs declared."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .errors import Loc, did_you_mean, fail
from .exprlib import SHAPE_NAMES, Budget, LimitError
from .load import LocDict, LocList
from .opbase import MAX_DIM
from .spec import identifier_problem
from .tree import BlockInfo, Ctx, State, loc_at

if TYPE_CHECKING:
    from .files import File


def bind(info: BlockInfo, args_raw, ctx: Ctx, call_loc: Loc, shape: dict | None = None) -> dict:
    """A call's parameter values: its arguments, evaluated in the caller's context, then the
    defaults, which see the parameters before them and `shape` (the block's input shape names)."""
    declared = info.model.params
    for key in args_raw:
        if key not in declared:
            hint = did_you_mean(key, declared) or f"block '{info.name}' takes: {', '.join(declared) or 'nothing'}"
            where = args_raw.key_loc(key) if isinstance(args_raw, LocDict) else call_loc
            ctx.fail("AS202", f"block '{info.name}' has no parameter '{key}'", where, hint)
    # Arguments first: a default that waits for the input shape must not leave one unevaluated.
    given = {key: ctx.ev(args_raw[key], loc_at(args_raw, key)) for key in declared if key in args_raw}
    values: dict = {}
    # What defaults and checks see: the shape names, shadowed by the parameters bound so far. One
    # table grown in place, not a copy per parameter: copies made binding n parameters O(n^2).
    scope = dict(shape or {})
    params_raw = info.raw.get("params") or LocDict()
    for key, default in declared.items():
        if key in given:
            values[key] = given[key]
        elif default is None:
            ctx.fail(
                "AS203", f"block '{info.name}' needs parameter '{key}'", call_loc, f"pass it: `with: {{{key}: ...}}`"
            )
        else:  # defaults may refer to the parameters before them
            values[key] = ctx.ev(params_raw[key], loc_at(params_raw, key), names=scope)
        scope[key] = values[key]
    run_checks(info.raw, scope, ctx, f"block '{info.name}'", call_loc)
    return values


def run_checks(raw: LocDict, values: dict, ctx: Ctx, who: str, at: Loc | None):
    """Evaluate `checks:`; a block's failure is located at its call, a spec's at the check."""
    checks = raw.get("checks") or []
    for i, check in enumerate(checks):
        loc = checks.item_loc(i) if isinstance(checks, LocList) else raw.loc
        ok = ctx.ev(check["that"], loc_at(check, "that"), names=values)
        if ok is not True and ok is not False:
            ctx.fail(
                "AS103",
                f"a check must be true or false, not {short(ok)}",
                loc_at(check, "that"),
                "write a comparison, e.g. `that: ${depth % 6 == 2}`",
            )
        if not ok:
            params = [(k, v) for k, v in values.items() if k not in SHAPE_NAMES or k in (raw.get("params") or {})]
            shown = ", ".join(f"{k}={short(v)}" for k, v in params[:20])
            where = f"check at {loc}; " if at is not None else ""
            ctx.fail("AS204", f"{who}: {check['message']}", at or loc, f"{where}parameters: {shown}")


class Overrides(dict):
    """Parameter overrides that remember where they were written, so a mistake in one is located
    at it: `<command line>: --set widht=2`, or `<load() arguments>: widht=2`."""

    def __init__(self, values=(), origin: str = "<load() arguments>", texts: dict[str, str] | None = None):
        super().__init__(values)
        self.origin = origin
        self.texts = dict(texts or {})

    def text(self, key: str) -> str:
        return self.texts.get(key) or f"{key}={short(self[key])}"


def short(value, limit: int = 60) -> str:
    """A value as messages show it: a bounded repr (a parameter can be a 100,000-item list)."""
    if isinstance(value, (list, tuple, dict)) and len(value) > limit:
        value = list(value)[:limit] if not isinstance(value, dict) else dict(list(value.items())[:limit])
    text = repr(value) if not isinstance(value, int) or abs(value).bit_length() < 1000 else "a very large integer"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_overrides(overrides: dict, declared: dict, spec: str):
    given = overrides if isinstance(overrides, Overrides) else Overrides(overrides)
    where = Loc(given.origin)
    for key in given:
        if not isinstance(key, str) or key not in declared:
            hint = did_you_mean(str(key), declared) or f"its parameters: {', '.join(declared) or 'none'}"
            fail("AS202", f"{given.text(key)}: {spec} has no parameter '{key}' to override", where, hint)
        problem = _plain_problem(given[key])
        if problem:
            fail(
                "AS103",
                f"{given.text(key)}: {problem}",
                where,
                hint="override with numbers, strings, booleans, null, and lists or mappings of them",
            )


def _plain_problem(value) -> str | None:
    """Why an override is not plain spec data (what YAML can write), bounded in size and nesting."""
    budget = Budget()
    try:
        budget.size(value)
    except LimitError as exc:
        return str(exc)
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                return "mapping keys must be strings"
            stack.extend(v.values())
        elif isinstance(v, float) and not math.isfinite(v):
            return f"{v} is not a finite number"
        elif not isinstance(v, (str, int, float, bool, type(None))):
            return f"a value of Python type {type(v).__name__!r} is not spec data"
    return None


def bind_spec(chain: list[File], overrides: dict, state: State) -> dict:
    declared: dict[str, tuple[Any, Loc]] = {}
    for f in chain:
        raw = f.raw.get("params") or LocDict()
        for key, value in raw.items():
            problem = identifier_problem(key)
            if problem:
                fail(
                    "AS105",
                    f"invalid parameter name: {problem}",
                    raw.key_loc(key),
                    hint="parameter names are identifiers such as `num_classes`",
                )
            declared[key] = (value, raw.value_loc(key))
    _check_overrides(overrides, declared, str(chain[-1].path))
    ctx = Ctx({}, {}, {}, state)
    values: dict = {}
    for key, (value, loc) in declared.items():
        # Each default sees the parameters before it: `values` itself, not a copy (O(n^2) for n
        # parameters); evaluation never writes to the table it is given (expr.evaluate).
        values[key] = overrides[key] if key in overrides else ctx.ev(value, loc, names=values)
    for f in chain:
        run_checks(f.raw, values, ctx, "parameter check failed", None)
    return values


def _dim(d) -> bool:
    return isinstance(d, int) and not isinstance(d, bool) and 0 < d <= MAX_DIM


def inputs_of(chain: list[File], ctx: Ctx) -> dict[str, tuple[tuple[int, ...], Loc]]:
    f = next((f for f in reversed(chain) if f.spec.inputs is not None), None)
    if f is None:
        fail(
            "AS104",
            "the spec declares no `inputs`",
            chain[-1].raw.loc,
            "declare them without the batch dimension, e.g. `inputs: {x: [3, 224, 224]}`",
        )
    raw = f.raw["inputs"]
    out = {}
    for name, dims in raw.items():
        problem = identifier_problem(name)
        if problem:
            fail(
                "AS105",
                f"invalid input name: {problem}",
                raw.key_loc(name),
                hint="input names are identifiers such as `x` or `image`",
            )
        shape = ctx.ev(dims, raw.value_loc(name))
        if not isinstance(shape, list) or not shape or not all(_dim(d) for d in shape):
            fail(
                "AS103",
                f"input '{name}' shape {short(shape)} must be a list of positive integers",
                raw.value_loc(name),
                "give the shape without the batch dimension, e.g. [3, 224, 224]; sizes up to 2^31 - 1",
            )
        out[name] = (tuple(shape), raw.value_loc(name))
    return out
