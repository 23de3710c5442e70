"""`archspec graph`: DOT, Mermaid and SVG pictures with clusters, shapes and shortcut edges."""

import shutil
import xml.etree.ElementTree as ET

import pytest
from conftest import SPECS

import archspec
from archspec import draw


def test_dot_has_every_node_with_op_and_shape_and_blocks_as_clusters(run):
    code, out, _ = run("graph", str(SPECS / "resnet18.yaml"))
    assert code == 0
    assert out.startswith('digraph "resnet18" {')
    assert '"layer1.0.conv1" [label="conv1\\nconv2d\\n(N, 64, 56, 56)", fillcolor="#cfe2ff"' in out
    assert '"relu" [label="relu\\n(N, 64, 112, 112)"' in out  # the op is not repeated when it is the name
    assert 'subgraph "cluster_layer2.0.downsample" {' in out
    net = archspec.load(SPECS / "resnet18.yaml")
    assert all(f'"{p}" [label=' in out for p in net.nodes)


def test_residual_edges_are_the_shortcut_operands():
    v = draw.view(archspec.load(SPECS / "resnet18.yaml"))
    skips = {(e.src, e.dst): e.skip for e in v.edges if e.skip}
    assert skips[("layer1.0.relu2", "layer1.1.add")] == "residual"  # identity shortcut
    assert skips[("layer2.0.downsample.1", "layer2.0.add")] == "residual"  # projection shortcut
    assert ("layer2.0.bn2", "layer2.0.add") not in skips  # the main branch is a plain edge
    assert sum(1 for s in skips.values() if s == "residual") == 8  # one per block


def test_dense_edges_in_densenet():
    v = draw.view(archspec.load(SPECS / "densenet121.yaml"))
    dense = [e for e in v.edges if e.skip == "dense"]
    assert len(dense) == 6 + 12 + 24 + 16  # one per dense layer: its input joins its new features
    assert dense[0].src == "features.pool0" and dense[0].dst == "features.denseblock1.denselayer1.cat"


def test_depth_collapses_groups_into_boxes_with_their_totals(run):
    code, out, _ = run("graph", str(SPECS / "resnet50.yaml"), "--depth", "1")
    assert code == 0
    assert '"layer3" [label="layer3\\n62 nodes, 7.10M params\\n(N, 1024, 14, 14)"' in out
    assert '"layer2" -> "layer3";' in out and "cluster" not in out
    v = draw.view(archspec.load(SPECS / "resnet50.yaml"), depth=2)
    assert [b.id for b in v.boxes if b.id.startswith("layer1")] == ["layer1.0", "layer1.1", "layer1.2"]
    assert v.clusters["layer1"] == ["layer1.0", "layer1.1", "layer1.2"]


def test_mermaid_flowchart(run):
    code, out, _ = run("graph", str(SPECS / "resnet18.yaml"), "--format", "mermaid", "--depth", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  n_input_x(["x<br/>(N, 3, 224, 224)"])' in lines
    assert '  subgraph n_g_layer1["layer1"]' in lines
    assert '    n_layer1_0["layer1.0<br/>7 nodes, 73.98K params<br/>(N, 64, 56, 56)"]' in lines
    assert "  n_input_x --> n_conv1" in lines


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("name", ["resnet50", "densenet121"])
def test_svg_through_graphviz(run, tmp_path, name):
    target = tmp_path / f"{name}.svg"
    code, _, err = run("graph", str(SPECS / f"{name}.yaml"), "--format", "svg", "-o", str(target))
    assert code == 0 and f"wrote {target}" in err
    root = ET.parse(target).getroot()
    assert root.tag.endswith("svg")
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert set(archspec.load(SPECS / f"{name}.yaml").nodes) <= titles


def test_svg_without_graphviz_says_what_to_do(run, monkeypatch):
    monkeypatch.setenv("PATH", "")
    code, out, err = run("graph", str(SPECS / "lenet5.yaml"), "--format", "svg")
    assert code == 2 and out == ""
    assert "needs Graphviz's `dot` program, which is not on PATH; install Graphviz" in err


def test_invalid_spec_and_bad_depth(run, write):
    bad = write("bad.yaml", "inputs: {x: [3, 8, 8]}\nnodes:\n  - {op: conv2d, channels: 4, kernel: 9}\n")
    code, _, err = run("graph", str(bad))
    assert code == 1 and "error[AS504]" in err
    assert run("graph", str(SPECS / "lenet5.yaml"), "--depth", "0")[0] == 2


def test_mermaid_past_its_default_limits_collapses_or_warns(run):
    code, out, err = run("graph", str(SPECS / "densenet121.yaml"), "--format", "mermaid")
    assert code == 0
    assert err == (
        "note: the full diagram has 89,426 characters, 485 edges; Mermaid's defaults are maxTextSize 50,000 "
        "and maxEdges 500: collapsed to --depth 3\n"
    )
    assert len(out) <= draw.MERMAID_MAX_TEXT and out.count("--") <= draw.MERMAID_MAX_EDGES
    assert '["features.denseblock1.denselayer1<br/>7 nodes, 45.44K params<br/>(N, 96, 56, 56)"]' in out
    # an explicit depth is kept, with a warning
    code, out, err = run("graph", str(SPECS / "densenet121.yaml"), "--format", "mermaid", "--depth", "4")
    assert code == 0 and len(out) == 89_426
    assert err.startswith("warning: at --depth 4 the diagram has 89,426 characters, 485 edges;")
    assert err.endswith("so it will not render\n")
    # small networks are left alone
    assert run("graph", str(SPECS / "resnet18.yaml"), "--format", "mermaid")[2] == ""
