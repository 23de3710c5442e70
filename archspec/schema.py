"""JSON Schema of the spec format, for editors (yaml-language-server) and docs.

Generated from the pydantic models — the file (SpecFile, BlockDef), the node entries
(spec.EntryCommon, OpEntry, GroupEntry, CallEntry, RepeatKeys) and every op — so it cannot
drift from what `check` accepts. Node entries are told apart by their key (`op`, `block`,
`nodes`) and ops by their `op` value, with `if`/`then`: a validator then checks an entry against
its own op only, and blames the right key (`kernal` is an unknown field of conv2d, not "not
valid under any of the given schemas"). Every op field also accepts a `${...}` expression.
"""

from __future__ import annotations

import copy

from pydantic import BaseModel

from .ops import OPS
from .spec import TEMPLATES, CallEntry, EntryCommon, GroupEntry, RepeatKeys, SpecFile

_EXPR = {"type": "string", "pattern": r"\$\{.*\}", "description": "an expression, e.g. ${planes * 4}"}
_NODE = {"$ref": "#/$defs/Node"}


def _properties(model: type[BaseModel], defs: dict) -> tuple[dict, list[str]]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs.update(schema.pop("$defs", {}))
    return schema["properties"], schema.get("required", [])


def _allow_expr(prop: dict) -> dict:
    """The value's schema, or `${...}`; list items too (`shape: [1, "${tokens}", "${hidden}"]`)."""
    prop = _items_allow_expr(prop)
    return {"anyOf": [prop, _EXPR], **({"description": prop["description"]} if "description" in prop else {})}


def _items_allow_expr(prop: dict) -> dict:
    out = dict(prop)
    if isinstance(out.get("items"), dict):
        out["items"] = _allow_expr(out["items"])
    if isinstance(out.get("prefixItems"), list):
        out["prefixItems"] = [_allow_expr(p) for p in out["prefixItems"]]
    if isinstance(out.get("anyOf"), list):
        out["anyOf"] = [_items_allow_expr(p) for p in out["anyOf"]]
    return out


def _entry_keys(defs: dict) -> dict:
    """Keys any entry may carry: name, in, when, and the repeat keys (optional here)."""
    common, _ = _properties(EntryCommon, defs)
    repeat, _ = _properties(RepeatKeys, defs)
    return _evaluated({**common, **repeat})


def _evaluated(props: dict) -> dict:
    """An entry's keys as written: a value, or a `${...}` evaluated when the entry is expanded
    (the models state the value's type; spec.TEMPLATES are evaluated later, member by member)."""
    return {k: v if k in TEMPLATES else _allow_expr(v) for k, v in props.items()}


def _op_schema(name: str, defs: dict, shared: dict) -> dict:
    props, required = _properties(OPS[name], defs)
    props = {k: (_allow_expr(v) if k != "op" else v) for k, v in props.items()}
    props.update(copy.deepcopy(shared))
    return {
        "type": "object",
        "title": OPS[name].__name__,
        "description": (OPS[name].__doc__ or "").strip(),
        "properties": props,
        "required": sorted(set(required) | {"op"}),
        "additionalProperties": False,
    }


def _kind_schema(model: type[BaseModel], defs: dict, shared: dict, key: str) -> dict:
    props, _ = _properties(model, defs)
    props = {**_evaluated(props), **copy.deepcopy(shared)}
    if key == "nodes":
        props["nodes"] = {"type": "array", "items": _NODE, "description": props["nodes"].get("description", "")}
    return {
        "type": "object",
        "title": model.__name__,
        "description": (model.__doc__ or "").strip(),
        "properties": props,
        "required": [key],
        "additionalProperties": False,
    }


def _node_schema(defs: dict) -> dict:
    shared = _entry_keys(defs)
    for name in OPS:
        defs[f"op_{name}"] = _op_schema(name, defs, shared)
    defs["GroupEntry"] = _kind_schema(GroupEntry, defs, shared, "nodes")
    defs["CallEntry"] = _kind_schema(CallEntry, defs, shared, "block")
    by_op = [
        {"if": {"properties": {"op": {"const": name}}}, "then": {"$ref": f"#/$defs/op_{name}"}} for name in sorted(OPS)
    ]
    defs["OpEntry"] = {
        "type": "object",
        "title": "OpEntry",
        "description": "an op: `op: NAME` plus that op's fields",
        "required": ["op"],
        "properties": {"op": {"anyOf": [{"enum": sorted(OPS)}, _EXPR], "description": "the operation"}},
        "allOf": by_op,
    }
    return {
        "type": "object",
        "description": "a node entry: an op, a group (nodes), a block call, each optionally repeated",
        "if": {"required": ["op"]},
        "then": {"$ref": "#/$defs/OpEntry"},
        "else": {
            "if": {"required": ["block"]},
            "then": {"$ref": "#/$defs/CallEntry"},
            "else": {
                "if": {"required": ["nodes"]},
                "then": {"$ref": "#/$defs/GroupEntry"},
                "else": {"required": ["op"], "description": "an entry needs op, block or nodes"},
            },
        },
    }


def json_schema() -> dict:
    root = SpecFile.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = root.setdefault("$defs", {})
    defs["Node"] = _node_schema(defs)
    root["properties"]["nodes"] = {"type": ["array", "null"], "items": _NODE}
    root["properties"]["append"] = {"type": "array", "items": _NODE}
    root["properties"]["replace"] = {"type": "object", "additionalProperties": _NODE}
    defs["BlockDef"]["properties"]["nodes"] = {"type": "array", "items": _NODE, "minItems": 1}
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["title"] = "archspec spec file"
    return root
