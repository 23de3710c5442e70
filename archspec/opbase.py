"""Op registry basics: the `Op` base model, `register`, shapes, shape errors and helpers.

The ops themselves live in one module per family (op_conv, op_activation, op_pool,
op_dense, op_reshape, op_join); `archspec.ops` imports them all and is the public face.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, NamedTuple, Union

from pydantic import BaseModel, ConfigDict, Field, StrictInt

Shape = tuple[int, ...]

# Sizes a backend can allocate: above 2**31 - 1 a framework's C code overflows or refuses.
MAX_DIM = 2**31 - 1
PosInt = Annotated[StrictInt, Field(ge=1, le=MAX_DIM)]
NonNegInt = Annotated[StrictInt, Field(ge=0, le=MAX_DIM)]
PosPair = Union[PosInt, tuple[PosInt, PosInt]]
NonNegPair = Union[NonNegInt, tuple[NonNegInt, NonNegInt]]
# Floats a backend must print as literals: never inf or nan.
Finite = Annotated[float, Field(allow_inf_nan=False)]
Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class Operand(NamedTuple):
    label: str  # the reference as the user wrote it, e.g. 'bn3' or 'x'
    shape: Shape
    order: int  # depth of the producer (longest path from the inputs); the shortcut is shallower
    layout: str = ""  # what each axis means, one letter per axis (see `default_layout`); "" unknown


# The layouts a rank implies until an op says otherwise: (C, H, W) images, (T, D) token
# sequences, (F,) features. Permutes rename axes (CHW -> HWC is a channels-last map), flattening
# H and W makes tokens. Layouts do not change what a shape rule computes; they let errors name
# the axes, keep an image from meeting a channels-last map of the same sizes, and tell a backend
# that stores images differently (Flax: NHWC) which tensors are images.
_DEFAULT_LAYOUTS = {1: "F", 2: "TD", 3: "CHW"}


def default_layout(rank: int) -> str:
    return _DEFAULT_LAYOUTS.get(rank, "")


def fmt_laid(shape: Shape, layout: str) -> str:
    """A shape with its axes named where the layout is not the rank's usual one or is tokens:
    (N, T=197, D=768), (N, H=56, W=56, C=96); images and features print as plain sizes."""
    if len(layout) != len(shape) or layout in ("CHW", "F") or "?" in layout:
        return fmt(shape)
    return "(" + ", ".join(["N", *(f"{a}={d}" for a, d in zip(layout, shape))]) + ")"


def show(x: Operand) -> str:
    return fmt_laid(x.shape, x.layout)


class ShapeError(Exception):
    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def fmt(shape: Shape) -> str:
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


def pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


OPS: dict[str, type[Op]] = {}


def register(cls):
    OPS[cls.model_fields["op"].default] = cls
    return cls


class Op(BaseModel):
    """Base of every op. `arity` is the exact input count, or None for 'two or more'."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    arity: ClassVar[int | None] = 1
    reads_input: ClassVar[bool] = True  # False: the input only lends its batch size (a learned tensor)

    @property
    def name(self) -> str:
        return self.op  # type: ignore[attr-defined]

    def infer(self, ins: list[Operand]) -> Shape:
        return ins[0].shape

    def count_params(self, ins: list[Shape], out: Shape) -> int:
        return 0

    def count_macs(self, ins: list[Shape], out: Shape) -> int:
        return 0

    def count_buffers(self, ins: list[Shape], out: Shape) -> int:
        """State that is not a parameter but is in the state_dict (running statistics, index tables)."""
        return 0

    def layout(self, ins: list[Operand], out: Shape) -> str:
        """The output's layout: the first input's where the rank is kept, else the rank's default."""
        if ins and ins[0].layout and len(ins[0].shape) == len(out):
            return ins[0].layout
        return default_layout(len(out))


def need_image(op: str, x: Operand) -> tuple[int, int, int]:
    if len(x.shape) != 3 or x.layout not in ("CHW", ""):
        hint = "this op works on (N, C, H, W) images"
        if len(x.shape) == 1:
            hint += "; it comes after a flatten or linear, so move it before them"
        elif x.layout == "HWC":
            hint = "it is channels-last: put `- {op: permute, dims: [0, 3, 1, 2]}` before this node"
        elif len(x.shape) == 2:
            hint += "; a token sequence becomes a map with permute and reshape (e.g. [0, 2, 1], then [C, H, W])"
        raise ShapeError("AS506", f"{op} expects (N, C, H, W) but input '{x.label}' is {show(x)}", hint)
    return x.shape  # type: ignore[return-value]


def need_axis(op: str, axis: int, x: Operand, name: str = "axis") -> int:
    """A non-batch axis of x in PyTorch's numbering (batch is 0, negative counts from the end), as 1..rank."""
    rank = len(x.shape) + 1
    a = axis + rank if axis < 0 else axis
    if not 1 <= a < rank:
        raise ShapeError(
            "AS507",
            f"{op} {name} {axis} is out of range for '{x.label}' {show(x)}",
            f"use an axis from 1 to {rank - 1}, or -1 for the last (axis 0 is the batch)",
        )
    return a


def window_out(op: str, axis: str, size: int, k: int, s: int, lo: int, hi: int, d: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window, with PyTorch's ceil_mode rule."""
    if size <= 0:
        raise ShapeError("AS503", f"{op} input {axis} is {size}", "an earlier node shrank the input to nothing")
    span = d * (k - 1) + 1
    padded = size + lo + hi
    if padded < span:
        pad = f" ({size} + padding {lo + hi})" if lo + hi else ""
        dil = f" (dilated to {span})" if d > 1 else ""
        raise ShapeError(
            "AS504",
            f"{op} kernel {k}{dil} is larger than the padded input {axis} {padded}{pad}",
            f"use a smaller kernel, add padding, or give the network a larger input ({axis} {size} here)",
        )
    numer = padded - span
    out = (numer + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= size + lo:
        out -= 1  # the last window must start inside the input or the left padding
    return out


WeightInit = Literal[
    "default", "kaiming_normal_fan_out", "kaiming_normal_fan_in", "normal", "trunc_normal", "xavier_uniform", "zeros"
]
BiasInit = Union[Literal["default", "zeros"], Finite]
_INIT_DOC = (
    "weight initialisation: default (the framework's), kaiming_normal_fan_out / kaiming_normal_fan_in "
    "(ReLU gain), normal / trunc_normal (std 0.01, truncated at +-2), xavier_uniform, zeros"
)

_BIAS_INIT_DOC = "bias initialisation: default (the framework's), zeros, or a constant (e.g. -2 for a highway gate)"


class _Window(Op):
    def _pads(self, x: tuple[int, int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        p = pair(self.padding)  # type: ignore[attr-defined]
        return (p[0], p[0]), (p[1], p[1])

    def _spatial(self, x, k, s, d=(1, 1), ceil=False) -> tuple[int, int]:
        (pt, pb), (pl, pr) = self._pads(x)
        h = window_out(self.op, "height", x[1], k[0], s[0], pt, pb, d[0], ceil)  # type: ignore[attr-defined]
        w = window_out(self.op, "width", x[2], k[1], s[1], pl, pr, d[1], ceil)  # type: ignore[attr-defined]
        return h, w
