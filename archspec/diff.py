"""`archspec diff`: what changed between two versions of a network, node by node.

Nodes are matched by path (paths are the state_dict contract, so a renamed node is a removed
one plus an added one). Added or removed nodes are reported by the largest group that is
entirely new or entirely gone (`layer3.6`, not its 10 nodes); changed nodes list each field,
shape, input, parameter and MAC difference.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .api import Network
from .ops import fmt
from .report import human, shape_json


@dataclass(frozen=True)
class Unit:
    """An added or removed node, or the largest group of them that is wholly added/removed."""

    path: str
    nodes: int
    params: int
    macs: int
    shape: tuple
    ops: str  # 'conv2d', or for a group its node count by op


@dataclass(frozen=True)
class Changed:
    path: str
    op: str
    changes: dict = field(default_factory=dict)  # what -> (old, new)


@dataclass(frozen=True)
class Diff:
    old: Network
    new: Network
    added: tuple[Unit, ...]
    removed: tuple[Unit, ...]
    changed: tuple[Changed, ...]

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.changed) and self._io(self.old) == self._io(self.new)

    @staticmethod
    def _io(net: Network):
        return net.input_shapes, net.output_shapes


def diff(old: Network, new: Network) -> Diff:
    gone = [p for p in old.nodes if p not in new.nodes]
    came = [p for p in new.nodes if p not in old.nodes]
    changed = [c for c in (_compare(old, new, p) for p in new.nodes if p in old.nodes) if c.changes]
    return Diff(old, new, tuple(_units(new, came, old)), tuple(_units(old, gone, new)), tuple(changed))


def _units(net: Network, paths: list[str], other: Network) -> list[Unit]:
    """Collapse `paths` (the nodes of `net` missing from `other`) into the shortest prefixes that
    `other` does not have: every node under such a prefix is one of `paths`."""
    taken = {pre for p in other.nodes for pre in _prefixes(p)}
    members: dict[str, list[str]] = {}
    for p in paths:
        unit = next((pre for pre in _prefixes(p) if pre not in taken), p)
        members.setdefault(unit, []).append(p)
    out = []
    for u, inside in members.items():
        infos = [net.nodes[p] for p in inside]
        counts: dict[str, int] = {}
        for i in infos:
            counts[i.op] = counts.get(i.op, 0) + 1
        ops = infos[0].op if len(infos) == 1 else ", ".join(f"{n} {op}" for op, n in counts.items())
        out.append(Unit(u, len(infos), sum(i.params for i in infos), sum(i.macs for i in infos), net.shape(u), ops))
    return out


def _prefixes(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _compare(old: Network, new: Network, path: str) -> Changed:
    a, b = old.graph.node(path), new.graph.node(path)
    ia, ib = old.nodes[path], new.nodes[path]
    changes: dict[str, tuple] = {}
    if a.op.name != b.op.name:
        changes["op"] = (a.op.name, b.op.name)
    else:
        fa, fb = a.op.model_dump(), b.op.model_dump()
        for key in fa:
            if fa[key] != fb[key]:
                changes[key] = (fa[key], fb[key])
    if a.inputs != b.inputs:
        changes["inputs"] = (", ".join(a.inputs), ", ".join(b.inputs))
    if ia.shape != ib.shape:
        changes["shape"] = (fmt(ia.shape), fmt(ib.shape))
    if ia.params != ib.params:
        changes["params"] = (ia.params, ib.params)
    if ia.macs != ib.macs:
        changes["macs"] = (ia.macs, ib.macs)
    return Changed(path, b.op.name, changes)


# --- rendering --------------------------------------------------------------------------------


def _delta(a: int, b: int) -> str:
    d = b - a
    pct = f" ({d / a:+.1%})" if a else ""
    return f"{d:+,}{pct}" if d else "0"


def _value(key: str, v) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) and key in ("params", "macs") else str(v)


def _change_text(c: Changed) -> str:
    return "; ".join(f"{k} {_value(k, a)} -> {_value(k, b)}" for k, (a, b) in c.changes.items())


def _io_lines(d: Diff) -> list[tuple[str, str, str]]:
    rows = []
    for what, get in (("input", lambda n: n.input_shapes), ("output", lambda n: n.output_shapes)):
        a, b = get(d.old), get(d.new)
        for name in dict.fromkeys([*a, *b]):
            sa, sb = (fmt(a[name]) if name in a else "—"), (fmt(b[name]) if name in b else "—")
            if sa != sb:
                rows.append((f"{what} {name}", sa, sb))
    return rows


def to_text(d: Diff) -> str:
    o, n = d.old, d.new
    out = [
        f"{o.name} ({o.file}) -> {n.name} ({n.file})",
        f"params: {o.total_params:,} -> {n.total_params:,}  {_delta(o.total_params, n.total_params)}",
        f"MACs:   {o.total_macs:,} -> {n.total_macs:,}  {_delta(o.total_macs, n.total_macs)}",
        f"nodes:  {len(o.nodes):,} -> {len(n.nodes):,}  {_delta(len(o.nodes), len(n.nodes))}",
    ]
    params = _params_line(d, "->")
    if params:
        out.insert(1, f"parameters: {params}")
    out += [f"{what}: {a} -> {b}" for what, a, b in _io_lines(d)]
    if d.identical:
        return "\n".join([*out, "no differences"])
    for title, units, sign in (("added", d.added, "+"), ("removed", d.removed, "-")):
        if units:
            out.append(f"{title} ({len(units)}, {sum(u.nodes for u in units)} nodes):")
            width = max(len(u.path) for u in units)
            for u in units:
                figures = f"{u.params:>12,} params {human(u.macs):>8} MACs"
                out.append(f"  {sign} {u.path:<{width}}  {fmt(u.shape):<20} {figures}  {u.ops}")
    if d.changed:
        out.append(f"changed ({len(d.changed)}):")
        out += [f"  ~ {c.path}: {_change_text(c)}" for c in d.changed]
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def param_changes(d: Diff) -> list[tuple[str, object, object]]:
    """Spec parameters (after defaults and overrides) that differ: what explains the diff."""
    a, b = dict(d.old.params), dict(d.new.params)
    missing = "—"
    return [
        (k, a.get(k, missing), b.get(k, missing))
        for k in dict.fromkeys([*a, *b])
        if a.get(k, missing) != b.get(k, missing)
    ]


def _params_line(d: Diff, arrow: str = "→") -> str | None:
    changes = param_changes(d)
    return ", ".join(f"{k}: {a} {arrow} {b}" for k, a, b in changes) or None


# --- review view: runs of identical blocks, stages, a size budget ----------------------------


@dataclass(frozen=True)
class Row:
    """A run of consecutive sibling blocks (or nodes) that changed the same way."""

    first: str
    last: str
    count: int
    kind: str  # block name, or op
    what: str  # the change, the same for every member
    params: tuple[int, ...]  # parameter delta of each member

    @property
    def span(self) -> str:
        return f"`{self.first}`" if self.count == 1 else f"`{self.first}` … `{self.last}`"

    def delta(self) -> str:
        if not any(self.params):
            return "0"
        if self.count > 1 and len(set(self.params)) == 1:
            return f"{_signed(self.params[0])} each"
        return _signed(sum(self.params))


def _signed(n: int) -> str:
    return ("+" if n > 0 else "−" if n < 0 else "") + human(abs(n))


def _block_of(net: Network, path: str) -> tuple[str, str]:
    """The innermost block instance holding `path` and its block name; the node itself outside blocks."""
    blocks = {g.path: g.block for g in net.graph.groups if g.block}
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in blocks:
            return prefix, blocks[prefix]
    return path, "layer"


def _runs(items: list[tuple[str, str, str, int]]) -> list[Row]:
    """Collapse consecutive items (path, kind, what, params delta) that are siblings of one kind
    with the same change."""
    rows: list[Row] = []
    for path, kind, what, delta in items:
        last = rows[-1] if rows else None
        if last and last.kind == kind and last.what == what and _parent(last.last) == _parent(path):
            rows[-1] = Row(last.first, path, last.count + 1, kind, what, (*last.params, delta))
        else:
            rows.append(Row(path, path, 1, kind, what, (delta,)))
    return rows


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def unit_rows(net: Network, units: tuple[Unit, ...], sign: int) -> list[Row]:
    items = []
    for u in units:
        block = next((g.block for g in net.graph.groups if g.path == u.path and g.block), None)
        kind = block or (u.ops if u.nodes == 1 else "group")
        what = f"{'+' if sign > 0 else '−'}{u.nodes} node{'s' * (u.nodes > 1)}" + (
            f" ({u.ops})" if u.nodes == 1 else ""
        )
        items.append((u.path, kind, what, sign * u.params))
    return _runs(items)


_DERIVED = ("shape", "params", "macs")


def changed_rows(d: Diff) -> list[Row]:
    """Changed nodes by block instance: each instance's field changes (derived shape, parameter
    and MAC changes counted, not listed), then runs of instances that changed alike."""
    by_block: dict[str, list[Changed]] = {}
    kinds: dict[str, str] = {}
    for c in d.changed:
        block, kind = _block_of(d.new, c.path)
        by_block.setdefault(block, []).append(c)
        kinds[block] = kind
    items = []
    for block, changes in by_block.items():
        fields: dict[str, list[str]] = {}
        derived = 0
        for c in changes:
            own = "; ".join(f"{k} {a} → {b}" for k, (a, b) in c.changes.items() if k not in _DERIVED)
            name = c.path[len(block) + 1 :] if c.path != block else c.path.rsplit(".", 1)[-1]
            if own:
                fields.setdefault(own, []).append(name)
            else:
                derived += 1
        what = "; ".join(f"{', '.join(names)}: {own}" for own, names in fields.items())
        if derived:
            resized = "resized" if kinds[block] == "layer" else f"{derived} node{'s' * (derived > 1)} resized"
            what += f"{'; ' if what else ''}{resized}"
        delta = sum(c.changes["params"][1] - c.changes["params"][0] for c in changes if "params" in c.changes)
        items.append((block, kinds[block], what, delta))
    return _runs(items)


def _stage(path: str, split: set[str]) -> str:
    parts = path.split(".")
    return ".".join(parts[:2]) if parts[0] in split and len(parts) > 1 else parts[0]


def stage_rows(d: Diff) -> list[tuple[str, int, int, int, int]]:
    """(stage, params before, after, MACs before, after) for every top-level stage that differs;
    a top-level group holding nearly all of a network (DenseNet's `features`) is split one level down."""
    split = set()
    for net in (d.old, d.new):
        tops: dict[str, int] = {}
        for p in net.nodes:
            tops[p.split(".")[0]] = tops.get(p.split(".")[0], 0) + 1
        split |= {t for t, n in tops.items() if n > 0.9 * len(net.nodes)}
    totals: dict[str, list[int]] = {}
    for i, net in enumerate((d.old, d.new)):
        for p, info in net.nodes.items():
            t = totals.setdefault(_stage(p, split), [0, 0, 0, 0, 0, 0])
            t[i], t[2 + i], t[4 + i] = t[i] + info.params, t[2 + i] + info.macs, t[4 + i] + 1
    order = list(dict.fromkeys([*(_stage(p, split) for p in d.new.nodes), *totals]))
    return [(s, t[0], t[1], t[2], t[3]) for s in order for t in [totals[s]] if (t[0], t[2], t[4]) != (t[1], t[3], t[5])]


MARKDOWN_BUDGET = 6000  # characters: a pull-request comment stays readable (GitHub allows 65,536)


def to_markdown(d: Diff, budget: int = MARKDOWN_BUDGET) -> str:
    """Review view: what explains the change (parameters) first, totals, stages, then the details
    in <details> sections, runs of identical blocks collapsed, trimmed to `budget` characters."""
    o, n = d.old, d.new
    out = [f"### archspec diff: `{o.name}` → `{n.name}`", ""]
    params = _params_line(d)
    if params:
        out += [f"**Parameters:** `{params}`", ""]
    out += [
        f"`{o.file}` → `{n.file}`",
        "",
        "| | before | after | change |",
        "|---|---:|---:|---:|",
        f"| parameters | {o.total_params:,} | {n.total_params:,} | {_delta(o.total_params, n.total_params)} |",
        f"| MACs | {o.total_macs:,} | {n.total_macs:,} | {_delta(o.total_macs, n.total_macs)} |",
        f"| nodes | {len(o.nodes):,} | {len(n.nodes):,} | {_delta(len(o.nodes), len(n.nodes))} |",
    ]
    out += [f"| {what} | `{a}` | `{b}` | |" for what, a, b in _io_lines(d)]
    if d.identical:
        return "\n".join([*out, "", "No differences."]) + "\n"
    stages = stage_rows(d)
    if stages:
        out += ["", "**By stage**", "", "| stage | params | change | MACs | change |", "|---|---:|---:|---:|---:|"]
        out += [
            f"| `{s}` | {human(pb)} | {_signed(pa - pb) or '0'} | {human(mb)} | {_signed(ma - mb) or '0'} |"
            for s, pb, pa, mb, ma in stages
        ]
    sections = []
    for title, units, net, sign in (("Added", d.added, n, 1), ("Removed", d.removed, o, -1)):
        if units:
            summary = f"{title}: {len(units)} block{'s' * (len(units) > 1)}, {sum(u.nodes for u in units)} nodes"
            sections.append((summary, unit_rows(net, units, sign)))
    if d.changed:
        rows = changed_rows(d)
        places = sum(r.count for r in rows)
        sections.append((f"Changed: {len(d.changed)} nodes in {places} place{'s' * (places > 1)}", rows))
    head = "\n".join(out) + "\n"
    return head + _details(sections, budget - len(head))


def _details(sections: list[tuple[str, list[Row]]], room: int) -> str:
    """Each section as a <details> table; rows past the remaining room become one 'more' line."""
    parts = []
    for summary, rows in sections:
        top = f"\n<details><summary>{summary}</summary>\n\n| where | what | change | params |\n|---|---|---|---:|\n"
        tail = "\n</details>\n"
        lines = [f"| {r.span} | {r.count} × {r.kind} | {_cell(r.what)} | {r.delta()} |\n" for r in rows]
        room -= len(top) + len(tail)
        kept = []
        for i, line in enumerate(lines):
            more = f"| … | {len(lines) - i} more rows: run `archspec diff` for all | | |\n"
            if len(line) + (len(more) if i < len(lines) - 1 else 0) > room:
                kept.append(more)
                room -= len(more)
                break
            kept.append(line)
            room -= len(line)
        parts.append(top + "".join(kept) + tail)
    return "".join(parts)


def to_json(d: Diff) -> str:
    def net(x: Network) -> dict:
        return {
            "name": x.name,
            "file": x.file,
            "total_params": x.total_params,
            "total_macs": x.total_macs,
            "nodes": len(x.nodes),
            "inputs": {k: shape_json(v) for k, v in x.input_shapes.items()},
            "outputs": {k: shape_json(v) for k, v in x.output_shapes.items()},
        }

    def unit(u: Unit) -> dict:
        return {"path": u.path, "nodes": u.nodes, "params": u.params, "macs": u.macs, "shape": shape_json(u.shape)}

    doc = {
        "old": net(d.old),
        "new": net(d.new),
        "delta": {
            "params": d.new.total_params - d.old.total_params,
            "macs": d.new.total_macs - d.old.total_macs,
            "nodes": len(d.new.nodes) - len(d.old.nodes),
        },
        "parameters": {k: {"old": a, "new": b} for k, a, b in param_changes(d)},
        "added": [unit(u) for u in d.added],
        "removed": [unit(u) for u in d.removed],
        "changed": [
            {"path": c.path, "op": c.op, "changes": {k: {"old": a, "new": b} for k, (a, b) in c.changes.items()}}
            for c in d.changed
        ],
    }
    return json.dumps(doc, indent=2, default=str)


# --- an old version from git ------------------------------------------------------------------


class RevisionError(Exception):
    pass


def at_revision(path: Path, rev: str, into: Path) -> Path:
    """The spec at `path` as of git revision `rev`, with every YAML file of the repository at
    that revision (bases and block libraries too) extracted under `into`."""
    where = path.resolve().parent
    try:
        root = Path(_git(where, "rev-parse", "--show-toplevel").decode().strip())
        rel = path.resolve().relative_to(root)
        names = _git(root, "ls-tree", "-r", "-z", "--name-only", rev).decode().split("\0")
        specs = [n for n in names if n.endswith((".yaml", ".yml"))]
        if not specs:
            raise RevisionError(f"revision {rev} has no YAML files")
        archive = _git(root, "archive", "--format=tar", rev, "--", *specs)
    except FileNotFoundError:
        raise RevisionError("git is not installed; compare two files instead: archspec diff OLD NEW") from None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    old = into / rel
    if not old.is_file():
        raise RevisionError(f"{rel} does not exist at revision {rev}")
    return old


def _git(cwd: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    if proc.returncode:
        raise RevisionError(f"git {args[0]} failed: {proc.stderr.decode().strip()}")
    return proc.stdout
