"""The test metrics: the importance-weighted bound, the ELBO it refines, and active units."""

import keras
import numpy as np
import pandas as pd
import pytest

from mnist_vae.config import ModelConfig, TrainConfig, from_params
from mnist_vae.mnist import data
from mnist_vae.runtime.countdown import Countdown
from mnist_vae.scoring import evaluation
from mnist_vae.training import trainer

CONFIG = from_params(ModelConfig, latent_dim=8, hidden_size=64, hidden_layers=1, activation="relu")


@pytest.fixture(scope="module")
def trained(mnist_splits):
    """A small VAE fitted briefly on real digits, and 200 test images."""
    config = from_params(TrainConfig, learning_rate=3e-3, batch_size=100, epochs=4, seed=0)
    vae = trainer.build(CONFIG, config)
    trainer.fit(vae, config, mnist_splits["train"], mnist_splits["val"], verbose=0)
    return vae, data.as_inputs(mnist_splits["test"].images[:200])


def test_iw_bound_is_at_least_the_elbo_and_tightens_with_k(trained):
    vae, x = trained

    scores = {k: evaluation.score(vae, x, k, batch_size=4000, seed=1)[0] for k in (1, 10, 100)}

    for rows in scores.values():
        assert (rows["iw_nll"] <= rows["neg_elbo"] + 1e-9).all()
    iw = [scores[k]["iw_nll"].mean() for k in (1, 10, 100)]
    assert iw[0] > iw[1] + 1 > iw[2] + 2, iw


def test_iw_bound_with_one_sample_is_the_elbo(trained):
    vae, x = trained

    one, _ = evaluation.score(vae, x, k=1, batch_size=500, seed=1)
    other, _ = evaluation.score(vae, x, k=1, batch_size=500, seed=2)

    np.testing.assert_allclose(one["iw_nll"], one["neg_elbo"], rtol=1e-12)
    difference = one["iw_nll"] - other["neg_elbo"]
    assert abs(difference.mean()) < 3 * difference.std() / np.sqrt(len(x))


def test_iw_estimate_does_not_depend_on_how_images_are_batched(trained):
    vae, x = trained

    small, _ = evaluation.score(vae, x[:30], k=50, batch_size=50, seed=3)
    large, _ = evaluation.score(vae, x[:30], k=50, batch_size=5000, seed=3)

    assert small["iw_nll"].mean() == pytest.approx(large["iw_nll"].mean(), abs=0.5)


def test_scores_come_back_in_the_images_order_and_the_same_on_every_run(trained):
    vae, x = trained
    x = x[:12]  # one image a chunk, so that several chunks are scored at once

    rows, z_mean = evaluation.score(vae, x, k=20, batch_size=20, seed=4)
    again, _ = evaluation.score(vae, x, k=20, batch_size=20, seed=4)

    encoded = keras.ops.convert_to_numpy(vae.encode(x)["z_mean"])
    np.testing.assert_allclose(z_mean, encoded, rtol=1e-5, atol=1e-6)
    pd.testing.assert_frame_equal(rows, again, check_exact=True)
    first, _ = evaluation.score(vae, x[:1], k=20, batch_size=20, seed=4)
    pd.testing.assert_frame_equal(rows[:1], first, check_exact=True)


def test_units_the_encoder_ignores_are_inactive(trained):
    vae, x = trained
    vae = keras.models.clone_model(vae)  # leaves the module's model as it was
    vae.set_weights(trained[0].get_weights())
    kernel, bias = vae.encoder.get_layer("z_mean").get_weights()
    kernel[:, [1, 5]] = 0.0
    vae.encoder.get_layer("z_mean").set_weights([kernel, bias])

    rows, z_mean = evaluation.score(vae, x, k=1, batch_size=500, seed=0)
    units = evaluation.latent_units(vae, x, z_mean)

    assert units["active"].tolist() == [i not in (1, 5) for i in range(8)]
    assert evaluation.summarize(rows, np.zeros(len(x)), z_mean)["active_units"] == 6


@pytest.mark.parametrize(("seconds_a_chunk", "lines"), [(1.5, 8), (0.1, 0)])
def test_a_long_scoring_says_how_far_it_is_and_how_long_the_rest_should_take(
    capsys, seconds_a_chunk, lines
):
    """From 10 s on, a line per tenth of the chunks, with the time left at the pace so
    far; a scoring that ends sooner prints nothing."""
    ticks = iter(np.arange(21) * seconds_a_chunk)
    countdown = Countdown(20, "scoring 500 images at k=5000: chunk", clock=lambda: next(ticks))

    assert [countdown.step(chunk) for chunk in range(20)] == list(range(20))

    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == lines
    if lines:
        assert printed[0] == "scoring 500 images at k=5000: chunk 7/20 - 10s - 20s left"
        assert printed[-1] == "scoring 500 images at k=5000: chunk 20/20 - 30s - 0s left"
