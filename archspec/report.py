"""Rendering of results: the summary table and diagnostics in each output format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from .api import Network, Result
from .errors import CODES, Diagnostic
from .ops import fmt


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


def summary_json(net: Network) -> dict:
    return {
        "name": net.name,
        "file": net.file,
        "inputs": {k: shape_json(v) for k, v in net.graph.inputs.items()},
        "outputs": {k: shape_json(v) for k, v in net.output_shapes.items()},
        "training_outputs": [o for o in net.graph.outputs if o in net.graph.training_outputs],
        "total_params": net.total_params,
        "total_macs": net.total_macs,
        "nodes": [
            {"path": n.path, "op": n.op, "output_shape": shape_json(n.shape), "params": n.params, "macs": n.macs}
            for n in net.nodes.values()
        ],
    }


def summary_text(net: Network) -> str:
    rows = [("Node", "Op", "Output shape", "Params", "MACs")]
    rows += [(n.path, n.op, fmt(n.shape), f"{n.params:,}", f"{n.macs:,}") for n in net.nodes.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]

    def line(r):
        return "  ".join(r[i].ljust(widths[i]) if i < 3 else r[i].rjust(widths[i]) for i in range(5)).rstrip()

    rule = "-" * len(line(rows[0]))
    ins = ", ".join(f"{k} {fmt(v)}" for k, v in net.graph.inputs.items())
    outs = ", ".join(
        f"{k} {fmt(v)}" + (" (training only)" if k in net.graph.training_outputs else "")
        for k, v in net.output_shapes.items()
    )
    out = [f"{net.name} ({net.file})", f"inputs: {ins}", rule, line(rows[0]), rule]
    out += [line(r) for r in rows[1:]]
    out += [
        rule,
        f"total params: {net.total_params:,} ({human(net.total_params)})",
        f"total MACs:   {net.total_macs:,} ({human(net.total_macs)})",
        f"outputs: {outs}",
    ]
    return "\n".join(out)


def result_line(r: Result) -> str:
    if r.network is not None:
        n = r.network
        return f"{r.file}: ok ({n.name}: {n.total_params:,} params, {human(n.total_macs)} MACs)"
    if r.library is not None:
        return f"{r.file}: ok (block library: {', '.join(r.library.blocks)})"
    return f"{r.file}: invalid"


def check_text(results: list[Result]) -> str:
    out = []
    for r in results:
        out.extend(d.render() for d in r.diagnostics)
        if r.valid:
            out.append(result_line(r))
    bad = sum(not r.valid for r in results)
    errors = sum(len(r.errors) for r in results)
    warnings = sum(len(r.warnings) for r in results)
    files = "file" if len(results) == 1 else "files"
    out.append(
        f"checked {len(results)} {files}: {len(results) - bad} valid, {bad} invalid "
        f"({errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)})"
    )
    return "\n".join(out)


def check_json(results: list[Result]) -> str:
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


def github_annotation(d: Diagnostic) -> str:
    props = [f"file={_escape_prop(d.loc.file)}"]
    if d.loc.line is not None:
        props += [f"line={d.loc.line}", f"col={d.loc.column}"]
    props.append("title=" + _escape_prop(f"{d.code} {d.slug}" + (f" in {d.node}" if d.node else "")))
    body = (f"{d.node}: " if d.node else "") + d.message
    if d.hint:
        body += f"\nhint: {d.hint}"
    body += "".join(f"\nnote: instantiated at {t}" for t in d.trace)
    return f"::{d.severity} {','.join(props)}::{_escape_data(body)}"


def check_github(results: list[Result]) -> str:
    lines = [github_annotation(d) for r in results for d in r.diagnostics]
    lines.append(check_text(results).splitlines()[-1])
    return "\n".join(lines)


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def check_sarif(results: list[Result]) -> str:
    """SARIF 2.1.0 for code-scanning dashboards: one rule per diagnostic code, one result per
    diagnostic, located at the YAML line and column, the node path as its logical location."""
    from . import __version__

    used = sorted({d.code for r in results for d in r.diagnostics})
    rules = [
        {
            "id": code,
            "name": CODES[code][0],
            "shortDescription": {"text": CODES[code][1]},
            "defaultConfiguration": {"level": "warning" if code.startswith("W") else "error"},
        }
        for code in used
    ]
    index = {code: i for i, code in enumerate(used)}
    out = []
    for r in results:
        for d in r.diagnostics:
            text = d.message + (f"\nhint: {d.hint}" if d.hint else "")
            text += "".join(f"\nnote: instantiated at {t}" for t in d.trace)
            region = {"startLine": d.loc.line, "startColumn": d.loc.column} if d.loc.line is not None else None
            location: dict = {"physicalLocation": {"artifactLocation": {"uri": _uri(d.loc.file)}}}
            if region:
                location["physicalLocation"]["region"] = region
            if d.node:
                location["logicalLocations"] = [{"fullyQualifiedName": d.node, "kind": "member"}]
            out.append(
                {
                    "ruleId": d.code,
                    "ruleIndex": index[d.code],
                    "level": d.severity,
                    "message": {"text": text},
                    "locations": [location],
                }
            )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "archspec",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": out,
            }
        ],
    }
    return json.dumps(doc, indent=2)


def _uri(file: str) -> str:
    """Repository-relative URIs, as code scanning expects, for files under the working directory."""
    path = Path(file)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()
