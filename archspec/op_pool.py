"""Pooling and flattening."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, StrictBool, StrictInt

from .opbase import (
    NonNegPair,
    Op,
    PosPair,
    ShapeError,
    _Window,
    default_layout,
    need_axis,
    need_image,
    pair,
    register,
    show,
)


@register
class MaxPool2d(_Window):
    """Max pooling; padding is implicit -inf. `stride` defaults to `kernel`."""

    op: Literal["maxpool2d"] = "maxpool2d"
    kernel: PosPair = Field(description="window size: k or [kh, kw]")
    stride: PosPair | None = Field(None, description="step between windows; default the kernel size")
    padding: NonNegPair = Field(0, description="implicit padding on each side, at most half the kernel")
    dilation: PosPair = Field(1, description="spacing between window taps")
    ceil_mode: StrictBool = Field(
        False, description="round the output size up (a last partial window must start inside the input)"
    )

    def infer(self, ins):
        c, _, _ = x = need_image(self.op, ins[0])
        k, p = pair(self.kernel), pair(self.padding)
        if any(p[i] * 2 > k[i] for i in range(2)):
            raise ShapeError(
                "AS507",
                f"{self.op} padding {self.padding} is more than half the kernel {self.kernel}",
                "PyTorch and Flax require padding <= kernel // 2",
            )
        stride = pair(self.stride if self.stride is not None else self.kernel)
        return (c, *self._spatial(x, k, stride, pair(getattr(self, "dilation", 1)), self.ceil_mode))


@register
class AvgPool2d(MaxPool2d):
    """Average pooling. With `count_include_pad`, zero padding counts in the divisor (PyTorch's default)."""

    op: Literal["avgpool2d"] = "avgpool2d"  # type: ignore[assignment]
    dilation: Literal[1] = Field(1, description="average pooling has no dilation")  # type: ignore[assignment]
    count_include_pad: StrictBool = Field(True, description="count the zero padding in the divisor")


@register
class AdaptiveAvgPool2d(Op):
    """Average pooling to a fixed output size (PyTorch's AdaptiveAvgPool2d)."""

    op: Literal["adaptive_avgpool2d"] = "adaptive_avgpool2d"
    size: PosPair = Field(description="output size: s or [h, w]")

    def infer(self, ins):
        c, _, _ = need_image(self.op, ins[0])
        return (c, *pair(self.size))


@register
class GlobalAvgPool2d(Op):
    """Mean over H and W: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with `keepdims`."""

    op: Literal["global_avgpool2d"] = "global_avgpool2d"
    keepdims: StrictBool = Field(False, description="keep H and W as size 1: (N, C, 1, 1) instead of (N, C)")

    def infer(self, ins):
        c, _, _ = need_image(self.op, ins[0])
        return (c, 1, 1) if self.keepdims else (c,)


@register
class Flatten(Op):
    """Flattens axes `start` to `end` into one, in PyTorch's order (for images: C, then H, then W).
    The default flattens everything but the batch; `start: 2` turns an (N, C, H, W) map into
    (N, C, H*W)."""

    op: Literal["flatten"] = "flatten"
    start: StrictInt = Field(1, description="first axis flattened (batch is 0; negative counts from the end)")
    end: StrictInt = Field(-1, description="last axis flattened, included")

    def _axes(self, x) -> tuple[int, int]:
        a, b = need_axis(self.op, self.start, x, "start"), need_axis(self.op, self.end, x, "end")
        if b < a:
            raise ShapeError(
                "AS507",
                f"flatten end {self.end} comes before start {self.start} in '{x.label}' {show(x)}",
                "end is the last axis flattened and may not precede start",
            )
        return a, b

    def infer(self, ins):
        a, b = self._axes(ins[0])
        s = ins[0].shape
        return (*s[: a - 1], math.prod(s[a - 1 : b]), *s[b:])

    def layout(self, ins, out):
        a, b = self._axes(ins[0])
        letters = ins[0].layout
        if len(out) == 1 or len(letters) != len(ins[0].shape):
            return default_layout(len(out))
        merged = letters[a - 1 : b]
        if len(merged) == 1:
            return letters
        if letters == "CHW" and merged == "HW":  # a map's pixels become tokens, its channels their features
            return "DT"
        return letters[: a - 1] + "?" + letters[b:]
