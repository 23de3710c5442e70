"""Elementwise activations and softmax."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt

from .opbase import Op, ShapeError, fmt, register


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


@register
class Gelu(Op):
    """Gaussian error linear unit; `approximate: tanh` uses the tanh approximation."""

    op: Literal["gelu"] = "gelu"
    approximate: Literal["none", "tanh"] = Field("none", description="exact (erf) GELU, or the tanh approximation")


@register
class Softmax(Op):
    """Softmax along `axis` (NCHW numbering, batch is axis 0; default the channel/feature axis)."""

    op: Literal["softmax"] = "softmax"
    axis: StrictInt = Field(1, description="the axis that sums to 1, NCHW numbering (1: channels or features)")

    def infer(self, ins):
        rank = len(ins[0].shape) + 1
        if not -rank <= self.axis < rank or self.axis in (0, -rank):
            raise ShapeError(
                "AS507",
                f"softmax axis {self.axis} is out of range for {fmt(ins[0].shape)}",
                f"use an axis from 1 to {rank - 1} (axis 0 is the batch)",
            )
        return ins[0].shape
