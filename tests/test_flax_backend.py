"""The Flax backend: standalone NNX source, PyTorch parity both ways, shapes, JAX transforms."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import SPECS, assert_ruff_clean, imported_names, instrumented

import archspec

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
nnx = pytest.importorskip("flax.nnx")
jnp = jax.numpy

ZOO = sorted(p for p in SPECS.glob("*.yaml"))
ALL_OPS = SPECS.parent / "tests" / "cases" / "all_ops.yaml"
ALL_OPS_TOKENS = SPECS.parent / "tests" / "cases" / "all_ops_tokens.yaml"  # rank-N ops, every layout conversion
BOTH_WAYS = {"all_ops", "all_ops_tokens", "lenet5", "resnet18", "unet", "highway"}
SMALL = 64  # input size for specs with a free image_size: CI runs on two CPU cores


def small(path):
    """The smallest input from SMALL up that the spec takes (Inception v3 needs 75)."""
    if "image_size" not in archspec.load(path).params:
        return {}
    return {"image_size": next(s for s in range(SMALL, 300) if archspec.analyze(path, {"image_size": s}).network)}


def randomise_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def inputs_for(net, batch=2, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randn(batch, *shape).astype(np.float32) for shape in net.graph.inputs.values()]


def nhwc(x):
    return jnp.asarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else jnp.asarray(x)


@nnx.jit
def _forward(model, *xs):
    return model(*xs)


def run_flax(model, xs):
    out = _forward(model, *[nhwc(x) for x in xs])
    return [np.asarray(o) for o in (out if isinstance(out, tuple) else (out,))]


def run_torch(model, xs):
    with torch.no_grad():
        out = model(*[torch.from_numpy(x) for x in xs])
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def assert_close(a, b, rel=1e-5):
    for x, y in zip(a, b):
        y = y if y.ndim != 4 else y.transpose(0, 3, 1, 2)
        assert np.abs(x - y).max() <= rel * np.abs(x).max(), np.abs(x - y).max() / np.abs(x).max()


def test_acceptance_resnet50_flax_file(tmp_path, run):
    target = tmp_path / "resnet50_flax.py"
    code, _, _ = run("compile", str(SPECS / "resnet50.yaml"), "--backend", "flax", "-o", str(target))
    assert code == 0
    assert imported_names(target.read_text()) == {"math", "jax", "jax.numpy", "numpy", "flax", "nnx"}
    assert_ruff_clean(target)
    script = (
        "import sys, jax, jax.numpy as jnp\nfrom flax import nnx\nimport resnet50_flax\n"
        "m = resnet50_flax.Resnet50(rngs=nnx.Rngs(0))\nm.eval()\n"
        "assert not any(k.startswith('archspec') for k in sys.modules)\n"
        "n = sum(x.size for x in jax.tree_util.tree_leaves(nnx.state(m, nnx.Param)))\n"
        "y = nnx.jit(lambda m, x: m(x))(m, jnp.ones((1, 224, 224, 3)))\n"
        "print(n, tuple(y.shape))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert out.stdout.split() == ["25557032", "(1,", "1000)"], out.stderr[-2000:]


def assert_torch_to_flax_agree(net, randomise=randomise_bn, rel=1e-5):
    """Torch weights (randomised where an init would hide mistakes) moved into Flax give the same
    eval outputs; returns the inputs used."""
    xs = inputs_for(net)
    t = archspec.build(net, backend="torch", seed=0).eval()
    randomise(t)
    f = archspec.build(net, backend="flax", seed=1)
    assert archspec.transfer(t, f) is f
    f.eval()
    assert_close(run_torch(t, xs), run_flax(f, xs), rel=rel)
    return xs


def test_compile_is_deterministic():
    assert archspec.compile(SPECS / "googlenet.yaml", backend="flax") == archspec.compile(
        SPECS / "googlenet.yaml", backend="flax"
    )


@pytest.mark.parametrize("path", [*ZOO, ALL_OPS, ALL_OPS_TOKENS], ids=lambda p: p.stem)
def test_torch_to_flax_and_back_agree(path):
    net = archspec.load(path, **small(path))
    xs = assert_torch_to_flax_agree(net)
    if path.stem not in BOTH_WAYS:
        return
    # flax -> torch: fresh flax weights into a fresh torch module. The transfer code is the same
    # for every spec; all_ops has every op, so a few specs cover it and keep CI fast.
    f2 = archspec.build(net, backend="flax", seed=2)
    f2.eval()
    t2 = archspec.transfer(f2, archspec.build(net, backend="torch", seed=3)).eval()
    assert_close(run_torch(t2, xs), run_flax(f2, xs))


def test_train_mode_batch_norm_statistics_match_after_one_step():
    net = archspec.load(SPECS / "resnet18.yaml", image_size=32)
    t = archspec.build(net, backend="torch")
    randomise_bn(t)
    f = archspec.transfer(t, archspec.build(net, backend="flax"))
    x = inputs_for(net, batch=4)[0]
    t.train()(torch.from_numpy(x))
    f.train()
    f(nhwc(x))
    a, b = archspec.backends.get("torch").export_state(t), archspec.backends.get("flax").export_state(f)
    assert set(a) == set(b)
    for key in a:
        if "running" in key:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)
        if key.endswith("num_batches_tracked"):
            assert int(a[key]) == int(b[key]) == 1


@pytest.mark.parametrize("path", [*ZOO, ALL_OPS, ALL_OPS_TOKENS], ids=lambda p: p.stem)
def test_eval_shape_of_every_node_equals_inferred(path):
    net = archspec.load(path, **small(path))
    model = archspec.build(net, backend="flax")
    model.eval()
    paths = {id(m): ".".join(map(str, p)) for p, m in nnx.iter_graph(model) if isinstance(m, nnx.Module)}
    seen = {}

    def record(owner, rel, value):
        prefix = paths.get(id(owner), "")
        seen[f"{prefix}.{rel}" if prefix else rel] = tuple(value.shape[1:])

    namespace = {"__record__": record}
    exec(instrumented(model.archspec_source), namespace)

    def chain(self, x):  # the generated Sequential, reporting each item
        for i, layer in enumerate(self):
            x = layer(x)
            record(self, str(i), x)
        return x

    if "Sequential" in namespace:
        namespace["Sequential"].__call__ = chain
    cls_name = type(model).__name__
    abstract = [jax.ShapeDtypeStruct((2, *nhwc_shape(s)), jnp.float32) for s in net.graph.inputs.values()]
    originals = _swap_calls(model, namespace)
    try:
        jax.eval_shape(lambda *a: model(*a), *abstract)
    finally:
        for cls, call in originals.items():
            cls.__call__ = call
    seen = {p: s for p, s in seen.items() if p in net.nodes}
    # identities, and permutes between an image and a channels-last map, are free in Flax: no statement
    computed = {p: nhwc_shape(n.shape, n.layout) for p, n in net.nodes.items() if n.op != "identity"}
    computed = {p: s for p, s in computed.items() if net.nodes[p].op != "permute" or p in seen}
    assert {p: s for p, s in seen.items() if p in computed} == computed, cls_name


def _swap_calls(model, namespace):
    """Run the instrumented __call__ of every generated class (and of Sequential)."""
    originals = {}
    for _, m in nnx.iter_graph(model):
        cls = type(m)
        if isinstance(m, nnx.Module) and cls.__name__ in namespace and cls not in originals:
            originals[cls] = cls.__call__
            cls.__call__ = namespace[cls.__name__].__call__
    return originals


def nhwc_shape(shape, layout="CHW"):
    """Where Flax stores a tensor of this shape: images NHWC, every other layout as the spec orders it."""
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 and layout == "CHW" else tuple(shape)


def test_jitted_optax_training_step_lowers_the_loss():
    optax = pytest.importorskip("optax")
    model = archspec.build(SPECS / "resnet18.yaml", backend="flax", image_size=32, num_classes=4)
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    rng = np.random.RandomState(0)
    x = jnp.asarray(rng.randn(8, 32, 32, 3).astype(np.float32))
    y = jnp.asarray(rng.randint(0, 4, 8))

    @nnx.jit
    def step(model, optimizer, x, y):
        def loss_fn(model):
            logits = model(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    losses = [float(step(model, optimizer, x, y)) for _ in range(10)]
    assert losses[-1] < 0.5 * losses[0], losses


def test_dropout_and_stochastic_depth_follow_train_and_eval():
    net = archspec.load("""
