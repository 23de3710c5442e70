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
BiasInit = Union[Literal["default", "zeros"], float]
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
    eps: Annotated[float, Field(gt=0)] = Field(1e-5, description="added to the variance before the square root")
    momentum: Annotated[float, Field(ge=0, le=1)] = Field(
        0.1, description="running-statistics update rate (PyTorch's convention)"
    )
    affine: StrictBool = Field(True, description="learn a scale and shift per channel")
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
    """Flattens everything but the batch dimension, in NCHW order (C, then H, then W)."""

    op: Literal["flatten"] = "flatten"

    def infer(self, ins):
        return (math.prod(ins[0].shape),)


@register
class Linear(Op):
    """Fully connected layer on (N, F) input. Input features are inferred."""

    op: Literal["linear"] = "linear"
    features: PosInt = Field(description="output features")
    bias: StrictBool = Field(True, description="add a learned bias")
    init: WeightInit = Field("default", description=_INIT_DOC)
    bias_init: BiasInit = Field("default", description=_BIAS_INIT_DOC)

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
    p: Prob = Field(0.5, description="probability of zeroing an element in training")


@register
class LocalResponseNorm(Op):
    """x / (k + alpha / size * sum over `size` neighbouring channels of x^2) ^ beta (PyTorch's formula)."""

    op: Literal["local_response_norm"] = "local_response_norm"
    size: PosInt = Field(description="number of neighbouring channels summed over")
    alpha: float = Field(1e-4, description="multiplicative factor")
    beta: float = Field(0.75, description="exponent")
    k: float = Field(1.0, description="additive constant")

    def infer(self, ins):
        need_image(self.op, ins[0])
        return ins[0].shape


@register
class ZeroPad2d(Op):
    """Pads H and W with zeros: p, or [left, right, top, bottom]; negative values crop."""

    op: Literal["zero_pad2d"] = "zero_pad2d"
    padding: StrictInt | tuple[StrictInt, StrictInt, StrictInt, StrictInt] = Field(
        description="p on every side, or [left, right, top, bottom]; negative values crop"
    )

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
    factor: float = Field(1.0, description="multiplies the input")
    offset: float = Field(0.0, description="added after the multiplication")


@register
class StochasticDepth(Op):
    """Drops the whole input per sample (mode row) or per batch (mode batch) with probability `p` in training."""

    op: Literal["stochastic_depth"] = "stochastic_depth"
    p: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(description="drop probability (1 - survival probability)")
    mode: Literal["row", "batch"] = Field("row", description="drop per sample (row) or the whole batch at once (batch)")


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
    axis: StrictInt = Field(
        1, description="the axis to join along, NCHW numbering (1: channels); negative counts from the end"
    )

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
                _rounding_hint(ins[0], bad[0], axis)
                or f"all operands must agree in every dimension but axis {self.axis}; '{bad[0].label}' differs from "
                f"'{ins[0].label}' in {_dims_differing(ins[0].shape, bad[0].shape, axis)} — check the kernel, stride "
                "and padding on its path",
            )
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


OpSpec = Annotated[Union[tuple(OPS.values())], Field(discriminator="op")]  # type: ignore[valid-type]  # noqa: UP007
