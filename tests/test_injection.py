"""No spec text reaches generated code except as a validated identifier or a literal: hostile names
and strings through every user-facing field either get a located error or build inert modules."""

import ast
import json

import pytest

import archspec

MARKER = "archspec_injection_marker"


def payloads(marker: str) -> list[str]:
    code = f"__import__('pathlib').Path({marker!r}).touch()"
    return [
        f'"; {code}; "',
        f"'; {code}; '",
        f'"""\n{code}\n"""',
        f"'''\n{code}\n'''",
        f"\\\n{code}",
        f"x\n{code}\n",
        f"x # \n{code}",
        f"x\u2028{code}",
        f"x\x00{code}",
        f"x\r{code}",
        code,
        f"{{{code}}}",
        "${" + code + "}",
    ]


SPEC = {
    "name": "net",
    "paper": "a paper",
    "inputs": {"x": [3, 8, 8]},
    "blocks": {
        "unit": {
            "description": "a block",
            "params": {"c": 4},
            "nodes": [
                {"name": "conv", "op": "conv2d", "channels": "${c}", "kernel": 3, "padding": 1},
                {"name": "act", "op": "relu"},
            ],
        }
    },
    "nodes": [
        {"name": "stem", "block": "unit"},
        {"name": "head", "op": "flatten"},
        {"name": "fc", "op": "linear", "features": 2},
    ],
}

FIELDS = {
    "name": lambda s, p: s.__setitem__("name", p),
    "paper": lambda s, p: s.__setitem__("paper", p),
    "description": lambda s, p: s["blocks"]["unit"].__setitem__("description", p),
    "node name": lambda s, p: s["nodes"][1].__setitem__("name", p),
    "block node name": lambda s, p: s["blocks"]["unit"]["nodes"][1].__setitem__("name", p),
    "block name": lambda s, p: (
        s["blocks"].__setitem__(p, s["blocks"].pop("unit")),
        s["nodes"][0].__setitem__("block", p),
    ),
    "input name": lambda s, p: s.__setitem__("inputs", {p: [3, 8, 8]}),
    "param name": lambda s, p: s["blocks"]["unit"].__setitem__("params", {p: 4}),
    "init": lambda s, p: s["blocks"]["unit"]["nodes"][0].__setitem__("init", p),
    "gelu mode": lambda s, p: s["nodes"].insert(1, {"name": "g", "op": "gelu", "approximate": p}),
}


@pytest.mark.parametrize("field", FIELDS)
def test_hostile_text_never_runs(field, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch = pytest.importorskip("torch")
    for i, payload in enumerate(payloads(MARKER)):
        spec = json.loads(json.dumps(SPEC))
        FIELDS[field](spec, payload)
        path = tmp_path / f"spec{i}.yaml"
        path.write_text(json.dumps(spec))  # JSON is YAML: every character arrives as written
        result = archspec.analyze(path)
        if not result.valid:
            assert all(d.loc is not None and d.loc.line for d in result.errors), [d.message for d in result.errors]
            continue
        for backend in ("torch", "flax"):
            source = archspec.compile(result.network, backend=backend)
            tree = ast.parse(source)
            assert MARKER not in _code_strings(tree), (field, payload)
            exec(compile(tree, "<generated>", "exec"), {"__name__": "generated"})  # defines classes only
        model = archspec.build(result.network)
        model(torch.randn(1, 3, 8, 8))
        assert not (tmp_path / MARKER).exists(), (field, payload)
    assert not (tmp_path / MARKER).exists()


def _code_strings(tree: ast.Module) -> str:
    """Every string literal and name outside docstrings (where user text is inert)."""
    docs = {
        id(b.body[0].value)
        for b in ast.walk(tree)
        if isinstance(b, (ast.Module, ast.ClassDef, ast.FunctionDef)) and b.body and isinstance(b.body[0], ast.Expr)
    }
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            out.append(n.value)
        elif isinstance(n, ast.Name):
            out.append(n.id)
        elif isinstance(n, ast.Attribute):
            out.append(n.attr)
    return "\n".join(out)


def test_hostile_spec_file_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for i, payload in enumerate(payloads(MARKER)):
        name = "".join(ch for ch in payload if ch not in "/\x00")[:80] or f"p{i}"
        path = tmp_path / f"{name}.yaml"
        try:
            path.write_text(json.dumps(SPEC))
        except (OSError, ValueError):
            continue
        for backend in ("torch", "flax"):
            source = archspec.compile(path, backend=backend)
            exec(compile(source, "<generated>", "exec"), {"__name__": "generated"})
        archspec.build(path)
    assert not (tmp_path / MARKER).exists()
