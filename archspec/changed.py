"""Which specs a change touches: `archspec check --changed-since REV`.

A spec is affected when its file or any file it builds on (its `extends` chain, the block
libraries it imports, transitively) differs from the merge base of REV and HEAD, in the
working tree, so a pull request re-checks every network that uses an edited block.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .errors import Fail
from .load import read_spec_file


class GitError(Exception):
    pass


def changed_since(rev: str, cwd: Path) -> set[Path]:
    """Files that differ from the merge base of `rev` and HEAD (committed, staged, unstaged or new)."""
    root = Path(_git(cwd, "rev-parse", "--show-toplevel").strip())
    try:
        base = _git(root, "merge-base", rev, "HEAD").strip()
    except GitError:
        base = rev  # no common history (or no HEAD yet): compare with REV itself
    names = _git(root, "diff", "--name-only", "-z", base, "--").split("\0")
    names += _git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0")
    return {(root / n).resolve() for n in names if n}


def dependencies(path: Path, seen: set[Path] | None = None) -> set[Path]:
    """The spec file and every file it extends or imports, transitively. Unreadable files are
    left to `check` to report."""
    seen = set() if seen is None else seen
    path = path.resolve()
    if path in seen:
        return seen
    seen.add(path)
    try:
        raw = read_spec_file(path)
    except (Fail, OSError):
        return seen
    if not isinstance(raw, dict):
        return seen
    targets = [raw.get("extends")]
    imports = raw.get("imports")
    if isinstance(imports, list):
        targets += [i.get("from") for i in imports if isinstance(i, dict)]
    for target in targets:
        if isinstance(target, str):
            dependencies(path.parent / target, seen)
    return seen


def affected(files: list[Path], changed: set[Path]) -> list[Path]:
    return [f for f in files if dependencies(f) & changed]


def _git(cwd: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise GitError("--changed-since needs git, which is not installed") from None
    if proc.returncode:
        raise GitError(f"git {args[0]} failed: {proc.stderr.strip()}")
    return proc.stdout


# Directories never searched for dependents: VCS metadata, caches, virtual environments.
_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "venv"}


def _candidates(root: Path):
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        hidden = any(p.startswith(".") or p in _SKIP_DIRS for p in rel[:-1])
        if path.suffix in (".yaml", ".yml") and not hidden and path.is_file():
            yield path


def dependents(given: list[Path], roots: list[Path]) -> list[Path]:
    """The specs under `roots` that extend or import one of `given`, transitively, in path order.
    Only files that mention `extends` or `imports` are parsed, so scanning a repository is cheap."""
    wanted = {g.resolve() for g in given}
    out = []
    seen: set[Path] = set()
    for root in roots:
        for path in _candidates(root):
            resolved = path.resolve()
            if resolved in wanted or resolved in seen:
                continue
            seen.add(resolved)
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if ("extends" in text or "imports" in text) and dependencies(path) & wanted:
                out.append(path)
    return out
