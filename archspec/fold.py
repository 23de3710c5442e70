"""Inference rewrite: batch norm folded into the convolution before it (`build(fold_bn=True)`,
`archspec compile --fold-bn`).

In evaluation a batch norm is a per-channel affine map, so `conv -> batchnorm2d` computes the same
as one convolution with scaled weights and a bias: W' = W * s, b' = (b - mean) * s + beta, with
s = gamma / sqrt(var + eps). A pair folds when the batch norm reads only the convolution and
nothing else reads the convolution (its output is not a network or group output either), so no
other node sees the unnormalised value. The folded network has no batch norms at those places and
its convolutions have biases: it is for inference, and its weights come from the unfolded model
through `archspec.transfer`, which folds them (`fold_state`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from .api import Network
from .graph import Graph
from .shapes import infer

# the canonical (PyTorch) leaves of a batch norm, all dropped by folding
_BN_LEAVES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def foldable(graph: Graph) -> tuple[tuple[str, str, float], ...]:
    """(convolution path, batch norm path, eps) for every pair that folds."""
    uses = Counter(p for node in graph.nodes for p in node.inputs)
    uses.update(graph.outputs)
    uses.update(g.output for g in graph.groups if g.output)
    by_path = {node.path: node for node in graph.nodes}
    pairs = []
    for node in graph.nodes:
        conv = by_path.get(node.inputs[0]) if node.op.name == "batchnorm2d" and len(node.inputs) == 1 else None
        if conv is not None and conv.op.name == "conv2d" and uses[conv.path] == 1:
            pairs.append((conv.path, node.path, node.op.eps))
    return tuple(pairs)


def fold_bn(net: Network) -> tuple[Network, tuple[tuple[str, str, float], ...]]:
    """The network with each foldable batch norm removed and its convolution given a bias."""
    graph = net.graph
    pairs = foldable(graph)
    into = {bn: conv for conv, bn, _ in pairs}
    convs = {conv for conv, _, _ in pairs}
    nodes = []
    for node in graph.nodes:
        if node.path in into:
            continue
        op = node.op.model_copy(update={"bias": True}) if node.path in convs else node.op
        nodes.append(replace(node, op=op, inputs=tuple(into.get(p, p) for p in node.inputs)))
    folded = replace(
        graph,
        nodes=tuple(nodes),
        outputs=tuple(into.get(p, p) for p in graph.outputs),
        groups=tuple(replace(g, output=into.get(g.output, g.output)) for g in graph.groups),
        training_outputs=frozenset(into.get(p, p) for p in graph.training_outputs),
    )
    info, _ = infer(folded)
    return Network(folded, info, net.warnings), pairs


def fold_state(state: dict, pairs) -> dict:
    """A canonical state of the unfolded network, folded: conv weights scaled, biases set, batch
    norm entries dropped. Computed in float64 and returned in each weight's own dtype."""
    import numpy as np

    out = dict(state)
    for conv, bn, eps in pairs:
        weight = np.asarray(state[f"{conv}.weight"], np.float64)
        channels = weight.shape[0]
        gamma = np.asarray(state.get(f"{bn}.weight", np.ones(channels)), np.float64)
        beta = np.asarray(state.get(f"{bn}.bias", np.zeros(channels)), np.float64)
        mean = np.asarray(state[f"{bn}.running_mean"], np.float64)
        scale = gamma / np.sqrt(np.asarray(state[f"{bn}.running_var"], np.float64) + eps)
        bias = np.asarray(state.get(f"{conv}.bias", np.zeros(channels)), np.float64)
        dtype = np.asarray(state[f"{conv}.weight"]).dtype
        out[f"{conv}.weight"] = (weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))).astype(dtype)
        out[f"{conv}.bias"] = ((bias - mean) * scale + beta).astype(dtype)
        for leaf in _BN_LEAVES:
            out.pop(f"{bn}.{leaf}", None)
    return out
