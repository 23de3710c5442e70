"""Parameter binding stays linear (issue 20): a chain of n parameters, each default an expression
on the one before, once copied the whole table for every parameter, O(n^2); 47,134 of them (a
1 MB spec) took 35 s. No timing here: the tests count the table entries handed to the evaluator
in tables it had not been handed just before, which a copy per parameter makes grow as n^2."""

from collections.abc import Iterator, Mapping

import pytest

import archspec
from archspec import expr


def chain(n: int) -> str:
    """The worst case's shape (benchmarks/check_scaling.py --params): p0: 1, p1: ${p0+1}, ..."""
    lines = ["inputs: {x: [4]}", "nodes:", f"  - {{name: fc, op: linear, features: '${{p{n - 1}}}'}}", "params:"]
    return "\n".join([*lines, " p0: 1", *(f" p{i}: ${{p{i - 1}+1}}" for i in range(1, n))]) + "\n"


def block_chain(n: int) -> str:
    """The same chain as a block's parameter defaults, bound at its call."""
    params = "\n".join([" " * 6 + "p0: 1", *(" " * 6 + f"p{i}: ${{p{i - 1}+1}}" for i in range(1, n))])
    return f"""\
inputs: {{x: [4]}}
blocks:
  head:
    params:
{params}
    nodes:
      - {{name: fc, op: linear, features: '${{p{n - 1}}}'}}
nodes:
  - {{name: body, block: head}}
"""


def fresh_entries(text: str, monkeypatch) -> int:
    """Analyse `text`; return the entries of the name tables the evaluator was handed, counting a
    table again only when it is not the one handed to the evaluation before (a copy). Only the
    previous table is held, so a freed copy's id being reused cannot hide a copy."""
    seen = {"previous": None, "entries": 0}
    init = expr._Eval.__init__

    def recording(self, names, budget):
        if names is not seen["previous"]:
            seen["entries"] += len(names)
            seen["previous"] = names
        init(self, names, budget)

    monkeypatch.setattr(expr._Eval, "__init__", recording)
    result = archspec.analyze("chain.yaml", text=text)
    assert result.valid, result.diagnostics
    return seen["entries"]


@pytest.mark.parametrize("spec", [chain, block_chain], ids=["spec params", "block params"])
def test_binding_hands_the_evaluator_one_table_not_a_copy_per_parameter(spec, monkeypatch):
    small, large = fresh_entries(spec(2000), monkeypatch), fresh_entries(spec(4000), monkeypatch)
    # A copy per parameter: about n^2 / 2 entries (2,000,000 and 8,000,000), four times as many for
    # twice the parameters. Shared: a handful, whatever n is.
    assert large <= 2.5 * small
    assert large <= 4000


class CountingTable(Mapping):
    """A name table that counts walks over it: copying it (dict(t), {**t}) walks it."""

    def __init__(self, values: dict):
        self.values = values
        self.walks = 0

    def __getitem__(self, key):
        return self.values[key]

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator:
        self.walks += 1
        return iter(self.values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a + 1", 3),
        ("[x * a for x in range(3)]", [0, 2, 4]),
        ("[[a for a in [x]] + [a] for x in [5]]", [[5, 2]]),  # a variable shadows, then not
        ("sum([len([y for y in range(x)]) for x in range(a * 2)])", 6),
    ],
)
def test_evaluation_reads_the_table_without_copying_it(text, expected):
    table = CountingTable({"a": 2, "unused": list(range(1000))})
    assert expr.evaluate(text, table) == expected
    assert expr.substitute(f"v${{{text}}}", table) == f"v{expected}"
    assert table.walks == 0


def test_unknown_name_still_lists_the_scope_with_comprehension_variables():
    with pytest.raises(expr.ExprError, match=r"name 'zz' is not defined \(in scope: a, item\)"):
        expr.evaluate("[zz for item in [1]]", {"a": 1})
