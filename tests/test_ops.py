"""Every registered op: its model is closed and frozen, and its shape/params/MACs rule holds on an example."""

import pytest
from pydantic import ValidationError

from archspec.opbase import default_layout
from archspec.ops import OPS, Operand, ShapeError

# op -> (fields, input shapes, output shape, params, macs); each checked by hand against PyTorch's docs.
EXAMPLES = {
    "conv2d": (
        {"channels": 8, "kernel": 3, "stride": 2, "padding": 1},
        [(4, 9, 9)],
        (8, 5, 5),
        8 * 4 * 9 + 8,
        8 * 5 * 5 * 4 * 9,
    ),
    "conv_transpose2d": (
        {"channels": 3, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1},
        [(4, 5, 5)],
        (3, 10, 10),  # (5 - 1) * 2 - 2 * 1 + (3 - 1) + 1 + 1
        4 * 3 * 9 + 3,
        5 * 5 * 4 * 3 * 9,  # every input pixel meets every output channel through every tap
    ),
    "upsample": ({"scale": 3}, [(4, 3, 5)], (4, 9, 15), 0, 0),
    "pad_channels": ({"channels": 9}, [(4, 3, 3)], (9, 3, 3), 0, 0),
    "subsample2d": ({"stride": [2, 3]}, [(4, 5, 7)], (4, 3, 3), 0, 0),
    "center_crop": ({}, [(4, 7, 8), (2, 4, 4)], (4, 4, 4), 0, 0),
    "scale": ({"factor": -1, "offset": 1}, [(4,)], (4,), 0, 0),
    "batchnorm2d": ({}, [(4, 3, 3)], (4, 3, 3), 8, 0),
    "relu": ({}, [(4, 3, 3)], (4, 3, 3), 0, 0),
    "sigmoid": ({}, [(4,)], (4,), 0, 0),
    "tanh": ({}, [(4,)], (4,), 0, 0),
    "gelu": ({"approximate": "tanh"}, [(4,)], (4,), 0, 0),
    "silu": ({}, [(4,)], (4,), 0, 0),
    "identity": ({}, [(4, 2, 2)], (4, 2, 2), 0, 0),
    "softmax": ({"axis": -1}, [(10,)], (10,), 0, 0),
    "maxpool2d": ({"kernel": 3, "stride": 2, "ceil_mode": True}, [(4, 112, 112)], (4, 56, 56), 0, 0),
    "avgpool2d": ({"kernel": 2, "stride": 2}, [(4, 7, 7)], (4, 3, 3), 0, 0),
    "adaptive_avgpool2d": ({"size": [2, 3]}, [(4, 7, 7)], (4, 2, 3), 0, 0),
    "global_avgpool2d": ({}, [(4, 7, 7)], (4,), 0, 0),
    "flatten": ({}, [(4, 2, 3)], (24,), 0, 0),
    "linear": ({"features": 5}, [(24,)], (5,), 24 * 5 + 5, 24 * 5),
    "dropout": ({"p": 0.2}, [(24,)], (24,), 0, 0),
    "local_response_norm": ({"size": 5}, [(4, 3, 3)], (4, 3, 3), 0, 0),
    "zero_pad2d": ({"padding": [1, 2, 3, 4]}, [(4, 3, 3)], (4, 10, 6), 0, 0),
    "stochastic_depth": ({"p": 0.1}, [(4, 3, 3)], (4, 3, 3), 0, 0),
    "add": ({}, [(4, 3, 3), (4, 3, 3), (4, 3, 3)], (4, 3, 3), 0, 0),
    "multiply": ({"broadcast": True}, [(4, 3, 3), (4, 1, 1)], (4, 3, 3), 0, 0),
    "concat": ({}, [(4, 3, 3), (2, 3, 3)], (6, 3, 3), 0, 0),
    "relu6": ({}, [(4, 3, 3)], (4, 3, 3), 0, 0),
    "hardsigmoid": ({}, [(4,)], (4,), 0, 0),
    "hardswish": ({}, [(7, 4)], (7, 4), 0, 0),
    "mish": ({}, [(4,)], (4,), 0, 0),
    # nn.LayerNorm(768): weight and bias; channels_first normalises C of an image (ConvNeXt)
    "layer_norm": ({"eps": 1e-6}, [(197, 768)], (197, 768), 2 * 768, 0),
    # ViT-B/16's attention: in_proj (3D x D + 3D), out_proj (D x D + D); MACs: 4 T D^2 projections + 2 T^2 D
    "multihead_attention": (
        {"heads": 12},
        [(197, 768)],
        (197, 768),
        4 * 768 * 768 + 4 * 768,
        4 * 197 * 768 * 768 + 2 * 197 * 197 * 768,
    ),
    # Swin-T's first block: 56x56x96 in 64 windows of 7x7; the bias table is (13 * 13, 3)
    "window_attention": (
        {"heads": 3, "window": 7, "shift": 3},
        [(56, 56, 96)],
        (56, 56, 96),
        13 * 13 * 3 + 4 * 96 * 96 + 4 * 96,
        64 * (4 * 49 * 96 * 96 + 2 * 49 * 49 * 96),
    ),
    "permute": ({"dims": [0, 2, 3, 1]}, [(96, 56, 55)], (56, 55, 96), 0, 0),
    "transpose": ({"axes": [1, 2]}, [(768, 196)], (196, 768), 0, 0),
    "reshape": ({"shape": [-1, 4]}, [(6, 2, 2)], (6, 4), 0, 0),
    "slice": ({"axis": 1, "start": 1, "stop": 7, "step": 2}, [(8, 3, 3)], (3, 3, 3), 0, 0),
    "select": ({"axis": 1, "at": 0}, [(197, 768)], (768,), 0, 0),
    "roll": ({"shifts": [-3, -3], "axes": [1, 2]}, [(56, 56, 96)], (56, 56, 96), 0, 0),
    "channel_shuffle": ({"groups": 2}, [(116, 28, 28)], (116, 28, 28), 0, 0),
    "parameter": ({"shape": [1, 197, 768], "init": "normal"}, [(3, 224, 224)], (197, 768), 197 * 768, 0),
    "matmul": ({}, [(3, 5, 4), (3, 4, 6)], (3, 5, 6), 0, 3 * 5 * 6 * 4),
}


