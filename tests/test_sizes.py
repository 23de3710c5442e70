"""`archspec check --sizes`: which input sizes a network accepts, and where the others fail."""

import json

import pytest
from conftest import SPECS

from archspec.sizes import SizesError, _ranges, parse


def test_acceptance_unet_names_failing_sizes_and_the_node(run):
    code, out, _ = run("check", str(SPECS / "unet.yaml"), "--sizes", "32:512:8")
    assert code == 1  # some sizes fail
    lines = out.splitlines()
    assert lines[:3] == [
        f"{SPECS / 'unet.yaml'}: image_size 32..512 step 8: valid for 31 of 61 sizes",
        "  valid:   32..512 every 16",  # divisible by 2^4: four 2x2 pools round nothing down
        "  invalid: 40..504 every 16",
    ]
    assert lines[3].startswith(f"  image_size 40: {SPECS / 'unet.yaml'}:")
    assert lines[3].endswith(
        "error[AS502] up1.cat: concat operands differ off axis 1: 'skip' is (N, 512, 5, 5), 'up' is (N, 512, 4, 4)"
    )
    assert lines[-1].startswith("  also AS502 at up1.cat for 88..504 every 16")


def test_all_valid_exits_zero_and_json(run):
    code, out, _ = run("check", str(SPECS / "unet.yaml"), "--sizes", "64:256:64", "--format", "json")
    assert code == 0
    (doc,) = json.loads(out)
    assert doc["valid"] == [64, 128, 192, 256] and doc["invalid"] == []


def test_networks_that_shrink_the_input_fail_on_small_sizes(run):
    code, out, _ = run("check", str(SPECS / "resnet18.yaml"), "--sizes", "1:40:1", "--format", "json")
    (doc,) = json.loads(out)
    assert code == 0
    assert doc["valid"] == list(range(1, 41))  # adaptive pooling takes any size down to 1 pixel
    code, out, _ = run("check", str(SPECS / "alexnet.yaml"), "--sizes", "32:80:16", "--format", "json")
    (doc,) = json.loads(out)
    assert code == 1
    assert doc["valid"] == [64, 80] and [f["size"] for f in doc["invalid"]] == [32, 48]
    assert doc["invalid"][0]["code"] == "AS504" and doc["invalid"][0]["node"] == "features.12"  # the last pool


def test_spec_without_a_size_parameter_is_a_usage_error(run):
    code, _, err = run("check", str(SPECS / "lenet5.yaml"), "--sizes", "28:32")
    assert code == 2
    assert "has no parameter 'image_size' to vary: make the input size a parameter" in err
    code, out, _ = run("check", str(SPECS / "unet.yaml"), "--sizes", "64:64", "--size-param", "base")
    assert code == 0  # any integer parameter can be swept


@pytest.mark.parametrize("bad", ["32", "a:b", "64:32", "0:8", "1:100000:1"])
def test_bad_ranges(bad):
    with pytest.raises(SizesError):
        parse(bad)


def test_range_text():
    assert _ranges((1, 2, 3, 5, 9, 11, 13), 1) == "1..3, 5, 9..13 every 2"
    assert _ranges((4,), 1) == "4"
    assert _ranges((4, 6), 1) == "4, 6"
