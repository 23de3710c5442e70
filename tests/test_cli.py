"""The command line: exit codes, output formats, overrides, summary, schema."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import ROOT, SPECS


def test_check_directory_is_recursive_and_valid(run):
    code, out, _ = run("check", str(SPECS))
    assert code == 0
    assert "specs/blocks/resnet.yaml: ok (block library: basic_block, bottleneck, stage)" in out
    assert "resnet50.yaml: ok (resnet50: 25,557,032 params, 4.09G MACs)" in out
    assert out.splitlines()[-1].endswith("0 invalid (0 errors, 0 warnings)")


def test_check_json_format(run):
    code, out, _ = run("check", "--format", "json", str(SPECS / "lenet5.yaml"))
    assert code == 0
    assert json.loads(out) == [
        {
            "file": str(SPECS / "lenet5.yaml"),
            "valid": True,
            "errors": [],
            "warnings": [],
            "params": 431080,
            "macs": 2293000,
        }
    ]


def test_check_exit_1_when_any_invalid(run, write):
    bad = write("bad.yaml", "inputs: {x: [4]}\nnodes: [{op: linear}]\n")
    code, out, _ = run("check", str(SPECS / "lenet5.yaml"), str(bad))
    assert code == 1
    assert "1 valid, 1 invalid" in out


@pytest.mark.parametrize(
    "argv", [["check"], ["check", "--bogus", "x.yaml"], ["nope"], ["check", "--format", "xml", "x"]]
)
def test_usage_errors_exit_2(run, argv):
    with pytest.raises(SystemExit) as exc:
        run(*argv)
    assert exc.value.code == 2


def test_set_overrides(run):
    code, out, _ = run(
        "summary",
        "--format",
        "json",
        "--set",
        "num_classes=10",
        "--set",
        "layers=[1, 1, 1, 1]",
        str(SPECS / "resnet50.yaml"),
    )
    assert code == 0
    data = json.loads(out)
    assert data["outputs"] == {"fc": ["N", 10]}
    assert not any(n["path"].startswith("layer1.1") for n in data["nodes"])


def test_set_bad_syntax_and_unknown_key(run):
    code, _, err = run("check", "--set", "oops", str(SPECS / "lenet5.yaml"))
    assert code == 2 and "--set expects key=value" in err
    code, out, _ = run("check", "--set", "num_clases=3", str(SPECS / "lenet5.yaml"))
    assert code == 1
    assert out.splitlines()[0] == (
        f"<command line>: error[AS202] --set num_clases=3: {SPECS / 'lenet5.yaml'} has no parameter 'num_clases' "
        "to override"
    )
    assert "hint: did you mean 'num_classes'?" in out


def test_summary_json_acceptance(run, torchvision_reference):
    for name in ("resnet18", "resnet50", "densenet121"):
        code, out, _ = run("summary", "--format", "json", str(SPECS / f"{name}.yaml"))
        assert code == 0
        data = json.loads(out)
        ref = torchvision_reference[name]
        assert data["total_params"] == ref["params"]
        assert abs(data["total_macs"] - ref["macs"]) <= 0.005 * ref["macs"]
        assert set(data["nodes"][0]) == {"path", "op", "inputs", "output_shape", "params", "macs"}
        assert data["nodes"][0]["output_shape"][0] == "N"
        assert sum(n["params"] for n in data["nodes"]) == data["total_params"]
    assert json.loads(run("summary", "--format", "json", str(SPECS / "resnet50.yaml"))[1])["total_params"] == 25557032


def test_summary_text(run):
    code, out, _ = run("summary", str(SPECS / "lenet5.yaml"))
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "inputs: x (N, 1, 28, 28)"
    assert lines[3].split() == ["Node", "Op", "Inputs", "Output", "shape", "Params", "MACs"]
    assert lines[5].split() == ["conv1", "conv2d", "x", "(N,", "20,", "24,", "24)", "520", "288,000"]
    assert lines[-9:] == [  # activations: 20,210 values of 4 bytes
        "-" * len(lines[2]),
        "total params: 431,080 (431.08K)",
        "  trainable: 431,080",
        "  non-trainable: 0",
        "buffers: 0 (batch-norm running statistics)",
        "total MACs:   2,293,000 (2.29M)",
        "memory estimate (batch 1, float32): 1.72 MiB",
        "  input 3.06 KiB, activations 78.95 KiB (every node output kept for the backward pass), params 1.64 MiB, "
        "buffers 0 B",
        "outputs: ip2 (N, 10)",
    ]


def test_summary_counts_buffers_connections_and_memory(run, torchvision_reference):
    code, out, _ = run("summary", "--format", "json", "--batch", "8", "--dtype", "bfloat16", "resnet50")
    assert code == 0
    data = json.loads(out)
    # torchvision's state_dict holds parameters and buffers: BN keeps running_mean, running_var
    # and num_batches_tracked (one element)
    keys = torchvision_reference["resnet50"]["state_dict"]
    buffers = sum(
        (shape[0] if shape else 1)
        for key, shape in keys
        if key.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert (data["trainable_params"], data["non_trainable_params"]) == (25_557_032, 0)
    assert data["buffers"] == buffers == 53_173  # 53 BN layers: 2 x channels + 1 each
    add = next(n for n in data["nodes"] if n["path"] == "layer1.0.add")
    assert add["inputs"] == ["layer1.0.bn3", "layer1.0.downsample.1"]
    mem = data["memory_estimate"]
    assert (mem["batch"], mem["dtype"]) == (8, "bfloat16")
    assert mem["bytes"]["params"] == 2 * 25_557_032 and mem["bytes"]["inputs"] == 8 * 2 * 3 * 224 * 224
    activations = sum(8 * 2 * _size(n["output_shape"][1:]) for n in data["nodes"])
    assert mem["bytes"]["activations"] == activations
    code, out, _ = run("summary", "resnet50")
    assert "layer1.0.add           add                 bn3, downsample.1      (N, 256, 56, 56)" in out


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def test_summary_depth_rolls_groups_up(run):
    code, out, _ = run("summary", "resnet18", "--depth", "1")
    assert code == 0
    rows = out.splitlines()[5:-9]
    assert [r.split()[0] for r in rows] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten", "fc"
    ]  # fmt: skip
    assert rows[5].split() == [
        "layer2", "stage", "(16", "nodes)", "layer1", "(N,", "128,", "28,", "28)", "525,568", "411,041,792"
    ]  # fmt: skip
    assert run("summary", "resnet18", "--depth", "0")[0] == 2
    assert run("summary", "resnet18", "--batch", "0")[0] == 2


def test_list_names_the_zoo_and_names_resolve(run, tmp_path, monkeypatch):
    code, out, _ = run("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "paper", "params", "MACs", "input"]
    resnet50 = next(line for line in lines if line.startswith("resnet50 "))
    assert resnet50.split()[-4:] == ["25.56M", "4.09G", "x", "3×224×224"]
    assert "He et al. 2015, Deep Residual Learning for Image Recognition" in resnet50
    assert lines[-1].startswith(f"{len(list(SPECS.glob('*.yaml')))} networks in ")
    entries = json.loads(run("list", "--format", "json")[1])
    lenet = next(e for e in entries if e["name"] == "lenet5")
    assert lenet == {
        "name": "lenet5",
        "paper": lenet["paper"],
        "params": 431_080,
        "macs": 2_293_000,
        "inputs": "x 1×28×28",
    }
    assert lenet["paper"].startswith("LeCun")
    # a zoo name works wherever a spec path goes, from any directory; an existing path wins
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("check", "resnet50")
    assert (
        code == 0 and out.splitlines()[0] == f"{SPECS / 'resnet50.yaml'}: ok (resnet50: 25,557,032 params, 4.09G MACs)"
    )
    (tmp_path / "resnet50").write_text("inputs: {x: [4]}\nnodes: [{op: linear, features: 2}]\n")
    code, out, _ = run("check", "resnet50")
    assert code == 0 and out.startswith("resnet50: ok (resnet50: 10 params")
    assert run("check", "no_such_model")[0] == 2


def test_summary_of_invalid_spec_and_library(run, write):
    bad = write("bad.yaml", "inputs: {x: [4]}\nnodes: [{op: linear}]\n")
    code, out, _ = run("summary", str(bad))
    assert code == 1 and "error[AS104]" in out
    code, out, _ = run("summary", str(SPECS / "blocks" / "resnet.yaml"))
    assert code == 1 and "is a block library" in out
    code, out, _ = run("summary", "missing.yaml")
    assert code == 2 and "AS001" in out


def test_schema_validates_every_zoo_spec_and_rejects_typos(run):
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in SPECS.rglob("*.yaml"):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, errors[0].message)
    typo = {"inputs": {"x": [3]}, "nodes": [{"op": "conv2d", "chanels": 3, "kernel": 1}]}
    assert list(validator.iter_errors(typo))
    # ops are told apart by their `op` value: a typo is blamed on its own key, nothing else
    kernal = {"inputs": {"x": [3, 8, 8]}, "nodes": [{"op": "conv2d", "channels": 3, "kernal": 1, "init": "zeros"}]}
    messages = sorted(e.message for e in validator.iter_errors(kernal))
    assert messages == [
        "'kernel' is a required property",
        "Additional properties are not allowed ('kernal' was unexpected)",
    ]
    ops = {b["if"]["properties"]["op"]["const"] for b in schema["$defs"]["OpEntry"]["allOf"]}
    from archspec.ops import OPS

    assert ops == set(OPS)


def test_schema_to_file(run, tmp_path):
    target = tmp_path / "schema.json"
    assert run("schema", "-o", str(target))[0] == 0
    assert json.loads(target.read_text())["title"] == "archspec spec file"


@pytest.mark.parametrize("entry", ["module", "script"])
def test_module_and_console_script_entry_points(entry):
    script = Path(sys.executable).parent / "archspec"  # installed beside the interpreter by `pip install`
    cmd = [sys.executable, "-m", "archspec"] if entry == "module" else [str(script)]
    proc = subprocess.run([*cmd, "check", str(SPECS)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].endswith("0 invalid (0 errors, 0 warnings)")


def test_check_imports_no_framework():
    """`archspec check` must never import torch, jax or flax (python -X importtime shows every import)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "archspec", "check", str(SPECS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "yaml" in imported and "pydantic" in imported  # the measurement works
    assert not imported & {"torch", "jax", "flax", "jaxlib", "numpy", "tensorflow"}
