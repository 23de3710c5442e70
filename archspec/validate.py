"""Turn pydantic validation errors into located diagnostics."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from .errors import Diagnostic, Loc, did_you_mean
from .load import LocDict, loc_of


def _fields(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _sub_model(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The model that owns the last key of `loc`, for 'did you mean' suggestions."""
    current = model
    for part in loc[:-1]:
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            continue
        ann = field.annotation
        for arg in (*getattr(ann, "__args__", ()), ann):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
                break
    return current


def _value(v) -> str:
    text = repr(v) if not isinstance(v, (dict, list)) else repr(v)[:60]
    return text if len(text) <= 60 else text[:57] + "..."


def _present(raw, loc_path: tuple) -> tuple:
    """The longest prefix of `loc_path` that exists in the data (drops pydantic's union-member tags)."""
    out = []
    for part in loc_path:
        in_dict = isinstance(raw, dict) and part in raw
        if in_dict or (isinstance(raw, list) and isinstance(part, int) and 0 <= part < len(raw)):
            raw = raw[part]
        else:
            break
        out.append(part)
    return tuple(out)


def diagnostics(
    exc: ValidationError, raw, model: type[BaseModel], what: str, fallback: Loc, values=None
) -> list[Diagnostic]:
    """`raw` gives positions; `values` (the evaluated data, when it differs) gives the values shown."""
    return error_diagnostics(exc.errors(include_url=False), raw, model, what, fallback, values)


def field_diagnostics(
    exc: ValidationError, key: str, raw, model: type[BaseModel], what: str, value
) -> list[Diagnostic]:
    """Errors of one field's value, validated on its own once evaluated (spec.field_types)."""
    errors = [{**err, "loc": (key, *err["loc"])} for err in exc.errors(include_url=False)]
    return error_diagnostics(errors, raw, model, what, raw.loc, {**raw, key: value})


def error_diagnostics(errors: list, raw, model: type[BaseModel], what: str, fallback: Loc, values) -> list[Diagnostic]:
    values = raw if values is None else values
    out: list[Diagnostic] = []
    merged: dict[tuple, list[tuple[str, str]]] = {}
    for err in errors:
        loc_path = tuple(err["loc"])
        if err["type"].startswith("AS"):  # a rule with its own code (spec.py raises these)
            key = _present(values, loc_path) or loc_path[:1]
            where = loc_of(raw, key) or fallback
            out.append(Diagnostic(err["type"], err["msg"], where, hint=err["ctx"]["hint"]))
            continue
        if err["type"] not in ("extra_forbidden", "missing"):
            key = _present(values, loc_path) or loc_path[:1]
            msgs = merged.setdefault(key, [])
            msg = (err["type"], err["msg"][0].lower() + err["msg"][1:])
            if msg not in msgs:
                msgs.append(msg)
            continue
        field = ".".join(str(p) for p in loc_path) or what
        kind = err["type"]
        if kind == "extra_forbidden":
            key = loc_path[-1]
            parent = loc_of(raw, loc_path[:-1])
            container = _container(raw, loc_path[:-1])
            where = container.key_loc(key) if isinstance(container, LocDict) else (parent or fallback)
            allowed = _fields(_sub_model(model, loc_path))
            hint = did_you_mean(key, allowed) or f"{what} takes: {', '.join(allowed)}"
            out.append(Diagnostic("AS102", f"{what} has no field '{key}'", where, hint=hint))
        elif kind == "missing":
            where = loc_of(raw, loc_path[:-1]) or fallback
            out.append(Diagnostic("AS104", f"{what} needs field '{field}'", where, hint=f"add `{loc_path[-1]}: ...`"))
    out = _merge_typos(out)
    for loc_path, msgs in merged.items():
        field = ".".join(str(p) for p in loc_path)
        where = loc_of(raw, loc_path) or fallback
        value = _container(values, loc_path)
        out.append(
            Diagnostic(
                "AS103",
                f"{what} field '{field}' = {_value(value)}: {_reason(msgs)}",
                where,
                hint=_type_hint(model, loc_path)
                or f"see `archspec schema` or docs/spec.md for the values '{field}' takes",
            )
        )
    return out


def _reason(msgs: list[tuple[str, str]]) -> str:
    """What is wrong with a value, from the errors of each member of a union: a constraint the
    value breaks says more than the types it does not have; types alone are listed together."""
    specific = [m for kind, m in msgs if not kind.endswith("_type")]
    if specific:
        return "; or ".join(specific)
    prefix = "input should be a valid "
    nouns = [m.removeprefix(prefix) for _, m in msgs]
    if len(nouns) > 1 and all(m.startswith(prefix) for _, m in msgs):
        return prefix + ", ".join(nouns[:-1]) + " or " + nouns[-1]
    return "; or ".join(m for _, m in msgs)


def _merge_typos(diags: list[Diagnostic]) -> list[Diagnostic]:
    """One error per cause: `kernal: 3` is an unknown field and a missing `kernel`; report the
    unknown field (its hint names `kernel`) and drop the missing one it explains."""
    explained = {d.hint for d in diags if d.code == "AS102" and d.hint and d.hint.startswith("did you mean")}
    return [
        d
        for d in diags
        if not (d.code == "AS104" and f"did you mean '{d.message.rsplit(chr(39), 2)[-2]}'?" in explained)
    ]


def _container(raw, path):
    for part in path:
        if isinstance(raw, dict) and part in raw or isinstance(raw, list) and isinstance(part, int) and part < len(raw):
            raw = raw[part]
        else:
            return None
    return raw


def _type_hint(model: type[BaseModel], loc_path: tuple) -> str | None:
    if not loc_path:
        return None
    sub = _sub_model(model, loc_path)
    key = str(loc_path[0]) if sub is model else str(loc_path[-1])
    field = next((f for n, f in sub.model_fields.items() if key in (n, f.alias)), None)
    if field is None:
        return None
    if field.description:
        return f"{loc_path[0]}: {field.description}"
    return None
