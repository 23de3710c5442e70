"""Runs of identical blocks as one scanned module: the build option `scan=True`.

A deep network repeats one block many times (ResNet-1001: 111 bottlenecks per stage), and a
jitted step unrolls every copy, so its compile time grows with depth. Here each run of two or
more structurally identical blocks in a `Sequential` (same class, same static attributes, same
state shapes) becomes a `Scanned` module: the blocks' variables stacked on a leading axis and
applied in turn with `nnx.scan`, so XLA compiles one copy. The values are the blocks' own, so the
function is unchanged; `archspec.transfer` reads and writes the stacked variables under the
blocks' own keys (`layer1.1.conv1.weight`, `layer1.2.conv1.weight`, …).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def _stack(*values):
    if isinstance(values[0], jax.ShapeDtypeStruct):  # an abstract module (init=False)
        return jax.ShapeDtypeStruct((len(values), *values[0].shape), values[0].dtype)
    return jnp.stack(values)


class Scanned(nnx.Module):
    """Blocks `start` … `start + count - 1` of a Sequential, stacked and applied with nnx.scan."""

    def __init__(self, blocks: list[nnx.Module], start: int) -> None:
        self.start, self.count = start, len(blocks)
        graphdef, _ = nnx.split(blocks[0])
        states = [nnx.split(block)[1] for block in blocks]
        self.layers = nnx.merge(graphdef, jax.tree.map(_stack, *states))

    def __call__(self, x: jax.Array) -> jax.Array:
        @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
        def apply(x, block):
            return block(x)

        return apply(x, self.layers)


def _signature(block: nnx.Module):
    graphdef, state = nnx.split(block)
    return graphdef, tuple((getattr(v, "shape", ()), getattr(v, "dtype", None)) for v in jax.tree.leaves(state))


def scan_repeats(module: nnx.Module) -> nnx.Module:
    """Replace every run of identical blocks in the module's Sequentials by a `Scanned` module."""
    sequentials = [node for _, node in nnx.iter_graph(module) if type(node).__name__ == "Sequential"]
    for sequential in sequentials:
        items, out, start = list(sequential), [], 0
        signatures = [_signature(item) for item in items]
        while start < len(items):
            stop = start + 1
            while stop < len(items) and signatures[stop] == signatures[start]:
                stop += 1
            out.append(Scanned(items[start:stop], start) if stop - start >= 2 else items[start])
            start = stop
        if len(out) != len(items):
            while len(sequential):
                sequential.pop()
            sequential.extend(out)
    return module
