"""JSON Schema of the spec format, for editors (yaml-language-server) and docs.

Built from the pydantic models, so it cannot drift from what `check` accepts.
Every op field also accepts a `${...}` expression string.
"""

from __future__ import annotations

import copy

from .ops import OPS
from .spec import SpecFile

_EXPR = {"type": "string", "pattern": r"\$\{.*\}", "description": "an expression, e.g. ${planes * 4}"}

_COMMON = {
    "name": {"anyOf": [{"type": "string"}, {"type": "integer"}], "description": "node name; default its position"},
    "in": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": "input node reference(s); default the previous node",
    },
    "when": {"anyOf": [{"type": "boolean"}, _EXPR], "description": "include the node only when true"},
    "repeat": {
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "array"}, _EXPR],
        "description": "make a group of copies of this entry, chained in sequence",
    },
    "as": {"type": "string", "description": "name of the repeat index (or item) in expressions; default i"},
    "index": {"type": "string", "description": "name of the repeat index when repeating over a list"},
    "names": {"type": "string", "description": "name template of each copy, e.g. denselayer${i + 1}"},
    "inline": {"anyOf": [{"type": "boolean"}, _EXPR], "description": "splice the copies into the enclosing list"},
}


def _allow_expr(prop: dict) -> dict:
    return {"anyOf": [prop, _EXPR], **({"description": prop["description"]} if "description" in prop else {})}


def _op_schema(model, defs: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(schema.pop("$defs", {}))
    props = {k: (_allow_expr(v) if k != "op" else v) for k, v in schema["properties"].items()}
    props.update(copy.deepcopy(_COMMON))
    return {
        "type": "object",
        "title": model.__name__,
        "description": (model.__doc__ or "").strip(),
        "properties": props,
        "required": schema.get("required", []) + ["op"],
        "additionalProperties": False,
    }


def json_schema() -> dict:
    root = SpecFile.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = root.setdefault("$defs", {})
    node_ref = {"$ref": "#/$defs/Node"}
    entries = [_op_schema(OPS[name], defs) for name in sorted(OPS)]
    entries.append(
        {
            "type": "object",
            "title": "Group",
            "required": ["nodes"],
            "additionalProperties": False,
            "description": "a named sequence of nodes (like nn.Sequential)",
            "properties": {**_COMMON, "nodes": {"type": "array", "items": node_ref}, "output": {"type": "string"}},
        }
    )
    entries.append(
        {
            "type": "object",
            "title": "BlockCall",
            "required": ["block"],
            "additionalProperties": False,
            "description": "an instance of a block",
            "properties": {**_COMMON, "block": {"type": "string"}, "with": {"type": "object"}},
        }
    )
    defs["Node"] = {"anyOf": entries}
    root["properties"]["nodes"] = {"anyOf": [{"type": "array", "items": node_ref}, {"type": "null"}]}
    root["properties"]["append"] = {"type": "array", "items": node_ref}
    root["properties"]["replace"] = {"type": "object", "additionalProperties": node_ref}
    defs["BlockDef"]["properties"]["nodes"] = {"type": "array", "items": node_ref, "minItems": 1}
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["title"] = "archspec spec file"
    return root
