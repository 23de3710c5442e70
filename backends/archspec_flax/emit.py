"""Per-op Flax (NNX) emitters, NHWC. Shapes given to emitters are the core's NCHW shapes.

Where a Flax layer computes differently from PyTorch (../shared/reference/torch_flax_semantics.md),
the generated file uses a helper that follows PyTorch's definition, so one spec means one function.
"""

from __future__ import annotations

from collections.abc import Callable

from archspec.codegen import scale_expr
from archspec.ops import OPS, Op, pair, window_out

# NCHW axis (batch = 0) -> NHWC axis, for image tensors
_NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}

INITS = {
    "kaiming_normal_fan_out": "KAIMING_NORMAL_FAN_OUT",
    "kaiming_normal_fan_in": "KAIMING_NORMAL_FAN_IN",
    "normal": "NORMAL_001",
    "trunc_normal": "NORMAL_001",  # PyTorch truncates at +-2 absolute: at std 0.01 that is +-200 std
    "xavier_uniform": "XAVIER_UNIFORM",
    "zeros": "nnx.initializers.zeros",
    "default": "TORCH_DEFAULT_KERNEL",
}


def axis(a: int, rank: int) -> int:
    a = a % rank
    return _NHWC_AXIS[a] if rank == 4 else a


def _tuple(p) -> str:
    return repr(tuple(p))


def _bias_init(op, fan_in: int) -> str:
    if not isinstance(op.bias_init, str):
        return f"nnx.initializers.constant({float(op.bias_init)!r})"
    if op.bias_init == "zeros" or op.init == "zeros":
        return "nnx.initializers.zeros"
    return f"torch_default_bias({fan_in})"  # PyTorch's U(+-1/sqrt(fan_in))


def conv2d(op, shape):
    (pt, pb), (pl, pr) = op._pads(shape)
    kh, kw = pair(op.kernel)
    args = [f"{shape[0]}", f"{op.channels}", _tuple((kh, kw))]
    kw_ = [f"strides={_tuple(pair(op.stride))}", f"padding={((pt, pb), (pl, pr))!r}"]
    if pair(op.dilation) != (1, 1):
        kw_.append(f"kernel_dilation={_tuple(pair(op.dilation))}")
    if op.groups != 1:
        kw_.append(f"feature_group_count={op.groups}")
    if not op.bias:
        kw_.append("use_bias=False")
    kw_.append(f"kernel_init={INITS[op.init]}")
    if op.bias:
        kw_.append(f"bias_init={_bias_init(op, shape[0] // op.groups * kh * kw)}")
    return f"nnx.Conv({', '.join(args + kw_)}, rngs=rngs)"


def conv_transpose2d(op, shape):
    k = pair(op.kernel)
    kw_ = [
        f"strides={_tuple(pair(op.stride))}",
        f"padding={_tuple(pair(op.padding))}",
        f"output_padding={_tuple(pair(op.output_padding))}",
    ]
    if pair(op.dilation) != (1, 1):
        kw_.append(f"dilation={_tuple(pair(op.dilation))}")
    if not op.bias:
        kw_.append("use_bias=False")
    kw_.append(f"kernel_init={INITS[op.init]}")
    if op.bias:  # PyTorch's fan_in of a transposed conv is out_channels * kh * kw
        kw_.append(f"bias_init={_bias_init(op, op.channels * k[0] * k[1])}")
    return f"ConvTranspose2d({shape[0]}, {op.channels}, {_tuple(k)}, {', '.join(kw_)}, rngs=rngs)"


def linear(op, shape):
    kw_ = [] if op.bias else ["use_bias=False"]
    kw_.append(f"kernel_init={INITS[op.init]}")
    if op.bias:
        kw_.append(f"bias_init={_bias_init(op, shape[0])}")
    return f"nnx.Linear({shape[0]}, {op.features}, {', '.join(kw_)}, rngs=rngs)"


def batchnorm2d(op, shape):
    kw_ = []
    if op.momentum != 0.1:
        kw_.append(f"momentum={op.momentum!r}")
    if op.eps != 1e-5:
        kw_.append(f"epsilon={op.eps!r}")
    if not op.affine:
        kw_.append("affine=False")
    if op.init == "zeros":
        kw_.append("zero_scale=True")
    return f"BatchNorm2d({', '.join([str(shape[0]), *kw_])})"


