"""Targeted edits of a spec that keep it valid, each making one class of input generated code has
got wrong: a node renamed to a framework attribute, a keyword or a name generated code defines
(tests/fuzz_names.py); one layer's init scheme changed, so layers of one class differ (ConvNeXt's
stem with another `init`); a member moved into a group beside a `parameter`, whose name may be a
key (`a-b`), making the group a module dict. tests/fuzzing.py applies them to zoo specs and to
generated networks.
"""

from __future__ import annotations

import random

import netgen
from fuzz_names import weird_name


def containers(tree, path=()):
    """Every (path, container) inside a document."""
    yield path, tree
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for k, v in items:
        if isinstance(v, (dict, list)):
            yield from containers(v, (*path, k))


def _node_lists(tree):
    """(member entries, the group or file holding them, at the top level?) for every sequence."""
    for path, c in containers(tree):
        if isinstance(c, dict) and isinstance(c.get("nodes"), list):
            yield c["nodes"], c, path == ()


def _entries(tree):
    for nodes, holder, top in _node_lists(tree):
        for i, e in enumerate(nodes):
            if isinstance(e, dict) and {"op", "block", "nodes"} & set(e):
                yield nodes, i, holder, top


def _rename_refs(nodes: list, holder: dict, old: str, new: str) -> None:
    """References to a renamed member: from its siblings (and their members), its group's `output`
    and the spec's outputs."""

    def fix(ref):
        if isinstance(ref, str) and (ref == old or ref.startswith(old + ".")):
            return new + ref[len(old) :]
        if isinstance(ref, dict) and "node" in ref:
            return {**ref, "node": fix(ref["node"])}
        return [fix(x) for x in ref] if isinstance(ref, list) else ref

    for _, e in containers(nodes):  # members of groups inside see it too
        if isinstance(e, dict) and "in" in e:
            e["in"] = fix(e["in"])
    for key in ("output", "outputs"):
        if key in holder:
            holder[key] = fix(holder[key])


def rename(tree, rng: random.Random, steps: list[str]) -> None:
    """A node named like a framework attribute, a keyword or a name generated code defines."""
    sites = list(_entries(tree))
    if not sites:
        return
    nodes, i, holder, top = rng.choice(sites)
    old, new = nodes[i].get("name"), weird_name(rng, top=top, invalid=0.05)
    nodes[i]["name"] = new
    if isinstance(old, (str, int)):
        _rename_refs(nodes, holder, str(old), new)
    steps.append(f"rename {old!r} to {new!r}")


def mix_init(tree, rng: random.Random, steps: list[str]) -> None:
    """One layer's init scheme other than its siblings' (the convnext stem's `init`)."""
    layers = {op for op, _ in netgen.BLOCK_INITS}
    sites = [(nodes, i) for nodes, i, _, _ in _entries(tree) if nodes[i].get("op") in layers]
    if not sites:
        return
    nodes, i = rng.choice(sites)
    entry = nodes[i]
    field_, values = rng.choice([(f, vs) for (o, f), vs in netgen.BLOCK_INITS.items() if o == entry["op"]])
    entry[field_] = rng.choice([v for v in values if v != entry.get(field_)] or values)
    steps.append(f"{entry.get('name', entry['op'])}: {field_} = {entry[field_]!r}")


def wrap_parameter(tree, rng: random.Random, steps: list[str]) -> None:
    """A member moved into a group (its value still the group's, through `output`) beside a
    `parameter` whose name may be a key, which makes the group a module dict."""
    sites = [(nodes, i) for nodes, i, _, _ in _entries(tree) if not nodes[i].get("inline")]
    if not sites:
        return
    nodes, i = rng.choice(sites)
    entry = dict(nodes[i])
    inner = str(entry.get("name", "m"))
    wrapper = {k: entry.pop(k) for k in ("name", "when") if k in entry}
    shape = rng.choice([[1, 4], [3, 1, 1], [1, 1, 8]])
    name = next(n for n in iter(lambda: weird_name(rng), None) if n != inner)
    param = {"name": name, "op": "parameter", "shape": shape, "batch": shape[0] == 1}
    param["init"] = rng.choice(["zeros", "normal", 0.5])
    wrapper |= {"output": inner, "nodes": [{"name": inner, **entry}, param]}
    nodes[i] = wrapper
    steps.append(f"wrap {inner!r} in a group with parameter {param['name']!r}")


TARGETED = (rename, mix_init, wrap_parameter)
