"""Trains the same small model on one and on two logical CPU devices; prints both losses.

Run by test_training_paths.py in a process of its own, because the CPU can be split into
logical devices only before TensorFlow first uses it.
"""

import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from mnist_vae.config import ModelConfig, TrainConfig, from_params  # noqa: E402
from mnist_vae.mnist import data, official  # noqa: E402
from mnist_vae.training import trainer  # noqa: E402

MODEL = from_params(ModelConfig, latent_dim=4, hidden_size=32, hidden_layers=1, activation="relu")
CONFIG = from_params(TrainConfig, learning_rate=3e-3, batch_size=100, epochs=3, seed=0, loop="fit")

splits = data.split(official.read_official([sys.argv[1]]), 2000, 500, 10, seed=0)
losses = []
for devices in (None, ["/cpu:0", "/cpu:1"]):
    vae = trainer.build(MODEL, CONFIG, devices=devices)
    history = []
    trainer.fit(vae, CONFIG, splits["train"], splits["val"], [lambda _, m: history.append(m)])  # noqa: B023
    losses.append(history[-1]["val_loss"])
print(*losses, vae.distribute_strategy.num_replicas_in_sync)
