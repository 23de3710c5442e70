"""The fuzzer's engine, shared by tests/test_fuzz.py (a bounded Hypothesis budget in CI) and
benchmarks/fuzz.py (long campaigns): mutations of the zoo specs, and the judgement of one run.

A case is a spec text (the zoo spec `base`, mutated) written beside the zoo's files, so its
`extends` and `imports` still resolve, plus `--set` overrides. `judge` runs the API and the CLI
on it and names the outcome class: every input must end `valid` or `located`. Besides random
mutations, a case is a generated valid network (tests/netgen.py: containers of every kind, names
from tests/fuzz_names.py, parameters in containers, mixed init schemes) or a zoo spec given
targeted edits that keep it valid: a node renamed to a framework or generated-code name, one
layer's init changed, a member wrapped in a group with a `parameter`. Whether a valid network
builds and runs is tests/fuzz_run.py's question.
"""

from __future__ import annotations

import contextlib
import copy
import io
import random
import string
import time
from dataclasses import dataclass, field
from pathlib import Path

import fuzz_edits
import netgen
import yaml
from fuzz_names import weird_name

import archspec
from archspec.cli import main as cli_main
from archspec.errors import CODES
from archspec.ops import OPS

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
ZOO = sorted(p.relative_to(SPECS).as_posix() for p in SPECS.rglob("*.yaml"))

OUTCOMES = (
    "valid",
    "located error",
    "crash",
    "hang",
    "memory blow-up",
    "unlocated diagnostic",
    "CLI traceback",
    "false accept",
)
GOOD = ("valid", "located error")
HANG_S = 10.0  # the core stops itself at 10 s of expansion; a case slower than this hangs
# Overrides are located at their origin, not at a line.
ORIGINS = ("<command line>", "<load() arguments>")


@dataclass
class Case:
    base: str  # the zoo spec mutated, relative to specs/
    text: str | bytes
    overrides: dict[str, str] = field(default_factory=dict)  # --set key=value, as typed
    steps: list[str] = field(default_factory=list)  # what was done, for the reproducer
    source: str = "mutated zoo spec"  # or "generated network", "zoo spec, targeted edits"

    def describe(self) -> str:
        sets = " ".join(f"--set {k}={v}" for k, v in self.overrides.items())
        return f"{self.base} [{'; '.join(self.steps)}] {sets}".strip()


# --- values and expressions ---------------------------------------------------------------------

NASTY_NUMBERS = [-1, 0, 1, 2, 3, 7, 2**31, 2**63, 10**30, -(10**20), 0.5, -0.0, 1e308, float("inf"), float("nan")]
NASTY_STRINGS = [
    "",
    "x",
    "relu",
    "conv2d",
    "a.b",
    "class",
    "__init__",
    "forward",
    "0",
    "01",
    "1x",
    "é",
    "a b",
    "../specs",
    "${",
    "}",
    "$${x}",
    "\x00",
    "a" * 300,
]
SPECIAL_PATHS = [
    "/dev/zero",
    "/dev/urandom",
    "/dev/null",
    "/dev/stdin",
    "/tmp",
    ".",
    "",
    "a" * 5000 + ".yaml",
    "missing.yaml",
    "nul\x00.yaml",
    "_fuzz_case.yaml",
    "fifo.yaml",
    "blocks",
    "/etc/shadow",
]
FUNCS = ["int", "float", "round", "min", "max", "abs", "len", "sum", "str", "bool", "floor", "ceil", "sqrt"]
FUNCS += ["log", "exp", "make_divisible"]
FUNCS += ["range", "enumerate", "zip", "list", "open", "__import__"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "<<", "&", " and ", " or ", " in ", " not in ", "==", "<", " if 1 else "]


