"""Framework-neutral pieces of source generation, shared by every backend.

A backend supplies, per op, a constructor expression (or None) and a call expression;
this module names things, builds the container tree whose attribute paths are node paths,
and writes the forward body: one statement per node, a variable reused by the node that
consumes its value last, training-only nodes under a guard, outputs in declared order.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable

from .api import Network
from .graph import Node


def class_name(name: str, taken=()) -> str:
    """The model's class: the network's name in CamelCase, suffixed with `Model` where that
    would shadow a builtin or a helper the generated file defines (a network named
    'stochastic_depth' next to the StochasticDepth layer)."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    out = "".join(w[:1].upper() + w[1:] for w in words) or "Model"
    out = out if out[0].isalpha() else "Net" + out
    return out + "Model" if out in taken or out in dir(builtins) or keyword.iskeyword(out) else out


def io_doc(net: Network, shape: Callable[[tuple], str], method: str, sep: str) -> str:
    """The module docstring's inputs and outputs, and what `method` returns in training and evaluation."""
    graph = net.graph
    io = sep.join(
        [
            *(f"Input {k}: {shape(v)}." for k, v in graph.inputs.items()),
            *(f"Output {k}: {shape(v)}." for k, v in net.output_shapes.items()),
        ]
    )
    if graph.training_outputs:
        io += (
            f"\nIn training, {method} returns ({', '.join(graph.outputs)}); "
            f"in evaluation, ({', '.join(graph.eval_outputs)})."
        )
    elif len(graph.outputs) > 1:
        io += f"\n{method} returns a tuple: ({', '.join(graph.outputs)})."
    return io


class Namespace:
    """Variable names: valid, unique, never shadowing a builtin or a name the file defines."""

    def __init__(self, taken=()):
        self.used = set(keyword.kwlist) | set(dir(builtins)) | {"self"} | set(taken)

    def create(self, candidate: str) -> str:
        base = re.sub(r"\W", "_", candidate) or "v"
        if base[0].isdigit():
            base = "v" + base
        name, n = base, 1
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name


class Tree:
    """Containers of layers: leaves are constructor source, inner nodes are groups."""

    def __init__(self):
        self.children: dict[str, Tree | str] = {}

    @property
    def sequential(self) -> bool:
        return bool(self.children) and list(self.children) == [str(i) for i in range(len(self.children))]

    def walk(self):
        for v in self.children.values():
            if isinstance(v, Tree):
                yield v
                yield from v.walk()


def module_tree(net: Network, ctor: Callable[[Node], str | None]) -> Tree:
    root = Tree()
    for node in net.graph.nodes:
        source = ctor(node)
        if source is None:
            continue
        *parents, leaf = node.path.split(".")
        tree = root
        for part in parents:
            tree = tree.children.setdefault(part, Tree())  # type: ignore[assignment]
        tree.children[leaf] = source
    return root


def access(path: str) -> str:
    """`layer1.0.conv1` -> `self.layer1[0].conv1`."""
    out = "self"
    for part in path.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def forward_body(
    net: Network,
    call: Callable[[Node, list[str]], str],
    shape: Callable[[tuple], str],
    training: str,
    taken=(),
) -> tuple[list[str], list[str]]:
    """Arguments and statements of the forward function.

    `call(node, args)` gives a node's expression (an `x += y` statement for in-place adds);
    `training` is the backend's test for training mode, guarding auxiliary heads.
    """
    graph = net.graph
    ns = Namespace(taken)
    args = [ns.create(name) for name in graph.inputs]
    var = dict(zip(graph.inputs, args))
    last_use: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for p in node.inputs:
            last_use[p] = i
    for out in graph.outputs:
        last_use[out] = len(graph.nodes)
    aux = graph.training_only_nodes()
    lines: list[str] = []
    for i, node in enumerate(graph.nodes):
        ins = [var[p] for p in node.inputs]
        first = node.inputs[0] if node.inputs else None
        if first is not None and last_use.get(first) == i:
            target = var[first]  # the input dies here: reuse its variable
        else:
            # a new value is named after the group it starts in: layer2_0, layer2_0_downsample
            parent, _, leaf = node.path.rpartition(".")
            target = ns.create(parent.replace(".", "_") if parent else leaf)
        var[node.path] = target
        expr = call(node, ins)
        statement = expr if expr.startswith(f"{target} += ") else f"{target} = {expr}"
        line = f"{statement}  # {node.path} {shape(net.nodes[node.path].shape)} {node.loc.file}:{node.loc.line}"
        if node.path in aux:  # auxiliary heads run only in training
            if not lines or not lines[-1].startswith("    "):
                lines.append(f"if {training}:")
            line = "    " + line
        lines.append(line)
    returned = [var[o] for o in graph.outputs]
    if graph.training_outputs:
        lines += [f"if {training}:", f"    return {', '.join(returned)}"]
        returned = [var[o] for o in graph.eval_outputs]
    lines.append(f"return {', '.join(returned)}")
    return args, lines


def fingerprint(net: Network) -> str:
    """Identity of a network's structure: two modules with equal fingerprints have the same
    parameters under the same paths, so weights can move between them."""
    import hashlib

    graph = net.graph
    parts = [repr(sorted(graph.inputs.items())), repr(graph.outputs)]
    parts += [f"{n.path}|{n.op.model_dump_json()}|{','.join(n.inputs)}" for n in graph.nodes]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def render(value: Tree | str, indent: int, sequence: tuple[str, str]) -> str:
    """Constructor source of a container tree: numbered groups use the backend's `sequence`
    (open, close), named groups a `Block(name=...)`."""
    if isinstance(value, str):
        return value
    pad, inner = " " * indent, " " * (indent + 4)
    if value.sequential:
        items = [f"{inner}{render(v, indent + 4, sequence)}," for v in value.children.values()]
        return f"{sequence[0]}\n" + "\n".join(items) + f"\n{pad}{sequence[1]}"
    if all(k.isidentifier() for k in value.children):
        items = [f"{inner}{k}={render(v, indent + 4, sequence)}," for k, v in value.children.items()]
        return "Block(\n" + "\n".join(items) + f"\n{pad})" if items else "Block()"
    items = [f"{inner}    {k!r}: {render(v, indent + 8, sequence)}," for k, v in value.children.items()]
    return "Block(\n" + f"{inner}**{{\n" + "\n".join(items) + f"\n{inner}}}\n{pad})"


def instantiate(net: Network, source: str, backend: str, **kwargs):
    """Execute generated source under a registered file name (tracebacks show its lines) and
    build its model class; the instance records its source, backend and fingerprint."""
    import hashlib
    import linecache

    digest = hashlib.sha1(source.encode()).hexdigest()[:8]
    filename = f"<archspec-{backend} {net.graph.name} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"archspec_generated_{net.graph.name}_{backend}"}
    exec(compile(source, filename, "exec"), namespace)  # our own generated source, never spec text
    model_class = re.findall(r"^class (\w+)", source, re.M)[-1]  # generated files define the model last
    module = namespace[model_class](**kwargs)
    module.archspec_source = source
    module.archspec_backend = backend
    module.archspec_fingerprint = fingerprint(net)
    return module


def scale_expr(op, x: str) -> str:
    """`factor * x + offset` as a person would write it (`1.0 - t`, `0.5 * x`)."""
    term = x if op.factor == 1 else f"-{x}" if op.factor == -1 else f"{op.factor!r} * {x}"
    if op.offset == 0:
        return term
    return f"{op.offset!r} - {x}" if op.factor == -1 else f"{term} + {op.offset!r}"
