"""Source of the helpers a generated Flax file defines, each only when an op needs it."""

# Initializers. Values are drawn in fixed-size blocks and shaped and scaled in NumPy, so building
# a model eagerly compiles one random program per distribution instead of one per parameter shape
# (ResNet-50: 2 instead of ~120 compiles); traced (jit, eval_shape), the same steps run in jnp.
RANDOM_INIT = '''

RANDOM_BLOCK = 1 << 16  # values per random draw: one compiled program serves every parameter shape


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a kernel laid out (..., in, out), counted as PyTorch counts them."""
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def symmetric_uniform(key: jax.Array, shape) -> jax.Array:
    return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)


def random_init(sample, scale):
    """An initializer: `sample` (standard normal or uniform on [-1, 1)) times `scale(shape)`."""

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        size = math.prod(shape)
        count = -(-size // RANDOM_BLOCK)
        if isinstance(key, jax.core.Tracer):  # traced (jit, eval_shape): the blocks as one batched draw
            blocks = jax.vmap(lambda i: sample(jax.random.fold_in(key, i), (RANDOM_BLOCK,)))(jnp.arange(count))
        else:  # eager: the same program for every block; shaped and scaled on the host, no compile
            blocks = np.stack([sample(jax.random.fold_in(key, i), (RANDOM_BLOCK,)) for i in range(count)])
        values = blocks.reshape(-1)[:size].reshape(shape) * np.float32(scale(shape))
        return jax.device_put(values.astype(dtype))  # jnp.asarray would compile a program per shape

    return init


def constant(value: float):
    """An initializer filling with `value`, built in NumPy (jnp.full compiles a program per shape)."""

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        return jax.device_put(np.full(shape, value, dtype))

    return init
'''

INIT_HELPERS = ("RANDOM_BLOCK", "fans", "symmetric_uniform", "random_init", "constant", "torch_default_bias")

INIT_CONSTANTS = {
    "KAIMING_FAN_OUT": "KAIMING_FAN_OUT = random_init(jax.random.normal, lambda shape: (2 / fans(shape)[1]) ** 0.5)",
    "KAIMING_FAN_IN": "KAIMING_FAN_IN = random_init(jax.random.normal, lambda shape: (2 / fans(shape)[0]) ** 0.5)",
    "NORMAL_001": "NORMAL_001 = random_init(jax.random.normal, lambda shape: 0.01)",
    "XAVIER_UNIFORM": "XAVIER_UNIFORM = random_init(symmetric_uniform, lambda shape: (6 / sum(fans(shape))) ** 0.5)",
    # PyTorch's default: kaiming_uniform(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in))
    "TORCH_DEFAULT_KERNEL": (
        "TORCH_DEFAULT_KERNEL = random_init(symmetric_uniform, lambda shape: fans(shape)[0] ** -0.5)"
    ),
    "ZEROS": "ZEROS = constant(0.0)",
}

TORCH_DEFAULT_BIAS = '''

def torch_default_bias(fan_in: int):
    """PyTorch's default bias initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return random_init(symmetric_uniform, lambda shape: fan_in**-0.5)
'''

