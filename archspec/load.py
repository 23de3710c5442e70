"""Stage 1 — load: YAML text to plain data that remembers where each value came from.

PyYAML composes a node tree (which carries marks); we construct the values
ourselves so that only JSON-like tags are accepted, aliases cannot blow the
document up, and every mapping and list knows the position of its items.
Nothing in a spec is ever constructed as an arbitrary Python object.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import yaml

from .errors import Loc, fail

try:  # libyaml is ~10x faster; same node tree, same marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader

MAX_VALUES = 200_000  # values after alias expansion; a real spec has a few thousand
MAX_BYTES = 1_000_000  # a large real spec is 20 kB
MAX_NESTING = 100  # mappings and lists inside each other

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
_STR = _TAG + "str"


class LocDict(dict):
    """A mapping that knows its own position and the position of each key and value."""

    loc: Loc
    key_locs: dict
    value_locs: dict

    def key_loc(self, key) -> Loc:
        return self.key_locs.get(key, self.loc)

    def value_loc(self, key) -> Loc:
        return self.value_locs.get(key, self.loc)


class LocList(list):
    loc: Loc
    item_locs: list

    def item_loc(self, index: int) -> Loc:
        return self.item_locs[index] if 0 <= index < len(self.item_locs) else self.loc


def loc_of(data, path) -> Loc | None:
    """The position of the value at `path` (keys/indices) inside loaded data."""
    best = getattr(data, "loc", None)
    for part in path:
        if isinstance(data, LocDict) and part in data:
            best = data.value_loc(part)
            data = data[part]
        elif isinstance(data, LocList) and isinstance(part, int) and 0 <= part < len(data):
            best = data.item_loc(part)
            data = data[part]
        else:
            break
        best = getattr(data, "loc", best)
    return best


class _Builder:
    def __init__(self, filename: str, loader):
        self.filename = filename
        self.loader = loader
        self.count = 0

    def loc(self, node) -> Loc:
        mark = node.start_mark
        return Loc(self.filename, mark.line + 1, mark.column + 1)

    def build(self, node, depth: int = 0):
        if depth > MAX_NESTING:
            fail(
                "AS004",
                f"the document nests mappings and lists more than {MAX_NESTING} deep",
                self.loc(node),
                hint="a spec nests a few levels; use blocks for deep structure",
            )
        self.count += 1
        if self.count > MAX_VALUES:
            fail(
                "AS004",
                f"the document expands to more than {MAX_VALUES:,} values",
                self.loc(node),
                hint="this is what a YAML alias bomb looks like; use blocks and repeat instead of aliases",
            )
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            return self.sequence(node, depth)
        return self.scalar(node)

    def check_tag(self, node, expected: str):
        if node.tag != _TAG + expected and not (expected == "scalar" and node.tag in _SCALAR_TAGS):
            fail(
                "AS003",
                f"YAML tag {node.tag!r} is not allowed in a spec",
                self.loc(node),
                hint="specs hold plain mappings, lists, strings, numbers, booleans and null; remove the tag",
            )

    def scalar(self, node):
        if node.tag == _TAG + "timestamp" and not node.style:
            return node.value  # an unquoted date-like word is just text in a spec
        self.check_tag(node, "scalar")
        if node.tag == _STR:  # most scalars of a spec: the constructor would return the text as is
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:  # `!!int abc`, a 5,000-digit number
            reason = str(exc).splitlines()[0][:120]
            fail(
                "AS103",
                f"cannot read the value {shown_path(node.value)[:60]!r} as {node.tag.rsplit(':', 1)[-1]}: {reason}",
                self.loc(node),
                hint="write a plain number, string, boolean or null",
            )

    def sequence(self, node, depth: int):
        self.check_tag(node, "seq")
        out = LocList()
        out.loc = self.loc(node)
        out.item_locs = []
        for item in node.value:
            out.item_locs.append(self.loc(item))
            out.append(self.build(item, depth + 1))
        return out

    def mapping(self, node, depth: int):
        self.check_tag(node, "map")
        out = LocDict()
        out.loc = self.loc(node)
        out.key_locs, out.value_locs = {}, {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                fail(
                    "AS003",
                    "YAML merge keys ('<<') are not allowed in a spec",
                    self.loc(key_node),
                    hint="use a block with parameters to share structure",
                )
            if not isinstance(key_node, yaml.ScalarNode):
                fail(
                    "AS006",
                    "mapping keys must be plain scalars",
                    self.loc(key_node),
                    hint="use plain words as keys, e.g. `channels:`",
                )
            key = self.scalar(key_node)
            if not isinstance(key, str):
                key = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
            if not isinstance(key, str):
                fail(
                    "AS103",
                    f"mapping key {key!r} must be a string",
                    self.loc(key_node),
                    hint='quote the key or use a word, e.g. `"3":` or `stage3:`',
                )
            if key in out:
                fail(
                    "AS106",
                    f"key '{key}' appears twice in this mapping",
                    self.loc(key_node),
                    hint=f"the first '{key}' is at {out.key_locs[key]}; keep one",
                )
            out.key_locs[key] = self.loc(key_node)
            out.value_locs[key] = self.loc(value_node)
            out[key] = self.build(value_node, depth + 1)
        return out


_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _nesting_error(filename: str, mark) -> None:
    fail(
        "AS004",
        f"the document nests mappings and lists more than {MAX_NESTING} deep",
        Loc(filename, mark.line + 1, mark.column + 1),
        hint="a spec nests a few levels; use blocks for deep structure",
    )


def _walk_nesting(loader, filename: str) -> None:
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_NESTING:
                    _nesting_error(filename, event.start_mark)
            elif isinstance(event, _CLOSE):
                depth -= 1
    finally:
        loader.dispose()


def _check_nesting(text: str, filename: str) -> None:
    """Refuse deep nesting before composing: libyaml's parser walks events without recursion,
    but composing a node tree recurses once per level, and 400,000 `[` overflow the C stack.

    The bound is ours whatever the YAML library does: libyaml 0.2.5 as bundled with PyYAML
    6.0.4 stops at 1,000 levels of flow nesting while it scans ahead for a key, before the
    parser yields our 101st level. Then the text up to where libyaml stopped, 1,000 levels
    deep, is walked again: short of its bound, it yields our 101st level and its location."""
    try:
        _walk_nesting(_Loader(text), filename)
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" not in str(exc.problem):
            return  # composing reports it, with its position
        mark = exc.problem_mark or exc.context_mark
        with contextlib.suppress(yaml.YAMLError):
            _walk_nesting(_Loader(text[: mark.index]), filename)
        _nesting_error(filename, mark)
    except yaml.YAMLError:
        return


def load_yaml(text: str, filename: str) -> LocDict:
    """Parse one spec document. Raises `Fail` with a located diagnostic."""
    if len(text) > MAX_BYTES:
        fail(
            "AS004",
            f"the file is larger than {MAX_BYTES:,} bytes",
            Loc(filename, 1, 1),
            hint="split the spec into a network and block libraries",
        )
    _check_nesting(text, filename)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Loc(filename, mark.line + 1, mark.column + 1) if mark else Loc(filename, 1, 1)
        problem = exc.problem or "malformed YAML"
        context = f" ({exc.context})" if exc.context else ""
        fail(
            "AS002",
            f"YAML syntax error: {problem}{context}",
            where,
            hint="check indentation and quoting here; quote values that contain ': ', '{' or '#'",
        )
    except RecursionError:
        fail(
            "AS004",
            f"the document nests mappings and lists more than {MAX_NESTING} deep",
            Loc(filename, 1, 1),
            hint="a spec nests a few levels; use blocks for deep structure",
        )
    except yaml.YAMLError as exc:
        fail(
            "AS002",
            f"YAML error: {str(exc)[:300]}",
            Loc(filename, 1, 1),
            hint="check the file is a single well-formed YAML document",
        )
    finally:
        loader.dispose()
    if root is None:
        fail(
            "AS005",
            "the file is empty",
            Loc(filename, 1, 1),
            hint="a spec needs at least `inputs:` and `nodes:`; see docs/spec.md",
        )
    data = _Builder(filename, _Loader("")).build(root)
    if not isinstance(data, LocDict):
        kind = "list" if isinstance(data, list) else type(data).__name__
        fail(
            "AS006",
            f"a spec must be a mapping, not a {kind}",
            getattr(data, "loc", Loc(filename, 1, 1))
            if not isinstance(data, (str, int, float))
            else Loc(filename, 1, 1),
            hint="start the file with keys such as `name:`, `inputs:` and `nodes:`",
        )
    return data


def _refuse(path, why: str, referrer: Loc | None, hint: str):
    fail("AS008", f"cannot read {shown_path(path)}: {why}", referrer or Loc(shown_path(path)), hint=hint)


def shown_path(path) -> str:
    """A path as messages print it: control characters escaped, a long one shortened."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))
    return text if len(text) <= 200 else text[:100] + "..." + text[-60:]


