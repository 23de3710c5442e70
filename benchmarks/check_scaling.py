"""How `check` time grows with network size: generated ResNets of 10 to 10,000 residual blocks.

Run: python benchmarks/check_scaling.py [--max 10000] [--repeats 3]
Prints one row per size: blocks, graph nodes, best-of-N seconds for the whole pipeline
(load -> expand -> graph -> shapes), and microseconds per node. Linear growth shows as a
flat us/node column; the last column is each row's us/node relative to the smallest network's.
"""

from __future__ import annotations

import argparse
import time

from archspec import analyze

SPEC = """
name: resnet_{blocks}
blocks:
  basic:
    params: {{channels: null}}
    nodes:
      - {{name: conv1, op: conv2d, channels: "${{channels}}", kernel: 3, padding: 1, bias: false}}
      - {{name: bn1, op: batchnorm2d}}
      - {{name: relu1, op: relu}}
      - {{name: conv2, op: conv2d, channels: "${{channels}}", kernel: 3, padding: 1, bias: false}}
      - {{name: bn2, op: batchnorm2d}}
      - {{name: add, op: add, in: [bn2, x]}}
      - {{name: relu2, op: relu}}
inputs: {{x: [3, 32, 32]}}
nodes:
  - {{name: stem, op: conv2d, channels: 16, kernel: 3, padding: 1}}
  - {{name: body, repeat: {blocks}, block: basic, with: {{channels: 16}}}}
  - {{name: pool, op: global_avgpool2d}}
  - {{name: fc, op: linear, features: 10}}
"""


def measure(blocks: int, repeats: int) -> tuple[int, float]:
    text = SPEC.format(blocks=blocks)
    best = float("inf")
    nodes = 0
    for _ in range(repeats):
        start = time.perf_counter()
        result = analyze(f"resnet_{blocks}.yaml", text=text)
        best = min(best, time.perf_counter() - start)
        assert result.valid, result.diagnostics[:3]
        nodes = len(result.network.graph.nodes)
    return nodes, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [n for n in (10, 30, 100, 300, 1000, 3000, 10_000, 30_000) if n <= args.max]
    measure(10, 1)  # warm-up: first-call costs (pydantic validators) are not per-node costs
    print(f"{'blocks':>7} {'nodes':>7} {'seconds':>9} {'us/node':>8} {'vs 10':>6}")
    base = None
    for blocks in sizes:
        nodes, seconds = measure(blocks, args.repeats)
        per_node = seconds / nodes * 1e6
        base = base or per_node
        print(f"{blocks:>7} {nodes:>7} {seconds:>9.4f} {per_node:>8.1f} {per_node / base:>6.2f}")


if __name__ == "__main__":
    main()
