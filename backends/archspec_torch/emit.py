"""Per-op PyTorch emitters: `EMITTERS[op]` builds the op's layer (or None for a plain expression)
and its call, as syntax. Spec values enter only as `Slot`s, so blocks that differ in them share a
class. Adding an op to this backend is one entry here."""

from __future__ import annotations

import ast

from archspec.codegen import OpEmitter, Slot, call, const, index, join, method, scale, slice_part, template
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
        "nn.Linear", ch(s[-1], "in_features"), ch(op.features, "out_features"), bias=opt(op.bias, "bias", True)
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
_simple("relu6", lambda op, s: call("nn.ReLU6"))
_simple("hardsigmoid", lambda op, s: call("nn.Hardsigmoid"))
_simple("hardswish", lambda op, s: call("nn.Hardswish"))
_simple("mish", lambda op, s: call("nn.Mish"))
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


def _flatten(op, a, s):
    if op.end == -1 or op.end == len(s):
        return call("torch.flatten", a[0], Slot(op.start, "start_dim"))
    return call("torch.flatten", a[0], Slot(op.start, "start_dim"), Slot(op.end, "end_dim"))


def _slice(op, a, s):
    axis = op.axis % (len(s) + 1)
    return index(a[0], axis, slice_part(op, s[axis - 1]))


def _parameter(op, m, a, s):
    """The learned tensor expanded over its input's batch: `self.class_token.expand(x.shape[0], -1, -1)`."""
    rest = [const(-1)] * (len(op.shape) - 1 if op.batch else len(op.shape))
    return method("expand", m, template("{x}.shape[0]", x=a[0]), *rest)


def _parameter_init(op) -> ast.expr:
    shape = [Slot(d, "size") for d in op.shape]
    if op.init == "zeros":
        return call("torch.zeros", *shape)
    if isinstance(op.init, str):  # normal / trunc_normal
        return method("normal_", call("torch.empty", *shape), std=Slot(op.std, "std"))
    return ast.BinOp(call("torch.ones", *shape), ast.Mult(), Slot(float(op.init), "value"))


_functional("flatten", _flatten)
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
_functional("permute", lambda op, a, s: method("permute", a[0], *(Slot(d, "dim") for d in op.dims)))
_functional("transpose", lambda op, a, s: method("transpose", a[0], *(Slot(d, "dim") for d in op.axes)))
_functional(
    "reshape",
    lambda op, a, s: method(
        "reshape",
        a[0],
        template("{x}.shape[0]", x=a[0]),
        *(Slot(d, "size") for d in op.shape),
    ),
)
_functional("slice", _slice)
_functional("select", lambda op, a, s: index(a[0], op.axis % (len(s) + 1), Slot(op.at, "index")))
_functional(
    "roll",
    lambda op, a, s: call("torch.roll", a[0], Slot(tuple(op.shifts), "shifts"), Slot(tuple(op.axes), "dims")),
)
_simple("channel_shuffle", lambda op, s: call("nn.ChannelShuffle", Slot(op.groups, "groups")))
_functional("matmul", lambda op, a, s: ast.BinOp(a[0], ast.MatMult(), a[1]))
EMITTERS["parameter"] = OpEmitter(
    lambda op, s: call("nn.Parameter", _parameter_init(op)),
    _parameter,
)
_simple(
    "layer_norm",
    lambda op, s: call(
        "LayerNorm2d" if op.channels_first else "nn.LayerNorm",
        ch(op.features(s), "normalized_shape"),
        eps=opt(op.eps, "eps", 1e-5),
        elementwise_affine=opt(op.affine, "elementwise_affine", True),
    ),
)
EMITTERS["layer_norm"] = OpEmitter(
    EMITTERS["layer_norm"].module, EMITTERS["layer_norm"].call, lambda op: ("LayerNorm2d",) if op.channels_first else ()
)
EMITTERS["multihead_attention"] = OpEmitter(
    lambda op, s: call(
        "nn.MultiheadAttention",
        ch(s[-1], "embed_dim"),
        Slot(op.heads, "num_heads"),
        dropout=opt(op.dropout, "dropout", 0.0),
        bias=opt(op.bias, "bias", True),
        batch_first=const(True),
    ),
    lambda op, m, a, s: ast.Subscript(
        call(m, a[0], a[0], a[0], need_weights=const(False)), ast.Constant(0), ast.Load()
    ),
)

