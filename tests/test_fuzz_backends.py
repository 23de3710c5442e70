"""Fuzzing, part (b): valid means it runs. Random valid networks over every registered op are
built with each backend (`archspec.build`) and run once; every node's real shape must equal the
inferred one (each node is an output, so the module returns them all)."""

from __future__ import annotations

import netgen
import pytest
from hypothesis import HealthCheck, given, settings

import archspec
from archspec.ops import OPS

EXAMPLES = 20  # per test, plus 2 per op with that op first
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def test_the_generator_covers_every_registered_op():
    assert set(OPS) == netgen.COVERED


@SETTINGS
@given(case=netgen.network())
def test_random_networks_infer_the_shapes_they_were_built_for(case):
    text, expected, _ = case
    net = archspec.load(text)
    assert {p: net.shape(p) for p in expected} == expected, text


def _check_outputs(text: str, outs, expected: dict, order) -> None:
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    got = {p: order(p, tuple(o.shape)) for p, o in zip(expected, outs)}
    assert got == expected, text


@SETTINGS
@given(case=netgen.network())
def test_random_networks_run_in_torch_with_the_inferred_shapes(case):
    torch = pytest.importorskip("torch")
    text, expected, _ = case
    model = archspec.build(text, backend="torch", seed=0).eval()
    c, h, w = archspec.load(text).input_shapes["x"]
    with torch.no_grad():
        outs = model(torch.randn(2, c, h, w))
    _check_outputs(text, outs, expected, lambda p, s: s[1:])


def _spec_order(net):
    """Flax's shape of each node back in the spec's order: images are NHWC there."""

    def order(path, shape):
        image = len(shape) == 4 and net.layout(path) == "CHW"
        return (shape[3], shape[1], shape[2]) if image else shape[1:]

    return order


@SETTINGS
@given(case=netgen.network())
def test_random_networks_run_in_flax_with_the_inferred_shapes(case):
    jnp = pytest.importorskip("jax.numpy")
    text, expected, _ = case
    model = archspec.build(text, backend="flax", seed=0)
    model.eval()
    c, h, w = archspec.load(text).input_shapes["x"]
    outs = model(jnp.ones((2, h, w, c)))
    _check_outputs(text, outs, expected, _spec_order(archspec.load(text)))


PER_OP = settings(SETTINGS, max_examples=2)


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_runs_in_both_backends_with_the_inferred_shapes(op):
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")

    @PER_OP
    @given(case=netgen.network(max_nodes=2, force=op))
    def run(case):
        text, expected, _ = case
        c, h, w = archspec.load(text).input_shapes["x"]
        model = archspec.build(text, backend="torch", seed=0).eval()
        with torch.no_grad():
            _check_outputs(text, model(torch.randn(2, c, h, w)), expected, lambda p, s: s[1:])
        flax_model = archspec.build(text, backend="flax", seed=0)
        flax_model.eval()
        _check_outputs(text, flax_model(jnp.ones((2, h, w, c))), expected, _spec_order(archspec.load(text)))

    run()
