import ast
import json
import os
import subprocess
from pathlib import Path

import pytest

from archspec.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
REFERENCE = ROOT.parent / "shared" / "reference" / "torchvision.json"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"


def imported_names(source: str) -> set[str]:
    """The modules a source file imports from and the names it imports."""
    imports = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return {a.name for n in imports for a in n.names} | {n.module for n in imports if isinstance(n, ast.ImportFrom)}


def assert_ruff_clean(path: Path) -> None:
    lint = subprocess.run(["ruff", "check", "--isolated", str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


@pytest.fixture(scope="session")
def torchvision_reference() -> dict:
    if not REFERENCE.is_file():
        pytest.fail(f"{REFERENCE} is missing: clone the project with shared/ beside it (see README)")
    return json.loads(REFERENCE.read_text())["models"]


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
