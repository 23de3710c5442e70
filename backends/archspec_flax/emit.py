"""Per-op Flax (NNX) emitters, NHWC: `EMITTERS[op]` builds the op's layer (or None for a plain
expression) and its call, as syntax. Shapes given to emitters are the core's NCHW shapes.

Where a Flax layer computes differently from PyTorch (the team's torch/Flax semantics notes),
the generated file uses a helper that follows PyTorch's definition, so one spec means one function.
Adding an op to this backend is one entry here.
"""

from __future__ import annotations

import ast

from archspec.codegen import OpEmitter, Slot, call, const, index, join, method, scale, slice_part, template
from archspec.codegen.pysrc import NO_DEFAULT
from archspec.ops import pair, window_out

# NCHW axis (batch = 0) -> NHWC axis, for image tensors
_NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}

INITS = {
    "kaiming_normal_fan_out": "KAIMING_FAN_OUT",
    "kaiming_normal_fan_in": "KAIMING_FAN_IN",
    "normal": "NORMAL_001",
    "trunc_normal": "NORMAL_001",  # PyTorch truncates at +-2 absolute: at std 0.01 that is +-200 std
    "xavier_uniform": "XAVIER_UNIFORM",
    "zeros": "ZEROS",
    "default": "TORCH_DEFAULT_KERNEL",
}

EMITTERS: dict[str, OpEmitter] = {}
RNGS = ast.Name("rngs", ast.Load())


def axis(a: int, rank: int, layout: str = "CHW") -> int:
    """Where axis `a` (PyTorch's numbering, batch 0) of a tensor of `rank` axes is stored:
    images are NHWC, every other layout is stored as the spec orders it."""
    a = a % rank
    return _NHWC_AXIS[a] if rank == 4 and layout == "CHW" else a


def stored(rank: int, layout: str) -> list[int]:
    """The spec's axes in the order the array stores them."""
    return [0, 2, 3, 1] if rank == 4 and layout == "CHW" else list(range(rank))


def layout_of(shape) -> str:
    return getattr(shape, "layout", "CHW" if len(shape) == 3 else "")


def ch(value: int, hint: str) -> Slot:
    return Slot(value, hint, "channels")


def _bias_init(op, fan_in: int) -> ast.expr:
    if not isinstance(op.bias_init, str):
        return call("constant", Slot(float(op.bias_init), "bias_value"))
    if op.bias_init == "zeros" or op.init == "zeros":
        return template("ZEROS")
    return call("torch_default_bias", Slot(fan_in, "fan_in"))  # PyTorch's U(+-1/sqrt(fan_in))


def _init(op) -> ast.expr:
    return template(INITS[op.init])


def _layer(op_name: str, ctor, helpers: tuple[str, ...] = ()):
    EMITTERS[op_name] = OpEmitter(ctor, lambda op, m, a, s: ast.Call(m, [a[0]], []), helpers)


def _functional(op_name: str, fn, helpers: tuple[str, ...] = ()):
    EMITTERS[op_name] = OpEmitter(lambda op, s: None, lambda op, m, a, s: fn(op, a, s), helpers)


def square(v):
    """A per-axis size as Flax's convolutions take it: one int where both axes agree."""
    return v[0] if v[0] == v[1] else tuple(v)


def pads(p) -> object:
    """Explicit padding: an int or (h, w) where it is symmetric, else ((top, bottom), (left, right))."""
    (pt, pb), (pl, pr) = p
    return square((pt, pl)) if pt == pb and pl == pr else ((pt, pb), (pl, pr))


