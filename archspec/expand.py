"""Stage 3 — expand: spec files to a tree of concrete nodes.

Runs the passes in order — link files (files.py), bind parameters (params.py), instantiate
blocks and repeats (instantiate.py), instantiate the blocks that read their input's shape
(inputshape.py), apply variant edits (edits.py) and instantiate those again — then resolves the
outputs. The tree's types live in tree.py; graph.py takes it from here.
"""

from __future__ import annotations

from pathlib import Path

from .edits import apply_edits
from .errors import fail
from .files import File, block_table, chain_of, check_library, read_cached, validate_file
from .inputshape import resolve_input_shapes
from .instantiate import expand_list, resolve
from .load import load_yaml
from .params import Overrides, bind_spec, inputs_of
from .spec import EntryCommon
from .tree import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_REPEAT,
    BlockInfo,
    Ctx,
    Expanded,
    Library,
    Ref,
    State,
    TGroup,
    TNode,
    TOp,
    loc_at,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_REPEAT",
    "Expanded",
    "Library",
    "Ref",
    "TGroup",
    "TNode",
    "TOp",
    "expand",
]


def expand(source: str | Path, overrides: dict | None = None, *, text: str | None = None) -> Expanded | Library:
    """Expand a spec file (or `text`, named `source`) into a tree. Raises `Fail` on fatal errors."""
    overrides = overrides if isinstance(overrides, Overrides) else Overrides(overrides or {})
    state = State()
    path = Path(source)
    if text is not None:
        raw = load_yaml(text, str(source))
        first = File(path, raw, validate_file(raw))
    else:
        first = read_cached(path, None)
    chain = chain_of(first)
    leaf = chain[-1]
    for f in chain:
        if f.spec.extends and f.spec.nodes is not None:
            fail(
                "AS304",
                "a spec with `extends` edits its base with remove/replace/append; it cannot declare `nodes`",
                f.raw.key_loc("nodes"),
                hint="remove `nodes:` and express the changes with remove/replace/append",
            )
        if not f.spec.extends and (f.spec.remove or f.spec.replace or f.spec.append):
            key = next(k for k in ("remove", "replace", "append") if f.raw.get(k))
            fail(
                "AS304",
                f"`{key}` edits a base spec; add `extends: BASE.yaml`",
                f.raw.key_loc(key),
                hint="add `extends: BASE.yaml` naming the spec to edit",
            )
    blocks: dict[str, BlockInfo] = {}
    for f in chain:
        blocks.update(block_table(f, state))
    name = leaf.spec.name or path.stem
    if chain[0].spec.nodes is None:
        if not blocks:
            fail(
                "AS104",
                "the file has neither `nodes` (a network) nor `blocks` (a library)",
                leaf.raw.loc,
                "see docs/spec.md for the layout of a spec",
            )
        check_library(blocks, state)
        if overrides:
            fail(
                "AS202",
                "a block library has no parameters to override",
                leaf.raw.loc,
                hint="drop --set for this file, or check a spec that imports the library",
            )
        return Library(name, str(path), sorted(blocks), state.diags)
    params = bind_spec(chain, overrides, state)
    ctx = Ctx(params, blocks, block_table(chain[0], state), state)
    inputs = inputs_of(chain, ctx)
    children, disabled = expand_list(chain[0].raw["nodes"], ctx, loc_at(chain[0].raw, "nodes"))
    root = TGroup("", chain[0].raw.loc, (), None, children, tuple(inputs), None, None, disabled)
    tree = Expanded(name, str(path), params, inputs, None, root, state.diags)
    resolve_input_shapes(tree, state)
    for f in chain[1:]:
        apply_edits(root, f, Ctx(params, blocks, block_table(f, state), state))
        resolve_input_shapes(tree, state)
    out_file = next((f for f in reversed(chain) if f.spec.outputs is not None), None)
    outputs = None
    if out_file is not None:
        raw_out = out_file.raw["outputs"]
        outputs = []
        for i, (o, model) in enumerate(zip(raw_out, out_file.spec.outputs)):
            text = o["node"] if isinstance(o, dict) else o
            training = bool(getattr(model, "training_only", False))
            if isinstance(o, dict) and not resolve(o, ctx, EntryCommon, "an output", ("when",)).get("when", True):
                continue
            outputs.append(Ref(str(ctx.ev(text, raw_out.item_loc(i))), raw_out.item_loc(i), training))
    tree.outputs = outputs
    return tree