def test_every_op_has_an_example():
    assert set(EXAMPLES) == set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
def test_rule(name):
    fields, ins, out, params, macs = EXAMPLES[name]
    op = OPS[name].model_validate({"op": name, **fields})
    operands = [Operand(f"in{i}", s, i) for i, s in enumerate(ins)]
    assert op.infer(operands) == out
    assert op.count_params(ins, out) == params
    assert op.count_macs(ins, out) == macs


@pytest.mark.parametrize("name", sorted(OPS))
def test_model_is_closed_and_frozen(name):
    fields = EXAMPLES[name][0]
    with pytest.raises(ValidationError) as err:
        OPS[name].model_validate({"op": name, **fields, "no_such_field": 1})
    assert err.value.errors()[0]["type"] == "extra_forbidden"
    op = OPS[name].model_validate({"op": name, **fields})
    with pytest.raises(ValidationError):
        op.op = "other"  # type: ignore[misc]
    assert OPS[name].__doc__


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "ceil", "expected"),
    [
        (112, 3, 2, 0, True, 56),  # GoogLeNet's stem pool
        (112, 3, 2, 0, False, 55),
        (5, 2, 2, 1, True, 3),  # the last window must start inside input + left padding
        (6, 3, 3, 1, True, 3),
        (1, 3, 2, 1, True, 1),
    ],
)
def test_pool_output_sizes_follow_pytorch(size, kernel, stride, padding, ceil, expected):
    op = OPS["maxpool2d"](kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil)
    assert op.infer([Operand("x", (1, size, size), 0)]) == (1, expected, expected)


def test_layouts_follow_the_axes():
    """Permutes rename axes, flattening H and W makes tokens, and an image meets a channels-last
    map of the same sizes only through a permute."""

    def laid(name, fields, *xs):
        op = OPS[name].model_validate({"op": name, **fields})
        ins = [Operand(f"in{i}", s, i, lay) for i, (s, lay) in enumerate(xs)]
        out = op.infer(ins)
        return out, op.layout(ins, out)

    assert laid("permute", {"dims": [0, 2, 3, 1]}, ((96, 7, 7), "CHW")) == ((7, 7, 96), "HWC")
    assert laid("permute", {"dims": [0, 3, 1, 2]}, ((7, 7, 96), "HWC")) == ((96, 7, 7), "CHW")
    assert laid("flatten", {"start": 2}, ((768, 14, 14), "CHW")) == ((768, 196), "DT")
    assert laid("transpose", {"axes": [1, 2]}, ((768, 196), "DT")) == ((196, 768), "TD")
    assert laid("select", {"at": 0}, ((197, 768), "TD")) == ((768,), "F")
    assert laid("linear", {"features": 4}, ((7, 7, 96), "HWC")) == ((7, 7, 4), "HWC")
    with pytest.raises(ShapeError) as err:
        laid("add", {}, ((7, 7, 7), "CHW"), ((7, 7, 7), "HWC"))
    assert err.value.code == "AS501"
    assert err.value.message == (
        "add operands are laid out differently: 'in0' is (N, C=7, H=7, W=7) but 'in1' is (N, H=7, W=7, C=7)"
    )
    assert "dims: [0, 3, 1, 2]" in err.value.hint


