"""Expansion pass: node entries to tree nodes — ops validated, blocks instantiated, repeats
unrolled, `when: false` entries dropped, unnamed nodes named by position."""

from __future__ import annotations

from collections import ChainMap
from dataclasses import replace

from pydantic import ValidationError

from . import expr
from .errors import Abort, Diagnostic, Fail, Loc, did_you_mean
from .exprlib import SHAPE_NAMES, Deferred, NeedsShape
from .load import LocDict, LocList
from .opnames import op_hint
from .ops import OPS
from .params import bind, short
from .spec import (
    CALL_KEYS,
    COMMON_KEYS,
    GROUP_KEYS,
    REPEAT_KEYS,
    TEMPLATES,
    GroupEntry,
    Repeat,
    entry_model,
    field_types,
)
from .tree import MAX_DEPTH, MAX_REPEAT, Ctx, Ref, ShapedCall, TGroup, TNode, TOp, derive, loc_at
from .validate import diagnostics, error_diagnostics, field_diagnostics


def expand_list(entries, ctx: Ctx, loc: Loc) -> tuple[list[TNode], dict[str, Loc]]:
    """Expand a sequence of entries; unnamed nodes are named by their position."""
    disabled: dict[str, Loc] = {}
    out = _entries(entries, ctx, loc, disabled)
    for position, item in enumerate(out):
        if item.name is None:
            item.name = str(position)
    check_duplicates(out, ctx)
    return out, {k: v for k, v in disabled.items() if all(n.name != k for n in out)}


def _entries(entries, ctx: Ctx, loc: Loc, disabled: dict, start: int = 0) -> list[TNode]:
    """Expand entries without naming them: an inline repeat splices its copies here, so their
    positions count from `start`, the copy's place in the enclosing sequence."""
    if not isinstance(entries, list):
        ctx.fail(
            "AS006",
            f"`nodes` must be a list of node entries, not {type(entries).__name__}",
            loc,
            hint="write `nodes:` followed by `- {op: ...}` entries",
        )
    out: list[TNode] = []
    for i, raw in enumerate(entries):
        where = entries.item_loc(i) if isinstance(entries, LocList) else loc
        try:
            out.extend(expand_entry(raw, ctx, where, disabled, start + len(out)))
        except Abort:
            raise
        except Fail as f:
            out.append(_placeholder(f, ctx, _placeholder_name(raw, ctx), start + len(out), where))
    return out


def _placeholder(f: Fail, ctx: Ctx, name: str | None, position: int, loc: Loc) -> TOp:
    """Record a failed entry's diagnostics at its node path and stand in for it, so the nodes
    reading it are skipped silently instead of reported as reading a missing node."""
    path = ctx.prefix + (name or str(position))
    ctx.state.diags.extend(d if d.node else d.with_node(path) for d in f.diagnostics)
    return TOp(name, loc, ctx.trace, None, None)


def _placeholder_name(raw, ctx: Ctx) -> str | None:
    """The name a failed entry would have had, so that nodes reading it are skipped, not
    reported as reading a missing node."""
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, str) and expr.is_expression(name):
        try:
            name = ctx.ev(name, loc_at(raw, "name"))
        except Fail:
            return None
    return name if isinstance(name, str) else None


def check_duplicates(nodes: list[TNode], ctx: Ctx):
    seen: dict[str, TNode] = {}
    for n in nodes:
        if n.name in seen:
            ctx.state.diags.append(
                Diagnostic(
                    "AS106",
                    f"two nodes here are named '{n.name}'",
                    n.loc,
                    node=ctx.prefix + n.name,
                    hint=f"the other '{n.name}' is at {seen[n.name].loc}; names must be unique among siblings",
                    trace=ctx.trace,
                )
            )
        else:
            seen[n.name] = n  # type: ignore[index]


