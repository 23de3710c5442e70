"""Expansion pass: a variant's edits of its base — remove, replace, then append."""

from __future__ import annotations

from .errors import Abort, Fail, Loc, did_you_mean, fail
from .files import File
from .instantiate import check_duplicates, expand_entry, expand_list
from .load import LocDict, LocList
from .tree import Ctx, TGroup, derive, loc_at


def _find(root: TGroup, path: str, loc: Loc) -> tuple[TGroup, int]:
    try:
        return _find_in(root, path, loc)
    except Fail as f:
        raise Fail(*(d.with_node(path) for d in f.diagnostics)) from None


def _find_in(root: TGroup, path: str, loc: Loc) -> tuple[TGroup, int]:
    group, parts = root, path.split(".")
    for depth, part in enumerate(parts):
        names = [c.name for c in group.children]
        if part not in names:
            where = ".".join(parts[:depth]) or "the top level"
            fail(
                "AS303",
                f"no node '{path}' to edit: '{part}' is not in {where}",
                loc,
                did_you_mean(part, names) or f"{where} has: {', '.join(map(str, names[:12]))}",
            )
        index = names.index(part)
        if depth == len(parts) - 1:
            return group, index
        nxt = group.children[index]
        if isinstance(nxt, TGroup) and nxt.waiting:
            fail(
                "AS303",
                f"no node '{path}' to edit yet: '{'.'.join(parts[: depth + 1])}' calls block '{nxt.block}', "
                "which reads its input's shape, and its input has none",
                loc,
                hint="fix the errors before it; its nodes exist once its input's shape is known",
            )
        if not isinstance(nxt, TGroup):
            fail(
                "AS303",
                f"no node '{path}' to edit: '{'.'.join(parts[: depth + 1])}' is an op, not a group",
                loc,
                hint="only groups and block instances have members; edit the op's own path",
            )
        group = nxt
        group.edited = True  # a block call instantiated again for a new input shape would lose the edit
    raise AssertionError("unreachable")


def apply_edits(root: TGroup, f: File, ctx: Ctx):
    removes = f.raw.get("remove") or LocList()
    for i, path in enumerate(f.spec.remove):
        try:
            group, index = _find(root, path, removes.item_loc(i))
            del group.children[index]
        except Abort:
            raise
        except Fail as x:
            ctx.state.diags.extend(x.diagnostics)
    replaces = f.raw.get("replace") or LocDict()
    for path, entry in replaces.items():
        try:
            group, index = _find(root, path, replaces.key_loc(path))
            named = derive(entry, (), name=path.rsplit(".", 1)[-1]) if isinstance(entry, LocDict) else entry
            new = expand_entry(
                named, ctx.inside(path.rsplit(".", 1)[0]) if "." in path else ctx, replaces.value_loc(path), {}, index
            )
            group.children[index : index + 1] = new
        except Abort:
            raise
        except Fail as x:  # the base's node stays: what reads it is checked as before
            ctx.state.diags.extend(d if d.node else d.with_node(path) for d in x.diagnostics)
    if f.spec.append:
        extra, _ = expand_list(f.raw["append"], ctx, loc_at(f.raw, "append"))
        for node in extra:
            if node.name.isdigit():
                node.name = str(len(root.children))
            root.children.append(node)
        check_duplicates(root.children, ctx)