def test_same_padding_keeps_size_for_even_kernels():
    op = OPS["conv2d"](channels=2, kernel=4, padding="same", dilation=2)
    assert op.infer([Operand("x", (3, 10, 10), 0)]) == (2, 10, 10)


@pytest.mark.parametrize(
    ("name", "fields", "shapes", "code"),
    [
        ("conv2d", {"channels": 4, "kernel": 5}, [(3, 4, 4)], "AS504"),
        ("conv2d", {"channels": 4, "kernel": 1, "groups": 2}, [(3, 4, 4)], "AS505"),
        ("conv2d", {"channels": 3, "kernel": 1, "groups": 2}, [(4, 4, 4)], "AS505"),
        ("conv2d", {"channels": 4, "kernel": 1}, [(4,)], "AS506"),
        ("linear", {"features": 4}, [(4, 2, 2)], "AS506"),
        ("maxpool2d", {"kernel": 2, "padding": 2}, [(4, 4, 4)], "AS507"),
        ("center_crop", {}, [(4, 2, 2), (4, 3, 3)], "AS503"),
        ("add", {}, [(4, 2, 2), (4, 2, 3)], "AS501"),
        ("multiply", {"broadcast": True}, [(4, 2, 2), (3, 1, 1)], "AS501"),
        ("concat", {}, [(4, 2, 2), (4, 3, 2)], "AS502"),
        ("concat", {"axis": 4}, [(4, 2, 2), (4, 2, 2)], "AS507"),
        ("softmax", {"axis": 0}, [(4,)], "AS507"),
        ("layer_norm", {}, [(4, 2, 2)], "AS506"),  # an image's last axis is W: channels_first, or permute
        ("layer_norm", {"channels_first": True}, [(7, 4)], "AS506"),
        ("multihead_attention", {"heads": 5}, [(7, 12)], "AS507"),
        ("multihead_attention", {"heads": 2}, [(4, 2, 2)], "AS506"),
        ("permute", {"dims": [0, 2, 1]}, [(4, 2, 2)], "AS507"),
        ("permute", {"dims": [1, 0, 2]}, [(4, 2)], "AS507"),
        ("transpose", {"axes": [0, 1]}, [(4, 2)], "AS507"),
        ("reshape", {"shape": [3, -1]}, [(4, 2)], "AS507"),
        ("reshape", {"shape": [-1, -1]}, [(4, 2)], "AS507"),
        ("slice", {"start": 3, "stop": 3}, [(4, 2)], "AS507"),
        ("slice", {"axis": 2, "stop": 9}, [(4, 2)], "AS507"),
        ("select", {"axis": 1, "at": 4}, [(4, 2)], "AS507"),
        ("roll", {"shifts": [1, 2], "axes": [1]}, [(4, 2)], "AS507"),
        ("channel_shuffle", {"groups": 3}, [(4, 2, 2)], "AS507"),
        ("parameter", {"shape": [2, 3]}, [(4, 2)], "AS507"),  # batch: true needs a leading 1
        ("matmul", {}, [(3, 5, 4), (3, 5, 6)], "AS501"),
        ("matmul", {}, [(5,), (5, 6)], "AS506"),
        ("add", {}, [(4, 4), (4, 4, 1)], "AS501"),
        ("window_attention", {"heads": 2}, [(4, 8, 8)], "AS506"),  # an image: permute it channels-last
        ("window_attention", {"heads": 2, "window": 4, "shift": 4}, [((8, 8, 4), "HWC")], "AS507"),
        ("window_attention", {"heads": 3}, [((8, 8, 4), "HWC")], "AS507"),
    ],
)
def test_shape_errors(name, fields, shapes, code):
    op = OPS[name].model_validate({"op": name, **fields})
    with pytest.raises(ShapeError) as err:
        laid = [s if isinstance(s[0], tuple) else (s, default_layout(len(s))) for s in shapes]  # (shape, layout)
        op.infer([Operand(f"in{i}", s, i, layout) for i, (s, layout) in enumerate(laid)])
    assert err.value.code == code
    assert err.value.hint


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("zero_pad2d", {"padding": -1}),
        ("zero_pad2d", {"padding": [1, -1, 0, 0]}),
        ("batchnorm2d", {"eps": float("inf")}),
        ("batchnorm2d", {"momentum": float("nan")}),
        ("scale", {"factor": float("inf")}),
        ("scale", {"offset": float("-inf")}),
        ("local_response_norm", {"size": 2, "alpha": float("nan")}),
        ("linear", {"features": 4, "bias_init": float("inf")}),
        ("dropout", {"p": float("nan")}),
        ("conv2d", {"channels": 2**31, "kernel": 1}),
    ],
)
def test_values_a_backend_cannot_honour_are_refused(name, fields):
    """Valid means it runs: no negative padding, no inf or nan literals, no sizes past int32."""
    with pytest.raises(ValidationError):
        OPS[name].model_validate({"op": name, **fields})
