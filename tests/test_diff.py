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
    assert out.startswith(
        "### archspec diff: `resnet50` → `resnet101`\n\n**Parameters:** `layers: [3, 4, 6, 3] → [3, 4, 23, 3]`\n"
    )
    assert f"| parameters | 25,557,032 | 44,549,160 | +{delta:,} (+74.3%) |" in out
    assert "**By stage**\n\n| stage | params | change | MACs | change |\n|---|---:|---:|---:|---:|\n" in out
    assert "| `layer3` | 7.10M | +18.99M | 1.46G | +3.71G |\n\n" in out  # the only stage that changed
    # the 17 new blocks are one row
    assert (
        "<details><summary>Added: 17 blocks, 170 nodes</summary>\n\n| where | what | change | params |\n"
        "|---|---|---|---:|\n| `layer3.6` … `layer3.22` | 17 × bottleneck | +10 nodes | +1.12M each |\n\n</details>\n"
    ) in out
    assert "Removed" not in out
    # the first block after the new ones now reads the last of them
    assert out.endswith(
        "<details><summary>Changed: 2 nodes in 1 place</summary>\n\n| where | what | change | params |\n"
        "|---|---|---|---:|\n"
        "| `layer4.0` | 1 × bottleneck | conv1, downsample.0: inputs layer3.5.relu3 → layer3.22.relu3 | 0 |\n\n"
        "</details>\n"
    )


def test_wide_resnet_markdown_leads_with_the_parameter_that_explains_it(run):
    code, out, _ = run(
        "diff", str(SPECS / "resnet50.yaml"), str(SPECS / "wide_resnet50_2.yaml"), "--format", "markdown"
    )
    assert code == 0 and len(out) < 4000
    assert out.startswith(
        "### archspec diff: `resnet50` → `wide_resnet50_2`\n\n**Parameters:** `width_per_group: 64 → 128`\n"
    )
    rows = [line for line in out.splitlines() if line.startswith("| `layer")]
    assert rows[4:] == [
        "| `layer1.0` … `layer1.2` | 3 × bottleneck | conv1, conv2: channels 64 → 128; 5 nodes resized | +418.56K |",
        "| `layer2.0` … `layer2.3` | 4 × bottleneck | conv1, conv2: channels 128 → 256; 5 nodes resized | +2.26M |",
        "| `layer3.0` … `layer3.5` | 6 × bottleneck | conv1, conv2: channels 256 → 512; 5 nodes resized | +13.64M |",
        "| `layer4.0` … `layer4.2` | 3 × bottleneck | conv1, conv2: channels 512 → 1024; 5 nodes resized | +27.01M |",
    ]
    assert rows[0] == "| `layer1` | 215.81K | +418.56K | 667.94M | +1.31G |"  # by stage
    code, out, _ = run("diff", str(SPECS / "resnet50.yaml"), str(SPECS / "wide_resnet50_2.yaml"))
    assert out.splitlines()[1] == "parameters: width_per_group: 64 -> 128"


def test_densenet_markdown_stays_within_budget(run):
    code, out, _ = run("diff", str(SPECS / "densenet121.yaml"), str(SPECS / "densenet161.yaml"), "--format", "markdown")
    assert code == 0 and len(out) < 8000
    assert "**Parameters:** `growth_rate: 32 → 48, block_config: [6, 12, 24, 16] → [6, 12, 36, 24]," in out
    assert (
        "| `features.denseblock3.denselayer25` … `features.denseblock3.denselayer36` | 12 × dense_layer | +7 nodes "
        "| +5.19M |"
    ) in out
    assert "| `features.denseblock2.denselayer1` … `features.denseblock2.denselayer12` | 12 × dense_layer | " in out


def test_markdown_budget_trims_rows_not_sections():
    import archspec
    from archspec import diff

    d = diff.diff(archspec.load(SPECS / "densenet121.yaml"), archspec.load(SPECS / "densenet161.yaml"))
    out = diff.to_markdown(d, budget=2500)
    assert len(out) < 2500
    assert out.count("<details>") == 2 and out.count("</details>") == 2
    assert "more rows: run `archspec diff` for all |" in out


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
    assert lines[1] == "params: 314 -> 618  +304 (+96.8%)"  # no spec parameters: no parameter line
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
    assert doc["parameters"] == {}


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
