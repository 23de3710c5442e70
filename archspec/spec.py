"""Stage 2 — spec: pydantic models of a spec file's structure.

A file's top level, block definitions and imports are validated here, and the kinds of node
entry are described (EntryCommon, OpEntry, GroupEntry, CallEntry, RepeatKeys). Each field's
type is that of its value once evaluated: expansion checks literal values against the models
before parameters are bound and `${...}` values against the same field types once evaluated;
`archspec schema` is generated from them. An op's own fields are validated by its op model in
`archspec.ops`.
"""

from __future__ import annotations

import functools
import keyword
import re
from typing import Annotated, Any, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic_core import PydanticCustomError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def identifier_problem(name: str) -> str | None:
    """Why `name` cannot name a parameter, a block or a repeat index (names that expressions and
    generated constructors use), or None if it can."""
    if not _IDENT.match(name):
        return f"'{name}' is not a valid Python identifier (letters, digits and _, not starting with a digit)"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword"
    if name.startswith("__"):
        return f"'{name}' starts with '__'; Python mangles such names"
    return None


_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def is_attribute_name(name: str) -> bool:
    """Whether a node name can be an attribute of a generated module (or a position in a sequential
    container); the other valid names (`block1-0`) are keys, registered by name (see node_name_problem)."""
    return name.isidentifier() or name.isdigit()


def node_name_problem(name: str) -> str | None:
    """Why `name` cannot name a node, or None. A node name is a `state_dict` key part: letters, digits,
    `_` and `-`, not starting with `-` (`conv1`, `0`, `block1-0` as torchvision's RegNet, `self` as
    BERT's `attention.self`, even `training` or `_version`). How a name is written in generated code
    is the backend's business: one that could shadow an attribute of the framework's modules, or is
    not an identifier, is registered and read by key there, so every valid name builds."""
    if "." in name:
        return f"'{name}' contains '.', which separates the parts of a node path"
    if not _KEY.match(name):
        return f"'{name}' is not a valid node name (letters, digits, _ and -, not starting with -)"
    return None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Import(_Model):
    """Blocks taken from another spec file (`imports: [{from: blocks/resnet.yaml}]`)."""

    from_: str = Field(alias="from", description="path of a spec file, relative to this one")
    blocks: list[str] | None = Field(None, description="names of the blocks to import; all when omitted")


class Check(_Model):
    """A condition on the parameters, checked before expansion (error AS204 when false)."""

    that: Any = Field(description="an expression that must be true, e.g. ${depth % 6 == 2}")
    message: str = Field(description="what is wrong when it is false")


class Output(_Model):
    """An output written as a mapping, for auxiliary (training-only) or conditional outputs."""

    node: str = Field(description="reference of the output node")
    training_only: bool = Field(False, description="computed and returned only in training (auxiliary heads)")
    when: Any = Field(True, description="include this output only when true, e.g. ${aux_logits}")


class BlockDef(_Model):
    """A reusable, parameterized sub-network. Its body sees only its own parameters."""

    description: str | None = Field(None, description="what the block is, for readers and docs")
    params: dict[str, Any] = Field(default_factory=dict, description="name: default (null = required)")
    inputs: list[str] = Field(default_factory=lambda: ["x"], min_length=1, description="input names")
    output: str | None = Field(None, description="the node whose output is the block's; default the last")
    checks: list[Check] = Field(default_factory=list, description="conditions on the parameters")
    nodes: list[dict[str, Any]] = Field(min_length=1, description="the block's node entries")


class SpecFile(_Model):
    """One spec file: a network (with `nodes`), a variant (with `extends`), or a block library."""

    archspec: int = Field(1, description="spec format version")
    name: str | None = Field(
        None, description="the network's name (default: the file name); the class name derives from it"
    )
    description: str | None = Field(None, description="free text")
    paper: str | None = Field(None, description="the publication the architecture follows (listed in docs/zoo.md)")
    torchvision: str | None = Field(
        None, description="the torchvision.models function this spec equals exactly (keys, shapes, outputs)"
    )
    extends: str | None = Field(None, description="path of the spec this one modifies")
    imports: list[Import] = Field(default_factory=list, description="blocks from other files")
    params: dict[str, Any] = Field(default_factory=dict, description="name: default value or ${expression}")
    checks: list[Check] = Field(default_factory=list, description="conditions on the parameters")
    inputs: dict[str, list[Any]] | None = Field(None, description="name: shape without the batch dimension")
    outputs: list[str | Output] | None = Field(
        None, description="output node references, or {node, training_only}; default the last node"
    )
    nodes: list[dict[str, Any]] | None = Field(None, description="the node entries of a network")
    blocks: dict[str, BlockDef] = Field(default_factory=dict, description="name: reusable parameterized sub-network")
    remove: list[str] = Field(default_factory=list, description="node paths to delete (variants)")
    replace: dict[str, dict[str, Any]] = Field(default_factory=dict, description="node path: new node entry")
    append: list[dict[str, Any]] = Field(default_factory=list, description="node entries added at the end")


# --- node entries ----------------------------------------------------------------------------------
# One grammar for node entries. Each field's type is the value it must have once evaluated:
# expansion checks an entry's literal values against these models before its parameters are
# bound (`precheck`), and every `${...}` value against the same field once evaluated (`resolve`).
# `archspec schema` is generated from them, with `${...}` allowed wherever a value is evaluated.

