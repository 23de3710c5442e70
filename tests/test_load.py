"""Loading: positions are kept, and nothing but plain data gets through."""

import pytest

from archspec.errors import Fail
from archspec.load import LocDict, load_yaml, loc_of


def error(text: str):
    with pytest.raises(Fail) as exc:
        load_yaml(text, "t.yaml")
    [d] = exc.value.diagnostics
    return d


def test_positions_of_keys_values_and_items():
    data = load_yaml("a: 1\nnodes:\n  - {op: relu, name: r}\n  - op: add\n", "t.yaml")
    assert isinstance(data, LocDict)
    assert str(data.key_loc("nodes")) == "t.yaml:2:1"
    assert str(loc_of(data, ("nodes", 0, "name"))) == "t.yaml:3:22"
    assert str(loc_of(data, ("nodes", 1))) == "t.yaml:4:5"
    assert str(loc_of(data, ("nodes", 7))) == "t.yaml:3:3"  # falls back to the closest known position


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system [echo hi]\n",
        "a: !!python/name:os.system\n",
        "a: !custom 3\n",
        "a: !!binary aGk=\n",
        "a: !!set {x: null}\n",
    ],
)
def test_tags_are_refused(text):
    d = error(text)
    assert d.code == "AS003" and d.loc.line == 1


def test_merge_keys_are_refused():
    d = error("base: &b {x: 1}\nother:\n  <<: *b\n")
    assert d.code == "AS003" and "merge" in d.message


def test_duplicate_keys_are_refused():
    d = error("name: a\nname: b\n")
    assert d.code == "AS106" and d.loc.line == 2 and "t.yaml:1:1" in d.hint


def test_small_aliases_are_fine_but_bombs_are_not():
    assert load_yaml("a: &x [1, 2]\nb: *x\n", "t.yaml")["b"] == [1, 2]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        bomb += f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]\n"
    assert error(bomb).code == "AS004"


def test_non_mapping_documents_and_keys():
    assert error("[1, 2]\n").code == "AS006"
    assert error("just text\n").code == "AS006"
    assert error("? [a, b]\n: 1\n").code == "AS006"


def test_multiple_documents_are_a_syntax_error():
    assert error("a: 1\n---\nb: 2\n").code == "AS002"


def test_non_utf8_file(tmp_path):
    from archspec.load import read_spec_file

    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00a: 1")
    with pytest.raises(Fail) as exc:
        read_spec_file(path)
    assert exc.value.diagnostics[0].code == "AS002"


def test_date_like_words_stay_text():
    assert load_yaml("description: 2026-11-22\n", "t.yaml")["description"] == "2026-11-22"
