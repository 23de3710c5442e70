"""The zoo: every spec checks; torchvision counterparts match the reference file exactly."""

import pytest
from conftest import SPECS

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
