"""The two terms of the negative ELBO, per example, in nats."""

from keras import ops


def bernoulli_nll(x, logits):
    """-log p(x | z) under independent Bernoullis: binary cross-entropy summed over pixels.

    Computed from logits for stability; gray pixels in [0, 1] are allowed as targets.
    """
    return ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1)


def gaussian_kl(z_mean, z_log_var):
    """KL(N(mean, diag(exp(log_var))) || N(0, I)) in closed form, summed over dimensions."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
