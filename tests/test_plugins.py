"""Plugin ops: a separate package registers an op (model + an emitter per backend) through the
`archspec.ops` entry-point group; specs use it from YAML and both backends compile it."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT

PLUGIN = ROOT / "tests" / "plugin"

SPEC = """\
name: clamped
inputs: {x: [3, 8, 8]}
nodes:
  - {name: conv, op: conv2d, channels: 4, kernel: 3, padding: 1}
  - {name: clamp, op: hardtanh, min_val: -0.5, max_val: 0.25}
  - {name: pool, op: global_avgpool2d}
"""

SCRIPT = """\
import sys
import torch
import archspec

net = archspec.load("clamped.yaml")
assert net.nodes["clamp"].shape == (4, 8, 8)
model = archspec.build(net).eval()
x = torch.randn(2, 3, 8, 8)
with torch.no_grad():
    expected = torch.nn.functional.hardtanh(model.conv(x), -0.5, 0.25).mean((2, 3))
    assert torch.equal(model(x), expected)
flax_source = archspec.compile(net, backend="flax")
assert "jnp.clip(x, -0.5, 0.25)" in flax_source, flax_source
flax_model = archspec.transfer(model, archspec.build(net, backend="flax"))
import numpy as np
out = np.asarray(flax_model(x.permute(0, 2, 3, 1).numpy()))
assert np.allclose(out, expected.numpy(), rtol=1e-5, atol=1e-6)
print("ok")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The example plugin installed into a directory of its own (with its entry points)."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PLUGIN),
        ],
        capture_output=True,
        text=True,
        cwd=build,
    )
    assert run.returncode == 0, run.stderr
    return target


def _run(site, cwd, *argv):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd, env=env)


def test_a_plugin_op_is_usable_from_yaml_and_compiles_to_both_backends(site, tmp_path):
    (tmp_path / "clamped.yaml").write_text(SPEC)
    run = _run(site, tmp_path, "-c", SCRIPT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"
    check = _run(site, tmp_path, "-m", "archspec", "check", "clamped.yaml")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_backend_without_an_emitter_gives_a_located_error(site, tmp_path):
    (tmp_path / "squared.yaml").write_text(
        "name: squared\ninputs: {x: [4]}\nnodes:\n  - {name: fc, op: linear, features: 2}\n  - {name: sq, op: square}\n"
    )
    ok = _run(site, tmp_path, "-m", "archspec", "compile", "squared.yaml", "--backend", "torch", "-o", "-")
    assert ok.returncode == 0, ok.stderr
    assert "fc = self.fc(x)" in ok.stdout.replace("x = self.fc(x)", "fc = self.fc(x)")
    run = _run(site, tmp_path, "-m", "archspec", "compile", "squared.yaml", "--backend", "flax", "-o", "-")
    assert run.returncode == 1
    assert run.stderr.splitlines()[:2] == [
        "squared.yaml:5:5: error[AS601] sq: the flax backend has no emitter for op 'square'",
        "    hint: install a version of the plugin that provides 'square' for flax, or use another backend",
    ]
    assert "Traceback" not in run.stderr
