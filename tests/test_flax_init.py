"""Flax initialisation: PyTorch's distributions, reproducible values, one compiled random program
per distribution instead of one per parameter shape, and `init=False` modules that
`archspec.transfer` fills without drawing a random number."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import SPECS

import archspec

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
nnx = pytest.importorskip("flax.nnx")

INITS_SPEC = """\
inputs: {x: [384]}
nodes:
  - {name: default, op: linear, features: 256, in: x}
  - {name: kaiming_out, op: linear, features: 192, init: kaiming_normal_fan_out, in: x}
  - {name: kaiming_in, op: linear, features: 192, init: kaiming_normal_fan_in, in: x}
  - {name: normal, op: linear, features: 256, init: normal, in: x}
  - {name: xavier, op: linear, features: 256, init: xavier_uniform, in: x}
  - {name: zeros, op: linear, features: 256, init: zeros, in: x}
  - {name: constant_bias, op: linear, features: 256, bias_init: 0.5, in: x}
  - {name: conv, op: conv2d, channels: 96, kernel: 3, init: kaiming_normal_fan_out, in: image}
  - {name: bn, op: batchnorm2d}
  - {name: out, op: concat, in: [default, kaiming_out, kaiming_in, normal, xavier, zeros, constant_bias]}
"""


@pytest.fixture(scope="module")
def inits_net(tmp_path_factory):
    path = tmp_path_factory.mktemp("inits") / "inits.yaml"
    text = INITS_SPEC.replace("inputs: {x: [384]}", "inputs: {x: [384], image: [64, 8, 8]}")
    text += "outputs: [out, bn]\n"
    path.write_text(text)
    return archspec.load(path)


def _stats(a: np.ndarray) -> tuple[float, float, float]:
    return float(a.mean()), float(a.std()), float(np.abs(a).max())


@pytest.mark.parametrize("layer", ["default", "kaiming_out", "kaiming_in", "normal", "xavier", "zeros", "conv"])
def test_flax_weights_follow_pytorch_distributions(inits_net, layer):
    state = archspec.transfer(archspec.build(inits_net, backend="flax", seed=0), archspec.build(inits_net))
    flax_weight = state.state_dict()[f"{layer}.weight"].numpy()  # the Flax values, in PyTorch's layout
    torch_weight = archspec.build(inits_net, seed=0).state_dict()[f"{layer}.weight"].numpy()
    (fm, fs, fmax), (tm, ts, tmax) = _stats(flax_weight), _stats(torch_weight)
    assert abs(fm - tm) <= 0.02 * max(ts, 1e-12) + 1e-12
    assert abs(fs - ts) <= 0.03 * ts + 1e-12
    if layer in ("default", "xavier"):  # uniform: the same bound, reached
        assert fmax <= tmax * 1.01 + 1e-12 and fmax >= 0.99 * tmax


def test_flax_biases_follow_pytorch(inits_net):
    flax_state = archspec.transfer(archspec.build(inits_net, backend="flax", seed=0), archspec.build(inits_net))
    ours, theirs = flax_state.state_dict(), archspec.build(inits_net, seed=0).state_dict()
    bound = 384**-0.5  # PyTorch's default bias: U(+-1/sqrt(fan_in))
    assert np.abs(ours["default.bias"].numpy()).max() <= bound
    assert abs(ours["default.bias"].numpy().std() - theirs["default.bias"].numpy().std()) < 0.2 * bound
    assert np.all(ours["constant_bias.bias"].numpy() == 0.5)
    assert np.all(ours["zeros.weight"].numpy() == 0) and np.all(ours["zeros.bias"].numpy() == 0)
    assert np.all(ours["bn.weight"].numpy() == 1) and np.all(ours["bn.running_var"].numpy() == 1)


def _parameter_digest(seed: int) -> str:
    code = f"""
        import hashlib, numpy as np, archspec
        from flax import nnx
        model = archspec.build({str(SPECS / "resnet18.yaml")!r}, backend="flax", seed={seed})
        digest = hashlib.sha256()
        variables = [(p, v) for p, v in nnx.iter_graph(model) if isinstance(v, (nnx.Param, nnx.BatchStat))]
        for path, variable in sorted(variables, key=lambda item: repr(item[0])):
            digest.update(repr(path).encode() + np.asarray(variable.get_value()).tobytes())
        print(digest.hexdigest())
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_same_seed_gives_identical_parameters_across_processes():
    first, second, other = _parameter_digest(0), _parameter_digest(0), _parameter_digest(1)
    assert first == second
    assert first != other


