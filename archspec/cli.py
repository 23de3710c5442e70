"""Stage 7 — cli: `archspec check | summary | schema` (and backend commands).

Exit codes: 0 all valid, 1 a spec is invalid, 2 usage error (bad flag, missing file),
3 internal error (a bug in archspec, reported as one AS900 diagnostic; please report it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import sys
from pathlib import Path

import yaml

from . import __version__, report, zoo
from .api import Result, analyze, internal_error
from .errors import Diagnostic, Loc, SpecError
from .params import Overrides

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    pass


def parse_sets(items: list[str] | None) -> Overrides:
    """`--set key=value` (repeatable); the value is read as a YAML scalar or flow list. Each
    override remembers its argument, so a mistake is located at `<command line>: --set ...`."""
    out = Overrides(origin="<command line>")
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects key=value, got {item[:100]!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except (yaml.YAMLError, RecursionError, ValueError):  # ValueError: a 5,000-digit number
            raise UsageError(f"--set {key[:100]}: cannot read value {value[:100]!r}") from None
        out.texts[key.strip()] = f"--set {item if len(item) <= 100 else item[:97] + '...'}"
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
        elif zoo.find(p) is not None:  # a zoo name; an existing path always wins
            files.append(zoo.find(p))
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
    if args.sizes is not None:
        return _check_sizes(args)
    overrides = parse_sets(args.set)
    files, missing = spec_files(args.paths)
    if args.changed_since is not None:
        from . import changed

        try:
            files = changed.affected(files, changed.changed_since(args.changed_since, Path.cwd()))
        except changed.GitError as exc:
            raise UsageError(str(exc)) from None
    notes = []
    if args.dependents_in:
        files, notes = _with_dependents(files, [Path(d) for d in args.dependents_in])
    results = missing + analyze_all(files, overrides)
    render = {
        "text": report.check_text,
        "json": report.check_json,
        "github": report.check_github,
        "sarif": report.check_sarif,
    }[args.format]
    text = render(results)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(report.check_text(results).splitlines()[-1])
    else:
        print("\n".join([*notes, text]) if args.format == "text" else text)
    if any(d.internal for r in results for d in r.diagnostics):
        return EXIT_INTERNAL
    if missing:
        return EXIT_USAGE
    return EXIT_OK if all(r.valid for r in results) else EXIT_INVALID


def _with_dependents(files: list[Path], roots: list[Path]) -> tuple[list[Path], list[str]]:
    """`files` and every spec under `roots` that extends or imports one of them, transitively;
    with one line per given file naming what builds on it."""
    from . import changed

    for root in roots:
        if not root.exists():
            raise UsageError(f"--dependents-in: no such directory: {root}")
    found = changed.dependents(files, roots)
    notes = []
    for f in files:
        users = [d for d in found if f.resolve() in changed.dependencies(d)]
        if users:
            names = ", ".join(str(u) for u in users)
            notes.append(f"{f}: also checking {len(users)} spec{'s' * (len(users) != 1)} built on it: {names}")
    return files + found, notes


def _check_sizes(args) -> int:
    from . import sizes

    if args.format not in ("text", "json") or args.changed_since or args.output:
        raise UsageError("--sizes reports as text or json, without --changed-since or --output")
    overrides = parse_sets(args.set)
    files, missing = spec_files(args.paths)
    if missing:
        print(report.check_text(missing))
        return EXIT_USAGE
    try:
        sweeps = [sizes.sweep(f, sizes.parse(args.sizes), args.size_param, overrides) for f in files]
    except sizes.SizesError as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json":
        print(json.dumps([sizes.to_json(s) for s in sweeps], indent=2))
    else:
        print("\n".join(sizes.to_text(s) for s in sweeps))
    return EXIT_OK if all(not s.failures for s in sweeps) else EXIT_INVALID


def _one(args) -> tuple[Result, int | None]:
    path = Path(zoo.resolve(args.spec))
    if not path.is_file():
        d = Diagnostic("AS001", f"no such spec file: {args.spec}", Loc(args.spec), hint="check the path")
        return Result(args.spec, None, None, (d,)), EXIT_USAGE
    result = analyze(path, parse_sets(args.set))
    if any(d.internal for d in result.diagnostics):
        return result, EXIT_INTERNAL
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
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth must be 1 or more, got {args.depth}")
    if args.batch < 1:
        raise UsageError(f"--batch must be 1 or more, got {args.batch}")
    options = {"depth": args.depth, "batch": args.batch, "dtype": args.dtype}
    if args.format == "json":
        print(json.dumps(report.summary_json(net, **options), indent=2))
    else:
        print(report.summary_text(net, **options))
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
    network = result.network
    if args.fold_bn:
        from .fold import fold_bn

        network, pairs = fold_bn(network)
        print(f"folded {len(pairs)} batch norms into the convolutions before them (inference)", file=sys.stderr)
    try:
        source = impl.emit(network)
    except SpecError as exc:  # the backend cannot lower an op (AS601)
        failed = dataclasses.replace(result, network=None, diagnostics=tuple(exc.diagnostics))
        print(report.check_text([failed]), file=sys.stderr)
        return EXIT_INVALID
    target = args.output or str(Path(args.spec).with_suffix("").name) + impl.suffix
    if target == "-":
        sys.stdout.write(source)
    else:
        Path(target).write_text(source, encoding="utf-8")
        print(f"wrote {target} ({result.network.name}, {args.backend})", file=sys.stderr)
    return EXIT_OK


def cmd_diff(args) -> int:
    import tempfile

    from . import diff

    if args.rev is not None and args.new is not None:
        raise UsageError("give OLD and NEW, or one spec with --rev REV")
    if args.rev is None and args.new is None:
        raise UsageError("give two specs (OLD NEW), or one spec and --rev REV")
    overrides = parse_sets(args.set)
    with tempfile.TemporaryDirectory(prefix="archspec-diff-") as tmp:
        if args.rev is not None:
            try:
                old_path, new_path = diff.at_revision(Path(args.old), args.rev, Path(tmp)), Path(args.new or args.old)
            except diff.RevisionError as exc:
                raise UsageError(str(exc)) from None
        else:
            old_path, new_path = Path(zoo.resolve(args.old)), Path(zoo.resolve(args.new))
        results = []
        for path, label in ((old_path, args.old), (new_path, args.new or args.old)):
            if not path.is_file():
                raise UsageError(f"no such spec file: {label}")
            results.append(analyze(path, overrides))
        if any(r.network is None for r in results):
            print(report.check_text([r for r in results if r.network is None]), file=sys.stderr)
            return EXIT_INVALID
        old, new = (r.network for r in results)
        if args.rev is not None:
            old = dataclasses.replace(old, graph=dataclasses.replace(old.graph, file=f"{args.old}@{args.rev}"))
        d = diff.diff(old, new)
        print({"text": diff.to_text, "markdown": diff.to_markdown, "json": diff.to_json}[args.format](d).rstrip())
    return EXIT_OK


def cmd_graph(args) -> int:
    from . import draw

    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth must be 1 or more, got {args.depth}")
    result, code = _one(args)
    if code is not None:
        print(report.check_text([result]), file=sys.stderr)
        return code
    if args.format == "mermaid":
        text, note = draw.fitted_mermaid(result.network, args.depth)
        if note:
            print(note, file=sys.stderr)
    else:
        v = draw.view(result.network, args.depth)
        try:
            text = {"dot": draw.to_dot, "svg": draw.to_svg}[args.format](v)
        except draw.DrawError as exc:
            raise UsageError(str(exc)) from None
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({result.network.name}, {args.format})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_list(args) -> int:
    entries = zoo.entries()
    if args.format == "json":
        keys = ("name", "paper", "params", "macs", "inputs")
        print(json.dumps([{k: getattr(e, k) for k in keys} for e in entries], indent=2))
        return EXIT_OK
    rows = [("name", "paper", "params", "MACs", "input")]
    rows += [(e.name, _clip(e.paper, 64), report.human(e.params), report.human(e.macs), e.inputs) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2]), r[3].rjust(widths[3]), r[4]]
        print("  ".join(cells).rstrip())
    where = zoo.root()
    print(f"{len(entries)} networks in {where}; use a name anywhere a spec path goes (archspec check resnet50)")
    return EXIT_OK


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


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
    p.add_argument(
        "--format",
        choices=["text", "json", "github", "sarif"],
        default="text",
        help="github: workflow annotations on the spec lines; sarif: SARIF 2.1.0 for code scanning",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE (e.g. a .sarif file)")
    p.add_argument(
        "--changed-since",
        metavar="REV",
        help="check only the specs that differ from git revision REV, or build on a file that does",
    )
    p.add_argument(
        "--dependents-in",
        action="append",
        metavar="DIR",
        help="also check every spec under DIR that extends or imports a given file, transitively (repeatable)",
    )
    p.add_argument(
        "--sizes",
        metavar="START:STOP[:STEP]",
        help="check every square input size in the range (inclusive) and report which are valid",
    )
    p.add_argument(
        "--size-param", default="image_size", metavar="NAME", help="the parameter --sizes varies (image_size)"
    )
    with_set(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("summary", help="per-node shapes, inputs, parameters, MACs; counts and a memory estimate")
    p.add_argument("spec", metavar="SPEC", help="a spec file, or a zoo name (archspec list)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--depth", type=int, metavar="N", help="roll groups deeper than N path components up into one row")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="batch size of the memory estimate (1)")
    p.add_argument(
        "--dtype",
        choices=["float32", "float16", "bfloat16", "float64"],
        default="float32",
        help="element type of the memory estimate (float32)",
    )
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
    p.add_argument(
        "--fold-bn",
        action="store_true",
        help="inference form: batch norms folded into the convolutions before them; "
        "load weights with archspec.transfer from the unfolded model",
    )
    with_set(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("diff", help="what changed between two versions of a spec: nodes, shapes, params, MACs")
    p.add_argument("old", metavar="OLD", help="the old spec (or the only one, with --rev)")
    p.add_argument("new", metavar="NEW", nargs="?", help="the new spec")
    p.add_argument("--rev", metavar="REV", help="compare OLD as of this git revision with the working tree")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    with_set(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("graph", help="draw the network: Graphviz DOT, Mermaid, or SVG (needs Graphviz)")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--format", choices=["dot", "mermaid", "svg"], default="dot")
    p.add_argument("--depth", type=int, metavar="N", help="collapse groups nested deeper than N path components")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    with_set(p)
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("list", help="the model zoo: name, paper, parameters, MACs, input")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_list)

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
    except Exception as exc:  # noqa: BLE001 - the last guard: a bug is one diagnostic, never a traceback
        where = getattr(args, "spec", None) or next(iter(getattr(args, "paths", None) or []), "<command line>")
        print(internal_error(exc, str(where)).render(), file=sys.stderr)
        return EXIT_INTERNAL
