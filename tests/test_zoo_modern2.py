"""ConvNeXt, ShuffleNet V2 and MobileNetV3: the family members that are a parameter change
(torchvision's own published figures), block details, and torch -> Flax parity. Counts and
state_dict keys of the default sizes are tested with the whole modern zoo in test_zoo_modern.py."""

import pytest
from conftest import SPECS

import archspec


def load(spec, **overrides):
    return archspec.load(SPECS / f"{spec}.yaml", **overrides)


# torchvision 0.29.1's weights: num_params and _ops (GMACs at 224, rounded to 3 decimals)
FAMILY = {
    "convnext_small": (
        "convnext_tiny",
        {"stages": [[96, 3], [192, 3], [384, 27], [768, 3]], "stochastic_depth_prob": 0.4},
        50_223_688,
        8.684,
    ),
    "convnext_base": (
        "convnext_tiny",
        {"stages": [[128, 3], [256, 3], [512, 27], [1024, 3]], "stochastic_depth_prob": 0.5},
        88_591_464,
        15.355,
    ),
    "convnext_large": (
        "convnext_tiny",
        {"stages": [[192, 3], [384, 3], [768, 27], [1536, 3]], "stochastic_depth_prob": 0.5},
        197_767_336,
        34.361,
    ),
    "shufflenet_v2_x0_5": ("shufflenet_v2_x1_0", {"variant": "x0_5"}, 1_366_792, 0.040),
    "shufflenet_v2_x1_5": ("shufflenet_v2_x1_0", {"variant": "x1_5"}, 3_503_624, 0.296),
    "shufflenet_v2_x2_0": ("shufflenet_v2_x1_0", {"variant": "x2_0"}, 7_393_996, 0.583),
    "mobilenet_v3_small": ("mobilenet_v3_large", {"variant": "small"}, 2_542_856, 0.057),
}


@pytest.mark.parametrize("name", FAMILY)
def test_other_sizes_are_a_parameter_change(name):
    spec, overrides, params, gmacs = FAMILY[name]
    net = load(spec, **overrides)
    assert net.total_params == params
    # within 0.5%, or half a unit of the published figure's last digit (0.04 G, 0.057 G)
    assert abs(net.total_macs - gmacs * 1e9) <= max(0.005 * gmacs * 1e9, 0.0005e9)
    assert net.output_shapes[net.graph.outputs[0]] == (1000,)


def test_mobilenet_v3_width_mult_is_torchvisions():
    # torchvision.models.mobilenet_v3_large(width_mult=0.75) / mobilenet_v3_small(width_mult=1.3)
    assert load("mobilenet_v3_large", width_mult=0.75).total_params == 3_377_576
    assert load("mobilenet_v3_large", variant="small", width_mult=1.3).total_params == 3_928_192


def test_convnext_stochastic_depth_rises_linearly_from_zero():
    net = load("convnext_tiny")
    drops = [(n.path, n.op.p, n.op.mode) for n in net.graph.nodes if n.op.op == "stochastic_depth"]
    blocks = [f"features.{2 * s + 1}.{b}" for s, depth in enumerate([3, 3, 9, 3]) for b in range(depth)]
    assert [path for path, _, _ in drops] == [f"{b}.stochastic_depth" for b in blocks]
    # torchvision: stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0), per sample
    assert [(p, mode) for _, p, mode in drops] == [(0.1 * i / (18 - 1.0), "row") for i in range(18)]
    norms = {n.op.eps for n in net.graph.nodes if n.op.op == "layer_norm"}
    assert norms == {1e-6}


def test_convnext_layer_scale_starts_at_1e_6():
    torch = pytest.importorskip("torch")
    model = archspec.build(SPECS / "convnext_tiny.yaml", stages=[[16, 2], [32, 1]], image_size=32)
    scales = {k: v for k, v in model.state_dict().items() if k.endswith("layer_scale")}
    assert list(scales) == ["features.1.0.layer_scale", "features.1.1.layer_scale", "features.3.0.layer_scale"]
    assert all(torch.equal(v, torch.full_like(v, 1e-6)) for v in scales.values())


def test_mobilenet_v3_batch_norm_is_eps_1e_3_momentum_1e_2():
    for variant in ("large", "small"):
        net = load("mobilenet_v3_large", variant=variant)
        assert {(n.op.eps, n.op.momentum) for n in net.graph.nodes if n.op.op == "batchnorm2d"} == {(0.001, 0.01)}


def test_shufflenet_stride_1_units_split_the_channels():
    net = load("shufflenet_v2_x1_0")
    assert net.shape("stage2.1.x1") == net.shape("stage2.1.x2") == (58, 28, 28)
    assert net.shape("stage2.1.branch2") == (58, 28, 28)
    assert "stage2.0.x1" not in net.nodes and net.shape("stage2.0.branch1") == (58, 28, 28)
    assert net.shape("stage4") == (464, 7, 7)


# torch -> Flax, eval outputs, at small inputs. The zoo-wide test in test_flax_backend.py runs every
# spec's defaults with only batch-norm statistics randomised, so ConvNeXt's branches are scaled by
# 1e-6 there and hardly reach the output: here layer scales and layer norms are randomised too,
# on a shallow ConvNeXt (XLA compile time); and the family members the zoo-wide test does not reach.
SMALL_HEAD = [
    [16, 3, 16, 16, True, "RE", 2],
    [16, 3, 72, 24, False, "RE", 2],
    [24, 3, 88, 24, False, "RE", 1],
    [24, 5, 96, 40, True, "HS", 2],
    [40, 5, 240, 40, True, "HS", 1],
]
PARITY = [
    ("convnext_tiny", {"stages": [[32, 1], [64, 1], [96, 2], [128, 1]], "image_size": 64}),
    ("shufflenet_v2_x1_0", {"variant": "x0_5", "image_size": 64}),
    # MobileNetV3-Small's first five blocks (squeeze-excitation with and without an expansion,
    # stride 2 and residual, ReLU and hard-swish), at a width that rounds channels
    ("mobilenet_v3_large", {"variant": "small", "setting": SMALL_HEAD, "width_mult": 0.75, "image_size": 64}),
]


def randomise(model):
    import torch
    from test_flax_backend import randomise_bn

    randomise_bn(model)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for key, p in model.named_parameters():
            if key.endswith("layer_scale"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.1)


@pytest.mark.parametrize(("name", "overrides"), PARITY, ids=[f"{n}-{'-'.join(o)}" for n, o in PARITY])
def test_torch_to_flax_agree(name, overrides):
    pytest.importorskip("torch")
    pytest.importorskip("flax.nnx")
    from test_flax_backend import assert_torch_to_flax_agree

    assert_torch_to_flax_agree(load(name, **overrides), randomise, rel=1e-5)
