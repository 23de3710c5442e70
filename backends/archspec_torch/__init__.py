"""archspec's PyTorch backend, registered under the `archspec.backends` entry point `torch`."""

from __future__ import annotations

from archspec.codegen import instantiate

from .lower import emit


class TorchBackend:
    name = "torch"
    suffix = ".py"

    def emit(self, network) -> str:
        return emit(network)

    def build(self, network, source: str, seed: int = 0, init: bool = True):
        """Instantiate the generated class after seeding torch; tracebacks show the generated lines.
        Without `init`, parameters and buffers are on the meta device (shapes only, nothing drawn)
        until `archspec.transfer` assigns real tensors."""
        import torch

        if not init:
            with torch.device("meta"):
                module = instantiate(network, source, self.name)
            return module.to_empty(device="meta")  # nn.utils.skip_init places its layers on the CPU
        torch.manual_seed(seed)
        return instantiate(network, source, self.name)

    def export_state(self, module):
        from .transfer import export_state

        return export_state(module)

    def import_state(self, module, state) -> None:
        from .transfer import import_state

        import_state(module, state)


backend = TorchBackend()
