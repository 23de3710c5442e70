"""The zoo's modern torchvision models against torchvision 0.29.1: parameter counts, MACs,
state_dict keys and shapes (tests/reference/torchvision_modern.json), the family members that
are a parameter change (torchvision's own published figures), and torch -> Flax parity."""

import pytest
from conftest import SPECS

import archspec

# reference name -> (spec, overrides)
MODELS = {
    "mobilenet_v2": ("mobilenet_v2", {}),
    "efficientnet_b0": ("efficientnet_b0", {}),
    "squeezenet1_1": ("squeezenet1_1", {}),
    "inception_v3": ("inception_v3", {}),
    "vit_b_16": ("vit_b_16", {}),
    "swin_t": ("swin_t", {}),
    "convnext_tiny": ("convnext_tiny", {}),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}),
    "regnet_y_400mf": ("regnet_y_400mf", {}),
}
# torch.utils.flop_counter misses attention's two matrix products on CPU (scaled_dot_product_attention);
# torchvision's published figure counts them, and so do we
SDPA_UNCOUNTED = {"vit_b_16"}


def load(name, **extra):
    spec, overrides = MODELS[name]
    return archspec.load(SPECS / f"{spec}.yaml", **overrides, **extra)


@pytest.mark.parametrize("name", MODELS)
def test_matches_torchvision_counts(name, modern_reference):
    net, ref = load(name), modern_reference[name]
    assert net.total_params == ref["params"]
    if name not in SDPA_UNCOUNTED:
        assert abs(net.total_macs - ref["macs"]) <= 0.005 * ref["macs"]
    assert abs(net.total_macs - ref["published_gflops"] * 1e9) <= 0.005 * ref["published_gflops"] * 1e9
    assert list(net.graph.inputs.values()) == [tuple(ref["input"])]
    assert net.output_shapes[net.graph.outputs[0]] == (1000,)


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_is_torchvisions(name, modern_reference):
    pytest.importorskip("torch")
    spec, overrides = MODELS[name]
    model = archspec.build(SPECS / f"{spec}.yaml", init=False, **overrides)  # shapes only
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == [(k, shape) for k, shape in modern_reference[name]["state_dict"]]


# torchvision 0.29.1's efficientnet_bN: its weights' num_params and _ops (GMACs at the crop size)
EFFICIENTNET = {
    "b1": (7_794_184, 0.687),
    "b2": (9_109_994, 1.088),
    "b3": (12_233_232, 1.827),
    "b4": (19_341_616, 4.394),
    "b5": (30_389_784, 10.266),
    "b6": (43_040_704, 19.068),
    "b7": (66_347_960, 37.746),
}


@pytest.mark.parametrize("variant", EFFICIENTNET)
def test_efficientnet_b1_to_b7_are_a_parameter_change(variant):
    params, gmacs = EFFICIENTNET[variant]
    net = load("efficientnet_b0", variant=variant)
    assert net.total_params == params
    assert abs(net.total_macs - gmacs * 1e9) <= 0.005 * gmacs * 1e9
    norms = {(n.op.eps, n.op.momentum) for n in net.graph.nodes if n.op.op == "batchnorm2d"}
    assert norms == ({(0.001, 0.01)} if variant in ("b5", "b6", "b7") else {(1e-5, 0.1)})


def test_efficientnet_stochastic_depth_grows_linearly_with_the_block_index():
    net = load("efficientnet_b0")
    blocks = [n.path.removesuffix(".block.0.0") for n in net.graph.nodes if n.path.endswith(".block.0.0")]
    assert len(blocks) == 16 and blocks[0] == "features.1.0" and blocks[-1] == "features.7.0"
    drops = {n.path.rsplit(".", 1)[0]: n.op.p for n in net.graph.nodes if n.op.op == "stochastic_depth"}
    # only residual blocks (stride 1, same channels) have the branch, with p = 0.2 * index / 16
    assert drops == {b: 0.2 * i / 16 for i, b in enumerate(blocks) if b + ".add" in net.nodes}
    assert len(drops) == 9


# torchvision.models.mobilenet_v2(width_mult=w): parameters, counted with torchvision 0.29.1
MOBILENET_V2_WIDTHS = {0.35: 1_677_128, 0.5: 1_968_680, 0.75: 2_636_424, 1.3: 5_386_792, 1.4: 6_108_776}


