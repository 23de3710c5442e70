"""Zoo names in `extends` and `imports` (a real path wins), their errors, and `archspec list --paths`."""

import json

from conftest import SPECS

import archspec
from archspec import changed

RESNET_BLOCK_USER = "inputs: {x: [64, 8, 8]}\nnodes:\n  - {name: b, block: basic_block, with: {planes: 64}}\n"
ZOO_HINT = "(`archspec list --paths` shows the zoo's names)"


def test_extends_a_zoo_network_by_name(run, write, monkeypatch):
    vit = archspec.load("vit_b_16")
    for target in ("vit_b_16", "vit_b_16.yaml"):
        spec = write(f"mine_{target.replace('.', '_')}.yaml", f"extends: {target}\nname: my_vit\n")
        code, out, _ = run("check", str(spec))
        assert code == 0
        assert out.splitlines()[0] == f"{spec}: ok (my_vit: 86,567,656 params, 17.56G MACs)"
        net = archspec.load(spec)
        assert (net.total_params, net.total_macs) == (vit.total_params, vit.total_macs)
        assert [n.path for n in net.graph.nodes] == [n.path for n in vit.graph.nodes]
    # with new defaults, as docs/spec.md shows; from YAML text the folder is the current directory
    monkeypatch.chdir(spec.parent)
    ten = archspec.load("extends: vit_b_16\nparams: {num_classes: 10}\n")
    assert ten.output_shapes == {"heads.head": (10,)}
    assert ten.total_params == vit.total_params - 990 * (768 + 1)  # the head: 10 classes, not 1,000


def test_imports_a_zoo_block_library_by_name(run, write):
    for target in ("blocks/resnet", "blocks/resnet.yaml"):
        spec = write("net.yaml", f"imports: [{{from: {target}, blocks: [basic_block]}}]\n" + RESNET_BLOCK_USER)
        code, out, _ = run("check", str(spec))
        assert code == 0 and out.splitlines()[0] == f"{spec}: ok (net: 73,984 params, 4.72M MACs)"
    # the spec builds on the zoo's file: a change to it, or a search for its dependents, finds the spec
    assert (SPECS / "blocks" / "resnet.yaml").resolve() in changed.dependencies(spec)
    assert changed.dependents([SPECS / "blocks" / "resnet.yaml"], [spec.parent]) == [spec]


def test_a_real_path_wins_over_a_zoo_name(run, write):
    write("blocks/resnet.yaml", "blocks:\n  basic_block:\n    params: {planes: null}\n    nodes: [{op: relu}]\n")
    spec = write("net.yaml", "imports: [{from: blocks/resnet.yaml, blocks: [basic_block]}]\n" + RESNET_BLOCK_USER)
    code, out, _ = run("check", str(spec))
    assert code == 0 and out.splitlines()[0] == f"{spec}: ok (net: 0 params, 0 MACs)"
    # the path as written: nothing is at blocks/resnet, so that is the zoo's library
    spec.write_text("imports: [{from: blocks/resnet, blocks: [basic_block]}]\n" + RESNET_BLOCK_USER)
    code, out, _ = run("check", str(spec))
    assert code == 0 and out.splitlines()[0] == f"{spec}: ok (net: 73,984 params, 4.72M MACs)"


def test_unknown_names_are_as001_with_the_zoo_in_the_hint(run, write):
    cases = {
        "extends: vit_b_61\n": [
            "{spec}:1:10: error[AS001] no such spec file or zoo spec: vit_b_61",
            f"    hint: did you mean 'vit_b_16', from the zoo? {ZOO_HINT}",
        ],
        "imports: [{from: blocks/resnt}]\ninputs: {x: [3, 8, 8]}\nnodes: [{op: relu}]\n": [
            "{spec}:1:11: error[AS001] no such spec file or zoo spec: blocks/resnt",
            f"    hint: did you mean 'blocks/resnet', from the zoo? {ZOO_HINT}",
        ],
        "extends: mynet.yaml\n": [
            "{spec}:1:10: error[AS001] no such spec file or zoo spec: mynet.yaml",
            f"    hint: check the path; it is no zoo name either {ZOO_HINT}",
        ],
        # a path into a folder, like none of the zoo's names: the message it always had
        "imports: [{from: blocks/nowhere.yaml}]\ninputs: {x: [3, 8, 8]}\nnodes: [{op: relu}]\n": [
            "{spec}:1:11: error[AS001] no such spec file: {folder}/blocks/nowhere.yaml",
            "    hint: check the path; relative paths are resolved against the file that names them",
        ],
    }
    for text, expected in cases.items():
        spec = write("net.yaml", text)
        code, out, _ = run("check", str(spec))
        assert code == 1
        assert out.splitlines() == [
            *(line.format(spec=spec, folder=spec.parent) for line in expected),
            "checked 1 file: 0 valid, 1 invalid (1 error, 0 warnings)",
        ]
    # on the command line too
    code, out, _ = run("check", "vit_b_61")
    assert code == 2
    assert out.splitlines()[:2] == [
        "vit_b_61: error[AS001] no such file or directory: vit_b_61",
        f"    hint: did you mean 'vit_b_16', from the zoo? {ZOO_HINT}",
    ]


def test_list_paths_shows_where_the_zoo_is(run):
    networks = sorted(p.stem for p in SPECS.glob("*.yaml"))
    libraries = sorted(f"blocks/{p.stem}" for p in (SPECS / "blocks").glob("*.yaml"))
    code, out, _ = run("list", "--paths")
    assert code == 0
    lines = out.splitlines()
    width = max(map(len, networks + libraries))
    assert lines[0] == "name".ljust(width) + "  path"
    assert lines[1] == "alexnet".ljust(width) + f"  {SPECS.resolve() / 'alexnet.yaml'}"
    assert "blocks/resnet".ljust(width) + f"  {SPECS.resolve() / 'blocks' / 'resnet.yaml'}" in lines
    assert [line.split()[0] for line in lines[1:-1]] == networks + libraries
    assert lines[-1] == (
        f"{len(networks)} networks and {len(libraries)} block libraries in {SPECS.resolve()}; "
        "a name works anywhere a spec path goes, in `extends` and `imports` too"
    )
    code, out, _ = run("list", "--paths", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["root"] == str(SPECS.resolve())
    assert doc["specs"][0] == {"name": "alexnet", "path": str(SPECS.resolve() / "alexnet.yaml")}
    assert [s["name"] for s in doc["specs"]] == networks + libraries
