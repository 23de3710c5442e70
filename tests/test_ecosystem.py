"""PyTorch's and Flax's per-module tools work on generated modules, because every block is a class
with its own forward (torchvision and timm users apply these to `model.layer4` and block classes)."""

import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, SPECS

import archspec

torch = pytest.importorskip("torch")

SMALL = {"image_size": 64, "num_classes": 10}


def resnet18():
    return archspec.build(SPECS / "resnet18.yaml", **SMALL)


def block_classes(model) -> set[type]:
    return {type(m) for m in model.modules() if type(m).__name__.startswith("BasicBlock")}


def test_forward_hooks_on_stages_and_blocks_fire():
    model = resnet18().eval()
    fired = []
    model.layer4.register_forward_hook(lambda m, i, o: fired.append(("layer4", tuple(o.shape))))
    model.layer4[-1].register_forward_hook(lambda m, i, o: fired.append(("layer4[-1]", tuple(o.shape))))
    model(torch.randn(2, 3, 64, 64))
    assert fired == [("layer4[-1]", (2, 512, 2, 2)), ("layer4", (2, 512, 2, 2))]


def test_stages_children_and_feature_extraction():
    model = resnet18().eval()
    x = torch.randn(2, 3, 64, 64)
    assert model.layer3(torch.randn(2, 128, 8, 8)).shape == (2, 256, 4, 4)
    # what torchvision's IntermediateLayerGetter does: call the children in order up to a name
    out = x
    for name, child in model.named_children():
        out = child(out)
        if name == "layer4":
            break
    trunk = torch.nn.Sequential(*list(model.children())[:-2])  # drop avgpool and fc
    with torch.no_grad():
        torch.testing.assert_close(trunk(x), out)
    # what create_feature_extractor does: an FX trace whose nodes are the modules' paths
    traced = torch.fx.symbolic_trace(model)
    targets = [n.target for n in traced.graph.nodes if n.op == "call_module"]
    assert "layer4.1.conv2" in targets and targets[-1] == "fc"


def test_torch_jit_script_matches_eager():
    model = resnet18().eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x), rtol=0, atol=0)


def test_activation_checkpointing_wraps_and_recomputes_every_block():
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import apply_activation_checkpointing

    model = resnet18()
    classes = block_classes(model)
    calls = []
    hooks = [m.register_forward_pre_hook(lambda m, i: calls.append(m)) for m in model.modules() if type(m) in classes]
    apply_activation_checkpointing(model, check_fn=lambda m: type(m) in classes)
    wrapped = [m for m in model.modules() if type(m).__name__ == "CheckpointWrapper"]
    assert len(wrapped) == 8
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    assert len(calls) == 16  # each block runs forward once more in backward: its activations were not kept
    for h in hooks:
        h.remove()


FSDP = textwrap.dedent(
    """
    import os, sys
    import torch, torch.distributed as dist
    from torch.distributed.fsdp import fully_shard
    import archspec

    def losses(model, rank, world):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        out = []
        for step in range(3):
            g = torch.Generator().manual_seed(step)
            x, y = torch.randn(4, 3, 32, 32, generator=g), torch.randint(0, 10, (4,), generator=g)
            if world:
                x, y = x.chunk(world)[rank], y.chunk(world)[rank]
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            if world:
                dist.all_reduce(loss)
                loss = loss / world
            out.append(loss.item())
        return out

    def main(rank, world, spec, path):
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[3])
        dist.init_process_group("gloo", rank=rank, world_size=world)
        model = archspec.build(spec, image_size=32, num_classes=10)
        blocks = [m for m in model.modules() if type(m).__name__.startswith("BasicBlock")]
        for block in blocks:
            fully_shard(block)
        fully_shard(model)
        result = losses(model, rank, world)
        if rank == 0:
            open(path, "w").write(repr((len(blocks), result)))
        dist.destroy_process_group()

    if __name__ == "__main__":
        spec, path = sys.argv[1], sys.argv[2]
        torch.multiprocessing.spawn(main, args=(2, spec, path), nprocs=2)
    """
)


def test_fully_shard_every_block_then_the_root_trains_like_the_unsharded_model(tmp_path):
    import socket

    script = tmp_path / "fsdp.py"
    script.write_text(FSDP)
    result = tmp_path / "losses.txt"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    run = subprocess.run(
        [sys.executable, str(script), str(SPECS / "resnet18.yaml"), str(result), port],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    blocks, sharded = eval(result.read_text())
    assert blocks == 8
    model = archspec.build(SPECS / "resnet18.yaml", image_size=32, num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plain = []
    for step in range(3):
        g = torch.Generator().manual_seed(step)
        x, y = torch.randn(4, 3, 32, 32, generator=g), torch.randint(0, 10, (4,), generator=g)
        # the sharded run averages two half-batch losses and gradients: the same as one full batch
        loss = torch.nn.functional.cross_entropy(model(x[:2]), y[:2]) / 2
        loss = loss + torch.nn.functional.cross_entropy(model(x[2:]), y[2:]) / 2
        loss.backward()
        opt.step()
        opt.zero_grad()
        plain.append(loss.item())
    assert sharded == pytest.approx(plain, rel=1e-4)


# --- Flax -------------------------------------------------------------------------------------


def test_flax_remat_on_a_block_class_gives_the_same_gradients():
    jax = pytest.importorskip("jax")
    from flax import nnx

    def grads(remat: bool):
        model = archspec.build(SPECS / "resnet18.yaml", backend="flax", **SMALL)
        blocks = {type(m) for _, m in nnx.iter_graph(model) if type(m).__name__.startswith("BasicBlock")}
        saved = {cls: cls.__call__ for cls in blocks}
        if remat:
            for cls in blocks:
                cls.__call__ = nnx.remat(cls.__call__)
        try:
            x = jax.numpy.ones((2, 64, 64, 3))
            return nnx.jit(nnx.grad(lambda m: m(x).sum()))(model)
        finally:
            for cls, call in saved.items():
                cls.__call__ = call

    a, b = nnx.state(grads(False), nnx.Param), nnx.state(grads(True), nnx.Param)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):  # recomputation may reassociate sums
        assert float(abs(x - y).max()) <= 1e-3 * float(abs(x).max()) + 1e-6


DATA_PARALLEL = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax, jax.numpy as jnp, numpy as np, optax
    from flax import nnx
    import archspec

    def step(model, optimizer, x, y):
        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()
        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    def run(devices):
        model = archspec.build("specs/resnet18.yaml", backend="flax", image_size=32, num_classes=10)
        optimizer = nnx.Optimizer(model, optax.sgd(0.01), wrt=nnx.Param)
        x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 32, 32, 3)), jnp.float32)
        y = jnp.arange(4) % 10
        if devices == 2:
            mesh = jax.make_mesh((2,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
            data = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
            x, y = jax.device_put(x, data), jax.device_put(y, data)
        loss = float(nnx.jit(step)(model, optimizer, x, y))  # one SGD step
        return loss, nnx.state(model, nnx.Param)

    assert len(jax.devices()) == 2
    (a, pa), (b, pb) = run(1), run(2)
    assert np.allclose(a, b, rtol=1e-5), (a, b)
    for u, v in zip(jax.tree.leaves(pa), jax.tree.leaves(pb)):
        assert np.allclose(u, v, rtol=1e-3, atol=1e-4)  # all-reduced gradient sums differ in the last bits
    print("ok", a, b)
    """
)


def test_flax_data_parallel_step_over_two_host_devices_equals_one_device():
    pytest.importorskip("optax")
    run = subprocess.run([sys.executable, "-c", DATA_PARALLEL], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok")
