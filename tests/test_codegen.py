"""Generated source is the product: golden files for both backends, byte for byte."""

import pytest
from conftest import ROOT, SPECS, golden

import archspec
import archspec.backends

GOLDEN = ROOT / "tests" / "golden" / "source"
CASES = [("lenet5", {}), ("resnet18", {}), ("googlenet", {"aux_logits": True})]


@pytest.mark.parametrize("backend", ["torch", "flax"])
@pytest.mark.parametrize(("name", "overrides"), CASES, ids=[c[0] for c in CASES])
def test_generated_source_matches_golden(backend, name, overrides, monkeypatch):
    monkeypatch.chdir(ROOT)  # spec paths in the source are relative to the repository
    source = archspec.compile(SPECS.relative_to(ROOT) / f"{name}.yaml", backend=backend, **overrides)
    golden(GOLDEN / f"{name}.{backend}.py.txt", source)


def test_every_op_has_an_emitter_in_every_backend():
    from archspec_flax.emit import EMITTERS as FLAX
    from archspec_torch.emit import EMITTERS as TORCH

    import archspec.ops

    assert set(TORCH) == set(archspec.ops.OPS) == set(FLAX)

    for backend in archspec.backends.available():
        impl = archspec.backends.get(backend)
        source = impl.emit(archspec.load(ROOT / "tests" / "cases" / "all_ops.yaml"))
        assert source, backend
    assert set(archspec.backends.available()) >= {"torch", "flax"}
