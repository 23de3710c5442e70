"""Load torchvision's weights into archspec's modules and compare outputs (needs torchvision).

Run in an environment with torchvision: python benchmarks/torchvision_parity.py [names...]
For each model: torchvision's state_dict loads with strict=True, then eval-mode outputs on a
random batch are compared. Prints the max relative difference, max|a - b| / max|b|.
Batch-norm statistics are randomised first so they are not the trivial (0, 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torchvision

import archspec

SPECS = Path(__file__).resolve().parents[1] / "specs"
DEFAULT = [
    "alexnet",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "vgg11_bn",
    "vgg13_bn",
    "vgg16_bn",
    "vgg19_bn",
    "googlenet",
    "googlenet_aux",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "wide_resnet50_2",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
]
# reference name -> (spec file, overrides, torchvision constructor kwargs)
VARIANTS = {
    "googlenet": ("googlenet", {}, {"aux_logits": False, "init_weights": True}),
    "googlenet_aux": ("googlenet", {"aux_logits": True}, {"aux_logits": True, "init_weights": True}),
}


def randomise_bn(model: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def compare(name: str, size: int = 224) -> float:
    torch.manual_seed(0)
    spec, overrides, kwargs = VARIANTS.get(name, (name, {}, {}))
    reference = getattr(torchvision.models, spec)(weights=None, **kwargs).eval()
    randomise_bn(reference)
    ours = archspec.build(SPECS / f"{spec}.yaml", backend="torch", **overrides).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        a, b = ours(x), reference(x)
    return ((a - b).abs().max() / b.abs().max()).item()


def main() -> None:
    names = sys.argv[1:] or DEFAULT
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    print(f"{'model':<20} {'strict load':<12} {'max rel diff':>12}")
    for name in names:
        diff = compare(name)
        print(f"{name:<20} {'ok':<12} {diff:>12.2e}")


if __name__ == "__main__":
    main()
