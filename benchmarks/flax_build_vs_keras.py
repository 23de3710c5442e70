"""Build time of archspec's Flax ResNet-50 against Keras 3's, measured in one run (needs keras).

Run: KERAS_BACKEND=jax python benchmarks/flax_build_vs_keras.py [--repeats 7]
archspec: `archspec.build(specs/resnet50.yaml, backend="flax")` (check, generate, exec, initialise).
Keras: `keras.applications.ResNet50(weights=None)` with the JAX backend. Alternating, median seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402

import archspec  # noqa: E402

SPEC = Path(__file__).resolve().parents[1] / "specs" / "resnet50.yaml"


def timed(fn) -> float:
    start = time.perf_counter()
    out = fn()
    jax.block_until_ready(jax.tree_util.tree_leaves(getattr(out, "weights", None) or [0]))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    archspec.build(SPEC, backend="flax")  # warm-up: imports and first-call costs on both sides
    keras.applications.ResNet50(weights=None)
    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(timed(lambda: archspec.build(SPEC, backend="flax")))
        theirs.append(timed(lambda: keras.applications.ResNet50(weights=None)))
        keras.backend.clear_session()
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"jax {jax.__version__}, keras {keras.__version__} ({keras.backend.backend()} backend)")
    print(f"{'model':<10} {'archspec s':>11} {'keras s':>9} {'ratio':>6}")
    print(f"{'resnet50':<10} {o:>11.3f} {t:>9.3f} {o / t:>6.2f}")


if __name__ == "__main__":
    main()