def expression(rng: random.Random, names: list[str], depth: int = 0) -> str:
    """A random expression over the grammar (and a little beyond it), nasty values included."""
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice(
            [
                str(rng.choice([0, 1, 2, 3, -1, 64, 10**9, 2**200])),
                repr(rng.choice([0.5, 1e308, -2.5])),
                repr(rng.choice(["a", "M", "", "x" * 50])),
                rng.choice(names or ["k"]),
                "undefined_name",
                "None",
                "True",
                "[1, 2, 3]",
                "[]",
                "[[1], [2]]",
            ]
        )
    sub = lambda: expression(rng, names, depth + 1)  # noqa: E731
    pick = rng.randrange(10)
    if pick < 3:
        return f"({sub()}{rng.choice(BINOPS)}{sub()})"
    if pick == 3:
        return f"{rng.choice(['-', 'not ', '+', '~'])}{sub()}"
    if pick == 4:
        args = ", ".join(sub() for _ in range(rng.randrange(4)))
        return f"{rng.choice(FUNCS)}({args})"
    if pick == 5:
        return f"{sub()}[{rng.choice([sub(), '::0', '1:', ':-1', '::-1', sub() + ':' + sub()])}]"
    if pick == 6:
        return f"[{sub()} for v in {sub()} if {sub()}]"
    if pick == 7:
        return f"({sub()} if {sub()} else {sub()})"
    if pick == 8:
        return f"[{', '.join(sub() for _ in range(rng.randrange(4)))}]"
    return rng.choice(
        [
            "str(['a' * 1000] * 1000)",
            "sum([[k] * 1000] * 1000, [])",
            "[[k] * 1000] * 1000",
            "'ab' * 60000",
            "-[1]",
            "[1, 2][::0]",
            "range(0, 3, 0)",
            "{'a': 1}",
            "[x for x in range(100000) for y in range(100000)]",
            "10 ** 64 * 10 ** 64 * 10 ** 64 * 10 ** 64 * 10 ** 64",
            "float('inf')",
            "float('nan')",
            "int(1e308) * int(1e308)",
            "(-8) ** 0.5",
            "0 ** -1",
            "max([])",
            "[[1]] < [['a']]",
            "[1] in {'a': 1}",
            "len(5)",
            "().__class__",
            "(lambda: 1)()",
            "[v for v in 'abc']",
            "round(2.5, 10 ** 70)",
            "'%s' % 1",
            "'a' < 1",
            "sqrt(-1)",
        ]
    )


def retype(v, rng: random.Random):
    """The same content as another type: `[v]`, `{v: v}`, `'v'`, a number, an expression of it."""
    return rng.choice(
        [
            [v],
            {str(v)[:20]: v},
            str(v),
            len(str(v)),
            "${" + repr(v)[:200] + "}",
            "${[" + repr(v)[:200] + "]}",
            None,
            True,
            -1,
            2**40,
        ]
    )


def value(rng: random.Random, names: list[str], depth: int = 0):
    """A random YAML value: a nasty scalar, an expression, or a small structure."""
    pick = rng.randrange(8)
    if pick == 0:
        return rng.choice(NASTY_NUMBERS)
    if pick == 1:
        return rng.choice(NASTY_STRINGS)
    if pick in (2, 3):
        return "${" + expression(rng, names) + "}"
    if pick == 4:
        return rng.choice([None, True, False])
    if pick == 5 and depth < 3:
        return [value(rng, names, depth + 1) for _ in range(rng.randrange(5))]
    if pick == 6 and depth < 3:
        return {rng.choice(["op", "name", "in", "nodes", "x", "channels"]): value(rng, names, depth + 1)}
    return rng.choice(["prefix_${" + expression(rng, names) + "}", "${a}${a}", rng.choice(list(OPS))])


# --- structural mutations -------------------------------------------------------------------------


_containers = fuzz_edits.containers  # every (path, container) inside the document: mutation sites


def _names(tree) -> list[str]:
    found = []
    for _, c in _containers(tree):
        if isinstance(c, dict):
            found += [v for k, v in c.items() if k == "name" and isinstance(v, str)]
            params = c.get("params")
            found += [k for k in params if isinstance(k, str)] if isinstance(params, dict) else []
    return [*found, "in_channels", "in_shape"] if found else ["x"]  # a block's input shape too


