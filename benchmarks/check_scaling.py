"""How `check` time grows with spec size: generated ResNets, or (--params) chains of parameters.

The ResNets have 10 to 10,000 residual blocks; in a chain, each parameter's default is an
expression on the one before.

Run: python benchmarks/check_scaling.py [--max 10000] [--repeats 3] [--params 47134]
Prints one row per size: blocks, graph nodes, best-of-N seconds for the whole pipeline
(load -> expand -> graph -> shapes), and microseconds per node. Linear growth shows as a
flat us/node column; the last column is each row's us/node relative to the smallest network's.
With --params N it prints the same for parameter chains of 1,000 to N parameters instead (per
parameter): 47,134 is the 1 MB worst case of issue 20, which fits in the file size limit.
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

PARAM_SIZES = (1000, 3000, 10_000, 30_000, 47_134)


def chain_spec(params: int) -> str:
    """`params` parameters, each default an expression on the previous one (`p1: ${p0+1}`), the
    last one read by the only node. One-space indentation and no spaces inside `${...}` make it
    dense: 47,134 parameters are 967,678 bytes, under load.MAX_BYTES (1,000,000; 48,673 fit)."""
    last = f"p{params - 1}"
    lines = ["name: chain", "inputs: {x: [4]}", "nodes:", f"  - {{name: fc, op: linear, features: '${{{last}}}'}}"]
    lines += ["params:", " p0: 1"] + [f" p{i}: ${{p{i - 1}+1}}" for i in range(1, params)]
    return "\n".join(lines) + "\n"


def best_of(name: str, text: str, repeats: int):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = analyze(name, text=text)
        best = min(best, time.perf_counter() - start)
        assert result.valid, result.diagnostics[:3]
    return result, best


def measure(blocks: int, repeats: int) -> tuple[int, float]:
    result, best = best_of(f"resnet_{blocks}.yaml", SPEC.format(blocks=blocks), repeats)
    return len(result.network.graph.nodes), best


def resnet_table(largest: int, repeats: int) -> None:
    sizes = [n for n in (10, 30, 100, 300, 1000, 3000, 10_000, 30_000) if n <= largest]
    measure(10, 1)  # warm-up: first-call costs (pydantic validators) are not per-node costs
    print(f"{'blocks':>7} {'nodes':>7} {'seconds':>9} {'us/node':>8} {'vs 10':>6}")
    base = None
    for blocks in sizes:
        nodes, seconds = measure(blocks, repeats)
        per_node = seconds / nodes * 1e6
        base = base or per_node
        print(f"{blocks:>7} {nodes:>7} {seconds:>9.4f} {per_node:>8.1f} {per_node / base:>6.2f}")


def params_table(largest: int, repeats: int) -> None:
    sizes = sorted({n for n in PARAM_SIZES if n < largest} | {largest})
    best_of("chain.yaml", chain_spec(10), 1)  # warm-up, as above
    print(f"{'params':>7} {'bytes':>8} {'seconds':>9} {'us/param':>9} {'vs first':>8}")
    base = None
    for params in sizes:
        text = chain_spec(params)
        result, seconds = best_of("chain.yaml", text, repeats)
        assert result.network.graph.params[f"p{params - 1}"] == params
        per_param = seconds / params * 1e6
        base = base or per_param
        print(f"{params:>7} {len(text):>8} {seconds:>9.4f} {per_param:>9.1f} {per_param / base:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--params", type=int, metavar="N", help="time parameter chains of up to N parameters instead")
    args = parser.parse_args()
    if args.params:
        params_table(args.params, args.repeats)
    else:
        resnet_table(args.max, args.repeats)


if __name__ == "__main__":
    main()
