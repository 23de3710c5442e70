"""`archspec check --sizes START:STOP:STEP`: for which input sizes is a network valid?

The input size is a spec parameter (`image_size` unless `--size-param` names another), as
every zoo spec with a free input declares it: `inputs: {x: [3, "${image_size}", "${image_size}"]}`.
Each size is a full check; the report lists the valid sizes and, for the first failing ones,
the node that fails and why (e.g. a U-Net concatenation on sizes not divisible by 2^depth).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .api import analyze
from .errors import Diagnostic

SHOWN = 3  # failing sizes reported in full; the rest are grouped by the node that fails


class SizesError(Exception):
    pass


def parse(text: str) -> range:
    parts = text.split(":")
    try:
        start, stop, step = (int(p) for p in (parts if len(parts) == 3 else [*parts, "1"]))
    except ValueError:
        raise SizesError(f"--sizes expects START:STOP[:STEP] in pixels, e.g. 32:512:32, got {text!r}") from None
    if len(parts) not in (2, 3) or start < 1 or stop < start or step < 1:
        raise SizesError(f"--sizes expects 1 <= START <= STOP and STEP >= 1, got {text!r}")
    if (stop - start) // step + 1 > 4096:
        raise SizesError(f"--sizes {text} is more than 4,096 sizes; use a larger STEP")
    return range(start, stop + 1, step)


@dataclass(frozen=True)
class Sweep:
    file: str
    param: str
    sizes: range
    valid: tuple[int, ...]
    failures: tuple[tuple[int, Diagnostic], ...]  # (size, its first error), in size order


def sweep(path: Path, sizes: range, param: str, overrides: dict) -> Sweep:
    base = analyze(path, overrides)
    if base.library is not None:
        raise SizesError(f"{path} is a block library; --sizes needs a network")
    if base.network is not None and param not in base.network.params:
        raise SizesError(
            f"{path} has no parameter '{param}' to vary: make the input size a parameter, e.g. "
            f'inputs: {{x: [3, "${{{param}}}", "${{{param}}}"]}}, or name yours with --size-param'
        )
    valid, failures = [], []
    for size in sizes:
        result = analyze(path, {**overrides, param: size})
        if result.network is not None:
            valid.append(size)
        else:
            failures.append((size, result.errors[0]))
    return Sweep(str(path), param, sizes, tuple(valid), tuple(failures))


def _ranges(values: tuple[int, ...], step: int) -> str:
    """Runs of equally spaced sizes, compactly: '32..64' (every step), '32..512 every 16'."""
    out, i, n = [], 0, len(values)
    while i < n:
        if i + 1 == n:
            out.append(str(values[i]))
            break
        gap, j = values[i + 1] - values[i], i + 1
        while j + 1 < n and values[j + 1] - values[j] == gap:
            j += 1
        if j - i >= 2 or gap == step:
            out.append(f"{values[i]}..{values[j]}" + ("" if gap == step else f" every {gap}"))
            i = j + 1
        else:
            out.append(str(values[i]))
            i += 1
    return ", ".join(out)


def to_text(s: Sweep) -> str:
    step = s.sizes.step
    head = (
        f"{s.file}: {s.param} {s.sizes.start}..{s.sizes[-1]} step {step}: "
        f"valid for {len(s.valid)} of {len(s.sizes)} sizes"
    )
    lines = [head]
    if s.valid:
        lines.append(f"  valid:   {_ranges(s.valid, step)}")
    if not s.failures:
        return "\n".join(lines)
    lines.append(f"  invalid: {_ranges(tuple(size for size, _ in s.failures), step)}")
    for size, d in s.failures[:SHOWN]:
        lines.append(f"  {s.param} {size}: {d.loc}: error[{d.code}] {d.node + ': ' if d.node else ''}{d.message}")
        if d.hint:
            lines.append(f"      hint: {d.hint}")
    rest: dict[tuple, list[int]] = {}
    for size, d in s.failures[SHOWN:]:
        rest.setdefault((d.code, d.node), []).append(size)
    for (code, node), group in rest.items():
        lines.append(f"  also {code} at {node or 'the spec'} for {_ranges(tuple(group), step)}")
    return "\n".join(lines)


def to_json(s: Sweep) -> dict:
    return {
        "file": s.file,
        "param": s.param,
        "sizes": list(s.sizes),
        "valid": list(s.valid),
        "invalid": [{"size": size, **d.to_json()} for size, d in s.failures],
    }