HELPERS = {
    "max_pool2d": '''

def max_pool2d(x: jax.Array, kernel, stride, pads) -> jax.Array:
    """PyTorch's MaxPool2d on NHWC: explicit (lo, hi) -inf padding; ceil_mode is extra hi padding."""
    # literal identities (-inf, 0.0) let JAX recognise max/sum pooling, which it can differentiate
    window, strides = (1, *kernel, 1), (1, *stride, 1)
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, strides, ((0, 0), *pads, (0, 0)))
''',
    "dilated_max_pool2d": '''

def dilated_max_pool2d(x: jax.Array, kernel, stride, pads, dilation) -> jax.Array:
    """PyTorch's MaxPool2d with dilation on NHWC: the maximum of the window's strided slices (JAX
    cannot differentiate reduce_window over a dilated window)."""
    x = jnp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=-jnp.inf)
    rows = (x.shape[1] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    cols = (x.shape[2] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    out = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            top, left = i * dilation[0], j * dilation[1]
            bottom, right = top + (rows - 1) * stride[0] + 1, left + (cols - 1) * stride[1] + 1
            tap = x[:, top : bottom : stride[0], left : right : stride[1]]
            out = tap if out is None else jnp.maximum(out, tap)
    return out
''',
    "avg_pool2d": '''

def avg_pool2d(x: jax.Array, kernel, stride, pads, padding, count_include_pad: bool) -> jax.Array:
    """PyTorch's AvgPool2d on NHWC. `pads` include ceil_mode's extra hi padding, which the divisor
    never counts; the regular `padding` counts when count_include_pad is true."""
    window, strides = (1, *kernel, 1), (1, *stride, 1)
    full = ((0, 0), *pads, (0, 0))
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, full)
    ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
    if count_include_pad:
        grow = ((0, 0), (padding[0], padding[0]), (padding[1], padding[1]), (0, 0))
        ones = jnp.pad(ones, grow, constant_values=1)
        full = ((0, 0), *((lo - p, hi - p) for (lo, hi), p in zip(pads, padding)), (0, 0))
    count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, full)
    return total / count
''',
    "adaptive_avg_pool2d": '''

def adaptive_avg_pool2d(x: jax.Array, size) -> jax.Array:
    """PyTorch's AdaptiveAvgPool2d on NHWC: bin i spans floor(i * H / out) to ceil((i + 1) * H / out)."""
    h, w = x.shape[1:3]
    if (h, w) == tuple(size):
        return x
    if tuple(size) == (1, 1):
        return x.mean((1, 2), keepdims=True)
    rows = [x[:, (i * h) // size[0] : -(-((i + 1) * h) // size[0])] for i in range(size[0])]
    bins = [
        [r[:, :, (j * w) // size[1] : -(-((j + 1) * w) // size[1])].mean((1, 2)) for j in range(size[1])] for r in rows
    ]
    return jnp.stack([jnp.stack(row, axis=1) for row in bins], axis=1)
''',
    "local_response_norm": '''

def local_response_norm(x: jax.Array, size: int, alpha: float, beta: float, k: float) -> jax.Array:
    """PyTorch's LocalResponseNorm over channels (last axis): x / (k + alpha / size * sum x^2) ** beta,
    the sum over `size` neighbours, zero-padded size // 2 before and (size - 1) // 2 after."""
    sq = jnp.pad(x * x, ((0, 0), (0, 0), (0, 0), (size // 2, (size - 1) // 2)))
    total = jax.lax.reduce_window(sq, 0.0, jax.lax.add, (1, 1, 1, size), (1, 1, 1, 1), "VALID")
    return x / (k + alpha / size * total) ** beta
''',
    "zero_pad2d": '''

def zero_pad2d(x: jax.Array, padding) -> jax.Array:
    """PyTorch's ZeroPad2d on NHWC: (left, right, top, bottom); negative values crop."""
    left, right, top, bottom = padding
    config = ((0, 0, 0), (top, bottom, 0), (left, right, 0), (0, 0, 0))
    return jax.lax.pad(x, jnp.zeros((), x.dtype), config)
''',
    "upsample": '''

def upsample(x: jax.Array, scale: int, mode: str) -> jax.Array:
    """PyTorch's Upsample on NHWC: nearest repeats pixels; bilinear uses half-pixel centres."""
    if mode == "nearest":
        return jnp.repeat(jnp.repeat(x, scale, axis=1), scale, axis=2)
    n, h, w, c = x.shape
    return jax.image.resize(x, (n, h * scale, w * scale, c), "bilinear")
''',
    "center_crop": '''

def center_crop(x: jax.Array, like: jax.Array) -> jax.Array:
    """Crops x's height and width, centred, to like's; an odd excess is left at the bottom/right."""
    top, left = (x.shape[1] - like.shape[1]) // 2, (x.shape[2] - like.shape[2]) // 2
    return x[:, top : top + like.shape[1], left : left + like.shape[2]]
''',
    "ConvTranspose2d": '''

class ConvTranspose2d(nnx.Module):
    """PyTorch's ConvTranspose2d on NHWC. The kernel is (kh, kw, out, in): PyTorch's (in, out, kh, kw)
    laid out as a convolution's, so weights transfer like a conv's. Computed as the gradient of a
    convolution: the input dilated by the stride, the kernel flipped, padding d * (k - 1) - p."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size,
        *,
        strides,
        padding,
        output_padding,
        dilation=(1, 1),
        use_bias: bool = True,
        kernel_init,
        bias_init=None,
        rngs: nnx.Rngs,
    ) -> None:
        self.strides, self.dilation = tuple(strides), tuple(dilation)
        self.pads = tuple(
            (d * (k - 1) - p, d * (k - 1) - p + o) for k, p, o, d in zip(kernel_size, padding, output_padding, dilation)
        )
        self.kernel = nnx.Param(kernel_init(rngs.params(), (*kernel_size, out_features, in_features)))
        self.bias = nnx.Param(bias_init(rngs.params(), (out_features,))) if use_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = jnp.flip(self.kernel[...], (0, 1)).swapaxes(2, 3)
        y = jax.lax.conv_general_dilated(
            x,
            kernel,
            (1, 1),
            self.pads,
            lhs_dilation=self.strides,
            rhs_dilation=self.dilation,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        return y if self.bias is None else y + self.bias[...]
''',
    "BatchNorm2d": '''

class BatchNorm2d(nnx.Module):
    """Batch norm over the channel (last) axis with PyTorch's conventions: running statistics move
    by `momentum` toward the batch's, the running variance takes the unbiased batch variance, and
    batches are counted, so statistics and weights transfer both ways unchanged."""

    def __init__(self, num_features: int, *, momentum=0.1, epsilon=1e-5, affine=True, zero_scale=False) -> None:
        self.momentum, self.epsilon = momentum, epsilon
        # NumPy arrays put on the device: jnp.zeros, jnp.ones and jnp.asarray compile a program per shape
        zeros, ones = np.zeros(num_features, np.float32), np.ones(num_features, np.float32)
        self.scale = nnx.Param(jax.device_put(zeros if zero_scale else ones)) if affine else None
        self.bias = nnx.Param(jax.device_put(zeros)) if affine else None
        self.mean = nnx.BatchStat(jax.device_put(zeros))
        self.var = nnx.BatchStat(jax.device_put(ones))
        self.num_batches_tracked = nnx.BatchStat(jax.device_put(np.zeros((), np.int32)))
        self.use_running_average = False

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.use_running_average:
            mean, var = self.mean[...], self.var[...]
        else:
            mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
            n = x.size // x.shape[-1]
            m = self.momentum
            self.mean[...] = (1 - m) * self.mean[...] + m * mean
            self.var[...] = (1 - m) * self.var[...] + m * var * (n / max(n - 1, 1))
            self.num_batches_tracked[...] = self.num_batches_tracked[...] + 1
        y = (x - mean) / jnp.sqrt(var + self.epsilon)
        if self.scale is not None:
            y = y * self.scale[...] + self.bias[...]
        return y
''',
    "StochasticDepth": '''

class StochasticDepth(nnx.Module):
    """Drops the whole input with probability p in training, per sample (row) or per batch (batch);
    survivors are scaled by 1 / (1 - p), like torchvision.ops.StochasticDepth."""

    def __init__(self, p: float, mode: str, *, rngs: nnx.Rngs) -> None:
        self.p, self.mode = p, mode
        self.rngs = rngs
        self.deterministic = False

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.deterministic or self.p == 0.0:
            return x
        shape = (x.shape[0],) + (1,) * (x.ndim - 1) if self.mode == "row" else (1,) * x.ndim
        keep = jax.random.bernoulli(self.rngs.dropout(), 1.0 - self.p, shape)
        return x * keep.astype(x.dtype) / (1.0 - self.p)
''',
}

