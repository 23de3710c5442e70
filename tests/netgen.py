"""Random valid networks over every registered op, for the differential fuzz test.

`network(draw)` builds a spec node by node, tracking the current shape so that each op gets
fields it accepts (kernels that fit, groups that divide, joins of equal shapes). Every node is
listed in `outputs`, so the built module returns every node's value and each real shape can be
compared with the inferred one. Shapes are tiny: the point is the code paths, not the FLOPs.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

Shape = tuple[int, ...]

INITS = [
    "default",
    "kaiming_normal_fan_out",
    "kaiming_normal_fan_in",
    "normal",
    "trunc_normal",
    "xavier_uniform",
    "zeros",
]


def _bias_init(draw):
    return draw(st.sampled_from(["default", "zeros", -2.0, 0.5]))


def _pair(draw, lo: int, hi: int):
    if hi < lo:
        hi = lo
    if draw(st.booleans()):
        return draw(st.integers(lo, hi))
    return [draw(st.integers(lo, hi)), draw(st.integers(lo, hi))]


def _as_pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _window_fits(h: int, w: int, k, p, d=1) -> bool:
    k, p, d = _as_pair(k), _as_pair(p), _as_pair(d)
    return all(size + 2 * p[i] >= d[i] * (k[i] - 1) + 1 for i, size in enumerate((h, w)))


# Each generator returns the node's fields and its output shape, or None when it does not apply.


def conv2d(draw, c, h, w):
    channels = draw(st.integers(1, 6))
    groups = draw(st.sampled_from([g for g in range(1, 4) if c % g == 0 and channels % g == 0]))
    k, d = _pair(draw, 1, 3), _pair(draw, 1, 2)
    padding = draw(st.sampled_from([0, 1, [1, 0], "valid", "same"]))
    stride = 1 if padding == "same" else _pair(draw, 1, 2)
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
    fields |= {"groups": groups, "bias": draw(st.booleans()), "init": draw(st.sampled_from(INITS))}
    fields["bias_init"] = _bias_init(draw)
    return fields, (channels, oh, ow)


def conv_transpose2d(draw, c, h, w):
    channels, k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2)), 1
    p = draw(st.integers(0, 1))
    op = draw(st.integers(0, max(s, d) - 1))
    out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n in (h, w)]
    if min(out) <= 0:
        return None
    fields = {"channels": channels, "kernel": k, "stride": s, "padding": p, "output_padding": op}
    fields |= {"bias": draw(st.booleans()), "init": draw(st.sampled_from(INITS)), "bias_init": _bias_init(draw)}
    return fields, (channels, *out)


def batchnorm2d(draw, c, h, w):
    fields = {"eps": draw(st.sampled_from([1e-5, 1e-3])), "momentum": draw(st.sampled_from([0.1, 0.9]))}
    fields |= {"affine": draw(st.booleans()), "init": draw(st.sampled_from(["default", "zeros"]))}
    return fields, (c, h, w)


def _pool(draw, c, h, w, op):
    k = _pair(draw, 1, 3)
    p = draw(st.sampled_from([0, 1]))
    if any(p * 2 > kk for kk in _as_pair(k)):
        p = 0
    dil = _pair(draw, 1, 2) if op == "maxpool2d" else 1
    if not _window_fits(h, w, k, p, dil):
        return None
    stride = draw(st.sampled_from([None, 1, 2]))
    ceil = draw(st.booleans())
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
        fields["count_include_pad"] = draw(st.booleans())
    return fields, (c, *out)


def maxpool2d(draw, c, h, w):
    return _pool(draw, c, h, w, "maxpool2d")


def avgpool2d(draw, c, h, w):
    return _pool(draw, c, h, w, "avgpool2d")


def adaptive_avgpool2d(draw, c, h, w):
    size = draw(st.sampled_from([1, 2, [1, 2]]))
    return {"size": size}, (c, *_as_pair(size))


def global_avgpool2d(draw, c, h, w):
    keep = draw(st.booleans())
    return {"keepdims": keep}, ((c, 1, 1) if keep else (c,))


def flatten(draw, *shape):
    return {}, (math.prod(shape),)


def local_response_norm(draw, c, h, w):
    return {"size": draw(st.integers(1, 3)), "alpha": 1e-4, "beta": 0.75, "k": draw(st.sampled_from([1.0, 2.0]))}, (
        c,
        h,
        w,
    )


def zero_pad2d(draw, c, h, w):
    p = draw(st.sampled_from([0, 1, [1, 0, 2, 0]]))
    left, right, top, bottom = (p, p, p, p) if isinstance(p, int) else p
    return {"padding": p}, (c, h + top + bottom, w + left + right)


def pad_channels(draw, c, h, w):
    channels = c + draw(st.integers(0, 3))
    return {"channels": channels}, (channels, h, w)


def subsample2d(draw, c, h, w):
    s = _pair(draw, 1, 2)
    sh, sw = _as_pair(s)
    return {"stride": s}, (c, -(-h // sh), -(-w // sw))


def upsample(draw, c, h, w):
    if h * w > 64:
        return None
    scale = draw(st.integers(1, 2))
    return {"scale": scale, "mode": draw(st.sampled_from(["nearest", "bilinear"]))}, (c, h * scale, w * scale)


def linear(draw, f):
    fields = {"features": draw(st.integers(1, 8)), "bias": draw(st.booleans())}
    fields |= {"init": draw(st.sampled_from(INITS)), "bias_init": _bias_init(draw)}
    return fields, (fields["features"],)


def _same(fields_fn):
    def gen(draw, *shape):
        return fields_fn(draw), shape

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
    "relu": _same(lambda d: {}),
    "sigmoid": _same(lambda d: {}),
    "tanh": _same(lambda d: {}),
    "silu": _same(lambda d: {}),
    "identity": _same(lambda d: {}),
    "gelu": _same(lambda d: {"approximate": d(st.sampled_from(["none", "tanh"]))}),
    "softmax": _same(lambda d: {"axis": d(st.sampled_from([1, -1]))}),
    "flatten": flatten,
    "dropout": _same(lambda d: {"p": d(st.sampled_from([0.0, 0.5]))}),
    "stochastic_depth": _same(
        lambda d: {"p": d(st.sampled_from([0.0, 0.2])), "mode": d(st.sampled_from(["row", "batch"]))}
    ),
    "scale": _same(lambda d: {"factor": d(st.sampled_from([-1.0, 0.5])), "offset": d(st.sampled_from([0.0, 1.0]))}),
}
FEATURE_OPS = {"linear": linear}
for _act in ("relu6", "hardsigmoid", "hardswish", "mish"):
    ANY_OPS[_act] = _same(lambda d: {})


# Ops that read or change the layout: (draw, shape, layout) -> (fields, shape, layout) or None.
# Layouts: "CHW" images (NHWC in Flax), "HWC" channels-last maps, "TD"/"DT" tokens, "F" features.


def permute(draw, shape, layout):
    if layout == "CHW":
        return {"dims": [0, 2, 3, 1]}, (shape[1], shape[2], shape[0]), "HWC"
    if layout == "HWC":
        return {"dims": [0, 3, 1, 2]}, (shape[2], shape[0], shape[1]), "CHW"
    if len(shape) == 2:
        return {"dims": [0, 2, 1]}, (shape[1], shape[0]), layout[::-1]
    return None


def transpose(draw, shape, layout):
    if len(shape) != 2:
        return None
    return {"axes": draw(st.sampled_from([[1, 2], [-1, -2]]))}, (shape[1], shape[0]), layout[::-1]


def flatten_tokens(draw, shape, layout):
    if layout != "CHW":
        return None
    return {"start": 2}, (shape[0], shape[1] * shape[2]), "DT"


def reshape(draw, shape, layout):
    size = math.prod(shape)
    first = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    return {"shape": [first, -1]}, (first, size // first), "TD"


def slice_(draw, shape, layout):
    axis = draw(st.integers(1, len(shape)))
    size = shape[axis - 1]
    start = draw(st.integers(0, size - 1))
    stop = draw(st.integers(start + 1, size))
    step = draw(st.integers(1, 2))
    fields = {"axis": axis, "start": start, "stop": stop, "step": step}
    return fields, (*shape[: axis - 1], -(-(stop - start) // step), *shape[axis:]), layout


def select(draw, shape, layout):
    if len(shape) < 2:
        return None
    axis = draw(st.integers(1, len(shape)))
    at = draw(st.integers(-shape[axis - 1], shape[axis - 1] - 1))
    out = (*shape[: axis - 1], *shape[axis:])
    rest = layout[: axis - 1] + layout[axis:]
    return {"axis": axis, "at": at}, out, "F" if len(out) == 1 else {"HW": "TD"}.get(rest, rest)


def roll(draw, shape, layout):
    axes = draw(st.sampled_from([[1], [-1], list(range(1, len(shape) + 1))]))
    return {"shifts": [draw(st.integers(-3, 3)) for _ in axes], "axes": axes}, shape, layout


def channel_shuffle(draw, shape, layout):
    if layout != "CHW":
        return None
    groups = draw(st.sampled_from([g for g in range(1, 4) if shape[0] % g == 0]))
    return {"groups": groups}, shape, layout


def layer_norm(draw, shape, layout):
    fields = {"eps": draw(st.sampled_from([1e-5, 1e-6])), "affine": draw(st.booleans())}
    if layout == "CHW":
        fields["channels_first"] = True
    return fields, shape, layout


def linear_any(draw, shape, layout):
    if layout == "CHW":
        return None
    fields, (features,) = linear(draw, shape[-1])
    return fields, (*shape[:-1], features), layout


def multihead_attention(draw, shape, layout):
    if len(shape) != 2:
        return None
    heads = draw(st.sampled_from([h for h in (1, 2, 3) if shape[1] % h == 0]))
    return {"heads": heads, "dropout": draw(st.sampled_from([0.0, 0.1])), "bias": draw(st.booleans())}, shape, layout


def window_attention(draw, shape, layout):
    if layout != "HWC":
        return None
    heads = draw(st.sampled_from([h for h in (1, 2) if shape[2] % h == 0]))
    window = draw(st.sampled_from([1, 2, 3, [2, 3]]))
    shift = [draw(st.integers(0, k - 1)) for k in _as_pair(window)]
    fields = {"heads": heads, "window": window, "shift": shift, "qkv_bias": draw(st.booleans())}
    return fields, shape, layout


def parameter(draw, shape, layout):
    batch = draw(st.booleans())
    init = draw(st.sampled_from(["zeros", "normal", "trunc_normal", 0.5]))
    stored = [1, *shape] if batch else list(shape)
    return {"shape": stored, "batch": batch, "init": init}, shape, layout


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


def _join(draw, op: str, current: str, shapes: dict[str, Shape], layouts: dict[str, str]):
    """A join of the current node with an earlier one it fits (same layout), or None."""
    cur, lay = shapes[current], layouts[current]
    shapes = {n: s for n, s in shapes.items() if layouts[n] == lay or len(s) != len(cur)}
    if op == "matmul":
        if len(cur) < 2:
            return None
        fits = [n for n, s in shapes.items() if len(s) == len(cur) and s[:-2] == cur[:-2] and s[-2] == cur[-1]]
        if not fits:
            return None
        other = draw(st.sampled_from(fits))
        return {"in": [current, other]}, (*cur[:-1], shapes[other][-1])
    if op in ("add", "multiply"):
        fits = [n for n, s in shapes.items() if s == cur and n != current]
        if op == "multiply" and len(cur) == 3:
            gates = [n for n, s in shapes.items() if s == (cur[0], 1, 1)]
            if gates and draw(st.booleans()):
                return {"in": [current, draw(st.sampled_from(gates))], "broadcast": True}, cur
        other = draw(st.sampled_from(fits)) if fits else current
        return {"in": [current, other]}, cur
    if op == "concat":
        fits = [n for n, s in shapes.items() if len(s) == len(cur) and s[1:] == cur[1:]]
        other = draw(st.sampled_from(fits))
        out = (cur[0] + shapes[other][0], *cur[1:])
        return {"in": [current, other], "axis": 1}, out
    if len(cur) != 3 or lay != "CHW":  # center_crop: crop the current image to an earlier, not larger one
        return None
    fits = [n for n, s in shapes.items() if len(s) == 3 and layouts[n] == "CHW" and s[1] <= cur[1] and s[2] <= cur[2]]
    other = draw(st.sampled_from(fits))
    return {"in": [current, other]}, (cur[0], *shapes[other][1:])


def _step(draw, rnd, op: str, current: str, shapes: dict, layouts: dict):
    """The node `op` would add after `current`: (fields, shape, layout), or None where it does not fit."""
    shape, layout = shapes[current], layouts[current]
    if op == "flatten_tokens":  # a forced lead: an image's pixels as tokens
        made = flatten_tokens(draw, shape, layout)
        return None if made is None else ({"in": current, **made[0]}, made[1], made[2])
    if op in JOIN_OPS:
        made = _join(draw, op, current, shapes, layouts)
        return None if made is None else (*made, layout)
    laid = LAID_OPS.get(op) or (LAID_EXTRA.get(op) if len(shape) > 1 or op == "flatten" else None)
    if laid is not None and (op in LAID_OPS or rnd.random() < 0.5):
        made = laid(draw, shape, layout)
        return None if made is None else ({"in": current, **made[0]}, made[1], made[2])
    if (op in IMAGE_OPS and layout != "CHW") or (op in FEATURE_OPS and len(shape) != 1):
        return None
    made = {**IMAGE_OPS, **ANY_OPS, **FEATURE_OPS}[op](draw, *shape)
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


@st.composite
def network(draw, max_nodes: int = 6, force: str | None = None) -> tuple[str, dict[str, Shape], list[str]]:
    """A valid spec (YAML text) over random ops; returns it, the expected shapes and the ops used.
    With `force`, that op comes first (after the op it needs, e.g. a flatten for ops on features)."""
    c, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    shapes: dict[str, Shape] = {"x": (c, h, w)}
    layouts: dict[str, str] = {"x": "CHW"}
    lines, used, current = [], [], "x"
    rnd = draw(st.randoms(use_true_random=False))  # an even choice of op: sampled_from favours the first
    plan = LEADS.get(force, []) + ([force] if force else [])
    for i in range(len(plan) + draw(st.integers(0 if plan else 1, max_nodes))):
        shape, layout = shapes[current], layouts[current]
        pool = [*ANY_OPS, *JOIN_OPS, *LAID_OPS, *LAID_EXTRA]
        pool += list(IMAGE_OPS) if layout == "CHW" else list(FEATURE_OPS) if len(shape) == 1 else []
        op = plan[i] if i < len(plan) else rnd.choice(sorted(set(pool)))
        made = _step(draw, rnd, op, current, shapes, layouts)
        if made is None or min(made[1], default=0) <= 0 or len(made[1]) not in (1, 2, 3):
            continue
        fields, out, out_layout = made
        op = "flatten" if op == "flatten_tokens" else op
        named = rnd.random() < 0.7  # an unnamed node is named by its position: '3'
        name = f"n{i}" if named else str(len(lines))
        body = ", ".join(f"{k}: {_yaml(v)}" for k, v in fields.items())
        lines.append(f"  - {{{f'name: {name}, ' if named else ''}op: {op}, {body}}}")
        shapes[name], layouts[name], current = out, out_layout, name
        used.append(op)
    if not lines:
        lines.append("  - {name: n0, op: identity, in: x}")
        shapes["n0"], used = (c, h, w), ["identity"]
    names = [n for n in shapes if n != "x"]
    listed = ", ".join(f"'{n}'" for n in names)
    text = f"name: fuzz\ninputs: {{x: [{c}, {h}, {w}]}}\noutputs: [{listed}]\nnodes:\n" + "\n".join(lines)
    return text + "\n", {n: shapes[n] for n in names}, used


def _yaml(v) -> str:
    if isinstance(v, str) and v.isdigit():
        return f"'{v}'"
    if isinstance(v, list):
        return "[" + ", ".join(_yaml(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
