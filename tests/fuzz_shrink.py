"""The smallest spec that still fails the same way: a greedy reducer for false accepts.

`shrink(case, workdir)` deletes list items and mapping keys, and lowers numbers to 1 or 2, one at a
time, keeping each change after which the spec still checks valid and still fails to build or run
(tests/fuzz_run.py) with the same message once names and numbers are masked (`cause`); it stops
when no single change keeps the failure. benchmarks/fuzz.py --shrink INDEX prints the result.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import fuzz_run
import fuzzing
import netgen
import yaml

import archspec


def cause(detail: str) -> str:
    """A failure's first line with its names and numbers masked: one per distinct cause."""
    first = detail.strip().splitlines()[0] if detail.strip() else ""
    masked = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)
    return re.sub(r"\b\d+\b", "N", masked)[:160]


def failure(case: fuzzing.Case, workdir: Path, backends=("torch", "flax")) -> tuple[str, str] | None:
    """How a case that checks valid fails to build or run: (the first backend that fails, why)."""
    result = archspec.analyze(fuzzing.case_path(workdir, case))
    if not result.valid or result.network is None:
        return None
    for backend in backends:
        problem = fuzz_run.false_accept(result.network, backend)
        if problem:
            return backend, problem
    return None


def _edits(tree, path=()):
    """Every single reduction of the tree: (path to the parent, key, new value or DELETE)."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for k, v in list(items):
        yield path, k, DELETE
        if isinstance(v, (dict, list)):
            yield from _edits(v, (*path, k))
        elif isinstance(v, int) and not isinstance(v, bool) and v > 2:
            yield path, k, 1
            yield path, k, 2


DELETE = object()


def _apply(tree, path, key, new):
    out = copy.deepcopy(tree)
    parent = out
    for p in path:
        parent = parent[p]
    if new is DELETE:
        del parent[key]
    else:
        parent[key] = new
    return out


def shrink(case: fuzzing.Case, workdir: Path, backends=("torch", "flax"), budget: int = 2000) -> str:
    """The case's spec reduced while it fails as it does now; its YAML text."""
    want = failure(case, workdir, backends)
    if want is None or isinstance(case.text, bytes):
        return case.text if isinstance(case.text, str) else case.text.decode("utf-8", "replace")
    backends, target, tree = want[:1], cause(want[1]), yaml.safe_load(case.text)
    changed = True
    while changed and budget > 0:
        changed = False
        for path, key, new in _edits(tree):
            budget -= 1
            if budget <= 0:
                break
            candidate = _apply(tree, path, key, new)
            try:
                text = netgen.dump(candidate)
            except yaml.YAMLError:
                continue
            trial = fuzzing.Case(case.base, text, case.overrides)
            got = failure(trial, workdir, backends)
            if got is not None and cause(got[1]) == target:
                tree, changed = candidate, True
                break
    return netgen.dump(tree)
