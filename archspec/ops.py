"""The operation registry: one frozen pydantic model per op.

Each model binds, in one place, the op's spec fields (validated, typed,
documented), its shape rule, its parameter count and its MACs. Backends attach
their emitters by op name (see `archspec.backends`). Shapes here exclude the
batch dimension and have any rank; axes are numbered as PyTorch numbers them
(batch 0). A layout names the axes: (C, H, W) images, (T, D) tokens, (H, W, C)
channels-last maps, (F,) features (see `opbase.default_layout`).

The models live in one module per family; importing them registers them, in the
order of docs/reference.md. This module is the public face: `OPS`, `OpSpec` and
the helpers the backends use.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from . import (  # noqa: F401  (registers the ops)
    op_activation,
    op_attention,
    op_conv,
    op_dense,
    op_join,
    op_pool,
    op_reshape,
    op_tensor,
)
from .op_activation import Gelu, Hardsigmoid, Hardswish, Identity, Mish, Relu, Relu6, Sigmoid, Silu, Softmax, Tanh
from .op_attention import LayerNorm, MultiheadAttention, WindowAttention
from .op_conv import BatchNorm2d, Conv2d, ConvTranspose2d
from .op_dense import Dropout, Linear, LocalResponseNorm
from .op_join import Add, Concat, Multiply
from .op_pool import AdaptiveAvgPool2d, AvgPool2d, Flatten, GlobalAvgPool2d, MaxPool2d
from .op_reshape import CenterCrop, PadChannels, Scale, StochasticDepth, Subsample2d, Upsample, ZeroPad2d
from .op_tensor import ChannelShuffle, Matmul, Parameter, Permute, Reshape, Roll, Select, Slice, Transpose
from .opbase import (
    OPS,
    BiasInit,
    Op,
    Operand,
    Shape,
    ShapeError,
    WeightInit,
    fmt,
    need_image,
    pair,
    register,
    window_out,
)

# Registration follows import order, which isort decides; the reference keeps the families' order.
_FAMILIES = [
    m.__name__ for m in (op_conv, op_activation, op_pool, op_dense, op_attention, op_reshape, op_tensor, op_join)
]
_ordered = sorted(OPS.items(), key=lambda item: _FAMILIES.index(item[1].__module__))
OPS.clear()
OPS.update(_ordered)

OpSpec = Annotated[Union[tuple(OPS.values())], Field(discriminator="op")]  # type: ignore[valid-type]  # noqa: UP007

__all__ = [
    "OPS",
    "OpSpec",
    "Op",
    "Operand",
    "Shape",
    "ShapeError",
    "BiasInit",
    "WeightInit",
    "fmt",
    "need_image",
    "pair",
    "register",
    "window_out",
    "Conv2d",
    "ConvTranspose2d",
    "BatchNorm2d",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Silu",
    "Identity",
    "Gelu",
    "Softmax",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "GlobalAvgPool2d",
    "Flatten",
    "Linear",
    "Dropout",
    "LocalResponseNorm",
    "ZeroPad2d",
    "PadChannels",
    "Subsample2d",
    "Upsample",
    "CenterCrop",
    "Scale",
    "StochasticDepth",
    "Add",
    "Multiply",
    "Concat",
    "Relu6",
    "Hardsigmoid",
    "Hardswish",
    "Mish",
    "LayerNorm",
    "MultiheadAttention",
    "WindowAttention",
    "Permute",
    "Transpose",
    "Reshape",
    "Slice",
    "Select",
    "Roll",
    "ChannelShuffle",
    "Parameter",
    "Matmul",
]
