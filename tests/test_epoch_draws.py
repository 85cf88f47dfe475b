"""The rule for what each epoch draws (``epoch_draws``), held on each generator that keeps
it: numpy's, for Keras's ``fit``, and TensorFlow's and JAX's, for the compiled epoch loops.
Each must give the same draw for the same keys and another for any other keys, with the
right distribution; the three agree in distribution, not in bits."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

from mnist_vae.training import epoch_draws

GRAY = np.linspace(0.05, 0.95, 784, dtype=np.float32)[None].repeat(128, axis=0)
N = 1000  # images to order


def _numpy_pixels(seed, epoch, batch):
    return epoch_draws.numpy_pixels(GRAY, seed, epoch, batch)


def _tf_pixels(seed, epoch, batch):
    key = epoch_draws.tf_key(seed, epoch)
    return epoch_draws.tf_pixels(tf.constant(GRAY), key, batch).numpy()


def _jax_pixels(seed, epoch, batch):
    key = epoch_draws.jax_key(seed, epoch)
    return np.asarray(epoch_draws.jax_pixels(jnp.asarray(GRAY), key, batch))


def _numpy_order(seed, epoch):
    return epoch_draws.numpy_order(N, seed, epoch)


def _tf_order(seed, epoch):
    return epoch_draws.tf_order(N, epoch_draws.tf_key(seed, epoch)).numpy()


def _jax_order(seed, epoch):
    return np.asarray(epoch_draws.jax_order(N, epoch_draws.jax_key(seed, epoch)))


PIXELS = {"numpy": _numpy_pixels, "tensorflow": _tf_pixels, "jax": _jax_pixels}
ORDERS = {"numpy": _numpy_order, "tensorflow": _tf_order, "jax": _jax_order}


@pytest.mark.parametrize("backend", PIXELS)
def test_a_batch_s_pixels_come_from_its_seed_epoch_and_index_alone(backend):
    draw = PIXELS[backend]
    pixels = draw(0, 3, 5)

    np.testing.assert_array_equal(pixels, draw(0, 3, 5))
    for other in [(1, 3, 5), (0, 4, 5), (0, 3, 6)]:
        assert not np.array_equal(pixels, draw(*other)), other
    assert set(np.unique(pixels)) == {0.0, 1.0}
    # Each pixel is 1 with the probability of its gray: 128 draws a column, so the
    # columns' means sit within 0.05 of their gray, and their mean much closer.
    assert np.abs(pixels.mean(axis=0) - GRAY[0]).mean() < 0.05


@pytest.mark.parametrize("backend", ORDERS)
def test_an_epoch_s_order_comes_from_its_seed_and_epoch_alone(backend):
    order = ORDERS[backend](0, 3)

    assert sorted(order) == list(range(N))
    np.testing.assert_array_equal(order, ORDERS[backend](0, 3))
    for other in [(1, 3), (0, 4)]:
        assert not np.array_equal(order, ORDERS[backend](*other)), other


def test_the_generators_agree_in_distribution_and_not_in_bits():
    draws = {name: draw(0, 1, 0) for name, draw in PIXELS.items()}

    for (one, a), (other, b) in itertools.combinations(draws.items(), 2):
        assert not np.array_equal(a, b), (one, other)
        assert abs(a.mean() - b.mean()) < 0.01, (one, other)
    orders = [draw(0, 1) for draw in ORDERS.values()]
    assert all(not np.array_equal(a, b) for a, b in itertools.combinations(orders, 2))
