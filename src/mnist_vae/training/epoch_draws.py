"""The one rule for what each epoch draws, which every training loop keeps.

Epochs count from 1 and batches from 0 within their epoch. Epoch ``e``'s order of the
training images comes from the random stream keyed by ``(seed, e)``; under dynamic
binarization, batch ``b``'s pixels come from the stream keyed by ``(seed, e, b)``. So a
stretch of epochs that starts late (a resumed run, a fine-tune's second bound) draws what
an uninterrupted run draws there, and no batch depends on what was read before it.

Each loop draws where its data is: TensorFlow's compiled loop with Philox, JAX's with
its own keys, Keras's ``fit`` in numpy on the host. The three generators give different
bits for the same keys, so runs of one loop repeat byte for byte, and runs of two loops
agree in distribution only (``tests/test_epoch_draws.py`` holds them to both).
"""

import numpy as np

from mnist_vae.mnist import data


def numpy_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def numpy_pixels(x: np.ndarray, seed: int, epoch: int, batch: int) -> np.ndarray:
    return data.sample_pixels(x, np.random.default_rng([seed, epoch, batch]))


def tf_key(seed: int, epoch: int):
    import tensorflow as tf

    return tf.constant([seed, epoch])


def tf_order(n: int, key):
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(tf.range(n), seed=key)


def tf_pixels(x, key, batch):
    import tensorflow as tf

    batch_key = tf.random.experimental.stateless_fold_in(key, batch)
    draws = tf.random.stateless_uniform(tf.shape(x), batch_key, alg="philox")
    return tf.cast(draws < x, x.dtype)


def jax_key(seed: int, epoch):
    import jax

    return jax.random.fold_in(jax.random.key(seed), epoch)


def jax_order(n: int, key):
    import jax

    return jax.random.permutation(key, n)


def jax_pixels(x, key, batch):
    import jax

    return (jax.random.uniform(jax.random.fold_in(key, batch), x.shape) < x).astype(x.dtype)
