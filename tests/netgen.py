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
JOIN_OPS = ("add", "multiply", "concat", "center_crop")
COVERED = set(IMAGE_OPS) | set(ANY_OPS) | set(FEATURE_OPS) | set(JOIN_OPS)


def _join(draw, op: str, current: str, shapes: dict[str, Shape]):
    """A join of the current node with an earlier one it fits, or None."""
    cur = shapes[current]
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
    if len(cur) != 3:  # center_crop: crop the current image to an earlier, not larger one
        return None
    fits = [n for n, s in shapes.items() if len(s) == 3 and s[1] <= cur[1] and s[2] <= cur[2]]
    other = draw(st.sampled_from(fits))
    return {"in": [current, other]}, (cur[0], *shapes[other][1:])


@st.composite
def network(draw, max_nodes: int = 6, force: str | None = None) -> tuple[str, dict[str, Shape], list[str]]:
    """A valid spec (YAML text) over random ops; returns it, the expected shapes and the ops used.
    With `force`, that op comes first (after a flatten, for ops on features)."""
    c, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    shapes: dict[str, Shape] = {"x": (c, h, w)}
    lines, used, current = [], [], "x"
    rnd = draw(st.randoms(use_true_random=False))  # an even choice of op: sampled_from favours the first
    plan = (["flatten"] if force in FEATURE_OPS else []) + ([force] if force else [])
    for i in range(len(plan) + draw(st.integers(0 if plan else 1, max_nodes))):
        shape = shapes[current]
        pool = list(ANY_OPS) + list(JOIN_OPS) + (list(IMAGE_OPS) if len(shape) == 3 else list(FEATURE_OPS))
        op = plan[i] if i < len(plan) else rnd.choice(sorted(pool))
        if op in JOIN_OPS:
            made = _join(draw, op, current, shapes)
        else:
            made = {**IMAGE_OPS, **ANY_OPS, **FEATURE_OPS}[op](draw, *shape)
            if made is not None:
                made = ({"in": current, **made[0]}, made[1])
        if made is None or min(made[1]) <= 0:
            continue
        fields, out = made
        named = rnd.random() < 0.7  # an unnamed node is named by its position: '3'
        name = f"n{i}" if named else str(len(lines))
        body = ", ".join(f"{k}: {_yaml(v)}" for k, v in fields.items())
        lines.append(f"  - {{{f'name: {name}, ' if named else ''}op: {op}, {body}}}")
        shapes[name], current = out, name
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
