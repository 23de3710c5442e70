"""GPU training throughput of archspec's Flax ResNet-50, beside Flax's own Linen example, in one run.

Run: python benchmarks/flax_train_throughput.py --linen-examples PATH/TO/flax/examples/imagenet
     (add --device-smoke --batch 4 --size 64 --steps 2 to smoke-test on a CPU)
Each model: a jitted SGD step (bf16 compute, batch 256 by default, synthetic data), images/s as
the median over steps after warm-up. The Linen model is imported from a checkout of Flax's
examples/imagenet (models.py), which this repository does not vendor; without the path only
archspec's model is measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import archspec

SPEC = Path(__file__).resolve().parents[1] / "specs" / "resnet50.yaml"


def measure(step, state, x, y, warmup: int, steps: int, batch: int) -> float:
    for _ in range(warmup):
        state = step(state, x, y)
    jax.block_until_ready(state)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        state = jax.block_until_ready(step(state, x, y))
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def archspec_step(size: int):
    model = archspec.build(SPEC, backend="flax", image_size=size)
    optimizer = nnx.Optimizer(model, optax.sgd(0.1, momentum=0.9), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x, y):
        def loss_fn(model):
            logits = model(x.astype(jnp.bfloat16)).astype(jnp.float32)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    return lambda state, x, y: (step(model, optimizer, x, y), state)[1], 0


def linen_step(path: Path, size: int, batch: int):
    spec = importlib.util.spec_from_file_location("flax_imagenet_models", path / "models.py")
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    model = models.ResNet50(num_classes=1000, dtype=jnp.bfloat16)
    variables = model.init(jax.random.key(0), jnp.ones((1, size, size, 3)), train=False)
    tx = optax.sgd(0.1, momentum=0.9)
    state = (variables["params"], variables["batch_stats"], tx.init(variables["params"]))

    @jax.jit
    def step(state, x, y):
        params, stats, opt = state

        def loss_fn(params):
            logits, new = model.apply({"params": params, "batch_stats": stats}, x, train=True, mutable=["batch_stats"])
            loss = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), y).mean()
            return loss, new["batch_stats"]

        (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt = tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), stats, opt

    return step, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--linen-examples", type=Path, help="path to flax/examples/imagenet")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    x = jax.random.normal(jax.random.key(1), (args.batch, args.size, args.size, 3))
    y = jax.random.randint(jax.random.key(2), (args.batch,), 0, 1000)
    print(f"jax {jax.__version__}, {jax.devices()[0].device_kind}, batch {args.batch}, {args.size}px, bf16, SGD")
    step, state = archspec_step(args.size)
    ours = measure(step, state, x, y, args.warmup, args.steps, args.batch)
    print(f"{'model':<28} {'img/s':>9}")
    print(f"{'archspec flax resnet50':<28} {ours:>9.1f}")
    if args.linen_examples:
        step, state = linen_step(args.linen_examples, args.size, args.batch)
        theirs = measure(step, state, x, y, args.warmup, args.steps, args.batch)
        print(f"{'flax examples linen resnet50':<28} {theirs:>9.1f}")
        print(f"ratio archspec / linen: {ours / theirs:.3f}")


if __name__ == "__main__":
    main()
