"""What a Flax user feels on first contact: archspec's build against Keras 3's, in fresh processes.

Run: python benchmarks/flax_build_vs_keras.py [--pairs 3] [--models resnet50 densenet121]   (needs keras)

Every measurement is a new Python process with JAX on the CPU and no persistent compilation
cache (cold), and the two tools alternate within each pair, so machine load falls on both.
A process reports: `first` — the first model built in the process (archspec: check, generate,
exec and initialise, `archspec.build(spec, backend="flax")`; Keras: `keras.applications.X(
weights=None)` on the JAX backend), parameters ready; `second` — the same build again in the same
process (warm); `forward` — the first jitted forward pass of one 224x224 image after that (trace,
compile, run). Imports are not counted. Prints medians per model and the ratio archspec / Keras.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERAS = {"resnet50": "ResNet50", "densenet121": "DenseNet121"}


def _ready(tree) -> None:
    import jax

    jax.block_until_ready(jax.tree_util.tree_leaves(tree))


def _archspec(model: str) -> dict:
    import jax
    import numpy as np
    from flax import nnx

    import archspec

    spec = ROOT / "specs" / f"{model}.yaml"

    def build():
        module = archspec.build(spec, backend="flax")
        _ready(nnx.state(module))
        return module

    times = {"first": _timed(build)[0], "second": _timed(build)[0]}
    module = build()
    module.eval()
    x = jax.numpy.asarray(np.zeros((1, 224, 224, 3), np.float32))
    forward = nnx.jit(lambda m, x: m(x))
    times["forward"] = _timed(lambda: jax.block_until_ready(forward(module, x)))[0]
    return times


def _keras(model: str) -> dict:
    import keras
    import numpy as np

    make = getattr(keras.applications, KERAS[model])

    def build():
        net = make(weights=None)
        _ready([w.value for w in net.weights])
        return net

    times = {"first": _timed(build)[0]}
    keras.backend.clear_session()
    times["second"] = _timed(build)[0]
    net = build()
    x = np.zeros((1, 224, 224, 3), np.float32)
    times["forward"] = _timed(lambda: net.predict(x, verbose=0))[0]
    return times


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _child(tool: str, model: str) -> None:
    times = _archspec(model) if tool == "archspec" else _keras(model)
    print(json.dumps(times))


def _run(tool: str, model: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, __file__, "--child", tool, model], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(KERAS), choices=list(KERAS))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras

    print(f"jax {jax.__version__}, keras {keras.__version__} (JAX backend), CPU, cold processes, {args.pairs} pairs")
    header = f"{'model':<12} {'measure':<8} {'archspec s':>10} {'keras s':>8} {'ratio':>6}"
    print(header)
    for model in args.models:
        ours, theirs = [], []
        for _ in range(args.pairs):
            ours.append(_run("archspec", model))
            theirs.append(_run("keras", model))
        for measure in ("first", "second", "forward"):
            o = statistics.median(r[measure] for r in ours)
            t = statistics.median(r[measure] for r in theirs)
            print(f"{model:<12} {measure:<8} {o:>10.2f} {t:>8.2f} {o / t:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