def expand_entry(raw, ctx: Ctx, where: Loc, disabled: dict, position: int) -> list[TNode]:
    if not isinstance(raw, dict):
        shown = short(raw, 40)
        ctx.fail(
            "AS006",
            f"a node entry must be a mapping such as `{{op: relu}}`, not {shown}",
            where,
            hint="each list item is a mapping: `- {name: conv1, op: conv2d, channels: 64, kernel: 3}`",
        )
    ctx.state.count_node(where, ctx.trace, ctx.prefix.rstrip(".") or None)
    if ctx.prefix.count(".") >= MAX_DEPTH:
        ctx.fail(
            "AS007",
            f"groups and blocks nest more than {MAX_DEPTH} deep here",
            where,
            hint="flatten the nesting; generated code cannot nest deeper than Python's parser allows",
        )
    precheck(raw, ctx)
    if "repeat" in raw:
        return _repeat(raw, ctx, disabled, position)
    found = entry_model(raw)
    if found is None:
        keys = [k for k in raw if k not in COMMON_KEYS]
        hint = next(filter(None, (did_you_mean(k, ["op", "block", "nodes", "repeat"]) for k in keys)), None)
        ctx.fail(
            "AS104",
            "a node entry needs one of `op`, `block`, `nodes` or `repeat`",
            raw.loc,
            hint or "e.g. `- {op: conv2d, channels: 64, kernel: 3}`",
        )
    model, what = found
    head = resolve(raw, ctx, model, what, ("name", "when"))
    name = head.get("name")
    if not head.get("when", True):
        if name is not None:
            disabled[name] = raw.loc
        return []
    local = name if name is not None else str(position)
    if "op" in raw:
        entry = resolve(raw, ctx, model, what, ("in", "op"))
        return [_op(raw, ctx, name, _refs(raw, entry), entry["op"])]
    if "block" in raw:
        entry = resolve(raw, ctx, model, what, ("in", "block"))
        return [_call(raw, ctx, name, _refs(raw, entry), local, entry["block"])]
    entry = resolve(raw, ctx, model, what, ("in", "output"))
    return [_group(raw, ctx, name, _refs(raw, entry), local, entry.get("output"))]


def precheck(raw: LocDict, ctx: Ctx):
    """The entry's keys and literal values against its kind's model (spec.py): the grammar
    `archspec schema` publishes. Values holding expressions are checked by `resolve` once
    evaluated. A block body's entries are the same objects in every instance: checked once."""
    if id(raw) in ctx.state.checked:
        return
    found = entry_model(raw)
    if found is not None:
        model, what = found
        literal = {k: v for k, v in raw.items() if k in TEMPLATES or not _has_expression(v)}
        try:
            model.model_validate(literal)
        except ValidationError as exc:
            errors = [e for e in exc.errors(include_url=False) if e["type"] != "missing" or e["loc"][0] not in raw]
            diags = error_diagnostics(errors, raw, model, what, raw.loc, None)
            if diags:
                raise Fail(*(replace(d, trace=ctx.trace) for d in diags)) from None
    ctx.state.checked[id(raw)] = raw


def _has_expression(value) -> bool:
    if isinstance(value, str):
        return expr.is_expression(value)
    if isinstance(value, list):
        return any(_has_expression(v) for v in value)
    if isinstance(value, dict):
        return any(_has_expression(v) for v in value.values())
    return False


def resolve(raw: LocDict, ctx: Ctx, model, what: str, keys: tuple[str, ...]) -> dict:
    """The entry's values at `keys`, evaluated and validated against the types of `model`'s
    fields: the same grammar as literal values. Absent and null keys are left out."""
    types = field_types(model)
    out, diags = {}, []
    for key in keys:
        if raw.get(key) is None:
            continue
        value = raw[key] if _plain(raw[key]) else ctx.ev(raw[key], loc_at(raw, key))
        try:
            value = types[key].validate_python(value)
        except ValidationError as exc:
            diags.extend(replace(d, trace=ctx.trace) for d in field_diagnostics(exc, key, raw, model, what, value))
            continue
        if value is not None:  # `${None}` means absent, as a literal null does
            out[key] = value
    if diags:
        raise Fail(*diags)
    return out


def _only(raw: LocDict, allowed: tuple[str, ...], kind: str, ctx: Ctx):
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f"a {kind} entry takes: {', '.join(allowed)}"
            ctx.fail("AS102", f"a {kind} entry has no field '{key}'", raw.key_loc(key), hint)


def _refs(raw: LocDict, entry: dict) -> tuple[Ref, ...] | None:
    """The validated `in` references, each at its own position when written as a list."""
    if "in" not in entry:
        return None
    value = entry["in"]
    items = value if isinstance(value, list) else [value]
    locs = raw["in"].item_locs if isinstance(raw["in"], LocList) else [loc_at(raw, "in")] * len(items)
    return tuple(Ref(item, loc) for item, loc in zip(items, locs))


def _plain(value) -> bool:
    """True for a scalar without an expression: the common case, kept off the slow path."""
    return isinstance(value, (int, float)) or (isinstance(value, str) and "${" not in value)


