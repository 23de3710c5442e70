"""Learned image layers: convolutions and batch normalization."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, StrictBool

from .opbase import (
    _BIAS_INIT_DOC,
    _INIT_DOC,
    BiasInit,
    NonNegPair,
    Op,
    PosInt,
    PosPair,
    ShapeError,
    WeightInit,
    _Window,
    need_image,
    pair,
    register,
)


@register
class Conv2d(_Window):
    """2-D convolution. Input channels are inferred."""

    op: Literal["conv2d"] = "conv2d"
    channels: PosInt = Field(description="output channels")
    kernel: PosPair = Field(description="kernel size: k or [kh, kw]")
    stride: PosPair = Field(1, description="step between windows: s or [sh, sw]")
    padding: NonNegPair | Literal["same", "valid"] = Field(
        0, description="k, [ph, pw], 'valid' (0) or 'same' (stride 1 only; odd excess padding goes right/bottom)"
    )
    dilation: PosPair = Field(1, description="spacing between kernel taps: d or [dh, dw]")
    groups: PosInt = Field(1, description="channel groups; must divide the input and output channels")
    bias: StrictBool = Field(True, description="add a learned bias per output channel")
    init: WeightInit = Field("default", description=_INIT_DOC)
    bias_init: BiasInit = Field("default", description=_BIAS_INIT_DOC)

    def _pads(self, x):
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":
            k, d = pair(self.kernel), pair(self.dilation)
            totals = [d[i] * (k[i] - 1) for i in range(2)]
            return tuple((t // 2, t - t // 2) for t in totals)
        return super()._pads(x)

    def infer(self, ins):
        c, _, _ = x = need_image("conv2d", ins[0])
        if self.padding == "same" and pair(self.stride) != (1, 1):
            raise ShapeError(
                "AS507",
                f"padding 'same' needs stride 1, got stride {self.stride}",
                "write the padding explicitly, e.g. padding: (kernel - 1) // 2",
            )
        for what, n in (("input channels", c), ("output channels", self.channels)):
            if n % self.groups:
                raise ShapeError(
                    "AS505",
                    f"groups {self.groups} does not divide the {what} {n}",
                    f"choose groups among the divisors of {math.gcd(c, self.channels)}",
                )
        h, w = self._spatial(x, pair(self.kernel), pair(self.stride), pair(self.dilation))
        return (self.channels, h, w)

    def count_params(self, ins, out):
        kh, kw = pair(self.kernel)
        return self.channels * (ins[0][0] // self.groups) * kh * kw + (self.channels if self.bias else 0)

    def count_macs(self, ins, out):
        kh, kw = pair(self.kernel)
        return out[0] * out[1] * out[2] * (ins[0][0] // self.groups) * kh * kw


@register
class ConvTranspose2d(Op):
    """Transposed 2-D convolution (PyTorch's ConvTranspose2d, groups 1): the learned upsampling of
    U-Net's decoder. Input channels are inferred; the weight is (in, out, kh, kw) as in PyTorch."""

    op: Literal["conv_transpose2d"] = "conv_transpose2d"
    channels: PosInt = Field(description="output channels")
    kernel: PosPair = Field(description="kernel size: k or [kh, kw]")
    stride: PosPair = Field(1, description="upsampling factor: s or [sh, sw]")
    padding: NonNegPair = Field(0, description="removed from each side of the output: k or [ph, pw]")
    output_padding: NonNegPair = Field(0, description="added to the bottom/right of the output; below the stride")
    dilation: PosPair = Field(1, description="spacing between kernel taps: d or [dh, dw]")
    bias: StrictBool = Field(True, description="add a learned bias per output channel")
    init: WeightInit = Field("default", description=_INIT_DOC)
    bias_init: BiasInit = Field("default", description=_BIAS_INIT_DOC)

    def infer(self, ins):
        c, h, w = need_image(self.op, ins[0])
        k, s, p = pair(self.kernel), pair(self.stride), pair(self.padding)
        op, d = pair(self.output_padding), pair(self.dilation)
        for i, axis in enumerate(("height", "width")):
            if op[i] >= max(s[i], d[i]):
                raise ShapeError(
                    "AS507",
                    f"conv_transpose2d output_padding {op[i]} ({axis}) must be below the stride or dilation "
                    f"({max(s[i], d[i])})",
                    "output_padding only disambiguates sizes a strided convolution maps to the same size",
                )
        out = tuple((n - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i, n in enumerate((h, w)))
        if min(out) <= 0:
            raise ShapeError(
                "AS503",
                f"conv_transpose2d output would be {out[0]}x{out[1]} for input {h}x{w}",
                "reduce the padding or enlarge the kernel or stride",
            )
        return (self.channels, *out)

    def count_params(self, ins, out):
        kh, kw = pair(self.kernel)
        return ins[0][0] * self.channels * kh * kw + (self.channels if self.bias else 0)

    def count_macs(self, ins, out):
        kh, kw = pair(self.kernel)
        return ins[0][1] * ins[0][2] * ins[0][0] * self.channels * kh * kw  # every input pixel, every tap


@register
class BatchNorm2d(Op):
    """Batch normalization over channels. `momentum` follows PyTorch: new = (1 - m) * old + m * batch."""

    op: Literal["batchnorm2d"] = "batchnorm2d"
    eps: Annotated[float, Field(gt=0, allow_inf_nan=False)] = Field(
        1e-5, description="added to the variance before the square root"
    )
    momentum: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        0.1, description="running-statistics update rate (PyTorch's convention)"
    )
    affine: StrictBool = Field(True, description="learn a scale and shift per channel")
    init: Literal["default", "zeros"] = Field(
        "default", description="scale initialisation: default (ones) or zeros (zero-init the last BN of a residual)"
    )

    def infer(self, ins):
        need_image("batchnorm2d", ins[0])
        return ins[0].shape

    def count_buffers(self, ins, out):
        return 2 * ins[0][0] + 1  # running mean and variance, num_batches_tracked

    def count_params(self, ins, out):
        return 2 * ins[0][0] if self.affine else 0
