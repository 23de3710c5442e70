"""What a backend tells the shared lowering: how to construct and call each op, and its module idioms."""

from __future__ import annotations

import ast
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
    item: Callable[[ast.expr, str], ast.expr]  # member of a plain container
    shape: Callable[[tuple, str], str]  # a shape (and its layout) as the framework stores it, for docstrings
    taken: set[str] = field(default_factory=set)  # names the file imports or defines
    sequential_source: str = ""  # the definition `sequential` needs, where the framework lacks one


class Backend(Protocol):
    idioms: Idioms

    def module(self, node: Node) -> ast.expr | None: ...

    def call(self, node: Node, module: ast.expr | None, args: list[ast.expr]) -> ast.expr: ...

    def augmented(self, node: Node) -> bool: ...
