"""The zoo: every spec checks; torchvision counterparts match the reference file exactly;
it ships inside the package and loads by name."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import MODERN_REFERENCE, ROOT, SPECS

import archspec

ZOO = sorted(p for p in SPECS.rglob("*.yaml"))
NETWORKS = [p for p in ZOO if archspec.analyze(p).network is not None]
# reference name -> (spec, overrides): every spec with a torchvision counterpart
TORCHVISION = {
    name: (name, {})
    for name in [
        "alexnet",
        "vgg11",
        "vgg13",
        "vgg16",
        "vgg19",
        "vgg11_bn",
        "vgg13_bn",
        "vgg16_bn",
        "vgg19_bn",
        "googlenet",
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
        "resnext50_32x4d",
        "resnext101_32x8d",
        "wide_resnet50_2",
        "densenet121",
        "densenet161",
        "densenet169",
        "densenet201",
    ]
}
TORCHVISION["googlenet_aux"] = ("googlenet", {"aux_logits": True})


def test_every_reference_model_has_a_spec(torchvision_reference):
    assert set(TORCHVISION) == set(torchvision_reference)


@pytest.mark.parametrize("path", ZOO, ids=lambda p: str(p.relative_to(SPECS)))
def test_zoo_spec_checks_clean(path):
    result = archspec.analyze(path)
    assert result.diagnostics == ()
    assert result.network is not None or result.library is not None


@pytest.mark.parametrize("name", TORCHVISION)
def test_matches_torchvision_counts(name, torchvision_reference):
    spec, overrides = TORCHVISION[name]
    net = archspec.load(SPECS / f"{spec}.yaml", **overrides)
    ref = torchvision_reference[name]
    assert net.total_params == ref["params"]
    assert abs(net.total_macs - ref["macs"]) <= 0.005 * ref["macs"]
    assert net.output_shapes[net.graph.outputs[0]] == (1000,)


@pytest.mark.parametrize("name", TORCHVISION)
def test_node_paths_are_torchvision_module_paths(name, torchvision_reference):
    """Parameterized nodes, in order, are exactly the modules owning torchvision's state_dict keys,
    and their parameter counts add up module by module."""
    spec, overrides = TORCHVISION[name]
    net = archspec.load(SPECS / f"{spec}.yaml", **overrides)
    keys = torchvision_reference[name]["state_dict"]
    modules: dict[str, int] = {}
    for key, shape in keys:
        module, leaf = key.rsplit(".", 1)
        n = 1
        for d in shape:
            n *= d
        if leaf in ("weight", "bias"):
            modules[module] = modules.get(module, 0) + n
        else:
            modules.setdefault(module, 0)
    ours = {n.path: n.params for n in net.nodes.values() if n.params}
    assert list(ours) == list(modules)
    assert ours == modules


def test_lenet5_is_caffes():
    net = archspec.load(SPECS / "lenet5.yaml")
    assert net.total_params == 431_080  # Caffe's MNIST LeNet
    shapes = {p: n.shape for p, n in net.nodes.items()}
    assert shapes["conv1"] == (20, 24, 24)
    assert shapes["pool2"] == (50, 4, 4)
    assert shapes["ip2"] == (10,)


def test_resnet_stage_shapes():
    net = archspec.load(SPECS / "resnet50.yaml")
    assert [net.shape(f"layer{i}") for i in (1, 2, 3, 4)] == [
        (256, 56, 56),
        (512, 28, 28),
        (1024, 14, 14),
        (2048, 7, 7),
    ]
    assert "layer1.0.downsample.0" in net.nodes  # projection: 64 -> 256 channels
    assert "layer1.1.downsample.0" not in net.nodes
    r18 = archspec.load(SPECS / "resnet18.yaml")
    assert "layer1.0.downsample.0" not in r18.nodes  # basic blocks keep 64 channels
    assert r18.nodes["layer2.0.downsample.0"].shape == (128, 28, 28)


def test_densenet_transitions_halve_channels():
    net = archspec.load(SPECS / "densenet121.yaml")
    assert [net.nodes[f"features.transition{i}.conv"].shape[0] for i in (1, 2, 3)] == [128, 256, 512]
    assert net.nodes["features.norm5"].shape == (1024, 7, 7)


def test_overrides_reach_the_zoo():
    net = archspec.load(SPECS / "resnet50.yaml", num_classes=10)
    assert net.output_shapes == {"fc": (10,)}
    assert net.total_params == 25_557_032 - 2048 * 990 - 990


def test_googlenet_aux_heads_are_training_only():
    net = archspec.load(SPECS / "googlenet.yaml", aux_logits=True)
    assert net.graph.outputs == ("fc", "aux2.fc2", "aux1.fc2")
    assert net.graph.training_outputs == {"aux2.fc2", "aux1.fc2"}
    assert archspec.load(SPECS / "googlenet.yaml").graph.outputs == ("fc",)


def test_d2l_resnet18_stage_shapes():
    """d2l.ai 8.6: 1x224x224 input; stages of two residual blocks; 10 classes."""
    net = archspec.load(SPECS / "d2l_resnet18.yaml")
    assert [net.shape(f"b{i}") for i in range(1, 6)] == [
        (64, 56, 56),
        (64, 56, 56),
        (128, 28, 28),
        (256, 14, 14),
        (512, 7, 7),
    ]
    assert "b2.0.conv3" not in net.nodes and net.nodes["b3.0.conv3"].shape == (128, 28, 28)
    assert net.nodes["b2.0.conv1"].params == 64 * 64 * 9 + 64  # biased convolutions
    assert net.output_shapes == {"fc": (10,)}


def test_d2l_densenet_block_and_transition_shapes():
    """d2l.ai 8.7: 1x96x96 input; blocks add 4 x 32 channels; transitions halve channels and size."""
    net = archspec.load(SPECS / "d2l_densenet.yaml")
    assert net.shape("b1") == (64, 24, 24)
    assert [net.shape(f"dense{i}") for i in range(1, 5)] == [(192, 24, 24), (224, 12, 12), (240, 6, 6), (248, 3, 3)]
    assert [net.shape(f"transition{i}") for i in range(1, 4)] == [(96, 12, 12), (112, 6, 6), (120, 3, 3)]
    assert net.output_shapes == {"fc": (10,)}


def test_resnet50_transfer_keeps_the_backbone_and_adds_a_head(torchvision_reference):
    net = archspec.load(SPECS / "resnet50_transfer.yaml")
    assert net.output_shapes == {"head": (6,)}
    assert net.nodes["dropout"].op == "dropout"
    assert net.total_params == torchvision_reference["resnet50"]["params"] - (2048 * 1000 + 1000) + (2048 * 6 + 6)
    backbone = [p for p, n in net.nodes.items() if n.params and p != "head"]
    reference = list(dict.fromkeys(k.rsplit(".", 1)[0] for k, _ in torchvision_reference["resnet50"]["state_dict"]))
    assert backbone == reference[:-1]  # every torchvision module but fc


def test_zfnet_sizes_are_the_papers_figure_3():
    net = archspec.load(SPECS / "zfnet.yaml")
    sizes = [net.nodes[f"features.{n}"].shape for n in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")]
    assert sizes == [(96, 110, 110), (96, 55, 55), (256, 26, 26), (256, 13, 13), (256, 13, 13), (256, 6, 6)]
    assert [net.nodes[f"classifier.{n}"].shape for n in ("fc6", "fc7", "fc8")] == [(4096,), (4096,), (1000,)]
    assert net.nodes["features.conv1"].params == 96 * 3 * 7 * 7 + 96


@pytest.mark.parametrize(("depth", "paper"), [(20, 0.27e6), (32, 0.46e6), (44, 0.66e6), (56, 0.85e6), (110, 1.7e6)])
def test_resnet_cifar_parameters_are_the_papers_table_6(depth, paper):
    net = archspec.load(SPECS / "resnet_cifar.yaml", depth=depth)
    assert round(net.total_params, -4 if depth < 110 else -5) == paper
    n = (depth - 2) // 6
    assert [net.shape(f"layer{s}") for s in (1, 2, 3)] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert len([p for p in net.nodes if p.endswith(".add")]) == 3 * n
    # option A: the shortcuts are parameter-free, so every parameter is a conv, a BN or the classifier
    assert {net.nodes[p].op for p in net.nodes if ".downsample." in p} == {"subsample2d", "pad_channels"}


def test_resnet_cifar_rejects_other_depths():
    result = archspec.analyze(SPECS / "resnet_cifar.yaml", {"depth": 21})
    assert [d.code for d in result.errors] == ["AS204"]
    assert "6n + 2" in result.errors[0].message


@pytest.mark.parametrize(
    ("depth", "bottleneck", "paper"), [(164, True, 1.7e6), (1001, True, 10.2e6), (110, False, 1.7e6)]
)
def test_preact_resnet_parameters_are_the_papers(depth, bottleneck, paper):
    """He et al. 2016, Tables 2-3. The paper's figures count convolution and linear weights;
    with batch norm's scale and shift the totals are within 2%."""
    net = archspec.load(SPECS / "preact_resnet.yaml", depth=depth, bottleneck=bottleneck)
    weights = net.total_params - sum(n.params for n in net.nodes.values() if n.op == "batchnorm2d")
    assert round(weights, -5) == paper
    assert abs(net.total_params - paper) <= 0.02 * paper
    convs = [n for n in net.nodes.values() if n.op == "conv2d" and not n.path.endswith("shortcut")]
    assert len(convs) + 1 == depth  # the depth counts convolutions on the main path and the classifier
    assert net.output_shapes == {"fc": (10,)}