def _same(op, padding) -> bool:
    """Whether Flax's default padding ("SAME") pads as the spec does, at any input size: odd
    kernels with half-kernel padding at stride 1, and 1x1 kernels without padding."""
    k, s, d = pair(op.kernel), pair(op.stride), pair(op.dilation)
    if d != (1, 1) or k[0] % 2 == 0 or k[1] % 2 == 0:
        return False
    if k == (1, 1):
        return padding == ((0, 0), (0, 0))
    return s == (1, 1) and padding == (((k[0] - 1) // 2,) * 2, ((k[1] - 1) // 2,) * 2)


def _subsampled(op, shape) -> bool:
    """Whether a convolution runs at stride 1 and keeps every stride-th output (the same values): XLA's
    gradient of a strided convolution fails an internal check, ending the process, where it is also
    dilated or gives a single output along a strided axis."""
    stride = pair(op.stride)
    if stride == (1, 1):
        return False
    single = any(st > 1 and size == 1 for st, size in zip(stride, shape.out[-2:])) if len(shape.out) == 3 else False
    return pair(op.dilation) != (1, 1) or single


def _conv2d_call(op, m, a, s):
    out = ast.Call(m, [a[0]], [])
    if not _subsampled(op, s):
        return out
    sh, sw = pair(op.stride)
    return template(f"{{y}}[:, ::{sh}, ::{sw}]", y=out)


def conv2d(op, shape):
    kh, kw = pair(op.kernel)
    explicit = op._pads(shape)
    same = _same(op, explicit)
    stride = (1, 1) if _subsampled(op, shape) else pair(op.stride)
    kwargs = {
        "strides": Slot(square(stride), "strides", default=1),
        "padding": Slot(pads(explicit), "padding", default=pads(explicit) if same else NO_DEFAULT),
        "kernel_dilation": Slot(square(pair(op.dilation)), "kernel_dilation", default=1),
        "feature_group_count": Slot(op.groups, "feature_group_count", default=1),
        "use_bias": Slot(op.bias, "use_bias", default=True),
        "kernel_init": _init(op),
    }
    if op.bias:
        kwargs["bias_init"] = _bias_init(op, shape[0] // op.groups * kh * kw)
    return call(
        "nnx.Conv",
        ch(shape[0], "in_features"),
        ch(op.channels, "out_features"),
        Slot((kh, kw), "kernel_size"),
        **kwargs,
        rngs=RNGS,
    )


def conv_transpose2d(op, shape):
    k = pair(op.kernel)
    kwargs = {
        "strides": Slot(pair(op.stride), "strides"),
        "padding": Slot(pair(op.padding), "padding"),
        "output_padding": Slot(pair(op.output_padding), "output_padding"),
        "dilation": Slot(pair(op.dilation), "dilation", default=(1, 1)),
        "use_bias": Slot(op.bias, "use_bias", default=True),
        "kernel_init": _init(op),
    }
    if op.bias:  # PyTorch's fan_in of a transposed conv is out_channels * kh * kw
        kwargs["bias_init"] = _bias_init(op, op.channels * k[0] * k[1])
    return call(
        "ConvTranspose2d",
        ch(shape[0], "in_channels"),
        ch(op.channels, "out_channels"),
        Slot(k, "kernel_size"),
        **kwargs,
        rngs=RNGS,
    )


def linear(op, shape):
    kwargs = {"use_bias": Slot(op.bias, "use_bias", default=True), "kernel_init": _init(op)}
    if op.bias:
        kwargs["bias_init"] = _bias_init(op, shape[-1])
    return call("nnx.Linear", ch(shape[-1], "in_features"), ch(op.features, "out_features"), **kwargs, rngs=RNGS)


def batchnorm2d(op, shape):
    kwargs = {
        "momentum": Slot(op.momentum, "momentum", default=0.1),
        "epsilon": Slot(op.eps, "epsilon", default=1e-5),
        "affine": Slot(op.affine, "affine", default=True),
    }
    if op.init == "zeros":
        kwargs["zero_scale"] = const(True)
    return call("BatchNorm2d", ch(shape[0], "num_features"), **kwargs)


EMITTERS["conv2d"] = OpEmitter(conv2d, _conv2d_call)
_layer("linear", linear)
_layer("batchnorm2d", batchnorm2d, ("BatchNorm2d",))
_layer("conv_transpose2d", conv_transpose2d, ("ConvTranspose2d",))
_layer("dropout", lambda op, s: call("nnx.Dropout", Slot(op.p, "rate"), rngs=RNGS))
_layer(
    "stochastic_depth",
    lambda op, s: call("StochasticDepth", Slot(op.p, "p"), const(op.mode), rngs=RNGS),
    ("StochasticDepth",),
)


def _pool_pads(op, shape, ceil: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """Explicit (lo, hi) pads; with ceil_mode, extra right padding that the divisor ignores."""
    k, s, p = pair(op.kernel), pair(op.stride if op.stride is not None else op.kernel), pair(op.padding)
    d = pair(getattr(op, "dilation", 1))
    out = []
    for i in range(2):
        size = shape[i + 1]
        n = window_out(op.op, "size", size, k[i], s[i], p[i], p[i], d[i], ceil)
        need = (n - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (size + 2 * p[i])
        out.append((p[i], p[i] + max(0, need)))
    return tuple(out)  # type: ignore[return-value]


def _maxpool(op, a, shape):
    args = [
        a[0],
        Slot(pair(op.kernel), "kernel"),
        Slot(pair(op.stride or op.kernel), "stride"),
        Slot(_pool_pads(op, shape, op.ceil_mode), "pads"),
    ]
    if pair(op.dilation) == (1, 1):
        return call("max_pool2d", *args)
    return call("dilated_max_pool2d", *args, Slot(pair(op.dilation), "dilation"))


def _avgpool(op, a, shape):
    return call(
        "avg_pool2d",
        a[0],
        Slot(pair(op.kernel), "kernel"),
        Slot(pair(op.stride or op.kernel), "stride"),
        Slot(_pool_pads(op, shape, op.ceil_mode), "pads"),
        padding=Slot(pair(op.padding), "padding"),
        count_include_pad=Slot(op.count_include_pad, "count_include_pad"),
    )


def _flatten(op, a, shape):
    x = a[0]
    if layout_of(shape) == "CHW" and len(shape) == 3:  # PyTorch's order: C, then H, then W
        if op.start == 1 and op.end in (-1, 3):
            return template("{x}.transpose(0, 3, 1, 2).reshape({x}.shape[0], -1)", x=x)
        x = template("{x}.transpose(0, 3, 1, 2)", x=x)
    rank = len(shape) + 1
    start, end = op.start % rank, op.end % rank
    if start == 1 and end == rank - 1:
        return template("{x}.reshape({x}.shape[0], -1)", x=x)
    args = [Slot(start, "start")] if end == rank - 1 else [Slot(start, "start"), Slot(end + 1, "stop")]
    return call("jax.lax.collapse", x, *args)


def _padding(op):
    p = op.padding
    return (p, p, p, p) if isinstance(p, int) else tuple(p)


_functional("relu", lambda op, a, s: call("nnx.relu", a[0]))
_functional("sigmoid", lambda op, a, s: call("nnx.sigmoid", a[0]))
_functional("tanh", lambda op, a, s: call("jnp.tanh", a[0]))
_functional("silu", lambda op, a, s: call("nnx.silu", a[0]))
_functional("identity", lambda op, a, s: a[0])
_functional("gelu", lambda op, a, s: call("nnx.gelu", a[0], approximate=const(op.approximate == "tanh")))
_functional(
    "softmax",
    lambda op, a, s: call("nnx.softmax", a[0], axis=Slot(axis(op.axis, len(s) + 1, layout_of(s)), "axis")),
)
_functional(
    "maxpool2d", _maxpool, lambda op: ("max_pool2d",) if pair(op.dilation) == (1, 1) else ("dilated_max_pool2d",)
)
_functional("avgpool2d", _avgpool, ("avg_pool2d",))
_functional(
    "adaptive_avgpool2d",
    lambda op, a, s: call("adaptive_avg_pool2d", a[0], Slot(pair(op.size), "size")),
    ("adaptive_avg_pool2d",),
)
_functional(
    "global_avgpool2d",
    lambda op, a, s: template("{x}.mean((1, 2), keepdims=True)" if op.keepdims else "{x}.mean((1, 2))", x=a[0]),
)
_functional("flatten", _flatten)
_functional(
    "local_response_norm",
    lambda op, a, s: call(
        "local_response_norm",
        a[0],
        Slot(op.size, "size"),
        Slot(op.alpha, "alpha"),
        Slot(op.beta, "beta"),
        Slot(op.k, "k"),
    ),
    ("local_response_norm",),
)
_functional("zero_pad2d", lambda op, a, s: call("zero_pad2d", a[0], Slot(_padding(op), "padding")), ("zero_pad2d",))
_functional("upsample", lambda op, a, s: call("upsample", a[0], Slot(op.scale, "scale"), const(op.mode)), ("upsample",))
_functional(
    "pad_channels",
    lambda op, a, s: call(
        "jnp.pad",
        a[0],
        ast.Tuple([const((0, 0)), const((0, 0)), const((0, 0)), Slot(tuple(op.split(s[0])), "pad")], ast.Load()),
    ),
)
_functional(
    "subsample2d",
    lambda op, a, s: template(
        "{x}[:, :: {h}, :: {w}]", x=a[0], h=Slot(pair(op.stride)[0], "stride"), w=Slot(pair(op.stride)[1], "stride")
    ),
)
_functional("center_crop", lambda op, a, s: call("center_crop", a[0], a[1]), ("center_crop",))
_functional("scale", lambda op, a, s: scale(op, a[0]))
_functional("add", lambda op, a, s: join(ast.Add(), a))
_functional("multiply", lambda op, a, s: join(ast.Mult(), a))
_functional(
    "concat",
    lambda op, a, s: call(
        "jnp.concatenate", ast.List(a, ast.Load()), axis=Slot(axis(op.axis, len(s) + 1, layout_of(s)), "axis")
    ),
)


# --- any rank ----------------------------------------------------------------------------------


def _logical(op_name: str, fn, helpers: tuple[str, ...] = ()):
    """An expression on tensors in the spec's axis order (the lowering converts images around it)."""
    EMITTERS[op_name] = OpEmitter(lambda op, s: None, lambda op, m, a, s: fn(op, a, s), helpers, logical=True)


def _reorder(op, a, s):
    """permute / transpose where they are stored: CHW -> HWC is free for an NHWC image."""
    rank = len(s) + 1
    order = [0, *op._order(_operand(s))]
    src, dst = stored(rank, layout_of(s)), stored(rank, getattr(s, "out_layout", ""))
    perm = [src.index(order[i]) for i in dst]
    return a[0] if perm == list(range(rank)) else method("transpose", a[0], *(Slot(p, "axis") for p in perm))


def _operand(s):
    from archspec.ops import Operand

    return Operand("x", tuple(s), 0, layout_of(s))


def _slice(op, a, s):
    rank = len(s) + 1
    return index(a[0], axis(op.axis, rank, layout_of(s)), slice_part(op, s[op.axis % rank - 1]))


def _parameter_init(op) -> ast.expr:
    if op.init == "zeros":
        return template("ZEROS")
    if isinstance(op.init, str):  # PyTorch's trunc_normal_ cuts at +-2 absolute: at std 0.02 that is +-100 std
        return call("normal", Slot(op.std, "std"))
    return call("constant", Slot(float(op.init), "value"))


def _parameter(op, m, a, s):
    value = template("{p}[...]", p=m) if op.batch else template("{p}[None]", p=m)
    rank = len(op.shape) + (0 if op.batch else 1)
    perm = stored(rank, getattr(s, "out_layout", ""))
    if perm != list(range(rank)):  # an image-shaped tensor (a layer scale (C, 1, 1)) is stored NHWC
        value = method("transpose", value, *(Slot(p, "axis") for p in perm))
    return call("expand_batch", value, template("{x}.shape[0]", x=a[0]))


_PARAMETER_INIT_HELPERS = {"zeros": ("ZEROS",), "normal": ("normal",), "trunc_normal": ("normal",)}
EMITTERS["parameter"] = OpEmitter(
    lambda op, s: call(
        "nnx.Param", call(_parameter_init(op), template("rngs.params()"), Slot(tuple(op.shape), "shape"))
    ),
    _parameter,
    lambda op: ("expand_batch", *_PARAMETER_INIT_HELPERS.get(op.init, ())),
)
_functional("relu6", lambda op, a, s: call("nnx.relu6", a[0]))
_functional("hardsigmoid", lambda op, a, s: call("nnx.hard_sigmoid", a[0]))
_functional("hardswish", lambda op, a, s: call("nnx.hard_swish", a[0]))
_functional("mish", lambda op, a, s: call("jax.nn.mish", a[0]))
_functional("permute", _reorder)
_functional("transpose", _reorder)
_logical(
    "reshape",
    lambda op, a, s: method("reshape", a[0], const(-1), *(Slot(d, "size") for d in getattr(s, "out", op.shape))),
)
_functional("slice", _slice)
_logical("select", lambda op, a, s: index(a[0], op.axis % (len(s) + 1), Slot(op.at, "index")))
_logical(
    "roll",
    lambda op, a, s: call("jnp.roll", a[0], Slot(tuple(op.shifts), "shifts"), axis=Slot(tuple(op.axes), "axis")),
)
_functional(
    "channel_shuffle", lambda op, a, s: call("channel_shuffle", a[0], Slot(op.groups, "groups")), ("channel_shuffle",)
)
_logical("matmul", lambda op, a, s: ast.BinOp(a[0], ast.MatMult(), a[1]))
_layer(
    "layer_norm",
    lambda op, s: call(
        "nnx.LayerNorm",
        ch(op.features(s), "num_features"),
        epsilon=Slot(op.eps, "epsilon", default=1e-6),  # Flax's default; PyTorch's is 1e-5
        use_bias=Slot(op.affine, "use_bias", default=True),
        use_scale=Slot(op.affine, "use_scale", default=True),
        use_fast_variance=const(False),  # PyTorch's two-pass variance
        rngs=RNGS,
    ),
)
_layer(
    "multihead_attention",
    lambda op, s: call(
        "MultiheadAttention",
        ch(s[-1], "embed_dim"),
        Slot(op.heads, "num_heads"),
        dropout=Slot(op.dropout, "dropout", default=0.0),
        bias=Slot(op.bias, "bias", default=True),
        rngs=RNGS,
    ),
    ("MultiheadAttention",),
)
_layer(
    "window_attention",
    lambda op, s: call(
        "ShiftedWindowAttention",
        ch(s[-1], "dim"),
        Slot(pair(op.window), "window_size"),
        Slot(pair(op.shift), "shift_size"),
        Slot(op.heads, "num_heads"),
        qkv_bias=Slot(op.qkv_bias, "qkv_bias", default=True),
        proj_bias=Slot(op.proj_bias, "proj_bias", default=True),
        attention_dropout=Slot(op.attention_dropout, "attention_dropout", default=0.0),
        dropout=Slot(op.dropout, "dropout", default=0.0),
        rngs=RNGS,
    ),
    ("ShiftedWindowAttention", "normal"),
)
