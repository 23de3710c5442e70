"""Fuzzing, part (b): valid means it runs. Random valid networks over every registered op, in every
kind of container generated code emits (tests/netgen.py), with nodes named like framework and
generated-code attributes, parameters inside containers and layers of one class with different
init schemes, are built with each backend (`archspec.build`) and run once in evaluation and once
in training with a backward pass (tests/fuzz_run.py); each output's real shape must equal the one
the network was built for (each top-level node is an output, so the module returns them all)."""

from __future__ import annotations

import random
from collections import Counter

import fuzz_names
import fuzz_run
import netgen
import pytest
from hypothesis import HealthCheck, Phase, given, settings

import archspec
from archspec.ops import OPS

EXAMPLES = 20  # per test (60 in torch, which is fast; 15 in Flax), plus 2 per op with that op first
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def test_the_generator_covers_every_registered_op():
    assert set(OPS) == netgen.COVERED


CLASSES = ("framework name", "generated-code name", "key name", "parameter in a container", "mixed init", "block")


def _sample(n: int = 150) -> list[tuple[str, dict, object]]:
    """The networks of the first `n` seeds: (spec, expected shapes, the network checked)."""
    out = []
    for seed in range(n):
        text, expected, _ = netgen.generate(random.Random(seed))
        out.append((text, expected, archspec.load(text)))
    return out


def test_the_generator_makes_each_class_of_input():
    """Each class the fuzzers exist for is common among the generated networks (a campaign of
    10,000 cases meets each hundreds of times), and every network checks with the shapes it was
    built for."""
    seen: Counter = Counter()
    for text, expected, net in _sample():
        assert {p: net.shape(p) for p in expected} == expected, text
        seen.update(fuzz_run.features(net))
    for kind in CLASSES:
        assert seen[kind] >= 15, (kind, seen)


@pytest.mark.parametrize("backend", ["torch", "flax"])
def test_generated_networks_of_each_class_run(backend):
    """Whatever Hypothesis draws, every class is built in every run: the first networks of each
    (three in torch, one in Flax, which runs eagerly and slower)."""
    pytest.importorskip({"torch": "torch", "flax": "flax.nnx"}[backend])
    per_class, built = (3 if backend == "torch" else 1), Counter()
    for text, expected, net in _sample(60):
        classes = fuzz_run.features(net)
        if any(built[c] < per_class for c in classes & set(CLASSES)):
            _runs(text, expected, backend)
            built.update(classes)
    assert all(built[c] >= per_class for c in CLASSES), built


def test_the_framework_names_are_those_of_the_installed_frameworks():
    pytest.importorskip("torch")
    pytest.importorskip("flax.nnx")
    torch_names, nnx_names = fuzz_names.current()
    missing = (set(torch_names) - set(fuzz_names.TORCH_NAMES)) | (set(nnx_names) - set(fuzz_names.NNX_NAMES))
    assert not missing, f"run `python tests/fuzz_names.py` and paste its lists: {sorted(missing)}"


def _all_names() -> str:
    """One network that names a node with every name of fuzz_names: at the top level, inside a
    group (with keys, so a module dict), and as parameters inside a group."""
    top = [{"name": n, "op": "linear", "features": 2} for n in fuzz_names.TOP if n != "x"]
    inner = [{"name": n, "op": "linear", "features": 2} for n in fuzz_names.INNER]
    params = [{"name": n, "op": "parameter", "shape": [1, 2]} for n in fuzz_names.INNER]
    nodes = [*top, {"name": "inner0", "nodes": inner}, {"name": "params0", "nodes": params}]
    return netgen.dump({"name": "names", "inputs": {"x": [3]}, "nodes": nodes})


@pytest.mark.parametrize("backend", ["torch", "flax"])
def test_every_name_of_the_fuzzers_is_a_node_name_that_builds(backend):
    pytest.importorskip({"torch": "torch", "flax": "flax.nnx"}[backend])
    net = archspec.load(_all_names())
    evaluated, trained = fuzz_run.run_built(net, backend)
    assert evaluated == trained == [(2,)]
    assert fuzz_run.false_accept(net, backend) is None


@SETTINGS
@given(case=netgen.network())
def test_random_networks_infer_the_shapes_they_were_built_for(case):
    text, expected, _ = case
    net = archspec.load(text)
    assert {p: net.shape(p) for p in expected} == expected, text


def _runs(text: str, expected: dict, backend: str) -> None:
    evaluated, trained = fuzz_run.run_built(archspec.load(text), backend)
    assert evaluated == trained == list(expected.values()), text


@settings(SETTINGS, max_examples=3 * EXAMPLES)
@given(case=netgen.network())
def test_random_networks_run_in_torch_with_the_inferred_shapes(case):
    pytest.importorskip("torch")
    text, expected, _ = case
    _runs(text, expected, "torch")


# Flax runs eagerly here, a second or so per network: fewer of them (each class is built in
# test_generated_networks_of_each_class_run), and a failure is reported as found, not shrunk
@settings(SETTINGS, max_examples=15, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(case=netgen.network())
def test_random_networks_run_in_flax_with_the_inferred_shapes(case):
    pytest.importorskip("flax.nnx")
    text, expected, _ = case
    _runs(text, expected, "flax")


PER_OP = settings(SETTINGS, max_examples=2)


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_runs_in_both_backends_with_the_inferred_shapes(op):
    pytest.importorskip("torch")
    pytest.importorskip("flax.nnx")

    @PER_OP
    @given(case=netgen.network(max_nodes=2, force=op))
    def run(case):
        text, expected, _ = case
        _runs(text, expected, "torch")
        _runs(text, expected, "flax")

    run()
