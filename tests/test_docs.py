"""The documentation cannot drift from the program."""

import re

from conftest import ROOT, SPECS

import archspec
from archspec.errors import CODES
from archspec.ops import OPS

SPEC_MD = (ROOT / "docs" / "spec.md").read_text()


def test_every_op_is_documented():
    table = SPEC_MD.split("## Ops", 1)[1]
    documented = set(re.findall(r"`([a-z0-9_]+)`", table.split("## Limits")[0]))
    assert set(OPS) <= documented


def test_error_table_is_complete():
    text = (ROOT / "docs" / "errors.md").read_text()
    for code, (slug, meaning) in CODES.items():
        assert f"| {code} | {slug} | {meaning} |" in text


def test_transfer_learning_example_works(tmp_path):
    example = SPEC_MD.split("# a transfer-learning head\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "transfer.yaml"
    path.write_text(example.replace("extends: resnet50.yaml", f"extends: {SPECS / 'resnet50.yaml'}"))
    net = archspec.load(path)
    assert net.output_shapes == {"head": (6,)}
    assert net.total_params == 25_557_032 - (2048 * 1000 + 1000) + (2048 * 6 + 6)


def test_lenet_example_is_the_zoo_file():
    example = SPEC_MD.split("# specs/lenet5.yaml\n", 1)[1].split("```", 1)[0]
    zoo = (SPECS / "lenet5.yaml").read_text()
    assert example.strip() in zoo


def test_readme_api_numbers():
    net = archspec.load(SPECS / "resnet50.yaml", num_classes=10)
    assert (net.total_params, net.total_macs) == (23528522, 4089184256 - 2048 * 990)
    assert net.shape("layer2") == (512, 28, 28)
