"""archspec's Flax (NNX) backend, registered under the `archspec.backends` entry point `flax`."""

from __future__ import annotations

from archspec.codegen import instantiate

from .lower import emit


class FlaxBackend:
    name = "flax"
    suffix = "_flax.py"

    def emit(self, network) -> str:
        return emit(network)

    def build(self, network, source: str, seed: int = 0):
        """Instantiate the generated class with `nnx.Rngs(seed)`; tracebacks show the generated lines."""
        from flax import nnx

        return instantiate(network, source, self.name, rngs=nnx.Rngs(seed))

    def export_state(self, module):
        from .transfer import export_state

        return export_state(module)

    def import_state(self, module, state) -> None:
        from .transfer import import_state

        import_state(module, state)


backend = FlaxBackend()
