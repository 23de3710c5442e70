"""The pipeline end to end, and the public result type."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import Diagnostic, Fail, Loc, SpecError
from .expand import Library, expand
from .graph import Graph, build_graph
from .hints import graph_hints
from .opbase import default_layout
from .ops import Shape
from .params import Overrides
from .shapes import NodeInfo, infer


@dataclass(frozen=True)
class Network:
    """A validated, shape-checked network: what `archspec.load` returns."""

    graph: Graph
    nodes: Mapping[str, NodeInfo]  # by path, in topological order
    warnings: tuple[Diagnostic, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def file(self) -> str:
        return self.graph.file

    @property
    def params(self) -> Mapping[str, object]:
        """The spec parameters after defaults and overrides."""
        return self.graph.params

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes.values())

    @property
    def total_macs(self) -> int:
        """MACs of one evaluation forward pass: training-only heads are not counted."""
        skipped = self.graph.training_only_nodes()
        return sum(n.macs for p, n in self.nodes.items() if p not in skipped)

    def shape(self, path: str) -> Shape:
        """Output shape of a node, a group (its output node) or a spec input, without the batch dimension."""
        if path in self.graph.inputs:
            return self.graph.inputs[path]
        if path not in self.nodes:
            group = next((g for g in self.graph.groups if g.path == path), None)
            if group is not None and group.output is not None:
                return self.shape(group.output)
        return self.nodes[path].shape

    def layout(self, path: str) -> str:
        """What each axis of `shape(path)` means, one letter per axis: "CHW", "TD", "HWC", "F" ("" unknown)."""
        if path in self.graph.inputs:
            return default_layout(len(self.graph.inputs[path]))
        if path not in self.nodes:
            group = next((g for g in self.graph.groups if g.path == path), None)
            if group is not None and group.output is not None:
                return self.layout(group.output)
        return self.nodes[path].layout

    @property
    def input_shapes(self) -> dict[str, Shape]:
        return dict(self.graph.inputs)

    @property
    def output_shapes(self) -> dict[str, Shape]:
        return {p: self.shape(p) for p in self.graph.outputs}


@dataclass(frozen=True)
class Result:
    """What checking one file found: a network, a block library, or neither, and the diagnostics."""

    file: str
    network: Network | None
    library: Library | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.errors


def analyze(source: str | Path, overrides: Mapping | None = None, *, text: str | None = None) -> Result:
    """Run every stage on one file, collecting all diagnostics; never raises for bad input."""
    from . import plugins

    try:
        plugins.load()
        return _analyze(source, overrides, text)
    except Exception as exc:  # noqa: BLE001 - the last guard: a bug becomes one diagnostic, not a traceback
        return Result(str(source), None, None, (internal_error(exc, str(source)),))


ISSUES_URL = "https://github.com/archspec/archspec/issues"


def internal_error(exc: BaseException, file: str) -> Diagnostic:
    """An unexpected exception, reported at the spec it happened on. The fuzz suite asserts
    that no input reaches this; if one does, the message says where in archspec it failed."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames)), "?")
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Diagnostic(
        "AS900",
        f"internal error: {type(exc).__name__}{': ' + detail if detail else ''} (in {where})",
        Loc(file, 1, 1),
        hint=f"this is a bug in archspec, not in your spec; please report it with the spec at {ISSUES_URL}",
    )


def _analyze(source: str | Path, overrides: Mapping | None, text: str | None) -> Result:
    file = str(source)
    try:
        tree = expand(source, overrides, text=text)
    except Fail as f:
        return Result(file, None, None, tuple(_ordered(f.diagnostics)))
    except RecursionError:
        d = Diagnostic(
            "AS007",
            "the spec nests too deeply to analyze",
            Loc(file, 1, 1),
            hint="flatten deeply nested lists or groups",
        )
        return Result(file, None, None, (d,))
    if isinstance(tree, Library):
        return Result(file, None, tree, tuple(tree.diagnostics))
    graph, graph_diags = build_graph(tree)
    nodes, shape_diags = infer(graph)
    diags = _ordered(graph_hints(graph, nodes, _without_follow_ons([*tree.diagnostics, *graph_diags, *shape_diags])))
    network = Network(graph, nodes, tuple(d for d in diags if d.severity == "warning"))
    return Result(file, network if not any(d.severity == "error" for d in diags) else None, None, tuple(diags))


def _without_follow_ons(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A failed node leaves what it reads unread: while there are errors, "never used" (W001)
    is a follow-on of them, not news."""
    if any(d.severity == "error" for d in diags):
        return [d for d in diags if d.code != "W001"]
    return diags


def _ordered(diags: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per spec position and code: a mistake inside a block repeated 50 times
    is one mistake, reported at its first instance with the others listed."""
    first: dict[tuple, Diagnostic] = {}
    also: dict[tuple, dict[str, None]] = {}  # ordered and unique: each other instance once
    for d in diags:
        key = (d.code, d.loc)
        if key not in first:
            first[key], also[key] = d, {}
        elif d.node and d.node != first[key].node:
            also[key][d.node] = None
    out = [replace(d, also=tuple(also[k])) if also[k] else d for k, d in first.items()]
    return sorted(out, key=lambda d: (d.severity == "warning", d.loc.file, d.loc.line or 0, d.loc.column or 0))


def _is_path(spec) -> bool:
    return isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and spec.endswith((".yaml", ".yml")))


