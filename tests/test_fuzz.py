"""Fuzzing, part (a): mutated zoo specs end valid or in located diagnostics, within time and memory.

Hypothesis drives the engine in tests/fuzzing.py (structural and textual mutations: types, ranges,
deletions, unknown keys, references, expressions, YAML tags/anchors/aliases, encodings, special
paths; generated networks and targeted edits, tests/fuzz_edits.py) with a fixed seed and a bounded
budget; benchmarks/fuzz.py runs the same engine for long campaigns. The last guard (AS900, an
internal error) must never be reached. Whether the valid ones build is tests/test_fuzz_backends.py's.
"""

from __future__ import annotations

import resource

import fuzzing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 300
MEMORY_GROWTH = 1 << 30  # peak RSS may grow by at most 1 GiB over the whole run


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    fuzzing.prepare(work)
    return work


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_zoo_specs_are_valid_or_located(rng, workdir):
    case = fuzzing.make_case(rng)
    before = _peak_rss()
    verdict = fuzzing.judge(case, workdir)
    assert verdict.outcome in fuzzing.GOOD, f"{verdict.outcome}: {case.describe()}\n{verdict.detail}"
    assert verdict.seconds < fuzzing.HANG_S, case.describe()
    assert _peak_rss() - before < MEMORY_GROWTH, case.describe()


@pytest.mark.parametrize(
    "text",
    [
        "extends: /dev/zero\n",
        "extends: /dev/urandom\n",
        "imports: [{from: /dev/stdin}]\ninputs: {x: [1]}\nnodes: [{op: relu}]\n",
        "extends: fifo.yaml\n",
        "imports: [{from: fifo.yaml}]\ninputs: {x: [1]}\nnodes: [{op: relu}]\n",
        "extends: " + "a" * 5000 + ".yaml\n",
        'extends: "nul\\0.yaml"\n',
        "a: &a [*a]\n",
        "deep: " + "[" * 5000 + "]" * 5000 + "\n",
        "inputs: {x: [3, 8, 8]}\nnodes:\n  - {op: conv2d, channels: '${sum([[k] * k] * k, [])}', kernel: 1}\n",
        "params: {k: 1000}\ninputs: {x: [3, 8, 8]}\n"
        "nodes:\n  - {op: conv2d, channels: '${str([\"a\" * k] * k)}', kernel: 1}\n",
    ],
)
def test_special_inputs(text, workdir):
    """The issue's hangs and blow-ups, through the same judge as the random cases."""
    verdict = fuzzing.judge(fuzzing.Case("lenet5.yaml", text), workdir)
    assert verdict.outcome == "located error", verdict.detail
    assert verdict.seconds < 2


def test_the_judge_catches_each_bad_outcome(workdir, monkeypatch):
    """The fuzz suite is only as good as its judge: a crash and an unlocated error are caught."""
    import archspec.api

    monkeypatch.setattr(archspec.api, "infer", lambda graph: 1 / 0)
    assert fuzzing.judge(fuzzing.Case("lenet5.yaml", (fuzzing.SPECS / "lenet5.yaml").read_text()), workdir).outcome == (
        "crash"
    )
    monkeypatch.undo()
    from archspec.errors import Diagnostic, Loc

    assert fuzzing.unlocated([Diagnostic("AS101", "x", Loc("f.yaml"), hint="h")])
    assert not fuzzing.unlocated([Diagnostic("AS202", "x", Loc("<command line>"), hint="h")])
