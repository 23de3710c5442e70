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


def to_markdown(d: Diff) -> str:
    o, n = d.old, d.new
    out = [
        f"### archspec diff: `{o.name}` → `{n.name}`",
        "",
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
    for title, units in (("Added", d.added), ("Removed", d.removed)):
        if units:
            out += [
                "",
                f"**{title}** ({len(units)}, {sum(u.nodes for u in units)} nodes)",
                "",
                "| path | output | params | MACs | nodes |",
                "|---|---|---:|---:|---|",
            ]
            out += [f"| `{u.path}` | `{fmt(u.shape)}` | {u.params:,} | {u.macs:,} | {u.ops} |" for u in units]
    if d.changed:
        out += ["", f"**Changed** ({len(d.changed)})", "", "| path | op | change |", "|---|---|---|"]
        out += [f"| `{c.path}` | {c.op} | {_cell(_change_text(c))} |" for c in d.changed]
    return "\n".join(out) + "\n"


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
