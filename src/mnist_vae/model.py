"""The VAE: an MLP encoder to a diagonal Gaussian, the reparameterisation trick, and an MLP
decoder to Bernoulli logits over the 784 pixels.

Written with ``keras.ops`` and ``keras.random`` only, so the same model runs on any Keras
backend. The loss is computed in ``compute_loss``, which Keras's own ``fit`` and
``evaluate`` call on every backend, instead of a TensorFlow-only ``train_step``.
"""

import keras
from keras import ops

from mnist_vae.config import ModelConfig
from mnist_vae.losses import bernoulli_nll, gaussian_kl

PIXELS = 28 * 28


@keras.saving.register_keras_serializable(package="mnist_vae")
class Sampling(keras.layers.Layer):
    """Draws z = mean + sigma * eps, which lets gradients flow through the draw."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="mnist_vae")
class VAE(keras.Model):
    """Encoder, sampler and decoder, trained on the negative ELBO.

    ``call`` returns the decoder's logits with the posterior's mean and log-variance, the
    three things the loss needs. The trackers make ``fit`` and ``evaluate`` report the two
    terms of the loss beside the loss itself.
    """

    def __init__(self, encoder, decoder, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    def call(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        return {"logits": logits, "z_mean": z_mean, "z_log_var": z_log_var}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reconstruction = bernoulli_nll(x, y_pred["logits"])
        kl = gaussian_kl(y_pred["z_mean"], y_pred["z_log_var"])
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return ops.mean(reconstruction + kl)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def build_vae(config: ModelConfig, seed: int) -> VAE:
    """Builds an untrained VAE; ``keras.utils.set_random_seed`` fixes its initial weights."""
    inputs = keras.Input((PIXELS,), name="pixels")
    h = _mlp(inputs, config, "encoder")
    z_mean = keras.layers.Dense(config.latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(config.latent_dim, name="z_log_var")(h)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")

    latent = keras.Input((config.latent_dim,), name="z")
    logits = keras.layers.Dense(PIXELS, name="logits")(_mlp(latent, config, "decoder"))
    decoder = keras.Model(latent, logits, name="decoder")
    return VAE(encoder, decoder, seed=seed, name="vae")


def _mlp(x, config: ModelConfig, prefix: str):
    for i in range(config.hidden_layers):
        x = keras.layers.Dense(
            config.hidden_size, activation=config.activation, name=f"{prefix}_hidden_{i}"
        )(x)
    return x


def load(path) -> VAE:
    """Loads a saved VAE; importing this module has registered its classes."""
    return keras.saving.load_model(path)
