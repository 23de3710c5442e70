"""The documentation cannot drift from the program."""

import re
import subprocess
import sys

import pytest
from conftest import ROOT, SPECS

import archspec
from archspec.errors import CODES
from archspec.ops import OPS

SPEC_MD = (ROOT / "docs" / "spec.md").read_text()


def test_every_op_is_named_in_the_guide():
    section = SPEC_MD.split("## Ops", 1)[1].split("## Limits")[0]
    assert set(OPS) <= set(re.findall(r"`([a-z0-9_]+)`", section))


def test_generated_docs_are_current():
    """docs/reference.md, errors.md, cli.md and zoo.md are written by tools/gendocs.py."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gendocs.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr + "\nrun: python tools/gendocs.py"


def test_every_op_field_has_a_description():
    for name, model in OPS.items():
        for field, info in model.model_fields.items():
            assert field == "op" or info.description, f"{name}.{field}"


def test_error_table_is_complete():
    text = (ROOT / "docs" / "errors.md").read_text()
    for code, (slug, meaning) in CODES.items():
        # the anchor is where a SARIF rule's helpUri points
        assert f'| <a id="{code.lower()}"></a>{code} | {slug} | {meaning} |' in text


def test_transfer_learning_example_works(tmp_path):
    example = SPEC_MD.split("# a transfer-learning head\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "transfer.yaml"
    path.write_text(example.replace("extends: resnet50.yaml", f"extends: {SPECS / 'resnet50.yaml'}"))
    net = archspec.load(path)
    assert net.output_shapes == {"head": (6,)}
    assert net.total_params == 25_557_032 - (2048 * 1000 + 1000) + (2048 * 6 + 6)


def test_lenet_example_is_the_zoo_file():
    example = SPEC_MD.split("# specs/lenet5.yaml\n", 1)[1].split("```", 1)[0]
    zoo = (SPECS / "lenet5.yaml").read_text()
    assert example.strip() in zoo


def test_readme_api_numbers():
    net = archspec.load(SPECS / "resnet50.yaml", num_classes=10)
    assert (net.total_params, net.total_macs) == (23528522, 4089184256 - 2048 * 990)
    assert net.shape("layer2") == (512, 28, 28)


def test_readme_check_output_is_the_programs(run, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```console\n$ archspec ", 1)[1].split("```", 1)[0]
    command, expected = block.split("\n", 1)
    monkeypatch.chdir(ROOT)
    code, out, _ = run(*command.split())
    assert code == 0 and out == expected


def test_readme_error_example_is_the_programs(run, tmp_path, monkeypatch):
    """README shows the error for the bottleneck projection that lost its stride."""
    readme = (ROOT / "README.md").read_text()
    expected = readme.split("A broken shortcut is reported", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    for f in SPECS.rglob("*.yaml"):
        (tmp_path / "specs" / f.relative_to(SPECS)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "specs" / f.relative_to(SPECS)).write_text(f.read_text())
    blocks = tmp_path / "specs" / "blocks" / "resnet.yaml"
    text = blocks.read_text()
    head, tail = text.split("  bottleneck:", 1)
    strided = 'kernel: 1, stride: "${stride}", bias: false'
    assert tail.count(strided) == 1
    blocks.write_text(head + "  bottleneck:" + tail.replace(strided, "kernel: 1, bias: false"))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("check", "specs/resnet50.yaml")
    assert code == 1 and out.startswith(expected)


def test_tutorial_commands_print_what_the_page_shows():
    """tools/tutorial.py re-runs every command of docs/tutorial.md (training steps included)."""
    pytest.importorskip("torch")
    pytest.importorskip("flax")
    pytest.importorskip("optax")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "tutorial.py"), "--check"], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