@pytest.mark.parametrize("width", MOBILENET_V2_WIDTHS)
def test_mobilenet_v2_widths_are_a_parameter_change(width):
    net = load("mobilenet_v2", width_mult=width)
    assert net.total_params == MOBILENET_V2_WIDTHS[width]
    assert net.shape("features.18") == (max(1280, round(1280 * width) // 8 * 8), 7, 7)


SQUEEZENET1_0 = {
    "stem": [96, 7],
    "fires": ["M", [16, 64], [16, 64], [32, 128], "M", [32, 128], [48, 192], [48, 192], [64, 256], "M", [64, 256]],
}


def test_squeezenet1_0_is_a_parameter_change():
    net = load("squeezenet1_1", **SQUEEZENET1_0)  # torchvision's SqueezeNet1_0 weights: 1,248,424 params, 0.819 G
    assert net.total_params == 1_248_424
    assert abs(net.total_macs - 0.819e9) <= 0.005 * 0.819e9
    assert net.shape("features.12") == (512, 13, 13)


def test_inception_v3_aux_head_is_torchvisions_and_training_only():
    net = load("inception_v3", aux_logits=True)
    assert net.total_params == 27_161_264  # torchvision's Inception_V3_Weights num_params (aux_logits=True)
    assert net.graph.outputs == ("fc", "AuxLogits.fc")
    assert net.graph.training_outputs == {"AuxLogits.fc"}
    assert net.output_shapes == {"fc": (1000,), "AuxLogits.fc": (1000,)}
    assert net.nodes["AuxLogits.conv1.conv"].shape == (768, 1, 1)


# torch -> Flax, eval outputs, at small inputs; the zoo-wide test in test_flax_backend.py runs every
# spec's defaults, so these are the configurations it does not reach
PARITY = [
    ("mobilenet_v2", {"width_mult": 0.5, "image_size": 64}),
    # B0's depth (XLA compile time), B2's width (rounded channels), B5-B7's batch-norm eps
    ("efficientnet_b0", {"width_mult": 1.1, "bn_eps": 0.001, "image_size": 64}),
    ("squeezenet1_1", {**SQUEEZENET1_0, "image_size": 64}),
    ("inception_v3", {"transform_input": True, "image_size": 75}),  # 75: the smallest input it takes
]


@pytest.mark.parametrize(("name", "overrides"), PARITY, ids=[f"{n}-{'-'.join(o)}" for n, o in PARITY])
def test_torch_to_flax_agree(name, overrides):
    pytest.importorskip("torch")
    pytest.importorskip("flax.nnx")
    from test_flax_backend import assert_torch_to_flax_agree

    assert_torch_to_flax_agree(load(name, **overrides), rel=1e-5)


# torchvision 0.29.1's weights metadata: num_params and _ops (GMACs) of the family's other sizes
TRANSFORMERS = {
    "vit_b_32": ("vit_b_16", {"patch_size": 32}, 88_224_232, 4.409),
    "vit_l_16": ("vit_b_16", {"layers": 24, "heads": 16, "hidden": 1024, "mlp_dim": 4096}, 304_326_632, 61.555),
    "vit_l_32": (
        "vit_b_16",
        {"patch_size": 32, "layers": 24, "heads": 16, "hidden": 1024, "mlp_dim": 4096},
        306_535_400,
        15.378,
    ),
    "swin_s": ("swin_t", {"depths": [2, 2, 18, 2], "drop_path_rate": 0.3}, 49_606_258, 8.741),
    "swin_b": (
        "swin_t",
        {"embed_dim": 128, "depths": [2, 2, 18, 2], "heads": [4, 8, 16, 32], "drop_path_rate": 0.5},
        87_768_224,
        15.431,
    ),
}


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_transformer_family_sizes_are_a_parameter_change(name):
    spec, overrides, params, gmacs = TRANSFORMERS[name]
    net = archspec.load(SPECS / f"{spec}.yaml", **overrides)
    assert net.total_params == params
    assert abs(net.total_macs - gmacs * 1e9) <= 0.005 * gmacs * 1e9


def test_vit_token_shapes():
    net = load("vit_b_16")
    assert net.shape("conv_proj") == (768, 14, 14)
    assert (net.shape("sequence"), net.layout("sequence")) == ((196, 768), "TD")
    assert net.shape("with_class") == (197, 768)
    assert net.shape("encoder.layers.encoder_layer_11") == (197, 768)
    assert net.output_shapes == {"heads.head": (1000,)}


def test_swin_stages_are_channels_last():
    net = load("swin_t")
    assert [net.shape(f"features.{i}") for i in (1, 3, 5, 7)] == [
        (56, 56, 96),
        (28, 28, 192),
        (14, 14, 384),
        (7, 7, 768),
    ]
    assert {net.layout(f"features.{i}") for i in range(8)} == {"HWC"}
    shifts = [n.op.shift for n in net.graph.nodes if n.op.op == "window_attention"]
    assert shifts == [0, 3] * 6
    drops = [n.op.p for n in net.graph.nodes if n.path.endswith(".attn_dropped")]
    assert drops == pytest.approx([0.2 * b / 11 for b in range(1, 12)])  # block 0 has none
