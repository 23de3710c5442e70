"""Stage 7 — cli: `archspec check | summary | schema` (and backend commands).

Exit codes: 0 all valid, 1 a spec is invalid, 2 usage error (bad flag, missing file).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

import yaml

from . import __version__, report
from .api import Result, analyze
from .errors import Diagnostic, Loc

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def parse_sets(items: list[str] | None) -> dict:
    """`--set key=value` (repeatable); the value is read as a YAML scalar or flow list."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects key=value, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            raise UsageError(f"--set {key}: cannot read value {value!r}") from None
    return out


def spec_files(paths: list[str]) -> tuple[list[Path], list[Result]]:
    """Expand directories to their *.yaml files; missing paths become located results."""
    files, missing = [], []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += sorted(f for f in path.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file())
        elif path.exists():
            files.append(path)
        else:
            d = Diagnostic("AS001", f"no such file or directory: {p}", Loc(p), hint="check the path")
            missing.append(Result(p, None, None, (d,)))
    return files, missing


def analyze_all(files: list[Path], overrides: dict) -> list[Result]:
    """Check files on every core: each file is independent. Serial where fork is unavailable."""
    workers = min(os.cpu_count() or 1, len(files) // 4, 8)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [analyze(f, overrides) for f in files]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.starmap(_analyze_light, [(f, overrides) for f in files], chunksize=1)


def _analyze_light(path: Path, overrides: dict) -> Result:
    """What `check` reports of one file, cheap to send back from a worker: no graph."""
    result = analyze(path, overrides)
    summary = None
    if result.network is not None:
        net = result.network
        summary = report.NetworkSummary(net.name, net.total_params, net.total_macs)
    return Result(result.file, summary, result.library, result.diagnostics)  # type: ignore[arg-type]


def cmd_check(args) -> int:
    overrides = parse_sets(args.set)
    files, missing = spec_files(args.paths)
    results = missing + analyze_all(files, overrides)
    render = {"text": report.check_text, "json": report.check_json, "github": report.check_github}[args.format]
    print(render(results))
    if missing:
        return EXIT_USAGE
    return EXIT_OK if all(r.valid for r in results) else EXIT_INVALID


def _one(args) -> tuple[Result, int | None]:
    path = Path(args.spec)
    if not path.is_file():
        d = Diagnostic("AS001", f"no such spec file: {args.spec}", Loc(args.spec), hint="check the path")
        return Result(args.spec, None, None, (d,)), EXIT_USAGE
    result = analyze(path, parse_sets(args.set))
    return result, (None if result.network is not None else EXIT_INVALID)


def cmd_summary(args) -> int:
    result, code = _one(args)
    if code is not None:
        if result.library is not None:
            print(f"{result.file} is a block library ({', '.join(result.library.blocks)}); it has no summary")
        elif args.format == "json":
            print(report.check_json([result]))
        else:
            print(report.check_text([result]))
        return code
    net = result.network
    if args.format == "json":
        print(json.dumps(report.summary_json(net), indent=2))
    else:
        print(report.summary_text(net))
        for w in net.warnings:
            print(w.render())
    return EXIT_OK


def cmd_compile(args) -> int:
    from . import backends

    try:
        impl = backends.get(args.backend)
    except backends.UnknownBackend as exc:
        raise UsageError(str(exc)) from None
    result, code = _one(args)
    if code is not None:
        print(report.check_text([result]), file=sys.stderr)
        return code
    source = impl.emit(result.network)
    target = args.output or str(Path(args.spec).with_suffix("").name) + impl.suffix
    if target == "-":
        sys.stdout.write(source)
    else:
        Path(target).write_text(source, encoding="utf-8")
        print(f"wrote {target} ({result.network.name}, {args.backend})", file=sys.stderr)
    return EXIT_OK


def cmd_schema(args) -> int:
    from .schema import json_schema

    text = json.dumps(json_schema(), indent=2)
    if args.output and args.output != "-":
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archspec", description="Check and compile neural-network specs.")
    parser.add_argument("--version", action="version", version=f"archspec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_set(p):
        p.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override a spec parameter (repeatable); the value is read as YAML",
        )

    p = sub.add_parser("check", help="validate specs and prove their shapes")
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories (searched for *.yaml)")
    p.add_argument("--format", choices=["text", "json", "github"], default="text")
    with_set(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("summary", help="per-node shapes, parameters and MACs")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--format", choices=["text", "json"], default="text")
    with_set(p)
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("compile", help="generate a standalone module for a backend")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--backend", required=True, help="torch, or another installed backend")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write; '-' for stdout; default SPEC's name with the backend's suffix, here",
    )
    with_set(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("schema", help="print the JSON Schema of the spec format")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=cmd_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"archspec {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `archspec summary x.yaml | head`
        return EXIT_OK
