"""Decoding chosen latent points: prior samples, digits on demand, manifolds, paths."""

from statistics import NormalDist

import numpy as np
from keras import ops

from mnist_vae.vae.model import DIGITS, VAE


def prior_latents(n: int, latent_dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def decode_means(vae: VAE, z: np.ndarray, digits=None) -> np.ndarray:
    """The decoder's means at ``z`` as ``(n, 28, 28)`` images in [0, 1].

    Args:
        vae: the model.
        z: latent points ``(n, latent_dim)``.
        digits: for a conditional model, the digit of each image, as ``(n,)`` labels or
            ``(n, 10)`` probabilities; ``None`` gives every digit equal weight.
    """
    if vae.model_config.conditional:
        digits = _digit_weights(digits, len(z))
    means = ops.sigmoid(vae.decode(ops.convert_to_tensor(z), digits))
    return ops.convert_to_numpy(means).reshape(len(z), 28, 28)


def digit_grid(vae: VAE, digits: list[int], styles: int, seed: int):
    """A row per asked digit, a column per style: each column shares one z from the prior.

    Returns:
        The latent points, the digit of each image, and the images, row by row.
    """
    z = np.tile(prior_latents(styles, vae.model_config.latent_dim, seed), (len(digits), 1))
    labels = np.repeat(np.asarray(digits), styles)
    return z, labels, decode_means(vae, z, labels)


def manifold(vae: VAE, size: int) -> np.ndarray:
    """Decodes a size x size grid over the first two latent dimensions, others at 0.

    The grid's points are evenly spaced in probability and mapped through the Gaussian
    inverse CDF, so that it covers the prior's mass rather than a box; for a model with
    ``latent_dim`` 2 it is the classic picture of the learned manifold.
    """
    quantiles = np.linspace(0.05, 0.95, size)
    values = np.array([NormalDist().inv_cdf(q) for q in quantiles], dtype=np.float32)
    z = np.zeros((size * size, vae.model_config.latent_dim), dtype=np.float32)
    z[:, 0] = np.tile(values, size)
    if vae.model_config.latent_dim > 1:
        z[:, 1] = np.repeat(values[::-1], size)
    return decode_means(vae, z)


def interpolate(vae: VAE, start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """Decodes the straight path between the posterior means of two images.

    For a conditional model the classifier's digit probabilities are interpolated too.
    """
    encoded = vae.encode(np.stack([start, end]))
    z = ops.convert_to_numpy(encoded["z_mean"])
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    digits = None
    if vae.model_config.conditional:
        probs = ops.convert_to_numpy(ops.softmax(encoded["class_logits"]))
        digits = (1 - weights) * probs[0] + weights * probs[1]
    return decode_means(vae, (1 - weights) * z[0] + weights * z[1], digits)


def _digit_weights(digits, n: int) -> np.ndarray:
    if digits is None:
        return np.full((n, DIGITS), 1.0 / DIGITS, dtype=np.float32)
    digits = np.asarray(digits)
    if digits.ndim == 1:
        return np.eye(DIGITS, dtype=np.float32)[digits]
    return digits.astype(np.float32)
