"""The operation registry: one frozen pydantic model per op.

Each model binds, in one place, the op's spec fields (validated, typed,
documented), its shape rule, its parameter count and its MACs. Backends attach
their emitters by op name (see `archspec.backends`). Shapes here exclude the
batch dimension and use NCHW order: (C, H, W) for images, (F,) for features.
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal, NamedTuple, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

Shape = tuple[int, ...]

PosInt = Annotated[StrictInt, Field(ge=1)]
NonNegInt = Annotated[StrictInt, Field(ge=0)]
PosPair = Union[PosInt, tuple[PosInt, PosInt]]
NonNegPair = Union[NonNegInt, tuple[NonNegInt, NonNegInt]]
Prob = Annotated[float, Field(ge=0.0, le=1.0)]


class Operand(NamedTuple):
    label: str  # the reference as the user wrote it, e.g. 'bn3' or 'x'
    shape: Shape
    order: int  # depth of the producer (longest path from the inputs); the shortcut is shallower


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

    @property
    def name(self) -> str:
        return self.op  # type: ignore[attr-defined]

    def infer(self, ins: list[Operand]) -> Shape:
        return ins[0].shape

    def count_params(self, ins: list[Shape], out: Shape) -> int:
        return 0

    def count_macs(self, ins: list[Shape], out: Shape) -> int:
        return 0


def need_image(op: str, x: Operand) -> tuple[int, int, int]:
    if len(x.shape) != 3:
        hint = "this op works on (N, C, H, W) images"
        if len(x.shape) == 1:
            hint += "; it comes after a flatten or linear, so move it before them"
        raise ShapeError("AS506", f"{op} expects (N, C, H, W) but input '{x.label}' is {fmt(x.shape)}", hint)
    return x.shape  # type: ignore[return-value]


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
BiasInit = Literal["default", "zeros"]
_INIT_DOC = (
    "weight initialisation: default (the framework's), kaiming_normal_fan_out / kaiming_normal_fan_in "
    "(ReLU gain), normal / trunc_normal (std 0.01, truncated at +-2), xavier_uniform, zeros"
)


class _Window(Op):
    def _pads(self, x: tuple[int, int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        p = pair(self.padding)  # type: ignore[attr-defined]
        return (p[0], p[0]), (p[1], p[1])

    def _spatial(self, x, k, s, d=(1, 1), ceil=False) -> tuple[int, int]:
        (pt, pb), (pl, pr) = self._pads(x)
        h = window_out(self.op, "height", x[1], k[0], s[0], pt, pb, d[0], ceil)  # type: ignore[attr-defined]
        w = window_out(self.op, "width", x[2], k[1], s[1], pl, pr, d[1], ceil)  # type: ignore[attr-defined]
        return h, w


@register
class Conv2d(_Window):
    """2-D convolution. Input channels are inferred."""

    op: Literal["conv2d"] = "conv2d"
    channels: PosInt = Field(description="output channels")
    kernel: PosPair = Field(description="kernel size: k or [kh, kw]")
    stride: PosPair = 1
    padding: NonNegPair | Literal["same", "valid"] = Field(
        0, description="k, [ph, pw], 'valid' (0) or 'same' (stride 1 only; odd excess padding goes right/bottom)"
    )
    dilation: PosPair = 1
    groups: PosInt = 1
    bias: StrictBool = True
    init: WeightInit = Field("default", description=_INIT_DOC)
    bias_init: BiasInit = "default"

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
class BatchNorm2d(Op):
    """Batch normalization over channels. `momentum` follows PyTorch: new = (1 - m) * old + m * batch."""

    op: Literal["batchnorm2d"] = "batchnorm2d"
    eps: Annotated[float, Field(gt=0)] = 1e-5
    momentum: Annotated[float, Field(ge=0, le=1)] = 0.1
    affine: StrictBool = True
    init: Literal["default", "zeros"] = Field(
        "default", description="scale initialisation: default (ones) or zeros (zero-init the last BN of a residual)"
    )

    def infer(self, ins):
        need_image("batchnorm2d", ins[0])
        return ins[0].shape

    def count_params(self, ins, out):
        return 2 * ins[0][0] if self.affine else 0


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
    approximate: Literal["none", "tanh"] = "none"


@register
class Softmax(Op):
    """Softmax along `axis` (NCHW numbering, batch is axis 0; default the channel/feature axis)."""

    op: Literal["softmax"] = "softmax"
    axis: StrictInt = 1

    def infer(self, ins):
        rank = len(ins[0].shape) + 1
        if not -rank <= self.axis < rank or self.axis in (0, -rank):
            raise ShapeError(
                "AS507",
                f"softmax axis {self.axis} is out of range for {fmt(ins[0].shape)}",
                f"use an axis from 1 to {rank - 1} (axis 0 is the batch)",
            )
        return ins[0].shape


@register
class MaxPool2d(_Window):
    """Max pooling; padding is implicit -inf. `stride` defaults to `kernel`."""

    op: Literal["maxpool2d"] = "maxpool2d"
    kernel: PosPair
    stride: PosPair | None = None
    padding: NonNegPair = 0
    dilation: PosPair = 1
    ceil_mode: StrictBool = False

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
    dilation: Literal[1] = 1  # type: ignore[assignment]
    count_include_pad: StrictBool = True


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
    keepdims: StrictBool = False

    def infer(self, ins):
        c, _, _ = need_image(self.op, ins[0])
        return (c, 1, 1) if self.keepdims else (c,)


@register
class Flatten(Op):
    """Flattens everything but the batch dimension, in NCHW order (C, then H, then W)."""

    op: Literal["flatten"] = "flatten"

    def infer(self, ins):
        return (math.prod(ins[0].shape),)


@register
class Linear(Op):
    """Fully connected layer on (N, F) input. Input features are inferred."""

    op: Literal["linear"] = "linear"
    features: PosInt = Field(description="output features")
    bias: StrictBool = True
    init: WeightInit = Field("default", description=_INIT_DOC)
    bias_init: BiasInit = "default"

    def infer(self, ins):
        x = ins[0]
        if len(x.shape) != 1:
            raise ShapeError(
                "AS506",
                f"linear expects (N, features) but input '{x.label}' is {fmt(x.shape)}",
                "add `- op: flatten` (or global_avgpool2d) before this node",
            )
        return (self.features,)

    def count_params(self, ins, out):
        return ins[0][0] * self.features + (self.features if self.bias else 0)

    def count_macs(self, ins, out):
        return ins[0][0] * self.features


@register
class Dropout(Op):
    """Zeroes elements with probability `p` in training, scaling the rest by 1 / (1 - p)."""

    op: Literal["dropout"] = "dropout"
    p: Prob = 0.5


@register
class LocalResponseNorm(Op):
    """x / (k + alpha / size * sum over `size` neighbouring channels of x^2) ^ beta (PyTorch's formula)."""

    op: Literal["local_response_norm"] = "local_response_norm"
    size: PosInt
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    def infer(self, ins):
        need_image(self.op, ins[0])
        return ins[0].shape


@register
class ZeroPad2d(Op):
    """Pads H and W with zeros: p, or [left, right, top, bottom]; negative values crop."""

    op: Literal["zero_pad2d"] = "zero_pad2d"
    padding: StrictInt | tuple[StrictInt, StrictInt, StrictInt, StrictInt]

    def infer(self, ins):
        c, h, w = need_image(self.op, ins[0])
        p = self.padding
        left, right, top, bottom = (p, p, p, p) if isinstance(p, int) else p
        out = (c, h + top + bottom, w + left + right)
        if min(out[1:]) <= 0:
            raise ShapeError(
                "AS503",
                f"zero_pad2d crops {fmt(ins[0].shape)} to {fmt(out)}",
                "negative padding crops; crop less than the input size",
            )
        return out


@register
class StochasticDepth(Op):
    """Drops the whole input per sample (mode row) or per batch (mode batch) with probability `p` in training."""

    op: Literal["stochastic_depth"] = "stochastic_depth"
    p: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(description="drop probability (1 - survival probability)")
    mode: Literal["row", "batch"] = "row"


def _shortcut_hint(main: Operand, short: Operand) -> str:
    a, b = short.shape, main.shape
    if len(a) != len(b):
        return f"'{short.label}' and '{main.label}' have different ranks; flatten or pool one of them first"
    if len(a) == 1:
        return f"project the shortcut: linear with {b[0]} features"
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
                    f"{self.op} operands differ: '{main.label}' is {fmt(main.shape)} "
                    f"but {word}'{o.label}' is {fmt(o.shape)}",
                    _shortcut_hint(main, o),
                )
        return main.shape


