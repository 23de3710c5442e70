"""Elementwise activations and softmax."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt

from .opbase import Op, need_axis, register


def _activation(op_name: str, doc: str):
    cls = type(
        op_name.capitalize(),
        (Op,),
        {"__doc__": doc, "__annotations__": {"op": Literal[op_name]}, "op": op_name, "__module__": __name__},
    )
    return register(cls)


Relu = _activation("relu", "max(x, 0), elementwise.")
Sigmoid = _activation("sigmoid", "1 / (1 + exp(-x)), elementwise.")
Tanh = _activation("tanh", "tanh(x), elementwise.")
Silu = _activation("silu", "x * sigmoid(x) (swish), elementwise.")
Identity = _activation("identity", "Passes its input through unchanged.")
Relu6 = _activation("relu6", "min(max(x, 0), 6), elementwise (MobileNet).")
Hardsigmoid = _activation("hardsigmoid", "relu6(x + 3) / 6, elementwise (MobileNetV3's gates).")
Hardswish = _activation("hardswish", "x * relu6(x + 3) / 6, elementwise (MobileNetV3).")
Mish = _activation("mish", "x * tanh(softplus(x)), elementwise.")


@register
class Gelu(Op):
    """Gaussian error linear unit; `approximate: tanh` uses the tanh approximation."""

    op: Literal["gelu"] = "gelu"
    approximate: Literal["none", "tanh"] = Field("none", description="exact (erf) GELU, or the tanh approximation")


@register
class Softmax(Op):
    """Softmax along `axis`, on a tensor of any rank (PyTorch's numbering: batch is axis 0,
    -1 the last; default 1, the channels or features)."""

    op: Literal["softmax"] = "softmax"
    axis: StrictInt = Field(1, description="the axis that sums to 1 (1: channels or features, -1: the last)")

    def infer(self, ins):
        need_axis(self.op, self.axis, ins[0])
        return ins[0].shape
