"""What each registered op accepts, for the generators of valid networks (tests/netgen.py).

Each generator takes a random source `r` (a `random.Random`, or Hypothesis's `st.randoms()`, so
the same code serves the Hypothesis tests and the long campaigns of benchmarks/fuzz.py) and the
current shape, and returns the node's fields and its output shape, or None where it does not
apply. Shapes are tiny: the point is the code paths, not the FLOPs.
"""

from __future__ import annotations

import math

Shape = tuple[int, ...]


def _coin(r) -> bool:
    return r.random() < 0.5


INITS = [
    "default",
    "kaiming_normal_fan_out",
    "kaiming_normal_fan_in",
    "normal",
    "trunc_normal",
    "xavier_uniform",
    "zeros",
]


def _bias_init(r):
    return r.choice(["default", "zeros", -2.0, 0.5])


def _pair(r, lo: int, hi: int):
    if hi < lo:
        hi = lo
    if _coin(r):
        return r.randint(lo, hi)
    return [r.randint(lo, hi), r.randint(lo, hi)]


def _as_pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _window_fits(h: int, w: int, k, p, d=1) -> bool:
    k, p, d = _as_pair(k), _as_pair(p), _as_pair(d)
    return all(size + 2 * p[i] >= d[i] * (k[i] - 1) + 1 for i, size in enumerate((h, w)))


# Each generator returns the node's fields and its output shape, or None when it does not apply.


def conv2d(r, c, h, w):
    channels = r.randint(1, 6)
    groups = r.choice([g for g in range(1, 4) if c % g == 0 and channels % g == 0])
    k, d = _pair(r, 1, 3), _pair(r, 1, 2)
    padding = r.choice([0, 1, [1, 0], "valid", "same"])
    stride = 1 if padding == "same" else _pair(r, 1, 2)
    if padding == "same":
        (kh, kw), (dh, dw) = _as_pair(k), _as_pair(d)
        oh, ow = h, w
    else:
        p = 0 if padding == "valid" else padding
        if not _window_fits(h, w, k, p, d):
            return None
        (kh, kw), (dh, dw), (ph, pw), (sh, sw) = _as_pair(k), _as_pair(d), _as_pair(p), _as_pair(stride)
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    fields = {"channels": channels, "kernel": k, "stride": stride, "padding": padding, "dilation": d}
    fields |= {"groups": groups, "bias": _coin(r), "init": r.choice(INITS)}
    fields["bias_init"] = _bias_init(r)
    return fields, (channels, oh, ow)


def conv_transpose2d(r, c, h, w):
    channels, k, s, d = r.randint(1, 4), r.randint(1, 3), r.randint(1, 2), 1
    p = r.randint(0, 1)
    op = r.randint(0, max(s, d) - 1)
    out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n in (h, w)]
    if min(out) <= 0:
        return None
    fields = {"channels": channels, "kernel": k, "stride": s, "padding": p, "output_padding": op}
    fields |= {"bias": _coin(r), "init": r.choice(INITS), "bias_init": _bias_init(r)}
    return fields, (channels, *out)


def batchnorm2d(r, c, h, w):
    fields = {"eps": r.choice([1e-5, 1e-3]), "momentum": r.choice([0.1, 0.9])}
    fields |= {"affine": _coin(r), "init": r.choice(["default", "zeros"])}
    return fields, (c, h, w)


def _pool(r, c, h, w, op):
    k = _pair(r, 1, 3)
    p = r.choice([0, 1])
    if any(p * 2 > kk for kk in _as_pair(k)):
        p = 0
    dil = _pair(r, 1, 2) if op == "maxpool2d" else 1
    if not _window_fits(h, w, k, p, dil):
        return None
    stride = r.choice([None, 1, 2])
    ceil = _coin(r)
    (kh, kw), (dh, dw) = _as_pair(k), _as_pair(dil)
    (sh, sw) = _as_pair(stride if stride is not None else k)
    out = []
    for size, kk, dd, ss in ((h, kh, dh, sh), (w, kw, dw, sw)):
        span = dd * (kk - 1) + 1
        n = (size + 2 * p - span + ((ss - 1) if ceil else 0)) // ss + 1
        if ceil and (n - 1) * ss >= size + p:
            n -= 1
        out.append(n)
    fields = {"kernel": k, "padding": p, "ceil_mode": ceil} | ({"stride": stride} if stride is not None else {})
    if op == "maxpool2d":
        fields["dilation"] = dil
    else:
        fields["count_include_pad"] = _coin(r)
    return fields, (c, *out)


