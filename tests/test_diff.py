"""`archspec diff`: node-by-node changes between two specs, or one spec and a git revision."""

import json
import shutil
import subprocess

import pytest
from conftest import SPECS


def test_acceptance_resnet50_to_resnet101_markdown(run, torchvision_reference):
    code, out, _ = run("diff", str(SPECS / "resnet50.yaml"), str(SPECS / "resnet101.yaml"), "--format", "markdown")
    assert code == 0
    delta = torchvision_reference["resnet101"]["params"] - torchvision_reference["resnet50"]["params"]
    assert delta == 18_992_128
    assert f"| parameters | 25,557,032 | 44,549,160 | +{delta:,} (+74.3%) |" in out
    assert "**Added** (17, 170 nodes)" in out
    rows = [line for line in out.splitlines() if line.startswith("| `layer3.")]
    assert [r.split("`")[1] for r in rows] == [f"layer3.{i}" for i in range(6, 23)]
    assert rows[0] == (
        "| `layer3.6` | `(N, 1024, 14, 14)` | 1,117,184 | 218,365,952 | 3 conv2d, 3 batchnorm2d, 3 relu, 1 add |"
    )
    assert "Removed" not in out
    # the first block after the new ones now reads the last of them
    assert out.rstrip().endswith(
        "**Changed** (2)\n\n| path | op | change |\n|---|---|---|\n"
        "| `layer4.0.conv1` | conv2d | inputs layer3.5.relu3 -> layer3.22.relu3 |\n"
        "| `layer4.0.downsample.0` | conv2d | inputs layer3.5.relu3 -> layer3.22.relu3 |"
    )


def test_changed_fields_shapes_and_rewired_inputs(run, write):
    base = write(
        "a.yaml",
        "inputs: {x: [3, 32, 32]}\nnodes:\n"
        "  - {name: conv, op: conv2d, channels: 8, kernel: 3, padding: 1}\n"
        "  - {name: act, op: relu}\n"
        "  - {name: pool, op: global_avgpool2d}\n"
        "  - {name: fc, op: linear, features: 10}\n",
    )
    new = write(
        "b.yaml",
        "inputs: {x: [3, 32, 32]}\nnodes:\n"
        "  - {name: conv, op: conv2d, channels: 16, kernel: 3, stride: 2, padding: 1}\n"
        "  - {name: pool, op: global_avgpool2d}\n"
        "  - {name: fc, op: linear, features: 10}\n",
    )
    code, out, _ = run("diff", str(base), str(new))
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "params: 314 -> 618  +304 (+96.8%)"
    assert "  - act  (N, 8, 32, 32)                  0 params        0 MACs  relu" in lines
    assert (
        "  ~ conv: channels 8 -> 16; stride 1 -> 2; shape (N, 8, 32, 32) -> (N, 16, 16, 16); params 224 -> 448; "
        "macs 221,184 -> 110,592" in lines
    )
    assert "  ~ pool: inputs act -> conv; shape (N, 8) -> (N, 16)" in lines
    code, out, _ = run("diff", str(base), str(new), "--format", "json")
    doc = json.loads(out)
    assert doc["delta"] == {"params": 304, "macs": 110_592 + 160 - 221_184 - 80, "nodes": -1}
    assert doc["removed"] == [{"path": "act", "nodes": 1, "params": 0, "macs": 0, "shape": ["N", 8, 32, 32]}]
    assert doc["changed"][0]["changes"]["channels"] == {"old": 8, "new": 16}


def test_identical_specs_say_so(run):
    code, out, _ = run("diff", str(SPECS / "resnet18.yaml"), str(SPECS / "resnet18.yaml"))
    assert code == 0 and out.rstrip().endswith("no differences")


def test_invalid_spec_is_reported_not_diffed(run, write):
    bad = write("bad.yaml", "inputs: {x: [3, 8, 8]}\nnodes:\n  - {op: conv2d, channels: 4, kernel: 9}\n")
    code, _, err = run("diff", str(SPECS / "lenet5.yaml"), str(bad))
    assert code == 1 and "error[AS504]" in err


def test_usage_errors(run):
    assert run("diff", str(SPECS / "lenet5.yaml"))[0] == 2
    code, _, err = run("diff", str(SPECS / "lenet5.yaml"), "nope.yaml")
    assert code == 2 and "no such spec file: nope.yaml" in err


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_against_a_git_revision_uses_that_revisions_bases_too(run, tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "blocks").mkdir()
    block = (
        "blocks:\n  unit:\n    params: {c: 8}\n    nodes:\n"
        "      - {name: conv, op: conv2d, channels: '${c}', kernel: 1}\n"
    )
    (tmp_path / "blocks" / "lib.yaml").write_text(block)
    spec = tmp_path / "net.yaml"
    spec.write_text("imports: [{from: blocks/lib.yaml}]\ninputs: {x: [3, 4, 4]}\nnodes:\n  - {name: a, block: unit}\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    (tmp_path / "blocks" / "lib.yaml").write_text(block.replace("c: 8", "c: 16"))  # only the library changes
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("diff", "net.yaml", "--rev", "HEAD")
    assert code == 0
    assert out.splitlines()[0] == "net (net.yaml@HEAD) -> net (net.yaml)"
    assert "  ~ a.conv: channels 8 -> 16; shape (N, 8, 4, 4) -> (N, 16, 4, 4); params 32 -> 64; macs 384 -> 768" in out
    code, _, err = run("diff", "net.yaml", "--rev", "no-such-rev")
    assert code == 2 and "git ls-tree failed" in err