Expr = Annotated[str, Field(pattern=r"\$\{.*\}", description="an expression, e.g. ${planes * 4}")]

# Keys whose values are not evaluated with the entry: member entries, block arguments and the
# name template of repeat copies are evaluated later, per instance or per copy.
TEMPLATES = frozenset({"nodes", "with", "names"})

_REF = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


NAME_HINT = (
    "node names become state_dict keys: use snake_case like `conv1`, or letters, digits, `_` and `-` like `block1-0`"
)


def _node_name(value: str | int) -> str:
    value = str(value)
    problem = node_name_problem(value)
    if problem:
        raise PydanticCustomError("AS105", "invalid node name: {problem}", {"problem": problem, "hint": NAME_HINT})
    return value


def _node_ref(value: str | int) -> str:
    value = str(value)
    if not _REF.match(value):
        raise PydanticCustomError("node_ref", "a reference names a node, like `conv1`, `layer1.0` or `block1.block1-0`")
    return value


def _identifier(value: str) -> str:
    problem = identifier_problem(value)
    if problem:
        raise PydanticCustomError(
            "AS105",
            "invalid index name: {problem}",
            {"problem": problem, "hint": "use a plain identifier such as `i` or `stage`"},
        )
    return value


NodeName = Annotated[Union[str, int], AfterValidator(_node_name)]
NodeRef = Annotated[Union[str, int], AfterValidator(_node_ref)]
Identifier = Annotated[str, AfterValidator(_identifier)]


class _Entry(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


class EntryCommon(_Entry):
    """Keys every node entry may carry, whatever its kind."""

    name: NodeName | None = Field(None, description="the node's name, e.g. `conv1`; default its position")
    in_: Union[NodeRef, Annotated[list[NodeRef], Field(min_length=1)], None] = Field(
        None,
        alias="in",
        description="input node reference(s), e.g. `in: conv1` or `in: [bn3, x]`; default the previous node",
    )
    when: bool | None = Field(None, description="include the node only when true, e.g. `when: ${stride != 1}`")


class RepeatKeys(_Entry):
    """Keys that make copies of an entry (`repeat` plus the entry itself)."""

    repeat: Union[Annotated[int, Field(ge=0)], list[Any]] = Field(
        description="make a group of copies of this entry, chained in sequence: a count (`repeat: ${depth}`) or a list"
    )
    as_: Identifier | None = Field(
        None, alias="as", description="name of the index (or item) in expressions; default i"
    )
    index: Identifier | None = Field(None, description="name of the index when repeating over a list")
    names: str | None = Field(None, description="name template of each copy, e.g. denselayer${i + 1}")
    inline: bool | None = Field(None, description="splice the copies into the enclosing sequence: true or false")


class OpEntry(EntryCommon):
    """An op: `op: NAME` plus that op's fields (checked by the op's own model)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, strict=True)
    op: str = Field(description="the operation, e.g. `op: conv2d`")


class GroupEntry(EntryCommon):
    """A named sequence of nodes (like nn.Sequential)."""

    nodes: list[dict[str, Any]] = Field(description="the member node entries")
    output: NodeRef | None = Field(
        None, description="the member whose value is the group's, e.g. `output: relu3`; default the last"
    )


class CallEntry(EntryCommon):
    """An instance of a block."""

    block: str = Field(description="the block's name, e.g. `block: bottleneck`")
    with_: dict[str, Any] | None = Field(
        None, alias="with", description="the block's parameters, e.g. `with: {planes: 64}`"
    )


class RepeatedOp(RepeatKeys, OpEntry):
    """An op entry with `repeat`."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, strict=True)


class RepeatedGroup(RepeatKeys, GroupEntry):
    """A group entry with `repeat`."""


class RepeatedCall(RepeatKeys, CallEntry):
    """A block call with `repeat`."""


class Repeat(RepeatKeys, EntryCommon):
    """The keys of a repeated entry that belong to the group of copies, not to each copy."""


def entry_model(raw: dict) -> tuple[type[BaseModel], str] | None:
    """The model of a node entry, by the key that marks its kind, and what messages call it."""
    repeated = "repeat" in raw
    if "op" in raw:
        return (RepeatedOp, "a repeated op entry") if repeated else (OpEntry, "an op entry")
    if "block" in raw:
        return (RepeatedCall, "a repeated block call") if repeated else (CallEntry, "a block call entry")
    if "nodes" in raw:
        return (RepeatedGroup, "a repeated group") if repeated else (GroupEntry, "a group entry")
    return None


def keys(model: type[BaseModel], base: type[BaseModel] | None = None) -> tuple[str, ...]:
    """The keys a model takes as written in a spec (aliases), less those of `base`."""
    skip = set(base.model_fields) if base else set()
    return tuple(f.alias or n for n, f in model.model_fields.items() if n not in skip)


@functools.cache
def field_types(model: type[BaseModel]) -> dict[str, TypeAdapter]:
    """A validator per key of `model`, for values that are only known once evaluated."""
    out = {}
    for name, f in model.model_fields.items():
        ann = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        out[f.alias or name] = TypeAdapter(ann, config=ConfigDict(strict=True))
    return out


COMMON_KEYS = keys(EntryCommon)  # name, in, when
REPEAT_KEYS = keys(RepeatKeys)  # repeat, as, index, names, inline
GROUP_KEYS = keys(GroupEntry, EntryCommon)  # nodes, output
CALL_KEYS = keys(CallEntry, EntryCommon)  # block, with
