"""Names in generated code: identifiers from a validating namespace, user text made safe for
docstrings and comments."""

from __future__ import annotations

import builtins
import keyword
import re


def safe_text(text: object, limit: int = 200) -> str:
    """User text (names, descriptions, paths) as it may appear in a docstring or comment: printable
    characters only, no quotes or backslashes that could end or escape the string, bounded length."""
    out = "".join(ch if ch.isprintable() and ch not in '\\"' else "?" for ch in str(text))
    return out if len(out) <= limit else out[: limit - 3] + "..."


def camel(text: str) -> str:
    words = [w for w in re.split(r"[^0-9A-Za-z]+", text) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


class Namespace:
    """Identifiers: valid, unique, never a keyword, a builtin, `self` or a name already taken."""

    def __init__(self, taken=()):
        self.used = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins)) | {"self"} | set(taken)

    def create(self, candidate: str, default: str = "v") -> str:
        base = re.sub(r"\W", "_", candidate.encode("ascii", "replace").decode()).strip("_") or default
        if base[0].isdigit():
            base = f"{default}{base}"
        out, n = base, 2
        while out in self.used:
            out, n = f"{base}{n}" if base[-1].isalpha() else f"{base}_{n}", n + 1
        self.used.add(out)
        return out

    def reserve(self, name: str) -> None:
        self.used.add(name)


def class_name(name: str, taken=()) -> str:
    """The model's class: the network's name in CamelCase, suffixed with `Model` where that would
    shadow a builtin or a name the generated file defines."""
    out = camel(name) or "Model"
    out = out if out[0].isalpha() else "Net" + out
    ns = Namespace(taken)
    return out if out not in ns.used else ns.create(out + "Model")
