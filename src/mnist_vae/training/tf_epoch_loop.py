"""The compiled epoch loop (TensorFlow): an epoch in a few compiled calls.

The training set lives in a tensor on the device; each epoch shuffles it there and steps
through it in a ``tf.range`` loop, so no Python runs and no data crosses from the host
between steps. With ``jit_compile`` XLA compiles that loop whole, as ``jax.jit`` does on
JAX: the matrix products, the elementwise ops and Adam's update of every step in one
program, with no executor between ops. On a CPU that is faster than oneDNN's kernels
with XLA on the update alone (docs/performance.md). XLA needs static shapes, so a short
last batch runs in a call of its own, and the shuffle, which XLA cannot compile, apart.
"""

import tensorflow as tf

from mnist_vae.mnist import data
from mnist_vae.runtime.epoch_progress import VALIDATION_BATCH
from mnist_vae.training import epoch_draws, epoch_loop


class TensorFlowLoop(epoch_loop.EpochLoop):
    def __init__(self, vae, train_config, train: data.Split, val: data.Split):
        super().__init__(vae, train_config)
        arrays = data.loop_inputs(
            train, val, vae.model_config.binarize, vae.model_config.conditional, train_config.seed
        )
        self.x, self.y, self.val_x, self.val_y = (
            None if array is None else tf.constant(array) for array in arrays
        )
        vae.optimizer.build(vae.trainable_variables)
        self._steps = tf.function(self._batches, jit_compile=train_config.jit_compile)
        self._validate = tf.function(self._validation, jit_compile=train_config.jit_compile)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        return self._measure(self._train_epoch, epoch_draws.tf_key(self.train_config.seed, epoch))

    def validate(self) -> dict[str, float]:
        return self._measure(self._validate)

    def _measure(self, function, *args) -> dict[str, float]:
        for tracker in self.vae.term_trackers:
            tracker.reset_state()
        loss = float(function(*args))
        return {"loss": loss, **{t.name: float(t.result()) for t in self.vae.term_trackers}}

    def _train_epoch(self, key):
        n, batch = int(self.x.shape[0]), self.train_config.batch_size
        order = epoch_draws.tf_order(n, key)
        full = n // batch * batch
        total = self._steps(order[:full], key, 0) if full else 0.0
        if full < n:
            total += self._steps(order[full:], key, n // batch)
        return total / n

    def _batches(self, rows, key, first: int):
        """The steps over ``rows``, in batches of one size; ``first``: the first batch's
        index in the epoch."""
        batch = min(self.train_config.batch_size, int(rows.shape[0]))
        total = tf.constant(0.0)
        for i in tf.range(rows.shape[0] // batch):
            take = tf.slice(rows, [i * batch], [batch])
            x = tf.gather(self.x, take)
            if self.dynamic:
                x = epoch_draws.tf_pixels(x, key, first + i)
            y = None if self.y is None else tf.gather(self.y, take)
            total += self._step(x, y) * batch
        return total

    def _step(self, x, y):
        with tf.GradientTape() as tape:
            outputs = self.vae(x, training=True)
            loss = self.vae.compute_loss(x, y, outputs)
            scaled = self.vae.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.vae.trainable_variables)
        self.vae.optimizer.apply(gradients, self.vae.trainable_variables)
        return loss

    def _validation(self):
        """The validation loss, in slices of VALIDATION_BATCH: static, as XLA needs."""
        n = int(self.val_x.shape[0])
        total = tf.constant(0.0)
        for start in range(0, n, VALIDATION_BATCH):
            rows = slice(start, start + VALIDATION_BATCH)
            x = self.val_x[rows]
            y = None if self.val_y is None else self.val_y[rows]
            loss = self.vae.compute_loss(x, y, self.vae(x, training=False), training=False)
            total += loss * int(x.shape[0])
        return total / n