EMITTERS["window_attention"] = OpEmitter(
    lambda op, s: call(
        "ShiftedWindowAttention",
        ch(s[-1], "dim"),
        Slot(pair(op.window), "window_size"),
        Slot(pair(op.shift), "shift_size"),
        Slot(op.heads, "num_heads"),
        qkv_bias=opt(op.qkv_bias, "qkv_bias", True),
        proj_bias=opt(op.proj_bias, "proj_bias", True),
        attention_dropout=opt(op.attention_dropout, "attention_dropout", 0.0),
        dropout=opt(op.dropout, "dropout", 0.0),
    ),
    lambda op, m, a, s: _module_call(m, a),
    ("ShiftedWindowAttention",),
)

# Helpers emitted into the generated file only when an op needs them.
HELPERS = {
    "ShiftedWindowAttention": '''
class ShiftedWindowAttention(nn.Module):
    """Swin's (shifted) window attention on (N, H, W, C), with torchvision's parameters: the map is
    padded to whole windows and rolled by -shift; each window attends within itself, with a learned
    relative-position bias, and windows straddling the roll's seam are masked apart."""

    def __init__(
        self,
        dim: int,
        window_size: tuple[int, int],
        shift_size: tuple[int, int],
        num_heads: int,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.window_size, self.shift_size, self.num_heads = window_size, shift_size, num_heads
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        wh, ww = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        index = (relative[:, :, 0] + wh - 1) * (2 * ww - 1) + relative[:, :, 1] + ww - 1
        self.register_buffer("relative_position_index", index.flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        (wh, ww), heads, tokens = self.window_size, self.num_heads, self.window_size[0] * self.window_size[1]
        x = nn.functional.pad(x, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
        ph, pw = x.shape[1:3]
        shift = [0 if wh >= ph else self.shift_size[0], 0 if ww >= pw else self.shift_size[1]]
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        windows = (ph // wh) * (pw // ww)
        x = x.view(n, ph // wh, wh, pw // ww, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(n * windows, tokens, c)
        q, k, v = self.qkv(x).reshape(n * windows, tokens, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // heads) ** -0.5).matmul(k.transpose(-2, -1))
        bias = self.relative_position_bias_table[self.relative_position_index].view(tokens, tokens, -1)
        attn = attn + bias.permute(2, 0, 1).unsqueeze(0)
        if sum(shift) > 0:
            attn = attn.view(n, windows, heads, tokens, tokens) + self._mask(ph, pw, shift, x).unsqueeze(1)
            attn = attn.view(-1, heads, tokens, tokens)
        attn = nn.functional.dropout(attn.softmax(dim=-1), p=self.attention_dropout, training=self.training)
        x = self.proj(attn.matmul(v).transpose(1, 2).reshape(n * windows, tokens, c))
        x = nn.functional.dropout(x, p=self.dropout, training=self.training)
        x = x.view(n, ph // wh, pw // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(n, ph, pw, c)
        if sum(shift) > 0:
            x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()

    def _mask(self, ph: int, pw: int, shift: list[int], like: torch.Tensor) -> torch.Tensor:
        """-100 between tokens of a window that came from different regions before the roll."""
        (wh, ww), tokens = self.window_size, self.window_size[0] * self.window_size[1]
        region = like.new_zeros((ph, pw))
        count = 0
        for rows in ((0, -wh), (-wh, -shift[0]), (-shift[0], None)):
            for cols in ((0, -ww), (-ww, -shift[1]), (-shift[1], None)):
                region[rows[0] : rows[1], cols[0] : cols[1]] = count
                count += 1
        region = region.view(ph // wh, wh, pw // ww, ww).permute(0, 2, 1, 3).reshape(-1, tokens)
        mask = region.unsqueeze(1) - region.unsqueeze(2)
        return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
''',
    "LayerNorm2d": '''
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map, as torchvision's ConvNeXt applies it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
''',
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
