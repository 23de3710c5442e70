"""Ops from other packages, through the `archspec.ops` entry-point group.

A plugin package declares, in its pyproject.toml,

    [project.entry-points."archspec.ops"]
    hardtanh = "my_ops:register"

and `my_ops.register()` calls `register_op(Model, emitters={"torch": ..., "flax": ...})` for each of
its ops: the op's pydantic model (shape rule, parameters and MACs, like the built-in ops in
archspec/op_*.py) and one `archspec.codegen.OpEmitter` per backend (docs/backends.md). A backend
without an emitter for an op in a spec reports AS601 at the node instead of generating code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import entry_points

from .codegen.lowering import OpEmitter
from .errors import Diagnostic, SpecError
from .opbase import OPS, Op, register

GROUP = "archspec.ops"
EMITTERS: dict[str, dict[str, OpEmitter]] = {}  # backend -> op -> emitter, from plugins


def register_op(model: type[Op], emitters: Mapping[str, OpEmitter] | None = None) -> type[Op]:
    """Make `model` an op of the spec language and give it an emitter per backend."""
    name = model.model_fields["op"].default
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"an op's `op` field needs an identifier default, not {name!r}")
    if name in OPS and OPS[name] is not model:
        raise ValueError(f"op {name!r} is already registered by {OPS[name].__module__}")
    register(model)
    for backend, emitter in (emitters or {}).items():
        EMITTERS.setdefault(backend, {})[name] = emitter
    return model


@functools.cache
def load() -> tuple[str, ...]:
    """Run every installed plugin's registration once; the names of the entry points loaded."""
    names = []
    for ep in entry_points(group=GROUP):
        target = ep.load()
        if callable(target):
            target()
        names.append(ep.name)
    return tuple(names)


def emitters_for(backend: str, builtin: Mapping[str, OpEmitter], net) -> dict[str, OpEmitter]:
    """The emitter of every op in `net` for `backend`; AS601 at the first node of an op without one."""
    load()
    table = {**EMITTERS.get(backend, {}), **builtin}
    missing: dict[str, object] = {}
    for node in net.graph.nodes:
        if node.op.name not in table:
            missing.setdefault(node.op.name, node)
    if missing:
        raise SpecError(
            [
                Diagnostic(
                    "AS601",
                    f"the {backend} backend has no emitter for op '{op}'",
                    node.loc,
                    node=node.path,
                    hint=f"install a version of the plugin that provides '{op}' for {backend}, or use another backend",
                    trace=node.trace,
                )
                for op, node in missing.items()
            ]
        )
    return table
