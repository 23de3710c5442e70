"""archspec's Flax (NNX) backend, registered under the `archspec.backends` entry point `flax`."""

from __future__ import annotations

from archspec.codegen import instantiate

from .lower import emit


def _abstract(model_class, seed: int):
    """The model with shapes in place of values, built without running its initialisers. Its
    random streams (dropout) get real keys, nnx.Rngs(seed) restarted at count 0: no weights come
    with them, and a key is not a random draw."""
    import jax
    import numpy as np
    from flax import nnx

    module = nnx.eval_shape(lambda: model_class(rngs=nnx.Rngs(seed)))
    for _, var in nnx.iter_graph(module):
        if isinstance(var, nnx.RngKey):
            var.set_value(jax.random.key(seed))
        elif isinstance(var, nnx.RngCount):
            var.set_value(jax.numpy.asarray(np.uint32(0)))
    return module


class FlaxBackend:
    name = "flax"
    suffix = "_flax.py"

    def emit(self, network) -> str:
        return emit(network)

    def build(self, network, source: str, seed: int = 0, init: bool = True, scan: bool = False):
        """Instantiate the generated class with `nnx.Rngs(seed)`; tracebacks show the generated lines.
        Without `init`, the module is abstract (`nnx.eval_shape`): every variable is a shape and
        dtype, no random number is drawn, and `archspec.transfer` fills it. With `scan`, runs of
        identical blocks are stacked and applied with nnx.scan (scan.py): the compile time of a
        jitted step stops growing with depth."""
        from flax import nnx

        if init:
            module = instantiate(network, source, self.name, lambda model: model(rngs=nnx.Rngs(seed)))
        else:
            module = instantiate(network, source, self.name, lambda model: _abstract(model, seed))
        if scan:
            from .scan import scan_repeats

            scan_repeats(module)
        return module

    def export_state(self, module):
        from .transfer import export_state

        return export_state(module)

    def import_state(self, module, state) -> None:
        from .transfer import import_state

        import_state(module, state)


backend = FlaxBackend()