def test_preact_blocks_add_without_a_following_activation():
    net = archspec.load(SPECS / "preact_resnet.yaml")
    after_add = {net.graph.node(p).inputs[0] for p in net.nodes if p.endswith(".bn1")}
    assert all(p.endswith(".add") or p == "conv1" for p in after_add)  # identity mapping: add feeds the next BN


def test_stochastic_depth_survival_decays_linearly_to_one_half():
    net = archspec.load(SPECS / "stochastic_depth.yaml")
    drops = [net.nodes[p] for p in net.nodes if p.endswith(".drop_path")]
    assert len(drops) == 54
    # Huang et al.: p_l = 1 - l / L * (1 - p_L), p_L = 0.5
    ps = [net.graph.node(n.path).op.p for n in drops]
    assert ps == pytest.approx([(k + 1) / 54 * 0.5 for k in range(54)])
    assert round(net.total_params, -5) == 1.7e6
    assert net.total_params == archspec.load(SPECS / "resnet_cifar.yaml", depth=110).total_params


def test_highway_layer_is_gated_and_the_size_of_a_71_unit_plain_layer():
    """Srivastava et al. 2015, section 4.1: 50-unit highway layers have about as many parameters
    (~5,000) as 71-unit plain layers."""
    net = archspec.load(SPECS / "highway.yaml")
    layer = sum(n.params for p, n in net.nodes.items() if p.startswith("highway1."))
    assert layer == 2 * (50 * 50 + 50) and abs(layer - (71 * 71 + 71)) < 0.01 * layer
    assert len([p for p in net.nodes if p.endswith(".out")]) == 9  # depth 10: a plain layer, 9 highway layers
    gate = net.graph.node("highway1.gate").op
    assert gate.bias_init == -2.0
    carry = net.graph.node("highway1.carry").op
    assert (carry.factor, carry.offset) == (-1.0, 1.0)
    assert net.output_shapes == {"probs": (10,)}


