"""Every feature of the spec language, on small specs."""

import pytest

import archspec
from archspec import SpecError


def load(text: str, **overrides) -> archspec.Network:
    return archspec.load(text, **overrides)


def paths(net) -> list[str]:
    return list(net.nodes)


def test_input_defaults_to_previous_node_and_channels_are_inferred():
    net = load("""
inputs: {x: [3, 32, 32]}
nodes:
  - {name: conv, op: conv2d, channels: 16, kernel: 3, padding: 1}
  - {name: act, op: relu}
  - {name: fc_in, op: flatten}
  - {name: fc, op: linear, features: 10}
""")
    assert net.graph.node("conv").inputs == ("x",)
    assert net.graph.node("act").inputs == ("conv",)
    assert net.nodes["conv"].params == 16 * 3 * 9 + 16
    assert net.nodes["fc"].params == 16 * 32 * 32 * 10 + 10


def test_multiple_inputs_and_outputs():
    net = load("""
inputs: {image: [3, 8, 8], mask: [1, 8, 8]}
outputs: [both, feat]
nodes:
  - {name: feat, op: conv2d, channels: 4, kernel: 1, in: image}
  - {name: gate, op: sigmoid, in: mask}
  - {name: both, op: multiply, in: [feat, gate], broadcast: true}
""")
    assert net.graph.outputs == ("both", "feat")
    assert net.output_shapes == {"both": (4, 8, 8), "feat": (4, 8, 8)}


def test_groups_name_unnamed_members_by_position():
    net = load("""
inputs: {x: [16]}
nodes:
  - name: classifier
    nodes:
      - {op: linear, features: 8}
      - {op: relu}
      - {name: out, op: linear, features: 2}
""")
    assert paths(net) == ["classifier.0", "classifier.1", "classifier.out"]
    assert net.shape("classifier") == (2,)


def test_positions_count_only_enabled_entries():
    """Like torchvision's VGG: with batch norm off, later indices shift down."""
    spec = """
params: {bn: false}
inputs: {x: [3, 8, 8]}
nodes:
  - name: features
    nodes:
      - {op: conv2d, channels: 4, kernel: 3}
      - {op: batchnorm2d, when: "${bn}"}
      - {op: relu}
"""
    assert paths(load(spec)) == ["features.0", "features.1"]
    assert paths(load(spec, bn=True)) == ["features.0", "features.1", "features.2"]


def test_blocks_with_parameters_defaults_and_derived_defaults():
    net = load("""
blocks:
  conv_bn:
    params: {channels: null, stride: 1, mid: "${channels * 2}"}
    nodes:
      - {name: conv, op: conv2d, channels: "${mid}", kernel: 3, stride: "${stride}", padding: 1}
      - {name: bn, op: batchnorm2d}
inputs: {x: [3, 16, 16]}
nodes:
  - {name: a, block: conv_bn, with: {channels: 4}}
  - {name: b, block: conv_bn, with: {channels: 8, stride: 2}}
""")
    assert paths(net) == ["a.conv", "a.bn", "b.conv", "b.bn"]
    assert net.shape("a") == (8, 16, 16)
    assert net.shape("b") == (16, 8, 8)


def test_block_inputs_and_output(write):
    write(
        "lib.yaml",
        """
blocks:
  gated:
    inputs: [x, gate]
    output: prod
    nodes:
      - {name: sig, op: sigmoid, in: gate}
      - {name: prod, op: multiply, in: [x, sig]}
      - {name: unused_tail, op: relu, in: x}
""",
    )
    main = write(
        "main.yaml",
        """
imports: [{from: lib.yaml, blocks: [gated]}]
inputs: {x: [4, 8, 8], g: [4, 8, 8]}
nodes:
  - {name: g1, block: gated, in: [x, g]}
  - {name: head, op: relu}
""",
    )
    net = archspec.load(main)
    assert net.graph.node("head").inputs == ("g1.prod",)
    assert [w.code for w in net.warnings] == ["W001"]


def test_imports_selective_and_relative(write):
    write("lib/convs.yaml", "blocks:\n  a: {nodes: [{op: relu}]}\n  b: {nodes: [{op: sigmoid}]}\n")
    main = write(
        "net.yaml",
        """
imports: [{from: lib/convs.yaml, blocks: [a]}]
inputs: {x: [4]}
nodes: [{block: b}]
""",
    )
    with pytest.raises(SpecError) as err:
        archspec.load(main)
    assert err.value.errors[0].code == "AS301"