def _typo(rng: random.Random, word: str) -> str:
    if not word:
        return "x"
    i = rng.randrange(len(word))
    return rng.choice([word[:i] + word[i + 1 :], word[:i] + rng.choice(string.ascii_lowercase) + word[i:], word + "s"])


def mutate_tree(tree, rng: random.Random, steps: list[str]):
    """One structural mutation, in place (returns the tree, which may be replaced)."""
    sites = list(_containers(tree))
    entries = [(p, c) for p, c in sites if isinstance(c, dict) and {"op", "block", "nodes", "repeat"} & set(c)]
    path, site = rng.choice(entries if entries and rng.random() < 0.6 else sites)
    names = _names(tree)
    kind = rng.randrange(13)
    if isinstance(site, dict) and site:
        key = rng.choice(list(site))
        if kind == 12:
            site[key] = retype(site[key], rng)
            steps.append(f"retype {'/'.join(map(str, path))}/{key} = {str(site[key])[:60]!r}")
        elif kind < 3:
            site[key] = value(rng, names)
            steps.append(f"{'/'.join(map(str, path))}/{key} = {str(site[key])[:60]!r}")
        elif kind == 3:
            del site[key]
            steps.append(f"delete {'/'.join(map(str, path))}/{key}")
        elif kind == 4:
            site[_typo(rng, str(key))] = site.pop(key)
            steps.append(f"typo in key {'/'.join(map(str, path))}/{key}")
        elif kind == 5:
            site["in"] = rng.choice([rng.choice(names), [rng.choice(names), rng.choice(names)], "nowhere", "a.b.c", 3])
            steps.append(f"{'/'.join(map(str, path))}/in = {site['in']!r}")
        elif kind == 6:
            site["op"] = rng.choice([*OPS, _typo(rng, rng.choice(list(OPS))), "${'relu'}"])
            steps.append(f"{'/'.join(map(str, path))}/op = {site['op']!r}")
        elif kind == 7:
            site[rng.choice(["repeat", "when", "inline", "names", "as", "index", "output", "with", "block"])] = value(
                rng, names
            )
            steps.append(f"entry keyword in {'/'.join(map(str, path))}")
        elif kind == 8:
            target = rng.choice(["extends", "imports"])
            special = rng.choice(SPECIAL_PATHS + ZOO)
            tree[target] = special if target == "extends" else [{"from": special}]
            steps.append(f"{target}: {special[:40]!r}")
        elif kind == 9:
            site["name"] = rng.choice([*NASTY_STRINGS, rng.choice(names), 7, weird_name(rng, invalid=0.2)])
            steps.append(f"{'/'.join(map(str, path))}/name = {site['name']!r}")
        elif kind == 10:
            wrapped = dict(site)
            for _ in range(rng.choice([1, 5, 40, 60])):
                wrapped = {"nodes": [wrapped]}
            site.clear()
            site.update(wrapped)
            steps.append(f"nest {'/'.join(map(str, path))} in groups")
        else:
            site["repeat"] = rng.choice([2, 3, 10**5, 10**9, -1, [1, 2], "${range(3)}"])
            site["inline"] = rng.choice([True, False])
            steps.append(f"repeat {'/'.join(map(str, path))} {site['repeat']!r}")
    elif isinstance(site, list) and site:
        i = rng.randrange(len(site))
        if kind < 4:
            del site[i]
            steps.append(f"delete {'/'.join(map(str, path))}[{i}]")
        elif kind < 7:
            site.insert(rng.randrange(len(site) + 1), copy.deepcopy(site[i]))
            steps.append(f"duplicate {'/'.join(map(str, path))}[{i}]")
        elif kind < 9:
            j = rng.randrange(len(site))
            site[i], site[j] = site[j], site[i]
            steps.append(f"swap {'/'.join(map(str, path))}[{i}] [{j}]")
        else:
            site[i] = value(rng, names)
            steps.append(f"{'/'.join(map(str, path))}[{i}] = {str(site[i])[:60]!r}")
    return tree


