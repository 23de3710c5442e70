"""The restricted expression evaluator: what it computes, and what it refuses."""

import pytest

from archspec.expr import ExprError, evaluate, substitute


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("planes * 4", {"planes": 64}, 256),
        ("int(64 * width)", {"width": 1.5}, 96),
        ("2 if i == 0 else 1", {"i": 0}, 2),
        ("a < b <= c", {"a": 1, "b": 2, "c": 2}, True),
        ("not x or y", {"x": True, "y": False}, False),
        ("layers[1:]", {"layers": [1, 2, 3]}, [2, 3]),
        ("[c * 2 for c in cs if c > 1]", {"cs": [1, 2, 3]}, [4, 6]),
        ("sum([a * b for a, b in zip(xs, ys)])", {"xs": [1, 2], "ys": [3, 4]}, 11),
        ("1 - 0.5 * k / (n - 1)", {"k": 54, "n": 55}, 0.5),
        ("max(1, min(4, 9)) + abs(-2) + len('ab') + floor(2.5) + ceil(2.1) + round(2.4)", {}, 15),
        ("'M' in cfg", {"cfg": [64, "M"]}, True),
    ],
)
def test_evaluates(text, names, expected):
    assert evaluate(text, names) == expected


def test_comprehension_does_not_leak_its_variable():
    names = {"c": 7}
    assert evaluate("[c for c in range(3)] + [c]", names) == [0, 1, 2, 7]
    assert names == {"c": 7}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "'__import__' cannot be called"),
        ("().__class__", "attribute access is not allowed"),
        ("open('x')", "'open' cannot be called"),
        ("(lambda: 1)()", "'lambda' cannot be called"),
        ("[f for f in (lambda: 1,)]", "lambda is not allowed"),
        ("{'a': 1}", "a dict literal is not allowed"),
        ("x := 1", "invalid expression syntax"),
        ("2 ** 1000", "exponent 1000 is too large"),
        ("'a' * 10 ** 9", "too large"),
        ("[0] * 10 ** 9", "too large"),
        ("list(range(10))", "'list' cannot be called"),
        ("range(10 ** 9)", "range longer than"),
        ("1 / 0", "division by zero"),
        ("x is None", "'is' comparisons are not allowed"),
        ("missing + 1", "name 'missing' is not defined"),
        ("f'{1}'", "an f-string is not allowed"),
        ("1 << 3", "bitwise"),
        ("int", "'int' is a function"),
        ("max(key=1)", "keyword arguments are not allowed"),
        ("x" * 2000, "longer than 1000"),
    ],
)
def test_refuses(text, message):
    with pytest.raises(ExprError) as err:
        evaluate(text, {"x": 1})
    assert message in str(err.value)


def test_substitute_whole_and_partial():
    assert substitute("${n * 2}", {"n": 3}) == 6
    assert substitute("layer${n + 1}", {"n": 0}) == "layer1"
    assert substitute("${a}-${b}", {"a": 1, "b": 2}) == "1-2"
    assert substitute("plain", {}) == "plain"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-[1]", "cannot apply unary - to a list"),
        ("[1, 2][::0]", "slice step must not be zero"),
        ("range(0, 3, 0)", "range() step must not be zero"),
        ("[1] in d", "`in` a mapping needs a string key on the left, not a list"),
        ("'%s' % 1", "cannot apply % to a string and an integer"),
        ("[1] + 1", "cannot apply + to a list and an integer"),
        ("'a' < 1", "cannot order a string and an integer"),
        ("(-8) ** 0.5", "a negative number to a fractional power"),
        ("0 ** -1", "division by zero"),
        ("int(1e308) * int(1e308)", "more than 256 bits"),
        ("float('inf')", "not a finite number"),
        ("1e308 * 10", "not a finite number"),
        ("len(5)", "len() takes a list or a string, not an integer"),
        ("max([])", "max() of an empty list"),
        ("sum([[1], [2]], [])", "sum() adds numbers"),
        ("int('1' * 200)", "longer than 100 characters"),
        ("round(1.5, 10 ** 50)", "round()'s digits"),
        ("min(1)", "takes a list, not an integer"),
        ("sqrt(-1)", "sqrt() of a negative number"),
        ("[1, 2][5]", "index 5 is out of range"),
        ("[1, 2]['a']", "indexed by an integer, not a string"),
        ("d['b']", "no key 'b'"),
        ("range(3)(1)", "cannot be called"),
        ("zip(1)", "zip() takes lists or strings"),
        ("abs()", "abs() does not take 0 arguments"),
    ],
)
def test_checks_operand_types_before_each_operation(text, message):
    with pytest.raises(ExprError) as err:
        evaluate(text, {"d": {"a": 1}})
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("str(['a' * 1000] * 1000)", "is too large"),
        ("sum([len([k] * k) for k in range(100000)])", "steps of work"),
        ("[[k] * 1000] * 1000", "is too large"),
        ("[i for i in range(100000) if [j for j in range(100000)]]", "steps of work"),
        ("'ab' * 60000", "is too large"),
        ("2 ** 64 * 2 ** 64 * 2 ** 64 * 2 ** 64 * 2 ** 64", "more than 256 bits"),
    ],
)
def test_bounds_work_and_size(text, message):
    from archspec.expr import LimitError

    with pytest.raises(LimitError) as err:
        evaluate(text, {"k": 1})
    assert message in str(err.value)


