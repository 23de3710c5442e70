import ast
import inspect
import json
import os
import subprocess
import types
from pathlib import Path

import pytest

from archspec.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
# torchvision 0.29.1's facts, byte-identical copies kept in the repository (tests/reference/README.md)
REFERENCE_DIR = ROOT / "tests" / "reference"
REFERENCE = REFERENCE_DIR / "torchvision.json"
MODERN_REFERENCE = REFERENCE_DIR / "torchvision_modern.json"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
FRAMEWORKS = {"torch", "jax", "flax", "optax"}


def pytest_collection_modifyitems(items):
    """Mark `backend` every test that runs PyTorch or Flax: its module imports torch, jax or flax, or
    the test calls pytest.importorskip (for one of them). `pytest -m "not backend"` runs the rest."""
    for item in items:
        module, function = getattr(item, "module", None), getattr(item, "function", None)
        if module is None or function is None:
            continue
        imported = {v.__name__.split(".")[0] for v in vars(module).values() if isinstance(v, types.ModuleType)}
        if imported & FRAMEWORKS or "importorskip(" in inspect.getsource(inspect.unwrap(function)):
            item.add_marker(pytest.mark.backend)


def imported_names(source: str) -> set[str]:
    """The modules a source file imports from and the names it imports."""
    imports = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return {a.name for n in imports for a in n.names} | {n.module for n in imports if isinstance(n, ast.ImportFrom)}


def assert_ruff_clean(path: Path) -> None:
    lint = subprocess.run(["ruff", "check", "--isolated", str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


@pytest.fixture(scope="session")
def torchvision_reference() -> dict:
    return json.loads(REFERENCE.read_text())["models"]


@pytest.fixture(scope="session")
def modern_reference() -> dict:
    """torchvision 0.29.1's modern models: params, MACs, published GFLOPS, state_dict keys and shapes."""
    return json.loads(MODERN_REFERENCE.read_text())["models"]


@pytest.fixture
def run(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""

    def _run(*argv: str):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


@pytest.fixture
def write(tmp_path):
    """Write spec files into a temporary directory: write(name, text) -> path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write


def golden(path: Path, actual: str):
    """Compare with a golden file; UPDATE_GOLDEN=1 rewrites it."""
    if UPDATE_GOLDEN or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        if not UPDATE_GOLDEN:
            pytest.fail(f"golden file {path} was missing and has been written; check it and re-run")
    assert actual == path.read_text()


def instrumented(source: str, record: str = "__record__"):
    """The generated source with a call `__record__(self, "<node>", value)` after every statement
    of every forward (the node is the first word of the statement's comment), compiled."""
    lines = source.splitlines()
    tree = ast.parse(source)
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in (f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name in ("forward", "__call__")):
            fn.body = _with_records(fn.body, lines, record)
    ast.fix_missing_locations(tree)
    return compile(tree, "<instrumented>", "exec")


def _with_records(body, lines, record):
    out = []
    for stmt in body:
        if isinstance(stmt, ast.If):
            stmt.body = _with_records(stmt.body, lines, record)
        out.append(stmt)
        if isinstance(stmt, (ast.Assign, ast.AugAssign)) and "#" in lines[stmt.lineno - 1]:
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            rel = lines[stmt.lineno - 1].split("#", 1)[1].split()[0]
            out.append(ast.parse(f"{record}(self, {rel!r}, {target.id})").body[0])
    return out