MODULES: dict[str, Callable[[Op, tuple], str | None]] = {name: (lambda op, s: None) for name in OPS}
MODULES.update(
    {
        "conv2d": conv2d,
        "linear": linear,
        "batchnorm2d": batchnorm2d,
        "conv_transpose2d": conv_transpose2d,
        "dropout": lambda op, s: f"nnx.Dropout({op.p!r}, rngs=rngs)",
        "stochastic_depth": lambda op, s: f"StochasticDepth({op.p!r}, {op.mode!r}, rngs=rngs)",
    }
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


def _maxpool(op, m, a, shape):
    pads = _pool_pads(op, shape, op.ceil_mode)
    d = pair(op.dilation)
    return (
        f"max_pool2d({a[0]}, {_tuple(pair(op.kernel))}, {_tuple(pair(op.stride or op.kernel))}, {pads!r}"
        + (f", dilation={_tuple(d)}" if d != (1, 1) else "")
        + ")"
    )


def _avgpool(op, m, a, shape):
    pads = _pool_pads(op, shape, op.ceil_mode)
    return (
        f"avg_pool2d({a[0]}, {_tuple(pair(op.kernel))}, {_tuple(pair(op.stride or op.kernel))}, {pads!r}, "
        f"padding={_tuple(pair(op.padding))}, count_include_pad={op.count_include_pad})"
    )


def _flatten(op, m, a, shape):
    if len(shape) == 3:  # PyTorch's order: C, then H, then W
        return f"{a[0]}.transpose(0, 3, 1, 2).reshape({a[0]}.shape[0], -1)"
    return f"{a[0]}.reshape({a[0]}.shape[0], -1)"


def _padding(op):
    p = op.padding
    return (p, p, p, p) if isinstance(p, int) else tuple(p)


# call(op, module, args, input NCHW shape) -> expression
CALLS: dict[str, Callable] = {
    "conv2d": lambda op, m, a, s: f"{m}({a[0]})",
    "linear": lambda op, m, a, s: f"{m}({a[0]})",
    "batchnorm2d": lambda op, m, a, s: f"{m}({a[0]})",
    "dropout": lambda op, m, a, s: f"{m}({a[0]})",
    "stochastic_depth": lambda op, m, a, s: f"{m}({a[0]})",
    "relu": lambda op, m, a, s: f"nnx.relu({a[0]})",
    "sigmoid": lambda op, m, a, s: f"nnx.sigmoid({a[0]})",
    "tanh": lambda op, m, a, s: f"jnp.tanh({a[0]})",
    "silu": lambda op, m, a, s: f"nnx.silu({a[0]})",
    "identity": lambda op, m, a, s: a[0],
    "gelu": lambda op, m, a, s: f"nnx.gelu({a[0]}, approximate={op.approximate == 'tanh'})",
    "softmax": lambda op, m, a, s: f"nnx.softmax({a[0]}, axis={axis(op.axis, len(s) + 1)})",
    "maxpool2d": _maxpool,
    "avgpool2d": _avgpool,
    "adaptive_avgpool2d": lambda op, m, a, s: f"adaptive_avg_pool2d({a[0]}, {_tuple(pair(op.size))})",
    "global_avgpool2d": lambda op, m, a, s: f"{a[0]}.mean((1, 2){', keepdims=True' if op.keepdims else ''})",
    "flatten": _flatten,
    "local_response_norm": lambda op, m, a, s: (
        f"local_response_norm({a[0]}, {op.size}, {op.alpha!r}, {op.beta!r}, {op.k!r})"
    ),
    "zero_pad2d": lambda op, m, a, s: f"zero_pad2d({a[0]}, {_padding(op)!r})",
    "conv_transpose2d": lambda op, m, a, s: f"{m}({a[0]})",
    "upsample": lambda op, m, a, s: f"upsample({a[0]}, {op.scale}, {op.mode!r})",
    "pad_channels": lambda op, m, a, s: f"jnp.pad({a[0]}, ((0, 0), (0, 0), (0, 0), {op.split(s[0])!r}))",
    "subsample2d": lambda op, m, a, s: "{}[:, ::{}, ::{}]".format(a[0], *pair(op.stride)),
    "center_crop": lambda op, m, a, s: f"center_crop({a[0]}, {a[1]})",
    "scale": lambda op, m, a, s: scale_expr(op, a[0]),
    "add": lambda op, m, a, s: " + ".join(a),
    "multiply": lambda op, m, a, s: " * ".join(a),
    "concat": lambda op, m, a, s: f"jnp.concatenate([{', '.join(a)}], axis={axis(op.axis, len(s) + 1)})",
}

# helper source -> the ops that need it
HELPER_USES = {
    "max_pool2d": {"maxpool2d"},
    "avg_pool2d": {"avgpool2d"},
    "adaptive_avg_pool2d": {"adaptive_avgpool2d"},
    "local_response_norm": {"local_response_norm"},
    "zero_pad2d": {"zero_pad2d"},
    "BatchNorm2d": {"batchnorm2d"},
    "StochasticDepth": {"stochastic_depth"},
    "ConvTranspose2d": {"conv_transpose2d"},
    "upsample": {"upsample"},
    "center_crop": {"center_crop"},
}

assert set(CALLS) == set(OPS), "every registered op needs a Flax emitter"
