"""Every error kind, rendered whole and compared with a golden file, in all three formats."""

import json
import os
from pathlib import Path

import pytest
from conftest import ROOT, golden

import archspec

CASES = ROOT / "tests" / "cases" / "errors"
GOLDEN = ROOT / "tests" / "golden" / "errors"
FILES = sorted(p.name for p in CASES.glob("*.yaml"))
# Problems with a whole file rather than a node carry no node path.
FILE_LEVEL = {"AS001", "AS002", "AS003", "AS004", "AS005", "AS006", "AS008", "AS304"}


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


# --- untrusted input: the fuzz reproducers of issue 11, each with its whole message -----------------


def _spec(tmp_path, text: str, name: str = "spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("key", ["extends", "imports"])
def test_a_fifo_is_refused_not_waited_on(run, tmp_path, key):
    os.mkfifo(tmp_path / "pipe.yaml")
    entry = "extends: pipe.yaml\n" if key == "extends" else "imports:\n  - {from: pipe.yaml}\n"
    path = _spec(tmp_path, entry + "inputs: {x: [3, 8, 8]}\nnodes:\n  - {op: relu}\n" * (key == "imports"))
    code, out, _ = run("check", str(path))
    column = 10 if key == "extends" else 5
    line = 1 if key == "extends" else 2
    assert out.splitlines() == [
        f"{path}:{line}:{column}: error[AS008] cannot read {tmp_path}/pipe.yaml: it is not a regular file "
        "(a FIFO, socket or device)",
        "    hint: name a .yaml spec file; relative paths are resolved against the file that names them",
        "checked 1 file: 0 valid, 1 invalid (1 error, 0 warnings)",
    ]
    assert code == 1


def test_a_very_long_file_is_refused_before_it_is_parsed(run, tmp_path):
    big = _spec(tmp_path, "description: " + "x" * 1_000_001 + "\n", "big.yaml")
    path = _spec(tmp_path, "extends: big.yaml\n")
    code, out, _ = run("check", str(path))
    assert out.splitlines()[:2] == [
        f"{path}:1:10: error[AS004] {big} is larger than 1,000,000 bytes",
        "    hint: a spec is a few kilobytes; split it into a network and block libraries",
    ]
    assert code == 1


SMALL = "params: {width: 4, layers: [1, 2]}\ninputs: {x: [3, 8, 8]}\nnodes:\n  - {op: conv2d, channels: 4, kernel: 1}\n"


def test_an_unknown_override_is_located_at_the_command_line(run, tmp_path):
    path = _spec(tmp_path, SMALL)
    code, out, _ = run("check", "--set", "widht=2", str(path))
    assert out.splitlines() == [
        f"<command line>: error[AS202] --set widht=2: {path} has no parameter 'widht' to override",
        "    hint: did you mean 'width'?",
        "checked 1 file: 0 valid, 1 invalid (1 error, 0 warnings)",
    ]
    assert code == 1


def test_an_unknown_override_is_located_at_the_load_arguments(tmp_path):
    path = _spec(tmp_path, SMALL)
    with pytest.raises(archspec.SpecError) as err:
        archspec.load(path, widht=2)
    assert str(err.value) == (
        f"<load() arguments>: error[AS202] widht=2: {path} has no parameter 'widht' to override\n"
        "    hint: did you mean 'width'?"
    )


def test_an_override_that_is_not_spec_data_is_refused(tmp_path):
    path = _spec(tmp_path, SMALL)
    with pytest.raises(archspec.SpecError) as err:
        archspec.load(path, width=float("nan"))
    assert str(err.value) == (
        "<load() arguments>: error[AS103] width=nan: nan is not a finite number\n"
        "    hint: override with numbers, strings, booleans, null, and lists or mappings of them"
    )


def test_a_huge_repeat_from_the_command_line_stops_at_the_node_limit(run, monkeypatch):
    import archspec.tree

    monkeypatch.setattr(archspec.tree, "MAX_SECONDS", 120.0)  # the node limit, not the clock, on a busy machine
    code, out, _ = run("check", "--set", "layers=[100000, 100000, 100000, 100000]", str(ROOT / "specs/resnet50.yaml"))
    assert out.splitlines()[:2] == [
        f"{ROOT}/specs/blocks/resnet.yaml:56:9: error[AS007] layer1.7691: "
        "the network expands to more than 100,000 nodes",
        "    hint: check repeat counts and parameters; this limit guards against runaway specs",
    ]
    assert code == 1


def test_an_unexpected_exception_is_one_internal_error_with_its_own_exit_code(run, tmp_path, monkeypatch):
    """The last guard. The fuzz suite asserts no input reaches it; here a bug is simulated."""
    import archspec.api

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(archspec.api, "build_graph", broken)
    path = _spec(tmp_path, SMALL)
    code, out, _ = run("check", str(path))
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}:1:1: error[AS900] internal error: KeyError: 'boom' (in ")
    assert lines[1] == (
        "    hint: this is a bug in archspec, not in your spec; please report it with the spec at "
        "https://github.com/archspec/archspec/issues"
    )
    assert code == 3
    result = archspec.analyze(path)
    assert [d.code for d in result.diagnostics] == ["AS900"]
