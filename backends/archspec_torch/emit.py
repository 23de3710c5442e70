"""Per-op PyTorch emitters: `EMITTERS[op]` builds the op's layer (or None for a plain expression)
and its call, as syntax. Spec values enter only as `Slot`s, so blocks that differ in them share a
class. Adding an op to this backend is one entry here."""

from __future__ import annotations

import ast

from archspec.codegen import OpEmitter, Slot, call, const, join, scale, template
from archspec.ops import pair

EMITTERS: dict[str, OpEmitter] = {}


def emitter(op: str, helpers: tuple[str, ...] = ()):
    def register(pair_):
        module, call_ = pair_
        EMITTERS[op] = OpEmitter(module, call_, helpers)
        return pair_

    return register


def size(v):
    """A size as PyTorch's constructors take it: k for a square, (h, w) otherwise."""
    p = pair(v)
    return p[0] if p[0] == p[1] else p


def ch(value: int, hint: str) -> Slot:
    return Slot(value, hint, "channels")


def opt(value, hint: str, default) -> Slot:
    """A keyword argument that is left out where every instance has PyTorch's default."""
    return Slot(value, hint, default=default)


def layer(x: ast.expr | None, args: list[ast.expr]) -> ast.expr:
    """Calling the op's own layer: `self.conv1(x)`."""
    return ast.Call(x, args[:1], []) if x is not None else args[0]


def _module_call(module, args, _shape=None):
    return ast.Call(module, [args[0]], [])


def _simple(op_name: str, ctor):
    EMITTERS[op_name] = OpEmitter(lambda op, s: ctor(op, s), lambda op, m, a, s: _module_call(m, a))


def _conv(op, s):
    padding = 0 if op.padding == "valid" else op.padding if isinstance(op.padding, str) else size(op.padding)
    return call(
        "nn.Conv2d",
        ch(s[0], "in_channels"),
        ch(op.channels, "out_channels"),
        Slot(size(op.kernel), "kernel_size"),
        stride=opt(size(op.stride), "stride", 1),
        padding=opt(padding, "padding", 0),
        dilation=opt(size(op.dilation), "dilation", 1),
        groups=opt(op.groups, "groups", 1),
        bias=opt(op.bias, "bias", True),
    )


def _conv_t(op, s):
    return call(
        "nn.ConvTranspose2d",
        ch(s[0], "in_channels"),
        ch(op.channels, "out_channels"),
        Slot(size(op.kernel), "kernel_size"),
        stride=opt(size(op.stride), "stride", 1),
        padding=opt(size(op.padding), "padding", 0),
        output_padding=opt(size(op.output_padding), "output_padding", 0),
        dilation=opt(size(op.dilation), "dilation", 1),
        bias=opt(op.bias, "bias", True),
    )


def _pool(cls: str, op, **extra):
    k = size(op.kernel)
    stride = size(op.stride) if op.stride is not None else k
    return call(
        cls,
        Slot(k, "kernel_size"),
        stride=opt(stride, "stride", k),
        padding=opt(size(op.padding), "padding", 0),
        **extra,
        ceil_mode=opt(op.ceil_mode, "ceil_mode", False),
    )


