"""`archspec summary`: the per-node table, the parameter and buffer counts, a memory estimate.

Counts follow PyTorch: every parameter is trainable (a spec has no frozen parameters, so the
non-trainable count is 0 until one does); batch normalization's running mean, running
variance and batch counter are buffers, which Keras lists as its "non-trainable params".
"""

from __future__ import annotations

from dataclasses import dataclass

from .api import Network
from .ops import fmt
from .report import human, shape_json

DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@dataclass(frozen=True)
class Row:
    path: str
    op: str  # the op, or for a rolled-up group its block name
    inputs: tuple[str, ...]  # producer paths (spec inputs by name) outside the row
    shape: tuple
    params: int
    macs: int


@dataclass(frozen=True)
class Memory:
    """An estimate in bytes: every node output kept (as for a backward pass), at `batch` and `dtype`."""

    batch: int
    dtype: str
    inputs: int
    activations: int
    params: int
    buffers: int

    @property
    def total(self) -> int:
        return self.inputs + self.activations + self.params + self.buffers


def counts(net: Network) -> dict[str, int]:
    shapes = {**net.graph.inputs, **{p: n.shape for p, n in net.nodes.items()}}
    buf = sum(
        n.op.count_buffers([shapes[p] for p in n.inputs], shapes[n.path])
        for n in net.graph.nodes
        if n.op is not None and n.inputs
    )
    return {"trainable": net.total_params, "non_trainable": 0, "buffers": buf}


def memory(net: Network, batch: int = 1, dtype: str = "float32") -> Memory:
    width = DTYPES[dtype]
    c = counts(net)
    return Memory(
        batch,
        dtype,
        batch * width * sum(_size(s) for s in net.graph.inputs.values()),
        batch * width * sum(_size(n.shape) for n in net.nodes.values()),
        width * net.total_params,
        width * c["buffers"],
    )


def _relative(src: str, scope: str) -> str:
    """`src` named from inside `scope`, unless that leaves a bare index ('0.relu2')."""
    rest = src[len(scope) + 1 :] if scope and src.startswith(scope + ".") else src
    return src if rest[:1].isdigit() else rest


def rows(net: Network, depth: int | None = None) -> list[Row]:
    """One row per node, or with `depth` one per group deeper than `depth` path components."""
    graph = net.graph
    blocks = {g.path: g.block for g in graph.groups}
    units: dict[str, list[str]] = {}
    unit_of: dict[str, str] = {}
    for node in graph.nodes:
        parts = node.path.split(".")
        unit = node.path if depth is None or len(parts) <= depth else ".".join(parts[:depth])
        units.setdefault(unit, []).append(node.path)
        unit_of[node.path] = unit
    out = []
    for unit, members in units.items():
        inside = set(members)
        sources = [unit_of.get(p, p) for m in members for p in graph.node(m).inputs if p not in inside]
        infos = [net.nodes[m] for m in members]
        single = members == [unit]
        op = infos[0].op if single else (blocks.get(unit) or "group") + f" ({len(members)} nodes)"
        out.append(
            Row(
                unit,
                op,
                tuple(dict.fromkeys(sources)),
                net.shape(unit),
                sum(i.params for i in infos),
                sum(i.macs for i in infos),
            )
        )
    return out


def _connected(r: Row) -> str:
    """The row's inputs, named relative to its own scope where it shares one (`bn3`, not `layer1.0.bn3`)."""
    scope = r.path.rpartition(".")[0]
    return ", ".join(_relative(s, scope) for s in r.inputs)


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n} B"


def text(net: Network, depth: int | None = None, batch: int = 1, dtype: str = "float32") -> str:
    table = [("Node", "Op", "Inputs", "Output shape", "Params", "MACs")]
    table += [(r.path, r.op, _connected(r), fmt(r.shape), f"{r.params:,}", f"{r.macs:,}") for r in rows(net, depth)]
    widths = [max(len(r[i]) for r in table) for i in range(6)]

    def line(r):
        return "  ".join(r[i].ljust(widths[i]) if i < 4 else r[i].rjust(widths[i]) for i in range(6)).rstrip()

    rule = "-" * len(line(table[0]))
    ins = ", ".join(f"{k} {fmt(v)}" for k, v in net.graph.inputs.items())
    outs = ", ".join(
        f"{k} {fmt(v)}" + (" (training only)" if k in net.graph.training_outputs else "")
        for k, v in net.output_shapes.items()
    )
    c, m = counts(net), memory(net, batch, dtype)
    out = [f"{net.name} ({net.file})", f"inputs: {ins}", rule, line(table[0]), rule]
    out += [line(r) for r in table[1:]]
    out += [
        rule,
        f"total params: {net.total_params:,} ({human(net.total_params)})",
        f"  trainable: {c['trainable']:,}",
        f"  non-trainable: {c['non_trainable']:,}",
        f"buffers: {c['buffers']:,} (batch-norm running statistics)",
        f"total MACs:   {net.total_macs:,} ({human(net.total_macs)})",
        f"memory estimate (batch {batch}, {dtype}): {_bytes(m.total)}",
        f"  input {_bytes(m.inputs)}, activations {_bytes(m.activations)} (every node output kept for the backward "
        f"pass), params {_bytes(m.params)}, buffers {_bytes(m.buffers)}",
        f"outputs: {outs}",
    ]
    return "\n".join(out)


def to_json(net: Network, depth: int | None = None, batch: int = 1, dtype: str = "float32") -> dict:
    c, m = counts(net), memory(net, batch, dtype)
    return {
        "name": net.name,
        "file": net.file,
        "inputs": {k: shape_json(v) for k, v in net.graph.inputs.items()},
        "outputs": {k: shape_json(v) for k, v in net.output_shapes.items()},
        "training_outputs": [o for o in net.graph.outputs if o in net.graph.training_outputs],
        "total_params": net.total_params,
        "trainable_params": c["trainable"],
        "non_trainable_params": c["non_trainable"],
        "buffers": c["buffers"],
        "total_macs": net.total_macs,
        "memory_estimate": {
            "batch": m.batch,
            "dtype": m.dtype,
            "bytes": {
                "inputs": m.inputs,
                "activations": m.activations,
                "params": m.params,
                "buffers": m.buffers,
                "total": m.total,
            },
        },
        "nodes": [
            {
                "path": r.path,
                "op": r.op,
                "inputs": list(r.inputs),
                "output_shape": shape_json(r.shape),
                "params": r.params,
                "macs": r.macs,
            }
            for r in rows(net, depth)
        ],
    }
