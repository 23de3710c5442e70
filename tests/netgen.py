"""Random valid networks over every registered op, for the differential fuzz tests and campaigns.

`generate(r)` writes a spec member by member, tracking each value's shape so that every op gets
fields it accepts (netops.py). A flat network is a chain of ops (with joins of earlier nodes); a
structured one also nests members in every kind of container generated code emits: groups (a
class of their own, an nn.Sequential, or a module dict when a member's name is a key like `a-b`),
groups with `output:`, repeats of ops, of groups and of block calls (copies named by position, or
by a `names:` template), inline repeats, and blocks called at several places with different init
schemes (`with: {conv2d_init: ...}`), so layers of one generated class differ in their init. Parameters
and buffers (`parameter`, batch norm, attention) go inside containers, and names come from
fuzz_names.py (framework attributes, keywords, generated-code names, keys) as well as `n3` and
positions. The outputs are the top-level members (and sometimes a node inside a group), with
the shapes they were built for; `network()` is the same as a Hypothesis strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import netops
import yaml
from fuzz_names import BLOCK_NAMES, KEY_NAMES, weird_name
from hypothesis import strategies as st
from netops import COVERED, INITS, Shape  # noqa: F401 - the tests read COVERED here

IN = "<in>"  # a scope's input where members cannot name it (the first member reads it by default)
KEEP_OPS = [op for op in netops.ANY_OPS if op != "flatten"]
KEEP_OPS += ["batchnorm2d", "local_response_norm", "layer_norm", "roll", "channel_shuffle", "multihead_attention"]
KEEP_OPS += ["window_attention", "parameter", "add", "multiply", "linear", "conv2d"]
LAYERS = ["conv2d", "conv2d", "linear", "linear", "batchnorm2d", "conv_transpose2d"]  # ops with an init
OWNERS = ["parameter", "parameter", "batchnorm2d", "multihead_attention", "window_attention", "layer_norm"]
# init fields a block may take from its caller: (op, field) -> the values a call passes
BLOCK_INITS = {
    ("conv2d", "init"): INITS,
    ("conv_transpose2d", "init"): INITS,
    ("linear", "init"): INITS,
    ("conv2d", "bias_init"): ["default", "zeros", -2.0],
    ("linear", "bias_init"): ["default", "zeros", 0.5],
    ("batchnorm2d", "init"): ["default", "zeros"],
    ("parameter", "init"): ["zeros", "normal", 0.5],
}
NET_NAMES = ["fuzz", "fuzz", "fuzz", "sequential", "model", "nn", "torch", "g", "batch_norm2d", "_version", "if"]
NAME_TEMPLATES = ["r${i}", "blk-${i}", "${i + 1}", "${['_version', 'keys', 'forward', 'a-b'][i]}"]


@dataclass
class Scope:
    """One sequence of members: the values its members can name, and its names so far."""

    shapes: dict[str, Shape]
    layouts: dict[str, str]
    current: str  # the value the next member reads by default
    top: bool = False
    keep: bool = False  # every member keeps the input's shape (a repeated body)
    prefix: str | None = None  # the path of members, where it is the same in every instance
    block: dict | None = None  # a block body: its params, filled as members take their init from them
    index: int = 0  # the position (the default name) of the next member
    taken: set[str] = field(default_factory=set)
    entries: list[dict] = field(default_factory=list)


@dataclass
class Gen:
    r: object
    left: int  # leaf nodes still to write
    structure: bool
    weird: float  # probability that a name comes from fuzz_names
    blocks: dict[str, dict] = field(default_factory=dict)
    calls: dict[tuple, list] = field(default_factory=dict)  # (shape, layout) -> [(block, shape, layout, params)]
    inner: list[tuple[str, Shape]] = field(default_factory=list)  # nodes inside groups, by path
    used: list[str] = field(default_factory=list)
    serial: int = 0


def _name(g: Gen, sc: Scope, key: bool = False) -> str | None:
    """A new member's name, or None for its position."""
    r, u = g.r, g.r.random()
    for _ in range(3):
        if key:
            name = r.choice(KEY_NAMES)
        elif u < 0.25:
            return None
        elif u < 0.25 + g.weird:
            name = weird_name(r, top=sc.top)
        elif u < 0.3 + g.weird and sc.index:
            name = str(r.randrange(sc.index + 1))  # a position, written, or an earlier named sibling's
        else:
            g.serial += 1
            name = f"n{g.serial}"
        if name not in sc.taken and name not in sc.shapes and name not in ("x", IN):
            return name
    return None