def test_repeat_with_index_and_name_template():
    net = load("""
params: {growth: 4}
inputs: {x: [8, 4, 4]}
blocks:
  dense:
    params: {growth: null}
    nodes:
      - {name: conv, op: conv2d, channels: "${growth}", kernel: 1}
      - {name: cat, op: concat, in: [x, conv]}
nodes:
  - name: block
    repeat: 3
    names: layer${i + 1}
    block: dense
    with: {growth: "${growth * (i + 1)}"}
""")
    assert net.shape("block.layer1") == (8 + 4, 4, 4)
    assert net.shape("block.layer3") == (8 + 4 + 8 + 12, 4, 4)


def test_repeat_over_a_list_with_index():
    net = load("""
params: {widths: [4, 8, 16]}
inputs: {x: [3, 8, 8]}
nodes:
  - {name: stem, repeat: "${widths}", as: w, index: k, names: "c${k}", op: conv2d, channels: "${w}", kernel: 1}
""")
    assert paths(net) == ["stem.c0", "stem.c1", "stem.c2"]
    assert net.shape("stem") == (16, 8, 8)


def test_inline_repeat_splices_into_the_enclosing_sequence():
    """VGG-style flat `features.N` built from a config list."""
    net = load("""
params: {cfg: [8, M, 16, M]}
inputs: {x: [3, 32, 32]}
nodes:
  - name: features
    nodes:
      - repeat: ${cfg}
        as: v
        inline: true
        nodes:
          - {op: maxpool2d, kernel: 2, when: "${v == 'M'}"}
          - {op: conv2d, channels: "${v if v != 'M' else 1}", kernel: 3, padding: 1, when: "${v != 'M'}"}
          - {op: relu, when: "${v != 'M'}"}
""")
    assert paths(net) == [f"features.{i}" for i in range(6)]
    assert [net.nodes[p].op for p in paths(net)] == ["conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d"]
    assert net.shape("features") == (16, 8, 8)


def test_expressions():
    net = load("""
params:
  width: 1.5
  base: 64
  channels: ${int(base * width)}
  deep: ${channels > 64}
  stages: ${[base * 2 ** s for s in range(3)]}
inputs: {x: [3, 8, 8]}
nodes:
  - {name: c, op: conv2d, channels: "${channels if deep else 1}", kernel: "${max(1, 3 // 2)}"}
  - {name: d, op: conv2d, channels: "${stages[-1] // 4}", kernel: 1}
""")
    assert net.params["channels"] == 96
    assert net.params["stages"] == [64, 128, 256]
    assert net.shape("c") == (96, 8, 8)
    assert net.shape("d") == (64, 8, 8)


def test_overrides_from_api_and_unknown_override():
    spec = "params: {n: 3}\ninputs: {x: [4]}\nnodes: [{op: linear, features: '${n}'}]\n"
    assert load(spec, n=7).output_shapes == {"0": (7,)}
    with pytest.raises(SpecError) as err:
        load(spec, m=7)
    assert str(err.value) == (
        "<load() arguments>: error[AS202] m=7: <string> has no parameter 'm' to override\n    hint: its parameters: n"
    )


def test_variant_overrides_params_removes_replaces_and_appends(write):
    write(
        "base.yaml",
        """
params: {depth: 2, num_classes: 10}
inputs: {x: [3, 8, 8]}
nodes:
  - {name: stem, op: conv2d, channels: 8, kernel: 3, padding: 1}
  - name: body
    repeat: ${depth}
    nodes:
      - {name: conv, op: conv2d, channels: 8, kernel: 3, padding: 1}
      - {name: add, op: add, in: [conv, "${'stem' if i == 0 else 'conv'}"]}
  - {name: pool, op: global_avgpool2d}
  - {name: fc, op: linear, features: "${num_classes}"}
""",
    )
    child = write(
        "child.yaml",
        """
extends: base.yaml
params: {depth: 3, dropout: 0.5}
remove: [fc]
replace:
  pool: {op: adaptive_avgpool2d, size: 2}
append:
  - {name: flat, op: flatten}
  - {name: drop, op: dropout, p: "${dropout}"}
  - {name: head, op: linear, features: "${num_classes}"}
""",
    )
    net = archspec.load(child)
    assert "body.2.conv" in net.nodes and "fc" not in net.nodes
    assert net.nodes["pool"].op == "adaptive_avgpool2d"
    assert net.output_shapes == {"head": (10,)}
    assert net.nodes["head"].params == 8 * 4 * 10 + 10


