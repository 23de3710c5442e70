"""Diagnostics: every user-facing problem is a located, coded `Diagnostic`.

Codes are stable: tools (CI annotations, editors) key on them. The table in
`CODES` is the single source of truth and is rendered into docs/errors.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# code -> (slug, one-line meaning). Never renumber: users suppress and grep by code.
CODES: dict[str, tuple[str, str]] = {
    "AS001": ("file-not-found", "a spec file (or an imported/extended one) does not exist"),
    "AS002": ("yaml-syntax", "the file is not well-formed YAML"),
    "AS003": ("yaml-tag", "a YAML tag other than the plain JSON-like types"),
    "AS004": ("yaml-too-large", "the document expands past the size limit (alias bomb)"),
    "AS005": ("empty-file", "the file holds no document"),
    "AS006": ("not-a-mapping", "the document (or a node entry) is not a mapping"),
    "AS007": ("too-large", "the expanded network passes a size limit"),
    "AS008": ("unreadable-file", "a spec path names a directory, device, FIFO or unreadable file, or is too long"),
    "AS101": ("unknown-op", "`op` names no registered operation"),
    "AS102": ("unknown-field", "a key the model does not have"),
    "AS103": ("invalid-value", "a value of the wrong type or out of range"),
    "AS104": ("missing-field", "a required key is absent"),
    "AS105": ("invalid-identifier", "a name that cannot become a Python attribute"),
    "AS106": ("duplicate-name", "two siblings share a name"),
    "AS107": ("bad-arity", "an operation got the wrong number of inputs"),
    "AS201": ("expression", "an expression failed to parse or evaluate"),
    "AS202": ("unknown-param", "an override or argument names no declared parameter"),
    "AS203": ("missing-param", "a block parameter without default was not given"),
    "AS204": ("check-failed", "a `checks:` condition on parameters is false"),
    "AS205": ("expression-limit", "an expression passes a bound on work, size, nesting or time"),
    "AS206": (
        "unknown-input-shape",
        "a block reads its input's shape (`in_channels`, ...) and that shape is unknown, or an edit conflicts with it",
    ),
    "AS301": ("unknown-block", "a block call names no defined block"),
    "AS302": ("recursive-block", "a block that includes itself"),
    "AS303": ("bad-edit", "remove/replace names a path that does not exist"),
    "AS304": ("bad-extends", "extends/imports form a cycle or name a non-spec"),
    "AS401": ("missing-reference", "an input names no node in scope"),
    "AS402": ("cycle", "nodes depend on each other in a cycle"),
    "AS501": ("add-mismatch", "add/multiply operands have different shapes"),
    "AS502": ("concat-mismatch", "concat operands differ off the concat axis"),
    "AS503": ("size-vanished", "a spatial size reached zero or below"),
    "AS504": ("kernel-too-large", "a window is larger than its padded input"),
    "AS505": ("bad-groups", "groups does not divide the channels"),
    "AS506": ("bad-rank", "an operation got a tensor of the wrong rank"),
    "AS507": ("bad-shape", "any other shape constraint of an operation"),
    "AS601": ("no-emitter", "a backend has no emitter for an op (a plugin op without one for that framework)"),
    "W001": ("unused-node", "a node whose output nothing consumes (checked once there are no errors)"),
    "AS900": ("internal-error", "archspec itself failed: a bug, never the spec's fault; please report it"),
}


@dataclass(frozen=True)
class Loc:
    """A position in a YAML file; line and column are 1-based."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    loc: Loc
    node: str | None = None
    hint: str | None = None
    # Block call sites from innermost to outermost: where the failing node was instantiated.
    trace: tuple[Loc, ...] = field(default=())
    # Other instances of the same spec node (in repeated blocks) with the same problem.
    also: tuple[str, ...] = field(default=())

    @property
    def severity(self) -> str:
        return "warning" if self.code.startswith("W") else "error"

    @property
    def internal(self) -> bool:
        """An archspec bug reported as a diagnostic; the CLI exits with its own code."""
        return self.code == "AS900"

    @property
    def slug(self) -> str:
        return CODES[self.code][0]

    def with_node(self, node: str | None) -> Diagnostic:
        return replace(self, node=node)

    def render(self) -> str:
        where = f" {self.node}:" if self.node else ""
        lines = [f"{self.loc}: {self.severity}[{self.code}]{where} {self.message}"]
        if self.hint:
            lines.append(f"    hint: {self.hint}")
        lines.extend(f"    note: instantiated at {site}" for site in self.trace)
        if self.also:
            shown = ", ".join(self.also[:3]) + (", ..." if len(self.also) > 3 else "")
            lines.append(f"    note: the same in {len(self.also)} more instance{'s' * (len(self.also) > 1)}: {shown}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.loc.file,
            "line": self.loc.line,
            "column": self.loc.column,
            "node": self.node,
            "hint": self.hint,
            "trace": [str(t) for t in self.trace],
            "also": list(self.also),
        }


class SpecError(Exception):
    """Raised by the API when a spec has errors; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


class Fail(Exception):
    """Internal: aborts the current unit of work with its diagnostics.

    Passes catch it at the granularity where work can continue (a node, a file),
    so independent errors are all reported.
    """

    def __init__(self, *diagnostics: Diagnostic):
        self.diagnostics = list(diagnostics)
        super().__init__(diagnostics[0].message if diagnostics else "")


class Abort(Fail):
    """Internal: stops the whole expansion (a size or time limit), where `Fail` stops one unit:
    carrying on with the next node would only hit the limit again, thousands of times."""


def fail(code: str, message: str, loc: Loc, hint: str, node: str | None = None):
    """Abort with a located diagnostic; every user-facing error says how to fix it."""
    raise Fail(Diagnostic(code, message, loc, node=node, hint=hint))


def did_you_mean(word: str, choices) -> str | None:
    import difflib

    if len(str(word)) > 100:  # nothing is that long; and difflib's cost grows with it
        return None

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
