"""The plain Keras baseline: the keras-io VAE example's custom ``train_step`` and ``fit``.

It wraps the very encoder and decoder the project builds, so both start from the same
weights and the same architecture; only the way of training differs.
"""

import keras
import tensorflow as tf
from keras import ops


class PlainVAE(keras.Model):
    """keras-io ``examples/generative/vae.py``, with a ``test_step`` for validation."""

    def __init__(self, encoder, decoder, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def _terms(self, x):
        z_mean, z_log_var = self.encoder(x)
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * epsilon
        logits = self.decoder(z)
        reconstruction = ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1)
        kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
        return ops.mean(reconstruction + kl), ops.mean(reconstruction), ops.mean(kl)

    def _track(self, total, reconstruction, kl):
        self.total_loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            losses = self._terms(data)
        grads = tape.gradient(losses[0], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self._track(*losses)

    def test_step(self, data):
        return self._track(*self._terms(data))
