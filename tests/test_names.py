"""Names: node names that are state_dict keys but not identifiers (`block1-0`), and what an unknown
op name is told ("did you mean" only for the same op misspelt, aliases, compositions)."""

import numpy as np
import pytest

import archspec
from archspec.opnames import op_hint, suggest
from archspec.ops import OPS

KEYED = """
blocks:
  unit:
    nodes:
      - {name: conv-a, op: conv2d, channels: 4, kernel: 3, padding: 1}
      - {name: act, op: relu}
      - {name: add, op: add, in: [act, x]}
inputs: {x: [4, 6, 6]}
nodes:
  - name: stages
    nodes:
      - name: block1
        nodes:
          - {repeat: 2, inline: true, names: "block1-${i}", block: unit}
          - {name: tail-1, op: conv2d, channels: 4, kernel: 1}
  - {name: pool, op: global_avgpool2d}
  - {name: fc, op: linear, features: 3}
"""


def test_keys_are_node_names_and_references():
    net = archspec.load(KEYED + "  - {name: extra, op: relu, in: stages.block1.block1-1}\n")
    assert "stages.block1.block1-0.conv-a" in net.nodes
    assert net.graph.node("extra").inputs == ("stages.block1.block1-1.add",)


@pytest.mark.parametrize("backend", ["torch", "flax"])
def test_keys_are_registered_in_module_dicts_never_as_attributes(backend):
    source = archspec.compile(KEYED, backend=backend)
    container = "nn.ModuleDict(" if backend == "torch" else "nnx.Dict("
    assert f"self.block1 = {container}" in source
    assert '"block1-0": ' in source and '"tail-1": ' in source
    assert 'self.block1["block1-0"]["conv-a"](x)' in source
    assert "setattr(" not in source and "getattr(" not in source


def test_state_dict_keys_are_the_names_and_weights_transfer_both_ways():
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    net = archspec.load(KEYED)
    t = archspec.build(net, backend="torch").eval()
    assert list(t.state_dict())[:2] == ["stages.block1.block1-0.conv-a.weight", "stages.block1.block1-0.conv-a.bias"]
    f = archspec.transfer(t, archspec.build(net, backend="flax", seed=1))
    f.eval()
    x = np.random.RandomState(0).randn(2, 4, 6, 6).astype(np.float32)
    with torch.no_grad():
        expected = t(torch.from_numpy(x)).numpy()
    got = np.asarray(f(jax.numpy.asarray(x.transpose(0, 2, 3, 1))))
    assert np.abs(expected - got).max() <= 1e-5 * np.abs(expected).max()
    back = archspec.transfer(f, archspec.build(net, backend="torch", seed=2))
    assert all(torch.equal(a, b) for a, b in zip(t.state_dict().values(), back.state_dict().values()))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a.b", "contains '.', which separates the parts of a node path"),
        ("-x", "is not a valid node name"),
        ("a b", "is not a valid node name"),
        ("", "is not a valid node name"),
        ("é", "is not a valid node name"),
    ],
)
def test_names_that_are_not_keys_are_refused(name, problem):
    text = f"inputs: {{x: [4]}}\nnodes:\n  - name: g\n    nodes:\n      - {{name: '{name}', op: relu}}\n"
    [error] = archspec.analyze("<spec>", text=text).errors
    assert error.code == "AS105" and problem in error.message


@pytest.mark.parametrize("name", ["block-1", "class", "forward", "0", "__init__"])
def test_every_key_is_a_node_name_at_any_level(name):
    """Keywords, framework attributes, positions, keys: each is a state_dict key part, so each names
    a node anywhere; the backends decide how it is written (tests/test_keyed_names.py)."""
    text = (
        f"inputs: {{x: [4]}}\nnodes:\n  - {{name: '{name}', op: relu}}\n"
        f"  - {{name: g, nodes: [{{name: '{name}', op: relu}}]}}\n"
    )
    net = archspec.load(text)
    assert name in net.nodes and f"g.{name}" in net.nodes
    for backend in ("torch", "flax"):
        compile(archspec.compile(net, backend=backend), "<generated>", "exec")


@pytest.mark.parametrize(
    ("unknown", "suggested"),
    [
        ("rleu", "relu"),
        ("sigmod", "sigmoid"),
        ("batchnorm", "batchnorm2d"),
        ("batchnrom2d", "batchnorm2d"),
        ("conv", "conv2d"),
        ("conv2", "conv2d"),
        ("globalavgpool2d", "global_avgpool2d"),
        ("relu7", None),  # a number of its own: another op, not relu or relu6
        ("conv3d", None),
        ("layernorm2d", None),  # not batchnorm2d: another word, not a typo
        ("frobnicate", None),
    ],
)
def test_did_you_mean_only_for_a_misspelling_of_the_same_op(unknown, suggested):
    assert suggest(unknown, OPS) == suggested


@pytest.mark.parametrize(
    ("unknown", "hint"),
    [
        ("ReLU", "op names are lower case: did you mean 'relu'?"),
        ("dense", "did you mean 'linear'? (archspec's name for dense)"),
        ("Swish", "did you mean 'silu'?"),
        ("elu", "'elu' is an activation archspec does not have, not a spelling of one it has"),
        ("conv3d", "'conv3d' is a convolution archspec does not have"),
        ("layernorm2d", "archspec has no 'layernorm2d' op: a LayerNorm over an image's channels is `permute`"),
        ("se", "squeeze-and-excitation is global_avgpool2d (keepdims: true)"),
        ("frobnicate", "known ops: "),
    ],
)
def test_unknown_op_hints(unknown, hint):
    assert hint in op_hint(unknown, OPS)


def test_compositions_name_only_registered_ops():
    """A composition is shown only while the ops it names exist (the registry grows under it)."""
    assert op_hint("layernorm2d", {"relu": None}) == "known ops: relu"
    assert op_hint("squeeze_excitation", OPS).startswith("archspec has no 'squeeze_excitation' op")