def load(spec: str | Path, **overrides) -> Network:
    """Load, validate and shape-check a spec, from a path or from YAML text.

    Keyword arguments override spec parameters (`load("resnet50.yaml", num_classes=10)`).
    Raises `SpecError` carrying every diagnostic when the spec has errors. A zoo name
    (`load("resnet50")`) loads the packaged spec unless a file of that name exists.
    """
    from . import zoo

    spec = zoo.resolve(spec)
    given = Overrides(overrides, origin="<load() arguments>")
    if _is_path(spec):
        result = analyze(Path(spec), given)
    else:
        result = analyze("<string>", given, text=str(spec))
    if result.errors:
        raise SpecError(list(result.diagnostics))
    if result.network is None:
        raise SpecError(
            [
                Diagnostic(
                    "AS104",
                    "this file is a block library, not a network",
                    Loc(result.file),
                    hint="load a spec that has `nodes:` or `extends:`",
                )
            ]
        )
    return result.network


def _network(spec, overrides: dict) -> Network:
    return spec if isinstance(spec, Network) else load(spec, **overrides)


def compile(spec: str | Path | Network, backend: str = "torch", fold_bn: bool = False, **overrides) -> str:  # noqa: A001
    """Generate the standalone source of `spec` for `backend` (what `archspec compile` writes);
    `fold_bn=True` folds batch norms into the convolutions before them (inference; see fold.py)."""
    from . import backends

    network = _network(spec, overrides)
    if fold_bn:
        from .fold import fold_bn as fold

        network, _ = fold(network)
    return backends.get(backend).emit(network)


def build(
    spec: str | Path | Network,
    backend: str = "torch",
    seed: int = 0,
    init: bool = True,
    scan: bool = False,
    fold_bn: bool = False,
    **overrides,
):
    """Build a module instance for `backend` from the same generated source `compile` returns.

    `init=False` skips random initialisation: the module holds shapes only (Flax: an
    `nnx.eval_shape` module; PyTorch: meta tensors) and is meant to be filled by
    `archspec.transfer` from a module or state with real weights (torchvision's, converted ones).
    `scan=True` (Flax) stacks each run of identical blocks and applies it with `nnx.scan`, so a
    jitted step compiles one copy of the block; `transfer` keeps the blocks' own keys.
    `fold_bn=True` builds the inference form with batch norms folded into the convolutions before
    them (fold.py); `transfer` from the unfolded model folds its weights.
    """
    from . import backends

    impl = backends.get(backend)
    network = original = _network(spec, overrides)
    pairs: tuple = ()
    if fold_bn:
        from .fold import fold_bn as fold

        network, pairs = fold(original)
    source = impl.emit(network)
    module = _build(impl, backend, network, source, seed, init, scan)
    if fold_bn:  # weights come from the unfolded network: transfer checks against it and folds
        from .codegen import fingerprint

        module.archspec_fingerprint = fingerprint(original)
        module.archspec_folded = pairs
    return module


def _build(impl, backend: str, network: Network, source: str, seed: int, init: bool, scan: bool):
    import inspect

    options = {**({"init": False} if not init else {}), **({"scan": True} if scan else {})}
    unsupported = [k for k in options if k not in inspect.signature(impl.build).parameters]
    if unsupported:  # asked before building: a TypeError from inside the build is not hidden
        raise ValueError(f"backend '{backend}' does not support {', '.join(unsupported)}")
    return impl.build(network, source, seed, **options)


class TransferError(ValueError):
    """`archspec.transfer` refused: the modules do not come from the same spec, or a shape differs."""


def transfer(src, dst):
    """Copy every parameter and buffer of `src` into `dst`, converting layouts between backends.

    Both modules must come from `archspec.build` of the same spec (same structure and sizes),
    in either direction (torch -> flax, flax -> torch, or within one backend). Returns `dst`.
    """
    from . import backends

    for name, module in (("src", src), ("dst", dst)):
        if not hasattr(module, "archspec_fingerprint"):
            raise TransferError(f"{name} was not built by archspec.build; build both modules from the spec")
    if src.archspec_fingerprint != dst.archspec_fingerprint:
        raise TransferError(
            "src and dst come from different specs (or different parameters): their structures differ; "
            "build both from the same spec with the same overrides"
        )
    state = backends.get(src.archspec_backend).export_state(src)
    folded_src, folded_dst = getattr(src, "archspec_folded", ()), getattr(dst, "archspec_folded", ())
    if folded_src != folded_dst:
        if folded_src:
            raise TransferError(
                "src has its batch norms folded into its convolutions, which cannot be undone; "
                "transfer from the unfolded model"
            )
        from .fold import fold_state

        state = fold_state(state, folded_dst)
    try:
        backends.get(dst.archspec_backend).import_state(dst, state)
    except ValueError as exc:
        raise TransferError(str(exc)) from None
    return dst
