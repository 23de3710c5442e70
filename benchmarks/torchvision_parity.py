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
# every torchvision RegNet is one spec, regnet_y_400mf.yaml, with its `variant`
REGNETS = [f"regnet_{v}" for v in ("y_400mf", "y_800mf", "y_1_6gf", "y_3_2gf", "x_400mf", "x_800mf", "x_1_6gf")]
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
    "squeezenet1_1",
    "squeezenet1_0",
    "inception_v3",
    "inception_v3_aux",
    "inception_v3_transform",
    "mobilenet_v2",
    "mobilenet_v2_050",
    *(f"efficientnet_b{n}" for n in range(8)),
    *REGNETS,
    "convnext_tiny",
    "shufflenet_v2_x1_0",
    "mobilenet_v3_large",
]
# reference name -> (spec file, overrides, torchvision constructor kwargs[, torchvision function])
SQUEEZENET1_0 = {
    "stem": [96, 7],
    "fires": ["M", [16, 64], [16, 64], [32, 128], "M", [32, 128], [48, 192], [48, 192], [64, 256], "M", [64, 256]],
}
VARIANTS = {
    "googlenet": ("googlenet", {}, {"aux_logits": False, "init_weights": True}),
    "googlenet_aux": ("googlenet", {"aux_logits": True}, {"aux_logits": True, "init_weights": True}),
    "squeezenet1_0": ("squeezenet1_1", SQUEEZENET1_0, {}, "squeezenet1_0"),
    "inception_v3": ("inception_v3", {}, {"aux_logits": False, "init_weights": False}),
    "inception_v3_aux": ("inception_v3", {"aux_logits": True}, {"aux_logits": True, "init_weights": False}),
    "inception_v3_transform": (
        "inception_v3",
        {"transform_input": True},
        {"aux_logits": False, "transform_input": True, "init_weights": False},
    ),
    "mobilenet_v2_050": ("mobilenet_v2", {"width_mult": 0.5}, {"width_mult": 0.5}, "mobilenet_v2"),
    # B1-B7: one spec, a `variant` parameter (width, depth, dropout, crop size, batch-norm eps)
    **{f"efficientnet_b{n}": ("efficientnet_b0", {"variant": f"b{n}"}, {}, f"efficientnet_b{n}") for n in range(1, 8)},
    **{r: ("regnet_y_400mf", {"variant": r[len("regnet_") :]}, {}, r) for r in REGNETS if r != "regnet_y_400mf"},
}


def randomise_bn(model: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def compare(name: str) -> float:
    torch.manual_seed(0)
    spec, overrides, kwargs, *function = VARIANTS.get(name, (name, {}, {}))
    reference = getattr(torchvision.models, function[0] if function else spec)(weights=None, **kwargs).eval()
    randomise_bn(reference)
    with torch.no_grad():  # zero-initialised layers (ViT's head) would make every output 0
        for p in reference.parameters():
            if not p.any():
                p.normal_(0.0, 0.02)
    net = archspec.load(SPECS / f"{spec}.yaml", **overrides)
    ours = archspec.build(net, backend="torch").eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, *net.graph.inputs["x"])  # the spec's own input size (inception_v3: 299)
    with torch.no_grad():
        a, b = ours(x), reference(x)
    return ((a - b).abs().max() / b.abs().max()).item()


def main() -> None:
    names = sys.argv[1:] or DEFAULT
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    print(f"{'model':<24} {'strict load':<12} {'max rel diff':>12}")
    for name in names:
        diff = compare(name)
        print(f"{name:<24} {'ok':<12} {diff:>12.2e}")


if __name__ == "__main__":
    main()
