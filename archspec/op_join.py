"""Joins of two or more tensors: add, multiply, concat."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt

from .opbase import Op, Operand, Shape, ShapeError, register, show


def _shortcut_hint(main: Operand, short: Operand) -> str:
    a, b = short.shape, main.shape
    if len(a) != len(b):
        return f"'{short.label}' and '{main.label}' have different ranks; flatten or pool one of them first"
    if len(a) == 1:
        return f"project the shortcut: linear with {b[0]} features"
    if main.layout not in ("CHW", "") and a[:-1] == b[:-1]:  # tokens, channels-last: features on the last axis
        return (
            f"the branch ends with {b[-1]} features on the last axis but the shortcut '{short.label}' has {a[-1]}: "
            f"give the branch's last layer {a[-1]} features (or project the shortcut with a linear of {b[-1]})"
        )
    if len(a) != 3:
        return "make both operands the same shape"
    if a[1:] == b[1:]:
        return f"project the shortcut: 1x1 conv, stride 1, {b[0]} channels"
    if a[1] % b[1] == 0 and a[2] % b[2] == 0 and a[1] // b[1] == a[2] // b[2]:
        return f"project the shortcut: 1x1 conv, stride {a[1] // b[1]}, {b[0]} channels"
    if b[1] > a[1]:
        return (
            f"the main branch '{main.label}' is larger than the shortcut; "
            "check the strides and padding on the main branch"
        )
    return (
        f"spatial sizes {a[1]}x{a[2]} and {b[1]}x{b[2]} are not an integer ratio; "
        "check kernel, stride and padding on the main branch (padding (k - 1) // 2 keeps odd kernels aligned)"
    )


def _labelled(ins: list[Operand]) -> tuple[Operand, list[Operand]]:
    """The deepest operand is the main branch; shallower ones are 'the shortcut'."""
    main = max(ins, key=lambda o: o.order)
    return main, [o for o in ins if o is not main]


@register
class Add(Op):
    """Elementwise sum of two or more tensors of exactly equal shape (no broadcasting)."""

    op: Literal["add"] = "add"
    arity: ClassVar[int | None] = None

    def infer(self, ins):
        main, others = _labelled(ins)
        for o in others:
            if o.shape != main.shape:
                word = "the shortcut " if len(ins) == 2 else ""
                raise ShapeError(
                    "AS501",
                    f"{self.op} operands differ: '{main.label}' is {show(main)} but {word}'{o.label}' is {show(o)}",
                    _shortcut_hint(main, o),
                )
        _same_layout(self.op, ins)
        return main.shape


@register
class Multiply(Add):
    """Elementwise product. Shapes must be equal; with `broadcast: true`, a dimension of size 1
    in one operand stretches to the other's (same rank required, e.g. a (N, C, 1, 1) gate)."""

    op: Literal["multiply"] = "multiply"  # type: ignore[assignment]
    broadcast: StrictBool = Field(False, description="let size-1 dimensions stretch (same rank required)")

    def infer(self, ins):
        if not self.broadcast:
            try:
                return super().infer(ins)
            except ShapeError as err:
                if _broadcast([o.shape for o in ins]) is not None:
                    err.hint = "set `broadcast: true` to stretch size-1 dimensions (e.g. a (N, C, 1, 1) gate)"
                raise
        out = _broadcast([o.shape for o in ins])
        if out is None:
            listed = ", ".join(f"'{o.label}' is {show(o)}" for o in ins)
            raise ShapeError(
                "AS501",
                f"multiply operands do not broadcast: {listed}",
                "with broadcast, every dimension must be equal or 1 in one operand, at the same rank",
            )
        _same_layout(self.op, ins)
        return out