def test_interpolation_cannot_double_strings_without_bound():
    from archspec.expr import LimitError

    names = {"s": "x" * 60_000}
    with pytest.raises(LimitError) as err:
        substitute("${s}${s}", names)
    assert "longer than 100,000 characters" in str(err.value)


def test_a_wall_time_deadline_stops_an_expression():
    import time

    from archspec.expr import LimitError, SpecBudget

    with pytest.raises(LimitError) as err:
        evaluate("[i for i in range(100000)]", {}, SpecBudget(deadline=time.monotonic() - 1))
    assert "time limit" in str(err.value)


def test_all_of_a_specs_expressions_share_one_step_budget():
    """A cheap expression repeated 100,000 times is bounded too, by steps, not by a clock."""
    from archspec.expr import LimitError, SpecBudget

    spec = SpecBudget()
    with pytest.raises(LimitError) as err:
        for _ in range(1000):
            evaluate("len([i for i in range(20000)])", {}, spec)
    assert str(err.value).endswith("the spec's expressions do more than 5,000,000 steps of work in all")


def _torchvision_make_divisible(v, divisor, min_value=None):
    """torchvision/models/_utils.py `_make_divisible`, verbatim."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@pytest.mark.parametrize("divisor", [1, 3, 8, 16])
def test_make_divisible_is_torchvisions(divisor):
    values = [0, 1, 4, 7.5, 8, 11.99, 12, 20, 23.9, 24, 35.2, 96 * 0.75, 1280 * 1.4, 10**6 + 0.5]
    for v in values:
        for args in ((v, divisor), (v, divisor, 16), (v, divisor, 0.5)):
            text = f"make_divisible({', '.join(map(repr, args))})"
            assert evaluate(text, {}) == _torchvision_make_divisible(*args), args


@pytest.mark.parametrize(
    ("text", "expected"),
    [("log(8, 2)", 3.0), ("round(log(100) / log(10))", 2), ("exp(0)", 1.0), ("make_divisible(32 * 1.4, 8)", 48)],
)
def test_log_exp(text, expected):
    assert evaluate(text, {}) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("make_divisible(10, 0)", "divisor must be a positive integer"),
        ("make_divisible('a', 8)", "takes a number, not a string"),
        ("make_divisible(10, 8, 'x')", "min_value is a number"),
        ("make_divisible(10)", "does not take 1 argument"),
        ("log(0)", "log() takes a positive number, not 0"),
        ("log(8, 1)", "base is a positive number other than 1"),
        ("exp(1000)", "too large"),
    ],
)
def test_new_functions_check_their_arguments(text, message):
    with pytest.raises(ExprError) as err:
        evaluate(text, {})
    assert message in str(err.value)


def test_a_deferred_shape_stops_evaluation_wherever_it_is_read():
    """Until a block's input shape is known, reading it (alone, in an operation, interpolated or in a
    comprehension) raises NeedsShape, which the block call catches: never a value in an operation."""
    from archspec.exprlib import Deferred, NeedsShape

    token = object()
    names = {"in_channels": Deferred(token, "in_channels"), "w": 4}
    for text in ("${in_channels}", "${in_channels * 2}", "c${in_channels}", "${[in_channels for _ in range(2)]}"):
        with pytest.raises(NeedsShape) as err:
            substitute(text, names)
        assert err.value.token is token and err.value.name == "in_channels"
    assert substitute("${w * 2}", names) == 8  # not read: no deferral
