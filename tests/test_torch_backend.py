"""The PyTorch backend: generated source, torchvision naming, real shapes, semantics, modern PyTorch."""

import re
import subprocess
import sys
import traceback

import pytest
from conftest import ROOT, SPECS, assert_ruff_clean, imported_names, instrumented
from test_zoo import TORCHVISION

import archspec

torch = pytest.importorskip("torch")

ZOO = sorted(p for p in SPECS.glob("*.yaml"))
ALL_OPS = ROOT / "tests" / "cases" / "all_ops.yaml"
ALL_OPS_TOKENS = ROOT / "tests" / "cases" / "all_ops_tokens.yaml"


def record_shapes(module, *inputs) -> dict[str, tuple]:
    """Run the generated modules, recording every node's real output shape: statements in the
    generated forwards are instrumented (their comment names the node) and layers inside
    nn.Sequential report through forward hooks."""
    paths = {id(m): p for p, m in module.named_modules()}
    seen: dict[str, tuple] = {}

    def record(owner, rel, value):
        prefix = paths.get(id(owner), "")
        seen[f"{prefix}.{rel}" if prefix else rel] = tuple(value.shape[1:])

    namespace = {"__record__": record}
    exec(instrumented(module.archspec_source), namespace)
    hooks = [
        # nn.MultiheadAttention returns (output, weights): its node's statement records the output
        m.register_forward_hook(
            lambda m, i, o, p=p: seen.__setitem__(p, tuple(o.shape[1:])) if torch.is_tensor(o) else None
        )
        for p, m in module.named_modules()
        if p
    ]
    classes = {type(m).__name__ for m in module.modules()}
    originals = {}
    for m in module.modules():
        name = type(m).__name__
        if name in namespace and name not in originals and hasattr(namespace[name], "forward"):
            originals[name] = type(m).forward
            type(m).forward = namespace[name].forward
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in hooks:
            h.remove()
        for m in module.modules():
            if type(m).__name__ in originals:
                type(m).forward = originals[type(m).__name__]
    assert classes
    return seen


