"""Training throughput of archspec's ResNet-50 beside torchvision's, in the same run (needs torchvision).

Run on a GPU:  python benchmarks/torch_train_throughput.py            (batch 256, bf16, channels_last)
Smoke on CPU:  python benchmarks/torch_train_throughput.py --device cpu --batch 4 --steps 2 --warmup 1 --size 64
For each model and mode (eager, torch.compile): SGD steps under bf16 autocast with channels_last
inputs and weights, synthetic data; prints images/s (median over steps, timed with device sync).
Models alternate per mode so clock and thermal drift affect both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torchvision

import archspec

SPEC = Path(__file__).resolve().parents[1] / "specs" / "resnet50.yaml"


def step_fn(model, opt, device):
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def throughput(model, args, device, compiled: bool) -> float:
    model = model.to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    step = step_fn(torch.compile(model) if compiled else model, opt, device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (args.batch,), device=device)
    for _ in range(args.warmup):
        step(x, y)
    times = []
    for _ in range(args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step(x, y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return args.batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--modes", nargs="+", default=["eager", "compile"])
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, {name}, batch {args.batch}, "
        f"{args.size}x{args.size}, bf16 autocast, channels_last, SGD"
    )
    print(f"{'mode':<8} {'archspec img/s':>15} {'torchvision img/s':>18} {'ratio':>6}")
    for mode in args.modes:
        ours = throughput(
            archspec.build(SPEC, backend="torch", seed=0, image_size=args.size), args, device, mode == "compile"
        )
        theirs = throughput(torchvision.models.resnet50(weights=None), args, device, mode == "compile")
        print(f"{mode:<8} {ours:>15.1f} {theirs:>18.1f} {ours / theirs:>6.3f}")


if __name__ == "__main__":
    main()
