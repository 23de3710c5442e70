"""A few training steps of the generated Flax module (tinyres_flax.py, from `archspec compile`)."""

import jax
import optax
from flax import nnx
from tinyres_flax import Tinyres

model = Tinyres(rngs=nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.sgd(0.05, momentum=0.9), wrt=nnx.Param)
images = jax.random.normal(jax.random.key(0), (64, 32, 32, 3))  # Flax modules are NHWC
labels = jax.random.randint(jax.random.key(1), (64,), 0, 10)


@nnx.jit
def train_step(model, optimizer, images, labels):
    def loss_fn(model):
        return optax.softmax_cross_entropy_with_integer_labels(model(images), labels).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


for step in range(5):
    print(f"step {step}: loss {float(train_step(model, optimizer, images, labels)):.2f}")
