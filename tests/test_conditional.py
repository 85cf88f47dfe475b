"""The conditional VAE: it learns to draw the digit it is asked for."""

import numpy as np
from keras import ops

from mnist_vae.config import ModelConfig, TrainConfig, from_params
from mnist_vae.mnist import data
from mnist_vae.scoring import evaluation
from mnist_vae.training import trainer
from mnist_vae.vae import decoding


def test_draws_the_digits_it_is_asked_for(mnist_splits):
    config = from_params(
        ModelConfig,
        latent_dim=2,  # too small to hold both style and digit: the decoder needs the label
        hidden_size=128,
        hidden_layers=1,
        activation="relu",
        conditional=True,
        classification_weight=10.0,
    )
    fit = from_params(TrainConfig, learning_rate=3e-3, batch_size=100, epochs=10, seed=0)
    vae = trainer.build(config, fit)
    trainer.fit(vae, fit, mnist_splits["train"], mnist_splits["val"], verbose=0)
    test = mnist_splits["test"]
    x = data.as_inputs(test.images)

    rows, z_mean = evaluation.score(vae, x, k=1, batch_size=500, seed=0)
    accuracy = evaluation.summarize(rows, test.labels, z_mean)["accuracy"]
    _, asked, images = decoding.digit_grid(vae, list(range(10)), styles=10, seed=0)
    seen = ops.convert_to_numpy(vae.encode(images.reshape(len(images), -1))["class_logits"])

    assert accuracy > 0.8
    assert images.shape == (100, 28, 28)
    assert asked.tolist() == [d for d in range(10) for _ in range(10)]
    assert np.mean(seen.argmax(axis=1) == asked) > 0.5  # chance is 0.1