def _op(raw: LocDict, ctx: Ctx, name, refs, op_name: str) -> TOp:
    if op_name not in OPS:
        ctx.fail("AS101", f"unknown op {short(op_name)}", loc_at(raw, "op"), op_hint(op_name, OPS))
    for key in raw:
        if key in REPEAT_KEYS + GROUP_KEYS + CALL_KEYS:
            ctx.fail(
                "AS102",
                f"'{key}' cannot be combined with 'op' in one entry",
                raw.key_loc(key),
                "an entry is one of: an op, a block call, a group (nodes) or a repeat",
            )
    fields = {k: v if _plain(v) else ctx.ev(v, raw.value_loc(k)) for k, v in raw.items() if k not in COMMON_KEYS}
    model = OPS[op_name]
    try:
        op = model.model_validate(fields)
    except ValidationError as exc:
        diags = diagnostics(exc, raw, model, op_name, raw.loc, values=fields)
        raise Fail(*(Diagnostic(d.code, d.message, d.loc, hint=d.hint, trace=ctx.trace) for d in diags)) from None
    return TOp(name, raw.loc, ctx.trace, refs, op)


def _group(raw: LocDict, ctx: Ctx, name, refs, local: str, output: str | None) -> TGroup:
    children, disabled = expand_list(raw["nodes"], ctx.inside(local), loc_at(raw, "nodes"))
    ref = Ref(output, loc_at(raw, "output")) if output is not None else None
    return TGroup(name, raw.loc, ctx.trace, refs, children, None, ref, None, disabled)


def _call(raw: LocDict, ctx: Ctx, name, refs, local: str, block_name: str, known: tuple | None = None) -> TGroup:
    """Instantiate a block. A block that reads its input's shape before it is `known` comes back
    empty, with `shaped` set: the inputshape pass instantiates it again once shapes are inferred."""
    info = ctx.blocks.get(block_name) or ctx.home.get(block_name)
    if info is None:
        defined = sorted(set(ctx.blocks) | set(ctx.home))
        hint = did_you_mean(block_name, defined) or (
            f"defined blocks: {', '.join(defined)}" if defined else "define it under `blocks:` or import it"
        )
        ctx.fail("AS301", f"unknown block {short(block_name)}", loc_at(raw, "block"), hint)
    if block_name in ctx.stack:
        chain = " -> ".join((*ctx.stack[ctx.stack.index(block_name) :], block_name))
        ctx.fail(
            "AS302",
            f"block '{block_name}' includes itself ({chain})",
            loc_at(raw, "block"),
            "a block cannot contain a call to itself, directly or through other blocks",
        )
    if len(ctx.stack) >= MAX_DEPTH:
        ctx.fail(
            "AS007",
            f"blocks nest deeper than {MAX_DEPTH} levels",
            raw.loc,
            hint="flatten the block hierarchy; blocks calling blocks more than 64 deep is almost surely a mistake",
        )
    token = object()  # whose input shape a deferred read is waiting for: this call's
    shape = shape_names(tuple(info.model.inputs), known, token)
    mark = ctx.state.mark()
    try:
        args = bind(info, raw.get("with") or LocDict(), ctx, raw.loc, shape)
        trace = (raw.loc, *ctx.trace)
        sub = ctx.inside(local, vars={**shape, **args}, home=info.home, stack=(*ctx.stack, block_name), trace=trace)
        children, disabled = expand_list(info.raw["nodes"], sub, loc_at(info.raw, "nodes"))
        output = resolve(info.raw, sub, GroupEntry, f"block '{block_name}'", ("output",)).get("output")
    except NeedsShape as need:
        if need.token is not token:  # an enclosing block's input shape: that call is deferred
            raise
        ctx.state.rewind(mark)  # what the partial expansion reported is found again when it runs
        call = ShapedCall(raw, ctx, block_name, need.name)
        return TGroup(name, raw.loc, ctx.trace, refs, [], tuple(info.model.inputs), None, block_name, shaped=call)
    output = Ref(output, loc_at(info.raw, "output")) if output is not None else None
    group = TGroup(name, raw.loc, ctx.trace, refs, children, tuple(info.model.inputs), output, block_name, disabled)
    if known is not None:
        group.shaped = ShapedCall(raw, ctx, block_name, "", known[0])
    return group


def shape_names(inputs: tuple[str, ...], known: tuple | None, token: object) -> dict:
    """What a block's expressions read its input's shape by: `in_shape` (the first input's shape
    without the batch dimension), `in_channels` (its channel or feature count) and `in_shapes`
    (input name -> shape). Before the shapes are known, each is a `Deferred` that defers the call."""
    if known is None:
        return {n: Deferred(token, n) for n in SHAPE_NAMES}
    shapes, channels = known
    return {
        "in_shape": list(shapes[0]),
        "in_channels": channels,
        "in_shapes": {name: list(s) for name, s in zip(inputs, shapes)},
    }