def test_removing_a_residual_block_rewires_the_sequence(write):
    """Veit et al.'s lesion study: drop one block of a stage; the next block reads the one before."""
    write(
        "base.yaml",
        """
blocks:
  res:
    nodes:
      - {name: conv, op: conv2d, channels: 8, kernel: 3, padding: 1}
      - {name: add, op: add, in: [conv, x]}
inputs: {x: [8, 4, 4]}
nodes:
  - {name: stage, repeat: 3, block: res}
""",
    )
    lesion = write("lesion.yaml", "extends: base.yaml\nremove: [stage.1]\n")
    net = archspec.load(lesion)
    assert [p for p in net.nodes if p.endswith("conv")] == ["stage.0.conv", "stage.2.conv"]
    assert net.graph.node("stage.2.conv").inputs == ("stage.0.add",)
    assert net.graph.node("stage.2.add").inputs == ("stage.2.conv", "stage.0.add")


def test_variant_can_override_a_block(write):
    write(
        "base.yaml",
        """
blocks:
  act: {nodes: [{op: relu}]}
inputs: {x: [4]}
nodes: [{name: a, block: act}]
""",
    )
    child = write("child.yaml", "extends: base.yaml\nblocks:\n  act: {nodes: [{op: silu}]}\n")
    assert archspec.load(child).nodes["a.0"].op == "silu"


def test_when_switches_nodes_and_references_to_them_are_explained():
    with pytest.raises(SpecError) as err:
        load("""
inputs: {x: [4]}
nodes:
  - {name: a, op: relu, when: false}
  - {name: b, op: sigmoid, in: a}
""")
    [d] = err.value.errors
    assert d.code == "AS401"
    assert "switched off by its `when:`" in d.message


def test_block_sees_only_its_scope():
    with pytest.raises(SpecError) as err:
        load("""
blocks:
  b: {nodes: [{op: add, in: [x, outer]}]}
inputs: {x: [4]}
nodes:
  - {name: outer, op: relu}
  - {name: inst, block: b}
""")
    assert err.value.errors[0].code == "AS401"
    assert "a block's body sees only its own nodes and inputs" in err.value.errors[0].hint


def test_groups_see_enclosing_scope_and_dotted_references():
    net = load("""
inputs: {x: [4, 8, 8]}
nodes:
  - name: enc
    nodes:
      - {name: c1, op: conv2d, channels: 4, kernel: 1}
      - {name: c2, op: conv2d, channels: 4, kernel: 1}
  - name: dec
    nodes:
      - {name: cat, op: concat, in: [enc.c1, x, enc]}
""")
    assert net.graph.node("dec.cat").inputs == ("enc.c1", "x", "enc.c2")
    assert net.shape("dec") == (12, 8, 8)


def test_forward_reference_is_sorted_topologically():
    net = load("""
inputs: {x: [4]}
outputs: [b]
nodes:
  - {name: b, op: relu, in: a}
  - {name: a, op: sigmoid, in: x}
""")
    assert [n.path for n in net.graph.nodes] == ["a", "b"]


def test_multiply_broadcast_rule_is_explicit():
    spec = """
inputs: {x: [8, 4, 4]}
nodes:
  - {name: pool, op: global_avgpool2d, keepdims: true}
  - {name: gate, op: sigmoid}
  - {name: scale, op: multiply, in: [x, gate]BROADCAST}
"""
    assert load(spec.replace("BROADCAST", ", broadcast: true")).shape("scale") == (8, 4, 4)
    with pytest.raises(SpecError) as err:
        load(spec.replace("BROADCAST", ""))
    d = err.value.errors[0]
    assert d.code == "AS501" and "broadcast: true" in d.hint


def test_load_from_text_and_path_agree(tmp_path):
    text = "inputs: {x: [4]}\nnodes: [{op: linear, features: 2}]\n"
    (tmp_path / "s.yaml").write_text(text)
    assert load(text).total_params == archspec.load(tmp_path / "s.yaml").total_params == 10
    assert archspec.load(str(tmp_path / "s.yaml")).file.endswith("s.yaml")


def test_library_cannot_be_loaded_as_a_network(write):
    lib = write("lib.yaml", "blocks:\n  a: {nodes: [{op: relu}]}\n")
    assert archspec.analyze(lib).library.blocks == ["a"]
    with pytest.raises(SpecError):
        archspec.load(lib)


