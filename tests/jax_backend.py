"""Trains (in the JAX epoch loop, and in Keras's fit), scores, saves, reloads and samples
a small VAE; run under KERAS_BACKEND=jax.

test_backends.py runs it in a process of its own, because the backend is chosen when Keras
is first imported.
"""

import os
import sys
import tempfile
from pathlib import Path

import keras

from mnist_vae.config import ModelConfig, TrainConfig, from_params
from mnist_vae.mnist import data, official
from mnist_vae.runtime import execution, machine
from mnist_vae.scoring import evaluation
from mnist_vae.training import trainer
from mnist_vae.vae import decoding, model_file

assert keras.backend.backend() == "jax", keras.backend.backend()
splits = data.split(official.read_official([sys.argv[1]]), 2000, 500, 200, seed=0)
PLAIN = from_params(ModelConfig, latent_dim=8, hidden_size=64, hidden_layers=2, activation="relu")
CONDITIONAL = from_params(
    ModelConfig, latent_dim=2, hidden_size=64, hidden_layers=1, activation="relu", conditional=True
)
DYNAMIC = from_params(
    ModelConfig,
    latent_dim=8,
    hidden_size=64,
    hidden_layers=1,
    activation="tanh",
    binarize="dynamic",
)
for loop, model_config in [
    ("epoch", PLAIN),
    ("epoch", CONDITIONAL),
    ("epoch", DYNAMIC),
    ("fit", DYNAMIC),
]:
    config = from_params(TrainConfig, learning_rate=3e-3, batch_size=100, epochs=2, loop=loop)
    vae = trainer.build(model_config, config)
    # XLA reads the flag when JAX starts, and rejects flags it does not know.
    assert execution.XLA_GPU_DETERMINISM in os.environ["XLA_FLAGS"], config.deterministic
    history = []
    trainer.fit(vae, config, splits["train"], splits["val"], [lambda _, m: history.append(m)], 0)  # noqa: B023
    x = data.as_inputs(splits["test"].images, model_config.binarize, 0)
    rows, _ = evaluation.score(vae, x, k=10, batch_size=1000, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        vae.save(Path(folder) / "vae.keras")
        reloaded = model_file.load(Path(folder) / "vae.keras")
    digits = [1, 2] if model_config.conditional else None
    z = decoding.prior_latents(2, model_config.latent_dim, seed=0)
    images = decoding.decode_means(reloaded, z, digits)
    assert history[-1]["val_loss"] < history[0]["val_loss"] + 5
    assert (rows["iw_nll"] <= rows["neg_elbo"]).all() and images.shape == (2, 28, 28)
    print(
        machine.device(),
        loop,
        model_config.binarize,
        history[-1]["val_loss"],
        rows["neg_elbo"].mean(),
    )