def _add(g: Gen, sc: Scope, entry: dict, name: str | None, out: Shape, layout: str, leaf: bool) -> None:
    if name is not None:
        entry = {"name": name, **entry}
    ref = name if name is not None else str(sc.index)
    sc.taken.add(ref)
    sc.shapes[ref], sc.layouts[ref], sc.current = out, layout, ref
    sc.index += 1
    if leaf and sc.prefix is not None and not sc.top:
        g.inner.append((sc.prefix + ref, out))
    sc.entries.append(entry)


def _inputs(sc: Scope, fields: dict) -> dict | None:
    """The member's `in`, as written: the default where it reads the previous value."""
    ins = fields.pop("in")
    ins = ins if isinstance(ins, list) else [ins]
    if IN in ins and ins != [sc.current]:
        return None  # the scope's input has no name here
    if ins != [sc.current]:
        fields["in"] = ins if len(ins) > 1 else ins[0]
    return fields


def _op_fields(g: Gen, sc: Scope, op: str | None = None):
    """(op, fields, shape, layout) of an op after the current value, or None where it does not fit."""
    r = g.r
    shape, layout = sc.shapes[sc.current], sc.layouts[sc.current]
    if op is None:
        pool = [*KEEP_OPS] if sc.keep else [*netops.ANY_OPS, *netops.JOIN_OPS, *netops.LAID_OPS, *netops.LAID_EXTRA]
        pool += list(netops.IMAGE_OPS) if layout == "CHW" and not sc.keep else []
        pool += list(netops.FEATURE_OPS) if len(shape) == 1 and not sc.keep else []
        op = r.choice(sorted(set(pool)))
        layers = [o for o in LAYERS if o in pool and (o != "linear" or layout != "CHW")]
        if layers and r.random() < 0.3:  # layers of one class, each with its own init
            op = r.choice(layers)
    if sc.keep and op in ("linear", "conv2d"):  # one that keeps the shape: as many features out as in
        if op == "linear" and layout != "CHW":
            fields = {"in": sc.current, **netops.linear(r, shape[-1])[0], "features": shape[-1]}
        elif op == "conv2d" and layout == "CHW" and (conv := netops.conv2d(r, *shape)) is not None:
            fields = {"in": sc.current, **conv[0], "channels": shape[0], "padding": "same", "stride": 1}
        else:
            return None
        made = fields, shape, layout
    else:
        made = netops.step(r, op, sc.current, sc.shapes, sc.layouts)
    if made is None or min(made[1], default=0) <= 0 or len(made[1]) not in (1, 2, 3):
        return None
    if sc.keep and made[1:] != (shape, layout):
        return None
    return ("flatten" if op == "flatten_tokens" else op), *made


def _leaf(g: Gen, sc: Scope, op: str | None = None, key: bool = False) -> bool:
    made = _op_fields(g, sc, op)
    if made is None:
        return False
    op, fields, out, layout = made
    fields = _inputs(sc, fields)
    if fields is None:
        return False
    if sc.block is not None:  # take an init from the caller: calls differ, the class is one
        for (o, f), values in BLOCK_INITS.items():
            if o == op and f in fields and g.r.random() < 0.6:
                sc.block[f"{op}_{f}"] = values
                fields[f] = "${" + f"{op}_{f}" + "}"
    g.left -= 1
    g.used.append(op)
    _add(g, sc, {"op": op, **fields}, _name(g, sc, key=key), out, layout, leaf=True)
    return True


def _scope(g: Gen, sc: Scope, name: str | None, keep: bool, copies: bool = False) -> Scope:
    """The scope of a container's members, reading the current value."""
    shape, layout = sc.shapes[sc.current], sc.layouts[sc.current]
    visible = sc.current if not copies and not sc.current.isdigit() and sc.current != IN else IN
    prefix = None if copies or sc.prefix is None or name is None else f"{sc.prefix}{name}."
    inner = Scope({visible: shape}, {visible: layout}, visible, keep=keep or sc.keep, prefix=prefix)
    inner.block = sc.block
    return inner