def test_acceptance_resnet50_compiles_to_a_standalone_ruff_clean_file(tmp_path, run):
    target = tmp_path / "resnet50.py"
    code, _, _ = run("compile", str(SPECS / "resnet50.yaml"), "--backend", "torch", "-o", str(target))
    assert code == 0
    assert imported_names(target.read_text()) == {"torch", "nn"}
    assert_ruff_clean(target)
    script = (
        "import sys, torch, resnet50\n"
        "m = resnet50.Resnet50().eval()\n"
        "assert not any(k.startswith('archspec') for k in sys.modules)\n"
        "print(sum(p.numel() for p in m.parameters()), tuple(m(torch.randn(1, 3, 224, 224)).shape))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert out.stdout.split() == ["25557032", "(1,", "1000)"], out.stderr


def test_compile_is_deterministic_and_stdout(run):
    a = archspec.compile(SPECS / "densenet121.yaml")
    assert a == archspec.compile(SPECS / "densenet121.yaml")
    code, out, _ = run("compile", str(SPECS / "densenet121.yaml"), "--backend", "torch", "-o", "-")
    assert code == 0 and out == a


def test_unknown_backend_lists_the_available_ones(run):
    code, _, err = run("compile", str(SPECS / "lenet5.yaml"), "--backend", "tensorflow")
    assert code == 2
    assert "unknown backend 'tensorflow'; available: " in err and "torch" in err


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_state_dict_is_torchvisions(name, torchvision_reference):
    spec, overrides = TORCHVISION[name]
    model = archspec.build(SPECS / f"{spec}.yaml", **overrides)
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == [(k, shape) for k, shape in torchvision_reference[name]["state_dict"]]
    assert sum(p.numel() for p in model.parameters()) == torchvision_reference[name]["params"]


def _odd_size(path) -> int | None:
    """97 px, or the next size the spec accepts (U-Net needs multiples of 16), for specs with
    a free `image_size`."""
    if "image_size" not in archspec.load(path).params:
        return None
    return next(s for s in range(97, 257) if archspec.analyze(path, {"image_size": s}).network is not None)


# Every zoo spec at its own input size, and specs with a free `image_size` at another size too.
SIZED = [(p, None) for p in ZOO] + [(p, s) for p in ZOO if (s := _odd_size(p)) is not None]


@pytest.mark.parametrize(("path", "size"), SIZED, ids=lambda v: getattr(v, "stem", str(v)))
def test_every_node_real_shape_equals_inferred(path, size):
    net = archspec.load(path) if size is None else archspec.load(path, image_size=size)
    model = archspec.build(net).eval()
    inputs = [torch.randn(1, *shape) for shape in net.graph.inputs.values()]
    seen = record_shapes(model, *inputs)
    assert {p: s for p, s in seen.items() if p in net.nodes} == {p: n.shape for p, n in net.nodes.items()}


def test_every_op_lowers_and_runs_with_inferred_shapes():
    net = archspec.load(ALL_OPS)
    tokens = archspec.load(ALL_OPS_TOKENS)
    assert {n.op for n in [*net.nodes.values(), *tokens.nodes.values()]} == set(archspec.ops.OPS)
    model = archspec.build(tokens).eval()
    seen = record_shapes(model, torch.randn(2, 4, 8, 8))
    assert {p: s for p, s in seen.items() if p in tokens.nodes} == {p: n.shape for p, n in tokens.nodes.items()}
    model = archspec.build(net).eval()
    seen = record_shapes(model, torch.randn(2, 3, 16, 16), torch.randn(2, 1, 16, 16))
    assert {p: s for p, s in seen.items() if p in net.nodes} == {p: n.shape for p, n in net.nodes.items()}
    model.train()
    probs, side, dec = model(torch.randn(4, 3, 16, 16), torch.randn(4, 1, 16, 16))
    assert probs.shape == (4, 5) and side.shape == (4, 5) and dec.shape == (4, 11, 47, 31)  # declared order
    torch.testing.assert_close(probs.sum(1), torch.ones(4))


def test_seed_makes_weights_reproducible():
    a = archspec.build(SPECS / "lenet5.yaml", seed=3).state_dict()
    b = archspec.build(SPECS / "lenet5.yaml", seed=3).state_dict()
    c = archspec.build(SPECS / "lenet5.yaml", seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])


def test_init_schemes_follow_the_spec():
    model = archspec.build(SPECS / "resnet50.yaml", zero_init_residual=True)
    assert torch.count_nonzero(model.layer1[0].bn3.weight) == 0
    assert torch.count_nonzero(model.layer1[0].bn2.weight) == 64
    std = model.layer4[0].conv2.weight.std().item()
    fan_out = 512 * 9
    assert abs(std - (2 / fan_out) ** 0.5) < 0.1 * (2 / fan_out) ** 0.5  # kaiming normal, fan_out
    dense = archspec.build(SPECS / "densenet121.yaml")
    assert torch.count_nonzero(dense.classifier.bias) == 0


def test_in_place_ops_keep_gradients_exact():
    """In-place ReLU and `+=` are emitted only where autograd allows: gradients equal an
    out-of-place reference built by hand from the same weights."""
    model = archspec.build(SPECS / "resnet18.yaml", image_size=32).train()
    source = model.archspec_source
    assert "nn.ReLU(inplace=True)" in source and "+= x" in source
    out_of_place = re.sub(r"(\w+) \+= (\w+)", r"\1 = \1 + \2", source.replace("inplace=True", ""))
    assert " += " not in out_of_place
    plain = archspec.backends.get("torch").build(archspec.load(SPECS / "resnet18.yaml", image_size=32), out_of_place, 0)
    plain.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    model(x).sum().backward()
    g1 = x.grad.clone()
    x.grad = None
    plain(x).sum().backward()
    torch.testing.assert_close(g1, x.grad)


