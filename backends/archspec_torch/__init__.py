"""archspec's PyTorch backend, registered under the `archspec.backends` entry point `torch`."""

from __future__ import annotations

from archspec.codegen import instantiate

from .lower import emit


class TorchBackend:
    name = "torch"
    suffix = ".py"

    def emit(self, network) -> str:
        return emit(network)

    def build(self, network, source: str, seed: int = 0):
        """Instantiate the generated class after seeding torch; tracebacks show the generated lines."""
        import torch

        torch.manual_seed(seed)
        return instantiate(network, source, self.name)

    def export_state(self, module):
        from .transfer import export_state

        return export_state(module)

    def import_state(self, module, state) -> None:
        from .transfer import import_state

        import_state(module, state)


backend = TorchBackend()
