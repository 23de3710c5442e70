"""Flax modules' parameters and statistics in the canonical (PyTorch) layout, both ways.

Canonical keys are node paths plus PyTorch's leaf names; conv kernels are (O, I/groups, kH, kW)
and linear kernels (out, in). Flax stores (kH, kW, I/groups, O) and (in, out).
"""

from __future__ import annotations

import numpy as np

from .keyed import canonical

# flax leaf name -> canonical leaf name
_LEAF = {
    "kernel": "weight",
    "scale": "weight",
    "bias": "bias",
    "mean": "running_mean",
    "var": "running_var",
    "num_batches_tracked": "num_batches_tracked",
}


def _variables(module):
    from flax import nnx

    for path, value in nnx.iter_graph(module):
        # learned tensors of their own (a class token, attention's in_proj_weight) keep their names
        if isinstance(value, nnx.Variable) and path and (path[-1] in _LEAF or _own(value)):
            yield path, value


def _own(value) -> bool:
    from flax import nnx

    return isinstance(value, nnx.Param) or type(value).__name__ == "Buffer"  # the generated files' buffers


def _entries(module):
    """(canonical key, Flax leaf name, variable, index) per transferable value: the index picks a block's slice of
    a variable stacked by scan.Scanned (None for a plain variable)."""
    from flax import nnx

    scans = {path: node for path, node in nnx.iter_graph(module) if type(node).__name__ == "Scanned"}
    for path, var in _variables(module):
        owner = next((p for p in scans if path[: len(p) + 1] == (*p, "layers")), None)
        if owner is None:
            yield _key(path), path[-1], var, None
            continue
        scan, rest = scans[owner], path[len(owner) + 1 :]
        for i in range(scan.count):
            yield _key((*owner[:-1], scan.start + i, *rest)), path[-1], var, i


def _key(path) -> str:
    return ".".join(str(canonical(p)) for p in (*path[:-1], _LEAF.get(path[-1], path[-1])))


# kernel rank -> the axes of a Flax kernel in canonical order: (kH, kW, I, O) -> (O, I, kH, kW), (in, out) -> (out, in)
_TO_CANONICAL = {4: (3, 2, 0, 1), 2: (1, 0)}


def _to_canonical(leaf: str, array: np.ndarray) -> np.ndarray:
    perm = _TO_CANONICAL.get(array.ndim) if leaf == "kernel" else None
    return array if perm is None else array.transpose(perm)


def _from_canonical(leaf: str, array: np.ndarray) -> np.ndarray:
    perm = _TO_CANONICAL.get(array.ndim) if leaf == "kernel" else None
    return array if perm is None else array.transpose(np.argsort(perm))


def export_state(module) -> dict[str, np.ndarray]:
    out = {}
    for key, leaf, var, index in _entries(module):
        value = np.asarray(var.get_value())
        out[key] = np.array(_to_canonical(leaf, value if index is None else value[index]))
    return out


def import_state(module, state: dict[str, np.ndarray]) -> None:
    import jax.numpy as jnp

    entries = list(_entries(module))
    targets = {key for key, *_ in entries}
    missing, unexpected = sorted(targets - set(state)), sorted(set(state) - targets)
    if missing or unexpected:
        raise ValueError(f"parameters differ: missing {missing[:5]}, unexpected {unexpected[:5]}")
    stacks: dict[int, tuple] = {}  # a stacked variable: its blocks' slices, set together
    for key, leaf, var, index in entries:
        current = var.get_value()
        shape = tuple(current.shape) if index is None else tuple(current.shape[1:])
        value = _from_canonical(leaf, np.asarray(state[key]))
        if tuple(value.shape) != shape:
            expected = _to_canonical(leaf, np.empty(shape, np.uint8)).shape
            raise ValueError(
                f"'{key}' has shape {tuple(state[key].shape)} in the source but the destination expects {expected}"
            )
        if index is None:
            var.set_value(jnp.array(value, dtype=current.dtype, copy=True))
        else:
            stacks.setdefault(id(var), (var, {}))[1][index] = value
    for var, slices in stacks.values():
        stacked = np.stack([slices[i] for i in range(len(slices))])
        var.set_value(jnp.array(stacked, dtype=var.get_value().dtype, copy=True))
