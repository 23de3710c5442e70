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

from . import __version__, changed, report, zoo
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
            hint = zoo.missing_hint(p) or "check the path"
            d = Diagnostic("AS001", f"no such file or directory: {p}", Loc(p), hint=hint)
            missing.append(Result(p, None, None, (d,)))
    return files, missing


Checked = tuple[Result, set[Path]]  # a file's result, and the files its spec builds on


def analyze_all(files: list[Path], overrides: dict) -> list[Checked]:
    """Check files on every core: each file is independent. Serial where fork is unavailable.
    What a spec builds on is read where it was analyzed, from the files its analysis just read."""
    workers = min(os.cpu_count() or 1, len(files) // 4, 8)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [(analyze(f, overrides), changed.dependencies(f)) for f in files]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.starmap(_analyze_light, [(f, overrides) for f in files], chunksize=1)


def _analyze_light(path: Path, overrides: dict) -> Checked:
    """What `check` reports of one file, cheap to send back from a worker: no graph."""
    result = analyze(path, overrides)
    summary = None
    if result.network is not None:
        net = result.network
        summary = report.NetworkSummary(net.name, net.total_params, net.total_macs)
    light = Result(result.file, summary, result.library, result.diagnostics)  # type: ignore[arg-type]
    return light, changed.dependencies(path)


def cmd_check(args) -> int:
    if args.sizes is not None:
        return _check_sizes(args)
    overrides = parse_sets(args.set)
    roots = [Path(d) for d in args.dependents_in or []]
    for root in roots:
        if not root.exists():
            raise UsageError(f"--dependents-in: no such directory: {root}")
    files, missing = spec_files(args.paths)
    if args.changed_since is not None:
        try:
            files = changed.affected(files, changed.changed_since(args.changed_since, Path.cwd()))
        except changed.GitError as exc:
            raise UsageError(str(exc)) from None
    checked = analyze_all(files, overrides)
    found, notes = _dependents(files, checked, roots)
    results = missing + [r for r, _ in checked + analyze_all(found, overrides)]
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
        # the notes are log lines: in text and in GitHub's log, never inside a JSON or SARIF document
        print("\n".join([*notes, text]) if args.format in ("text", "github") else text)
    if any(d.internal for r in results for d in r.diagnostics):
        return EXIT_INTERNAL
    if missing:
        return EXIT_USAGE
    return EXIT_OK if all(r.valid for r in results) else EXIT_INVALID


def _dependents(files: list[Path], checked: list[Checked], roots: list[Path]) -> tuple[list[Path], list[str]]:
    """The specs to check besides `files`, and a line per file on what builds on it. With
    --dependents-in, every spec under `roots` that extends or imports a given file, transitively.
    Without, those of each block library: its blocks are only instantiated, and so their shapes
    checked, in a network, so a library is checked through the specs that build on it, searched
    for in its git work tree (the current directory outside git)."""
    libraries = [f for f, (result, _) in zip(files, checked) if result.library is not None]
    given = files if roots else libraries
    where = {f: roots or [_default_root(f)] for f in given}
    found = _search(given, where, files, relative=not roots)
    built_on = {p for f, (_, deps) in zip(files, checked) for p in deps - {f.resolve()}}
    notes = []
    for f in given:
        users = [shown for shown, deps in found.items() if f.resolve() in deps]
        if users:
            names = ", ".join(str(u) for u in users)
            notes.append(f"{f}: also checking {len(users)} spec{'s' * (len(users) != 1)} built on it: {names}")
        elif f in libraries and f.resolve() not in built_on:
            under = ", ".join(str(r.resolve()) for r in where[f])
            notes.append(
                f"{f}: no spec under {under} imports or extends this block library, "
                "so its blocks were not instantiated: their shapes are unchecked"
            )
    return list(found), notes


def _search(given: list[Path], where: dict, known: list[Path], relative: bool) -> dict[Path, set[Path]]:
    """The specs that build on `given`, each under its roots in `where`, with the files each builds
    on; `known` files are not searched for. `relative`: named relative to here, as a library given
    by default most likely is, so that a mistake in it reached through them is located by that name."""
    found: dict[Path, set[Path]] = {}
    for roots in dict.fromkeys(tuple(r) for r in where.values()):  # one search per set of roots
        group = [f for f in given if tuple(where[f]) == roots]
        for d in changed.dependents(group, list(roots), known=[*known, *found]):
            deps = changed.dependencies(d)  # before renaming: read by this name, from the cache
            found[Path(os.path.relpath(d)) if relative else d] = deps
    return found


def _default_root(path: Path) -> Path:
    """Where the specs built on `path` are searched without --dependents-in: its git work tree,
    else the current directory; relative when inside the current directory, so that the files
    found are named as `check` names them, and read once."""
    here = Path.cwd()
    root = changed.repository(path) or here
    return root.relative_to(here) if root.is_relative_to(here) else root


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
    if args.paths:
        return _list_paths(args.format)
    entries = _zoo_entries()
    if args.format == "json":
        print(json.dumps([dataclasses.asdict(e) for e in entries], indent=2))
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


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    name: str
    paper: str
    params: int
    macs: int
    inputs: str  # 'x 3×224×224'


def _zoo_entries() -> list[ZooEntry]:
    """Every network of the zoo at its default parameters, by name. Here, not in zoo.py: that
    module stays below the analysis, which resolves zoo names in `extends` and `imports`."""
    from .load import read_spec_file

    out = []
    for name in zoo.names():
        path = zoo.find(name)
        net = analyze(path).network if path else None
        if net is None:
            continue
        raw = read_spec_file(path)
        paper = raw.get("paper") if isinstance(raw, dict) else None
        inputs = ", ".join(f"{k} {'×'.join(map(str, s))}" for k, s in net.input_shapes.items())
        out.append(ZooEntry(name, str(paper or "—"), net.total_params, net.total_macs, inputs))
    return out


def _list_paths(fmt: str) -> int:
    """`list --paths`: where the zoo is, and each spec's name and file, block libraries too (the
    names `imports` takes); without analyzing anything."""
    where, networks, libraries = zoo.root(), zoo.names(), zoo.libraries()
    specs = [(name, str(zoo.find(name))) for name in networks + libraries]
    if fmt == "json":
        shown = str(where) if where else None
        print(json.dumps({"root": shown, "specs": [{"name": n, "path": p} for n, p in specs]}, indent=2))
        return EXIT_OK
    if where is None:
        print("this installation has no zoo")
        return EXIT_OK
    width = max(len(n) for n, _ in specs)
    for name, path in [("name", "path"), *specs]:
        print(f"{name.ljust(width)}  {path}")
    print(
        f"{len(networks)} networks and {len(libraries)} block libraries in {where}; "
        "a name works anywhere a spec path goes, in `extends` and `imports` too"
    )
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
        help="also check every spec under DIR that extends or imports a given file, transitively (repeatable); "
        "without it, a block library is checked through the specs that build on it in its git work tree "
        "(outside git: the current directory)",
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
    p.add_argument(
        "--paths", action="store_true", help="where the zoo is: each spec's name and file, block libraries too"
    )
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