def test_eager_build_compiles_one_random_program_per_distribution():
    """ResNet-50 has 54 random parameters in 30 shapes; drawing each shape eagerly compiled a
    program for each (about 120 compiles, most of a cold build's time)."""
    code = f"""
        import logging, jax
        from flax import nnx
        jax.config.update("jax_log_compiles", True)
        compiled = []
        class Count(logging.Handler):
            def emit(self, record):
                if record.getMessage().startswith("Compiling "):
                    compiled.append(record.getMessage().split()[1])
        logging.getLogger("jax").addHandler(Count())
        import archspec
        archspec.build({str(SPECS / "resnet50.yaml")!r}, backend="flax")
        print(" ".join(compiled))
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    compiled = out.stdout.split()
    assert len(compiled) <= 12, compiled
    assert sum("normal" in name for name in compiled) == 1, compiled


RANDOM = ("normal", "uniform", "truncated_normal", "bernoulli", "bits", "fold_in", "split", "randint", "permutation")


@pytest.fixture
def random_draws(monkeypatch):
    """Calls of JAX's random functions that computed values (a traced call computes nothing)."""
    drawn: list[str] = []
    for name in RANDOM:
        original = getattr(jax.random, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            out = _original(*args, **kwargs)
            if not isinstance(out, jax.core.Tracer):
                drawn.append(_name)
            return out

        monkeypatch.setattr(jax.random, name, spy)
    return drawn


def test_init_false_and_transfer_from_torch_draw_no_random_numbers(random_draws):
    torch_model = archspec.build(SPECS / "resnet50.yaml").eval()
    for m in torch_model.modules():  # statistics that are not the defaults, so transfer must carry them
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    flax_model = archspec.build(SPECS / "resnet50.yaml", backend="flax", init=False)
    kernel = flax_model.conv1.kernel.get_value()
    assert isinstance(kernel, jax.ShapeDtypeStruct) and kernel.shape == (7, 7, 3, 64)
    archspec.transfer(torch_model, flax_model)
    flax_model.eval()
    x = np.random.RandomState(0).randn(2, 3, 64, 64).astype(np.float32)
    ours = np.asarray(flax_model(jax.numpy.asarray(x.transpose(0, 2, 3, 1))))
    assert random_draws == []
    with torch.no_grad():
        theirs = torch_model(torch.from_numpy(x)).numpy()
    assert np.abs(ours - theirs).max() <= 1e-5 * np.abs(theirs).max()


def test_init_false_modules_train_after_transfer():
    """Dropout streams get real keys: the filled module trains."""
    flax_model = archspec.build(SPECS / "alexnet.yaml", backend="flax", init=False)
    archspec.transfer(archspec.build(SPECS / "alexnet.yaml"), flax_model)
    flax_model.train()
    assert flax_model(jax.numpy.ones((2, 224, 224, 3))).shape == (2, 1000)


def test_torch_init_false_is_meta_until_transfer():
    source = archspec.build(SPECS / "resnet18.yaml", seed=4).eval()
    target = archspec.build(SPECS / "resnet18.yaml", init=False)
    assert all(p.is_meta for p in target.parameters())
    archspec.transfer(source, target)
    assert not any(t.is_meta for t in target.state_dict().values())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(target.eval()(x), source(x))


def test_jit_and_eager_construction_agree():
    """Under jit the same blocks are drawn as one batched program: the same values, up to the
    last bit of a float32 multiply."""
    spec = SPECS / "lenet5.yaml"
    eager = archspec.build(spec, backend="flax", seed=2)
    model_class = type(eager)
    jitted = nnx.jit(lambda: model_class(rngs=nnx.Rngs(2)))()
    pairs = zip(jax.tree.leaves(nnx.state(eager)), jax.tree.leaves(nnx.state(jitted)))
    for a, b in pairs:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
