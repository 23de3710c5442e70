"""`fold_bn=True`: batch norms folded into the convolutions before them, for inference. The folded
modules, filled by `archspec.transfer` from the unfolded one, compute the same outputs."""

import numpy as np
import pytest
from conftest import SPECS

import archspec
from archspec.fold import fold_bn, foldable

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")


def _trained(spec, **overrides):
    """An unfolded torch model with batch-norm statistics and affine values far from the defaults."""
    model = archspec.build(spec, **overrides).eval()
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "vgg11_bn", "densenet121"])
def test_folded_torch_and_flax_equal_the_unfolded_model(name):
    spec = SPECS / f"{name}.yaml"
    overrides = {"image_size": 64} if "image_size" in archspec.load(spec).params else {}
    source = _trained(spec, **overrides)
    x = torch.from_numpy(np.random.RandomState(0).randn(2, 3, 64, 64).astype(np.float32))
    with torch.no_grad():
        expected = source(x)
    expected = expected[0] if isinstance(expected, tuple) else expected
    folded = archspec.transfer(source, archspec.build(spec, fold_bn=True, init=False, **overrides)).eval()
    with torch.no_grad():
        ours = folded(x)
    ours = ours[0] if isinstance(ours, tuple) else ours
    assert float((ours - expected).abs().max()) <= 1e-5 * float(expected.abs().max())
    flax_folded = archspec.transfer(source, archspec.build(spec, backend="flax", fold_bn=True, init=False, **overrides))
    flax_folded.eval()
    out = flax_folded(jax.numpy.asarray(x.numpy().transpose(0, 2, 3, 1)))
    out = np.asarray(out[0] if isinstance(out, tuple) else out)
    assert np.abs(out - expected.numpy()).max() <= 1e-5 * float(expected.abs().max())


def test_folding_removes_the_batch_norms_and_keeps_the_rest():
    net = archspec.load(SPECS / "resnet50.yaml")
    folded, pairs = fold_bn(net)
    assert len(pairs) == 53  # every conv of ResNet-50 is followed by its own batch norm
    assert not any(n.op.name == "batchnorm2d" for n in folded.graph.nodes)
    assert all(folded.graph.node(conv).op.bias for conv, _, _ in pairs)
    assert folded.total_params == net.total_params - sum(2 * net.shape(bn)[0] for _, bn, _ in pairs) + sum(
        net.shape(conv)[0] for conv, _, _ in pairs
    )
    assert folded.shape(folded.graph.outputs[0]) == net.shape(net.graph.outputs[0])


def test_only_a_batch_norm_that_alone_reads_its_convolution_folds(tmp_path):
    spec = tmp_path / "branches.yaml"
    spec.write_text(
        "inputs: {x: [3, 8, 8]}\n"
        "nodes:\n"
        "  - {name: conv, op: conv2d, channels: 4, kernel: 3, padding: 1}\n"
        "  - {name: bn, op: batchnorm2d}\n"
        "  - {name: shared, op: conv2d, channels: 4, kernel: 3, padding: 1}\n"
        "  - {name: bn_shared, op: batchnorm2d}\n"
        "  - {name: add, op: add, in: [bn_shared, shared]}\n"  # `shared` is read twice: not folded
        "  - {name: pre, op: batchnorm2d}\n"  # follows an add, not a conv
    )
    assert [(conv, bn) for conv, bn, _ in foldable(archspec.load(spec).graph)] == [("conv", "bn")]


def test_a_folded_model_cannot_be_unfolded():
    folded = archspec.build(SPECS / "resnet18.yaml", fold_bn=True)
    with pytest.raises(archspec.TransferError, match="cannot be undone"):
        archspec.transfer(folded, archspec.build(SPECS / "resnet18.yaml"))
    with pytest.raises(archspec.TransferError, match="different specs"):
        archspec.transfer(archspec.build(SPECS / "resnet34.yaml"), folded)


def test_compile_fold_bn_writes_the_folded_source(run, tmp_path):
    out = tmp_path / "r18.py"
    code, _, err = run("compile", str(SPECS / "resnet18.yaml"), "--backend", "torch", "--fold-bn", "-o", str(out))
    assert code == 0, err
    assert "folded 20 batch norms" in err
    assert "BatchNorm2d" not in out.read_text()
    assert out.read_text() == archspec.compile(SPECS / "resnet18.yaml", fold_bn=True)