inputs: {x: [64]}
nodes:
  - {name: drop, op: dropout, p: 0.5}
  - {name: sd, op: stochastic_depth, p: 0.5}
""")
    model = archspec.build(net, backend="flax")
    x = jnp.ones((256, 64))
    model.train()
    y = np.asarray(model(x))
    assert (y == 0).mean() > 0.5  # dropout zeroes elements, stochastic depth whole rows
    assert set(np.unique(y)) <= {0.0, 4.0}
    model.eval()
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(x))


def test_transfer_refuses_other_specs_and_foreign_modules():
    a = archspec.build(SPECS / "lenet5.yaml", backend="torch")
    b = archspec.build(SPECS / "lenet5.yaml", backend="flax", num_classes=7)
    with pytest.raises(archspec.TransferError, match="different specs"):
        archspec.transfer(a, b)
    with pytest.raises(archspec.TransferError, match="not built by archspec.build"):
        archspec.transfer(a, torch.nn.Linear(2, 2))


def test_training_only_outputs_in_flax():
    net = archspec.load(SPECS / "googlenet.yaml", aux_logits=True, image_size=SMALL)
    model = archspec.build(net, backend="flax")
    x = jnp.ones((2, SMALL, SMALL, 3))
    model.train()
    assert len(_forward(model, x)) == 3
    model.eval()
    assert _forward(model, x).shape == (2, 1000)