_simple("conv2d", _conv)
_simple("conv_transpose2d", _conv_t)
_simple(
    "batchnorm2d",
    lambda op, s: call(
        "nn.BatchNorm2d",
        ch(s[0], "num_features"),
        eps=opt(op.eps, "eps", 1e-5),
        momentum=opt(op.momentum, "momentum", 0.1),
        affine=opt(op.affine, "affine", True),
    ),
)
_simple(
    "linear",
    lambda op, s: call(
        "nn.Linear", ch(s[0], "in_features"), ch(op.features, "out_features"), bias=opt(op.bias, "bias", True)
    ),
)
_simple("maxpool2d", lambda op, s: _pool("nn.MaxPool2d", op, dilation=opt(size(op.dilation), "dilation", 1)))
_simple(
    "avgpool2d",
    lambda op, s: _pool("nn.AvgPool2d", op, count_include_pad=opt(op.count_include_pad, "count_include_pad", True)),
)
_simple("adaptive_avgpool2d", lambda op, s: call("nn.AdaptiveAvgPool2d", Slot(size(op.size), "output_size")))
_simple("relu", lambda op, s: call("nn.ReLU"))  # inplace=True is added by the lowering where it is safe
_simple("sigmoid", lambda op, s: call("nn.Sigmoid"))
_simple("tanh", lambda op, s: call("nn.Tanh"))
_simple("silu", lambda op, s: call("nn.SiLU"))
_simple("identity", lambda op, s: call("nn.Identity"))
_simple(
    "gelu", lambda op, s: call("nn.GELU", approximate=const("tanh")) if op.approximate == "tanh" else call("nn.GELU")
)
_simple("softmax", lambda op, s: call("nn.Softmax", dim=Slot(op.axis, "dim")))
_simple("dropout", lambda op, s: call("nn.Dropout", Slot(op.p, "p")))
_simple(
    "local_response_norm",
    lambda op, s: call(
        "nn.LocalResponseNorm",
        Slot(op.size, "size"),
        alpha=opt(op.alpha, "alpha", 1e-4),
        beta=opt(op.beta, "beta", 0.75),
        k=opt(op.k, "k", 1.0),
    ),
)
_simple(
    "zero_pad2d",
    lambda op, s: call(
        "nn.ZeroPad2d", Slot(op.padding if isinstance(op.padding, int) else tuple(op.padding), "padding")
    ),
)
EMITTERS["stochastic_depth"] = OpEmitter(
    lambda op, s: call("StochasticDepth", Slot(op.p, "p"), const(op.mode)),
    lambda op, m, a, s: _module_call(m, a),
    ("StochasticDepth",),
)
_simple(
    "upsample",
    lambda op, s: (
        call("nn.Upsample", scale_factor=Slot(op.scale, "scale_factor"))
        if op.mode == "nearest"
        else call("nn.Upsample", scale_factor=Slot(op.scale, "scale_factor"), mode=const("bilinear"))
    ),
)


def _functional(op_name: str, fn, helpers: tuple[str, ...] = ()):
    EMITTERS[op_name] = OpEmitter(lambda op, s: None, lambda op, m, a, s: fn(op, a, s), helpers)


_functional("flatten", lambda op, a, s: call("torch.flatten", a[0], const(1)))
_functional(
    "global_avgpool2d",
    lambda op, a, s: template("{x}.mean((2, 3), keepdim=True)" if op.keepdims else "{x}.mean((2, 3))", x=a[0]),
)
_functional("add", lambda op, a, s: join(ast.Add(), a))
_functional("multiply", lambda op, a, s: join(ast.Mult(), a))
_functional("concat", lambda op, a, s: call("torch.cat", ast.List(a, ast.Load()), Slot(op.axis, "dim")))
_functional(
    "pad_channels",
    lambda op, a, s: call(
        "nn.functional.pad",
        a[0],
        ast.Tuple([*map(const, (0, 0, 0, 0)), *(Slot(v, "pad") for v in op.split(s[0]))], ast.Load()),
    ),
)
_functional(
    "subsample2d",
    lambda op, a, s: template(
        "{x}[:, :, :: {h}, :: {w}]", x=a[0], h=Slot(pair(op.stride)[0], "stride"), w=Slot(pair(op.stride)[1], "stride")
    ),
)
_functional("center_crop", lambda op, a, s: call("center_crop", a[0], a[1]), ("center_crop",))
_functional("scale", lambda op, a, s: scale(op, a[0]))

# Helpers emitted into the generated file only when an op needs them.
HELPERS = {
    "center_crop": '''
def center_crop(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Crops x's height and width, centred, to like's; an odd excess is left at the bottom/right."""
    top, left = (x.shape[2] - like.shape[2]) // 2, (x.shape[3] - like.shape[3]) // 2
    return x[:, :, top : top + like.shape[2], left : left + like.shape[3]]
''',
    "StochasticDepth": '''
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