# --- textual mutations ----------------------------------------------------------------------------

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("bcdefg", "cdefgh")
)


def mutate_text(text: str, rng: random.Random, steps: list[str]) -> str | bytes:
    lines = text.splitlines(keepends=True) or ["\n"]
    i = rng.randrange(len(lines))
    kind = rng.randrange(14)
    if kind == 0:
        steps.append("truncate")
        return text[: rng.randrange(len(text) + 1)]
    if kind == 1:
        tag = rng.choice(
            ["!!python/object/apply:os.system ['true']", "!!binary aGk=", "!foo x", "!!set {a}", "!!omap []"]
        )
        steps.append(f"tag {tag}")
        return text + f"\nextra: {tag}\n"
    if kind == 2:
        steps.append("alias bomb")
        return ALIAS_BOMB + text
    if kind == 3:
        steps.append("anchor and merge key")
        return text + "\nbase: &base {op: relu}\nother: {<<: *base}\n"
    if kind == 4:
        steps.append("recursive alias")
        return text + "\nloop: &loop [*loop]\n"
    if kind == 5:
        steps.append(f"delete line {i + 1}")
        del lines[i]
        return "".join(lines)
    if kind == 6:
        steps.append(f"indent line {i + 1}")
        lines[i] = rng.choice(["  ", "\t", " "]) + lines[i]
        return "".join(lines)
    if kind == 7:
        steps.append(f"random bytes at line {i + 1}")
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        return "".join(lines[:i]).encode() + noise + "".join(lines[i:]).encode()
    if kind == 8:
        enc = rng.choice(["utf-16", "utf-32", "latin-1", "utf-8-sig"])
        steps.append(f"encoding {enc}")
        return (text + "\n# é ü\n").encode(enc)
    if kind == 9:
        steps.append("NUL and control characters")
        return text.replace(":", ":\x00", 1) if rng.random() < 0.5 else text + "\nname: \x07\x1b\n"
    if kind == 10:
        steps.append("very long line")
        return text + "\ndescription: " + "x" * rng.choice([10_000, 2_000_000]) + "\n"
    if kind == 11:
        steps.append("deep flow nesting")
        depth = rng.choice([50, 150, 5000, 300_000])
        return text + "\ndeep: " + "[" * depth + "]" * depth + "\n"
    if kind == 12:
        steps.append("duplicate line")
        lines.insert(i, lines[i])
        return "".join(lines)
    steps.append("many documents")
    return text + "\n---\nname: second\n"


GENERATED = 0.25  # of the cases, a generated valid network (sometimes with a targeted edit)
TARGETED_ONLY = 0.2  # a zoo spec with targeted edits only


def make_case(rng: random.Random) -> Case:
    u = rng.random()
    steps: list[str] = []
    if u < GENERATED:
        text = netgen.generate(rng, max_nodes=8)[0]
        steps.append("generated network")
        if rng.random() < 0.3:
            tree = yaml.safe_load(text)
            rng.choice(fuzz_edits.TARGETED)(tree, rng, steps)
            text = netgen.dump(tree)
        return Case("lenet5.yaml", text, {}, steps, "generated network")
    base = rng.choice(ZOO)
    text = (SPECS / base).read_text()
    if u < GENERATED + TARGETED_ONLY:
        tree = yaml.safe_load(text)
        for _ in range(rng.choice([1, 1, 2])):
            rng.choice(fuzz_edits.TARGETED)(tree, rng, steps)
        text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=10**6)
        return Case(base, text, {}, steps, "zoo spec, targeted edits")
    if rng.random() < 0.7:
        tree = yaml.safe_load(text)
        for _ in range(rng.choice([1, 1, 2, 3, 5])):
            tree = mutate_tree(tree, rng, steps)
        try:
            text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=10**6)
        except RecursionError:  # PyYAML's own limit on what it writes: keep the original text
            steps.append("(too deep to write; unmutated)")
    out: str | bytes = text
    if rng.random() < 0.3 or not steps:
        out = mutate_text(text, rng, steps)
    overrides = {}
    if rng.random() < 0.2:
        names = _names(yaml.safe_load(text) if isinstance(text, str) else {}) if rng.random() < 0.5 else ["widht"]
        key = rng.choice(names + ["layers", "num_classes", "k"])
        overrides[key] = rng.choice(
            [
                "2",
                "[100000, 100000, 100000, 100000]",
                "[1000000000]",
                "-1",
                "abc",
                "[[[[1]]]]",
                "${1}",
                "1e999",
                "{a: 1}",
            ]
        )
        steps.append(f"--set {key}")
    return Case(base, out, overrides, steps)