def test_train_and_eval_semantics():
    model = archspec.build(SPECS / "resnet18.yaml", image_size=64)
    x = torch.randn(4, 3, 64, 64)
    before = model.bn1.running_mean.clone()
    model.train()
    model(x)
    assert not torch.equal(before, model.bn1.running_mean)
    assert model.bn1.num_batches_tracked.item() == 1
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))


def test_stochastic_depth_drops_whole_samples_in_training_only():
    net = archspec.load("inputs: {x: [8]}\nnodes: [{name: sd, op: stochastic_depth, p: 0.5}]\n")
    model = archspec.build(net)
    x = torch.ones(1000, 8)
    torch.manual_seed(0)
    y = model.train()(x)
    rows = y.sum(1)
    assert set(rows.unique().tolist()) == {0.0, 16.0}  # each sample kept whole (scaled by 2) or dropped
    assert 400 < (rows == 0).sum().item() < 600
    torch.testing.assert_close(model.eval()(x), x)


def test_error_in_forward_shows_the_generated_line_and_yaml_node():
    model = archspec.build(SPECS / "lenet5.yaml")
    with pytest.raises(RuntimeError):
        try:
            model(torch.randn(1, 3, 28, 28))  # 3 channels where the spec says 1
        except RuntimeError:
            text = traceback.format_exc()
            raise
    assert "archspec-generated" in text and "lenet5_torch_" in text
    assert "x = self.conv1(x)  # conv1 (N, 20, 24, 24) " in text
    assert "specs/lenet5.yaml:" in text


def test_uncaught_error_in_a_plain_script_shows_the_generated_line(tmp_path):
    """Python 3.11's default excepthook reads source files, not linecache: the source is on disk."""
    script = tmp_path / "train.py"
    script.write_text(
        "import torch, archspec\n"
        f"model = archspec.build({str(SPECS / 'resnet18.yaml')!r}, image_size=64)\n"
        "model(torch.randn(1, 4, 64, 64))\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1
    line = next(x for x in run.stderr.splitlines() if "x = self.conv1(x)" in x)
    assert line.strip().startswith("x = self.conv1(x)  # conv1 (N, 64, 32, 32) ") and "resnet50.yaml:" in line


def test_channels_last_and_bf16_autocast():
    model = archspec.build(SPECS / "resnet18.yaml", image_size=64).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        cl = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        torch.testing.assert_close(cl, ref, rtol=1e-4, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert low.dtype == torch.bfloat16
    assert (low.float() - ref).abs().max() < 0.1 * ref.abs().max()


def test_torch_export_and_compile_fullgraph_resnet50():
    model = archspec.build(SPECS / "resnet50.yaml", image_size=64).eval()
    x = torch.randn(2, 3, 64, 64)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model(x))
    compiled = torch.compile(model, fullgraph=True, backend="eager")  # graph capture without graph breaks
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


def test_torch_compile_inductor_on_a_small_spec():
    model = archspec.build(SPECS / "lenet5.yaml").eval()
    compiled = torch.compile(model, fullgraph=True)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)


AUX_SPEC = """
inputs: {x: [3, 16, 16]}
outputs: [fc, {node: aux, training_only: true}]
nodes:
  - {name: conv, op: conv2d, channels: 4, kernel: 3, padding: 1}
  - {name: aux_pool, op: global_avgpool2d}
  - {name: aux, op: linear, features: 3}
  - {name: body, op: conv2d, channels: 4, kernel: 3, in: conv}
  - {name: pool, op: global_avgpool2d}
  - {name: fc, op: linear, features: 3}
"""


def test_training_only_outputs_run_and_return_only_in_training():
    net = archspec.load(AUX_SPEC)
    assert net.graph.training_outputs == {"aux"}
    assert net.graph.training_only_nodes() == {"aux_pool", "aux"}
    model = archspec.build(net)
    x = torch.randn(2, 3, 16, 16)
    logits, aux = model.train()(x)
    assert logits.shape == aux.shape == (2, 3)
    calls = []
    model.aux.register_forward_hook(lambda *a: calls.append(1))
    out = model.eval()(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3) and calls == []
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), model(x))