def _body(g: Gen, sc: Scope, depth: int, members: int, key: bool = False, owner: bool = False) -> list[dict]:
    """Up to `members` members in `sc`; one named by a key, one holding a parameter, if asked."""
    key_at = g.r.randrange(members) if key else -1
    owner_at = g.r.randrange(members) if owner else -1
    for i in range(members):
        if i and g.left <= 0:
            break
        if i == owner_at and (_leaf(g, sc, g.r.choice(OWNERS)) or _leaf(g, sc, "parameter")):
            continue
        if i == key_at and _leaf(g, sc, key=True):
            continue
        _member(g, sc, depth)
    return sc.entries


def _member(g: Gen, sc: Scope, depth: int) -> None:
    r = g.r
    kinds = ["leaf"] * 4
    if g.structure and g.left >= 2 and depth < (2 if sc.keep else 3):
        kinds += ["group", "group", "keyed", "repeat", "repeat_op", "block", "block", "inline"]
    kind = r.choice(kinds)
    if kind == "leaf" or not _container(g, sc, depth, kind):
        for _ in range(3):
            if _leaf(g, sc):
                return


def _container(g: Gen, sc: Scope, depth: int, kind: str) -> bool:
    r = g.r
    name = _name(g, sc)
    owner = r.random() < 0.4
    if kind in ("group", "keyed"):
        inner = _scope(g, sc, name if name is not None else str(sc.index), keep=False)
        members = _body(g, inner, depth + 1, r.randint(1, 3), key=kind == "keyed", owner=owner)
        if not members:
            return False
        entry: dict = {"nodes": members}
        value = inner.current
        if len(members) > 1 and r.random() < 0.15:  # a member before the last is the group's value
            value = r.choice([n for n in inner.shapes if n != IN and n in inner.taken])
            entry["output"] = value
        _add(g, sc, entry, name, inner.shapes[value], inner.layouts[value], leaf=False)
        return True
    if kind == "repeat_op":
        inner = _scope(g, sc, None, keep=True, copies=True)
        made = _op_fields(g, inner)
        if made is None or made[0] in netops.JOIN_OPS:
            return False
        op, fields, out, layout = made
        fields.pop("in")
        g.left -= 1
        g.used.append(op)
        _add(g, sc, {"repeat": r.randint(1, 3), "op": op, **fields}, name, out, layout, leaf=False)
        return True
    if kind in ("repeat", "inline"):
        inner = _scope(g, sc, None, keep=True, copies=True)
        if kind == "inline":  # leaves only, unnamed, each reading the one before
            for i in range(r.randint(1, 2)):
                _leaf(g, inner, r.choice(OWNERS) if owner and i == 0 else None)
        members = inner.entries if kind == "inline" else _body(g, inner, depth + 1, r.randint(1, 2), owner=owner)
        if not members:
            return False
        copies = r.randint(1, 3)
        shape, layout = sc.shapes[sc.current], sc.layouts[sc.current]
        if kind == "inline":  # the copies' members join this sequence, named by position
            members = [{k: v for k, v in m.items() if k != "name"} for m in members]
            if any("in" in m for m in members):
                return False
            sc.entries.append({"repeat": copies, "inline": True, "nodes": members})
            for _ in range(copies * len(members)):
                ref = str(sc.index)
                sc.taken.add(ref)
                sc.shapes[ref], sc.layouts[ref], sc.current = shape, layout, ref
                sc.index += 1
            return True
        entry = {"repeat": copies, "nodes": members}
        if r.random() < 0.4:
            entry["names"] = r.choice(NAME_TEMPLATES)
        _add(g, sc, entry, name, shape, layout, leaf=False)
        return True
    return _call(g, sc, depth, name, owner)


