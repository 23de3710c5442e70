"""Per-op PyTorch emitters: the constructor of each op's module and its forward expression.

`MODULES[op](op, in_shape)` returns constructor source (or None when the op is a plain
expression in forward); `CALLS[op](op, module, args)` returns the forward expression.
"""

from __future__ import annotations

from collections.abc import Callable

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
    k = pair(op.kernel)
    return f"nn.Conv2d({_args(shape[0], op.channels, k[0] if k[0] == k[1] else k, **opts)})"


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
    return f"{cls}({_args(k[0] if k[0] == k[1] else k, **opts)})"


def maxpool2d(op, shape):
    return _pool("nn.MaxPool2d", op, dilation=("dilation", (1, 1)))


def avgpool2d(op, shape):
    return _pool("nn.AvgPool2d", op, count_include_pad=("count_include_pad", True))


def adaptive_avgpool2d(op, shape):
    s = pair(op.size)
    return f"nn.AdaptiveAvgPool2d({_lit(s) if s[0] != s[1] else s[0]})"


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
    "flatten": lambda op, s: None,
    "global_avgpool2d": lambda op, s: None,
    "add": lambda op, s: None,
    "multiply": lambda op, s: None,
    "concat": lambda op, s: None,
}


def _call(op, module, args):
    return f"{module}({args[0]})"


CALLS: dict[str, Callable[[Op, str, list[str]], str]] = {name: _call for name, m in MODULES.items()}
CALLS.update(
    {
        "flatten": lambda op, m, a: f"torch.flatten({a[0]}, 1)",
        "global_avgpool2d": lambda op, m, a: (
            f"{a[0]}.mean((2, 3), keepdim=True)" if op.keepdims else f"{a[0]}.mean((2, 3))"
        ),
        "add": lambda op, m, a: " + ".join(a),
        "multiply": lambda op, m, a: " * ".join(a),
        "concat": lambda op, m, a: f"torch.cat([{', '.join(a)}], {op.axis})",
    }
)

# Helpers emitted into the generated file only when an op needs them.
HELPERS = {
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
