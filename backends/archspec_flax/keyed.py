"""Members whose names are no safe attributes of an `nnx.Module`: set and read by key.

Every member of an nnx module is an attribute, so a name that is not an identifier or is a
keyword (`a-b`, `0`, `if`) is set with `setattr` and read with `getattr`. A name that would
shadow one of nnx's own attributes (`eval`, `sow`, `deterministic`) or a private one
(`_version`; nnx keeps its internals in `_pytree__…` and `_object__…`) is stored as `~name`
instead, a key no node name can take; transfer.py reads the `~` away, so canonical keys stay
the node paths.
"""

from __future__ import annotations

import ast

# Public attributes of nnx.Module and nnx.Dict, instances included (flax 0.12), and what generated
# classes define. tests/test_keyed_names.py holds this against the installed flax.
RESERVED = frozenset(
    [
        "clear",
        "eval",
        "get",
        "items",
        "iter_children",
        "iter_modules",
        "keys",
        "perturb",
        "pop",
        "popitem",
        "set_attributes",
        "setdefault",
        "sow",
        "train",
        "update",
        "values",
    ]
) | {
    "deterministic",  # the training flag generated classes keep; nnx's eval()/train() set it on
    "use_running_average",  # every module that has it, and this one too
    "archspec_source",  # set on the model by archspec.build
    "archspec_backend",
    "archspec_fingerprint",
}

ESCAPE = "~"


# What nnx's layers name their variables, which transfer.py renames (`scale` -> `weight`): a learned
# tensor of a class's own (a `parameter` node) under such a name keeps it only escaped.
LAYER_VARIABLES = frozenset({"kernel", "scale", "bias", "mean", "var", "num_batches_tracked"})


def attribute(name: str, tensor: bool = False) -> str:
    """The attribute (or nnx.Dict key) a member named `name` is stored under."""
    escape = name.startswith("_") or name in RESERVED or (tensor and name in LAYER_VARIABLES)
    return ESCAPE + name if escape else name


def plain(items: dict[str, ast.expr]) -> ast.expr:
    """`nnx.Dict({...})` under the members' attributes."""
    keys = [ast.Constant(attribute(k, _is_param(v))) for k, v in items.items()]
    return ast.Call(
        ast.Attribute(ast.Name("nnx", ast.Load()), "Dict", ast.Load()), [ast.Dict(keys, list(items.values()))], []
    )


def _is_param(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and ast.unparse(value.func) == "nnx.Param"


def canonical(part: str) -> str:
    """A path part of the flax module as a node name: `attribute` undone."""
    return part[len(ESCAPE) :] if isinstance(part, str) and part.startswith(ESCAPE) else part


def keyed_set(name: str, value: ast.expr, tensor: bool) -> ast.stmt:
    """`setattr(self, "if", value)`, `setattr(self, "~eval", value)`."""
    args = [ast.Name("self", ast.Load()), ast.Constant(attribute(name, tensor)), value]
    return ast.Expr(ast.Call(ast.Name("setattr", ast.Load()), args, []))


def keyed_get(name: str, tensor: bool) -> ast.expr:
    args = [ast.Name("self", ast.Load()), ast.Constant(attribute(name, tensor))]
    return ast.Call(ast.Name("getattr", ast.Load()), args, [])