def read_spec_file(path: Path, referrer: Loc | None = None) -> LocDict:
    """Read and parse a spec file; problems are located at `referrer` (the `imports`/`extends`
    entry) when given. Only regular files are read, and at most MAX_BYTES of them: a FIFO, a
    device such as /dev/zero or /dev/urandom, or a directory is refused before it is opened."""
    hint = "name a .yaml spec file; relative paths are resolved against the file that names them"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        fail(
            "AS001",
            f"no such spec file: {shown_path(path)}",
            referrer or Loc(shown_path(path)),
            hint="check the path; relative paths are resolved against the file that names them",
        )
    except (OSError, ValueError) as exc:  # too long, a NUL byte, permission, a loop of links
        _refuse(path, _os_reason(exc), referrer, hint)
    if stat.S_ISDIR(st.st_mode):
        fail(
            "AS001",
            f"{shown_path(path)} is a directory, not a spec file",
            referrer or Loc(shown_path(path)),
            hint="name a .yaml file; `archspec check` accepts directories",
        )
    if not stat.S_ISREG(st.st_mode):
        _refuse(path, "it is not a regular file (a FIFO, socket or device)", referrer, hint)
    if st.st_size > MAX_BYTES:
        _too_large(path, referrer)
    try:  # O_NONBLOCK: a FIFO swapped in after the check cannot make open() wait
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                _refuse(path, "it is not a regular file", referrer, hint)
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(MAX_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        _refuse(path, _os_reason(exc), referrer, hint)
    if len(data) > MAX_BYTES:
        _too_large(path, referrer)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(
            "AS002",
            f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            referrer or Loc(shown_path(path), 1, 1),
            hint="save the spec as UTF-8",
        )
    return load_yaml(text, str(path))


def _os_reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc)


def _too_large(path, referrer: Loc | None):
    fail(
        "AS004",
        f"{shown_path(path)} is larger than {MAX_BYTES:,} bytes",
        referrer or Loc(shown_path(path), 1, 1),
        hint="a spec is a few kilobytes; split it into a network and block libraries",
    )