def test_training_only_outputs_are_declared_and_reported():
    spec = """
inputs: {x: [4]}
outputs: [main, {node: aux, training_only: true}]
nodes:
  - {name: main, op: linear, features: 2}
  - {name: aux, op: linear, features: 3, in: x}
"""
    net = load(spec)
    assert net.graph.outputs == ("main", "aux") and net.graph.eval_outputs == ("main",)
    from archspec.report import summary_json, summary_text

    assert summary_json(net)["training_outputs"] == ["aux"]
    assert summary_text(net).endswith("outputs: main (N, 2), aux (N, 3) (training only)")
    with pytest.raises(SpecError) as err:
        load(spec.replace("outputs: [main, ", "outputs: [{node: main, training_only: true}, "))
    assert "every output is training-only" in err.value.errors[0].message


def test_a_failing_repeat_copy_keeps_its_name_and_its_readers_are_skipped():
    spec = (
        "inputs: {x: [3, 8, 8]}\nnodes:\n"
        "  - {repeat: 4, inline: true, names: 'c${i}', op: conv2d, channels: '${8 if i != 1 else -1}', kernel: 1}\n"
        "  - repeat: 2\n    inline: true\n    nodes:\n"
        "      - {name: 'd${i}', op: conv2d, channels: '${8 if i != 0 else -2}', kernel: 1}\n"
        "  - {name: out, op: add, in: [c3, d1]}\n"
    )
    result = archspec.analyze("<spec>", text=spec)
    assert [(d.code, d.node) for d in result.errors] == [("AS103", "c1"), ("AS103", "d0")]


# --- a block reads its input's shape -----------------------------------------------------------

RESIDUAL = """
blocks:
  residual:
    params: {width: null, stride: 1, project: "${in_channels != width or stride != 1}"}
    nodes:
      - {name: conv, op: conv2d, channels: "${width}", kernel: 3, stride: "${stride}", padding: 1}
      - {name: proj, op: conv2d, channels: "${width}", kernel: 1, stride: "${stride}", in: x, when: "${project}"}
      - {name: add, op: add, in: [conv, "${'proj' if project else 'x'}"]}
"""


def test_a_block_reads_its_input_channels():
    """The shortcut is projected exactly where the width or the size changes: the caller passes
    only the output width, as torchvision's RegNet and MobileNet blocks are called."""
    net = load(
        RESIDUAL
        + """
inputs: {x: [3, 16, 16]}
nodes:
  - {name: stem, op: conv2d, channels: 8, kernel: 1}
  - {name: a, block: residual, with: {width: 8}}
  - {name: b, block: residual, with: {width: 16, stride: 2}}
  - {name: c, block: residual, with: {width: 16}}
"""
    )
    assert [p for p in net.nodes if p.endswith(".proj")] == ["b.proj"]
    assert net.shape("c") == (16, 8, 8)


def test_in_shape_and_in_shapes_give_every_input_and_defaults_checks_and_nodes_see_them():
    net = load("""
blocks:
  merge:
    inputs: [x, skip]
    params: {width: "${in_shapes['skip'][0] + in_channels}"}
    checks:
      - {that: "${in_shape[1:] == in_shapes['skip'][1:]}", message: "sizes differ"}
    nodes:
      - {name: cat, op: concat, in: [x, skip]}
      - {name: mix, op: conv2d, channels: "${width * in_shape[1]}", kernel: 1}
inputs: {x: [3, 4, 4], y: [5, 4, 4]}
nodes:
  - {name: m, block: merge, in: [x, y]}
""")
    assert net.shape("m") == (32, 4, 4)


def test_in_channels_is_the_feature_count_of_features():
    net = load("""
blocks:
  widen: {nodes: [{op: linear, features: "${in_channels * 2}"}]}
inputs: {x: [6]}
nodes:
  - {name: w, block: widen}
  - {name: v, block: widen}
""")
    assert net.shape("v") == (24,)


def test_blocks_reading_shapes_nest_and_read_their_own_input():
    net = load("""
blocks:
  grow:
    nodes: [{name: conv, op: conv2d, channels: "${in_channels + 1}", kernel: 1}]
  stage:
    params: {n: 2}
    nodes:
      - {name: first, op: conv2d, channels: "${in_channels * 2}", kernel: 1}
      - {repeat: "${n}", inline: true, names: "g${i}", block: grow}
inputs: {x: [3, 4, 4]}
nodes:
  - {name: s1, block: stage}
  - {name: s2, block: stage, with: {n: 1}}
""")
    assert [net.shape(p) for p in ("s1.g0", "s1.g1", "s2.first", "s2.g0")] == [
        (7, 4, 4),
        (8, 4, 4),
        (16, 4, 4),
        (17, 4, 4),
    ]


def test_a_parameter_named_like_a_shape_name_shadows_it():
    net = load("""
blocks:
  b:
    params: {in_channels: 5}
    nodes: [{op: conv2d, channels: "${in_channels}", kernel: 1}]
inputs: {x: [3, 4, 4]}
nodes: [{name: b, block: b}]
""")
    assert net.shape("b") == (5, 4, 4)


