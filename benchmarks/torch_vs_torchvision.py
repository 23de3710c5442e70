"""archspec's PyTorch modules against torchvision's, measured in one run (needs torchvision).

Run: python benchmarks/torch_vs_torchvision.py [--models resnet50 ...] [--repeats 15]
1. Build time: `archspec.build(spec)` (load, check, generate, exec, construct) against
   torchvision's constructor, alternating the two, median of --repeats. Target ratio <= 1.1.
2. CPU forward latency, eval mode, no_grad, batch --batch at 224x224, alternating the two
   models call by call, median of --repeats. Target ratio 1.00 +- 0.03.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torchvision

import archspec

SPECS = Path(__file__).resolve().parents[1] / "specs"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_times(name: str, repeats: int) -> tuple[float, float]:
    ours, theirs = [], []
    ctor = getattr(torchvision.models, name)
    for _ in range(repeats):
        ours.append(timed(lambda: archspec.build(SPECS / f"{name}.yaml")))
        theirs.append(timed(lambda: ctor(weights=None)))
    return statistics.median(ours), statistics.median(theirs)


def latencies(name: str, repeats: int, batch: int) -> tuple[float, float]:
    ours = archspec.build(SPECS / f"{name}.yaml").eval()
    theirs = getattr(torchvision.models, name)(weights=None).eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(batch, 3, 224, 224)
    a, b = [], []
    with torch.inference_mode():
        for _ in range(2):
            ours(x), theirs(x)
        for _ in range(repeats):
            a.append(timed(lambda: ours(x)))
            b.append(timed(lambda: theirs(x)))
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "densenet121"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads")
    print(
        f"{'model':<12} {'build ours':>10} {'build tv':>9} {'ratio':>6}   "
        f"{'fwd ours':>9} {'fwd tv':>9} {'ratio':>6}  (median s; forward batch {args.batch})"
    )
    for name in args.models:
        bo, bt = build_times(name, args.repeats)
        fo, ft = latencies(name, args.repeats, args.batch)
        print(f"{name:<12} {bo:>10.3f} {bt:>9.3f} {bo / bt:>6.2f}   {fo:>9.3f} {ft:>9.3f} {fo / ft:>6.2f}")


if __name__ == "__main__":
    main()