def maxpool2d(r, c, h, w):
    return _pool(r, c, h, w, "maxpool2d")


def avgpool2d(r, c, h, w):
    return _pool(r, c, h, w, "avgpool2d")


def adaptive_avgpool2d(r, c, h, w):
    size = r.choice([1, 2, [1, 2]])
    return {"size": size}, (c, *_as_pair(size))


def global_avgpool2d(r, c, h, w):
    keep = _coin(r)
    return {"keepdims": keep}, ((c, 1, 1) if keep else (c,))


def flatten(r, *shape):
    return {}, (math.prod(shape),)


def local_response_norm(r, c, h, w):
    return {"size": r.randint(1, 3), "alpha": 1e-4, "beta": 0.75, "k": r.choice([1.0, 2.0])}, (
        c,
        h,
        w,
    )


def zero_pad2d(r, c, h, w):
    p = r.choice([0, 1, [1, 0, 2, 0]])
    left, right, top, bottom = (p, p, p, p) if isinstance(p, int) else p
    return {"padding": p}, (c, h + top + bottom, w + left + right)


def pad_channels(r, c, h, w):
    channels = c + r.randint(0, 3)
    return {"channels": channels}, (channels, h, w)


def subsample2d(r, c, h, w):
    s = _pair(r, 1, 2)
    sh, sw = _as_pair(s)
    return {"stride": s}, (c, -(-h // sh), -(-w // sw))


def upsample(r, c, h, w):
    if h * w > 64:
        return None
    scale = r.randint(1, 2)
    return {"scale": scale, "mode": r.choice(["nearest", "bilinear"])}, (c, h * scale, w * scale)


def linear(r, f):
    fields = {"features": r.randint(1, 8), "bias": _coin(r)}
    fields |= {"init": r.choice(INITS), "bias_init": _bias_init(r)}
    return fields, (fields["features"],)


def _same(fields_fn):
    def gen(r, *shape):
        return fields_fn(r), shape

    return gen


IMAGE_OPS = {
    "conv2d": conv2d,
    "conv_transpose2d": conv_transpose2d,
    "batchnorm2d": batchnorm2d,
    "maxpool2d": maxpool2d,
    "avgpool2d": avgpool2d,
    "adaptive_avgpool2d": adaptive_avgpool2d,
    "global_avgpool2d": global_avgpool2d,
    "local_response_norm": local_response_norm,
    "zero_pad2d": zero_pad2d,
    "pad_channels": pad_channels,
    "subsample2d": subsample2d,
    "upsample": upsample,
}
ANY_OPS = {
    "relu": _same(lambda r: {}),
    "sigmoid": _same(lambda r: {}),
    "tanh": _same(lambda r: {}),
    "silu": _same(lambda r: {}),
    "identity": _same(lambda r: {}),
    "gelu": _same(lambda r: {"approximate": r.choice(["none", "tanh"])}),
    "softmax": _same(lambda r: {"axis": r.choice([1, -1])}),
    "flatten": flatten,
    "dropout": _same(lambda r: {"p": r.choice([0.0, 0.5])}),
    "stochastic_depth": _same(lambda r: {"p": r.choice([0.0, 0.2]), "mode": r.choice(["row", "batch"])}),
    "scale": _same(lambda r: {"factor": r.choice([-1.0, 0.5]), "offset": r.choice([0.0, 1.0])}),
}
FEATURE_OPS = {"linear": linear}
for _act in ("relu6", "hardsigmoid", "hardswish", "mish"):
    ANY_OPS[_act] = _same(lambda r: {})


# Ops that read or change the layout: (r, shape, layout) -> (fields, shape, layout) or None.
# Layouts: "CHW" images (NHWC in Flax), "HWC" channels-last maps, "TD"/"DT" tokens, "F" features.


def permute(r, shape, layout):
    if layout == "CHW":
        return {"dims": [0, 2, 3, 1]}, (shape[1], shape[2], shape[0]), "HWC"
    if layout == "HWC":
        return {"dims": [0, 3, 1, 2]}, (shape[2], shape[0], shape[1]), "CHW"
    if len(shape) == 2:
        return {"dims": [0, 2, 1]}, (shape[1], shape[0]), layout[::-1]
    return None


def transpose(r, shape, layout):
    if len(shape) != 2:
        return None
    return {"axes": r.choice([[1, 2], [-1, -2]])}, (shape[1], shape[0]), layout[::-1]


def flatten_tokens(r, shape, layout):
    if layout != "CHW":
        return None
    return {"start": 2}, (shape[0], shape[1] * shape[2]), "DT"


def reshape(r, shape, layout):
    size = math.prod(shape)
    first = r.choice([d for d in range(1, size + 1) if size % d == 0])
    return {"shape": [first, -1]}, (first, size // first), "TD"


def slice_(r, shape, layout):
    axis = r.randint(1, len(shape))
    size = shape[axis - 1]
    start = r.randint(0, size - 1)
    stop = r.randint(start + 1, size)
    step = r.randint(1, 2)
    fields = {"axis": axis, "start": start, "stop": stop, "step": step}
    return fields, (*shape[: axis - 1], -(-(stop - start) // step), *shape[axis:]), layout


def select(r, shape, layout):
    if len(shape) < 2:
        return None
    axis = r.randint(1, len(shape))
    at = r.randint(-shape[axis - 1], shape[axis - 1] - 1)
    out = (*shape[: axis - 1], *shape[axis:])
    rest = layout[: axis - 1] + layout[axis:]
    return {"axis": axis, "at": at}, out, "F" if len(out) == 1 else {"HW": "TD"}.get(rest, rest)


def roll(r, shape, layout):
    axes = r.choice([[1], [-1], list(range(1, len(shape) + 1))])
    return {"shifts": [r.randint(-3, 3) for _ in axes], "axes": axes}, shape, layout


def channel_shuffle(r, shape, layout):
    if layout != "CHW":
        return None
    groups = r.choice([g for g in range(1, 4) if shape[0] % g == 0])
    return {"groups": groups}, shape, layout


def layer_norm(r, shape, layout):
    fields = {"eps": r.choice([1e-5, 1e-6]), "affine": _coin(r)}
    if layout == "CHW":
        fields["channels_first"] = True
    return fields, shape, layout


def linear_any(r, shape, layout):
    if layout == "CHW":
        return None
    fields, (features,) = linear(r, shape[-1])
    return fields, (*shape[:-1], features), layout


def multihead_attention(r, shape, layout):
    if len(shape) != 2:
        return None
    heads = r.choice([h for h in (1, 2, 3) if shape[1] % h == 0])
    return {"heads": heads, "dropout": r.choice([0.0, 0.1]), "bias": _coin(r)}, shape, layout


def window_attention(r, shape, layout):
    if layout != "HWC":
        return None
    heads = r.choice([h for h in (1, 2) if shape[2] % h == 0])
    window = r.choice([1, 2, 3, [2, 3]])
    shift = [r.randint(0, k - 1) for k in _as_pair(window)]
    fields = {"heads": heads, "window": window, "shift": shift, "qkv_bias": _coin(r)}
    return fields, shape, layout


def parameter(r, shape, layout):
    batch = _coin(r)
    init = r.choice(["zeros", "normal", "trunc_normal", 0.5])
    stored = [1, *shape] if batch else list(shape)
    return {"shape": stored, "batch": batch, "init": init}, shape, {1: "F", 2: "TD", 3: "CHW"}[len(shape)]


LAID_OPS = {
    "permute": permute,
    "transpose": transpose,
    "reshape": reshape,
    "slice": slice_,
    "select": select,
    "roll": roll,
    "channel_shuffle": channel_shuffle,
    "layer_norm": layer_norm,
    "multihead_attention": multihead_attention,
    "window_attention": window_attention,
    "parameter": parameter,
}
LAID_EXTRA = {"flatten": flatten_tokens, "linear": linear_any}  # more forms of ops listed above
JOIN_OPS = ("add", "multiply", "concat", "center_crop", "matmul")
COVERED = set(IMAGE_OPS) | set(ANY_OPS) | set(FEATURE_OPS) | set(JOIN_OPS) | set(LAID_OPS)


def _join(r, op: str, current: str, shapes: dict[str, Shape], layouts: dict[str, str]):
    """A join of the current node with an earlier one it fits (same layout), or None."""
    cur, lay = shapes[current], layouts[current]
    shapes = {n: s for n, s in shapes.items() if layouts[n] == lay or len(s) != len(cur)}
    if op == "matmul":
        if len(cur) < 2:
            return None
        fits = [n for n, s in shapes.items() if len(s) == len(cur) and s[:-2] == cur[:-2] and s[-2] == cur[-1]]
        if not fits:
            return None
        other = r.choice(fits)
        return {"in": [current, other]}, (*cur[:-1], shapes[other][-1])
    if op in ("add", "multiply"):
        fits = [n for n, s in shapes.items() if s == cur and n != current]
        if op == "multiply" and len(cur) == 3:
            gates = [n for n, s in shapes.items() if s == (cur[0], 1, 1)]
            if gates and _coin(r):
                return {"in": [current, r.choice(gates)], "broadcast": True}, cur
        other = r.choice(fits) if fits else current
        return {"in": [current, other]}, cur
    if op == "concat":
        fits = [n for n, s in shapes.items() if len(s) == len(cur) and s[1:] == cur[1:]]
        other = r.choice(fits)
        out = (cur[0] + shapes[other][0], *cur[1:])
        return {"in": [current, other], "axis": 1}, out
    if len(cur) != 3 or lay != "CHW":  # center_crop: crop the current image to an earlier, not larger one
        return None
    fits = [n for n, s in shapes.items() if len(s) == 3 and layouts[n] == "CHW" and s[1] <= cur[1] and s[2] <= cur[2]]
    other = r.choice(fits)
    return {"in": [current, other]}, (cur[0], *shapes[other][1:])


def step(r, op: str, current: str, shapes: dict, layouts: dict):
    """The node `op` would add after `current`: (fields, shape, layout), or None where it does not fit."""
    shape, layout = shapes[current], layouts[current]
    if op == "flatten_tokens":  # a forced lead: an image's pixels as tokens
        made = flatten_tokens(r, shape, layout)
        return None if made is None else ({"in": current, **made[0]}, made[1], made[2])
    if op in JOIN_OPS:
        made = _join(r, op, current, shapes, layouts)
        return None if made is None else (*made, layout)
    laid = LAID_OPS.get(op) or (LAID_EXTRA.get(op) if len(shape) > 1 or op == "flatten" else None)
    if laid is not None and (op in LAID_OPS or r.random() < 0.5):
        made = laid(r, shape, layout)
        return None if made is None else ({"in": current, **made[0]}, made[1], made[2])
    if (op in IMAGE_OPS and layout != "CHW") or (op in FEATURE_OPS and len(shape) != 1):
        return None
    made = {**IMAGE_OPS, **ANY_OPS, **FEATURE_OPS}[op](r, *shape)
    if made is None:
        return None
    out = made[1]
    out_layout = layout if len(out) == len(shape) else {1: "F", 2: "TD", 3: "CHW"}[len(out)]
    return {"in": current, **made[0]}, out, out_layout


# ops that need another op before them to apply to a fresh image input
LEADS = {
    "linear": ["flatten"],
    "multihead_attention": ["flatten_tokens"],
    "transpose": ["flatten_tokens"],
    "matmul": ["flatten_tokens"],
    "window_attention": ["permute"],
}