# --- judging ---------------------------------------------------------------------------------------


def case_path(workdir: Path, case: Case) -> Path:
    """The case's file, beside a copy of the zoo spec it mutates (so relative paths resolve)."""
    target = workdir / "specs" / Path(case.base).parent / "_fuzz_case.yaml"
    data = case.text if isinstance(case.text, bytes) else case.text.encode("utf-8", "surrogatepass")
    target.write_bytes(data)
    return target


def prepare(workdir: Path) -> None:
    """A copy of specs/ (mutations may name `fifo.yaml`: a FIFO is there)."""
    import os
    import shutil

    shutil.copytree(SPECS, workdir / "specs", dirs_exist_ok=True)
    for d in {(workdir / "specs" / z).parent for z in ZOO}:
        fifo = d / "fifo.yaml"
        if not fifo.exists():
            os.mkfifo(fifo)


def unlocated(diags) -> list:
    """Diagnostics that miss a position, a hint, or a known code."""
    bad = []
    for d in diags:
        origin = d.loc.file in ORIGINS
        if (
            d.code not in CODES
            or not d.hint
            or not d.message
            or (not origin and (d.loc.line is None or not d.loc.file))
        ):
            bad.append(d)
    return bad


@dataclass
class Verdict:
    outcome: str
    seconds: float
    detail: str = ""
    network: object = None


def judge(case: Case, workdir: Path, cli: bool = True) -> Verdict:
    """Run `archspec.analyze` and `archspec check` on a case; name its outcome class."""
    path = case_path(workdir, case)
    from archspec.params import Overrides

    overrides = Overrides(origin="<command line>")
    for k, v in case.overrides.items():
        try:
            overrides[k] = yaml.safe_load(v)
        except yaml.YAMLError:
            overrides[k] = v
        overrides.texts[k] = f"--set {k}={v}"
    start = time.perf_counter()
    try:
        result = archspec.analyze(path, overrides)
    except MemoryError:
        return Verdict("memory blow-up", time.perf_counter() - start, "MemoryError")
    except Exception as exc:  # noqa: BLE001 - the point: anything escaping analyze is a crash
        return Verdict("crash", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"[:300])
    seconds = time.perf_counter() - start
    internal = [d for d in result.diagnostics if d.code == "AS900"]
    if internal:
        return Verdict("crash", seconds, internal[0].render())
    if seconds > HANG_S:
        return Verdict("hang", seconds, f"{seconds:.1f} s")
    bad = unlocated(result.diagnostics)
    if bad:
        return Verdict("unlocated diagnostic", seconds, bad[0].render())
    if cli:
        argv = ["check", str(path)] + [a for k, v in case.overrides.items() for a in ("--set", f"{k}={v}")]
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli_main(argv)
        except SystemExit as exc:  # argparse: a usage error is fine
            code = exc.code
        except Exception as exc:  # noqa: BLE001
            return Verdict("CLI traceback", seconds, f"{type(exc).__name__}: {exc}"[:300])
        text = out.getvalue() + err.getvalue()
        if "Traceback" in text or code == 3:
            return Verdict("CLI traceback", seconds, text[-500:])
    if result.valid and result.network is not None:
        return Verdict("valid", seconds, network=result.network)
    return Verdict("located error" if result.errors else "valid", seconds, network=result.network)
