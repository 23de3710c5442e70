"""Backend discovery: lowerings register under the `archspec.backends` entry-point group.

A backend is an object with `name`, `suffix` (of generated files), `emit(network) -> str`
(standalone source) and `build(network, source, seed, init)` (an instance from that source;
without `init`, an abstract one that `archspec.transfer` fills without drawing random numbers).
The core imports a backend only when it is asked for, so `check` never imports a framework.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Protocol

GROUP = "archspec.backends"


class Backend(Protocol):
    name: str
    suffix: str

    def emit(self, network: Any) -> str: ...

    def build(self, network: Any, source: str, seed: int, init: bool = True) -> Any: ...

    def export_state(self, module: Any) -> dict: ...  # canonical (PyTorch) keys and layouts

    def import_state(self, module: Any, state: dict) -> None: ...


class UnknownBackend(LookupError):
    pass


def available() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def get(name: str) -> Backend:
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        names = ", ".join(available()) or "none installed"
        raise UnknownBackend(f"unknown backend {name!r}; available: {names}")
    return found[0].load()