def instantiate_shaped(group: TGroup, known: tuple) -> None:
    """Instantiate a deferred call (or again, a stale one) now that its input shapes are `known`:
    (shapes, channels of the first). The group keeps its place in the tree; raises `Fail`."""
    call = group.shaped
    assert call is not None and group.name is not None
    new = _call(call.raw, call.ctx, group.name, group.refs, group.name, call.block, known)
    group.children, group.output, group.disabled = new.children, new.output, new.disabled
    group.shaped = replace(new.shaped or call, reads=call.reads)


def _repeat(raw: LocDict, ctx: Ctx, disabled: dict, position: int) -> list[TNode]:
    what = (entry_model(raw) or (Repeat, "a repeat"))[1]
    head = resolve(raw, ctx, Repeat, what, ("name", "when"))
    name = head.get("name")
    if not head.get("when", True):
        if name is not None:
            disabled[name] = raw.loc
        return []
    entry = resolve(raw, ctx, Repeat, what, ("repeat", "as", "index", "inline", "in"))
    if "repeat" not in entry:  # `repeat:` null, or a ${...} that gave None: absent, yet it made this a repeat
        ctx.fail(
            "AS104",
            "`repeat` has no value: a repeat needs a count or a list",
            loc_at(raw, "repeat"),
            "write a count (`repeat: 3`) or a list (`repeat: ${[64, 128]}`), or drop the key",
        )
    count = entry["repeat"]
    size = count if isinstance(count, int) else len(count)
    if size > MAX_REPEAT:
        ctx.fail(
            "AS007",
            f"`repeat` of {size:,} is more than {MAX_REPEAT:,}",
            loc_at(raw, "repeat"),
            "check the repeat count and the parameters it is computed from",
        )
    items = range(count) if isinstance(count, int) else count
    var, index, inline = entry.get("as", "i"), entry.get("index"), entry.get("inline", False)
    if inline and name is not None:
        ctx.fail(
            "AS102",
            "an inline repeat has no name: its copies join the enclosing sequence",
            raw.key_loc("name"),
            hint="remove `name`, or remove `inline` to make a named group of the copies",
        )
    template = derive(raw, REPEAT_KEYS + COMMON_KEYS)
    if not template:
        ctx.fail(
            "AS104",
            "`repeat` needs something to repeat: `op`, `block` or `nodes`",
            raw.loc,
            hint="add `op:`, `block:` or `nodes:` beside `repeat`",
        )
    refs = _refs(raw, entry)
    dissolve = inline and "nodes" in template and not ({"op", "block"} & set(template))
    if dissolve:
        _only(template, ("nodes",), "inline repeat of nodes", ctx)
        if raw.get("names") is not None:
            ctx.fail(
                "AS102",
                "`names` has no effect on an inline repeat of `nodes`: name the members instead",
                raw.key_loc("names"),
                hint="to make named groups, repeat a block call (`block:` + `with:`) or drop `inline`",
            )
    children: list[TNode] = []
    group_ctx = ctx if inline else ctx.inside(name if name is not None else str(position))
    for i, item in enumerate(items):
        # a layered scope, not a copy: copying the parameters per copy costs parameters x copies
        names = ChainMap({var: item, index: i} if index else {var: item}, ctx.vars)
        sub = replace(group_ctx, vars=names)
        if dissolve:  # an inline group template: its members join the enclosing sequence
            start = position + len(children)
            children.extend(_entries(template["nodes"], sub, loc_at(template, "nodes"), disabled, start))
            continue
        pos = position + len(children) if inline else len(children)
        copy_name = None
        try:
            entry = template
            if raw.get("names") is not None:
                copy_name = sub.ev(raw["names"], loc_at(raw, "names"))
                entry = derive(template, (), name=copy_name)
                entry.value_locs["name"] = loc_at(raw, "names")
            children.extend(expand_entry(entry, sub, raw.loc, {}, pos))
        except Abort:
            raise
        except Fail as f:  # this copy only: the others carry on
            children.append(_placeholder(f, sub, copy_name if isinstance(copy_name, str) else None, pos, raw.loc))
    if inline:
        if refs and children:
            children[0].refs = children[0].refs or refs
        return children
    for pos, child in enumerate(children):
        child.name = child.name if child.name is not None else str(pos)
    check_duplicates(children, ctx)
    return [TGroup(name, raw.loc, ctx.trace, refs, children)]
