"""RegNet (specs/regnet_y_400mf.yaml, specs/blocks/regnet.yaml) against torchvision 0.29.1: parameter
count, MACs, state_dict keys and shapes in order (tests/reference/torchvision_modern.json), every
other torchvision RegNet as a `variant` (torchvision's published figures), and torch <-> Flax parity.

The spec uses the language features RegNet needs: blocks read their input's width (`in_channels`),
the widths come from RegNet's quantized linear parameterisation (`log`, `make_divisible`), and the
blocks are named `block1-0` as torchvision's AnyStage names them (keys, not attributes)."""

import numpy as np
import pytest
from conftest import SPECS

import archspec

SPEC = SPECS / "regnet_y_400mf.yaml"
SMALL = 64  # input size of the parity tests: CI runs on two CPU cores

# torchvision 0.29.1's regnet_<variant> weights: num_params and _ops (GMACs at the crop size)
VARIANTS = {
    "y_400mf": (4_344_144, 0.402, 224),
    "y_800mf": (6_432_512, 0.834, 224),
    "y_1_6gf": (11_202_430, 1.612, 224),
    "y_3_2gf": (19_436_338, 3.176, 224),
    "y_8gf": (39_381_472, 8.473, 224),
    "y_16gf": (83_590_140, 15.912, 224),
    "y_32gf": (145_046_770, 32.28, 224),
    "y_128gf": (644_812_894, 374.57, 384),  # its only weights are SWAG's, at 384
    "x_400mf": (5_495_976, 0.414, 224),
    "x_800mf": (7_259_656, 0.8, 224),
    "x_1_6gf": (9_190_136, 1.603, 224),
    "x_3_2gf": (15_296_552, 3.177, 224),
    "x_8gf": (39_572_648, 7.995, 224),
    "x_16gf": (54_278_536, 15.941, 224),
    "x_32gf": (107_811_560, 31.736, 224),
}


@pytest.fixture(scope="module")
def reference(modern_reference) -> dict:
    return modern_reference["regnet_y_400mf"]


def test_counts_match_torchvision(reference):
    net = archspec.load(SPEC)
    assert net.total_params == reference["params"] == 4_344_144
    assert abs(net.total_macs - reference["macs"]) <= 0.005 * reference["macs"]
    assert list(net.graph.inputs.values()) == [tuple(reference["input"])]
    assert net.output_shapes == {"fc": (1000,)}


def test_state_dict_is_torchvisions(reference):
    pytest.importorskip("torch")
    model = archspec.build(SPEC, backend="torch", init=False)
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == [(k, shape) for k, shape in reference["state_dict"]]


def test_node_paths_keep_torchvisions_block_names():
    net = archspec.load(SPEC)
    stage = [p.split(".")[2] for p in net.nodes if p.startswith("trunk_output.block2.") and p.endswith(".add")]
    assert stage == ["block2-0", "block2-1", "block2-2"]
    # the first block of a stage changes width and size: only it projects its shortcut
    assert "trunk_output.block2.block2-0.proj.0" in net.nodes
    assert "trunk_output.block2.block2-1.proj.0" not in net.nodes


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_torchvision_regnet_is_a_variant(variant):
    params, gmacs, size = VARIANTS[variant]
    net = archspec.load(SPEC, variant=variant, image_size=size)
    assert net.total_params == params
    assert abs(net.total_macs - gmacs * 1e9) <= 0.005 * gmacs * 1e9
    assert ("trunk_output.block1.block1-0.f.se.fc1" in net.nodes) == variant.startswith("y")


def test_an_unknown_variant_names_the_known_ones():
    [error] = archspec.analyze(SPEC, {"variant": "z_400mf"}).errors
    assert error.code == "AS201" and error.loc.line is not None
    assert "no key 'z_400mf' (keys: y_400mf, y_800mf," in error.message


def test_generated_code_registers_blocks_by_name():
    """`block1-0` is a key of a module dict in both backends, never an attribute."""
    for backend, container in (("torch", "nn.ModuleDict("), ("flax", "nnx.Dict(")):
        source = archspec.compile(SPEC, backend=backend)
        assert '"block1-0": ResBottleneckBlockWithProj(32, 48, ' in source
        assert f"self.block1 = {container}" in source
        assert 'x = self.block1["block1-0"](x)' in source
        assert 'attr(self, "block' not in source  # no setattr / getattr


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(a).max())


def test_torch_to_flax_and_back_agree():
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    nnx = pytest.importorskip("flax.nnx")
    net = archspec.load(SPEC, image_size=SMALL)
    x = np.random.RandomState(0).randn(2, 3, SMALL, SMALL).astype(np.float32)
    forward = nnx.jit(lambda m, x: m(x))

    t = archspec.build(net, backend="torch", seed=0).eval()
    from test_flax_backend import randomise_bn

    randomise_bn(t)
    f = archspec.transfer(t, archspec.build(net, backend="flax", seed=1))
    f.eval()
    with torch.no_grad():
        expected = t(torch.from_numpy(x)).numpy()
    got = np.asarray(forward(f, jax.numpy.asarray(x.transpose(0, 2, 3, 1))))
    assert _relative(expected, got) <= 1e-5

    t2 = archspec.transfer(f, archspec.build(net, backend="torch", seed=3)).eval()
    with torch.no_grad():
        back = t2(torch.from_numpy(x)).numpy()
    assert _relative(expected, back) <= 1e-5
