"""The expanded tree and the context expansion carries (shared by the expansion passes).

Stage 3 — expand — turns spec files into a tree of concrete nodes in passes, one module each:
files.py links the extends chain and imports, params.py binds parameters, instantiate.py
instantiates blocks and repeats, edits.py applies a variant's edits, and expand.py runs them
and resolves the outputs. References between nodes stay textual; `archspec.graph` resolves them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from . import expr
from .errors import Abort, Diagnostic, Fail, Loc
from .load import LocDict, LocList
from .ops import Op
from .spec import BlockDef

MAX_NODES = 100_000  # entries expanded (ops, groups, calls); ResNet-1001 has 3,400 ops
MAX_REPEAT = 100_000  # copies made by one `repeat`
MAX_DEPTH = 64  # block calls inside block calls
MAX_SECONDS = 60.0  # wall time of the whole expansion: a backstop; nodes and steps bound the work


class Ref(NamedTuple):
    text: str  # as written: 'bn3', 'x', 'layer1.0'
    loc: Loc
    training_only: bool = False  # for outputs: an auxiliary head


@dataclass
class TNode:
    name: str | None
    loc: Loc
    trace: tuple[Loc, ...]
    refs: tuple[Ref, ...] | None  # None: the previous sibling (or the scope's input)


@dataclass
class TOp(TNode):
    op: Op | None = None  # None: the entry failed validation; dependents are skipped quietly


@dataclass
class ShapedCall:
    """A block call whose block reads its input's shape (`in_channels`, ...): instantiated by the
    inputshape pass once that shape is inferred, and again if an edit changes it."""

    raw: LocDict  # the call entry
    ctx: Ctx  # the caller's context: the call's arguments are evaluated in it
    block: str
    reads: str  # the name that was read first, for messages
    shapes: tuple[tuple[int, ...], ...] | None = None  # the input shapes instantiated for; None: waiting
    failed: bool = False  # its instantiation failed (reported): it stays empty


@dataclass
class TGroup(TNode):
    children: list[TNode] = field(default_factory=list)
    inputs: tuple[str, ...] | None = None  # a block's input names: its scope is closed
    output: Ref | None = None
    block: str | None = None
    disabled: dict[str, Loc] = field(default_factory=dict)  # names switched off by `when`
    shaped: ShapedCall | None = None  # set for a call of a block that reads its input's shape
    edited: bool = False  # a variant's edit changed something inside it

    @property
    def waiting(self) -> bool:
        """A call that has no body yet (its input shape is not known) or whose instantiation failed:
        it has no value, so what reads it is skipped quietly."""
        return self.shaped is not None and (self.shaped.shapes is None or self.shaped.failed)


@dataclass
class Expanded:
    """A spec file expanded to a tree: the input of `archspec.graph`."""

    name: str
    file: str
    params: dict[str, Any]
    inputs: dict[str, tuple[tuple[int, ...], Loc]]
    outputs: list[Ref] | None
    root: TGroup
    diagnostics: list[Diagnostic]


@dataclass
class Library:
    """A file with blocks and no network: checked for structure only."""

    name: str
    file: str
    blocks: list[str]
    diagnostics: list[Diagnostic]


class BlockInfo(NamedTuple):
    name: str
    model: BlockDef
    raw: LocDict
    home: dict  # the defining file's own table, for the blocks its body calls


@dataclass
class State:
    diags: list[Diagnostic] = field(default_factory=list)
    nodes: int = 0
    tables: dict[Path, dict[str, BlockInfo]] = field(default_factory=dict)
    # Entries whose grammar was checked, by id; holding them keeps an id from being reused.
    checked: dict[int, object] = field(default_factory=dict)
    # The whole expansion's time limit: many small expressions can add up to a hang too.
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)
    expressions: expr.SpecBudget = field(init=False)  # the work all expressions may do together

    def __post_init__(self):
        self.expressions = expr.SpecBudget(self.deadline)

    def mark(self) -> tuple[int, int]:
        """Where the diagnostics and the node count stand, to `rewind` to when a block call is deferred."""
        return len(self.diags), self.nodes

    def rewind(self, mark: tuple[int, int]) -> None:
        del self.diags[mark[0] :]
        self.nodes = mark[1]

    def check_time(self, loc: Loc, trace: tuple[Loc, ...] = (), node: str | None = None):
        if time.monotonic() > self.deadline:
            raise Abort(
                Diagnostic(
                    "AS007",
                    f"expanding the spec takes longer than {MAX_SECONDS:g} s",
                    loc,
                    node=node,
                    hint="check repeat counts and the expressions they evaluate; the limit stops runaway specs",
                    trace=trace,
                )
            )

    def count_node(self, loc: Loc, trace: tuple[Loc, ...], node: str | None = None):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise Abort(
                Diagnostic(
                    "AS007",
                    f"the network expands to more than {MAX_NODES:,} nodes",
                    loc,
                    node=node,
                    hint="check repeat counts and parameters; this limit guards against runaway specs",
                    trace=trace,
                )
            )
        if self.nodes % 256 == 0:
            self.check_time(loc, trace, node)


@dataclass(frozen=True)
class Ctx:
    vars: Mapping  # a layered scope inside repeats (ChainMap)
    blocks: dict[str, BlockInfo]
    home: dict[str, BlockInfo]
    state: State
    stack: tuple[str, ...] = ()
    trace: tuple[Loc, ...] = ()
    prefix: str = ""  # path of the enclosing group, with a trailing dot

    def inside(self, name: str, **changes) -> Ctx:
        return replace(self, prefix=f"{self.prefix}{name}.", **changes)

    def ev(self, value, loc: Loc, names: dict | None = None):
        """Evaluate `${...}` in a value (recursively through lists and mappings)."""
        names = self.vars if names is None else names
        if isinstance(value, str):
            if not expr.is_expression(value):
                return value
            try:
                return expr.substitute(value, names, self.state.expressions)
            except expr.LimitError as exc:
                self.fail("AS205", f"in {_shown(value)}: {exc}", loc, "see the limits in docs/spec.md#limits")
            except expr.ExprError as exc:
                scope = "the block's parameters" if self.stack else "the spec's parameters"
                self.fail(
                    "AS201",
                    f"in {_shown(value)}: {exc}",
                    loc,
                    f"expressions see {scope}, repeat indices and the functions in docs/spec.md#expressions",
                )
        if isinstance(value, LocList):
            return [self.ev(v, value.item_loc(i), names) for i, v in enumerate(value)]
        if isinstance(value, list):
            return [self.ev(v, loc, names) for v in value]
        if isinstance(value, LocDict):
            return {k: self.ev(v, value.value_loc(k), names) for k, v in value.items()}
        if isinstance(value, dict):
            return {k: self.ev(v, loc, names) for k, v in value.items()}
        return value

    def fail(self, code: str, message: str, loc: Loc, hint: str):
        raise Fail(Diagnostic(code, message, loc, hint=hint, trace=self.trace))


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 200 else repr(text[:150] + "...")


def loc_at(raw, key: str | None = None) -> Loc:
    if key is not None and isinstance(raw, LocDict):
        return raw.value_loc(key)
    return getattr(raw, "loc", Loc("<unknown>"))


def derive(raw: LocDict, drop: tuple[str, ...], **extra) -> LocDict:
    """A copy of an entry without some keys (positions kept), plus computed values."""
    out = LocDict({k: v for k, v in raw.items() if k not in drop})
    out.loc = raw.loc
    out.key_locs = dict(raw.key_locs)
    out.value_locs = dict(raw.value_locs)
    for k, v in extra.items():
        out[k] = v
    return out
