"""Rendering of results: the summary table and diagnostics in each output format."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .api import Network, Result
from .errors import CODES, Diagnostic


class NetworkSummary(NamedTuple):
    """The figures `check` prints of a valid network (what a worker process sends back)."""

    name: str
    total_params: int
    total_macs: int


def human(n: int) -> str:
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def shape_json(shape) -> list:
    return ["N", *shape]


def summary_json(net: Network, **options) -> dict:
    """`archspec summary --format json` (archspec/summary.py)."""
    from .summary import to_json

    return to_json(net, **options)


def summary_text(net: Network, **options) -> str:
    """`archspec summary`: the table, counts and memory estimate (archspec/summary.py)."""
    from .summary import text

    return text(net, **options)


def result_line(r: Result) -> str:
    if r.network is not None:
        n = r.network
        return f"{r.file}: ok ({n.name}: {n.total_params:,} params, {human(n.total_macs)} MACs)"
    if r.library is not None:
        return f"{r.file}: ok (block library: {', '.join(r.library.blocks)})"
    return f"{r.file}: invalid"


@dataclass(frozen=True)
class Finding:
    """One mistake however many specs reach it: a diagnostic and the networks (name, file) whose
    check found it. Editing a block library can break every network built on it; that is one
    finding, reported once, naming them."""

    diagnostic: Diagnostic
    networks: tuple[tuple[str, str], ...]

    @property
    def note(self) -> str | None:
        """'breaks 7 networks: resnet50, ...', unless the only network is the finding's own file
        (or the finding is in no file, like an override)."""
        d, nets = self.diagnostic, self.networks
        if not nets or (len(nets) == 1 and (_same_file(nets[0][1], d.loc.file) or not Path(d.loc.file).is_file())):
            return None
        names = [name for name, _ in nets]
        shown = ", ".join(names[:NAMED]) + (f" and {len(names) - NAMED} more" if len(names) > NAMED else "")
        verb = "breaks" if d.severity == "error" else "found in"
        return f"{verb} {len(names)} network{'s' * (len(names) != 1)}: {shown}"

    def render(self) -> str:
        note = self.note
        return self.diagnostic.render() + (f"\n    note: {note}" if note else "")


NAMED = 10  # networks named in a note before "and N more"


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


def _network_name(r: Result) -> str:
    return r.network.name if r.network is not None else Path(r.file).stem


def findings(results: list[Result]) -> list[Finding]:
    """Diagnostics of every result, deduplicated by (code, file, line, column, message), in the
    order first seen, each with the networks it was found in."""
    first: dict[tuple, Diagnostic] = {}
    where: dict[tuple, list[tuple[str, str]]] = {}
    for r in results:
        for d in r.diagnostics:
            key = (d.code, d.loc.file, d.loc.line, d.loc.column, d.message)
            first.setdefault(key, d)
            nets = where.setdefault(key, [])
            if r.library is None and (_network_name(r), r.file) not in nets:
                nets.append((_network_name(r), r.file))
    return [Finding(d, tuple(where[k])) for k, d in first.items()]


def check_text(results: list[Result]) -> str:
    found = findings(results)
    out = [f.render() for f in found]
    out += [result_line(r) for r in results if r.valid]
    out.append(_totals(results, found))
    return "\n".join(out)


def _totals(results: list[Result], found: list[Finding]) -> str:
    bad = sum(not r.valid for r in results)
    errors = sum(f.diagnostic.severity == "error" for f in found)
    warnings = len(found) - errors
    files = "file" if len(results) == 1 else "files"
    return (
        f"checked {len(results)} {files}: {len(results) - bad} valid, {bad} invalid "
        f"({errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)})"
    )


def check_json(results: list[Result]) -> str:
    """Per file, as checked: a finding in a shared block appears under every file it breaks."""
    return json.dumps(
        [
            {
                "file": r.file,
                "valid": r.valid,
                "errors": [d.to_json() for d in r.errors],
                "warnings": [d.to_json() for d in r.warnings],
                **({"params": r.network.total_params, "macs": r.network.total_macs} if r.network else {}),
            }
            for r in results
        ],
        indent=2,
    )


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _body(f: Finding) -> str:
    """The message with its hint and notes, as plain lines (GitHub and SARIF)."""
    d = f.diagnostic
    body = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    body += "".join(f"\nnote: instantiated at {t}" for t in d.trace)
    if d.also:
        body += f"\nnote: the same in {len(d.also)} more instance{'s' * (len(d.also) > 1)}: {', '.join(d.also)}"
    return body + (f"\nnote: {f.note}" if f.note else "")


def github_annotation(f: Finding) -> str:
    d = f.diagnostic
    props = [f"file={_escape_prop(d.loc.file)}"]
    if d.loc.line is not None:
        props += [f"line={d.loc.line}", f"col={d.loc.column}"]
    props.append("title=" + _escape_prop(f"{d.code} {d.slug}" + (f" in {d.node}" if d.node else "")))
    body = (f"{d.node}: " if d.node else "") + _body(f)
    return f"::{d.severity} {','.join(props)}::{_escape_data(body)}"


def check_github(results: list[Result]) -> str:
    """One annotation per finding (GitHub shows at most 10 error annotations per step)."""
    found = findings(results)
    return "\n".join([*(github_annotation(f) for f in found), _totals(results, found)])


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Where docs/errors.md is published; the GitHub action points it at the action's own revision.
DOCS_URL = "https://github.com/OWNER/archspec/blob/main/docs/errors.md"


def docs_url() -> str:
    return os.environ.get("ARCHSPEC_DOCS_URL") or DOCS_URL


def check_sarif(results: list[Result]) -> str:
    """SARIF 2.1.0 for code-scanning dashboards: one rule per diagnostic code (with a help link),
    one result per finding at its YAML line, the node path as logical location, the
    "instantiated at" call sites and the files of the networks it breaks as related locations."""
    from . import __version__

    found = findings(results)
    used = sorted({f.diagnostic.code for f in found})
    rules = [
        {
            "id": code,
            "name": CODES[code][0],
            "shortDescription": {"text": CODES[code][1]},
            "helpUri": f"{docs_url()}#{code.lower()}",
            "defaultConfiguration": {"level": "warning" if code.startswith("W") else "error"},
        }
        for code in used
    ]
    index = {code: i for i, code in enumerate(used)}
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "archspec", "version": __version__, "rules": rules}},
                "results": [_sarif_result(f, index[f.diagnostic.code]) for f in found],
            }
        ],
    }
    return json.dumps(doc, indent=2)


def _location(file: str, line: int | None = None, column: int | None = None) -> dict:
    loc: dict = {"physicalLocation": {"artifactLocation": {"uri": _uri(file)}}}
    if line is not None:
        loc["physicalLocation"]["region"] = {"startLine": line, "startColumn": column or 1}
    return loc


def _sarif_result(f: Finding, rule_index: int) -> dict:
    d = f.diagnostic
    location = _location(d.loc.file, d.loc.line, d.loc.column)
    if d.node:
        location["logicalLocations"] = [{"fullyQualifiedName": d.node, "kind": "member"}]
    related = [(_location(t.file, t.line, t.column), "instantiated at") for t in d.trace]
    related += [
        (_location(file), f"breaks network {name}" if d.severity == "error" else f"found in network {name}")
        for name, file in f.networks
        if not _same_file(file, d.loc.file)
    ]
    # Stable across runs and line moves: what the finding is, not where on the line it sits.
    digest = hashlib.sha256("\0".join([d.code, _uri(d.loc.file), d.message]).encode()).hexdigest()[:32]
    out = {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": d.severity,
        "message": {"text": _body(f)},
        "locations": [location],
        "partialFingerprints": {"archspecFinding/v1": digest},
        "properties": {"networks": [name for name, _ in f.networks]},
    }
    if related:
        out["relatedLocations"] = [{**loc, "id": i, "message": {"text": text}} for i, (loc, text) in enumerate(related)]
    return out


def _uri(file: str) -> str:
    """Repository-relative URIs, as code scanning expects, for files under the working directory."""
    path = Path(file)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()