def _call(g: Gen, sc: Scope, depth: int, name: str | None, owner: bool) -> bool:
    """A block call: of a block defined for this input shape already (another instance of its
    class, with other init values), or of a new one."""
    r = g.r
    shape, layout = sc.shapes[sc.current], sc.layouts[sc.current]
    known = [b for b in g.calls.get((shape, layout), []) if not sc.keep or b[1:3] == (shape, layout)]
    if known and r.random() < 0.6:
        block, out, out_layout, params = r.choice(known)
    else:
        block = next((b for b in [r.choice(BLOCK_NAMES) for _ in range(3)] if b not in g.blocks), f"b{len(g.blocks)}")
        body = Scope({"x": shape}, {"x": layout}, "x", keep=sc.keep, block={}, taken={"x"})
        g.blocks[block] = {}  # taken: a block in its body gets another name
        members = _body(g, body, depth + 1, r.randint(1, 3), key=r.random() < 0.3, owner=owner)
        if not members:
            del g.blocks[block]
            return False
        params = body.block
        g.blocks[block] = {"params": {p: vs[0] for p, vs in params.items()}} if params else {}
        g.blocks[block]["nodes"] = members
        out, out_layout = body.shapes[body.current], body.layouts[body.current]
        g.calls.setdefault((shape, layout), []).append((block, out, out_layout, params))
    entry: dict = {"block": block}
    same = (out, out_layout) == (shape, layout)
    if same and r.random() < 0.5:  # copies of the call, each with its own init
        copies = r.randint(2, 3)
        entry = {"repeat": copies, **entry}
        if params:
            entry["with"] = {p: "${" + repr([r.choice(vs) for _ in range(copies)]) + "[i]}" for p, vs in params.items()}
    elif params:
        entry["with"] = {p: r.choice(vs) for p, vs in params.items() if r.random() < 0.8}
    _add(g, sc, entry, name, out, out_layout, leaf=False)
    return True


class _Dumper(yaml.SafeDumper):
    """Block style for containers, one line for each op entry (values are scalars or lists of them)."""


def _scalars(v) -> bool:
    return not isinstance(v, (dict, list)) or isinstance(v, list) and all(map(_scalars, v))


_Dumper.add_representer(
    dict, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, all(map(_scalars, data.values())))
)
_Dumper.add_representer(list, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, _scalars(data)))


def dump(spec: dict) -> str:
    return yaml.dump(spec, Dumper=_Dumper, sort_keys=False, width=10**6, allow_unicode=True)


def generate(r, max_nodes: int = 6, force: str | None = None, structure: bool = True, weird: float = 0.3):
    """A valid spec (YAML text) over random ops; returns it, the expected shape of each output and the
    ops used. With `force`, that op comes first (after the op it needs, e.g. a flatten for ops on
    features). `r` is a random.Random, or Hypothesis's."""
    c, h, w = r.randint(1, 4), r.randint(1, 7), r.randint(1, 7)
    g = Gen(r, r.randint(1, max_nodes), structure, weird if structure else 0.0)
    top = Scope({"x": (c, h, w)}, {"x": "CHW"}, "x", top=True, prefix="", taken={"x"})
    for op in netops.LEADS.get(force, []) + ([force] if force else []):
        _leaf(g, top, op)
    for _ in range(100):
        if g.left <= 0:
            break
        _member(g, top, 0)
    if not top.entries:
        _add(g, top, {"op": "identity"}, "n0", (c, h, w), "CHW", leaf=True)
    outputs = [n for n in top.shapes if n != "x"]
    if g.inner and r.random() < 0.2:  # a node inside a group: the group is no longer callable as a unit
        outputs.append(r.choice(g.inner)[0])
    expected = {**{n: top.shapes[n] for n in outputs if n in top.shapes}, **{p: s for p, s in g.inner}}
    spec: dict = {"name": r.choice(NET_NAMES) if structure else "fuzz", "inputs": {"x": [c, h, w]}}
    spec |= {"outputs": outputs, "nodes": top.entries}
    if g.blocks:
        spec["blocks"] = g.blocks
    return dump(spec), {p: tuple(expected[p]) for p in outputs}, g.used


@st.composite
def network(draw, max_nodes: int = 6, force: str | None = None, structure: float = 0.6):
    """`generate` as a Hypothesis strategy: structured with probability `structure` (never with `force`)."""
    r = draw(st.randoms(use_true_random=False))
    return generate(r, max_nodes, force, structure=force is None and r.random() < structure)
