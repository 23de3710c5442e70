"""The hint for an unknown op name (error AS101): the registered op it misspells, archspec's name
for another framework's op, or how to compose it from archspec's ops.

"Did you mean" proposes only an op of the same kind as the name, never a different function that
is spelled alike: `rleu` and `batchnorm` are misspellings (of relu, batchnorm2d), but `relu6` is not
relu (it clamps at 6), `conv3d` is not conv2d and `layernorm2d` is not batchnorm2d. So a suggestion
must keep the name's numbers (6, the 3 of 3d) and differ from it by at most a typo's worth of
letters, and names of other frameworks' ops that archspec lacks (`elu`, `groupnorm`) get none.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

# Other frameworks' names for an op archspec has (torch.nn, Keras, common abbreviations).
ALIASES: dict[str, str] = {
    "dense": "linear",
    "fc": "linear",
    "fully_connected": "linear",
    "bn": "batchnorm2d",
    "batch_norm": "batchnorm2d",
    "batchnormalization": "batchnorm2d",
    "swish": "silu",
    "convolution": "conv2d",
    "deconv2d": "conv_transpose2d",
    "conv2dtranspose": "conv_transpose2d",
    "maxpooling2d": "maxpool2d",
    "averagepooling2d": "avgpool2d",
    "gap": "global_avgpool2d",
    "globalaveragepooling2d": "global_avgpool2d",
    "adaptive_avg_pool2d": "adaptive_avgpool2d",
    "cat": "concat",
    "concatenate": "concat",
    "mul": "multiply",
    "lrn": "local_response_norm",
    "drop_path": "stochastic_depth",
    "droppath": "stochastic_depth",
    "upsampling2d": "upsample",
    "interpolate": "upsample",
    "layernorm": "layer_norm",
    "zeropadding2d": "zero_pad2d",
}

# Ops archspec builds from others: name -> (the ops it needs, how). Shown only while those exist.
COMPOSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "layernorm2d": (
        ("permute", "layer_norm"),
        "a LayerNorm over an image's channels is `permute` to channels-last (dims [0, 2, 3, 1]), `layer_norm`, "
        "`permute` back ([0, 3, 1, 2]), as torchvision's LayerNorm2d",
    ),
    "squeeze_excitation": (
        ("global_avgpool2d", "conv2d", "relu", "sigmoid", "multiply"),
        "squeeze-and-excitation is global_avgpool2d (keepdims: true), a 1x1 conv2d down, relu, a 1x1 conv2d up, "
        "sigmoid, then `multiply` (broadcast: true) with the input; see specs/se_resnet50.yaml",
    ),
    "conv_bn_relu": (
        ("conv2d", "batchnorm2d", "relu"),
        "write three nodes, conv2d (bias: false), batchnorm2d and relu, or a block of them",
    ),
    "conv_bn": (("conv2d", "batchnorm2d"), "write two nodes, conv2d (bias: false) and batchnorm2d, or a block"),
    "residual": (("add",), "a residual connection is an `add` of the branch and the shortcut: `in: [branch, x]`"),
    "sequential": ((), "a sequence of layers is a group: `- {name: ..., nodes: [...]}`"),
}
COMPOSITIONS["se"] = COMPOSITIONS["squeeze_excitation"]

# Other frameworks' ops that archspec does not have, by kind: never "corrected" to a look-alike.
DISTINCT: dict[str, str] = {
    **dict.fromkeys(
        ["elu", "selu", "celu", "prelu", "rrelu", "leaky_relu", "leakyrelu", "softplus", "softsign", "hardtanh"],
        "an activation",
    ),
    **dict.fromkeys(
        ["logsigmoid", "log_softmax", "softmin", "tanhshrink", "softshrink", "hardshrink", "glu"], "an activation"
    ),
    **dict.fromkeys(
        ["groupnorm", "group_norm", "instancenorm2d", "instance_norm", "batchnorm1d", "batchnorm3d", "rmsnorm"],
        "a normalization",
    ),
    **dict.fromkeys(["conv1d", "conv3d", "conv_transpose1d", "conv_transpose3d"], "a convolution"),
    **dict.fromkeys(
        ["maxpool1d", "maxpool3d", "avgpool1d", "avgpool3d", "adaptive_maxpool2d", "global_maxpool2d", "lppool2d"],
        "a pooling",
    ),
    **dict.fromkeys(["lstm", "gru", "rnn", "embedding", "pixel_shuffle", "pixel_unshuffle", "unfold", "fold"], "an op"),
    **dict.fromkeys(["dropout1d", "dropout2d", "dropout3d", "alpha_dropout"], "a dropout"),
}

_NUMBER = re.compile(r"\d+")
_DIMS = re.compile(r"\d+d\b|\d+")


def op_hint(name: str, ops: Mapping) -> str:
    """The hint of AS101 for `name`, given the registered `ops`."""
    key = name.strip().lower().replace("-", "_")
    if key in ops:
        return f"op names are lower case: did you mean '{key}'?"
    for k in (key, key.replace("_", "")):
        if ALIASES.get(k) in ops:
            return f"did you mean '{ALIASES[k]}'? (archspec's name for {name})"
        if k in COMPOSITIONS and all(o in ops for o in COMPOSITIONS[k][0]):
            return f"archspec has no '{name}' op: {COMPOSITIONS[k][1]}"
    if key in DISTINCT or key.replace("_", "") in DISTINCT:
        kind = DISTINCT.get(key) or DISTINCT[key.replace("_", "")]
        return f"'{name}' is {kind} archspec does not have, not a spelling of one it has; see docs/reference.md#ops"
    match = suggest(key, ops)
    if match:
        return f"did you mean '{match}'?"
    return f"known ops: {', '.join(sorted(ops))}"


def suggest(name: str, ops) -> str | None:
    """The registered op `name` misspells, if one is close enough to be the same op."""
    if len(name) > 100:
        return None
    numbers = _NUMBER.findall(name)
    letters = _letters(name)
    best: tuple[int, float, str] | None = None
    for op in ops:
        if numbers and _NUMBER.findall(op) != numbers:  # relu6 is not relu, conv3d is not conv2d
            continue
        distance = _distance(letters, _letters(op))
        if distance > max(1, len(letters) // 4):  # more than a typo: another word (layer vs batch)
            continue
        score = (distance, -difflib.SequenceMatcher(None, name, op).ratio(), op)
        best = score if best is None or score < best else best
    return best[2] if best else None


def _letters(name: str) -> str:
    """The name without its numbers and dimensions (`2d`) or separators: what is spelled."""
    return re.sub(r"[_\-\s]", "", _DIMS.sub("", name.lower()))


def _distance(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours as one edit (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[len(b)]
