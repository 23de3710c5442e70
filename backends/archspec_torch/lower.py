"""Lowering of a shape-checked network to the source of a standalone PyTorch module.

The generated file imports only torch: one `nn.Module` class per block structure with its own
`forward`, `nn.Sequential` where a group is a plain chain, the model last. Attribute paths are the
spec's node paths, so `state_dict` keys are the paths.
"""

from __future__ import annotations

import ast

from archspec import __version__, plugins
from archspec.api import Network
from archspec.codegen import Idioms, generate, io_doc, safe_text
from archspec.codegen.pysrc import call, name, statement
from archspec.graph import Node

from . import keyed
from .emit import EMITTERS, HELPERS

INITS = {
    "kaiming_normal_fan_out": ("nn.init.kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, ()),
    "kaiming_normal_fan_in": ("nn.init.kaiming_normal_", {"nonlinearity": "relu"}, ()),
    "normal": ("nn.init.normal_", {}, (0.0, 0.01)),
    "trunc_normal": ("nn.init.trunc_normal_", {"std": 0.01, "a": -2.0, "b": 2.0}, ()),
    "xavier_uniform": ("nn.init.xavier_uniform_", {}, ()),
    "zeros": ("nn.init.zeros_", {}, ()),
}
TORCH_CLASS = {"conv2d": "nn.Conv2d", "conv_transpose2d": "nn.ConvTranspose2d", "linear": "nn.Linear"}

# Ops whose backward does not need their own output, so a consumer may overwrite it in place.
_OVERWRITABLE = {"conv2d", "batchnorm2d", "linear", "add", "concat"}


def fmt(shape: tuple, layout: str = "") -> str:
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


def in_place(net: Network) -> set[str]:
    """Nodes (relu, add) that may reuse their first input's memory, as torchvision's
    `ReLU(inplace=True)` and `out += identity` do: the input has this node as its only consumer,
    is not a model input or output, and its producer's backward does not need it."""
    graph = net.graph
    consumers: dict[str, int] = {}
    for node in graph.nodes:
        for p in node.inputs:
            consumers[p] = consumers.get(p, 0) + 1
    ops = {n.path: n.op.name for n in graph.nodes}
    out = set()
    for node in graph.nodes:
        if node.op.name not in ("relu", "add") or not node.inputs:
            continue
        first = node.inputs[0]
        if (
            consumers.get(first) == 1
            and ops.get(first) in _OVERWRITABLE
            and first not in graph.outputs
            and node.inputs.count(first) == 1
        ):
            out.add(node.path)
    return out


def _reinitialised(op) -> bool:
    return op.name in TORCH_CLASS and op.init != "default" and (not op.bias or op.bias_init != "default")


class TorchLowering:
    def __init__(self, net: Network, emitters: dict) -> None:
        self.net = net
        self.emitters = emitters
        self.inplace = in_place(net)
        self.idioms = Idioms(
            base="nn.Module",
            forward="forward",
            tensor="torch.Tensor",
            init_params=[],
            ctor_kwargs={},
            super_init=True,
            training="self.training",
            training_attr=None,
            sequential=lambda items: call("nn.Sequential", *items),
            plain=self._plain,
            item=lambda expr, key, tensor: ast.Subscript(expr, ast.Constant(key), ast.Load()),
            shape=fmt,
            taken={"torch", "nn", *HELPERS, *keyed.ON_DEMAND},
            keyed_set=keyed.keyed_set,
            keyed_get=keyed.keyed_get,
            reserved=keyed.RESERVED,
            base_for=self._base,
            on_demand=keyed.ON_DEMAND,
        )

    def _plain(self, items: dict[str, ast.expr]) -> ast.expr:
        """A container without a forward: nn.ModuleDict, or Members where a member is a learned tensor
        or is named like one of ModuleDict's own attributes."""
        members = ast.Dict([ast.Constant(k) for k in items], list(items.values()))
        if keyed.module_dict_ok(items):
            return call("nn.ModuleDict", members)
        self.idioms.use("KeyedModule")
        return call(self.idioms.use("Members"), members)

    def _base(self, names: list[str]) -> str:
        return self.idioms.use("KeyedModule") if keyed.needs_keyed_base(names) else "nn.Module"

    def _in_shape(self, node: Node) -> tuple:
        return self.net.shape(node.inputs[0]) if node.inputs else ()

    def module(self, node: Node) -> ast.expr | None:
        expr = self.emitters[node.op.name].module(node.op, self._in_shape(node))
        if expr is None:
            return None
        if node.path in self.inplace and node.op.name == "relu":
            expr.keywords.append(ast.keyword("inplace", ast.Constant(True)))
        if _reinitialised(node.op):  # reset_parameters() sets every parameter: skip the default init
            expr = ast.Call(name("nn.utils.skip_init"), [expr.func, *expr.args], expr.keywords)
        return expr

    def call(self, node: Node, module: ast.expr | None, args: list[ast.expr]) -> ast.expr:
        return self.emitters[node.op.name].call(node.op, module, args, self._in_shape(node))

    def augmented(self, node: Node) -> bool:
        return node.path in self.inplace and node.op.name == "add"


def _target(path: str) -> ast.expr:
    """A layer of the model by its path, `modules["layer1.0.conv1"]`: named_modules() knows every
    container kind and name, where attribute access or indexing would not."""
    return ast.Subscript(ast.Name("modules", ast.Load()), ast.Constant(path), ast.Load())


def _init_call(scheme: str, target: ast.expr) -> ast.stmt:
    fn, kwargs, args = INITS[scheme]
    return ast.Expr(call(fn, target, *map(ast.Constant, args), **{k: ast.Constant(v) for k, v in kwargs.items()}))


def _bias(init, target: ast.expr) -> ast.stmt:
    if init == "zeros":
        return ast.Expr(call("nn.init.zeros_", target))
    return ast.Expr(call("nn.init.constant_", target, ast.Constant(float(init))))


def _attr(expr: ast.expr, leaf: str) -> ast.expr:
    return ast.Attribute(expr, leaf, ast.Load())


def init_statements(net: Network) -> list[tuple[int, ast.stmt]]:
    """reset_parameters(): a loop per layer class where every layer shares a scheme (as
    torchvision writes it), otherwise one statement per layer. (indent level, statement)"""
    out: list[tuple[int, ast.stmt]] = []
    by_class: dict[str, list] = {}
    for node in net.graph.nodes:
        if node.op.name in TORCH_CLASS:
            by_class.setdefault(node.op.name, []).append(node)
    m = ast.Name("m", ast.Load())
    for op_name, nodes in by_class.items():
        schemes = {(n.op.init, n.op.bias_init if n.op.bias else "default") for n in nodes}
        if len(schemes) == 1 and schemes != {("default", "default")}:
            ((weight, bias),) = schemes
            out.append((0, ast.parse("for m in self.modules():\n    pass").body[0]))
            # the loop also reaches layers inside others (attention's out_proj), which may have no bias
            test = f"isinstance(m, {TORCH_CLASS[op_name]})"
            if weight == "default":
                out.append((1, ast.parse(f"if {test} and m.bias is not None:\n    pass").body[0]))
                out.append((2, _bias(bias, _attr(m, "bias"))))
                continue
            out.append((1, ast.parse(f"if {test}:\n    pass").body[0]))
            out.append((2, _init_call(weight, _attr(m, "weight"))))
            if bias != "default":
                out.append((2, ast.parse("if m.bias is not None:\n    pass").body[0]))
                out.append((3, _bias(bias, _attr(m, "bias"))))
            continue
        for n in nodes:
            if n.op.init != "default":
                out.append((0, _init_call(n.op.init, _attr(_target(n.path), "weight"))))
            if n.op.bias and n.op.bias_init != "default":
                out.append((0, _bias(n.op.bias_init, _attr(_target(n.path), "bias"))))
    for node in net.graph.nodes:
        if node.op.name == "batchnorm2d" and node.op.affine and node.op.init == "zeros":
            out.append((0, _init_call("zeros", _attr(_target(node.path), "weight"))))
    if any(level == 0 and isinstance(stmt, ast.Expr) for level, stmt in out):
        out.insert(0, (0, ast.parse("modules = dict(self.named_modules())").body[0]))
    return out


def _init_lines(net: Network) -> list[str]:
    lines: list[str] = []
    for level, stmt in init_statements(net):
        if isinstance(stmt, (ast.For, ast.If)):
            head = ast.unparse(stmt).splitlines()[0]
            lines.append(" " * (8 + 4 * level) + head)
        else:
            lines += statement(stmt, 8 + 4 * level)
    return lines


HEADER = '''\
"""{name}: generated by archspec {version} from {file}. Edit the spec, not this file.

{io}
{params:,} parameters, {macs:,} multiply-accumulates per sample.{skip_note}
"""

import torch
from torch import nn
'''


def emit(net: Network) -> str:
    graph = net.graph
    emitters = plugins.emitters_for("torch", EMITTERS, net)
    skip_note = (
        "\nLayers whose parameters reset_parameters() sets are created with nn.utils.skip_init,"
        "\nso they are not initialised twice."
        if any(_reinitialised(n.op) for n in graph.nodes)
        else ""
    )
    header = HEADER.format(
        name=safe_text(graph.name),
        version=__version__,
        file=safe_text(graph.file),
        io=io_doc(net, fmt, "forward", "\n"),
        params=net.total_params,
        macs=net.total_macs,
        skip_note=skip_note,
    )
    used = {h for n in graph.nodes for h in emitters[n.op.name].needs(n.op)}
    helpers = [HELPERS[h] for h in HELPERS if h in used]
    init = _init_lines(net)
    model_init, methods = [], []
    if init:
        model_init = ["self.reset_parameters()"]
        methods = ["", "    def reset_parameters(self) -> None:", *init]
    return generate(net, TorchLowering(net, emitters), header, helpers, model_init, methods)
