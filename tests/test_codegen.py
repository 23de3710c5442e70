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


def _generated(tmp_path):
    cases = [
        *sorted(SPECS.glob("*.yaml")),
        *(ROOT / "tests" / "cases" / f"{c}.yaml" for c in ("all_ops", "all_ops_tokens")),
    ]
    for backend in ("torch", "flax"):
        for path in cases:
            source = archspec.compile(path, backend=backend)
            (tmp_path / f"{path.stem}_{backend}.py").write_text(source)
    return tmp_path


def test_generated_files_are_ruff_format_clean_and_every_class_has_a_forward(tmp_path):
    import ast
    import subprocess

    folder = _generated(tmp_path)
    fmt = subprocess.run(
        ["ruff", "format", "--check", "--line-length", "120", str(folder)], capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run(["ruff", "check", "--isolated", str(folder)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    for file in folder.glob("*.py"):
        for cls in (n for n in ast.parse(file.read_text()).body if isinstance(n, ast.ClassDef)):
            if [ast.unparse(b) for b in cls.bases] == ["nnx.Variable"]:  # a kind of state, not a module
                continue
            methods = {f.name for f in cls.body if isinstance(f, ast.FunctionDef)}
            assert methods & {"forward", "__call__"}, (file.name, cls.name)


@pytest.mark.parametrize("backend", ["torch", "flax"])
def test_depth_costs_no_lines(backend):
    resnet50 = archspec.compile(SPECS / "resnet50.yaml", backend=backend)
    deep = archspec.compile(SPECS / "preact_resnet.yaml", backend=backend, depth=1001)
    assert len(resnet50.splitlines()) <= 250  # Flax: ~40 of them are the initialiser helpers
    assert len(deep.splitlines()) <= 300
    assert "class Bottleneck(" in resnet50 and "for _ in range(" in resnet50
