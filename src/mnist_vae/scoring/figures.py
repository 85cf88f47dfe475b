"""The figures each stage draws from a trained model, by name; the stages save them."""

import numpy as np
from keras import ops
from matplotlib.figure import Figure

from mnist_vae.scoring import plotting
from mnist_vae.vae import decoding
from mnist_vae.vae.model import VAE

GRID_COLUMNS = 10
GRID_IMAGES = 20
INTERPOLATION_PAIRS = 5
INTERPOLATION_STEPS = 10
MANIFOLD_SIZE = 20


def evaluation_figures(
    vae: VAE, x: np.ndarray, labels: np.ndarray, z_mean: np.ndarray
) -> dict[str, Figure]:
    """Reconstructions, the latent space coloured by digit, and paths between test images."""
    shown = x[:GRID_IMAGES]
    points, axis_name = project_2d(z_mean)
    paths = [
        decoding.interpolate(vae, x[2 * i], x[2 * i + 1], INTERPOLATION_STEPS)
        for i in range(INTERPOLATION_PAIRS)
    ]
    return {
        "reconstructions": plotting.reconstruction_grid(
            shown.reshape(-1, 28, 28), reconstruct(vae, shown), GRID_COLUMNS
        ),
        "latent_space": plotting.latent_scatter(points, labels, axis_name),
        "interpolation": plotting.image_grid(
            np.concatenate(paths),
            "straight paths between the posterior means of pairs of test images",
            INTERPOLATION_STEPS,
        ),
    }


def manifold_figure(vae: VAE) -> Figure:
    dims = (
        "z" if vae.model_config.latent_dim == 2 else "the first two dimensions of z, others at 0"
    )
    return plotting.image_grid(
        decoding.manifold(vae, MANIFOLD_SIZE),
        f"decoded grid over {dims}, through the Gaussian inverse CDF",
        MANIFOLD_SIZE,
    )


def project_2d(z: np.ndarray) -> tuple[np.ndarray, str]:
    """The points themselves when 2-D, else their first two principal components."""
    if z.shape[1] <= 2:
        return np.pad(z, ((0, 0), (0, 2 - z.shape[1]))), "z"
    centred = z - z.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    share = (singular[:2] ** 2).sum() / (singular**2).sum()
    return centred @ components[:2].T, f"PCA of z ({share:.0%} of variance)"


def reconstruct(vae: VAE, x: np.ndarray) -> np.ndarray:
    """The decoder's means at the posterior means: the model's best reconstruction."""
    encoded = vae.encode(x)
    digits = None
    if vae.model_config.conditional:
        digits = ops.convert_to_numpy(ops.softmax(encoded["class_logits"]))
    return decoding.decode_means(vae, ops.convert_to_numpy(encoded["z_mean"]), digits)
