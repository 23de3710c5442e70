"""Flax modules' parameters and statistics in the canonical (PyTorch) layout, both ways.

Canonical keys are node paths plus PyTorch's leaf names; conv kernels are (O, I/groups, kH, kW)
and linear kernels (out, in). Flax stores (kH, kW, I/groups, O) and (in, out).
"""

from __future__ import annotations

import numpy as np

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
        if isinstance(value, nnx.Variable) and path and path[-1] in _LEAF:
            yield path, value


def _key(path) -> str:
    return ".".join(str(p) for p in (*path[:-1], _LEAF[path[-1]]))


# kernel rank -> the axes of a Flax kernel in canonical order: (kH, kW, I, O) -> (O, I, kH, kW), (in, out) -> (out, in)
_TO_CANONICAL = {4: (3, 2, 0, 1), 2: (1, 0)}


def _to_canonical(leaf: str, array: np.ndarray) -> np.ndarray:
    perm = _TO_CANONICAL.get(array.ndim) if leaf == "kernel" else None
    return array if perm is None else array.transpose(perm)


def _from_canonical(leaf: str, array: np.ndarray) -> np.ndarray:
    perm = _TO_CANONICAL.get(array.ndim) if leaf == "kernel" else None
    return array if perm is None else array.transpose(np.argsort(perm))


def export_state(module) -> dict[str, np.ndarray]:
    return {_key(p): np.array(_to_canonical(p[-1], np.asarray(v.get_value()))) for p, v in _variables(module)}


def import_state(module, state: dict[str, np.ndarray]) -> None:
    import jax.numpy as jnp

    targets = {_key(p): (p, v) for p, v in _variables(module)}
    missing, unexpected = sorted(set(targets) - set(state)), sorted(set(state) - set(targets))
    if missing or unexpected:
        raise ValueError(f"parameters differ: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for key, (path, var) in targets.items():
        value = _from_canonical(path[-1], np.asarray(state[key]))
        if tuple(value.shape) != tuple(var.get_value().shape):
            raise ValueError(
                f"'{key}' has shape {tuple(state[key].shape)} in the source but the destination "
                f"expects {tuple(_to_canonical(path[-1], np.asarray(var.get_value())).shape)}"
            )
        var.set_value(jnp.array(value, dtype=var.get_value().dtype, copy=True))
