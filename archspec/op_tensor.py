"""Tensors of any rank: axis plumbing (permute, transpose, reshape, slice, select, roll, channel
shuffle), learned free-standing tensors, and products of two nodes.

Axes are numbered as PyTorch numbers them: the batch is axis 0 and never moves; negative numbers
count from the end. Shapes in messages name their axes where the layout says what they mean.
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt

from .opbase import (
    MAX_DIM,
    Finite,
    Op,
    Operand,
    PosInt,
    ShapeError,
    default_layout,
    fmt,
    need_axis,
    need_image,
    register,
    show,
)

Axes = Annotated[list[StrictInt], Field(min_length=1, max_length=8)]


def _permuted(letters: str, order: list[int]) -> str:
    """Layout letters after a permute (order lists non-batch axes, 1-based); unknown stays unknown."""
    if len(letters) != len(order):
        return ""
    return "".join(letters[i - 1] for i in order)


@register
class Permute(Op):
    """Reorders the axes, as `x.permute(dims)`; `dims` lists every axis and starts with 0 (the
    batch stays first). [0, 2, 3, 1] turns an image into a channels-last map (N, H, W, C)."""

    op: Literal["permute"] = "permute"
    dims: Axes = Field(description="the new order of the axes, batch (0) first, e.g. [0, 2, 3, 1]")

    def _order(self, x: Operand) -> list[int]:
        rank = len(x.shape) + 1
        if sorted(self.dims) != list(range(rank)) or self.dims[0] != 0:
            raise ShapeError(
                "AS507",
                f"permute dims {self.dims} do not reorder the {rank} axes of '{x.label}' {show(x)}",
                f"list each of 0..{rank - 1} once, batch (0) first, e.g. {[0, *range(rank - 1, 0, -1)]}",
            )
        return self.dims[1:]

    def infer(self, ins):
        return tuple(ins[0].shape[i - 1] for i in self._order(ins[0]))

    def layout(self, ins, out):
        return _permuted(ins[0].layout, self._order(ins[0])) or default_layout(len(out))


@register
class Transpose(Op):
    """Swaps two axes, as `x.transpose(a, b)`: [1, 2] turns (N, D, T) into (N, T, D)."""

    op: Literal["transpose"] = "transpose"
    axes: tuple[StrictInt, StrictInt] = Field(description="the two axes swapped, e.g. [1, 2]; not the batch")

    def _order(self, x: Operand) -> list[int]:
        a, b = (need_axis(self.op, v, x, "axis") for v in self.axes)
        order = list(range(1, len(x.shape) + 1))
        order[a - 1], order[b - 1] = order[b - 1], order[a - 1]
        return order

    def infer(self, ins):
        return tuple(ins[0].shape[i - 1] for i in self._order(ins[0]))

    def layout(self, ins, out):
        return _permuted(ins[0].layout, self._order(ins[0])) or default_layout(len(out))


@register
class Reshape(Op):
    """Gives the elements of each sample a new shape, in PyTorch's (row-major) order, as
    `x.reshape(N, *shape)`; one size may be -1, inferred from the rest."""

    op: Literal["reshape"] = "reshape"
    shape: Annotated[list[Annotated[StrictInt, Field(ge=-1, le=MAX_DIM)]], Field(min_length=1, max_length=8)] = Field(
        description="the new shape without the batch, e.g. [196, 768]; one entry may be -1"
    )

    def infer(self, ins):
        x = ins[0]
        size = math.prod(x.shape)
        if self.shape.count(-1) > 1 or 0 in self.shape:
            raise ShapeError(
                "AS507",
                f"reshape shape {self.shape} has {'a zero' if 0 in self.shape else 'more than one -1'}",
                "give every size, with at most one -1 for the size inferred from the rest",
            )
        known = math.prod(d for d in self.shape if d != -1)
        if (-1 in self.shape and size % known) or (-1 not in self.shape and known != size):
            raise ShapeError(
                "AS507",
                f"reshape cannot make {self.shape} from '{x.label}' {show(x)}: {size:,} elements per sample",
                f"the sizes must multiply to {size:,}",
            )
        return tuple(size // known if d == -1 else d for d in self.shape)

    def layout(self, ins, out):
        return default_layout(len(out))


class _Slicing(Op):
    def _axis(self, x: Operand) -> int:
        return need_axis(self.op, self.axis, x)  # type: ignore[attr-defined]


@register
class Slice(_Slicing):
    """Keeps `start:stop:step` of one axis, as `x[:, start:stop:step]` on axis 1 (ShuffleNet's
    channel split: two slices of the channels; Swin's patch merging: every other row)."""

    op: Literal["slice"] = "slice"
    axis: StrictInt = Field(1, description="the axis sliced (batch is 0; negative counts from the end)")
    start: Annotated[StrictInt, Field(ge=0, le=MAX_DIM)] = Field(0, description="first index kept")
    stop: Annotated[StrictInt, Field(ge=1, le=MAX_DIM)] | None = Field(
        None, description="index after the last one kept; default the end of the axis"
    )
    step: PosInt = Field(1, description="keep every step-th index")

    def bounds(self, size: int) -> tuple[int, int]:
        return self.start, size if self.stop is None else self.stop

    def infer(self, ins):
        x = ins[0]
        a = self._axis(x)
        size = x.shape[a - 1]
        start, stop = self.bounds(size)
        if not start < stop <= size:
            raise ShapeError(
                "AS507",
                f"slice {start}:{stop} of axis {self.axis} is empty or out of range: '{x.label}' {show(x)} has "
                f"{size} there",
                f"use 0 <= start < stop <= {size}",
            )
        return (*x.shape[: a - 1], -(-(stop - start) // self.step), *x.shape[a:])


@register
class Select(_Slicing):
    """Picks one index of an axis and drops the axis, as `x[:, 0]` (ViT's class token)."""

    op: Literal["select"] = "select"
    axis: StrictInt = Field(1, description="the axis indexed and dropped (batch is 0)")
    at: StrictInt = Field(description="the index kept; negative counts from the end")

    def infer(self, ins):
        x = ins[0]
        a = self._axis(x)
        size = x.shape[a - 1]
        if not -size <= self.at < size:
            raise ShapeError(
                "AS507",
                f"select index {self.at} is out of range: '{x.label}' {show(x)} has {size} on axis {self.axis}",
                f"use an index from {-size} to {size - 1}",
            )
        return x.shape[: a - 1] + x.shape[a:]

    def layout(self, ins, out):
        letters = ins[0].layout
        if len(out) == 1 or len(letters) != len(ins[0].shape):
            return default_layout(len(out))
        a = self._axis(ins[0])
        return letters[: a - 1] + letters[a:]


@register
class Roll(Op):
    """Shifts elements cyclically along axes, as `torch.roll(x, shifts, dims)`."""

    op: Literal["roll"] = "roll"
    shifts: Axes = Field(description="how far to shift along each axis (negative: towards index 0)")
    axes: Axes = Field(description="the axes shifted, one per shift (batch is 0)")

    def infer(self, ins):
        if len(self.shifts) != len(self.axes):
            raise ShapeError(
                "AS507",
                f"roll has {len(self.shifts)} shifts for {len(self.axes)} axes",
                "give one shift per axis",
            )
        for a in self.axes:
            need_axis(self.op, a, ins[0])
        return ins[0].shape


@register
class ChannelShuffle(Op):
    """Interleaves the channels of `groups` groups (ShuffleNet): channel g * (C / groups) + i
    moves to i * groups + g."""

    op: Literal["channel_shuffle"] = "channel_shuffle"
    groups: PosInt = Field(description="number of channel groups interleaved")

    def infer(self, ins):
        c, _, _ = need_image(self.op, ins[0])
        if c % self.groups:
            raise ShapeError(
                "AS507",
                f"channel_shuffle of {c} channels into {self.groups} groups: {c} is not divisible by {self.groups}",
                "use a group count that divides the channels",
            )
        return ins[0].shape


ParamInit = Literal["zeros", "normal", "trunc_normal"] | Finite


@register
class Parameter(Op):
    """A learned tensor that is not a layer's weight: ViT's class token and position embedding,
    ConvNeXt's layer scale. Its state_dict key is the node's path. The node's value is the
    tensor repeated over the batch of its input (which it does not otherwise read), so it joins
    other nodes like any value: concat a class token, add a position embedding, multiply by a
    layer scale (with `broadcast: true`)."""

    op: Literal["parameter"] = "parameter"
    reads_input: ClassVar[bool] = False
    shape: Annotated[list[Annotated[StrictInt, Field(ge=1, le=MAX_DIM)]], Field(min_length=1, max_length=8)] = Field(
        description="the stored tensor's shape, as the state_dict holds it, e.g. [1, 1, 768] or [96, 1, 1]"
    )
    batch: StrictBool = Field(
        True, description="the stored shape starts with a batch axis of size 1 (class token, position embedding)"
    )
    init: ParamInit = Field(
        "zeros",
        description="zeros, normal / trunc_normal (mean 0, standard deviation `std`), or a constant (layer scale 1e-6)",
    )
    std: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = Field(0.02, description="std of a normal init")

    def infer(self, ins):
        if self.batch and self.shape[0] != 1:
            raise ShapeError(
                "AS507",
                f"parameter shape {self.shape} has batch: true, so its first size must be 1, not {self.shape[0]}",
                "set `batch: false` if the stored tensor has no batch axis (e.g. a layer scale [C, 1, 1])",
            )
        if not self.batch and len(self.shape) > 7:
            raise ShapeError("AS507", f"parameter shape {self.shape} has too many axes", "use at most 7 axes")
        return tuple(self.shape[1:] if self.batch else self.shape)

    def layout(self, ins, out):
        return default_layout(len(out))

    def count_params(self, ins, out):
        return math.prod(self.shape)


@register
class Matmul(Op):
    """Matrix product of two nodes over their last two axes, as `a @ b`: (N, ..., n, k) @
    (N, ..., k, m) -> (N, ..., n, m); the leading axes must be equal."""

    op: Literal["matmul"] = "matmul"
    arity: ClassVar[int | None] = 2

    def infer(self, ins):
        a, b = ins
        if len(a.shape) < 2 or len(b.shape) < 2:
            small = a if len(a.shape) < 2 else b
            raise ShapeError(
                "AS506",
                f"matmul needs matrices per sample, but '{small.label}' is {fmt(small.shape)}",
                "give both operands at least two axes besides the batch",
            )
        if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
            raise ShapeError(
                "AS501",
                f"matmul operands do not fit: '{a.label}' is {show(a)} and '{b.label}' is {show(b)}",
                f"the last axis of '{a.label}' ({a.shape[-1]}) must equal the second-to-last of '{b.label}' "
                f"({b.shape[-2]}), and the axes before them must be equal; transpose one of them if needed",
            )
        return (*a.shape[:-1], b.shape[-1])

    def layout(self, ins, out):
        return default_layout(len(out))

    def count_macs(self, ins, out):
        return math.prod(out) * ins[0][-1]
