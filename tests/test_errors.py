"""Every error kind, rendered whole and compared with a golden file, in all three formats."""

import json
from pathlib import Path

import pytest
from conftest import ROOT, golden

CASES = ROOT / "tests" / "cases" / "errors"
GOLDEN = ROOT / "tests" / "golden" / "errors"
FILES = sorted(p.name for p in CASES.glob("*.yaml"))
# Problems with a whole file rather than a node carry no node path.
FILE_LEVEL = {"AS001", "AS002", "AS003", "AS004", "AS005", "AS006", "AS304"}


@pytest.fixture(autouse=True)
def _in_cases(monkeypatch):
    monkeypatch.chdir(CASES)


@pytest.mark.parametrize("name", FILES)
def test_text_output_matches_golden(run, name):
    code, out, err = run("check", name)
    golden(GOLDEN / (Path(name).stem + ".txt"), out)
    assert err == ""
    assert "Traceback" not in out
    expect_valid = name.startswith("W") or name.endswith("_base.yaml")
    assert code == (0 if expect_valid else 1)


@pytest.mark.parametrize("name", FILES)
def test_every_diagnostic_is_located_coded_and_hinted(run, name):
    code, out, _ = run("check", "--format", "json", name)
    [entry] = json.loads(out)
    diags = entry["errors"] + entry["warnings"]
    if not name.endswith("_base.yaml"):
        assert diags, "each case must produce at least one diagnostic"
    prefix = Path(name).stem.split("_")[0]
    if prefix.startswith(("AS", "W")) and not name.endswith("_base.yaml"):
        assert prefix in {d["code"] for d in diags}
    for d in diags:
        assert d["file"] and d["line"] >= 1 and d["column"] >= 1, d
        assert d["hint"], d
        assert d["message"], d
        if d["code"] not in FILE_LEVEL and d["code"] != "AS204":
            assert d["node"], d


@pytest.mark.parametrize("name", FILES)
def test_github_annotations(run, name):
    _, text, _ = run("check", name)
    _, out, _ = run("check", "--format", "github", name)
    lines = out.splitlines()
    annotations = [line for line in lines if line.startswith("::")]
    assert len(annotations) == text.count("error[") + text.count("warning[")
    for a in annotations:
        assert a.startswith(("::error file=", "::warning file="))
        assert ",line=" in a and ",col=" in a and ",title=" in a
        assert "\n" not in a
    assert lines[-1].startswith("checked 1 file:")


def test_tag_payload_is_not_executed(run):
    marker = Path("/tmp/archspec-pwned")
    marker.unlink(missing_ok=True)
    run("check", "AS003_yaml_tag.yaml")
    assert not marker.exists()


def test_missing_file_is_a_usage_error_in_every_format(run):
    for fmt in ("text", "json", "github"):
        code, out, _ = run("check", "--format", fmt, "no/such/spec.yaml")
        assert code == 2
        assert "AS001" in out and "no/such/spec.yaml" in out
    code, out, _ = run("check", "--format", "json", "no/such/spec.yaml")
    [entry] = json.loads(out)
    assert entry["valid"] is False and entry["errors"][0]["file"] == "no/such/spec.yaml"


def test_mutated_residual_add_names_both_operands(run, tmp_path):
    """Acceptance: break a zoo shortcut and `check` exits 1 naming both operands and the add's line."""
    src = (ROOT / "specs").resolve()
    dst = tmp_path / "specs"
    for f in src.rglob("*.yaml"):
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.read_text())
    blocks = dst / "blocks" / "resnet.yaml"
    text = blocks.read_text()
    # the projection of the bottleneck's shortcut loses its stride
    needle = (
        '          - {op: conv2d, channels: "${planes * expansion}", kernel: 1, stride: "${stride}", bias: false, '
        "init: kaiming_normal_fan_out,"
    )
    assert text.count(needle) == 2
    lines = text.splitlines()
    idx = [i for i, line in enumerate(lines) if line == needle][1]
    lines[idx] = needle.replace(', stride: "${stride}"', "")
    blocks.write_text("\n".join(lines) + "\n")
    add_line = next(i for i, line in enumerate(lines) if "name: add" in line and i > idx) + 1
    code, out, _ = run("check", str(dst / "resnet50.yaml"))
    assert code == 1
    assert out.splitlines()[:2] == [
        f"{blocks}:{add_line}:9: error[AS501] layer2.0.add: add operands differ: 'bn3' is (N, 512, 28, 28) "
        "but the shortcut 'downsample' is (N, 512, 56, 56)",
        "    hint: project the shortcut: 1x1 conv, stride 2, 512 channels",
    ]


def test_mutated_dense_concat_names_both_operands(run, tmp_path):
    spec = (ROOT / "specs" / "densenet121.yaml").read_text()
    broken = spec.replace('channels: "${growth_rate}", kernel: 3, padding: 1', 'channels: "${growth_rate}", kernel: 3')
    assert broken != spec
    path = tmp_path / "densenet121.yaml"
    path.write_text(broken)
    line = next(i for i, t in enumerate(broken.splitlines(), 1) if "name: cat" in t)
    code, out, _ = run("check", str(path))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{path}:{line}:9: error[AS502] features.denseblock1.denselayer1.cat: concat operands differ off axis 1: "
        "'x' is (N, 64, 56, 56), 'conv2' is (N, 32, 54, 54)"
    )
    # the first dense layer's output feeds every later one, so they are skipped, not re-reported
    assert "checked 1 file: 0 valid, 1 invalid (1 error, 0 warnings)" in out
