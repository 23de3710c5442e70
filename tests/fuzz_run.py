"""Valid means it runs: a checked network built with a backend and run, forward and backward.

Shared by the Hypothesis tests (tests/test_fuzz_backends.py, which compare with the shapes the
generator built the network for) and the campaigns of benchmarks/fuzz.py (which compare with the
inferred shapes). Shapes are returned in the spec's order (NCHW images, no batch), whatever the
backend's own layout (Flax: NHWC). torch and flax are imported when a network is run, not before.
"""

from __future__ import annotations

import math

import archspec

BATCH = 2  # batch norm in training needs more than one value per channel


def small(network, max_params: int = 12_000_000, max_macs: int = 2_000_000_000, max_values: int = 50_000_000) -> bool:
    """Cheap enough to build and run once on a CPU: weights, MACs and activations."""
    values = sum(math.prod(n.shape) for n in network.nodes.values())
    return network.total_params <= max_params and network.total_macs <= max_macs and values <= max_values


def _spec_shape(network, path: str, shape: tuple, backend: str) -> tuple:
    """A backend's output shape (batch first) in the spec's order: Flax keeps images NHWC."""
    if backend == "flax" and len(shape) == 4 and network.layout(path) == "CHW":
        return (shape[3], shape[1], shape[2])
    return tuple(shape[1:])


def _as_tuple(outs) -> tuple:
    return tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)


def _check(network, paths, outs, backend: str, mode: str) -> list[tuple]:
    outs = _as_tuple(outs)
    if len(outs) != len(paths):
        raise AssertionError(f"{mode}: {len(outs)} outputs, {len(paths)} in the spec")
    return [_spec_shape(network, p, tuple(o.shape), backend) for p, o in zip(paths, outs)]


def _state_keys(network, keys) -> None:
    """Every state_dict key is a node's path, or a name below one: nothing renamed or lost."""
    paths = {n.path for n in network.graph.nodes}
    for key in keys:
        parts = key.split(".")
        if not any(".".join(parts[:i]) in paths for i in range(1, len(parts) + 1)):
            raise AssertionError(f"state_dict key {key!r} is no node's path")


def _torch(network, backward: bool) -> tuple[list, list]:
    import torch

    model = archspec.build(network, backend="torch", seed=0)
    _state_keys(network, model.state_dict())
    xs = [torch.randn(BATCH, *shape) for shape in network.input_shapes.values()]
    model.eval()
    with torch.no_grad():
        evaluated = _check(network, network.graph.eval_outputs, model(*xs), "torch", "evaluation")
    if not backward:
        return evaluated, []
    model.train()
    xs = [x.clone().requires_grad_() for x in xs]
    outs = _as_tuple(model(*xs))
    trained = _check(network, network.graph.outputs, outs, "torch", "training")
    sum(o.float().sum() for o in outs).backward()
    return evaluated, trained


def _flax(network, backward: bool) -> tuple[list, list]:
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    model = archspec.build(network, backend="flax", seed=0)
    rng = np.random.default_rng(0)
    xs = []
    for name, shape in network.input_shapes.items():
        laid = (*shape[1:], shape[0]) if network.layout(name) == "CHW" else tuple(shape)  # NHWC
        xs.append(jnp.asarray(rng.standard_normal((BATCH, *laid)), dtype=jnp.float32))
    model.eval()
    evaluated = _check(network, network.graph.eval_outputs, model(*xs), "flax", "evaluation")
    if not backward:
        return evaluated, []
    model.train()

    def loss(m, inputs):
        outs = _as_tuple(m(*inputs))
        return sum(jnp.sum(o.astype(jnp.float32)) for o in outs), outs

    # gradients of the parameters and of the inputs, as torch's backward computes them
    (_, outs), _ = nnx.value_and_grad(loss, argnums=(0, 1), has_aux=True)(model, xs)
    return evaluated, _check(network, network.graph.outputs, outs, "flax", "training")


RUNNERS = {"torch": _torch, "flax": _flax}


def run_built(network, backend: str, backward: bool = True) -> tuple[list, list]:
    """Build `network` with `backend` and run it on a batch of BATCH: in evaluation (without
    gradients) and, with `backward`, in training with a backward pass of the outputs' sum. Returns
    the shapes of the outputs each mode returned (the evaluation outputs, then all outputs, in the
    spec's order, each shape as the spec writes it); raises on failure."""
    return RUNNERS[backend](network, backward)


def false_accept(network, backend: str = "torch", backward: bool = True) -> str | None:
    """Why a valid network does not build and run with `backend` as checked (an exception, or a
    shape other than the inferred one), or None."""
    try:
        evaluated, trained = run_built(network, backend, backward)
    except Exception as exc:  # noqa: BLE001 - any failure of a checked network is the finding
        return f"{backend}: {type(exc).__name__}: {str(exc)[:300]}"
    for got, paths in ((evaluated, network.graph.eval_outputs), (trained, network.graph.outputs if backward else ())):
        want = [tuple(network.shape(p)) for p in paths]
        if got != want:
            return f"{backend} shapes {got} != inferred {want}"
    return None


def features(network) -> set[str]:
    """The classes of input a network belongs to, as the campaign counts them: a node named like a
    framework attribute or a keyword, or like a name generated code defines, a key (`a-b`), layers of
    one op with different init schemes, a `parameter` inside a container, a block."""
    import fuzz_names

    out = set()
    by_op: dict[str, set] = {}
    for node in network.graph.nodes:
        parts = node.path.split(".")
        if any(p in fuzz_names.FRAMEWORK for p in parts):
            out.add("framework name")
        if any(p in fuzz_names.CODE for p in parts):
            out.add("generated-code name")
        if any(not (p.isidentifier() or p.isdigit()) for p in parts):
            out.add("key name")
        if node.op.name == "parameter" and len(parts) > 1:
            out.add("parameter in a container")
        if "init" in type(node.op).model_fields and node.op.name != "parameter":
            by_op.setdefault(node.op.name, set()).add((node.op.init, getattr(node.op, "bias_init", None)))
    if any(len(schemes) > 1 for schemes in by_op.values()):
        out.add("mixed init")
    if any(g.block for g in network.graph.groups):
        out.add("block")
    return out
