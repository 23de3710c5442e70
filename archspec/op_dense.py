"""Fully connected layers and regularisers."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, StrictBool

from .opbase import (
    _BIAS_INIT_DOC,
    _INIT_DOC,
    BiasInit,
    Finite,
    Op,
    PosInt,
    Prob,
    ShapeError,
    WeightInit,
    fmt,
    need_image,
    register,
)


@register
class Linear(Op):
    """Fully connected layer on the last axis, at any rank, as PyTorch's: (N, F) features,
    (N, T, D) tokens, (N, H, W, C) channels-last maps. Input features are inferred."""

    op: Literal["linear"] = "linear"
    features: PosInt = Field(description="output features")
    bias: StrictBool = Field(True, description="add a learned bias")
    init: WeightInit = Field("default", description=_INIT_DOC)
    bias_init: BiasInit = Field("default", description=_BIAS_INIT_DOC)

    def infer(self, ins):
        x = ins[0]
        if x.layout == "CHW":  # legal in PyTorch, but it mixes pixels of a row: never what was meant
            raise ShapeError(
                "AS506",
                f"linear acts on the last axis, but input '{x.label}' is an image {fmt(x.shape)} whose last axis is W",
                "add `- op: flatten` (or global_avgpool2d) before this node; for a linear over each pixel's channels, "
                "permute to channels-last first (dims [0, 2, 3, 1])",
            )
        return (*x.shape[:-1], self.features)

    def count_params(self, ins, out):
        return ins[0][-1] * self.features + (self.features if self.bias else 0)

    def count_macs(self, ins, out):
        return math.prod(ins[0]) * self.features


@register
class Dropout(Op):
    """Zeroes elements with probability `p` in training, scaling the rest by 1 / (1 - p)."""

    op: Literal["dropout"] = "dropout"
    p: Prob = Field(0.5, description="probability of zeroing an element in training")


@register
class LocalResponseNorm(Op):
    """x / (k + alpha / size * sum over `size` neighbouring channels of x^2) ^ beta (PyTorch's formula)."""

    op: Literal["local_response_norm"] = "local_response_norm"
    size: PosInt = Field(description="number of neighbouring channels summed over")
    alpha: Finite = Field(1e-4, description="multiplicative factor")
    beta: Finite = Field(0.75, description="exponent")
    k: Finite = Field(1.0, description="additive constant")

    def infer(self, ins):
        need_image(self.op, ins[0])
        return ins[0].shape