ATTENTION = {
    "MultiheadAttention": '''

class MultiheadAttention(nnx.Module):
    """PyTorch's nn.MultiheadAttention(batch_first=True) as self-attention over (N, T, D): its
    parameters (in_proj_weight (3D, D) and in_proj_bias, out_proj), initialisation and arithmetic."""

    def __init__(self, embed_dim: int, num_heads: int, *, dropout=0.0, bias=True, rngs: nnx.Rngs) -> None:
        self.num_heads = num_heads
        self.in_proj_weight = nnx.Param(XAVIER_UNIFORM(rngs.params(), (3 * embed_dim, embed_dim)))
        self.in_proj_bias = nnx.Param(ZEROS(rngs.params(), (3 * embed_dim,))) if bias else None
        self.out_proj = nnx.Linear(
            embed_dim, embed_dim, use_bias=bias, kernel_init=TORCH_DEFAULT_KERNEL, bias_init=ZEROS, rngs=rngs
        )
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        n, t, d = x.shape
        qkv = x @ self.in_proj_weight[...].T
        if self.in_proj_bias is not None:
            qkv = qkv + self.in_proj_bias[...]
        q, k, v = qkv.reshape(n, t, 3, self.num_heads, d // self.num_heads).transpose(2, 0, 3, 1, 4)
        scores = (q * (d // self.num_heads) ** -0.5) @ k.swapaxes(-1, -2)
        weights = self.dropout(jax.nn.softmax(scores, axis=-1))
        return self.out_proj((weights @ v).transpose(0, 2, 1, 3).reshape(n, t, d))
''',
    "ShiftedWindowAttention": '''

class Buffer(nnx.Variable):
    """State that is not trained but is part of the weights (PyTorch's register_buffer)."""


class ShiftedWindowAttention(nnx.Module):
    """Swin's (shifted) window attention on (N, H, W, C), with torchvision's parameters: the map is
    padded to whole windows and rolled by -shift; each window attends within itself, with a learned
    relative-position bias, and windows straddling the roll's seam are masked apart."""

    def __init__(
        self,
        dim: int,
        window_size,
        shift_size,
        num_heads: int,
        *,
        qkv_bias=True,
        proj_bias=True,
        attention_dropout=0.0,
        dropout=0.0,
        rngs: nnx.Rngs,
    ) -> None:
        self.window_size, self.shift_size, self.num_heads = tuple(window_size), tuple(shift_size), num_heads
        inits = {"kernel_init": TORCH_DEFAULT_KERNEL, "bias_init": torch_default_bias(dim), "rngs": rngs}
        self.qkv = nnx.Linear(dim, dim * 3, use_bias=qkv_bias, **inits)
        self.proj = nnx.Linear(dim, dim, use_bias=proj_bias, **inits)
        wh, ww = window_size
        table = ((2 * wh - 1) * (2 * ww - 1), num_heads)
        self.relative_position_bias_table = nnx.Param(normal(0.02)(rngs.params(), table))
        coords = np.stack(np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")).reshape(2, -1)
        relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0)
        index = (relative[:, :, 0] + wh - 1) * (2 * ww - 1) + relative[:, :, 1] + ww - 1
        self.relative_position_index = Buffer(jax.device_put(index.reshape(-1).astype(np.int32)))
        self.attention_dropout = nnx.Dropout(attention_dropout, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        n, h, w, c = x.shape
        (wh, ww), heads, tokens = self.window_size, self.num_heads, self.window_size[0] * self.window_size[1]
        x = jnp.pad(x, ((0, 0), (0, (wh - h % wh) % wh), (0, (ww - w % ww) % ww), (0, 0)))
        ph, pw = x.shape[1:3]
        shift = (0 if wh >= ph else self.shift_size[0], 0 if ww >= pw else self.shift_size[1])
        if sum(shift) > 0:
            x = jnp.roll(x, (-shift[0], -shift[1]), axis=(1, 2))
        windows = (ph // wh) * (pw // ww)
        x = x.reshape(n, ph // wh, wh, pw // ww, ww, c).transpose(0, 1, 3, 2, 4, 5).reshape(n * windows, tokens, c)
        q, k, v = self.qkv(x).reshape(n * windows, tokens, 3, heads, c // heads).transpose(2, 0, 3, 1, 4)
        attn = (q * (c // heads) ** -0.5) @ k.swapaxes(-1, -2)
        bias = self.relative_position_bias_table[...][self.relative_position_index[...]].reshape(tokens, tokens, -1)
        attn = attn + bias.transpose(2, 0, 1)[None]
        if sum(shift) > 0:
            attn = attn.reshape(n, windows, heads, tokens, tokens) + self._mask(ph, pw, shift)[:, None]
            attn = attn.reshape(-1, heads, tokens, tokens)
        attn = self.attention_dropout(jax.nn.softmax(attn, axis=-1))
        x = self.dropout(self.proj((attn @ v).swapaxes(1, 2).reshape(n * windows, tokens, c)))
        x = x.reshape(n, ph // wh, pw // ww, wh, ww, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, ph, pw, c)
        if sum(shift) > 0:
            x = jnp.roll(x, shift, axis=(1, 2))
        return x[:, :h, :w, :]

    def _mask(self, ph: int, pw: int, shift) -> np.ndarray:
        """-100 between tokens of a window that came from different regions before the roll."""
        (wh, ww), tokens = self.window_size, self.window_size[0] * self.window_size[1]
        region = np.zeros((ph, pw), np.float32)
        count = 0
        for rows in (slice(0, -wh), slice(-wh, -shift[0] or None), slice(-shift[0] or None, None)):
            for cols in (slice(0, -ww), slice(-ww, -shift[1] or None), slice(-shift[1] or None, None)):
                region[rows, cols] = count
                count += 1
        region = region.reshape(ph // wh, wh, pw // ww, ww).transpose(0, 2, 1, 3).reshape(-1, tokens)
        return np.where(region[:, None, :] != region[:, :, None], np.float32(-100.0), np.float32(0.0))
''',
    "channel_shuffle": '''

def channel_shuffle(x: jax.Array, groups: int) -> jax.Array:
    """ShuffleNet's channel shuffle on NHWC: channel g * (C / groups) + i moves to i * groups + g."""
    n, h, w, c = x.shape
    return x.reshape(n, h, w, groups, c // groups).swapaxes(3, 4).reshape(n, h, w, c)
''',
    "expand_batch": '''

def expand_batch(value: jax.Array, size: int) -> jax.Array:
    """A learned tensor with a leading axis of 1, repeated `size` times along it (PyTorch's expand)."""
    return jnp.broadcast_to(value, (size, *value.shape[1:]))
''',
    "normal": '''

def normal(std: float):
    """An initializer drawing from a normal distribution with mean 0 and standard deviation `std`."""
    return random_init(jax.random.normal, lambda shape: std)
''',
}
HELPERS.update(ATTENTION)

SEQUENTIAL = '''

class Sequential(nnx.List):
    """Layers called one after another; items keep their indices, as in PyTorch's nn.Sequential."""

    def __init__(self, *layers: nnx.Module) -> None:
        super().__init__(layers)

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self:
            x = layer(x)
        return x
'''
