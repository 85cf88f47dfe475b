"""The VAE: an MLP encoder to a diagonal Gaussian q(z|x), the reparameterisation trick,
and an MLP decoder to the parameters of p(x|z), optionally conditioned on the digit.

Written with ``keras.ops`` and ``keras.random``, so the same model runs on any Keras
backend; the one exception names TensorFlow's random algorithm, for XLA's sake. The loss
is computed in ``compute_loss``, which Keras's own ``fit`` and ``evaluate`` call on every
backend, instead of a TensorFlow-only ``train_step``.
"""

import contextlib

import keras
from keras import ops

from mnist_vae.config import ModelConfig
from mnist_vae.vae import losses

PIXELS = 28 * 28
DIGITS = 10


@keras.saving.register_keras_serializable(package="mnist_vae")
class Sampling(keras.layers.Layer):
    """Draws z = mean + sigma * eps, which lets gradients flow through the draw."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, samples=None):
        """One z per row, or ``samples`` of them, stacked on a new first axis."""
        z_mean, z_log_var = inputs
        shape = ops.shape(z_mean) if samples is None else (samples, *ops.shape(z_mean))
        epsilon = _normal(shape, self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _normal(shape, seed_generator):
    """``keras.random.normal``, with TensorFlow's algorithm named. Keras leaves it to
    "auto_select", which is Philox, draw for draw, in TensorFlow's kernels and under XLA
    alike (though the two derive other numbers from one seed), so naming it changes no
    draw; but XLA compiles the unnamed choice into a path 7x slower: 525 against 71 us
    for 128 x 20 draws (docs/performance.md)."""
    if keras.backend.backend() != "tensorflow":
        return keras.random.normal(shape, seed=seed_generator)
    import tensorflow as tf

    # Keras's own cast of its int64 seed to the int32 pair stateless ops take.
    seed = tf.cast(tf.math.floormod(seed_generator.next(), tf.int32.max - 1), tf.int32)
    return tf.random.stateless_normal(shape, seed=seed, alg="philox")


@keras.saving.register_keras_serializable(package="mnist_vae")
class VAE(keras.Model):
    """Encoder, sampler and decoder, trained on the (beta-weighted) negative ELBO or on the
    importance-weighted bound (``objective``).

    ``call`` returns the decoder's logits with the posterior's mean and log-variance (and,
    for the conditional model, the digit classifier's logits): what the loss needs. Under
    ``iwae`` it also returns the k draws ``z``, and both carry a first axis of k. The
    trackers make ``fit`` and ``evaluate`` report each term beside the loss itself.
    """

    def __init__(self, encoder, decoder, model_config, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.model_config = (
            model_config if isinstance(model_config, ModelConfig) else ModelConfig(**model_config)
        )
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling", dtype="float32")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_nll")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl")
        if self.model_config.conditional:
            self.classification_loss_tracker = keras.metrics.Mean(name="classification_nll")

    @property
    def term_trackers(self) -> list:
        """The trackers of the loss's terms, which ``compute_loss`` updates."""
        trackers = [self.reconstruction_loss_tracker, self.kl_loss_tracker]
        if self.model_config.conditional:
            trackers.append(self.classification_loss_tracker)
        return trackers

    def train_on(self, model_config: ModelConfig) -> None:
        """Sets the bound trained on, for a fine-tune (``schedules.objective_at``). Keras's
        compiled steps traced the old one, so they are dropped, to be traced anew."""
        self.model_config = model_config
        self.train_function = self.test_function = None

    def call(self, x, training=False):
        encoded = self.encode(x, training=training)
        posterior = [encoded["z_mean"], encoded["z_log_var"]]
        digits = ops.softmax(encoded["class_logits"]) if self.model_config.conditional else None
        if self.model_config.objective == "elbo":
            z = self.sampling(posterior)
            return {**encoded, "logits": self.decode(z, digits, training=training)}
        k = self.model_config.samples
        z = self.sampling(posterior, samples=k)
        flat = ops.reshape(z, (-1, self.model_config.latent_dim))
        digits = None if digits is None else ops.tile(digits, (k, 1))
        logits = self.decode(flat, digits, training=training)
        return {**encoded, "z": z, "logits": ops.reshape(logits, (k, -1, PIXELS))}

    def encode(self, x, training=False) -> dict:
        outputs = self.encoder(x, training=training)
        names = ("z_mean", "z_log_var", "class_logits")
        return dict(zip(names, outputs, strict=False))

    def decode(self, z, digits=None, training=False):
        """Logits of p(x|z); ``digits`` (probabilities or one-hot) for the conditional model."""
        if self.model_config.conditional:
            z = ops.concatenate([z, ops.cast(digits, z.dtype)], axis=-1)
        return self.decoder(z, training=training)

    def reconstruction_nll(self, x, logits):
        """-log p(x|z) per example, under the model's likelihood."""
        if self.model_config.likelihood == "gaussian":
            return losses.gaussian_nll(x, logits, self.model_config.decoder_std)
        return losses.bernoulli_nll(x, logits)

    def reconstruction_nll_and_mean(self, x, logits):
        """``reconstruction_nll`` and the decoder's mean, sigmoid(logits), as scoring needs
        them together: under Bernoullis, from one exp per pixel."""
        if self.model_config.likelihood == "gaussian":
            return self.reconstruction_nll(x, logits), ops.sigmoid(logits)
        return losses.bernoulli_nll_and_mean(x, logits)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reconstruction = self.reconstruction_nll(x, y_pred["logits"])
        beta = self.model_config.beta
        if self.model_config.objective == "elbo":
            kl = losses.gaussian_kl(y_pred["z_mean"], y_pred["z_log_var"])
            loss = reconstruction + beta * kl
        else:
            kl = losses.sampled_kl(y_pred["z"], y_pred["z_mean"], y_pred["z_log_var"])
            loss = -losses.iwae_bound(-(reconstruction + beta * kl))
            reconstruction, kl = ops.mean(reconstruction, axis=0), ops.mean(kl, axis=0)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        if self.model_config.conditional:
            classification = losses.classification_ce(y, y_pred["class_logits"])
            self.classification_loss_tracker.update_state(classification)
            loss = loss + self.model_config.classification_weight * classification
        return _per_replica(ops.mean(loss))

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "model_config": self.model_config.to_dict(),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def _per_replica(loss):
    """Under ``tf.distribute``, Keras sums the replicas' gradients and multiplies the loss
    it reports by their number; each replica's loss is divided by it, as Keras's own
    losses are, so that both come out as for one device."""
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    return loss / tf.distribute.get_strategy().num_replicas_in_sync


def build_vae(model_config: ModelConfig, seed: int) -> VAE:
    """Builds an untrained VAE; ``keras.utils.set_random_seed`` fixes its initial weights."""
    inputs = keras.Input((PIXELS,), name="pixels")
    h = _mlp(inputs, model_config, "encoder")
    outputs = [
        _output(h, model_config.latent_dim, "z_mean"),
        _output(h, model_config.latent_dim, "z_log_var"),
    ]
    if model_config.conditional:
        outputs.append(_output(h, DIGITS, "class_logits"))
    encoder = keras.Model(inputs, outputs, name="encoder")

    width = model_config.latent_dim + (DIGITS if model_config.conditional else 0)
    latent = keras.Input((width,), name="z")
    logits = _output(_mlp(latent, model_config, "decoder"), PIXELS, "logits")
    decoder = keras.Model(latent, logits, name="decoder")
    return VAE(encoder, decoder, model_config, seed=seed, name="vae")


@contextlib.contextmanager
def dtype_policy(name: str):
    """Sets Keras's global dtype policy while a model is built, then restores it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _output(x, units: int, name: str):
    """A dense output whose product runs in the policy's compute dtype and whose result is
    cast to float32, as Keras's mixed-precision guide does it: the sampling and the loss
    are computed in float32, while the largest product of all (the logits') runs in 16
    bits under a mixed policy."""
    x = keras.layers.Dense(units, name=name)(x)
    return keras.layers.Activation("linear", dtype="float32", name=f"{name}_float32")(x)


def _mlp(x, config: ModelConfig, prefix: str):
    for i in range(config.hidden_layers):
        x = keras.layers.Dense(
            config.hidden_size, activation=config.activation, name=f"{prefix}_hidden_{i}"
        )(x)
    return x
