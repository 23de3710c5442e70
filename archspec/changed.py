"""Which specs build on a file: `archspec check --changed-since REV`, and the specs a block
library is checked through (`archspec check LIB.yaml`, `--dependents-in DIR`).

A spec depends on its file and every file it builds on (its `extends` chain, the block
libraries it imports, transitively). It is affected when one of them differs from the merge
base of REV and HEAD, in the working tree, so a pull request re-checks every network that uses
an edited block; and it is a dependent of each of them, found by searching a directory.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import zoo
from .errors import Fail
from .files import read_raw


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
    """The spec file and every file it extends or imports, transitively, resolved. Each target is
    found as expansion finds it (zoo.referenced) and read through expansion's cache, so after
    `analyze` of a spec this parses nothing. Unreadable files are left to `check` to report."""
    seen = set() if seen is None else seen
    try:
        resolved = path.resolve()
    except (OSError, ValueError, RuntimeError):
        return seen
    if resolved in seen:
        return seen
    seen.add(resolved)
    try:
        raw = read_raw(path)
    except (Fail, OSError):
        return seen
    for target in _references(raw):
        dependencies(zoo.referenced(path.parent, target), seen)
    return seen


def _references(raw) -> list[str]:
    """What a loaded file's `extends` and `imports` name, as written; anything malformed is skipped."""
    if not isinstance(raw, dict):
        return []
    targets = [raw.get("extends")]
    imports = raw.get("imports")
    if isinstance(imports, list):
        targets += [i.get("from") for i in imports if isinstance(i, dict)]
    return [t for t in targets if isinstance(t, str)]


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


def repository(path: Path) -> Path | None:
    """The git work tree holding `path`: the nearest directory above it with a `.git` (a directory,
    or a file in a worktree or submodule). Found without running git, which may not be installed."""
    try:
        folder = path.resolve().parent
    except (OSError, ValueError, RuntimeError):
        return None
    return next((d for d in (folder, *folder.parents) if (d / ".git").exists()), None)


# Directories never searched for dependents, besides hidden ones (.git, .venv, .tox): caches and
# virtual environments, which hold other projects' YAML.
_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "venv"}


def _candidates(root: Path) -> Iterator[Path]:
    """The YAML files under `root`, in path order. Skipped directories are pruned, not walked:
    a repository's .git and .venv hold tens of thousands of files."""
    if root.is_file():
        yield root
        return
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS]
        found += [Path(folder) / name for name in files if name.endswith((".yaml", ".yml"))]
    yield from sorted(found)


def _identity(path: Path) -> tuple[int, int] | None:
    """The regular file at `path` as (device, inode), whatever names or links lead to it; one
    stat where resolving a path takes one per component. None for anything else."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def dependents(given: list[Path], roots: list[Path], known: Iterable[Path] = ()) -> list[Path]:
    """The specs under `roots` that extend or import one of `given`, transitively, in path order;
    `known` files (already being checked) are left out. Only files that mention `extends` or
    `imports` are parsed, so scanning a repository is cheap."""
    wanted = {g.resolve() for g in given}
    seen = {_identity(p) for p in [*given, *known]}
    out = []
    for root in roots:
        for path in _candidates(root):
            identity = _identity(path)
            if identity is None or identity in seen:
                continue
            seen.add(identity)
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if ("extends" in text or "imports" in text) and dependencies(path) & wanted:
                out.append(path)
    return out
