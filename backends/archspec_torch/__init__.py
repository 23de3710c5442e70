"""archspec's PyTorch backend, registered under the `archspec.backends` entry point `torch`."""

from __future__ import annotations

import hashlib
import linecache

from archspec.codegen import class_name, fingerprint

from .lower import emit


class TorchBackend:
    name = "torch"
    suffix = ".py"

    def emit(self, network) -> str:
        return emit(network)

    def build(self, network, source: str, seed: int = 0):
        """Instantiate the generated class; tracebacks show the generated lines."""
        import torch

        digest = hashlib.sha1(source.encode()).hexdigest()[:8]
        filename = f"<archspec-torch {network.graph.name} {digest}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace: dict = {"__name__": f"archspec_generated_{network.graph.name}"}
        exec(compile(source, filename, "exec"), namespace)  # our own generated source, never spec text
        torch.manual_seed(seed)
        module = namespace[class_name(network.graph.name)]()
        module.archspec_source = source
        module.archspec_backend = self.name
        module.archspec_fingerprint = fingerprint(network)
        return module

    def export_state(self, module):
        from .transfer import export_state

        return export_state(module)

    def import_state(self, module, state) -> None:
        from .transfer import import_state

        import_state(module, state)


backend = TorchBackend()