def _same_layout(op: str, ins: list[Operand]) -> None:
    """Equal sizes in different layouts (an image and a channels-last map of 7x7x7) are different tensors."""
    known = [o for o in ins if o.layout and "?" not in o.layout and len(o.layout) == len(o.shape)]
    if len({o.layout for o in known}) > 1:
        a, b = known[0], next(o for o in known if o.layout != known[0].layout)
        raise ShapeError(
            "AS501",
            f"{op} operands are laid out differently: '{a.label}' is {_named(a)} but '{b.label}' is {_named(b)}",
            f"permute one of them so their axes mean the same (e.g. `- {{op: permute, dims: {_perm(b, a)}}}` "
            f"after '{b.label}')",
        )


def _named(o: Operand) -> str:
    return "(" + ", ".join(["N", *(f"{a}={d}" for a, d in zip(o.layout, o.shape))]) + ")"


def _perm(src: Operand, dst: Operand) -> list[int]:
    if sorted(src.layout) != sorted(dst.layout):
        return [0, *range(1, len(src.shape) + 1)]
    return [0, *(src.layout.index(a) + 1 for a in dst.layout)]


def _broadcast(shapes: list[Shape]) -> Shape | None:
    if len({len(s) for s in shapes}) != 1:
        return None
    out = []
    for dims in zip(*shapes):
        big = {d for d in dims if d != 1}
        if len(big) > 1:
            return None
        out.append(big.pop() if big else 1)
    return tuple(out)


@register
class Concat(Op):
    """Concatenation along `axis`, at any rank (PyTorch's numbering: batch is 0; default 1, the
    channels of an image or the tokens of a sequence)."""

    op: Literal["concat"] = "concat"
    arity: ClassVar[int | None] = None
    axis: StrictInt = Field(
        1, description="the axis to join along, NCHW numbering (1: channels); negative counts from the end"
    )

    def infer(self, ins):
        rank = len(ins[0].shape) + 1
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ShapeError(
                "AS507",
                f"concat axis {self.axis} is out of range for {show(ins[0])}",
                f"use an axis from 1 to {rank - 1} (axis 0 is the batch)",
            )
        first = ins[0].shape
        bad = [o for o in ins if len(o.shape) != len(first) or _without(o.shape, axis) != _without(first, axis)]
        if bad:
            listed = ", ".join(f"'{o.label}' is {show(o)}" for o in ins)
            raise ShapeError(
                "AS502",
                f"concat operands differ off axis {self.axis}: {listed}",
                _rounding_hint(ins[0], bad[0], axis)
                or f"all operands must agree in every dimension but axis {self.axis}; '{bad[0].label}' differs from "
                f"'{ins[0].label}' in {_dims_differing(ins[0].shape, bad[0].shape, axis)} — check the kernel, stride "
                "and padding on its path",
            )
        _same_layout(self.op, ins)
        total = sum(o.shape[axis - 1] for o in ins)
        return first[: axis - 1] + (total,) + first[axis:]


def _rounding_hint(a: Operand, b: Operand, axis: int) -> str | None:
    """Image operands one pixel apart: a downsampling rounded an odd size down on one path
    and upsampling could not restore it (U-Net, FPN). The fix is an input size, not a layer."""
    if axis != 1 or len(a.shape) != 3 or len(b.shape) != 3 or a.shape[1:] == b.shape[1:]:
        return None
    if all(abs(x - y) <= 1 for x, y in zip(a.shape[1:], b.shape[1:])):
        big, small = (a, b) if a.shape[1] + a.shape[2] > b.shape[1] + b.shape[2] else (b, a)
        return (
            f"'{small.label}' is one pixel short of '{big.label}': a stride-2 layer rounded an odd size down; "
            "use input sizes divisible by the network's total stride (`archspec check --sizes` lists them), "
            f"or crop '{big.label}' to '{small.label}' with center_crop"
        )
    return None


def _dims_differing(a: Shape, b: Shape, axis: int) -> str:
    if len(a) != len(b):
        return "rank"
    names = ("C", "H", "W") if len(a) == 3 else tuple(f"dim {i + 1}" for i in range(len(a)))
    return ", ".join(n for i, (n, x, y) in enumerate(zip(names, a, b)) if x != y and i != axis - 1)


def _without(shape: Shape, axis: int) -> Shape:
    return shape[: axis - 1] + shape[axis:]
