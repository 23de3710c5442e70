"""Expansion pass: files linked — the extends chain read and checked, imports resolved into
the table of blocks each file can call."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from . import expr, zoo
from .errors import Diagnostic, Fail, Loc, did_you_mean, fail
from .load import LocDict, LocList, read_spec_file, shown_path
from .opnames import op_hint
from .ops import OPS
from .params import short
from .spec import SpecFile, identifier_problem
from .tree import BlockInfo, State, loc_at
from .validate import diagnostics


def validate_file(raw: LocDict) -> SpecFile:
    try:
        return SpecFile.model_validate(raw)
    except ValidationError as exc:
        raise Fail(*diagnostics(exc, raw, SpecFile, "spec", raw.loc)) from None


class File(NamedTuple):
    path: Path
    raw: LocDict
    spec: SpecFile


# Parsed files by (path, resolved path, mtime, size): specs share bases and libraries, and the
# dependents search (changed.py) reads what `check` reads. A raw file is cached apart from its
# validated form, so the search can read the extends/imports of a file that fails validation.
_RAW: dict[tuple, LocDict] = {}
_FILES: dict[tuple, File] = {}
_CACHED = 256  # files per cache; a cache that fills is emptied


def _key(path: Path) -> tuple | None:
    try:
        stat = path.stat()
        return (str(path), str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError, RuntimeError):  # read_spec_file reports the path's problem
        return None


def _remember(cache: dict, key: tuple | None, value) -> None:
    if key is not None:
        if len(cache) > _CACHED:
            cache.clear()
        cache[key] = value


def read_raw(path: Path, referrer: Loc | None = None) -> LocDict:
    """A spec file as loaded (load.read_spec_file), once per version of the file."""
    key = _key(path)
    if key in _RAW:
        return _RAW[key]
    raw = read_spec_file(path, referrer)
    _remember(_RAW, key, raw)
    return raw


def read_cached(path: Path, referrer: Loc | None) -> File:
    key = _key(path)
    if key in _FILES:
        return _FILES[key]
    raw = read_raw(path, referrer)
    parsed = File(path, raw, validate_file(raw))
    _remember(_FILES, key, parsed)
    return parsed


def _relative(base: File, target: str, loc: Loc) -> Path:
    """The file `target` names: relative to the file that names it, else the zoo spec of that name
    (zoo.referenced). A path that cannot even be resolved (a NUL byte, too long, a loop of links)
    is refused at `loc`, and a missing one that reads like a zoo name gets the zoo's hint."""
    path = zoo.referenced(base.path.parent, target)
    _resolve(path, loc)
    hint = zoo.missing_hint(target) if _missing(path) else None
    if hint is not None:
        fail("AS001", f"no such spec file or zoo spec: {shown_path(target)}", loc, hint)
    return path


def _missing(path: Path) -> bool:
    """Nothing is at `path`; a path the OS refuses (too long, through a file) is not missing but
    unreadable, which read_spec_file reports (AS008)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _resolve(path: Path, loc: Loc) -> Path:
    try:
        return path.resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        fail(
            "AS008", f"cannot read {shown_path(path)}: {reason}", loc, "name a .yaml spec file by a plain relative path"
        )


def chain_of(first: File) -> list[File]:
    chain = [first]
    while chain[0].spec.extends:
        child = chain[0]
        loc = loc_at(child.raw, "extends")
        path = _relative(child, child.spec.extends, loc)
        if any(f.path.resolve() == path.resolve() for f in chain):
            fail("AS304", f"`extends` forms a cycle through {path}", loc, "a spec cannot extend itself")
        base = read_cached(path, loc)
        chain.insert(0, base)
    return chain


def block_table(f: File, state: State, stack: tuple[Path, ...] = ()) -> dict[str, BlockInfo]:
    """The blocks a file can call: imported ones, then its own (which win)."""
    key = f.path.resolve()
    if key in state.tables:
        return state.tables[key]
    table: dict[str, BlockInfo] = {}
    imports_raw = f.raw.get("imports") or []
    for i, imp in enumerate(f.spec.imports):
        loc = imports_raw.item_loc(i) if isinstance(imports_raw, LocList) else f.raw.loc
        path = _relative(f, imp.from_, loc)
        if path.resolve() in stack or (f.path.name and path.resolve() == f.path.resolve()):
            fail(
                "AS304",
                f"imports form a cycle through {path}",
                loc,
                hint="a library cannot import a file that imports it back; move the shared blocks into a third file",
            )
        lib = read_cached(path, loc)
        theirs = block_table(lib, state, (*stack, key))
        wanted = imp.blocks if imp.blocks is not None else list(theirs)
        for name in wanted:
            if name not in theirs:
                fail(
                    "AS301",
                    f"{shown_path(path)} defines no block {short(name)}",
                    loc,
                    did_you_mean(name, theirs) or f"it defines: {', '.join(theirs) or 'no blocks'}",
                )
            table[name] = theirs[name]
    blocks_raw = f.raw.get("blocks") or LocDict()
    for name, model in f.spec.blocks.items():
        problem = identifier_problem(name)
        if problem:
            fail(
                "AS105",
                f"invalid block name: {problem}",
                blocks_raw.key_loc(name),
                hint="block names are identifiers such as `bottleneck`",
            )
        for p in model.params:
            problem = identifier_problem(p)
            if problem:
                fail(
                    "AS105",
                    f"invalid parameter name in block '{name}': {problem}",
                    blocks_raw[name]["params"].key_loc(p),
                    hint="parameter names are identifiers such as `planes`",
                )
        table[name] = BlockInfo(name, model, blocks_raw[name], table)  # its body sees this whole table
    state.tables[key] = table
    return table


def check_library(blocks: dict[str, BlockInfo], state: State):
    """Blocks are only fully checked when instantiated; here, catch unknown ops early."""

    def walk(entries):
        for i, e in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(e, dict):
                loc = entries.item_loc(i) if isinstance(entries, LocList) else Loc("<unknown>")
                state.diags.append(
                    Diagnostic(
                        "AS006",
                        "a node entry must be a mapping",
                        loc,
                        hint="each list item is a mapping such as `- {op: relu}`",
                    )
                )
                continue
            op = e.get("op")
            if isinstance(op, str) and not expr.is_expression(op) and op not in OPS:
                state.diags.append(
                    Diagnostic(
                        "AS101",
                        f"unknown op {short(op)}",
                        loc_at(e, "op"),
                        hint=op_hint(op, OPS),
                    )
                )
            walk(e.get("nodes"))

    for info in blocks.values():
        walk(info.raw.get("nodes"))
