"""Per-op PyTorch emitters: the constructor of each op's module and its forward expression.

`MODULES[op](op, in_shape)` returns constructor source (or None when the op is a plain
expression in forward); `CALLS[op](op, module, args, in_shape)` returns the forward expression.
"""

from __future__ import annotations

from collections.abc import Callable

from archspec.codegen import scale_expr
from archspec.ops import OPS, Op, pair


def _kw(**kwargs) -> str:
    return ", ".join(f"{k}={_lit(v)}" for k, v in kwargs.items())


def _lit(v) -> str:
    if isinstance(v, tuple) and len(v) == 2 and v[0] == v[1]:
        return repr(v[0])
    return repr(v)


def _opt(op: Op, **defaults) -> dict:
    """The fields of `op` that differ from the given PyTorch defaults."""
    out = {}
    for torch_name, (field, default) in defaults.items():
        value = getattr(op, field)
        value = tuple(value) if isinstance(value, (list, tuple)) else value
        if value != default and not (isinstance(value, int) and (value, value) == default):
            out[torch_name] = value
    return out


def _args(*positional, **kwargs) -> str:
    return ", ".join([*(repr(p) for p in positional), *([_kw(**kwargs)] if kwargs else [])])


def _size(v):
    """A size as PyTorch's constructors take it: k for a square, (h, w) otherwise."""
    p = pair(v)
    return p[0] if p[0] == p[1] else p


def conv2d(op, shape):
    opts = _opt(
        op,
        stride=("stride", (1, 1)),
        padding=("padding", (0, 0)),
        dilation=("dilation", (1, 1)),
        groups=("groups", 1),
        bias=("bias", True),
    )
    if op.padding == "valid":
        opts.pop("padding", None)
    return f"nn.Conv2d({_args(shape[0], op.channels, _size(op.kernel), **opts)})"


def conv_transpose2d(op, shape):
    opts = _opt(
        op,
        stride=("stride", (1, 1)),
        padding=("padding", (0, 0)),
        output_padding=("output_padding", (0, 0)),
        dilation=("dilation", (1, 1)),
        bias=("bias", True),
    )
    return f"nn.ConvTranspose2d({_args(shape[0], op.channels, _size(op.kernel), **opts)})"


def _subsample(op, x: str) -> str:
    s = pair(op.stride)
    return f"{x}[:, :, ::{s[0]}, ::{s[1]}]"


def batchnorm2d(op, shape):
    opts = _opt(op, eps=("eps", 1e-5), momentum=("momentum", 0.1), affine=("affine", True))
    return f"nn.BatchNorm2d({_args(shape[0], **opts)})"


def linear(op, shape):
    return f"nn.Linear({_args(shape[0], op.features, **_opt(op, bias=('bias', True)))})"


def _pool(cls: str, op, **defaults) -> str:
    opts = _opt(op, padding=("padding", (0, 0)), ceil_mode=("ceil_mode", False), **defaults)
    k = pair(op.kernel)
    stride = pair(op.stride) if op.stride is not None else k
    if stride != k:
        opts = {"stride": stride, **opts}
    return f"{cls}({_args(_size(op.kernel), **opts)})"


def maxpool2d(op, shape):
    return _pool("nn.MaxPool2d", op, dilation=("dilation", (1, 1)))


def avgpool2d(op, shape):
    return _pool("nn.AvgPool2d", op, count_include_pad=("count_include_pad", True))


def adaptive_avgpool2d(op, shape):
    return f"nn.AdaptiveAvgPool2d({_size(op.size)!r})"


MODULES: dict[str, Callable[[Op, tuple], str | None]] = {
    "conv2d": conv2d,
    "batchnorm2d": batchnorm2d,
    "linear": linear,
    "maxpool2d": maxpool2d,
    "avgpool2d": avgpool2d,
    "adaptive_avgpool2d": adaptive_avgpool2d,
    "relu": lambda op, s: "nn.ReLU()",
    "sigmoid": lambda op, s: "nn.Sigmoid()",
    "tanh": lambda op, s: "nn.Tanh()",
    "silu": lambda op, s: "nn.SiLU()",
    "identity": lambda op, s: "nn.Identity()",
    "gelu": lambda op, s: "nn.GELU()" if op.approximate == "none" else 'nn.GELU(approximate="tanh")',
    "softmax": lambda op, s: f"nn.Softmax(dim={op.axis})",
    "dropout": lambda op, s: f"nn.Dropout({op.p!r})",
    "local_response_norm": lambda op, s: (
        f"nn.LocalResponseNorm({_args(op.size, **_opt(op, alpha=('alpha', 1e-4), beta=('beta', 0.75), k=('k', 1.0)))})"
    ),
    "zero_pad2d": lambda op, s: f"nn.ZeroPad2d({_lit(op.padding) if isinstance(op.padding, int) else op.padding!r})",
    "stochastic_depth": lambda op, s: f"StochasticDepth({op.p!r}, {op.mode!r})",
    "conv_transpose2d": conv_transpose2d,
    "upsample": lambda op, s: (
        f"nn.Upsample(scale_factor={op.scale})"
        if op.mode == "nearest"
        else f'nn.Upsample(scale_factor={op.scale}, mode="bilinear")'
    ),
    "pad_channels": lambda op, s: None,
    "subsample2d": lambda op, s: None,
    "center_crop": lambda op, s: None,
    "scale": lambda op, s: None,
    "flatten": lambda op, s: None,
    "global_avgpool2d": lambda op, s: None,
    "add": lambda op, s: None,
    "multiply": lambda op, s: None,
    "concat": lambda op, s: None,
}


def _call(op, module, args, shape):
    return f"{module}({args[0]})"


CALLS: dict[str, Callable[[Op, str, list[str], tuple], str]] = {name: _call for name, m in MODULES.items()}
CALLS.update(
    {
        "flatten": lambda op, m, a, s: f"torch.flatten({a[0]}, 1)",
        "global_avgpool2d": lambda op, m, a, s: (
            f"{a[0]}.mean((2, 3), keepdim=True)" if op.keepdims else f"{a[0]}.mean((2, 3))"
        ),
        "add": lambda op, m, a, s: " + ".join(a),
        "multiply": lambda op, m, a, s: " * ".join(a),
        "concat": lambda op, m, a, s: f"torch.cat([{', '.join(a)}], {op.axis})",
        "pad_channels": lambda op, m, a, s: (
            f"nn.functional.pad({a[0]}, (0, 0, 0, 0, {', '.join(map(str, op.split(s[0])))}))"
        ),
        "subsample2d": lambda op, m, a, s: _subsample(op, a[0]),
        "center_crop": lambda op, m, a, s: f"center_crop({a[0]}, {a[1]})",
        "scale": lambda op, m, a, s: scale_expr(op, a[0]),
    }
)

# Helpers emitted into the generated file only when an op needs them.
HELPERS = {
    "center_crop": '''

def center_crop(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Crops x's height and width, centred, to like's; an odd excess is left at the bottom/right."""
    top, left = (x.shape[2] - like.shape[2]) // 2, (x.shape[3] - like.shape[3]) // 2
    return x[:, :, top : top + like.shape[2], left : left + like.shape[3]]
''',
    "stochastic_depth": '''

class StochasticDepth(nn.Module):
    """Drops the whole input with probability p in training, per sample (row) or per batch (batch);
    survivors are scaled by 1 / (1 - p), like torchvision.ops.StochasticDepth."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        keep = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep.div_(1.0 - self.p)
''',
}

assert set(MODULES) == set(OPS), "every registered op needs a PyTorch emitter"