def test_se_resnet50_adds_the_papers_squeeze_excitation_parameters(torchvision_reference):
    """Hu et al. 2018: SE adds 2 / r * sum_s N_s * C_s^2 weights (r = 16), plus biases; Table 2: 28.1M."""
    net = archspec.load(SPECS / "se_resnet50.yaml")
    blocks, channels = [3, 4, 6, 3], [256, 512, 1024, 2048]
    weights = 2 * sum(n * c * c for n, c in zip(blocks, channels)) // 16
    biases = sum(n * (c // 16 + c) for n, c in zip(blocks, channels))
    assert net.total_params == torchvision_reference["resnet50"]["params"] + weights + biases
    assert round(net.total_params, -5) == 28.1e6
    assert net.nodes["layer4.2.se.excite"].shape == (2048, 7, 7)
    assert net.nodes["layer4.2.se.gate"].shape == (2048, 1, 1)
    assert abs(net.total_macs - torchvision_reference["resnet50"]["macs"]) < 0.002 * net.total_macs  # ~free


def test_unet_sizes_are_the_papers_figure_1():
    """572x572 in, 388x388 out with unpadded convolutions and cropped skips."""
    net = archspec.load(SPECS / "unet.yaml", padding=0)
    assert [net.shape(n) for n in ("inc", "down1", "down2", "down3", "down4")] == [
        (64, 568, 568),
        (128, 280, 280),
        (256, 136, 136),
        (512, 64, 64),
        (1024, 28, 28),
    ]
    assert [net.nodes[f"up{i}.crop"].shape for i in (1, 2, 3, 4)] == [
        (512, 56, 56),
        (256, 104, 104),
        (128, 200, 200),
        (64, 392, 392),
    ]
    assert [net.shape(f"up{i}") for i in (1, 2, 3, 4)] == [
        (512, 52, 52),
        (256, 100, 100),
        (128, 196, 196),
        (64, 388, 388),
    ]
    assert net.output_shapes == {"outc": (2, 388, 388)}
    padded = archspec.load(SPECS / "unet.yaml")
    assert padded.output_shapes == {"outc": (2, 256, 256)} and "up1.crop" not in padded.nodes
    assert padded.total_params == net.total_params == 31_030_658


def test_unet_concat_fails_on_sizes_not_divisible_by_16():
    result = archspec.analyze(SPECS / "unet.yaml", {"image_size": 200})
    assert [(d.code, d.node) for d in result.errors] == [("AS502", "up1.cat")]


def test_lesion_variant_removes_one_block_and_keeps_every_other_name():
    full = archspec.load(SPECS / "resnet_cifar.yaml", depth=110)
    lesion = archspec.load(SPECS / "resnet110_lesion.yaml")
    removed = {p for p in full.nodes if p.startswith("layer2.5.")}
    assert removed and set(lesion.nodes) == set(full.nodes) - removed
    assert lesion.graph.node("layer2.6.conv1").inputs == ("layer2.4.relu2",)
    assert full.total_params - lesion.total_params == sum(full.nodes[p].params for p in removed)
    bad = archspec.analyze(
        "<lesion>", text=f"extends: {SPECS / 'resnet_cifar.yaml'}\nparams: {{depth: 110}}\nremove: [layer3.0]\n"
    )
    assert [d.code for d in bad.errors] == ["AS501"]  # a downsampling block cannot be removed


def test_torchvision_metadata_names_exactly_the_reference_models():
    from archspec.load import read_spec_file

    declared = {p.stem: read_spec_file(p).get("torchvision") for p in SPECS.glob("*.yaml")}
    modern = json.loads(MODERN_REFERENCE.read_text())["models"]
    expected = {spec: spec for spec, _ in TORCHVISION.values()}
    expected.update({name: name for name in modern if (SPECS / f"{name}.yaml").is_file()})
    assert {k: v for k, v in declared.items() if v} == expected
    assert all(read_spec_file(p).get("paper") for p in SPECS.glob("*.yaml"))


def test_lesion_sweep_from_text_as_docs_zoo_shows(monkeypatch):
    monkeypatch.chdir(SPECS.parent)
    doc = (SPECS.parent / "docs" / "zoo.md").read_text()
    assert "for block in range(1, 18):" in doc
    assert 'spec = f"extends: specs/resnet_cifar.yaml\\nparams: {{depth: 110}}\\nremove: [layer2.{block}]\\n"' in doc
    for block in (1, 17):
        spec = f"extends: specs/resnet_cifar.yaml\nparams: {{depth: 110}}\nremove: [layer2.{block}]\n"
        net = archspec.load(spec)
        assert f"layer2.{block}.conv1" not in net.nodes and "layer2.2.conv1" in net.nodes


def test_se_resnet50_add_reading_the_wrong_node_names_the_unused_one(tmp_path):
    """The add reads `bn2` instead of `se`: the hint names `se` (unused, the right shape) instead
    of suggesting a projection of the correct shortcut down to 64 channels."""
    for f in (SPECS / "resnet50.yaml", SPECS / "se_resnet50.yaml", SPECS / "blocks" / "resnet.yaml"):
        (tmp_path / f.relative_to(SPECS)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f.relative_to(SPECS)).write_text(f.read_text())
    spec = tmp_path / "se_resnet50.yaml"
    good = "      - {name: add, op: add, in: [se, "
    assert spec.read_text().count(good) == 1
    spec.write_text(spec.read_text().replace(good, good.replace("[se, ", "[bn2, ")))
    result = archspec.analyze(spec)
    (error,) = result.errors
    assert (error.code, error.node) == ("AS501", "layer1.0.add")
    assert (
        error.message
        == "add operands differ: 'bn2' is (N, 64, 56, 56) but the shortcut 'downsample' is (N, 256, 56, 56)"
    )
    assert (
        error.hint == "did you mean 'se' instead of 'bn2'? 'se' is (N, 256, 56, 56), which fits, and nothing reads it"
    )


def test_join_hint_without_a_fitting_unused_node_is_unchanged():
    spec = (
        "inputs: {x: [3, 8, 8]}\nnodes:\n"
        "  - {name: a, op: conv2d, channels: 4, kernel: 1}\n"
        "  - {name: spare, op: conv2d, channels: 5, kernel: 1, in: x}\n"
        "  - {name: sum, op: add, in: [a, x]}\n"
    )
    (error,) = archspec.analyze("<spec>", text=spec).errors
    assert error.hint == "project the shortcut: 1x1 conv, stride 1, 4 channels"
    # an unused node of the right shape is named, for a concat too
    fits = spec.replace("channels: 5", "channels: 4").replace("op: add, in: [a, x]", "op: add, in: [x, a]")
    (error,) = archspec.analyze("<spec>", text=fits).errors
    assert error.hint.startswith("did you mean 'spare' instead of 'x'?")
    cat = (
        "inputs: {x: [3, 8, 8]}\nnodes:\n"
        "  - {name: a, op: conv2d, channels: 4, kernel: 3}\n"
        "  - {name: b, op: conv2d, channels: 4, kernel: 3, padding: 1, in: x}\n"
        "  - {name: cat, op: concat, in: [x, a]}\n"
    )
    (error,) = archspec.analyze("<spec>", text=cat).errors
    assert error.hint == "did you mean 'b' instead of 'a'? 'b' is (N, 4, 8, 8), which fits, and nothing reads it"


def test_zoo_names_load_and_paths_win(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert archspec.load("resnet50").total_params == 25_557_032
    assert archspec.load("lenet5.yaml").name == "lenet5"
    (tmp_path / "lenet5.yaml").write_text("inputs: {x: [4]}\nnodes: [{op: linear, features: 2}]\n")
    assert archspec.load("lenet5.yaml").total_params == 10  # the file here wins over the zoo
    with pytest.raises(archspec.SpecError):
        archspec.load("no_such_model")


def test_a_wheel_carries_the_zoo(tmp_path):
    """A non-editable install (a wheel built from a copy of the sources) has the zoo: `archspec list`
    and `archspec.load('resnet50')` work from a directory without specs. pydantic and PyYAML
    come from this environment."""
    src, target, empty = tmp_path / "src", tmp_path / "site", tmp_path / "empty"
    empty.mkdir(), src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("archspec", "backends", "specs"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target)]
    proc = subprocess.run([*pip, str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (target / "archspec" / "_zoo" / "resnet50.yaml").is_file()
    assert (target / "archspec" / "_zoo" / "blocks" / "resnet.yaml").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = "import archspec; print(archspec.__file__); print(archspec.load('resnet50').total_params)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=empty, env=env, capture_output=True, text=True)
    assert proc.stdout.splitlines() == [str(target / "archspec" / "__init__.py"), "25557032"], proc.stderr
    cli = [sys.executable, "-c", "import sys; from archspec.cli import main; sys.exit(main())", "list"]
    proc = subprocess.run(cli, cwd=empty, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(f"{len(NETWORKS)} networks in {target / 'archspec' / '_zoo'};")
