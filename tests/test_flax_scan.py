"""`scan=True` (Flax): runs of identical blocks stacked and applied with nnx.scan. The function,
the training statistics and `archspec.transfer`'s keys are those of the unrolled module."""

import numpy as np
import pytest
from conftest import SPECS

import archspec
import archspec.backends

jax = pytest.importorskip("jax")
nnx = pytest.importorskip("flax.nnx")


def test_scanned_resnet_computes_the_unrolled_function_and_statistics():
    spec = SPECS / "resnet50.yaml"
    unrolled = archspec.build(spec, backend="flax", seed=3)
    scanned = archspec.transfer(unrolled, archspec.build(spec, backend="flax", init=False, scan=True))
    stages = [getattr(scanned, f"layer{i}") for i in range(1, 5)]
    assert [(type(s[1]).__name__, s[1].start, s[1].count) for s in stages] == [
        ("Scanned", 1, 2),
        ("Scanned", 1, 3),
        ("Scanned", 1, 5),
        ("Scanned", 1, 2),
    ]
    x = jax.numpy.asarray(np.random.RandomState(0).randn(2, 64, 64, 3).astype(np.float32))
    # train first: batch statistics move inside the scan. A batch of 2 normalised over 2x2 maps in
    # layer4 amplifies float32 rounding (the scan sums in another order): 1e-4 there, 1e-5 in eval
    for mode, tolerance in (("train", 1e-4), ("eval", 1e-5)):
        getattr(unrolled, mode)()
        getattr(scanned, mode)()
        a, b = np.asarray(unrolled(x)), np.asarray(scanned(x))
        assert np.abs(a - b).max() <= tolerance * np.abs(a).max()
    flax = archspec.backends.get("flax")
    ours, theirs = flax.export_state(scanned), flax.export_state(unrolled)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_scan_is_a_flax_option():
    with pytest.raises(ValueError, match="does not support scan"):
        archspec.build(SPECS / "lenet5.yaml", scan=True)
