"""What a backend tells the shared lowering: how to construct and call each op, and its module idioms."""

from __future__ import annotations

import ast
import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..graph import Node
from ..ops import Op


class Emitter(Protocol):
    """One op in one backend: its layer's constructor (None for a plain expression) and its call."""

    def module(self, op: Op, in_shape: tuple) -> ast.expr | None: ...

    def call(self, op: Op, module: ast.expr | None, args: list[ast.expr], in_shape: tuple) -> ast.expr: ...


@dataclass(frozen=True)
class OpEmitter:
    module: Callable[[Any, tuple], ast.expr | None]
    call: Callable[[Any, ast.expr | None, list[ast.expr], tuple], ast.expr]
    # names of helper definitions the generated file needs, or a function of the op giving them
    helpers: tuple[str, ...] | Callable[[Any], tuple[str, ...]] = ()
    # The call takes and returns tensors in the spec's axis order; a backend that stores some
    # layouts otherwise (Flax: images as NHWC) converts around it.
    logical: bool = False

    def needs(self, op: Op) -> tuple[str, ...]:
        return self.helpers(op) if callable(self.helpers) else self.helpers


@dataclass
class Idioms:
    """A framework's way of writing modules."""

    base: str  # "nn.Module"
    forward: str  # "forward" / "__call__"
    tensor: str  # type of values: "torch.Tensor"
    init_params: list[str]  # extra __init__ parameters: ["*", "rngs: nnx.Rngs"]
    ctor_kwargs: dict[str, str]  # passed to every generated class: {"rngs": "rngs"}
    super_init: bool  # call super().__init__()
    training: str  # expression true in training: "self.training" / "not self.deterministic"
    training_attr: str | None  # attribute set in __init__ of classes that test it ("self.deterministic = False")
    sequential: Callable[[list[ast.expr]], ast.expr]
    plain: Callable[[dict[str, ast.expr]], ast.expr]  # a container without a forward
    item: Callable[[ast.expr, str, bool], ast.expr]  # member of a plain container (key, learned tensor)
    shape: Callable[[tuple, str], str]  # a shape (and its layout) as the framework stores it, for docstrings
    taken: set[str] = field(default_factory=set)  # names the file imports or defines
    sequential_source: str = ""  # the definition `sequential` needs, where the framework lacks one
    # Members whose name is no safe attribute (see `attribute_ok`) are registered and read by key:
    # keyed_set(name, value, tensor) and keyed_get(name, tensor); `tensor` marks a learned tensor
    # (a parameter) rather than a layer.
    keyed_set: Callable[[str, ast.expr, bool], ast.stmt] | None = None
    keyed_get: Callable[[str, bool], ast.expr] | None = None
    # Attribute names of the framework's module classes and of what generated classes define
    # (a snapshot the backend's tests hold against the installed framework): members never shadow them.
    reserved: frozenset[str] = frozenset()
    # names a learned tensor of a class's own may not take (Flax: the variable names of its layers)
    tensor_reserved: frozenset[str] = frozenset()
    # the base class of a generated class with these members (default: `base`)
    base_for: Callable[[list[str]], str] | None = None
    # helper definitions the idioms may call for (name -> source, in dependency order), and those they did
    on_demand: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def use(self, helper: str) -> str:
        self.used.add(helper)
        return helper

    def attribute_ok(self, name: str, tensor: bool = False) -> bool:
        """Whether a member can be the plain attribute `self.name`: an identifier that is no keyword,
        not private (`_version`: frameworks keep their internals there) and not one of the
        framework's own attributes (`training`, `eval`, `forward`)."""
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            return False
        return name not in self.reserved and not (tensor and name in self.tensor_reserved)

    def set_member(self, name: str, value: ast.expr, tensor: bool = False) -> ast.stmt:
        """`self.name = value`, or the framework's registration by key."""
        this = ast.Name("self", ast.Load())
        if self.attribute_ok(name, tensor):
            return ast.Assign([ast.Attribute(this, name, ast.Store())], value, lineno=0)
        if self.keyed_set is None:
            return ast.Expr(ast.Call(ast.Name("setattr", ast.Load()), [this, ast.Constant(name), value], []))
        return self.keyed_set(name, value, tensor)

    def member(self, name: str, tensor: bool = False) -> ast.expr:
        """`self.name`, or the framework's read by key."""
        this = ast.Name("self", ast.Load())
        if self.attribute_ok(name, tensor):
            return ast.Attribute(this, name, ast.Load())
        if self.keyed_get is None:
            return ast.Call(ast.Name("getattr", ast.Load()), [this, ast.Constant(name)], [])
        return self.keyed_get(name, tensor)


class Backend(Protocol):
    idioms: Idioms

    def module(self, node: Node) -> ast.expr | None: ...

    def call(self, node: Node, module: ast.expr | None, args: list[ast.expr]) -> ast.expr: ...

    def augmented(self, node: Node) -> bool: ...
