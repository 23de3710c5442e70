"""Transformer layers: layer normalisation and multi-head attention."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool

from .opbase import NonNegPair, Op, PosInt, PosPair, Prob, ShapeError, need_image, pair, register, show

Eps = Field(1e-5, gt=0.0, allow_inf_nan=False, description="added to the variance")


@register
class LayerNorm(Op):
    """Normalises each position over its last axis, with a learned scale and shift, as PyTorch's
    `nn.LayerNorm(D)`: tokens (N, T, D), channels-last maps (N, H, W, C), features (N, F). With
    `channels_first`, it normalises the channels of an (N, C, H, W) image (ConvNeXt's LayerNorm2d)."""

    op: Literal["layer_norm"] = "layer_norm"
    eps: float = Eps
    affine: StrictBool = Field(True, description="learn a per-feature scale (weight) and shift (bias)")
    channels_first: StrictBool = Field(False, description="normalise the C of an (N, C, H, W) image")

    def features(self, shape) -> int:
        return shape[0] if self.channels_first else shape[-1]

    def infer(self, ins):
        x = ins[0]
        if self.channels_first:
            need_image(self.op, x)
        elif x.layout == "CHW":
            raise ShapeError(
                "AS506",
                f"layer_norm normalises the last axis, and '{x.label}' is an image {show(x)} whose last axis is W",
                "set `channels_first: true` to normalise its channels, or permute it to channels-last first",
            )
        return x.shape

    def count_params(self, ins, out):
        return 2 * self.features(ins[0]) if self.affine else 0


def _heads_divide(op, size: int, what: str, label: str) -> None:
    if size % op.heads:
        raise ShapeError(
            "AS507",
            f"{op.op}: {op.heads} heads do not divide the {size} {what} of '{label}'",
            f"use a head count that divides {size}",
        )


@register
class MultiheadAttention(Op):
    """Self-attention over the tokens of an (N, T, D) sequence, with PyTorch's
    `nn.MultiheadAttention(D, heads, batch_first=True)` parameters (in_proj_weight (3D, D),
    in_proj_bias, out_proj), so torchvision's ViT weights load. MACs count the projections and
    the two matrix products (Q K^T and the weighted sum of V)."""

    op: Literal["multihead_attention"] = "multihead_attention"
    heads: PosInt = Field(description="number of attention heads; must divide D")
    dropout: Prob = Field(0.0, description="dropout on the attention weights, in training")
    bias: StrictBool = Field(True, description="biases on the input and output projections")

    def infer(self, ins):
        x = ins[0]
        if len(x.shape) != 2:
            raise ShapeError(
                "AS506",
                f"multihead_attention expects tokens (N, T, D) but input '{x.label}' is {show(x)}",
                "make a token sequence first: `- {op: flatten, start: 2}` then `- {op: permute, dims: [0, 2, 1]}`",
            )
        _heads_divide(self, x.shape[1], "features", x.label)
        return x.shape

    def count_params(self, ins, out):
        d = ins[0][1]
        return 4 * d * d + (4 * d if self.bias else 0)

    def count_macs(self, ins, out):
        t, d = ins[0]
        return 4 * t * d * d + 2 * t * t * d


@register
class WindowAttention(Op):
    """Swin's (shifted) window attention on a channels-last map (N, H, W, C), with torchvision's
    `ShiftedWindowAttention` parameters: qkv and proj linears, a relative-position bias table of
    ((2 wh - 1) (2 ww - 1), heads) and its index buffer. The map is padded to whole windows,
    rolled by `-shift` (windows that straddle the roll's seam are masked apart), attended per
    window, and rolled back; a shift is dropped on an axis the window already covers."""

    op: Literal["window_attention"] = "window_attention"
    heads: PosInt = Field(description="number of attention heads; must divide C")
    window: PosPair = Field(7, description="window size: w or [wh, ww]")
    shift: NonNegPair = Field(0, description="cyclic shift of the windows (Swin's odd blocks: window // 2)")
    qkv_bias: StrictBool = Field(True, description="bias on the query/key/value projection")
    proj_bias: StrictBool = Field(True, description="bias on the output projection")
    attention_dropout: Prob = Field(0.0, description="dropout on the attention weights, in training")
    dropout: Prob = Field(0.0, description="dropout on the output, in training")

    def windows(self, shape) -> tuple[int, int]:
        """(windows, tokens per window) of the padded map."""
        h, w, _ = shape
        wh, ww = pair(self.window)
        return -(-h // wh) * -(-w // ww), wh * ww

    def infer(self, ins):
        x = ins[0]
        if len(x.shape) != 3 or x.layout == "CHW":
            raise ShapeError(
                "AS506",
                f"window_attention expects a channels-last map (N, H, W, C) but input '{x.label}' is {show(x)}",
                "put `- {op: permute, dims: [0, 2, 3, 1]}` before it to make an image channels-last",
            )
        _heads_divide(self, x.shape[2], "channels", x.label)
        s, w = pair(self.shift), pair(self.window)
        if s[0] >= w[0] or s[1] >= w[1]:
            raise ShapeError(
                "AS507",
                f"window_attention shift {self.shift} is not smaller than the window {self.window}",
                "shift by less than the window (Swin uses window // 2)",
            )
        return x.shape

    def count_params(self, ins, out):
        wh, ww = pair(self.window)
        c = ins[0][2]
        table = (2 * wh - 1) * (2 * ww - 1) * self.heads
        return table + 4 * c * c + (3 * c if self.qkv_bias else 0) + (c if self.proj_bias else 0)

    def count_buffers(self, ins, out):
        return self.windows(ins[0])[1] ** 2

    def count_macs(self, ins, out):
        n, t = self.windows(ins[0])
        c = ins[0][2]
        return n * (4 * t * c * c + 2 * t * t * c)
