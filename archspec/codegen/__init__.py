"""Framework-neutral source generation, shared by every backend.

structure.py finds the module tree and each callable group's program; classes.py drafts one class
per block structure; render.py prints them; pysrc.py builds and formats syntax; naming.py keeps
identifiers valid and user text inert. A backend supplies a `lowering.Backend`: an emitter per op
and its framework's idioms.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
from collections.abc import Callable

from ..api import Network
from .classes import classes
from .lowering import Backend, Idioms, OpEmitter
from .naming import Namespace, class_name, safe_text
from .pysrc import CodegenError, Slot, call, const, index, join, method, name, template
from .render import render_class
from .structure import build_tree

__all__ = [
    "Backend",
    "CodegenError",
    "Idioms",
    "Namespace",
    "OpEmitter",
    "Slot",
    "call",
    "class_name",
    "const",
    "fingerprint",
    "generate",
    "instantiate",
    "index",
    "io_doc",
    "join",
    "method",
    "name",
    "safe_text",
    "scale",
    "slice_part",
    "template",
]


def generate(net: Network, backend: Backend, header: str, helpers: list[str], model_init=(), model_methods=()) -> str:
    """The whole generated file: header, helper definitions, the block classes, the model last."""
    root = build_tree(net)
    gen, model, chains = classes(root, net, backend)
    idioms = backend.idioms
    if chains and idioms.sequential_source:  # the framework has no chain container: define one
        helpers = [*helpers, idioms.sequential_source]
    rendered = []
    for cls in gen:
        is_model = cls.template is model
        lines = render_class(
            cls, net, backend, model, model_init if is_model else (), model_methods if is_model else ()
        )
        rendered.append("\n".join(lines) + "\n")
    helpers = [*helpers, *(source for h, source in idioms.on_demand.items() if h in idioms.used)]
    parts = [header.rstrip("\n") + "\n"]
    parts += [h.strip("\n") + "\n" for h in helpers]
    parts += rendered
    out = parts[0]
    for i, part in enumerate(parts[1:]):  # two blank lines around definitions; one after the imports
        out += ("\n\n" if i or part.startswith(("def ", "class ", "@")) else "\n") + part
    return out


def scale(op, x: ast.expr) -> ast.expr:
    """`factor * x + offset` as a person would write it (`1.0 - t`, `0.5 * x`)."""
    f, o = Slot(op.factor, "factor"), Slot(op.offset, "offset")
    if op.factor == -1 and op.offset != 0:
        return ast.BinOp(o, ast.Sub(), x)
    term = x if op.factor == 1 else ast.UnaryOp(ast.USub(), x) if op.factor == -1 else ast.BinOp(f, ast.Mult(), x)
    return term if op.offset == 0 else ast.BinOp(term, ast.Add(), o)


def slice_part(op, size: int) -> ast.Slice:
    """A `slice` op's `start:stop:step` over an axis of `size`, leaving out what Python defaults."""
    start, stop = op.bounds(size)
    return ast.Slice(
        Slot(start, "start") if start else None,
        Slot(stop, "stop") if op.stop is not None else None,
        Slot(op.step, "step") if op.step != 1 else None,
    )


def io_doc(net: Network, shape: Callable[[tuple, str], str], method: str, sep: str) -> str:
    """The module docstring's inputs and outputs, and what `method` returns in training and evaluation."""
    graph = net.graph
    io = sep.join(
        [
            *(f"Input {safe_text(k)}: {shape(v, net.layout(k))}." for k, v in graph.inputs.items()),
            *(f"Output {safe_text(k)}: {shape(v, net.layout(k))}." for k, v in net.output_shapes.items()),
        ]
    )
    if graph.training_outputs:
        io += (
            f"\nIn training, {method} returns ({safe_text(', '.join(graph.outputs))}); "
            f"in evaluation, ({safe_text(', '.join(graph.eval_outputs))})."
        )
    elif len(graph.outputs) > 1:
        io += f"\n{method} returns a tuple: ({safe_text(', '.join(graph.outputs))})."
    return io


def fingerprint(net: Network) -> str:
    """Identity of a network's structure: two modules with equal fingerprints have the same
    parameters under the same paths, so weights can move between them."""
    graph = net.graph
    parts = [repr(sorted(graph.inputs.items())), repr(graph.outputs)]
    parts += [f"{n.path}|{n.op.model_dump_json()}|{','.join(n.inputs)}" for n in graph.nodes]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class _Source:
    """A loader for generated source, so tracebacks show its lines even after linecache is cleared."""

    def __init__(self, source: str) -> None:
        self.source = source

    def get_source(self, _name: str) -> str:
        return self.source


def _source_file(source: str, stem: str) -> str:
    """Where the generated source is written, so that every traceback printer (Python 3.11's
    default hook reads files, not linecache) shows its lines: a per-user cache directory, one
    file per content hash; a pseudo-name if that cannot be written."""
    import os
    import tempfile

    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    folder = os.path.join(tempfile.gettempdir(), f"archspec-generated-{os.getuid() if hasattr(os, 'getuid') else 0}")
    path = os.path.join(folder, f"{stem}_{digest}.py")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not os.path.isfile(path):
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(source)
            os.replace(tmp, path)
        return path
    except OSError:
        return f"<archspec {stem} {digest}>"


def instantiate(net: Network, source: str, backend: str, construct=lambda model_class: model_class()):
    """Execute generated source under its own file name (tracebacks show its lines, whose comments
    give the YAML location) and build its model class with `construct`; the instance records its
    source, backend and fingerprint."""
    import ast
    import re

    stem = re.sub(r"\W", "_", f"{net.graph.name}_{backend}")[:60]
    filename = _source_file(source, stem)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"archspec_generated_{stem}", "__loader__": _Source(source), "__file__": filename}
    tree = ast.parse(source, filename)
    exec(compile(tree, filename, "exec"), namespace)  # our own generated source: spec text only as literals
    model_class = [n.name for n in tree.body if isinstance(n, ast.ClassDef)][-1]  # the model is defined last
    module = construct(namespace[model_class])
    module.archspec_source = source
    module.archspec_backend = backend
    module.archspec_fingerprint = fingerprint(net)
    return module
