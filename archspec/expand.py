"""Stage 3 — expand: spec files to a tree of concrete nodes.

Resolves `extends` chains and `imports`, binds parameters (defaults, then
overrides), evaluates `${...}` expressions, instantiates blocks, unrolls
repeats, drops `when: false` entries, validates every op against its model,
and applies a variant's remove/replace/append edits. References between nodes
stay textual here; `archspec.graph` resolves them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from . import expr
from .errors import Diagnostic, Fail, Loc, did_you_mean, fail
from .load import LocDict, LocList, load_yaml, read_spec_file
from .ops import OPS, Op
from .spec import (
    CALL_KEYS,
    COMMON_KEYS,
    GROUP_KEYS,
    REPEAT_KEYS,
    BlockDef,
    SpecFile,
    identifier_problem,
)
from .validate import diagnostics

MAX_NODES = 500_000
MAX_REPEAT = 100_000
MAX_DEPTH = 64


class Ref(NamedTuple):
    text: str  # as written: 'bn3', 'x', 'layer1.0'
    loc: Loc
    training_only: bool = False  # for outputs: an auxiliary head


@dataclass
class TNode:
    name: str | None
    loc: Loc
    trace: tuple[Loc, ...]
    refs: tuple[Ref, ...] | None  # None: the previous sibling (or the scope's input)


@dataclass
class TOp(TNode):
    op: Op | None = None  # None: the entry failed validation; dependents are skipped quietly


@dataclass
class TGroup(TNode):
    children: list[TNode] = field(default_factory=list)
    inputs: tuple[str, ...] | None = None  # a block's input names: its scope is closed
    output: Ref | None = None
    block: str | None = None
    disabled: dict[str, Loc] = field(default_factory=dict)  # names switched off by `when`


@dataclass
class Expanded:
    """A spec file expanded to a tree: the input of `archspec.graph`."""

    name: str
    file: str
    params: dict[str, Any]
    inputs: dict[str, tuple[tuple[int, ...], Loc]]
    outputs: list[Ref] | None
    root: TGroup
    diagnostics: list[Diagnostic]


@dataclass
class Library:
    """A file with blocks and no network: checked for structure only."""

    name: str
    file: str
    blocks: list[str]
    diagnostics: list[Diagnostic]


class BlockInfo(NamedTuple):
    name: str
    model: BlockDef
    raw: LocDict
    home: dict  # the defining file's own table, for the blocks its body calls


@dataclass
class _State:
    diags: list[Diagnostic] = field(default_factory=list)
    nodes: int = 0
    tables: dict[Path, dict[str, BlockInfo]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Ctx:
    vars: dict
    blocks: dict[str, BlockInfo]
    home: dict[str, BlockInfo]
    state: _State
    stack: tuple[str, ...] = ()
    trace: tuple[Loc, ...] = ()
    prefix: str = ""  # path of the enclosing group, with a trailing dot

    def inside(self, name: str, **changes) -> _Ctx:
        return replace(self, prefix=f"{self.prefix}{name}.", **changes)

    def ev(self, value, loc: Loc, names: dict | None = None):
        """Evaluate `${...}` in a value (recursively through lists and mappings)."""
        names = self.vars if names is None else names
        if isinstance(value, str):
            if not expr.is_expression(value):
                return value
            try:
                return expr.substitute(value, names)
            except expr.ExprError as exc:
                scope = "the block's parameters" if self.stack else "the spec's parameters"
                fail(
                    "AS201",
                    f"in {value!r}: {exc}",
                    loc,
                    f"expressions see {scope}, repeat indices and the functions in docs/spec.md#expressions",
                )
        if isinstance(value, LocList):
            return [self.ev(v, value.item_loc(i), names) for i, v in enumerate(value)]
        if isinstance(value, list):
            return [self.ev(v, loc, names) for v in value]
        if isinstance(value, LocDict):
            return {k: self.ev(v, value.value_loc(k), names) for k, v in value.items()}
        if isinstance(value, dict):
            return {k: self.ev(v, loc, names) for k, v in value.items()}
        return value

    def fail(self, code: str, message: str, loc: Loc, hint: str):
        raise Fail(Diagnostic(code, message, loc, hint=hint, trace=self.trace))


def _loc(raw, key: str | None = None) -> Loc:
    if key is not None and isinstance(raw, LocDict):
        return raw.value_loc(key)
    return getattr(raw, "loc", Loc("<unknown>"))


def _derive(raw: LocDict, drop: tuple[str, ...], **extra) -> LocDict:
    """A copy of an entry without some keys (positions kept), plus computed values."""
    out = LocDict({k: v for k, v in raw.items() if k not in drop})
    out.loc = raw.loc
    out.key_locs = dict(raw.key_locs)
    out.value_locs = dict(raw.value_locs)
    for k, v in extra.items():
        out[k] = v
    return out


# --- node entries -----------------------------------------------------------------------------


def expand_list(entries, ctx: _Ctx, loc: Loc) -> tuple[list[TNode], dict[str, Loc]]:
    """Expand a sequence of entries; unnamed nodes are named by their position."""
    disabled: dict[str, Loc] = {}
    out = _entries(entries, ctx, loc, disabled)
    for position, item in enumerate(out):
        if item.name is None:
            item.name = str(position)
    _check_duplicates(out, ctx)
    return out, {k: v for k, v in disabled.items() if all(n.name != k for n in out)}


def _entries(entries, ctx: _Ctx, loc: Loc, disabled: dict) -> list[TNode]:
    """Expand entries without naming them: an inline repeat splices its copies here."""
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
            out.extend(_entry(raw, ctx, where, disabled, len(out)))
        except Fail as f:
            out.append(_placeholder(f, ctx, _placeholder_name(raw, ctx), len(out), where))
    return out


def _placeholder(f: Fail, ctx: _Ctx, name: str | None, position: int, loc: Loc) -> TOp:
    """Record a failed entry's diagnostics at its node path and stand in for it, so the nodes
    reading it are skipped silently instead of reported as reading a missing node."""
    path = ctx.prefix + (name or str(position))
    ctx.state.diags.extend(d if d.node else d.with_node(path) for d in f.diagnostics)
    return TOp(name, loc, ctx.trace, None, None)


def _placeholder_name(raw, ctx: _Ctx) -> str | None:
    """The name a failed entry would have had, so that nodes reading it are skipped, not
    reported as reading a missing node."""
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, str) and expr.is_expression(name):
        try:
            name = ctx.ev(name, _loc(raw, "name"))
        except Fail:
            return None
    return name if isinstance(name, str) else None


def _check_duplicates(nodes: list[TNode], ctx: _Ctx):
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


def _entry(raw, ctx: _Ctx, where: Loc, disabled: dict, position: int) -> list[TNode]:
    if not isinstance(raw, dict):
        shown = repr(raw) if len(repr(raw)) < 40 else type(raw).__name__
        ctx.fail(
            "AS006",
            f"a node entry must be a mapping such as `{{op: relu}}`, not {shown}",
            where,
            hint="each list item is a mapping: `- {name: conv1, op: conv2d, channels: 64, kernel: 3}`",
        )
    ctx.state.nodes += 1
    if ctx.state.nodes > MAX_NODES:
        ctx.fail(
            "AS007",
            f"the network expands to more than {MAX_NODES:,} nodes",
            where,
            "check repeat counts and parameters; this limit guards against runaway specs",
        )
    if "repeat" in raw:
        return _repeat(raw, ctx, disabled, position)
    name = _name(raw, ctx)
    local = name if name is not None else str(position)
    if not _when(raw, ctx):
        if name is not None:
            disabled[name] = raw.loc
        return []
    refs = _refs(raw, ctx)
    if "op" in raw:
        return [_op(raw, ctx, name, refs)]
    if "block" in raw:
        return [_call(raw, ctx, name, refs, local)]
    if "nodes" in raw:
        return [_group(raw, ctx, name, refs, local)]
    keys = [k for k in raw if k not in COMMON_KEYS]
    hint = next(filter(None, (did_you_mean(k, ["op", "block", "nodes", "repeat"]) for k in keys)), None)
    ctx.fail(
        "AS104",
        "a node entry needs one of `op`, `block`, `nodes` or `repeat`",
        raw.loc,
        hint or "e.g. `- {op: conv2d, channels: 64, kernel: 3}`",
    )


def _only(raw: LocDict, allowed: tuple[str, ...], kind: str, ctx: _Ctx):
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f"a {kind} entry takes: {', '.join(allowed)}"
            ctx.fail("AS102", f"a {kind} entry has no field '{key}'", raw.key_loc(key), hint)


def _name(raw: LocDict, ctx: _Ctx) -> str | None:
    if "name" not in raw or raw["name"] is None:
        return None
    value = ctx.ev(raw["name"], _loc(raw, "name"))
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        ctx.fail(
            "AS103",
            f"name must be a string, not {value!r}",
            _loc(raw, "name"),
            hint="use an identifier such as `conv1`",
        )
    problem = identifier_problem(value, positional_ok=True)
    if problem:
        ctx.fail(
            "AS105",
            f"invalid node name: {problem}",
            _loc(raw, "name"),
            "node names become attribute names and state_dict keys; use snake_case like `conv1`",
        )
    return value


def _when(raw: LocDict, ctx: _Ctx) -> bool:
    if "when" not in raw:
        return True
    value = ctx.ev(raw["when"], _loc(raw, "when"))
    if not isinstance(value, bool):
        ctx.fail(
            "AS103",
            f"`when` must be true or false, not {value!r}",
            _loc(raw, "when"),
            "write a comparison, e.g. `when: ${stride != 1}`",
        )
    return value


def _refs(raw: LocDict, ctx: _Ctx) -> tuple[Ref, ...] | None:
    if "in" not in raw or raw["in"] is None:
        return None
    value = ctx.ev(raw["in"], _loc(raw, "in"))
    items = value if isinstance(value, list) else [value]
    locs = raw["in"].item_locs if isinstance(raw["in"], LocList) else [_loc(raw, "in")] * len(items)
    refs = []
    for item, loc in zip(items, locs):
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not _REF.match(item):
            ctx.fail(
                "AS103",
                f"`in` must name nodes like `conv1` or `layer1.0`, not {item!r}",
                loc,
                hint="write `in: conv1`, `in: [bn3, x]` or `in: layer1.0`",
            )
        refs.append(Ref(item, loc))
    if not refs:
        ctx.fail("AS103", "`in` is an empty list", _loc(raw, "in"), "omit `in` to take the previous node")
    return tuple(refs)


_REF = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


def _plain(value) -> bool:
    """True for a scalar without an expression: the common case, kept off the slow path."""
    return isinstance(value, (int, float)) or (isinstance(value, str) and "${" not in value)


def _op(raw: LocDict, ctx: _Ctx, name, refs) -> TOp:
    op_name = ctx.ev(raw["op"], _loc(raw, "op"))
    if op_name not in OPS:
        hint = did_you_mean(op_name, OPS) or f"known ops: {', '.join(sorted(OPS))}"
        ctx.fail("AS101", f"unknown op {op_name!r}", _loc(raw, "op"), hint)
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


def _group(raw: LocDict, ctx: _Ctx, name, refs, local: str) -> TGroup:
    _only(raw, COMMON_KEYS + GROUP_KEYS, "group", ctx)
    children, disabled = expand_list(raw["nodes"], ctx.inside(local), _loc(raw, "nodes"))
    output = _output_ref(raw, ctx)
    return TGroup(name, raw.loc, ctx.trace, refs, children, None, output, None, disabled)


def _output_ref(raw: LocDict, ctx: _Ctx) -> Ref | None:
    if raw.get("output") is None:
        return None
    value = ctx.ev(raw["output"], _loc(raw, "output"))
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        ctx.fail(
            "AS103",
            f"`output` must name a node, not {value!r}",
            _loc(raw, "output"),
            hint="name one of the group's nodes, e.g. `output: relu3`",
        )
    return Ref(str(value), _loc(raw, "output"))


def _call(raw: LocDict, ctx: _Ctx, name, refs, local: str) -> TGroup:
    _only(raw, COMMON_KEYS + CALL_KEYS, "block call", ctx)
    block_name = ctx.ev(raw["block"], _loc(raw, "block"))
    info = ctx.blocks.get(block_name) or ctx.home.get(block_name)
    if info is None:
        known = sorted(set(ctx.blocks) | set(ctx.home))
        hint = did_you_mean(block_name, known) or (
            f"defined blocks: {', '.join(known)}" if known else "define it under `blocks:` or import it"
        )
        ctx.fail("AS301", f"unknown block {block_name!r}", _loc(raw, "block"), hint)
    if block_name in ctx.stack:
        chain = " -> ".join((*ctx.stack[ctx.stack.index(block_name) :], block_name))
        ctx.fail(
            "AS302",
            f"block '{block_name}' includes itself ({chain})",
            _loc(raw, "block"),
            "a block cannot contain a call to itself, directly or through other blocks",
        )
    if len(ctx.stack) >= MAX_DEPTH:
        ctx.fail(
            "AS007",
            f"blocks nest deeper than {MAX_DEPTH} levels",
            raw.loc,
            hint="flatten the block hierarchy; blocks calling blocks more than 64 deep is almost surely a mistake",
        )
    args_raw = raw.get("with") or LocDict()
    if not isinstance(args_raw, dict):
        ctx.fail(
            "AS103",
            "`with` must be a mapping of block parameters",
            _loc(raw, "with"),
            hint="write `with: {planes: 64, stride: 2}`",
        )
    args = _bind(info, args_raw, ctx, raw.loc)
    sub = ctx.inside(local, vars=args, home=info.home, stack=(*ctx.stack, block_name), trace=(raw.loc, *ctx.trace))
    body = info.raw["nodes"]
    children, disabled = expand_list(body, sub, _loc(info.raw, "nodes"))
    output = _output_ref(info.raw, sub)
    return TGroup(name, raw.loc, ctx.trace, refs, children, tuple(info.model.inputs), output, block_name, disabled)


def _bind(info: BlockInfo, args_raw, ctx: _Ctx, call_loc: Loc) -> dict:
    declared = info.model.params
    for key in args_raw:
        if key not in declared:
            hint = did_you_mean(key, declared) or f"block '{info.name}' takes: {', '.join(declared) or 'nothing'}"
            where = args_raw.key_loc(key) if isinstance(args_raw, LocDict) else call_loc
            ctx.fail("AS202", f"block '{info.name}' has no parameter '{key}'", where, hint)
    values: dict = {}
    params_raw = info.raw.get("params") or LocDict()
    for key, default in declared.items():
        if key in args_raw:
            values[key] = ctx.ev(args_raw[key], _loc(args_raw, key))
        elif default is None:
            ctx.fail(
                "AS203", f"block '{info.name}' needs parameter '{key}'", call_loc, f"pass it: `with: {{{key}: ...}}`"
            )
        else:  # defaults may refer to the parameters before them
            values[key] = ctx.ev(params_raw[key], _loc(params_raw, key), names=dict(values))
    _run_checks(info.raw, values, ctx, f"block '{info.name}'", call_loc)
    return values


def _run_checks(raw: LocDict, values: dict, ctx: _Ctx, who: str, at: Loc | None):
    """Evaluate `checks:`; a block's failure is located at its call, a spec's at the check."""
    checks = raw.get("checks") or []
    for i, check in enumerate(checks):
        loc = checks.item_loc(i) if isinstance(checks, LocList) else raw.loc
        ok = ctx.ev(check["that"], _loc(check, "that"), names=values)
        if ok is not True and ok is not False:
            ctx.fail(
                "AS103",
                f"a check must be true or false, not {ok!r}",
                _loc(check, "that"),
                "write a comparison, e.g. `that: ${depth % 6 == 2}`",
            )
        if not ok:
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
            where = f"check at {loc}; " if at is not None else ""
            ctx.fail("AS204", f"{who}: {check['message']}", at or loc, f"{where}parameters: {shown}")


def _repeat(raw: LocDict, ctx: _Ctx, disabled: dict, position: int) -> list[TNode]:
    name = _name(raw, ctx)
    if not _when(raw, ctx):
        if name is not None:
            disabled[name] = raw.loc
        return []
    count = ctx.ev(raw["repeat"], _loc(raw, "repeat"))
    if isinstance(count, bool) or not isinstance(count, (int, list)):
        ctx.fail(
            "AS103",
            f"`repeat` must be a count or a list, not {count!r}",
            _loc(raw, "repeat"),
            hint="write `repeat: 3`, `repeat: ${depth}` or `repeat: [64, 128]`",
        )
    if isinstance(count, int) and count < 0:
        ctx.fail("AS103", f"`repeat` count {count} is negative", _loc(raw, "repeat"), "use 0 or more copies")
    size = count if isinstance(count, int) else len(count)
    if size > MAX_REPEAT:
        ctx.fail(
            "AS007",
            f"`repeat` of {size:,} is more than {MAX_REPEAT:,}",
            _loc(raw, "repeat"),
            "check the repeat count and the parameters it is computed from",
        )
    items = range(count) if isinstance(count, int) else count
    var = _ident_field(raw, "as", "i", ctx)
    index = _ident_field(raw, "index", None, ctx)
    inline = ctx.ev(raw.get("inline", False), _loc(raw, "inline"))
    if not isinstance(inline, bool):
        ctx.fail(
            "AS103",
            f"`inline` must be true or false, not {inline!r}",
            _loc(raw, "inline"),
            hint="write `inline: true` or leave it out",
        )
    if inline and name is not None:
        ctx.fail(
            "AS102",
            "an inline repeat has no name: its copies join the enclosing sequence",
            raw.key_loc("name"),
            hint="remove `name`, or remove `inline` to make a named group of the copies",
        )
    template = _derive(raw, REPEAT_KEYS + COMMON_KEYS)
    if not template:
        ctx.fail(
            "AS104",
            "`repeat` needs something to repeat: `op`, `block` or `nodes`",
            raw.loc,
            hint="add `op:`, `block:` or `nodes:` beside `repeat`",
        )
    refs = _refs(raw, ctx)
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
        names = {**ctx.vars, var: item}
        if index:
            names[index] = i
        sub = replace(group_ctx, vars=names)
        if dissolve:  # an inline group template: its members join the enclosing sequence
            children.extend(_entries(template["nodes"], sub, _loc(template, "nodes"), disabled))
            continue
        pos = position + len(children) if inline else len(children)
        copy_name = None
        try:
            entry = template
            if raw.get("names") is not None:
                copy_name = sub.ev(raw["names"], _loc(raw, "names"))
                entry = _derive(template, (), name=copy_name)
                entry.value_locs["name"] = _loc(raw, "names")
            children.extend(_entry(entry, sub, raw.loc, {}, pos))
        except Fail as f:  # this copy only: the others carry on
            children.append(_placeholder(f, sub, copy_name if isinstance(copy_name, str) else None, pos, raw.loc))
    if inline:
        if refs and children:
            children[0].refs = children[0].refs or refs
        return children
    for pos, child in enumerate(children):
        child.name = child.name if child.name is not None else str(pos)
    _check_duplicates(children, ctx)
    return [TGroup(name, raw.loc, ctx.trace, refs, children)]


def _ident_field(raw: LocDict, key: str, default, ctx: _Ctx):
    value = raw.get(key, default)
    if value is None:
        return None
    problem = identifier_problem(value) if isinstance(value, str) else f"{value!r} is not a name"
    if problem:
        ctx.fail("AS105", f"`{key}`: {problem}", _loc(raw, key), hint="use a plain identifier such as `i` or `stage`")
    return value


# --- files ------------------------------------------------------------------------------------


def _validate_file(raw: LocDict) -> SpecFile:
    try:
        return SpecFile.model_validate(raw)
    except ValidationError as exc:
        raise Fail(*diagnostics(exc, raw, SpecFile, "spec", raw.loc)) from None


class _File(NamedTuple):
    path: Path
    raw: LocDict
    spec: SpecFile


_FILES: dict[tuple, _File] = {}  # (path, mtime, size) -> parsed file; specs share bases and libraries


def _read(path: Path, referrer: Loc | None) -> _File:
    try:
        stat = path.stat()
        key = (str(path), str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key in _FILES:
        return _FILES[key]
    raw = read_spec_file(path, referrer)
    parsed = _File(path, raw, _validate_file(raw))
    if key is not None:
        if len(_FILES) > 256:
            _FILES.clear()
        _FILES[key] = parsed
    return parsed


def _relative(base: _File, target: str) -> Path:
    return base.path.parent / target


def _chain(first: _File) -> list[_File]:
    chain = [first]
    while chain[0].spec.extends:
        child = chain[0]
        loc = _loc(child.raw, "extends")
        path = _relative(child, child.spec.extends)
        if any(f.path.resolve() == path.resolve() for f in chain):
            fail("AS304", f"`extends` forms a cycle through {path}", loc, "a spec cannot extend itself")
        base = _read(path, loc)
        chain.insert(0, base)
    return chain


def _table(f: _File, state: _State, stack: tuple[Path, ...] = ()) -> dict[str, BlockInfo]:
    """The blocks a file can call: imported ones, then its own (which win)."""
    key = f.path.resolve()
    if key in state.tables:
        return state.tables[key]
    table: dict[str, BlockInfo] = {}
    imports_raw = f.raw.get("imports") or []
    for i, imp in enumerate(f.spec.imports):
        loc = imports_raw.item_loc(i) if isinstance(imports_raw, LocList) else f.raw.loc
        path = _relative(f, imp.from_)
        if path.resolve() in stack or (f.path.name and path.resolve() == f.path.resolve()):
            fail(
                "AS304",
                f"imports form a cycle through {path}",
                loc,
                hint="a library cannot import a file that imports it back; move the shared blocks into a third file",
            )
        lib = _read(path, loc)
        theirs = _table(lib, state, (*stack, key))
        wanted = imp.blocks if imp.blocks is not None else list(theirs)
        for name in wanted:
            if name not in theirs:
                fail(
                    "AS301",
                    f"{path} defines no block {name!r}",
                    loc,
                    did_you_mean(name, theirs) or f"it defines: {', '.join(theirs) or 'no blocks'}",
                )
            table[name] = theirs[name]
    blocks_raw = f.raw.get("blocks") or LocDict()
    for name, model in f.spec.blocks.items():
        problem = identifier_problem(name)
        if problem:
            fail(
                "AS105",
                f"invalid block name: {problem}",
                blocks_raw.key_loc(name),
                hint="block names are identifiers such as `bottleneck`",
            )
        for p in model.params:
            problem = identifier_problem(p)
            if problem:
                fail(
                    "AS105",
                    f"invalid parameter name in block '{name}': {problem}",
                    blocks_raw[name]["params"].key_loc(p),
                    hint="parameter names are identifiers such as `planes`",
                )
        table[name] = BlockInfo(name, model, blocks_raw[name], table)  # its body sees this whole table
    state.tables[key] = table
    return table


def _params(chain: list[_File], overrides: dict, state: _State) -> dict:
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
    for key in overrides:
        if key not in declared:
            hint = did_you_mean(key, declared) or f"parameters: {', '.join(declared) or 'none'}"
            fail("AS202", f"the spec has no parameter '{key}' to override", Loc(str(chain[-1].path)), hint)
    ctx = _Ctx({}, {}, {}, state)
    values: dict = {}
    for key, (value, loc) in declared.items():
        values[key] = overrides[key] if key in overrides else ctx.ev(value, loc, names=dict(values))
    for f in chain:
        _run_checks(f.raw, values, ctx, "parameter check failed", None)
    return values


def _inputs(chain: list[_File], ctx: _Ctx) -> dict[str, tuple[tuple[int, ...], Loc]]:
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
        if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            fail(
                "AS103",
                f"input '{name}' shape {shape!r} must be a list of positive integers",
                raw.value_loc(name),
                "give the shape without the batch dimension, e.g. [3, 224, 224]",
            )
        out[name] = (tuple(shape), raw.value_loc(name))
    return out


def _find(root: TGroup, path: str, loc: Loc) -> tuple[TGroup, int]:
    try:
        return _find_in(root, path, loc)
    except Fail as f:
        raise Fail(*(d.with_node(path) for d in f.diagnostics)) from None


def _find_in(root: TGroup, path: str, loc: Loc) -> tuple[TGroup, int]:
    group, parts = root, path.split(".")
    for depth, part in enumerate(parts):
        names = [c.name for c in group.children]
        if part not in names:
            where = ".".join(parts[:depth]) or "the top level"
            fail(
                "AS303",
                f"no node '{path}' to edit: '{part}' is not in {where}",
                loc,
                did_you_mean(part, names) or f"{where} has: {', '.join(map(str, names[:12]))}",
            )
        index = names.index(part)
        if depth == len(parts) - 1:
            return group, index
        nxt = group.children[index]
        if not isinstance(nxt, TGroup):
            fail(
                "AS303",
                f"no node '{path}' to edit: '{'.'.join(parts[: depth + 1])}' is an op, not a group",
                loc,
                hint="only groups and block instances have members; edit the op's own path",
            )
        group = nxt
    raise AssertionError("unreachable")


def _edit(root: TGroup, f: _File, ctx: _Ctx):
    removes = f.raw.get("remove") or LocList()
    for i, path in enumerate(f.spec.remove):
        try:
            group, index = _find(root, path, removes.item_loc(i))
            del group.children[index]
        except Fail as x:
            ctx.state.diags.extend(x.diagnostics)
    replaces = f.raw.get("replace") or LocDict()
    for path, entry in replaces.items():
        try:
            group, index = _find(root, path, replaces.key_loc(path))
            named = _derive(entry, (), name=path.rsplit(".", 1)[-1]) if isinstance(entry, LocDict) else entry
            new = _entry(
                named, ctx.inside(path.rsplit(".", 1)[0]) if "." in path else ctx, replaces.value_loc(path), {}, index
            )
            group.children[index : index + 1] = new
        except Fail as x:
            ctx.state.diags.extend(x.diagnostics)
    if f.spec.append:
        extra, _ = expand_list(f.raw["append"], ctx, _loc(f.raw, "append"))
        for node in extra:
            if node.name.isdigit():
                node.name = str(len(root.children))
            root.children.append(node)
        _check_duplicates(root.children, ctx)


def _check_library(blocks: dict[str, BlockInfo], state: _State):
    """Blocks are only fully checked when instantiated; here, catch unknown ops early."""

    def walk(entries):
        for i, e in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(e, dict):
                loc = entries.item_loc(i) if isinstance(entries, LocList) else Loc("<unknown>")
                state.diags.append(
                    Diagnostic(
                        "AS006",
                        "a node entry must be a mapping",
                        loc,
                        hint="each list item is a mapping such as `- {op: relu}`",
                    )
                )
                continue
            op = e.get("op")
            if isinstance(op, str) and not expr.is_expression(op) and op not in OPS:
                state.diags.append(Diagnostic("AS101", f"unknown op {op!r}", _loc(e, "op"), hint=did_you_mean(op, OPS)))
            walk(e.get("nodes"))

    for info in blocks.values():
        walk(info.raw.get("nodes"))


def expand(source: str | Path, overrides: dict | None = None, *, text: str | None = None) -> Expanded | Library:
    """Expand a spec file (or `text`, named `source`) into a tree. Raises `Fail` on fatal errors."""
    overrides = dict(overrides or {})
    state = _State()
    path = Path(source)
    if text is not None:
        raw = load_yaml(text, str(source))
        first = _File(path, raw, _validate_file(raw))
    else:
        first = _read(path, None)
    chain = _chain(first)
    leaf = chain[-1]
    for f in chain:
        if f.spec.extends and f.spec.nodes is not None:
            fail(
                "AS304",
                "a spec with `extends` edits its base with remove/replace/append; it cannot declare `nodes`",
                f.raw.key_loc("nodes"),
                hint="remove `nodes:` and express the changes with remove/replace/append",
            )
        if not f.spec.extends and (f.spec.remove or f.spec.replace or f.spec.append):
            key = next(k for k in ("remove", "replace", "append") if f.raw.get(k))
            fail(
                "AS304",
                f"`{key}` edits a base spec; add `extends: BASE.yaml`",
                f.raw.key_loc(key),
                hint="add `extends: BASE.yaml` naming the spec to edit",
            )
    blocks: dict[str, BlockInfo] = {}
    for f in chain:
        blocks.update(_table(f, state))
    name = leaf.spec.name or path.stem
    if chain[0].spec.nodes is None:
        if not blocks:
            fail(
                "AS104",
                "the file has neither `nodes` (a network) nor `blocks` (a library)",
                leaf.raw.loc,
                "see docs/spec.md for the layout of a spec",
            )
        _check_library(blocks, state)
        if overrides:
            fail(
                "AS202",
                "a block library has no parameters to override",
                leaf.raw.loc,
                hint="drop --set for this file, or check a spec that imports the library",
            )
        return Library(name, str(path), sorted(blocks), state.diags)
    params = _params(chain, overrides, state)
    ctx = _Ctx(params, blocks, _table(chain[0], state), state)
    inputs = _inputs(chain, ctx)
    children, disabled = expand_list(chain[0].raw["nodes"], ctx, _loc(chain[0].raw, "nodes"))
    root = TGroup("", chain[0].raw.loc, (), None, children, tuple(inputs), None, None, disabled)
    for f in chain[1:]:
        _edit(root, f, _Ctx(params, blocks, _table(f, state), state))
    out_file = next((f for f in reversed(chain) if f.spec.outputs is not None), None)
    outputs = None
    if out_file is not None:
        raw_out = out_file.raw["outputs"]
        outputs = []
        for i, (o, model) in enumerate(zip(raw_out, out_file.spec.outputs)):
            text = o["node"] if isinstance(o, dict) else o
            training = bool(getattr(model, "training_only", False))
            if isinstance(o, dict) and "when" in o and not _when(o, ctx):
                continue
            outputs.append(Ref(str(ctx.ev(text, raw_out.item_loc(i))), raw_out.item_loc(i), training))
    return Expanded(name, str(path), params, inputs, outputs, root, state.diags)