def test_reading_the_shape_where_there_is_none_is_located():
    result = archspec.analyze(
        "<spec>", text="inputs: {x: [3, 4, 4]}\nnodes:\n  - {op: conv2d, channels: '${in_channels}', kernel: 1}\n"
    )
    [error] = result.errors
    assert (error.code, error.loc.line) == ("AS201", 3)
    assert "'in_channels' is the shape of a block's input: it is defined only inside a block" in error.message


def test_an_unknown_input_shape_is_reported_at_the_call_after_its_cause():
    result = archspec.analyze(
        "<spec>",
        text=RESIDUAL
        + """
inputs: {x: [3, 4, 4]}
nodes:
  - {name: stem, op: conv2d, channels: 8, kernel: 9}
  - {name: a, block: residual, with: {width: 8}}
  - {name: b, block: residual, with: {width: 8}}
""",
    )
    assert [(d.code, d.node) for d in result.errors] == [("AS504", "stem"), ("AS206", "a")]
    assert (
        "reads its input's shape (in_channels), but the shape of its input 'stem' is unknown"
        in result.errors[1].message
    )


def test_blocks_waiting_on_each_other_are_a_cycle():
    result = archspec.analyze(
        "<spec>",
        text=RESIDUAL
        + """
inputs: {x: [3, 4, 4]}
nodes:
  - {name: a, block: residual, with: {width: 8}, in: b}
  - {name: b, block: residual, with: {width: 8}, in: a}
  - {name: out, op: relu, in: x}
""",
    )
    assert [(d.code, d.node) for d in result.errors] == [("AS206", "a"), ("AS206", "b")]
    assert "a cycle through `in:`" in result.errors[0].hint


def test_a_variant_that_changes_the_input_instantiates_the_block_again(write):
    base = (
        RESIDUAL
        + """
inputs: {x: [3, 4, 4]}
nodes:
  - {name: stem, op: conv2d, channels: 8, kernel: 1}
  - {name: a, block: residual, with: {width: 8}}
"""
    )
    write("base.yaml", base)
    wider = write("wider.yaml", "extends: base.yaml\nreplace:\n  stem: {op: conv2d, channels: 4, kernel: 1}\n")
    lesion = write("lesion.yaml", "extends: base.yaml\nreplace:\n  a.conv: {op: conv2d, channels: 8, kernel: 1}\n")
    assert "a.proj" not in archspec.load(base).nodes
    assert "a.proj" in archspec.load(wider).nodes  # 4 channels in, 8 out: projected
    assert archspec.load(lesion).nodes["a.conv"].params == 8 * 8 + 8  # an edit reaches inside
    after = write("after.yaml", "extends: wider.yaml\nreplace:\n  a.conv: {op: conv2d, channels: 8, kernel: 1}\n")
    assert archspec.load(after).nodes["a.conv"].params == 4 * 8 + 8  # edited after it was instantiated again
    both = write("both.yaml", "extends: lesion.yaml\nreplace:\n  stem: {op: conv2d, channels: 4, kernel: 1}\n")
    [error] = archspec.analyze(both).errors  # instantiated again, it would lose lesion.yaml's edit
    assert error.code == "AS206" and "an edit changes a node inside it" in error.message


def test_deferred_blocks_report_their_own_mistakes_once():
    result = archspec.analyze(
        "<spec>",
        text="""
blocks:
  bad:
    nodes:
      - {name: conv, op: conv2d, channels: "${in_channels}", kernel: 1}
      - {name: oops, op: conv2d, channels: -1, kernel: 1}
inputs: {x: [3, 4, 4]}
nodes:
  - {name: a, block: bad}
  - {name: b, block: bad, in: x}
""",
    )
    [error] = result.errors
    assert (error.code, error.node, error.also) == ("AS103", "a.oops", ("b.oops",))


def test_a_repeat_of_nodes_without_a_count_is_a_located_error():
    """`repeat:` with no value on a repeat of nodes (fuzz seed 202, a truncated ConvNeXt) was an AS900
    internal error (KeyError: 'repeat')."""
    text = "inputs: {x: [4]}\nnodes:\n  - {op: relu}\n  - repeat:\n"
    [error] = archspec.analyze("<spec>", text=text).errors
    assert (error.code, error.loc.line, error.loc.column) == ("AS104", 4, 12)
    assert error.message == "`repeat` has no value: a repeat needs a count or a list"
