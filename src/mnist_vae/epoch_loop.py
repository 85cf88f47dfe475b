"""The compiled epoch loop (TensorFlow): one function call per epoch.

The training set lives in a tensor on the device; each epoch shuffles it in the graph and
steps through it in a ``tf.range`` loop, so no Python runs and no data crosses from the
host between steps. The optimizer's update, a chain of small elementwise ops per weight,
is fused by XLA when ``jit_compile`` is on: on a CPU that is where XLA pays, while XLA's
own matrix products are slower there than oneDNN's (see docs/performance.md).
"""

import time

import tensorflow as tf

from mnist_vae import data
from mnist_vae.epoch_progress import VALIDATION_BATCH, report


class EpochLoop:
    """Fits a compiled VAE for ``train_config.epochs`` epochs, scoring validation after each."""

    def __init__(self, vae, train_config, train: data.Split, val: data.Split):
        self.vae = vae
        self.train_config = train_config
        self.dynamic = vae.model_config.binarize == "dynamic"
        arrays = data.loop_inputs(
            train, val, vae.model_config.binarize, vae.model_config.conditional, train_config.seed
        )
        self.x, self.y, self.val_x, self.val_y = (
            None if array is None else tf.constant(array) for array in arrays
        )
        vae.optimizer.build(vae.trainable_variables)
        self._train_epoch = tf.function(self._epoch)
        self._validate = tf.function(self._validation)
        self._apply = tf.function(self._update, jit_compile=train_config.jit_compile)

    def run(self, on_epoch_end, verbose, initial_epoch: int = 0) -> None:
        for epoch in range(initial_epoch + 1, self.train_config.epochs + 1):
            start = time.perf_counter()
            metrics = self._measure(
                self._train_epoch, tf.constant([self.train_config.seed, epoch])
            )
            val = self._measure(self._validate)
            metrics.update({f"val_{name}": value for name, value in val.items()})
            for hook in on_epoch_end:
                hook(epoch, metrics)
            if verbose:
                report(epoch, self.train_config.epochs, time.perf_counter() - start, metrics)

    def _measure(self, function, *args) -> dict[str, float]:
        for tracker in self.vae.term_trackers:
            tracker.reset_state()
        loss = float(function(*args))
        return {"loss": loss, **{t.name: float(t.result()) for t in self.vae.term_trackers}}

    def _epoch(self, seed):
        n = tf.shape(self.x)[0]
        batch = self.train_config.batch_size
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
        total = tf.constant(0.0)
        for i in tf.range((n + batch - 1) // batch):
            rows = order[i * batch : (i + 1) * batch]
            x = tf.gather(self.x, rows)
            if self.dynamic:
                step_seed = tf.random.experimental.stateless_fold_in(seed, i)
                x = tf.cast(tf.random.stateless_uniform(tf.shape(x), step_seed) < x, x.dtype)
            y = None if self.y is None else tf.gather(self.y, rows)
            total += self._step(x, y) * tf.cast(tf.shape(rows)[0], tf.float32)
        return total / tf.cast(n, tf.float32)

    def _step(self, x, y):
        with tf.GradientTape() as tape:
            outputs = self.vae(x, training=True)
            loss = self.vae.compute_loss(x, y, outputs)
            scaled = self.vae.optimizer.scale_loss(loss)
        self._apply(tape.gradient(scaled, self.vae.trainable_variables))
        return loss

    def _update(self, gradients):
        self.vae.optimizer.apply(gradients, self.vae.trainable_variables)

    def _validation(self):
        n = tf.shape(self.val_x)[0]
        total = tf.constant(0.0)
        for i in tf.range((n + VALIDATION_BATCH - 1) // VALIDATION_BATCH):
            rows = slice(i * VALIDATION_BATCH, (i + 1) * VALIDATION_BATCH)
            x = self.val_x[rows]
            y = None if self.val_y is None else self.val_y[rows]
            loss = self.vae.compute_loss(x, y, self.vae(x, training=False), training=False)
            total += loss * tf.cast(tf.shape(x)[0], tf.float32)
        return total / tf.cast(n, tf.float32)
