"""Drawing new digits from the prior."""

import numpy as np
from keras import ops


def sample_prior(decoder, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Decodes ``n`` draws z ~ N(0, I).

    Returns:
        The latent points ``(n, latent_dim)`` and the decoder's Bernoulli means as images
        ``(n, 28, 28)`` in [0, 1].
    """
    latent_dim = decoder.input_shape[-1]
    z = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)
    means = ops.convert_to_numpy(ops.sigmoid(decoder.predict(z, verbose=0)))
    return z, means.reshape(n, 28, 28)
