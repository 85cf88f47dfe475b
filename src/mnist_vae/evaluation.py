"""Scoring a trained VAE on held-out images: the negative ELBO and its parts, in nats."""

import numpy as np
from keras import ops

from mnist_vae.losses import bernoulli_nll, gaussian_kl
from mnist_vae.model import VAE


def evaluate(vae: VAE, x: np.ndarray, batch_size: int, seed: int) -> dict[str, float]:
    """Means over the images of the single-sample ELBO estimate and of its parts.

    The noise of the reparameterisation comes from ``seed``, so the estimate is the same
    on every run for the same model.

    Returns:
        ``neg_elbo``, ``reconstruction_bce`` and ``kl`` in nats per image, and
        ``reconstruction_mse``, the mean squared error per pixel between the images and the
        decoder's Bernoulli means.
    """
    z_mean, z_log_var = vae.encoder.predict(x, batch_size=batch_size, verbose=0)
    epsilon = np.random.default_rng(seed).standard_normal(z_mean.shape).astype(np.float32)
    z = z_mean + np.exp(0.5 * z_log_var) * epsilon
    logits = vae.decoder.predict(z, batch_size=batch_size, verbose=0)
    reconstruction = ops.convert_to_numpy(bernoulli_nll(x, logits))
    kl = ops.convert_to_numpy(gaussian_kl(z_mean, z_log_var))
    squared_error = np.square(x - ops.convert_to_numpy(ops.sigmoid(logits)))
    return {
        "neg_elbo": float(np.mean(reconstruction + kl)),
        "reconstruction_bce": float(np.mean(reconstruction)),
        "kl": float(np.mean(kl)),
        "reconstruction_mse": float(np.mean(squared_error)),
    }


def reconstruct(vae: VAE, x: np.ndarray) -> np.ndarray:
    """The decoder's Bernoulli means at the posterior means: the model's best reconstruction."""
    z_mean, _ = vae.encoder.predict(x, verbose=0)
    return ops.convert_to_numpy(ops.sigmoid(vae.decoder.predict(z_mean, verbose=0)))