@register
class Multiply(Add):
    """Elementwise product. Shapes must be equal; with `broadcast: true`, a dimension of size 1
    in one operand stretches to the other's (same rank required, e.g. a (N, C, 1, 1) gate)."""

    op: Literal["multiply"] = "multiply"  # type: ignore[assignment]
    broadcast: StrictBool = False

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
            listed = ", ".join(f"'{o.label}' is {fmt(o.shape)}" for o in ins)
            raise ShapeError(
                "AS501",
                f"multiply operands do not broadcast: {listed}",
                "with broadcast, every dimension must be equal or 1 in one operand, at the same rank",
            )
        return out


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
    """Concatenation along `axis` (NCHW numbering; default 1, the channels)."""

    op: Literal["concat"] = "concat"
    arity: ClassVar[int | None] = None
    axis: StrictInt = 1

    def infer(self, ins):
        rank = len(ins[0].shape) + 1
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ShapeError(
                "AS507",
                f"concat axis {self.axis} is out of range for {fmt(ins[0].shape)}",
                f"use an axis from 1 to {rank - 1} (axis 0 is the batch)",
            )
        first = ins[0].shape
        bad = [o for o in ins if len(o.shape) != len(first) or _without(o.shape, axis) != _without(first, axis)]
        if bad:
            listed = ", ".join(f"'{o.label}' is {fmt(o.shape)}" for o in ins)
            raise ShapeError(
                "AS502",
                f"concat operands differ off axis {self.axis}: {listed}",
                f"all operands must agree in every dimension but axis {self.axis}; '{bad[0].label}' differs from "
                f"'{ins[0].label}' in {_dims_differing(ins[0].shape, bad[0].shape, axis)} — check the kernel, stride "
                "and padding on its path",
            )
        total = sum(o.shape[axis - 1] for o in ins)
        return first[: axis - 1] + (total,) + first[axis:]


def _dims_differing(a: Shape, b: Shape, axis: int) -> str:
    if len(a) != len(b):
        return "rank"
    names = ("C", "H", "W") if len(a) == 3 else tuple(f"dim {i + 1}" for i in range(len(a)))
    return ", ".join(n for i, (n, x, y) in enumerate(zip(names, a, b)) if x != y and i != axis - 1)


def _without(shape: Shape, axis: int) -> Shape:
    return shape[: axis - 1] + shape[axis:]


OpSpec = Annotated[Union[tuple(OPS.values())], Field(discriminator="op")]  # type: ignore[valid-type]  # noqa: UP007
