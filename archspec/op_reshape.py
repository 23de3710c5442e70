"""Reshaping and constant maps: padding, cropping, resampling, scaling, stochastic depth."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .opbase import Finite, NonNegInt, Op, PosInt, PosPair, ShapeError, fmt, need_image, pair, register


@register
class ZeroPad2d(Op):
    """Pads H and W with zeros: p, or [left, right, top, bottom] (to crop, use center_crop)."""

    op: Literal["zero_pad2d"] = "zero_pad2d"
    padding: NonNegInt | tuple[NonNegInt, NonNegInt, NonNegInt, NonNegInt] = Field(
        description="p on every side, or [left, right, top, bottom]; not negative"
    )

    def infer(self, ins):
        c, h, w = need_image(self.op, ins[0])
        p = self.padding
        left, right, top, bottom = (p, p, p, p) if isinstance(p, int) else p
        return (c, h + top + bottom, w + left + right)


@register
class PadChannels(Op):
    """Zero-pads the channels up to `channels`, half before and half after (the extra one after):
    with `subsample2d`, the parameter-free "option A" shortcut of He et al.'s CIFAR ResNets."""

    op: Literal["pad_channels"] = "pad_channels"
    channels: PosInt = Field(description="output channels; at least the input's")

    def infer(self, ins):
        c, h, w = need_image(self.op, ins[0])
        if self.channels < c:
            raise ShapeError(
                "AS507",
                f"pad_channels to {self.channels} channels, but input '{ins[0].label}' already has {c}",
                f"set channels to {c} or more, or project with a 1x1 conv2d to reduce channels",
            )
        return (self.channels, h, w)

    def split(self, c: int) -> tuple[int, int]:
        extra = self.channels - c
        return extra // 2, extra - extra // 2


@register
class Subsample2d(Op):
    """Keeps every `stride`-th row and column, starting with the first: x[:, :, ::s, ::s]."""

    op: Literal["subsample2d"] = "subsample2d"
    stride: PosPair = Field(2, description="keep every s-th row and column: s or [sh, sw]")

    def infer(self, ins):
        c, h, w = need_image(self.op, ins[0])
        s = pair(self.stride)
        return (c, -(-h // s[0]), -(-w // s[1]))


@register
class Upsample(Op):
    """Upsampling by an integer factor: `nearest` repeats pixels, `bilinear` interpolates with
    half-pixel centres (PyTorch's align_corners=False)."""

    op: Literal["upsample"] = "upsample"
    scale: PosInt = Field(2, description="integer scale factor for H and W")
    mode: Literal["nearest", "bilinear"] = Field("nearest", description="pixel repetition, or bilinear interpolation")

    def infer(self, ins):
        c, h, w = need_image(self.op, ins[0])
        return (c, h * self.scale, w * self.scale)


@register
class CenterCrop(Op):
    """Crops the first input's H and W, centred, to the size of the second (U-Net's skip crop);
    an odd excess leaves the extra row/column at the bottom/right."""

    op: Literal["center_crop"] = "center_crop"
    arity: ClassVar[int | None] = 2

    def infer(self, ins):
        x, like = ins
        c, h, w = need_image(self.op, x)
        _, th, tw = need_image(self.op, like)
        if th > h or tw > w:
            raise ShapeError(
                "AS503",
                f"center_crop cannot crop '{x.label}' {fmt(x.shape)} to the larger {th}x{tw} of '{like.label}'",
                "the first input is cropped to the second: list the larger tensor first",
            )
        return (c, th, tw)


@register
class Scale(Op):
    """Elementwise affine map by constants: y = factor * x + offset (e.g. a highway carry gate 1 - T)."""

    op: Literal["scale"] = "scale"
    factor: Finite = Field(1.0, description="multiplies the input")
    offset: Finite = Field(0.0, description="added after the multiplication")


@register
class StochasticDepth(Op):
    """Drops the whole input per sample (mode row) or per batch (mode batch) with probability `p` in training."""

    op: Literal["stochastic_depth"] = "stochastic_depth"
    p: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] = Field(
        description="drop probability (1 - survival probability)"
    )
    mode: Literal["row", "batch"] = Field("row", description="drop per sample (row) or the whole batch at once (batch)")
