"""The model zoo by name: `archspec.load("resnet50")`, `archspec check resnet50`, `archspec list`.

The zoo is the repository's top-level `specs/` directory. A wheel carries it as the package
data `archspec/_zoo/` (pyproject maps one onto the other); a source checkout or an editable
install reads `specs/` beside the package. A name is a spec's file name without `.yaml`; an
existing path always wins over a zoo name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_NAME = re.compile(r"[A-Za-z0-9_]+")


def root() -> Path | None:
    """The directory holding the zoo's specs, or None if this installation has none."""
    for candidate in (_HERE / "_zoo", _HERE.parent / "specs"):
        if (candidate / "resnet50.yaml").is_file():
            return candidate
    return None


def names() -> list[str]:
    """Every zoo spec's name, sorted (block libraries included: they are loadable by path only)."""
    where = root()
    return sorted(p.stem for p in where.glob("*.yaml")) if where else []


def find(name: str) -> Path | None:
    """The zoo spec called `name` (`resnet50` or `resnet50.yaml`), or None."""
    where = root()
    stem = name[: -len(".yaml")] if name.endswith(".yaml") else name
    if where is None or not _NAME.fullmatch(stem):
        return None
    path = where / f"{stem}.yaml"
    return path if path.is_file() else None


def resolve(spec):
    """`spec` unchanged, unless it is a bare zoo name that is not an existing path: then its file."""
    if isinstance(spec, str) and "\n" not in spec and not Path(spec).exists():
        return find(spec) or spec
    return spec


@dataclass(frozen=True)
class Entry:
    name: str
    paper: str
    params: int
    macs: int
    inputs: str  # 'x 3×224×224'
    path: Path


def entries() -> list[Entry]:
    """Every network of the zoo at its default parameters, by name (block libraries left out)."""
    from .api import analyze
    from .load import read_spec_file

    out = []
    for name in names():
        path = find(name)
        net = analyze(path).network if path else None
        if net is None:
            continue
        raw = read_spec_file(path)
        paper = raw.get("paper") if isinstance(raw, dict) else None
        inputs = ", ".join(f"{k} {'×'.join(map(str, s))}" for k, s in net.input_shapes.items())
        out.append(Entry(name, str(paper or "—"), net.total_params, net.total_macs, inputs, path))
    return out
