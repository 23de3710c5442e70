"""Compile time of one jitted SGD training step: blocks unrolled (the default) against `scan=True`.

Run: python benchmarks/flax_step_compile.py [--specs resnet50 preact_resnet:164 preact_resnet:1001]

Each spec and mode is measured in a fresh process (no compilation cache): the module from
`archspec.build(spec, backend="flax", scan=...)`, transferred from the same unrolled weights, a
step `nnx.jit(value_and_grad + SGD update)` over a batch of 4. `compile` is the first call's time
less the second's (trace, lower, XLA compile); `step` is the second call; `loss` of the first
call checks that both modes compute the same function. Prints a table with the ratio.
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


def _child(spec: str, scan: bool) -> dict:
    import jax
    import numpy as np
    import optax
    from flax import nnx

    import archspec

    name, _, depth = spec.partition(":")
    overrides = {"depth": int(depth)} if depth else {}
    path = ROOT / "specs" / f"{name}.yaml"
    model = archspec.build(path, backend="flax", **overrides)
    if scan:
        model = archspec.transfer(model, archspec.build(path, backend="flax", init=False, scan=True, **overrides))
    size = 224 if name == "resnet50" else 32
    x = jax.numpy.asarray(np.random.RandomState(0).randn(4, size, size, 3).astype(np.float32))
    y = jax.numpy.arange(4) % 10

    @nnx.jit
    def step(model, x, y):
        def loss(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        value, grads = nnx.value_and_grad(loss)(model)
        nnx.update(model, jax.tree.map(lambda p, g: p - 0.01 * g, nnx.state(model, nnx.Param), grads))
        return value

    start = time.perf_counter()
    loss = float(step(model, x, y))
    first = time.perf_counter() - start
    start = time.perf_counter()
    float(step(model, x, y))
    second = time.perf_counter() - start
    return {"compile": first - second, "step": second, "loss": loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=["resnet50", "preact_resnet:164", "preact_resnet:1001"])
    parser.add_argument("--modes", nargs="+", default=["unrolled", "scan"], choices=["unrolled", "scan"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1] == "scan")))
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["JAX_PLATFORMS"] = "cpu"
    print(
        f"{'spec':<20} {'unrolled compile s':>18} {'scan compile s':>14} {'ratio':>6} {'step s':>13} {'loss diff':>9}"
    )
    for spec in args.specs:
        runs = {}
        for mode in args.modes:
            cmd = [sys.executable, __file__, "--child", spec, mode]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode:  # PreAct-ResNet-1001 unrolled is killed for memory on a 23 GB machine
                print(f"{spec:<20} {mode}: failed with exit status {out.returncode} {out.stderr[-300:]}", flush=True)
                continue
            runs[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        if len(runs) < 2:
            for mode, r in runs.items():
                print(f"{spec:<20} {mode}: compile {r['compile']:.1f} s, step {r['step']:.2f} s", flush=True)
            continue
        u, s = runs["unrolled"], runs["scan"]
        steps = f"{u['step']:.2f} / {s['step']:.2f}"
        diff = abs(u["loss"] - s["loss"])
        print(
            f"{spec:<20} {u['compile']:>18.1f} {s['compile']:>14.1f} {u['compile'] / s['compile']:>6.1f} "
            f"{steps:>13} {diff:>9.1e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
