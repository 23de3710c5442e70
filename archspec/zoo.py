"""The model zoo by name: `archspec.load("resnet50")`, `archspec check resnet50`, `extends: vit_b_16`.

The zoo is the repository's top-level `specs/` directory. A wheel carries it as the package
data `archspec/_zoo/` (pyproject maps one onto the other); a source checkout or an editable
install reads `specs/` beside the package. A name is a spec's path inside the zoo without
`.yaml`: `resnet50` for a network, `blocks/resnet` for a block library. An existing path always
wins over a zoo name.

This module imports nothing else of archspec's: expansion (files.py) and the dependents search
(changed.py) resolve `extends` and `imports` through it, below everything that analyzes.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_NAME = re.compile(r"[A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)*")
_LONGEST = 200  # characters of a name; nothing in the zoo comes close, and it bounds the look-up


def root() -> Path | None:
    """The directory holding the zoo's specs, or None if this installation has none."""
    for candidate in (_HERE / "_zoo", _HERE.parent / "specs"):
        if (candidate / "resnet50.yaml").is_file():
            return candidate
    return None


def names() -> list[str]:
    """The names of the specs at the top of the zoo (its networks), sorted."""
    where = root()
    return sorted(p.stem for p in where.glob("*.yaml")) if where else []


def libraries() -> list[str]:
    """The names of the specs in the zoo's folders (its block libraries: `blocks/resnet`), sorted."""
    where = root()
    if where is None:
        return []
    return sorted(p.relative_to(where).with_suffix("").as_posix() for p in where.glob("*/**/*.yaml"))


def find(name: str) -> Path | None:
    """The zoo spec called `name` (`resnet50`, `blocks/resnet`, either with `.yaml`), or None."""
    where = root()
    stem = name[: -len(".yaml")] if name.endswith(".yaml") else name
    if where is None or len(stem) > _LONGEST or not _NAME.fullmatch(stem):
        return None
    path = where / f"{stem}.yaml"
    return path if path.is_file() else None


def resolve(spec):
    """`spec` unchanged, unless it is a bare zoo name that is not an existing path: then its file."""
    if isinstance(spec, str) and "\n" not in spec and not Path(spec).exists():
        return find(spec) or spec
    return spec


def referenced(folder: Path, target: str) -> Path:
    """The file an `extends` or `imports` entry names: `target` relative to the `folder` of the spec
    that names it when something is there, else the zoo spec of that name, else the relative path
    (whose reader reports it missing)."""
    path = folder / target
    if os.path.lexists(path):  # False, too, for a path the OS refuses (a NUL byte, too long)
        return path
    return find(target) or path


def missing_hint(target: str) -> str | None:
    """A hint for a spec reference that is neither a path nor a zoo name, when it reads like a zoo
    name (a bare name, or a name close to one of the zoo's); None for other paths."""
    stem = target[: -len(".yaml")] if target.endswith(".yaml") else target
    close = _closest(stem)
    if close is not None:
        return f"did you mean '{close}', from the zoo? (`archspec list --paths` shows the zoo's names)"
    if "/" not in stem:
        return "check the path; it is no zoo name either (`archspec list --paths` shows the zoo's names)"
    return None


def _closest(stem: str) -> str | None:
    """The zoo name in the same folder whose last part is most like `stem`'s: comparing whole
    names would find `blocks/nowhere` close to `blocks/resnet` for their common `blocks/`."""
    if len(stem) > _LONGEST:
        return None
    folder, _, leaf = stem.rpartition("/")
    same = {n.rpartition("/")[2]: n for n in names() + libraries() if n.rpartition("/")[0] == folder}
    close = difflib.get_close_matches(leaf, list(same), n=1, cutoff=0.8)
    return same[close[0]] if close else None
